// A policy is untrusted code. Each hostile module here is real wasm, built with
// the project's compiler (or, for features asc will not emit, assembled byte
// by byte), and goes through both hosts: the Node host (evalPolicy) and the
// launcher's wasm3 (`fhs-launcher eval`, run unprivileged). Both must fail
// closed with one line naming the policy; the launcher exits 122.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { FhsError } from "../src/errors.js";
import { compilePolicy } from "../src/policy/compile.js";
import { evalPolicy } from "../src/policy/host.js";
import { encodeRecords } from "../src/policy/records.js";
import { validatePolicyModule } from "../src/policy/validate.js";
import { repoRoot, runUnprivileged, testArtifacts, testDir } from "./helpers/env.js";
import { abiModule } from "./helpers/wasm.js";
import { LAUNCHER_EXIT, LIMITS } from "../src/abi.js";

const input = encodeRecords([["req", "echo"], ["layer", "/nix/store/x-hello", "nix", "usr"]]);
const fixtures = join(repoRoot, "test", "fixtures", "hostile");
let dir: string;

before(() => {
  dir = testDir("fhs-hostile-");
});

async function build(name: string): Promise<string> {
  const out = join(dir, `${name}.wasm`);
  await compilePolicy(join(fixtures, `${name}.ts`), out);
  return out;
}

async function viaNode(wasm: string, name: string): Promise<string> {
  try {
    await evalPolicy(readFileSync(wasm), input, { name });
  } catch (e) {
    assert.ok(e instanceof FhsError, `not an FhsError: ${e}`);
    return e.message;
  }
  assert.fail(`the Node host ran ${name} to a result`);
}

const mountinfo = () => readFileSync("/proc/self/mountinfo", "utf8");

/** The launcher's plan-only mode, as the unprivileged user; returns its one stderr line. */
function viaWasm3(wasm: string, name: string): { status: number | null; line: string; ms: number } {
  const before = mountinfo();
  const t = performance.now();
  const r = runUnprivileged([testArtifacts().launcher, "eval", wasm, name], { input, timeoutMs: 20_000 });
  const ms = performance.now() - t;
  assert.equal(mountinfo(), before, "a mount was left in the caller's namespace");
  assert.equal(r.stdout, "", "no result may reach stdout");
  const lines = r.stderr.split("\n").filter(Boolean);
  assert.equal(lines.length, 1, `expected one line on stderr, got: ${r.stderr}`);
  return { status: r.status, line: lines[0]!, ms };
}

/** Both hosts refuse with the same message; the launcher exits 122. */
async function bothRefuse(name: string, wasm: string, message: RegExp): Promise<void> {
  const node = await viaNode(wasm, name);
  assert.match(node, message);
  assert.ok(node.startsWith(`policy ${name}: `), node);
  const w3 = viaWasm3(wasm, name);
  assert.equal(w3.status, LAUNCHER_EXIT.policy, w3.line);
  assert.equal(w3.line, `fhs: ${node}`, "the two hosts word the failure differently");
}

describe("hostile policy modules fail closed in both hosts", () => {
  it("a loop that never returns hits the deadline", async () => {
    const wasm = await build("loop");
    const t = performance.now();
    await bothRefuse("loop", wasm, new RegExp(`^policy loop: evaluation exceeded its ${LIMITS.evalDeadlineMs} ms deadline$`));
    // Both hosts stopped it: well under the test's own timeouts.
    assert.ok(performance.now() - t < 6 * LIMITS.evalDeadlineMs);
  });

  it("memory that grows without end stops at the cap and traps", async () => {
    await bothRefuse("grow", await build("grow"), /^policy grow: trapped in fhs_eval: unreachable executed$/);
  });

  it("recursion without end traps as a stack overflow", async () => {
    await bothRefuse("recurse", await build("recurse"), /^policy recurse: trapped in fhs_eval: stack overflow$/);
  });

  it("a result pointer outside linear memory is refused", async () => {
    await bothRefuse("garbage", await build("garbage"), /^policy garbage: result buffer out of bounds \(ptr 4294963200, len 4096, memory 65536 bytes\)$/);
  });

  it("an out-of-bounds load traps", async () => {
    await bothRefuse("oob", await build("oob"), /^policy oob: trapped in fhs_eval: out of bounds memory access$/);
  });

  it("an abort is reported with its message", async () => {
    await bothRefuse("abort", await build("abort"), /^policy abort: trapped in fhs_eval: abort: this policy refuses to decide/);
  });

  it("a forbidden import is refused before anything runs", async () => {
    const wasm = await build("import");
    await bothRefuse("import", wasm, /^policy import: imports env\.system; the only import allowed is env\.abort$/);
  });

  it("a wrong ABI version is refused", async () => {
    await bothRefuse("wrong-abi", await build("wrong-abi"), /^policy wrong-abi: ABI version 2, this fhs speaks 1$/);
  });

  it("a wrong export signature is refused", async () => {
    await bothRefuse("sig", await build("wrong-signature"), /^policy sig: exports fhs_eval with signature \(i32\)->\(i32\), expected \(i32,i32\)->\(i32\)$/);
  });

  it("memory without a declared maximum, or above the cap, is refused", async () => {
    // wasm3 is also built with the cap (d_m3MaxLinearMemoryPages), as a second line.
    const nomax = join(dir, "nomax.wasm");
    writeFileSync(nomax, abiModule({ memory: { min: 1 }, evalBody: growLoopBody }));
    await bothRefuse("nomax", nomax, /^policy nomax: its memory declares no maximum; at most 256 pages is allowed$/);
    const big = join(dir, "bigmax.wasm");
    writeFileSync(big, abiModule({ memory: { min: 1, max: 257 } }));
    await bothRefuse("bigmax", big, /^policy bigmax: its memory declares a maximum of 257 pages; at most 256 is allowed$/);
  });
});

