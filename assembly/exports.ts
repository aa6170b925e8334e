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
import { Policy } from "./policy";
import { RecordWriter, fail, parseRecords } from "./records";

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

/** fhs_eval's body: parses the input, asks `policy`, and keeps its answer for fhs_result_*. */
export function serve(ptr: usize, len: i32, policy: Policy): i32 {
  const out = new RecordWriter();
  const input = parseRecords(ptr, len);
  const status = input == null ? fail(out, "input is not a well-formed record stream") : policy.evaluate(input, out);
  resultPtr = out.buf.dataStart;
  resultLen = out.len;
  return status;
}
