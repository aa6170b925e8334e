// The JSON Schemas under policies/schema/ (draft 2020-12), compiled once with
// ajv in strict mode, and errors that read like a compiler's:
//
//   policies/default.json:12: /overlay/etx: unknown key (expected one of: usr, etc, opt)
//
// file, line (found from the JSON pointer in the source text), pointer, what
// was expected, what was found.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import { findNodeAtLocation, parseTree, type Node, type ParseError, printParseErrorCode } from "jsonc-parser";
import { FhsError } from "../errors.js";
import { policiesDir } from "../paths.js";

export type SchemaName = "config" | "manifest" | "plan" | "policy-case" | "conflict-report" | "layer-set";

const schemaDir = join(policiesDir, "schema");
const ID_BASE = "https://fhs.invalid/schema/";

let ajv: Ajv2020 | undefined;
const compiled = new Map<SchemaName, ValidateFunction>();

function schemaAjv(): Ajv2020 {
  if (ajv) return ajv;
  ajv = new Ajv2020({ strict: true, allErrors: true, verbose: true, strictTuples: false });
  for (const f of readdirSync(schemaDir).filter((n) => n.endsWith(".schema.json")).sort()) {
    ajv.addSchema(JSON.parse(readFileSync(join(schemaDir, f), "utf8")) as object);
  }
  return ajv;
}

export function schemaValidator(name: SchemaName): ValidateFunction {
  let v = compiled.get(name);
  if (!v) {
    v = schemaAjv().getSchema(`${ID_BASE}${name}.schema.json`);
    if (!v) throw new FhsError(`internal: no schema ${name} in ${schemaDir}`);
    compiled.set(name, v);
  }
  return v;
}

/** One diagnostic, compiler style. */
export interface SchemaProblem {
  file: string;
  line?: number;
  pointer: string;
  message: string;
}

export function formatProblem(p: SchemaProblem): string {
  return `${p.file}${p.line ? `:${p.line}` : ""}: ${p.pointer || "/"}: ${p.message}`;
}

/** Parses JSON text, keeping positions so problems can name lines. */
export function parseJsonWithPositions(text: string, file: string): { value: unknown; tree: Node | undefined } {
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { allowTrailingComma: false, disallowComments: true });
  if (errors.length > 0) {
    const e = errors[0]!;
    throw new FhsError(`${file}:${lineOf(text, e.offset)}: not JSON: ${printParseErrorCode(e.error)}`);
  }
  // JSON.parse for the value: jsonc-parser's own getNodeValue would accept what JSON does not.
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new FhsError(`${file}: not JSON: ${(e as Error).message}`);
  }
  return { value, tree };
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

const decodePointer = (p: string): (string | number)[] =>
  p === "" ? [] : p.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));

const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `the string ${show(v)}`;
  return `${typeof v} ${show(v)}`;
}

/** ajv's error, said as "expected X, found Y" about the offending location. */
function describe(e: ErrorObject, root: unknown): { pointer: string; message: string } {
  let pointer = e.instancePath;
  const at = (ptr: string) => decodePointer(ptr).reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k as string], root);
  const found = at(pointer);
  const p = e.params as Record<string, unknown>;
  const schemaAt = e.parentSchema as Record<string, unknown> | undefined;
  switch (e.keyword) {
    case "additionalProperties": {
      pointer = `${pointer}/${String(p.additionalProperty).replace(/~/g, "~0").replace(/\//g, "~1")}`;
      const known = Object.keys((schemaAt?.properties as object | undefined) ?? {}).filter((k) => k !== "$schema");
      return { pointer, message: `unknown key${known.length ? ` (expected one of: ${known.join(", ")})` : ""}` };
    }
    case "required":
      return { pointer, message: `missing key "${String(p.missingProperty)}"` };
    case "type":
      return { pointer, message: `expected ${String(p.type)}, found ${typeOf(found)}` };
    case "enum":
      return { pointer, message: `expected one of ${(p.allowedValues as unknown[]).map(show).join(", ")}, found ${typeOf(found)}` };
    case "const":
      return { pointer, message: `expected ${show(p.allowedValue)}, found ${typeOf(found)}` };
    case "pattern":
      return { pointer, message: `expected a string matching ${String(p.pattern)}${schemaAt?.description ? ` (${String(schemaAt.description)})` : ""}, found ${typeOf(found)}` };
    case "propertyNames": {
      const names = (schemaAt?.propertyNames ?? {}) as { pattern?: string; not?: { const?: string } };
      const rule = [names.pattern && `matching ${names.pattern}`, names.not?.const && `other than ${names.not.const}`].filter(Boolean).join(" and ");
      return { pointer: `${pointer}/${String(p.propertyName)}`, message: `expected a key ${rule || "of another name"}, found ${show(p.propertyName)}` };
    }
    case "uniqueItems":
      return { pointer, message: `expected unique items, found items ${String(p.j)} and ${String(p.i)} equal` };
    case "minItems":
      return { pointer, message: `expected at least ${String(p.limit)} item(s), found ${(found as unknown[]).length}` };
    case "maxItems":
      return { pointer, message: `expected at most ${String(p.limit)} item(s), found ${(found as unknown[]).length}` };
    case "minLength":
      return { pointer, message: `expected at least ${String(p.limit)} character(s), found ${typeOf(found)}` };
    case "minProperties":
      return { pointer, message: `expected at least ${String(p.limit)} key(s), found none` };
    case "minimum":
      return { pointer, message: `expected a number >= ${String(p.limit)}, found ${typeOf(found)}` };
    case "not":
      return { pointer, message: `expected anything but ${show(found)}` };
    default:
      return { pointer, message: `${e.message ?? e.keyword}, found ${typeOf(found)}` };
  }
}