/** fhs_eval: memory.grow(1) until it fails, then unreachable. */
const growLoopBody = [
  0x03, 0x40, // loop
  0x41, 0x01, 0x40, 0x00, // i32.const 1; memory.grow
  0x41, 0x7f, 0x47, 0x0d, 0x00, // i32.const -1; i32.ne; br_if 0
  0x0b, // end loop
  0x00, // unreachable
  0x41, 0x00, // i32.const 0 (the declared result)
];

describe("the validator refuses features outside the allowed set", () => {
  const refuses = (what: string, bytes: Uint8Array, message: RegExp) =>
    it(what, () => assert.throws(() => validatePolicyModule(bytes, "m"), (e: Error) => e instanceof FhsError && message.test(e.message)));

  it("accepts a minimal module that follows the ABI", () => {
    validatePolicyModule(abiModule({}), "minimal");
  });
  refuses("SIMD (an 0xfd instruction deep in a function body)", abiModule({ evalBody: [0x41, 0x00, 0xfd, 0x11, 0x1a, 0x41, 0x00] }), /^policy m: uses SIMD \(instruction 0xfd at function \d+, byte \d+\), which policies may not$/);
  refuses("SIMD (a v128 local)", abiModule({ locals: [0x7b] }), /uses SIMD \(v128 in the locals of function \d+\)/);
  refuses("threads (shared memory)", abiModule({ memory: { min: 1, max: 2, shared: true } }), /uses threads \(shared memory\)/);
  refuses("threads (an atomic instruction)", abiModule({ evalBody: [0x41, 0x00, 0xfe, 0x10, 0x02, 0x00, 0x1a, 0x41, 0x00] }), /uses threads \(atomic instruction 0xfe/);
  refuses("exception handling (a tag section)", abiModule({ extraSections: [[13, [0x01, 0x00, 0x00]]] }), /uses exception handling \(a tag section\)/);
  refuses("exception handling (try)", abiModule({ evalBody: [0x06, 0x40, 0x0b, 0x41, 0x00] }), /uses exception handling \(instruction 0x6/);
  refuses("GC types", abiModule({ extraTypes: [[0x5f, 0x00]] }), /uses GC types \(type form 0x5f/);
  refuses("GC instructions", abiModule({ evalBody: [0xfb, 0x00, 0x41, 0x00] }), /uses GC \(instruction 0xfb/);
  refuses("multiple memories", abiModule({ memory: { min: 1, max: 1 }, extraMemories: 1 }), /uses multiple memories \(2 memories declared\)/);
  refuses("a maximum above the cap", abiModule({ memory: { min: 1, max: LIMITS.memoryCapPages + 1 } }), new RegExp(`maximum of ${LIMITS.memoryCapPages + 1} pages; at most ${LIMITS.memoryCapPages}`));
  refuses("an import other than env.abort", abiModule({ imports: [["env", "seed", [[], [0x7c]]]] }), /imports env\.seed; the only import allowed is env\.abort/);
  refuses("env.abort with the wrong signature", abiModule({ imports: [["env", "abort", [[0x7f], []]]] }), /imports env\.abort with signature \(i32\)->\(\), expected \(i32,i32,i32,i32\)->\(\)/);
  refuses("an imported memory", abiModule({ importMemory: true }), /imports env\.memory \(a memory\)/);
  refuses("a missing ABI export", abiModule({ omitExport: "fhs_result_len" }), /does not export fhs_result_len/);
  refuses("a module over the size cap", abiModule({ padding: LIMITS.moduleSizeCap }), new RegExp(`module is \\d+ bytes, the cap is ${LIMITS.moduleSizeCap}`));
  refuses("bytes that are not wasm", new TextEncoder().encode("#!/bin/sh\necho hi\n"), /not a wasm module/);
});
