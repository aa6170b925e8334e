// The policy ABI (docs/ABI.md), in one place: the functions both hosts (Node
// in the CLI, wasm3 in the launcher) call, over a flat byte buffer.
//
//   fhs_abi() -> i32                     ABI version; a host refuses any other
//   fhs_alloc(len) -> ptr                room for `len` input bytes
//   fhs_eval(ptr, len) -> status         0 ok, 1 refused (result holds the reason)
//   fhs_result_ptr() / fhs_result_len()  the result bytes (records)
//
// A policy's entry file re-exports the first four and defines fhs_eval as
// `return serve(ptr, len, new ItsPolicy())` (assembly/index.ts does so with
// the built-in Policy). The policy makes no system calls and imports nothing
// but `env.abort`.
import { launchFactsAt } from "./facts";
import { planLaunch } from "./launch";
import { Policy } from "./policy";
import { RecordWriter, bytesAre, fail, parseRecords, wellFormed } from "./records";

import { ABI_VERSION } from "./abi";

let resultPtr: usize = 0;
let resultLen: i32 = 0;

export function fhs_abi(): i32 {
  return ABI_VERSION;
}

export function fhs_alloc(len: i32): usize {
  return heap.alloc(<usize>len);
}

export function fhs_result_ptr(): usize {
  return resultPtr;
}

export function fhs_result_len(): i32 {
  return resultLen;
}

/** fhs_eval's body: reads the input, asks `policy`, and keeps its answer for
 * fhs_result_*. A launch, the request every cold launch makes, has its facts
 * read straight from the bytes (launchFactsAt) and goes to planLaunch, which
 * asks the policy's methods; every other request is parsed into records for
 * `policy.evaluate`. Both give the same facts and the same plan. */
export function serve(ptr: usize, len: i32, policy: Policy): i32 {
  const out = new RecordWriter();
  let status: i32;
  if (!wellFormed(ptr, len)) status = fail(out, "input is not a well-formed record stream");
  else if (isLaunch(ptr, len)) {
    const f = launchFactsAt(ptr, len);
    status = f.error != "" ? fail(out, f.error) : planLaunch(policy, f, out);
  } else status = policy.evaluate(parseRecords(ptr, len)!, out);
  resultPtr = out.buf.dataStart;
  resultLen = out.len;
  return status;
}

/** The first record is exactly `req launch`. */
function isLaunch(ptr: usize, len: i32): bool {
  if (len < 12 || !bytesAre(ptr, 3, "req") || load<u8>(ptr + 3) != 0) return false;
  return bytesAre(ptr + 4, 6, "launch") && load<u8>(ptr + 10) == 0 && load<u8>(ptr + 11) == 0;
}
