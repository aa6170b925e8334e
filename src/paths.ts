// Where the built artifacts live, relative to the installed package. Tests and
// the CLI resolve them the same way, so a fresh clone after `npm ci` just works.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { FhsError } from "./errors.js";

/** The package root: the directory that holds package.json. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export const buildDir = join(packageRoot, "build");
/** The default layout policy, compiled from assembly/. */
export const defaultPolicyWasm = join(buildDir, "policy.wasm");
export const staticLauncherPath = join(buildDir, "fhs-launcher-static");
export const dynamicLauncherPath = join(buildDir, "fhs-launcher");
/** The launcher wrappers point to. Static: a view need not hold a libc or a
 * dynamic loader for the launcher, only for the program it runs. */
export const launcherPath = process.env.FHS_LAUNCHER ?? staticLauncherPath;
export const policiesDir = join(packageRoot, "policies");

/** The launcher a command will use, checked to exist. */
export function requireLauncher(override?: string): string {
  const launcher = resolve(override ?? launcherPath);
  if (!existsSync(launcher)) throw new FhsError(`launcher ${launcher}: not built (run: npm run build:launcher)`);
  return launcher;
}
