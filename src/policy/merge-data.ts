// Merges a module's active data segments into one.
//
// Binaryen's memory packing splits static data into many small segments (the
// default policy has ~300, one per string) to skip runs of zeros. wasm3 pays
// for each segment at load: evaluating its offset expression allocates and
// clears a whole compilation context (~40 KB), which made segment setup most
// of the policy's cost per launch. One segment with the zeros written out
// costs a few hundred bytes of module size and one evaluation.
//
// The module is read and written by Binaryen, the library asc compiles with
// (no second wasm reader here). Only the shape asc emits is rewritten: active
// segments of the one memory at constant offsets. Anything else is returned
// unchanged.
import binaryen from "assemblyscript/binaryen";

/** binaryen.js's data segment calls, which its typings do not declare yet. */
interface DataSegments {
  getNumDataSegments(): number;
  getDataSegmentByIndex(index: number): number;
  getDataSegmentInfo(segment: number): { offset: number | null; data: ArrayBuffer; passive: boolean };
}

export function mergeDataSegments(bytes: Uint8Array): Uint8Array {
  const m = binaryen.readBinary(bytes);
  try {
    m.setFeatures(binaryen.Features.All);
    const data = m as unknown as DataSegments;
    const n = data.getNumDataSegments();
    if (n < 2 || !m.hasMemory()) return bytes;
    const segments: { offset: number; data: Uint8Array }[] = [];
    for (let i = 0; i < n; i++) {
      const s = data.getDataSegmentInfo(data.getDataSegmentByIndex(i));
      if (s.passive || s.offset === null) return bytes;
      segments.push({ offset: s.offset, data: new Uint8Array(s.data) });
    }
    const start = Math.min(...segments.map((s) => s.offset));
    const end = Math.max(...segments.map((s) => s.offset + s.data.length));
    const merged = new Uint8Array(end - start);
    for (const s of segments) merged.set(s.data, s.offset - start);
    // Memory "0", as asc names it, keeps its limits and its export (which
    // refers to it by that name); setMemory replaces its segments.
    const mem = m.getMemoryInfo("0");
    if (mem.max === undefined) return bytes;
    m.setMemory(mem.initial, mem.max, null, [{ offset: m.i32.const(start), data: merged, passive: false }], mem.shared, mem.is64, "0");
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}
