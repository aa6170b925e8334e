// Nix for tests: layers into the machine's store, under names the store
// accepts, remembered between runs so a second run adds nothing.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { cacheRoot } from "./debian.js";

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

// Layer directory -> store path, for layers already added (checked valid on use).
const addedFile = join(cacheRoot, "nix-added.json");

/** Adds each layer directory to the store (under a name the store accepts)
 * and returns the store paths, in order. */
export function addLayers(layers: readonly string[]): string[] {
  const added: Record<string, string> = existsSync(addedFile) ? JSON.parse(readFileSync(addedFile, "utf8")) : {};
  const known = layers.map((l) => added[l]).filter((p): p is string => !!p);
  const invalid = new Set(known.length ? nixRun("nix-store", ["--check-validity", "--print-invalid", ...known]).split("\n") : []);
  const staging = mkdtempSync(join(tmpdir(), "fhs-nix-layers-"));
  try {
    const out = layers.map((layer) => {
      const have = added[layer];
      if (have && !invalid.has(have)) return have;
      const name = storeName(basename(layer));
      let from = layer;
      if (name !== basename(layer)) {
        // The store path is named after the directory added: a copy under a valid name.
        from = join(staging, name);
        cpSync(layer, from, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
      }
      return (added[layer] = nixRun("nix-store", ["--add", from]));
    });
    writeFileSync(`${addedFile}.${process.pid}`, JSON.stringify(added, null, 1));
    renameSync(`${addedFile}.${process.pid}`, addedFile);
    return out;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
