// The second policy host: the launcher's wasm3 in plan-only mode
// (`fhs-launcher eval`). Conformance runs every case through both hosts.
import { spawnSync } from "node:child_process";
import { FhsError } from "../errors.js";
import { launcherPath } from "../paths.js";
import type { PolicyResult } from "./host.js";
import { decodeRecords } from "./records.js";

export function evalInLauncher(wasmPath: string, input: Uint8Array, name: string, launcher = launcherPath): PolicyResult {
  const r = spawnSync(launcher, ["eval", wasmPath, name], { input, maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw new FhsError(`launcher ${launcher}: ${r.error.message}`);
  if (r.status !== 0 && r.status !== 1) {
    const line = r.stderr.toString().trim().replace(/^fhs: /, "") || `exit ${r.status ?? r.signal}`;
    throw new FhsError(line);
  }
  const bytes = new Uint8Array(r.stdout);
  return { status: r.status, bytes, records: decodeRecords(bytes) };
}
