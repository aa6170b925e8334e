// The Node host for policy.wasm. It drives the module through the same byte ABI
// as the launcher's wasm3 host (launcher/policy.c), under the same limits, so
// `fhs plan` prints exactly what a launch would do.
//
// Evaluation runs in a worker thread: a call-free loop in wasm cannot be
// interrupted from inside, so the deadline is enforced by terminating the worker.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { FhsError } from "../errors.js";
import { EVAL_DEADLINE_MS } from "./limits.js";
import { decodeRecords, type Rec } from "./records.js";

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
  const { module, input } = workerData;
  let instance;
  try {
    instance = (await loader.instantiate(module, {})).exports;
  } catch (e) {
    parentPort.postMessage({ kind: "trap", message: "instantiation failed: " + e.message });
    return;
  }
  try {
    const abi = instance.fhs_abi();
    if (abi !== ${1}) { parentPort.postMessage({ kind: "abi", abi }); return; }
    const ptr = instance.fhs_alloc(input.length) >>> 0;
    const mem = () => new Uint8Array(instance.memory.buffer);
    if (ptr + input.length > mem().length) {
      parentPort.postMessage({ kind: "bounds", what: "alloc", ptr, len: input.length, size: mem().length });
      return;
    }
    mem().set(input, ptr);
    const status = instance.fhs_eval(ptr, input.length);
    const rptr = instance.fhs_result_ptr() >>> 0;
    const rlen = instance.fhs_result_len() >>> 0;
    const size = mem().length;
    if (rptr > size || rlen > size - rptr) {
      parentPort.postMessage({ kind: "bounds", what: "result", ptr: rptr, len: rlen, size });
      return;
    }
    parentPort.postMessage({ kind: "ok", status, bytes: mem().slice(rptr, rptr + rlen) });
  } catch (e) {
    parentPort.postMessage({ kind: "trap", message: String(e && e.message || e) });
  }
})();
`;

export interface EvalOptions {
  /** Names the policy in every error message. */
  name: string;
  deadlineMs?: number;
}

/** Evaluates `input` (record bytes) with `module` (policy.wasm bytes). */
export function evalPolicy(module: Uint8Array, input: Uint8Array, opts: EvalOptions): Promise<PolicyResult> {
  const deadline = opts.deadlineMs ?? EVAL_DEADLINE_MS;
  return new Promise((resolvePromise, reject) => {
    const worker = new Worker(workerSource, {
      eval: true,
      workerData: { module, input, loaderPath },
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
    const timer = setTimeout(
      () => settle(() => reject(new FhsError(`policy ${opts.name}: evaluation exceeded its ${deadline} ms deadline`))),
      deadline,
    );
    worker.once("message", (m: WorkerMessage) => settle(() => {
      try {
        resolvePromise(interpret(m, opts.name));
      } catch (e) {
        reject(e);
      }
    }));
    worker.once("error", (e) => settle(() => reject(new FhsError(`policy ${opts.name}: host error: ${e.message}`))));
    worker.once("exit", (code) => settle(() => reject(new FhsError(`policy ${opts.name}: evaluation ended without a result (worker exit ${code})`))));
  });
}

type WorkerMessage =
  | { kind: "ok"; status: number; bytes: Uint8Array }
  | { kind: "trap"; message: string }
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
      return { status: m.status, bytes, records };
    }
    case "trap":
      throw new FhsError(`policy ${name}: trapped: ${describeTrap(m.message)}`);
    case "abi":
      throw new FhsError(`policy ${name}: ABI version ${m.abi}, this fhs speaks 1`);
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
