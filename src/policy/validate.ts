// The rules every policy module is held to before any host runs it. wasm3
// trusts its input, so the CLI reads the binary itself: V8 checks that it is
// well-formed wasm, then this decoder walks every section and every
// instruction, because a forbidden feature can hide in any function body.
//
// Allowed: the MVP instruction set plus what AssemblyScript's stub runtime
// emits and wasm3 runs (sign extension, saturating float-to-int, bulk memory
// copy/fill, mutable globals, multiple results). Refused: SIMD, threads and
// atomics, exception handling, GC and typed function references, reference
// types, tail calls, multiple or 64-bit memories, and every import but
// env.abort.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { FhsError } from "../errors.js";
import { ABI_VERSION, LIMITS } from "../abi.js";

const I32 = 0x7f, I64 = 0x7e, F32 = 0x7d, F64 = 0x7c, V128 = 0x7b;

/** The ABI's functions: name -> [params, results]. */
const ABI_EXPORTS: Record<string, [number[], number[]]> = {
  fhs_abi: [[], [I32]],
  fhs_alloc: [[I32], [I32]],
  fhs_eval: [[I32, I32], [I32]],
  fhs_result_ptr: [[], [I32]],
  fhs_result_len: [[], [I32]],
};
const ABORT_SIGNATURE: [number[], number[]] = [[I32, I32, I32, I32], []];

class Refused extends Error {}

class Reader {
  pos: number;
  constructor(readonly b: Uint8Array, start = 0, readonly end = b.length) {
    this.pos = start;
  }
  byte(): number {
    if (this.pos >= this.end) throw new Refused(`truncated at byte ${this.pos}`);
    return this.b[this.pos++]!;
  }
  u32(): number {
    let result = 0, shift = 0;
    for (;;) {
      const x = this.byte();
      result += (x & 0x7f) * 2 ** shift;
      if (!(x & 0x80)) return result;
      shift += 7;
      if (shift > 35) throw new Refused(`bad LEB128 at byte ${this.pos}`);
    }
  }
  /** Signed LEBs only need skipping: their value never matters here. */
  sleb(maxBytes: number): void {
    for (let i = 0; i < maxBytes; i++) if (!(this.byte() & 0x80)) return;
    throw new Refused(`bad LEB128 at byte ${this.pos}`);
  }
  skip(n: number): void {
    if (this.pos + n > this.end) throw new Refused(`truncated at byte ${this.pos}`);
    this.pos += n;
  }
  name(): string {
    const n = this.u32();
    const s = Buffer.from(this.b.buffer, this.b.byteOffset + this.pos, Math.min(n, this.end - this.pos)).toString("utf8");
    this.skip(n);
    return s;
  }
}

const feature = (what: string, where: string) => new Refused(`uses ${what} (${where}), which policies may not`);

function valType(t: number, where: string): number {
  if (t === I32 || t === I64 || t === F32 || t === F64) return t;
  if (t === V128) throw feature("SIMD", `v128 in ${where}`);
  if (t === 0x70 || t === 0x6f) throw feature("reference types", `${where}`);
  throw feature("GC types", `value type 0x${t.toString(16)} in ${where}`);
}

function limits(r: Reader, what: string): { min: number; max?: number } {
  const flags = r.byte();
  if (flags & 0x02) throw feature("threads", `shared ${what}`);
  if (flags & 0x04) throw feature("memory64", `${what}`);
  if (flags > 1) throw new Refused(`${what} has unknown limits flags 0x${flags.toString(16)}`);
  const min = r.u32();
  return flags & 1 ? { min, max: r.u32() } : { min };
}

function blockType(r: Reader, where: string): void {
  const t = r.b[r.pos]!;
  if (t === 0x40) { r.pos++; return; }
  if (t >= 0x60 && t <= 0x7f) { valType(r.byte(), where); return; }
  r.sleb(5); // a type index: multiple results
}

function memarg(r: Reader, where: string): void {
  const align = r.u32();
  if (align & 0x40) throw feature("multiple memories", where);
  r.u32();
}

