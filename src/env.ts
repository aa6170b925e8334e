// `fhs env [--layer DEP]... [--pkg WRAPPED_DIR]... [-- COMMAND...]`: a dev
// environment. The same view a wrapped program gets (the policy's
// `req launch`, host dirs bound, /usr from the layers, IN_NIX_FHS set), made
// from an ephemeral compiled manifest instead of a package's, with COMMAND
// (default: an interactive shell whose prompt says "(fhs)") looked up by
// PATH inside it. Inside a view it composes on top of that view, like any
// nested launch (docs/BUILD.md).
import { spawn } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, writeFileSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { removeTree } from "./tree.js";
import { cachedViewLdCache } from "./ldcache.js";
import { cachedViewState } from "./state.js";
import { FhsError } from "./errors.js";
import { checkLayerOverlayMetadata, checkLayerSymlinks, dedupeLayers, inspectLayer, usrDir, type Layer } from "./layers.js";
import { encodeManifest, MANIFEST_VERSION, readManifest, wrappedPackageLayers, type Manifest } from "./manifest.js";
import { defaultPolicyWasm, requireLauncher } from "./paths.js";
import { defaultConfigPath, loadConfig } from "./policy/config.js";
import { readPolicyModule } from "./policy/validate.js";

export const ENV_PROMPT = "(fhs) ";

export interface EnvOptions {
  layers: string[];
  pkgs: string[];
  command: string[];
  policy?: string;
  config?: string;
  launcher?: string;
}

/** The view's layers: each package's own (itself first, then its
 * dependencies), then the --layer ones, where a wrapped package stands for
 * its own layer list as a --pkg does (src/manifest.ts, wrappedPackageLayers);
 * the first provider of a path wins. `bare`: the layers that are no
 * package's, checked here (a package's were checked when it was wrapped). */
export function envLayers(pkgs: string[], layers: string[]): Layer[] {
  return envLayerSets(pkgs, layers).all;
}

function envLayerSets(pkgs: string[], layers: string[]): { all: Layer[]; bare: Layer[] } {
  const fromPkgs = pkgs.flatMap((p) => {
    const dir = resolve(p);
    if (!existsSync(join(dir, ".fhs", "manifest.json"))) throw new FhsError(`package ${p}: not a wrapped package (no .fhs/manifest.json)`);
    return readManifest(dir).layers;
  });
  const bare: Layer[] = [];
  const packaged = [...fromPkgs];
  const extra = layers.flatMap((l) => {
    const wrapped = wrappedPackageLayers(l);
    if (wrapped) {
      packaged.push(...wrapped);
      return wrapped;
    }
    const layer = inspectLayer(l);
    checkLayerSymlinks(layer);
    bare.push(layer);
    return [layer];
  });
  const all = dedupeLayers([...fromPkgs, ...extra]);
  if (all.length === 0) throw new FhsError("env: no --layer or --pkg given; the view would have no /usr");
  // A layer a package's list already holds is that package's: checked, its
  // install-time state made, when the package was wrapped.
  const checked = new Set(packaged.map((l) => l.path));
  return { all, bare: bare.filter((l) => !checked.has(l.path)) };
}

/** bash when a layer has it, else sh; with a prompt that shows the view. */
function defaultShell(layers: Layer[], dir: string): { argv: string[]; env: Record<string, string> } {
  const has = (name: string) =>
    layers.some((l) => {
      try {
        lstatSync(join(usrDir(l), "bin", name));
        return true;
      } catch {
        return false;
      }
    });
  const prompt = `${ENV_PROMPT}\\$ `;
  if (has("bash")) {
    // bash's rc files set PS1 over the environment's: prefix it after them.
    const rc = join(dir, "bashrc");
    writeFileSync(rc, `[ -f "$HOME/.bashrc" ] && . "$HOME/.bashrc"\nPS1="${ENV_PROMPT}\${PS1:-\\\\$ }"\n`);
    return { argv: ["bash", "--rcfile", rc, "-i"], env: { PS1: prompt } };
  }
  if (has("sh")) return { argv: ["sh"], env: { PS1: `${ENV_PROMPT}$ ` } };
  throw new FhsError("env: no shell (usr/bin/bash or usr/bin/sh) in the view's layers; give a COMMAND");
}

export async function env(opts: EnvOptions): Promise<number> {
  const sets = envLayerSets(opts.pkgs, opts.layers);
  let layers = sets.all;
  const policy = readPolicyModule(opts.policy ? resolve(opts.policy) : defaultPolicyWasm);
  const launcher = requireLauncher(opts.launcher);
  // The packages' layers were checked when they were wrapped.
  checkLayerOverlayMetadata(sets.bare, launcher);
  const config = loadConfig(opts.config ?? defaultConfigPath);
  // Bare layers have no package to hold their install-time state: it is made
  // once per layer list and kept under the list's hash (src/state.ts). With
  // packages only, each package's state travels in its own layers.
  if (sets.bare.length > 0) {
    const state = cachedViewState(layers, { policy, config, launcher, report: (line) => process.stderr.write(`fhs: ${line}\n`) });
    if (state) layers = [state, ...layers];
  }
  // The same view as a wrapped program's, library cache included (src/ldcache.ts).
  const ldCache = cachedViewLdCache(layers, policy, config, launcher);

  // The manifest lives until the session ends; the launcher reads it once,
  // nested launches read the view's marker instead.
  const dir = mkdtempSync(join(tmpdir(), "fhs-env-"));
  try {
    const manifest: Manifest = {
      fhsManifest: MANIFEST_VERSION,
      package: dir,
      layers,
      policy: { path: policy.path, sha256: policy.sha256, source: opts.policy ? "custom" : "default" },
      config,
      programs: [],
      launcher,
      ...(ldCache ? { ldCache } : {}),
    };
    const mpath = join(dir, "manifest.bin");
    writeFileSync(mpath, encodeManifest(manifest));
    const shell = opts.command.length ? { argv: opts.command, env: {} } : defaultShell(layers, dir);
    return await new Promise<number>((resolvePromise, reject) => {
      const child = spawn(launcher, ["env", mpath, "--", ...shell.argv], { stdio: "inherit", env: { ...process.env, ...shell.env } });
      // Ctrl-C belongs to the shell in the view, not to this process.
      const ignore = () => {};
      process.on("SIGINT", ignore);
      process.on("SIGQUIT", ignore);
      child.on("error", (e) => reject(new FhsError(`launcher ${launcher}: ${e.message}`)));
      child.on("close", (code, signal) => {
        process.off("SIGINT", ignore);
        process.off("SIGQUIT", ignore);
        resolvePromise(code ?? 128 + (signal ? constants.signals[signal] : 0));
      });
    });
  } finally {
    removeTree(dir);
  }
}
