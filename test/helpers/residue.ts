// What a launch may leave behind in its caller's world, taken before and
// compared after: the caller's mount table, the processes that carry the
// test's own XDG_RUNTIME_DIR (every launch of a test gets one of its own, so
// no other test's processes are counted), and the runtime dir's entries (the
// plan cache: no half-written `.tmp-PID` entry may stay).
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { callerMounts } from "./wrapped.js";

/** Pids whose environment holds `entry` (readable to root and to their owner). */
export function processesWith(entry: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(entry)) out.push(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/** Every entry under `dir`, recursively, as relative paths. */
function entries(dir: string): string[] {
  if (!existsSync(dir)) return [];
  // The cache directory itself is made by any launch that gets as far as the
  // cache; its entries are what counts.
  return (readdirSync(dir, { recursive: true }) as string[]).map(String).filter((f) => f !== "fhs-plans").sort();
}

export interface World {
  runtime: string;
  mounts: string;
  files: string[];
  procs: string[];
}

export function world(runtime: string): World {
  return { runtime, mounts: callerMounts(), files: entries(runtime), procs: processesWith(`XDG_RUNTIME_DIR=${runtime}`) };
}

/** No mount, process or temp file left; the plan cache unchanged unless `cacheMayGrow`. */
export function assertNoResidue(before: World, opts: { cacheMayGrow?: boolean } = {}): void {
  const now = world(before.runtime);
  assert.equal(now.mounts, before.mounts, "the caller's mount table changed");
  assert.deepEqual(now.procs, before.procs, "a process of the launch was left running");
  assert.deepEqual(now.files.filter((f) => /\.tmp-\d+$/.test(f)), [], "a temp file was left in the plan cache");
  if (!opts.cacheMayGrow) assert.deepEqual(now.files, before.files, "the plan cache changed");
  else for (const f of before.files) assert.ok(now.files.includes(f), `${join(before.runtime, f)} went away`);
}
