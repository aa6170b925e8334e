// Nix for tests: layers into the store, and the compiled manifest that
// nix/default.nix's fhsRun hands to the launcher. The manifest's records hold
// NUL bytes, which a Nix string cannot, so it is written here, with the same
// code as `fhs env`, and imported into the store as a file.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { inspectLayer } from "../../src/layers.js";
import { encodeManifest, MANIFEST_VERSION } from "../../src/manifest.js";
import { defaultConfigPath, loadConfig } from "../../src/policy/config.js";
import { readPolicyModule } from "../../src/policy/validate.js";

/** The environment for Nix commands: the machine's store, opened directly
 * (a session's NIX_REMOTE=daemon would need a running nix-daemon). */
export const nixEnv = { ...process.env, NIX_REMOTE: "local" };

export function nixRun(cmd: string, args: string[], timeoutMs = 120_000): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: nixEnv });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status}):\n${r.stderr}`);
  return r.stdout.trim();
}

/** A store path's name allows [A-Za-z0-9+._?=-] only; a Debian epoch's "%3a"
 * and a "~" do not fit. */
export function storeName(name: string): string {
  return name.replace(/[^A-Za-z0-9+._?=-]/g, "_");
}

/** Adds each layer directory to the store (under a name the store accepts)
 * and returns the store paths, in order. */
export function addLayers(layers: readonly string[]): string[] {
  const staging = mkdtempSync(join(tmpdir(), "fhs-nix-layers-"));
  try {
    return layers.map((layer) => {
      const named = join(staging, storeName(basename(layer)));
      // The store path is named after the directory added: a copy under a valid name.
      cpSync(layer, named, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
      return nixRun("nix-store", ["--add", named]);
    });
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The compiled manifest of a view of `layers` (store paths), using the
 * policy at `policy` (nix/default.nix's `policy`, a store path). */
export function writeNixManifest(file: string, opts: { name: string; layers: string[]; policy: string }): void {
  const policy = readPolicyModule(opts.policy);
  writeFileSync(
    file,
    encodeManifest({
      fhsManifest: MANIFEST_VERSION,
      package: opts.name,
      layers: opts.layers.map((l) => inspectLayer(l)),
      policy: { path: opts.policy, sha256: policy.sha256, source: "default" },
      config: loadConfig(defaultConfigPath),
      programs: [],
      launcher: "",
    }),
  );
}