/** Walks one instruction sequence to its final `end`, refusing what is not allowed. */
function instructions(r: Reader, where: string): void {
  let depth = 0;
  for (;;) {
    const at = `${where}, byte ${r.pos}`;
    const op = r.byte();
    if (op === 0x0b) { if (depth-- === 0) return; continue; }
    if (op >= 0x02 && op <= 0x04) { blockType(r, at); depth++; continue; }
    if (op === 0x00 || op === 0x01 || op === 0x05 || op === 0x0f || op === 0x1a || op === 0x1b) continue;
    if (op >= 0x45 && op <= 0xc4) continue; // numeric, incl. sign extension (0xc0-0xc4)
    if (op === 0x0c || op === 0x0d || op === 0x10 || (op >= 0x20 && op <= 0x24)) { r.u32(); continue; }
    if (op === 0x0e) { const n = r.u32(); for (let i = 0; i <= n; i++) r.u32(); continue; }
    if (op === 0x11) { r.u32(); if (r.u32() !== 0) throw feature("reference types", `call_indirect through table >0 at ${at}`); continue; }
    if (op >= 0x28 && op <= 0x3e) { memarg(r, at); continue; }
    if (op === 0x3f || op === 0x40) { if (r.byte() !== 0) throw feature("multiple memories", at); continue; }
    if (op === 0x41) { r.sleb(5); continue; }
    if (op === 0x42) { r.sleb(10); continue; }
    if (op === 0x43) { r.skip(4); continue; }
    if (op === 0x44) { r.skip(8); continue; }
    if (op === 0xfc) {
      const sub = r.u32();
      if (sub <= 7) continue; // saturating float-to-int
      if (sub === 10) { if (r.byte() !== 0 || r.byte() !== 0) throw feature("multiple memories", at); continue; }
      if (sub === 11) { if (r.byte() !== 0) throw feature("multiple memories", at); continue; }
      if (sub === 8) { r.u32(); if (r.byte() !== 0) throw feature("multiple memories", at); continue; }
      if (sub === 9) { r.u32(); continue; }
      throw feature("reference types", `table instruction 0xfc ${sub} at ${at}`);
    }
    if (op === 0xfd) throw feature("SIMD", `instruction 0xfd at ${at}`);
    if (op === 0xfe) throw feature("threads", `atomic instruction 0xfe at ${at}`);
    if (op === 0xfb || (op >= 0xd3 && op <= 0xd6) || op === 0x14 || op === 0x15) throw feature("GC", `instruction 0x${op.toString(16)} at ${at}`);
    if ((op >= 0x06 && op <= 0x0a) || op === 0x18 || op === 0x19 || op === 0x1f) throw feature("exception handling", `instruction 0x${op.toString(16)} at ${at}`);
    if (op === 0x12 || op === 0x13) throw feature("tail calls", `instruction 0x${op.toString(16)} at ${at}`);
    if (op === 0x1c || op === 0x25 || op === 0x26 || (op >= 0xd0 && op <= 0xd2)) throw feature("reference types", `instruction 0x${op.toString(16)} at ${at}`);
    throw new Refused(`unknown instruction 0x${op.toString(16)} at ${at}`);
  }
}

interface Parsed {
  types: [number[], number[]][];
  funcTypes: number[];
  imports: string[];
  exports: Map<string, { kind: number; index: number }>;
  memories: { min: number; max?: number }[];
}

const SECTION_NAMES = ["custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element", "code", "data", "datacount"];

