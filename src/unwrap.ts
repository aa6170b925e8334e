// `fhs unwrap DIR`: puts a package's programs back where `fhs wrap` found
// them, from a wrapped package or from a half-wrapped one (a wrap killed
// midway, or one made by an fhs without transactional wrap). What wrap did
// is read from the directory itself, not from the manifest, so a missing or
// damaged manifest does not stop the recovery:
//
//   .fhs/raw/REL  with usr/REL a symlink to a .fhs-launcher, or absent
//                -> usr/REL again (the wrapper symlink removed first)
//
// An entry of .fhs/raw whose place in usr/ holds anything else is a conflict:
// nothing is changed and each one is named. Nothing is ever renamed over an
// existing file. The manifest goes first, so an unwrap cut short leaves a
// half-wrapped package that the next unwrap finishes.
import { existsSync, lstatSync, readdirSync, readlinkSync, rmdirSync, rmSync, unlinkSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { FhsError } from "./errors.js";
import { LAUNCHER_NAME, manifestDir } from "./manifest.js";
import { lexists, moveNoReplace } from "./transaction.js";
import { removeTree } from "./tree.js";

/** What fhs wrap writes into DIR/.fhs/. */
const WRAP_METADATA = ["manifest.json", "manifest.bin", "policy.wasm", "ld.so.cache", LAUNCHER_NAME];
/** Where an fhs before manifest format 2 put the launcher, inside the package's
 * own usr/ (and so in every view): still recognized, to put such a package back. */
const OLD_LAUNCHER = join("usr", "bin", LAUNCHER_NAME);
const STAGING = /^\.fhs\.tmp-\d+$/;

/** Why DIR (which has no manifest) holds traces of a wrap, or undefined. */
export function halfWrapped(pkg: string): string | undefined {
  const staging = readdirSync(pkg).filter((n) => STAGING.test(n));
  if (staging.length > 0) return `a wrap was cut short: ${staging[0]} is left`;
  if (lexists(join(pkg, ".fhs", "raw"))) return ".fhs/raw exists but .fhs/manifest.json does not";
  if (lexists(join(pkg, ".fhs", LAUNCHER_NAME))) return `.fhs/${LAUNCHER_NAME} exists but .fhs/manifest.json does not`;
  if (lexists(join(pkg, OLD_LAUNCHER))) return `${OLD_LAUNCHER} exists but .fhs/manifest.json does not`;
  return undefined;
}

/** True for the symlink wrap puts in a program's place. */
function isWrapper(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink() && basename(readlinkSync(path)) === LAUNCHER_NAME;
  } catch {
    return false;
  }
}

/** Every non-directory entry under .fhs/raw, relative to it (bin/hello), and the dirs, deepest first. */
function rawEntries(raw: string): { files: string[]; dirs: string[] } {
  const files: string[] = [];
  const dirs: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(rel ? join(raw, rel) : raw, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        walk(child);
        dirs.push(child);
      } else files.push(child);
    }
  };
  walk("");
  return { files, dirs };
}

export interface UnwrapResult {
  package: string;
  /** Programs put back, relative to usr/. */
  restored: string[];
  /** Programs whose original was already lost (.fhs/raw held a wrapper). */
  lost: string[];
}

export function unwrap(dir: string): UnwrapResult {
  const pkg = resolve(dir);
  if (!existsSync(pkg) || !lstatSync(pkg).isDirectory()) throw new FhsError(`package ${dir}: no such directory`);
  const meta = manifestDir(pkg);
  const raw = join(pkg, ".fhs", "raw");
  const wrapped = lexists(join(meta, "manifest.json"));
  if (!wrapped && !halfWrapped(pkg)) throw new FhsError(`package ${dir}: not wrapped; nothing to put back`);

  // Check everything before changing anything.
  const { files, dirs } = lexists(raw) ? rawEntries(raw) : { files: [], dirs: [] };
  const conflicts = files.filter((rel) => {
    const place = join(pkg, "usr", rel);
    return lexists(place) && !isWrapper(place);
  });
  if (conflicts.length > 0) {
    const more = conflicts.length > 1 ? ` (and ${conflicts.length - 1} more)` : "";
    throw new FhsError(`package ${dir}: cannot put .fhs/raw/${conflicts[0]} back: usr/${conflicts[0]} exists and is not a wrapper${more}; nothing was changed`);
  }

  // The manifest first: from here on the package is half-wrapped until done.
  for (const f of WRAP_METADATA) rmSync(join(meta, f), { force: true });
  // The install-time state wrap made (src/state.ts) is wrap's too.
  if (lexists(join(meta, "state"))) removeTree(join(meta, "state"));
  const lost: string[] = [];
  for (const rel of files) {
    const place = join(pkg, "usr", rel);
    if (lexists(place)) unlinkSync(place);
    // A wrapper in .fhs/raw: an fhs without transactional wrap renamed it over
    // the program, which is gone. Putting it back would exec itself.
    if (isWrapper(join(raw, rel))) {
      unlinkSync(join(raw, rel));
      lost.push(rel);
    } else moveNoReplace(join(raw, rel), place);
  }
  for (const d of dirs) rmdirSync(join(raw, d));
  if (lexists(raw)) rmdirSync(raw);
  // Wrappers whose program was already gone from .fhs/raw, then the launcher.
  for (const d of readdirSync(join(pkg, "usr"), { withFileTypes: true })) {
    if (!d.isDirectory()) continue;
    for (const f of readdirSync(join(pkg, "usr", d.name))) {
      const p = join(pkg, "usr", d.name, f);
      if (f !== LAUNCHER_NAME && isWrapper(p) && !files.includes(`${d.name}/${f}`)) unlinkSync(p);
    }
  }
  rmSync(join(pkg, OLD_LAUNCHER), { force: true });
  for (const n of readdirSync(pkg).filter((n) => STAGING.test(n))) rmSync(join(pkg, n), { recursive: true, force: true });
  // .fhs/ may hold more than wrap's files (an imported layer's record): keep it then.
  if (existsSync(meta) && readdirSync(meta).length === 0) rmdirSync(meta);
  return { package: pkg, restored: files.filter((f) => !lost.includes(f)), lost };
}
