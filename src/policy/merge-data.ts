// Merges a module's active data segments into one.
//
// Binaryen's memory packing splits static data into many small segments (the
// default policy has ~300, one per string) to skip runs of zeros. wasm3 pays
// for each segment at load: evaluating its offset expression allocates and
// clears a whole compilation context (~40 KB), which made segment setup most
// of the policy's cost per launch. One segment with the zeros written out
// costs a few hundred bytes of module size and one evaluation.
//
// Only the shape asc emits is rewritten: active segments of memory 0 with an
// `i32.const` offset. Anything else is returned unchanged.

function readLeb(b: Uint8Array, p: number): [number, number] {
  let r = 0;
  let s = 0;
  let x: number;
  do {
    x = b[p++]!;
    r += (x & 0x7f) * 2 ** s;
    s += 7;
  } while (x & 0x80);
  return [r, p];
}

function readSleb(b: Uint8Array, p: number): [number, number] {
  let r = 0;
  let s = 0;
  let x: number;
  do {
    x = b[p++]!;
    r |= (x & 0x7f) << s;
    s += 7;
  } while (x & 0x80);
  if (s < 32 && x & 0x40) r |= -1 << s;
  return [r, p];
}

/** Unsigned LEB128, as the wasm binary format writes sizes and counts. */
export function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(byte & 0x40)) || (n === -1 && byte & 0x40)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

export function mergeDataSegments(module: Uint8Array): Uint8Array {
  const sections: { id: number; body: Uint8Array }[] = [];
  let p = 8;
  while (p < module.length) {
    const id = module[p++]!;
    let size: number;
    [size, p] = readLeb(module, p);
    sections.push({ id, body: module.subarray(p, p + size) });
    p += size;
  }
  const data = sections.find((s) => s.id === 11);
  if (!data) return module;

  const segments: { offset: number; bytes: Uint8Array }[] = [];
  const b = data.body;
  let q: number;
  let count: number;
  [count, q] = readLeb(b, 0);
  for (let i = 0; i < count; i++) {
    // Flag 0: active, memory 0, offset expression follows.
    if (b[q++] !== 0 || b[q++] !== 0x41) return module;
    let offset: number;
    [offset, q] = readSleb(b, q);
    if (b[q++] !== 0x0b) return module;
    let len: number;
    [len, q] = readLeb(b, q);
    segments.push({ offset, bytes: b.subarray(q, q + len) });
    q += len;
  }
  if (segments.length < 2) return module;
  const start = Math.min(...segments.map((s) => s.offset));
  const end = Math.max(...segments.map((s) => s.offset + s.bytes.length));
  const merged = new Uint8Array(end - start);
  for (const s of segments) merged.set(s.bytes, s.offset - start);

  const body = Uint8Array.from([...leb(1), 0, 0x41, ...sleb(start), 0x0b, ...leb(merged.length)]);
  const newData = new Uint8Array(body.length + merged.length);
  newData.set(body);
  newData.set(merged, body.length);

  const out: number[] = [...module.subarray(0, 8)];
  for (const s of sections) {
    // The data count section must agree with the data section.
    const sectionBody = s.id === 11 ? newData : s.id === 12 ? Uint8Array.from(leb(1)) : s.body;
    out.push(s.id, ...leb(sectionBody.length));
    for (const x of sectionBody) out.push(x);
  }
  return Uint8Array.from(out);
}
