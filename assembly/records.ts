// The record codec shared by every host (TypeScript: src/policy/records.ts,
// C: launcher/records.c). A record is one or more non-empty UTF-8 fields, each
// terminated by NUL, followed by one extra NUL. Paths can hold any byte but NUL,
// so no quoting or escaping is ever needed, and a C host parses it in place.

export class RecordWriter {
  buf: Uint8Array = new Uint8Array(1024);
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
    const n = String.UTF8.byteLength(s);
    this.reserve(n + 1);
    String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, this.buf.dataStart + this.len);
    this.len += n;
    this.buf[this.len++] = 0;
    return this;
  }

  end(): void {
    this.reserve(1);
    this.buf[this.len++] = 0;
  }

  record(fields: string[]): void {
    for (let i = 0; i < fields.length; i++) this.field(fields[i]);
    this.end();
  }
}

/** Answers a refusal: the reason alone, whatever was written before it. */
export function fail(out: RecordWriter, message: string): i32 {
  out.len = 0;
  out.record(["error", message]);
  return 1;
}

/** Parses records; returns null when the bytes are not well-formed. */
export function parseRecords(ptr: usize, len: i32): Array<Array<string>> | null {
  const out = new Array<Array<string>>();
  let fields = new Array<string>();
  let start: i32 = 0;
  for (let i: i32 = 0; i < len; i++) {
    if (load<u8>(ptr + i) != 0) continue;
    if (i == start) {
      // An empty field closes the record; a record needs at least one field.
      if (fields.length == 0) return null;
      out.push(fields);
      fields = new Array<string>();
    } else {
      fields.push(String.UTF8.decodeUnsafe(ptr + start, i - start));
    }
    start = i + 1;
  }
  if (start != len || fields.length != 0) return null;
  return out;
}
