// Request dispatch. Each request is a record stream whose first record names it.
import { RecordWriter } from "./records";

export function evaluate(input: Array<Array<string>>, out: RecordWriter): i32 {
  if (input.length == 0 || input[0][0] != "req" || input[0].length != 2) {
    out.record(["error", "the first record must be: req <kind>"]);
    return 1;
  }
  const kind = input[0][1];
  if (kind == "echo") {
    // Round-trips the input through the codec: the conformance seed that proves
    // both hosts read and write records identically.
    for (let i = 0; i < input.length; i++) out.record(input[i]);
    return 0;
  }
  out.record(["error", "unknown request kind: " + kind]);
  return 1;
}