function parse(bytes: Uint8Array): Parsed {
  const r = new Reader(bytes);
  const head = Buffer.from(bytes.subarray(0, 8)).toString("hex");
  if (head !== "0061736d01000000") throw new Refused("not a wasm module (bad magic or version)");
  r.pos = 8;
  const p: Parsed = { types: [], funcTypes: [], imports: [], exports: new Map(), memories: [] };
  let importedFuncs = 0;
  while (r.pos < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const s = new Reader(bytes, r.pos, r.pos + size);
    if (s.end > bytes.length) throw new Refused(`section ${id} runs past the end of the module`);
    r.pos = s.end;
    if (id === 0) continue;
    if (id === 13) throw feature("exception handling", "a tag section");
    if (id > 12) throw new Refused(`unknown section ${id}`);
    // Section order and index ranges are V8's to check (validatePolicyModule).
    const where = `${SECTION_NAMES[id]} section`;
    switch (id) {
      case 1: {
        for (let n = s.u32(), i = 0; i < n; i++) {
          const form = s.byte();
          if (form !== 0x60) throw feature("GC types", `type form 0x${form.toString(16)} in the type section`);
          const params: number[] = [];
          for (let k = s.u32(); k > 0; k--) params.push(valType(s.byte(), `type ${i}`));
          const results: number[] = [];
          for (let k = s.u32(); k > 0; k--) results.push(valType(s.byte(), `type ${i}`));
          p.types.push([params, results]);
        }
        break;
      }
      case 2: {
        for (let n = s.u32(), i = 0; i < n; i++) {
          const mod = s.name(), field = s.name(), kind = s.byte();
          const what = `${mod}.${field}`;
          if (kind !== 0) throw new Refused(`imports ${what} (${["a function", "a table", "a memory", "a global", "a tag"][kind] ?? "unknown kind"}); the only import allowed is env.abort`);
          const t = s.u32();
          if (what !== "env.abort") throw new Refused(`imports ${what}; the only import allowed is env.abort`);
          if (!sameSig(p.types[t], ABORT_SIGNATURE)) throw new Refused(`imports env.abort with signature ${sig(p.types[t])}, expected ${sig(ABORT_SIGNATURE)}`);
          p.imports.push(what);
          p.funcTypes.push(t);
          importedFuncs++;
        }
        break;
      }
      case 3:
        for (let n = s.u32(); n > 0; n--) p.funcTypes.push(s.u32());
        break;
      case 4:
        for (let n = s.u32(), i = 0; i < n; i++) {
          const t = s.byte();
          if (t !== 0x70) throw feature("reference types", `table of type 0x${t.toString(16)}`);
          limits(s, "table");
          if (i > 0) throw feature("reference types", "more than one table");
        }
        break;
      case 5:
        for (let n = s.u32(); n > 0; n--) p.memories.push(limits(s, "memory"));
        if (p.memories.length > 1) throw feature("multiple memories", `${p.memories.length} memories declared`);
        break;
      case 6:
        for (let n = s.u32(), i = 0; i < n; i++) {
          valType(s.byte(), `global ${i}`);
          s.byte();
          instructions(s, `global ${i}'s initializer`);
        }
        break;
      case 7:
        for (let n = s.u32(); n > 0; n--) {
          const name = s.name(), kind = s.byte(), index = s.u32();
          p.exports.set(name, { kind, index });
        }
        break;
      case 8:
        s.u32();
        break;
      case 9:
        for (let n = s.u32(), i = 0; i < n; i++) {
          const flags = s.u32();
          const at = `element segment ${i}`;
          if (flags !== 0 && flags !== 1 && flags !== 3) throw feature("reference types", `${at} with flags ${flags}`);
          if (flags === 0) instructions(s, at);
          else if (s.byte() !== 0) throw feature("reference types", at);
          for (let k = s.u32(); k > 0; k--) s.u32();
        }
        break;
      case 10: {
        const n = s.u32();
        for (let i = 0; i < n; i++) {
          const fn = importedFuncs + i;
          const bodySize = s.u32();
          const body = new Reader(bytes, s.pos, s.pos + bodySize);
          s.skip(bodySize);
          for (let groups = body.u32(); groups > 0; groups--) {
            body.u32();
            valType(body.byte(), `the locals of function ${fn}`);
          }
          instructions(body, `function ${fn}`);
          if (body.pos !== body.end) throw new Refused(`function ${fn} has bytes after its end`);
        }
        break;
      }
      case 11:
        for (let n = s.u32(), i = 0; i < n; i++) {
          const flags = s.u32();
          if (flags === 2) throw feature("multiple memories", `data segment ${i}`);
          if (flags === 0) instructions(s, `data segment ${i}'s offset`);
          else if (flags !== 1) throw new Refused(`data segment ${i} has unknown flags ${flags}`);
          s.skip(s.u32());
        }
        break;
      case 12:
        s.u32();
        break;
    }
    if (s.pos !== s.end) throw new Refused(`the ${where} has ${s.end - s.pos} bytes past its content`);
  }
  return p;
}

