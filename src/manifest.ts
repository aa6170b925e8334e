// A wrapped package's manifest. It lives in DIR/.fhs/, outside usr/, so it
// never appears in a merged view. Two forms, written together at wrap time:
//   manifest.json  for people and tools, schema-checked
//   manifest.bin   records the launcher reads at every exec (no JSON per exec)
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { join, resolve } from "node:path";
import { MANIFEST_FORMAT, PATHS } from "./abi.js";
import { FhsError } from "./errors.js";
import type { Layer } from "./layers.js";
import { configRecords, type PolicyConfig } from "./policy/config.js";
import { encodeRecords, type Rec } from "./policy/records.js";
import { formatProblem, parseJsonWithPositions, schemaProblems } from "./policy/schemas.js";

/** The compiled manifest's format, which the launcher checks (abi/abi.json). */
export const MANIFEST_VERSION = MANIFEST_FORMAT;

/** The package's one launcher, which every wrapper points at: DIR/.fhs/.fhs-launcher. */
export const LAUNCHER_NAME = PATHS.launcherName;

export interface Manifest {
  fhsManifest: typeof MANIFEST_VERSION;
  /** The package directory, as wrapped. */
  package: string;
  /** Runtime layers in order: the package itself first, then its dependencies. */
  layers: Layer[];
  policy: { path: string; sha256: string; source: "default" | "custom" };
  config: PolicyConfig;
  /** Wrapped programs, relative to usr/ (bin/hello). */
  programs: string[];
  launcher: string;
  /** The view's ld.so.cache (docs/ARCHITECTURE.md, "Libraries"), when one was made. */
  ldCache?: string;
}

export function manifestDir(pkg: string): string {
  return join(pkg, ".fhs");
}

export function manifestRecords(m: Manifest): Rec[] {
  return [
    ["fhs-manifest", String(MANIFEST_VERSION)],
    ["pkg", m.package],
    ["policy", m.policy.path, m.policy.sha256],
    ...m.layers.map((l): Rec => ["layer", l.path, l.layout, l.dirs.join(",")]),
    ...configRecords(m.config),
    ...m.programs.map((p): Rec => ["program", p]),
    ...(m.ldCache ? [["ldcache", m.ldCache] as Rec] : []),
    // Last: the launcher refuses a manifest without it, one cut short at a
    // record boundary (which would otherwise read as fewer layers).
    ["end"],
  ];
}

export function encodeManifest(m: Manifest): Uint8Array {
  return encodeRecords(manifestRecords(m));
}

/** A package's manifest.json, checked against its schema on every read: a
 * file of the right syntax but the wrong shape (`null`, `[null]` layers, a
 * hand edit) is an input error naming the file, never a TypeError later. */
export function readManifest(pkg: string): Manifest {
  const file = join(manifestDir(pkg), "manifest.json");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new FhsError(`package ${pkg}: not wrapped (no ${file})`);
  }
  const { value, tree } = parseJsonWithPositions(text, file);
  // The format first (one source: the ABI's): another format's manifest may
  // have another shape, and what its user needs is to wrap the package again,
  // as the launcher says of its manifest.bin.
  const format = (value as { fhsManifest?: unknown } | null)?.fhsManifest;
  if (typeof format === "number" && format !== MANIFEST_VERSION) {
    throw new FhsError(`${file}: manifest format ${format}; this fhs reads format ${MANIFEST_VERSION}: run 'fhs unwrap ${pkg}', then wrap it again`);
  }
  const problems = schemaProblems("manifest", value, file, text, tree);
  if (problems.length > 0) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : "";
    throw new FhsError(`${formatProblem(problems[0]!)}${more}; not a manifest fhs wrap wrote`);
  }
  return value as Manifest;
}

/** A wrapped package given where a layer is expected (`fhs env --layer`,
 * `fhs wrap --layer`) stands for its own layer list, in its manifest's order:
 * its programs (.fhs/raw, laid out as a /usr) first, its install-time state,
 * its own dir, its dependencies. So a view of it shows the real programs at
 * /usr/bin, above the package's wrappers, each with the layers it was wrapped
 * against, and a program run there needs no launcher at all. undefined when
 * DIR is not a wrapped package (then it is a plain layer). */
export function wrappedPackageLayers(dir: string): Layer[] | undefined {
  let real: string;
  try {
    real = realpathSync(resolve(dir));
  } catch {
    return undefined;
  }
  if (!existsSync(join(manifestDir(real), "manifest.json"))) return undefined;
  const m = readManifest(real);
  // The layer list names the package by the path it was wrapped at: a
  // package moved since would stand for another directory's files.
  if (m.package !== real) throw new FhsError(`package ${dir}: its manifest was written for ${m.package}; wrap it again where it is`);
  return m.layers;
}
