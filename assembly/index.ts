// policy.wasm: the fhs layout policy. Both hosts (Node in the CLI, wasm3 in the
// launcher) drive it through this flat byte ABI, documented in docs/ABI.md:
//
//   fhs_abi() -> i32                     ABI version; a host refuses any other
//   fhs_alloc(len) -> ptr                room for `len` input bytes
//   fhs_eval(ptr, len) -> status         0 ok, 1 refused (result holds the reason)
//   fhs_result_ptr() / fhs_result_len()  the result bytes (records)
//
// The policy makes no system calls and imports nothing but `env.abort`.
import { RecordWriter, parseRecords } from "./records";
import { evaluate } from "./policy";
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

export function fhs_eval(ptr: usize, len: i32): i32 {
  const out = new RecordWriter();
  const input = parseRecords(ptr, len);
  let status: i32;
  if (input == null) {
    out.record(["error", "input is not a well-formed record stream"]);
    status = 1;
  } else {
    status = evaluate(input, out);
  }
  resultPtr = out.buf.dataStart;
  resultLen = out.len;
  return status;
}
