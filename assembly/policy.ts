// Request dispatch. Each request is a record stream whose first record names it.
import { planBuild } from "./build";
import { classifyConflicts } from "./conflicts";
import { RecordWriter } from "./records";
import { planLaunch, planWrap } from "./plan";

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
  if (kind == "launch") return planLaunch(input, out);
  if (kind == "wrap") return planWrap(input, out);
  if (kind == "build") return planBuild(input, out);
  if (kind == "conflicts") return classifyConflicts(input, out);
  out.record(["error", "unknown request kind: " + kind]);
  return 1;
}
