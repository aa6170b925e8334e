// The Node host for policy.wasm. It drives the module through the same byte ABI
// as the launcher's wasm3 host (launcher/policy.c), under the same limits, so
// `fhs plan` prints exactly what a launch would do.
//
// Evaluation runs in a worker thread: a call-free loop in wasm cannot be
// interrupted from inside, so the deadline is enforced by terminating the worker.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { FhsError } from "../errors.js";
import { ABI_VERSION, LIMITS } from "../abi.js";
import { decodeRecords, type Rec } from "./records.js";
import { validatePolicyModule } from "./validate.js";

export interface PolicyResult {
  /** 0: a result; 1: the policy refused the input (records hold the reason). */
  status: number;
  bytes: Uint8Array;
  records: Rec[];
}

const loaderPath = createRequire(import.meta.url).resolve("@assemblyscript/loader");

// Plain CommonJS so the worker runs the same under tsx and from dist/.
const workerSource = `
const { parentPort, workerData } = require("node:worker_threads");
const loader = require(workerData.loaderPath);
(async () => {
  const { module, input, abiOnly } = workerData;
  // The deadline is the policy's: it starts now, not when the worker was asked for.
  parentPort.postMessage({ kind: "start" });
  // Which export was running when a trap hit: both hosts name it.
  let at = "instantiation";
  try {
    const instance = (await loader.instantiate(module, {})).exports;
    at = "fhs_abi";
    const abi = instance.fhs_abi();
    if (abiOnly) { parentPort.postMessage({ kind: "ok", status: abi, bytes: new Uint8Array(0) }); return; }
    if (abi !== ${ABI_VERSION}) { parentPort.postMessage({ kind: "abi", abi }); return; }
    at = "fhs_alloc";
    const ptr = instance.fhs_alloc(input.length) >>> 0;
    const mem = () => new Uint8Array(instance.memory.buffer);
    if (ptr > mem().length || input.length > mem().length - ptr) {
      parentPort.postMessage({ kind: "bounds", what: "alloc", ptr, len: input.length, size: mem().length });
      return;
    }
    mem().set(input, ptr);
    at = "fhs_eval";
    const status = instance.fhs_eval(ptr, input.length) >>> 0;
    at = "fhs_result_ptr";
    const rptr = instance.fhs_result_ptr() >>> 0;
    at = "fhs_result_len";
    const rlen = instance.fhs_result_len() >>> 0;
    const size = mem().length;
    if (rptr > size || rlen > size - rptr) {
      parentPort.postMessage({ kind: "bounds", what: "result", ptr: rptr, len: rlen, size });
      return;
    }
    parentPort.postMessage({ kind: "ok", status, bytes: mem().slice(rptr, rptr + rlen) });
  } catch (e) {
    parentPort.postMessage({ kind: "trap", at, message: String(e && e.message || e) });
  }
})();
`;

export interface EvalOptions {
  /** Names the policy in every error message. */
  name: string;
  deadlineMs?: number;
}

/**
 * Evaluates `input` (record bytes) with `module` (policy.wasm bytes). The
 * module is checked against the policy rules first (validate.ts): the loader
 * would offer it more imports than the launcher does, and V8 would let an
 * undeclared maximum grow memory past the cap.
 */
export async function evalPolicy(module: Uint8Array, input: Uint8Array, opts: EvalOptions): Promise<PolicyResult> {
  validatePolicyModule(module, opts.name);
  return interpret(await runWorker(module, input, false, opts), opts.name);
}

/** Instantiates the module (under the deadline) and returns what its fhs_abi() says. */
export async function probePolicyAbi(module: Uint8Array, opts: EvalOptions): Promise<number> {
  validatePolicyModule(module, opts.name);
  const m = await runWorker(module, new Uint8Array(0), true, opts);
  if (m.kind === "ok") return m.status;
  interpret(m, opts.name);
  throw new FhsError(`policy ${opts.name}: internal: no ABI version`);
}

const WORKER_START_MS = 60_000;

function runWorker(module: Uint8Array, input: Uint8Array, abiOnly: boolean, opts: EvalOptions): Promise<WorkerMessage> {
  const deadline = opts.deadlineMs ?? LIMITS.evalDeadlineMs;
  return new Promise((resolvePromise, reject) => {
    const worker = new Worker(workerSource, {
      eval: true,
      workerData: { module, input, abiOnly, loaderPath },
      // A runaway recursion must hit the wasm stack limit, not exhaust the process.
      resourceLimits: { stackSizeMb: 4, maxOldGenerationSizeMb: 256 },
    });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      fn();
    };
    // A worker thread's start (a new V8 isolate, the loader's require) is
    // not the policy's time: on a loaded machine it alone can take a second.
    // The deadline runs from the worker's "start" message; the start itself
    // gets a generous bound of its own.
    let timer = setTimeout(
      () => settle(() => reject(new FhsError(`policy ${opts.name}: the evaluation worker did not start within ${WORKER_START_MS} ms`))),
      WORKER_START_MS,
    );
    worker.on("message", (m: WorkerMessage | { kind: "start" }) => {
      if (m.kind !== "start") return settle(() => resolvePromise(m));
      clearTimeout(timer);
      timer = setTimeout(
        () => settle(() => reject(new FhsError(`policy ${opts.name}: evaluation exceeded its ${deadline} ms deadline`))),
        deadline,
      );
    });
    worker.once("error", (e) => settle(() => reject(new FhsError(`policy ${opts.name}: host error: ${e.message}`))));
    worker.once("exit", (code) => settle(() => reject(new FhsError(`policy ${opts.name}: evaluation ended without a result (worker exit ${code})`))));
  });
}

type WorkerMessage =
  | { kind: "ok"; status: number; bytes: Uint8Array }
  | { kind: "trap"; at: string; message: string }
  | { kind: "abi"; abi: number }
  | { kind: "bounds"; what: string; ptr: number; len: number; size: number };

function interpret(m: WorkerMessage, name: string): PolicyResult {
  switch (m.kind) {
    case "ok": {
      const bytes = new Uint8Array(m.bytes);
      let records: Rec[];
      try {
        records = decodeRecords(bytes);
      } catch (e) {
        throw new FhsError(`policy ${name}: result is not a record stream: ${(e as Error).message}`);
      }
      // The launcher knows only "result" and "refused": any non-zero status is a refusal.
      return { status: m.status === 0 ? 0 : 1, bytes, records };
    }
    case "trap":
      if (m.at === "instantiation") throw new FhsError(`policy ${name}: cannot load: ${m.message.replace(/^WebAssembly\.\w+\(\): /, "")}`);
      throw new FhsError(`policy ${name}: trapped in ${m.at}: ${describeTrap(m.message)}`);
    case "abi":
      throw new FhsError(`policy ${name}: ABI version ${m.abi}, this fhs speaks ${ABI_VERSION}`);
    case "bounds":
      throw new FhsError(`policy ${name}: ${m.what} buffer out of bounds (ptr ${m.ptr}, len ${m.len}, memory ${m.size} bytes)`);
  }
}

/** V8's trap texts, mapped to the words the launcher uses for the same traps. */
function describeTrap(message: string): string {
  if (/call stack size/i.test(message)) return "stack overflow";
  if (/memory access out of bounds/i.test(message)) return "out of bounds memory access";
  if (/unreachable/i.test(message)) return "unreachable executed";
  return message.replace(/\s+/g, " ").trim();
}
