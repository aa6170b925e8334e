// The policy config: JSON that a packager writes (policies/default.json is the
// default), compiled into records that travel in the package's manifest and
// reach the policy at every launch. The JSON is never parsed per exec.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { policiesDir } from "../paths.js";
import { encodeRecords, type Rec } from "./records.js";
import { loadJsonChecked } from "./schemas.js";

/** Where a view's /etc comes from (docs/ARCHITECTURE.md, "Which directories come from layers"). */
export type EtcSource = "layers+host" | "host" | "layers";
/** How a view is made (docs/ARCHITECTURE.md, "Two ways to make a view"):
 * "auto" lets the policy choose in place where that is correct for the host. */
export type ViewStrategy = "auto" | "new-root" | "in-place";
export type Severity = "ok" | "info" | "warning" | "error";
export type ConflictClass =
  | "identical"
  | "shadowed-compatible"
  | "diamond-incompatible"
  | "file-collision"
  | "type-clash"
  | "state-override"
  | "state-collision"
  | "unversioned-shadow"
  | "missing-symbol-lazy"
  | "missing-symbol";

export interface PolicyConfig {
  $schema?: string;
  overlay: { usr?: true; etc: EtcSource; opt: boolean };
  /** Default "auto". */
  view?: ViewStrategy;
  hostBinds: { never: string[]; etc: string[] };
  env: Record<string, string>;
  wrap: { dirs: string[] };
  /** Install-time state (src/state.ts): whether a failed maintainer script fails the wrap. */
  state?: { required: boolean };
  conflicts: {
    severities: Partial<Record<ConflictClass, Severity>> & Record<"identical" | "shadowed-compatible" | "diamond-incompatible" | "file-collision" | "type-clash", Severity>;
    overrides: { path: string; severity: Severity; reason?: string }[];
  };
}

export const defaultConfigPath = join(policiesDir, "default.json");

/** Reads a config and checks it against policies/schema/config.schema.json. */
export function loadConfig(path: string = defaultConfigPath): PolicyConfig {
  return loadJsonChecked<PolicyConfig>(path, "config");
}

/** The config as policy input records (docs/ABI.md, "Config records"). */
export function configRecords(c: PolicyConfig): Rec[] {
  const recs: Rec[] = [["overlay", "usr"]];
  if (c.overlay.opt) recs.push(["overlay", "opt"]);
  recs.push(["etc-from", c.overlay.etc]);
  for (const name of c.hostBinds.never) recs.push(["never-bind", name]);
  recs.push(["view-strategy", c.view ?? "auto"]);
  for (const rel of c.hostBinds.etc) recs.push(["etc-host", rel]);
  for (const [k, v] of Object.entries(c.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) recs.push(["setenv", k, v]);
  for (const d of c.wrap.dirs) recs.push(["wrap-dir", d]);
  for (const [cls, sev] of Object.entries(c.conflicts.severities)) recs.push(["severity", cls, sev]);
  for (const o of c.conflicts.overrides) recs.push(["override", o.path, o.severity]);
  return recs;
}

/** Writes the config at `path` (default: the default config) compiled to
 * records, the form `fhs-launcher manifest` copies into a manifest (Nix
 * builds, docs/NIX.md); returns how many records. */
export function writeCompiledConfig(path: string | undefined, out: string): number {
  const recs = configRecords(loadConfig(path ?? defaultConfigPath));
  writeFileSync(out, encodeRecords(recs));
  return recs.length;
}
