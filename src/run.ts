// `fhs run DIR PROGRAM [ARGS...]`: a convenience to run a wrapped program.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { FhsError } from "./errors.js";

/** Runs the wrapper and returns its exit status; a signal death is re-raised. */
export function runWrapped(dir: string, program: string, args: string[]): number {
  const wrapper = [join(dir, "usr", "bin", program), join(dir, "usr", "sbin", program)].find((p) => existsSync(p));
  if (!wrapper) throw new FhsError(`package ${dir}: no program ${program} in usr/bin or usr/sbin`);
  const r = spawnSync(wrapper, args, { stdio: "inherit" });
  if (r.error) throw new FhsError(`${wrapper}: ${r.error.message}`);
  if (r.signal) process.kill(process.pid, r.signal);
  return r.status ?? 1;
}
