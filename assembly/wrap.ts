// `req wrap` (docs/ABI.md): which of the package's executables get a wrapper.
// Input: `wrap-dir DIR` config records and `candidate REL KIND` for every
// entry of the package's usr/ dirs. Output: `wrap REL` for each one to wrap,
// in input order.
import { Candidate, WrapFacts } from "./facts";
import { contains } from "./layers";
import { Policy } from "./policy";
import { RecordWriter } from "./records";

/** A direct child (usr/bin/x, not usr/bin/sub/x) of a wrapped dir that runs:
 * an executable, a script, or a link to an executable. */
export function wrapsCandidate(f: WrapFacts, c: Candidate): bool {
  const slash = c.rel.indexOf("/");
  if (slash <= 0 || c.rel.indexOf("/", slash + 1) >= 0) return false;
  if (!contains(f.wrapDirs, c.rel.substring(0, slash))) return false;
  return c.kind == "exec" || c.kind == "script" || c.kind == "link-exec";
}

export function planWrap(p: Policy, f: WrapFacts, out: RecordWriter): i32 {
  for (let i = 0; i < f.candidates.length; i++) {
    if (p.wraps(f, f.candidates[i])) out.record(["wrap", f.candidates[i].rel]);
  }
  return 0;
}
