// Assembles small policy modules byte by byte, for the features and mistakes
// the AssemblyScript compiler will not produce (SIMD, shared memory, tags...).
// Every module follows the ABI unless told otherwise, so each test changes
// exactly one thing.
type Sig = [number[], number[]];

export interface ModuleSpec {
  memory?: { min: number; max?: number; shared?: boolean };
  /** fhs_eval's body, without locals or the final `end`; it must leave an i32. */
  evalBody?: number[];
  /** Value types of fhs_eval's locals. */
  locals?: number[];
  /** Raw entries appended to the type section. */
  extraTypes?: number[][];
  extraMemories?: number;
  /** Function imports: [module, name, signature]. */
  imports?: [string, string, Sig][];
  importMemory?: boolean;
  omitExport?: string;
  /** [section id, content] appended after the others. */
  extraSections?: [number, number[]][];
  /** Bytes of a custom section, to make the module big. */
  padding?: number;
}

const I32 = 0x7f;

/** Unsigned LEB128, as the wasm binary format writes sizes and counts. */
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

const vec = (items: number[][]) => [...leb(items.length), ...items.flat()];
const str = (s: string) => { const b = [...Buffer.from(s)]; return [...leb(b.length), ...b]; };
const section = (id: number, content: number[]) => [id, ...leb(content.length), ...content];
const functype = ([p, r]: Sig) => [0x60, ...vec(p.map((t) => [t])), ...vec(r.map((t) => [t]))];

export function abiModule(spec: ModuleSpec): Uint8Array {
  const imports = spec.imports ?? [];
  const base: Sig[] = [[[], [I32]], [[I32], [I32]], [[I32, I32], [I32]]];
  const types = [...base.map(functype), ...imports.map(([, , sig]) => functype(sig)), ...(spec.extraTypes ?? [])];
  const limits = (m: { min: number; max?: number; shared?: boolean }) =>
    m.max === undefined ? [0x00, ...leb(m.min)] : [m.shared ? 0x03 : 0x01, ...leb(m.min), ...leb(m.max)];
  const importEntries = imports.map(([mod, name], i) => [...str(mod), ...str(name), 0x00, ...leb(base.length + i)]);
  if (spec.importMemory) importEntries.push([...str("env"), ...str("memory"), 0x02, ...limits({ min: 1, max: 1 })]);
  const nImported = imports.length;
  // fhs_abi, fhs_alloc, fhs_eval, fhs_result_ptr, fhs_result_len
  const funcs: { name: string; type: number; body: number[]; locals?: number[] }[] = [
    { name: "fhs_abi", type: 0, body: [0x41, 0x01] },
    { name: "fhs_alloc", type: 1, body: [0x41, 0x10] },
    { name: "fhs_eval", type: 2, body: spec.evalBody ?? [0x41, 0x00], locals: spec.locals },
    { name: "fhs_result_ptr", type: 0, body: [0x41, 0x00] },
    { name: "fhs_result_len", type: 0, body: [0x41, 0x00] },
  ];
  const memories = spec.importMemory ? [] : [limits(spec.memory ?? { min: 1, max: 1 })];
  for (let i = 0; i < (spec.extraMemories ?? 0); i++) memories.push(limits({ min: 1, max: 1 }));
  const exports = funcs
    .map((f, i) => [f.name, i] as const)
    .filter(([n]) => n !== spec.omitExport)
    .map(([n, i]) => [...str(n), 0x00, ...leb(nImported + i)]);
  exports.push([...str("memory"), 0x02, 0x00]);
  const bodies = funcs.map((f) => {
    const locals = f.locals?.length ? vec(f.locals.map((t) => [0x01, t])) : [0x00];
    const b = [...locals, ...f.body, 0x0b];
    return [...leb(b.length), ...b];
  });
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...(importEntries.length ? section(2, vec(importEntries)) : []),
    ...section(3, vec(funcs.map((f) => leb(f.type)))),
    ...(memories.length ? section(5, vec(memories)) : []),
    ...section(7, vec(exports)),
    ...section(10, vec(bodies)),
    ...(spec.extraSections ?? []).flatMap(([id, c]) => section(id, c)),
    ...(spec.padding ? section(0, [...str("padding"), ...new Array<number>(spec.padding).fill(0)]) : []),
  ];
  return Uint8Array.from(bytes);
}
