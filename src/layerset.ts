// Layer sets (docs/LAYERS.md): a JSON file listing layers in view order,
// checked against policies/schema/layer-set.schema.json. `fhs layer fetch`
// writes one; `--layers-from FILE` (wrap, env, build, conflicts,
// check-install) reads it.
import { renameSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { FhsError } from "./errors.js";
import { loadJsonChecked, SchemaError, schemaProblems } from "./policy/schemas.js";

export const LAYER_SET_VERSION = 1;

export type LayerRole = "requested" | "dependency" | "base";

export interface LayerSetEntry {
  path: string;
  role: LayerRole;
  package?: string;
  version?: string;
  architecture?: string;
}

export interface LayerSet {
  fhsLayerSet: typeof LAYER_SET_VERSION;
  requested?: string[];
  base?: boolean;
  architecture?: string;
  layers: LayerSetEntry[];
}

/** Reads and checks a set; relative layer paths are resolved against the set file's directory. */
export function readLayerSet(file: string): LayerSet {
  const set = loadJsonChecked<LayerSet>(file, "layer-set");
  const dir = dirname(resolve(file));
  return { ...set, layers: set.layers.map((l) => ({ ...l, path: resolve(dir, l.path) })) };
}

/**
 * The layer paths of the sets, in order. `withoutRequested` leaves out the
 * requested packages: for `fhs wrap DIR`, DIR holds their files.
 */
export function layersFromSets(files: readonly string[], opts: { withoutRequested?: boolean } = {}): string[] {
  return files.flatMap((f) =>
    readLayerSet(f)
      .layers.filter((l) => !(opts.withoutRequested && l.role === "requested"))
      .map((l) => l.path),
  );
}

/** Writes a set atomically (beside, then renamed), after checking it against its schema. */
export function writeLayerSet(file: string, set: LayerSet): void {
  const problems = schemaProblems("layer-set", set, file);
  if (problems.length > 0) throw new SchemaError(problems);
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, `${JSON.stringify(set, null, 2)}\n`);
    renameSync(tmp, file);
  } catch (e) {
    throw new FhsError(`layer set ${file}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
