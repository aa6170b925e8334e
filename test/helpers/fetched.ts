// Real software packaged the Nix way, as a user does it: `fhs layer fetch`
// resolves a Debian closure (with the Essential base) into one layer per
// package and a layer set; `--package` makes the program's own package dir
// from the requested packages; `fhs wrap DIR --layers-from SET` wraps it.
// Layers and .debs are cached outside the repository (test/helpers/debian.ts's
// cache root), world-readable, so the unprivileged test user can use them.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cacheRoot } from "./debian.js";
import { isRoot, runCli, testArtifacts, testDir, testUser } from "./env.js";

export const fetchStore = join(cacheRoot, "fetched");
const fetchCache = join(cacheRoot, "fetch-cache");

interface LayerSetFile {
  layers: { path: string; role: string; package?: string; version?: string }[];
}

/** `fhs layer fetch PKG... [--with DEP]... --into STORE --set FILE [--package DIR]`: the set file. */
export function fetchSet(debs: string[], opts: { packageDir?: string; with?: string[] } = {}): string {
  const set = join(testDir("fhs-set-"), `${debs.join("+")}.set.json`);
  const args = ["layer", "fetch", ...debs, ...(opts.with ?? []).flatMap((d) => ["--with", d]), "--into", fetchStore, "--set", set, "--cache", fetchCache, ...(opts.packageDir ? ["--package", opts.packageDir] : [])];
  const r = runCli(args, { timeoutMs: 30 * 60_000 });
  assert.equal(r.status, 0, `fhs ${args.join(" ")}: ${r.stderr}`);
  return set;
}

export function setLayers(set: string): LayerSetFile["layers"] {
  return (JSON.parse(readFileSync(set, "utf8")) as LayerSetFile).layers;
}

export interface FetchedPackage {
  /** The wrapped package dir: the requested packages' files only. */
  pkg: string;
  /** Its layer set (the requested packages, their closure, the base). */
  set: string;
  /** Every layer the package runs with (its set's non-requested layers). */
  layers: string[];
}

/**
 * A wrapped package made of the given Debian packages' files, its closure as
 * layers; `deps` are more Debian packages that the package needs as layers
 * but Debian only recommends (gcc needs libc6-dev): `fhs layer fetch --with`.
 */
export function fetchedPackage(name: string, debs: string[], deps: string[] = []): FetchedPackage {
  const pkg = join(testDir(`fhs-${name}-`), name);
  const set = fetchSet(debs, { packageDir: pkg, with: deps });
  const args = ["wrap", pkg, "--layers-from", set];
  const r = runCli(args, { env: { FHS_LAUNCHER: testArtifacts().launcher } });
  assert.equal(r.status, 0, `fhs ${args.join(" ")}: ${r.stderr}`);
  if (isRoot) execFileSync("chown", ["-R", "-h", `${testUser.uid}:${testUser.gid}`, join(pkg, "..")]);
  const layers = setLayers(set).filter((l) => l.role !== "requested").map((l) => l.path);
  return { pkg, set, layers };
}
