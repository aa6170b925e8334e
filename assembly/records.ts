// The record codec shared by every host (TypeScript: src/policy/records.ts,
// C: launcher/records.c). A record is one or more non-empty UTF-8 fields, each
// terminated by NUL, followed by one extra NUL. Paths can hold any byte but NUL,
// so no quoting or escaping is ever needed, and a C host parses it in place.
//
// Written for wasm3, which interprets: a launch that misses the plan cache
// runs this codec over every input and plan byte, so it is a real share of a
// cold launch. Fields are almost always ASCII (paths, names), so both
// directions copy ASCII bytes straight between the record bytes and the
// string's UTF-16 code units, one load and one store each, and hand a field
// with any other byte to the standard UTF-8 codec: the result is exactly the
// standard codec's, only reached without its per-character branching. Arrays
// are allocated at their final size (the stub runtime never frees, so every
// regrowth is a copy and a leak).

/** Room the plan usually needs: one allocation, no regrowth copies. */
const WRITER_INITIAL = 4096;

export class RecordWriter {
  buf: Uint8Array = new Uint8Array(WRITER_INITIAL);
  len: i32 = 0;

  private reserve(n: i32): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length << 1;
    while (cap < this.len + n) cap <<= 1;
    const next = new Uint8Array(cap);
    memory.copy(next.dataStart, this.buf.dataStart, this.len);
    this.buf = next;
  }

  field(s: string): RecordWriter {
    const n = s.length;
    // ASCII needs one byte per code unit: reserve that, and copy.
    this.reserve(n + 1);
    const src = changetype<usize>(s);
    const dst = this.buf.dataStart + <usize>this.len;
    for (let i = 0; i < n; i++) {
      const c = load<u16>(src + (<usize>i << 1));
      if (c >= 0x80) return this.fieldUtf8(s);
      store<u8>(dst + <usize>i, <u8>c);
    }
    store<u8>(dst + <usize>n, 0);
    this.len += n + 1;
    return this;
  }

  /** A field with a non-ASCII character: the standard encoder. */
  private fieldUtf8(s: string): RecordWriter {
    const n = String.UTF8.byteLength(s);
    this.reserve(n + 1);
    String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, this.buf.dataStart + this.len);
    this.len += n;
    this.buf[this.len++] = 0;
    return this;
  }

  /** Each string of the list as a field. */
  fields(list: string[]): RecordWriter {
    for (let i = 0; i < list.length; i++) this.field(unchecked(list[i]));
    return this;
  }

  end(): void {
    this.reserve(1);
    this.buf[this.len++] = 0;
  }

  /** One record of FIELDS. The launch plan (launch.ts), which every cold
   * launch runs, chains field() and end() instead: an array literal per
   * record is an allocation and a call per element in wasm3, and more code
   * to compile. */
  record(fields: string[]): void {
    for (let i = 0; i < fields.length; i++) this.field(unchecked(fields[i]));
    this.end();
  }
}

/** Answers a refusal: the reason alone, whatever was written before it. */
export function fail(out: RecordWriter, message: string): i32 {
  out.len = 0;
  out.record(["error", message]);
  return 1;
}

/** One field's bytes as a string: ASCII widened in one pass, anything else
 * by the standard UTF-8 decoder (same result, U+FFFD for malformed bytes). */
export function decodeField(p: usize, n: i32): string {
  const s = changetype<string>(__new(<usize>n << 1, idof<string>()));
  const d = changetype<usize>(s);
  for (let i = 0; i < n; i++) {
    const b = load<u8>(p + <usize>i);
    if (b >= 0x80) return String.UTF8.decodeUnsafe(p, n);
    store<u16>(d + (<usize>i << 1), b);
  }
  return s;
}

/** Whether the n bytes at p are the ASCII string s: a field compared where
 * it lies, with no string made of it. */
export function bytesAre(p: usize, n: i32, s: string): bool {
  if (n != s.length) return false;
  const q = changetype<usize>(s);
  for (let i = 0; i < n; i++) if (<u16>load<u8>(p + <usize>i) != load<u16>(q + (<usize>i << 1))) return false;
  return true;
}

/** Whether the bytes are a record stream: every record one or more
 * non-empty fields, the last one closed. */
export function wellFormed(ptr: usize, len: i32): bool {
  let nf: i32 = 0;
  let start: i32 = 0;
  for (let i: i32 = 0; i < len; i++) {
    if (load<u8>(ptr + <usize>i) != 0) continue;
    if (i == start) {
      if (nf == 0) return false;
      nf = 0;
    } else nf++;
    start = i + 1;
  }
  return start == len && nf == 0;
}

/** Parses records; returns null when the bytes are not well-formed. */
export function parseRecords(ptr: usize, len: i32): Array<Array<string>> | null {
  // First pass: well-formedness, and each record's field count, so that
  // every array is made at its final size. A record takes at least 3 bytes.
  const counts = new StaticArray<i32>((len / 3) + 1);
  let nrec: i32 = 0;
  let nf: i32 = 0;
  let start: i32 = 0;
  for (let i: i32 = 0; i < len; i++) {
    if (load<u8>(ptr + <usize>i) != 0) continue;
    if (i == start) {
      // An empty field closes the record; a record needs at least one field.
      if (nf == 0) return null;
      unchecked((counts[nrec++] = nf));
      nf = 0;
    } else nf++;
    start = i + 1;
  }
  if (start != len || nf != 0) return null;

  const out = new Array<Array<string>>(nrec);
  let at: usize = ptr;
  for (let r: i32 = 0; r < nrec; r++) {
    const n = unchecked(counts[r]);
    const fields = new Array<string>(n);
    for (let k: i32 = 0; k < n; k++) {
      let e = at;
      while (load<u8>(e) != 0) e++;
      unchecked((fields[k] = decodeField(at, <i32>(e - at))));
      at = e + 1;
    }
    at++; // the record's closing NUL
    unchecked((out[r] = fields));
  }
  return out;
}
