// policy.wasm: the built-in fhs layout policy, the ABI (exports.ts) over the
// built-in decisions (policy.ts).
import { serve } from "./exports";
import { Policy } from "./policy";

export { fhs_abi, fhs_alloc, fhs_result_ptr, fhs_result_len } from "./exports";

export function fhs_eval(ptr: usize, len: i32): i32 {
  return serve(ptr, len, new Policy());
}