function sameSig(a: [number[], number[]] | undefined, b: [number[], number[]]): boolean {
  return !!a && a[0].join() === b[0].join() && a[1].join() === b[1].join();
}

const TYPE_NAMES: Record<number, string> = { [I32]: "i32", [I64]: "i64", [F32]: "f32", [F64]: "f64" };
function sig(t: [number[], number[]] | undefined): string {
  if (!t) return "(unknown type)";
  const list = (v: number[]) => v.map((x) => TYPE_NAMES[x] ?? "?").join(",");
  return `(${list(t[0])})->(${list(t[1])})`;
}

/**
 * Checks a policy module against the rules above without running any of it.
 * Throws FhsError("policy NAME: <reason>") on the first rule it breaks.
 */
export function validatePolicyModule(bytes: Uint8Array, name: string): void {
  const refuse = (why: string): never => {
    throw new FhsError(`policy ${name}: ${why}`);
  };
  if (bytes.length > LIMITS.moduleSizeCap) refuse(`module is ${bytes.length} bytes, the cap is ${LIMITS.moduleSizeCap}`);
  let p: Parsed;
  try {
    p = parse(bytes);
  } catch (e) {
    if (e instanceof Refused) refuse(e.message);
    throw e;
  }
  // Structure last: a module that uses a refused feature is told so, not that V8 cannot compile it.
  try {
    new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  } catch (e) {
    refuse(`not a valid module: ${(e as Error).message.replace(/^WebAssembly\.Module\(\): /, "")}`);
  }
  if (p.memories.length === 0) refuse("declares no memory");
  const mem = p.memories[0]!;
  if (mem.max === undefined) refuse(`its memory declares no maximum; at most ${LIMITS.memoryCapPages} pages is allowed`);
  if (mem.max! > LIMITS.memoryCapPages) refuse(`its memory declares a maximum of ${mem.max} pages; at most ${LIMITS.memoryCapPages} is allowed`);
  if (p.exports.get("memory")?.kind !== 2) refuse("does not export its memory as 'memory'");
  for (const [fn, want] of Object.entries(ABI_EXPORTS)) {
    const e = p.exports.get(fn);
    if (!e) refuse(`does not export ${fn}; the ABI needs ${Object.keys(ABI_EXPORTS).join(", ")}`);
    if (e!.kind !== 0) refuse(`exports ${fn} as something other than a function`);
    const got = p.types[p.funcTypes[e!.index]!];
    if (!sameSig(got, want)) refuse(`exports ${fn} with signature ${sig(got)}, expected ${sig(want)}`);
  }
}

/**
 * validatePolicyModule, then instantiates the module in the Node host (under
 * its deadline and limits) and checks the ABI version it reports.
 */
export async function checkPolicyModule(bytes: Uint8Array, name: string): Promise<void> {
  const { probePolicyAbi } = await import("./host.js");
  const abi = await probePolicyAbi(bytes, { name });
  if (abi !== ABI_VERSION) throw new FhsError(`policy ${name}: fhs_abi() returns ${abi}, this fhs speaks ${ABI_VERSION}`);
}

/** A policy module read from disk, held to the rules, with the sha256 a
 * manifest records. Every command that hands a module to the launcher reads
 * it through here: wasm3 trusts its input, so no module reaches it unvalidated. */
export interface PolicyModule {
  path: string;
  bytes: Buffer;
  sha256: string;
}

export function readPolicyModule(path: string): PolicyModule {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new FhsError(`policy ${path}: cannot read`);
  }
  validatePolicyModule(bytes, path);
  return { path, bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
}