/**
 * ajv reports every branch of a oneOf. Keep, for each oneOf, only the branch
 * that got furthest (its errors sit deepest in the instance): the one the
 * author most likely meant. Errors outside any oneOf all stay.
 */
function relevantErrors(errors: ErrorObject[]): ErrorObject[] {
  const depth = (e: ErrorObject) => e.instancePath.split("/").length + (e.keyword === "additionalProperties" ? 1 : 0);
  const groups = new Map<string, Map<string, ErrorObject[]>>();
  const out: ErrorObject[] = [];
  for (const e of errors) {
    const m = /^(.*?\/oneOf)\/(\d+)\//.exec(e.schemaPath);
    if (!m) {
      if (e.keyword !== "oneOf" || !errors.some((o) => o !== e && o.schemaPath.startsWith(`${e.schemaPath}/`))) out.push(e);
      continue;
    }
    const key = `${e.instancePath.split("/").length}|${m[1]}`;
    const group = groups.get(key) ?? new Map<string, ErrorObject[]>();
    groups.set(key, group);
    group.set(m[2]!, [...(group.get(m[2]!) ?? []), e]);
  }
  for (const branches of groups.values()) {
    let best: ErrorObject[] = [];
    let bestDepth = -1;
    for (const errs of branches.values()) {
      const d = Math.max(...errs.map(depth));
      if (d > bestDepth || (d === bestDepth && errs.length < best.length)) [best, bestDepth] = [errs, d];
    }
    out.push(...best);
  }
  const seen = new Set<string>();
  return out.filter((e) => {
    // A key's own failure is reported once, by the propertyNames error that names it.
    if (e.keyword === "if" || e.propertyName !== undefined) return false;
    const key = `${e.instancePath} ${e.keyword} ${JSON.stringify(e.params)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Checks `value` (parsed from `text`) against a schema; returns the problems, compiler style. */
export function schemaProblems(name: SchemaName, value: unknown, file: string, text?: string, tree?: Node): SchemaProblem[] {
  const v = schemaValidator(name);
  if (v(value)) return [];
  return relevantErrors(v.errors ?? []).map((e) => {
    const { pointer, message } = describe(e, value);
    let line: number | undefined;
    if (text !== undefined && tree) {
      const path = nodePath(value, decodePointer(pointer));
      // An unknown key points at its own property node; otherwise the deepest node that exists.
      for (let n = path.length; n >= 0 && line === undefined; n--) {
        const node = findNodeAtLocation(tree, path.slice(0, n));
        if (node) line = lineOf(text, node.parent?.type === "property" ? node.parent.offset : node.offset);
      }
    }
    return { file, line, pointer, message };
  });
}

/** A pointer's segments as jsonc-parser wants them: numbers inside arrays. */
function nodePath(root: unknown, segments: (string | number)[]): (string | number)[] {
  const out: (string | number)[] = [];
  let cur = root;
  for (const k of segments) {
    const key = Array.isArray(cur) ? Number(k) : k;
    out.push(key);
    cur = (cur as Record<string | number, unknown> | undefined)?.[key];
  }
  return out;
}

/** Reads a JSON file and checks it against a schema; throws every problem as one FhsError (a line each). */
export function loadJsonChecked<T>(file: string, name: SchemaName, displayName = file): T {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new FhsError(`${displayName}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  const { value, tree } = parseJsonWithPositions(text, displayName);
  const problems = schemaProblems(name, value, displayName, text, tree);
  if (problems.length > 0) throw new SchemaError(problems);
  return value as T;
}

/** Schema problems. The message is the first, on one line; `fhs policy check` prints them all. */
export class SchemaError extends FhsError {
  constructor(readonly problems: SchemaProblem[]) {
    const more = problems.length - 1;
    super(`${formatProblem(problems[0]!)}${more > 0 ? ` (and ${more} more; see fhs policy check ${problems[0]!.file})` : ""}`);
  }
}
