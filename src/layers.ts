// Layers: read-only directories in one of two layouts (docs/ARCHITECTURE.md).
//   fhs  has usr/ (and maybe etc/, opt/): a Debian package, extracted.
//   nix  has bin/, lib/, share/… at the top: the directory itself is a /usr.
import { spawnSync } from "node:child_process";
import { lstatSync, readdirSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, posix, resolve } from "node:path";
import { FhsError } from "./errors.js";
import { decodeRecords } from "./policy/records.js";

export type Layout = "fhs" | "nix";

export interface Layer {
  /** Absolute, symlink-free path. */
  path: string;
  layout: Layout;
  /** The view directories this layer provides: usr always, etc and opt for FHS trees that have them. */
  /** var/lib for a generated state layer (src/state.ts) and for an FHS tree
   * whose var/lib holds files (aspell-en ships /var/lib/aspell, units its
   * currency table), shown over the host's /var/lib. */
  dirs: ("usr" | "etc" | "opt" | "var/lib")[];
}

/** Top-level names a layer may not hold; they would need a normalization the layer did not get. */
const UNNORMALIZED = ["bin", "sbin", "lib", "lib64"];

/** Validates a directory as a layer and tells its layout. Throws FhsError naming the path and the cause. */
export function inspectLayer(input: string): Layer {
  const abs = resolve(input);
  let st;
  try {
    st = lstatSync(abs);
  } catch {
    throw new FhsError(`layer ${input}: no such directory`);
  }
  if (st.isSymbolicLink()) {
    // A symlinked layer is followed once; its target must itself be a directory.
    let target: string;
    try {
      target = realpathSync(abs);
    } catch {
      throw new FhsError(`layer ${input}: dangling symlink`);
    }
    if (!statSync(target).isDirectory()) throw new FhsError(`layer ${input}: not a directory (symlink to a file)`);
    return inspectLayer(target);
  }
  if (!st.isDirectory()) throw new FhsError(`layer ${input}: not a directory`);
  if (!isAbsolute(abs) || abs.includes("\0")) throw new FhsError(`layer ${input}: not a usable path`);
  // The launcher opens layers following no symlink at all, so the path a
  // manifest records must have none in any component (/home -> /var/home).
  const real = realpathSync(abs);
  if (real !== abs) return inspectLayer(real);
  const names = new Set(readdirSync(abs));
  if (names.has("usr")) {
    const usr = lstatSync(`${abs}/usr`);
    if (!usr.isDirectory()) throw new FhsError(`layer ${input}: usr is not a directory`);
    for (const n of UNNORMALIZED) {
      const p = `${abs}/${n}`;
      if (names.has(n) && !lstatSync(p).isSymbolicLink()) {
        throw new FhsError(`layer ${input}: has a top-level ${n}/ beside usr/; merge it into usr/${n} (fhs layer import does this)`);
      }
    }
    const dirs: Layer["dirs"] = ["usr"];
    for (const d of ["etc", "opt"] as const) if (names.has(d) && lstatSync(`${abs}/${d}`).isDirectory()) dirs.push(d);
    // Empty directories (most packages' var/lib/<name>/) need no overlay.
    if (names.has("var") && holdsFiles(`${abs}/var/lib`)) dirs.push("var/lib");
    return { path: abs, layout: "fhs", dirs };
  }
  return { path: abs, layout: "nix", dirs: ["usr"] };
}

/** True when the directory tree has an entry that is not a directory. */
function holdsFiles(dir: string): boolean {
  let entries;
  try {
    if (!lstatSync(dir).isDirectory()) return false;
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  return entries.some((e) => !e.isDirectory() || holdsFiles(`${dir}/${e.name}`));
}

/** The directory a layer contributes to the view's /usr. */
export function usrDir(layer: Layer): string {
  return layer.layout === "fhs" ? `${layer.path}/usr` : layer.path;
}

/** Layers in order, first occurrence kept: the first provider of a path wins. */
export function dedupeLayers(layers: readonly Layer[]): Layer[] {
  const seen = new Set<string>();
  return layers.filter((l) => (seen.has(l.path) ? false : (seen.add(l.path), true)));
}

/** Refuses a layer holding a relative symlink that climbs above the view's
 * root: in a view it would point outside anything the layer describes. */
export function checkLayerSymlinks(layer: Layer): void {
  const viewPrefix = layer.layout === "fhs" ? "" : "usr/";
  const stack = [""];
  while (stack.length) {
    const rel = stack.pop()!;
    const abs = rel ? `${layer.path}/${rel}` : layer.path;
    for (const e of readdirSync(abs, { withFileTypes: true })) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (child !== ".fhs") stack.push(child);
      } else if (e.isSymbolicLink()) {
        const target = readlinkSync(`${layer.path}/${child}`);
        if (target.startsWith("/")) continue;
        if (climbsAboveRoot(`${viewPrefix}${posix.dirname(child)}/${target}`)) {
          throw new FhsError(`layer ${layer.path}: symlink ${child} -> ${target} escapes the layer's root`);
        }
      }
    }
  }
}

/** True when a relative path, walked from the root, goes above it at any point. */
function climbsAboveRoot(path: string): boolean {
  let depth = 0;
  for (const part of path.split("/")) {
    if (part === "..") depth--;
    else if (part && part !== ".") depth++;
    if (depth < 0) return true;
  }
  return false;
}

/** Refuses a layer that holds overlay's own metadata: a whiteout (a 0/0
 * character device) or an overlay.* xattr (opaque, whiteout, redirect…).
 * In a view such a layer would hide or redirect the files of every layer
 * below it: a dependency could take files away from the package that lists
 * it first. Layers are plain trees (docs/LAYERS.md). Node has no xattr API:
 * the launcher looks (`fhs-launcher overlay-check`). */
export function checkLayerOverlayMetadata(layers: readonly Layer[], launcher: string): void {
  if (layers.length === 0) return;
  const r = spawnSync(launcher, ["overlay-check", ...layers.map((l) => l.path)], { maxBuffer: 1 << 20 });
  if (r.error) throw new FhsError(`launcher ${launcher}: ${r.error.message}`);
  if (r.status !== 0) throw new FhsError(`layers: cannot inspect: ${String(r.stderr).trim().replace(/^fhs(-launcher)?: /, "")}`);
  const found = decodeRecords(r.stdout)[0];
  if (!found) return;
  const [what, layer, rel, xattr] = found;
  const thing = what === "whiteout" ? `an overlay whiteout ${rel} (a character device 0/0)` : `overlay metadata on ${rel} (xattr ${xattr})`;
  throw new FhsError(`layer ${layer}: holds ${thing}, which would hide files of the layers below it in a view; a layer must be a plain tree`);
}
