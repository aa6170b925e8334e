// `fhs wrap DIR`: executables of DIR/usr/{bin,sbin} move to DIR/.fhs/raw/ and
// a wrapper takes each one's place. A wrapper is a symlink to the package's
// one copy of the launcher (a hard link when the filesystem allows), kept
// with the manifest outside usr/, so no view shows it at /usr:
//
//   DIR/usr/bin/hello  ->  DIR/.fhs/.fhs-launcher
//
// The launcher finds DIR and bin/hello from the path it was exec'd by
// (AT_EXECFN), so the wrapper works by store path, through PATH inside a view
// (/usr/bin/hello), through a user's symlink, or by a relative path.
//
// DIR/.fhs/raw is laid out as a /usr (raw/bin/hello) and is the package's top
// layer: in its view the program is installed at /usr/bin/hello, the real
// file, and the launcher execs it there (docs/ARCHITECTURE.md, "What a
// program sees of itself"). Links move as they are: they are resolved in the
// view, where they mean what the package meant. raw is not under usr/
// because OverlayFS refuses a layer inside another layer (ELOOP,
// "overlapping lowerdir path").
import { closeSync, copyFileSync, existsSync, realpathSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { dirname, join, resolve } from "node:path";
import { FhsError } from "./errors.js";
import { holdSignals, Interrupted, Transaction } from "./transaction.js";
import { halfWrapped } from "./unwrap.js";
import { buildViewLdCache } from "./ldcache.js";
import { checkLayerOverlayMetadata, checkLayerSymlinks, dedupeLayers, inspectLayer, type Layer } from "./layers.js";
import { encodeManifest, LAUNCHER_NAME, manifestDir, type Manifest, MANIFEST_VERSION, wrappedPackageLayers } from "./manifest.js";
import { wrapState } from "./state.js";
import { defaultPolicyWasm, requireLauncher } from "./paths.js";
import { configRecords, defaultConfigPath, loadConfig } from "./policy/config.js";
import { evalPolicy } from "./policy/host.js";
import { SchemaError, schemaProblems } from "./policy/schemas.js";
import { LIMITS } from "./abi.js";
import { readPolicyModule } from "./policy/validate.js";
import { encodeRecords, type Rec } from "./policy/records.js";

export interface WrapOptions {
  dir: string;
  layers?: string[];
  /** A custom policy module (.wasm); default: the built-in policy. */
  policy?: string;
  /** A policy config (.json); default: policies/default.json. */
  config?: string;
  launcher?: string;
}

type Kind = "exec" | "script" | "link-exec" | "other";

export { LAUNCHER_NAME };

/** Where a wrapped package's programs are: a layer laid out as a /usr. */
export function rawDir(pkg: string): string {
  return join(manifestDir(pkg), "raw");
}

function kindOf(path: string): Kind {
  const l = lstatSync(path);
  if (l.isSymbolicLink()) {
    // A symlink to an executable (python3 -> python3.11). Dangling or absolute
    // links are judged in the view, where they will resolve.
    try {
      const st = statSync(path);
      return st.isFile() && st.mode & 0o111 ? "link-exec" : "other";
    } catch {
      return "link-exec";
    }
  }
  if (!l.isFile() || !(l.mode & 0o111)) return "other";
  const fd = openSync(path, "r");
  const head = Buffer.alloc(4);
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  if (head[0] === 0x23 && head[1] === 0x21) return "script";
  return "exec";
}

/** What the policy says to wrap, from the candidates in usr/. */
async function selectPrograms(pkgUsr: string, policyBytes: Uint8Array, policyName: string, config: Rec[]): Promise<string[]> {
  const input: Rec[] = [["req", "wrap"], ...config.filter((r) => r[0] === "wrap-dir")];
  for (const d of readdirSync(pkgUsr, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!d.isDirectory()) continue;
    for (const f of readdirSync(join(pkgUsr, d.name)).sort()) {
      if (f === LAUNCHER_NAME) continue;
      input.push(["candidate", `${d.name}/${f}`, kindOf(join(pkgUsr, d.name, f))]);
    }
  }
  const res = await evalPolicy(policyBytes, encodeRecords(input), { name: policyName });
  if (res.status !== 0) throw new FhsError(`policy ${policyName} refused to select programs: ${res.records[0]?.[1] ?? "no reason"}`);
  return res.records.filter((r) => r[0] === "wrap" && r.length === 2).map((r) => r[1]!);
}

export async function wrap(opts: WrapOptions): Promise<Manifest> {
  // Symlink-free, like every layer path (the package is its own layer).
  const pkg = existsSync(opts.dir) ? realpathSync(resolve(opts.dir)) : resolve(opts.dir);
  // Everything is checked before DIR is touched.
  if (!existsSync(pkg)) throw new FhsError(`package ${opts.dir}: no such directory`);
  if (!statSync(pkg).isDirectory()) throw new FhsError(`package ${opts.dir}: not a directory`);
  if (existsSync(join(manifestDir(pkg), "manifest.json"))) {
    throw new FhsError(`package ${opts.dir}: already wrapped (${join(manifestDir(pkg), "manifest.json")} exists); wrapping twice would wrap the wrappers`);
  }
  // Moved programs without a manifest: wrapping again would move the
  // wrappers over the originals in .fhs/raw.
  const half = halfWrapped(pkg);
  if (half) throw new FhsError(`package ${opts.dir}: half-wrapped (${half}); run 'fhs unwrap ${opts.dir}' to put its programs back, then wrap again`);
  const self = inspectLayer(pkg);
  if (self.layout !== "fhs") throw new FhsError(`package ${opts.dir}: has no usr/ directory to wrap`);
  // A wrapped package given as a dependency stands for its own layer list
  // (src/manifest.ts, wrappedPackageLayers): its real programs, not its
  // wrappers, are at /usr in this package's view, with their dependencies.
  const bare: Layer[] = [];
  const deps = (opts.layers ?? []).flatMap((l) => {
    const wrapped = wrappedPackageLayers(l);
    if (wrapped) return wrapped;
    const layer = inspectLayer(l);
    checkLayerSymlinks(layer);
    bare.push(layer);
    return [layer];
  });
  const layers: Layer[] = dedupeLayers([self, ...deps]);

  const launcher = requireLauncher(opts.launcher);
  // A wrapped dependency's layers were checked when it was wrapped.
  checkLayerOverlayMetadata([self, ...bare], launcher);
  const policy = readPolicyModule(opts.policy ? resolve(opts.policy) : defaultPolicyWasm);
  const policySource = policy.path;
  const policyBytes = policy.bytes;
  const config = loadConfig(opts.config ?? defaultConfigPath);
  const programs = await selectPrograms(join(pkg, "usr"), policyBytes, policySource, configRecords(config));
  // .fhs/raw is one more layer when there are programs to wrap.
  const viewLayers = layers.length + (programs.length > 0 ? 1 : 0);
  if (viewLayers > LIMITS.maxLayers) {
    throw new FhsError(`package ${opts.dir}: needs ${viewLayers} layers; OverlayFS allows at most ${LIMITS.maxLayers} in one view`);
  }

  const meta = manifestDir(pkg);
  const staging = `${meta}.tmp-${process.pid}`;
  const policyPath = join(meta, "policy.wasm");
  // Where every wrapper points. It lands with the rest of .fhs/ at the
  // commit; until then the wrappers dangle, as the package is not wrapped.
  const pkgLauncher = join(meta, LAUNCHER_NAME);
  // Ctrl-C or a TERM while DIR is changed must not leave it half-wrapped:
  // the signal is held until the change is whole, then undone (docs/RELIABILITY.md).
  const interrupt = holdSignals();
  const tx = new Transaction();
  let manifest: Manifest;
  try {
    mkdirSync(staging);
    copyFileSync(policySource, join(staging, "policy.wasm"));
    // Libraries must resolve in the view without LD_LIBRARY_PATH: a cache for
    // this layer set, made once, here (src/ldcache.ts).
    const ldCache = buildViewLdCache(layers, policy, config, launcher, join(staging, "ld.so.cache"));
    // What the packages' maintainer scripts make at install time, made once
    // here as the package's own layer, DIR/.fhs/state (src/state.ts).
    const state = wrapState(layers, policy, config, launcher, join(staging, "state"), join(meta, "state"));
    if (state && viewLayers + 1 > LIMITS.maxLayers) {
      throw new FhsError(`package ${opts.dir}: needs ${viewLayers + 1} layers with its install-time state; OverlayFS allows at most ${LIMITS.maxLayers} in one view`);
    }
    manifest = {
      fhsManifest: MANIFEST_VERSION,
      package: pkg,
      // The package's programs are installed at /usr in its view: .fhs/raw,
      // laid out as a /usr, is the top layer, above the package's own usr/
      // (where the wrappers are).
      // The generated state is next, above the package and its dependencies.
      layers: [...(programs.length > 0 ? [{ path: rawDir(pkg), layout: "nix" as const, dirs: ["usr" as const] }] : []), ...(state ? [state] : []), ...layers],
      policy: { path: policyPath, sha256: policy.sha256, source: opts.policy ? "custom" : "default" },
      config,
      programs,
      launcher,
      ...(ldCache.file ? { ldCache: join(meta, "ld.so.cache") } : {}),
    };
    const problems = schemaProblems("manifest", manifest, join(meta, "manifest.json"));
    if (problems.length > 0) throw new SchemaError(problems);
    writeFileSync(join(staging, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    writeFileSync(join(staging, "manifest.bin"), encodeManifest(manifest));

    // The moves, each one undone in reverse order if a later one fails.
    if (programs.length > 0) tx.placeLauncher(launcher, join(staging, LAUNCHER_NAME));
    for (const rel of programs) {
      const from = join(pkg, "usr", rel);
      tx.mkdirs(dirname(join(rawDir(pkg), rel)));
      tx.move(from, join(rawDir(pkg), rel));
      tx.symlink(pkgLauncher, from);
    }
    // The commit: manifest.json lands last. Until it is in place the package
    // is not wrapped, and every step above is still undone on failure.
    if (existsSync(meta)) {
      // .fhs/raw made it, or an imported layer holds .fhs/ (its import record): join it.
      for (const f of readdirSync(staging).filter((n) => n !== "manifest.json")) tx.move(join(staging, f), join(meta, f));
      tx.move(join(staging, "manifest.json"), join(meta, "manifest.json"));
    } else {
      tx.move(staging, meta);
    }
    if (await interrupt.arrived()) throw new Interrupted(interrupt.signal!);
  } catch (e) {
    const left = tx.rollback();
    rmSync(staging, { recursive: true, force: true });
    // A Ctrl-C also reaches ldconfig (same process group): then its failure
    // is the signal's doing, and the signal is what to report.
    const signal = e instanceof Interrupted ? e.signal : (await interrupt.arrived()) ? interrupt.signal : undefined;
    interrupt.release();
    if (left) {
      throw new FhsError(`package ${opts.dir}: wrapping failed (${causeOf(e)}) and could not be undone (${left}); run 'fhs unwrap ${opts.dir}' to put its programs back`);
    }
    if (signal) throw new FhsError(`package ${opts.dir}: wrap interrupted by ${signal}; nothing was changed`, 128 + osConstants.signals[signal]);
    if (e instanceof FhsError && !tx.started) throw e;
    throw new FhsError(`package ${opts.dir}: wrapping failed (${causeOf(e)}); nothing was changed`);
  }
  interrupt.release();
  // Empty now, when .fhs/ existed before (else it became .fhs/).
  rmSync(staging, { recursive: true, force: true });
  return manifest;
}

function causeOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
