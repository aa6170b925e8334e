#!/usr/bin/env node
// Generates the views of the one ABI source, abi/abi.json:
//   launcher/abi.h   C: #defines, the op enum and its spec table
//   launcher/abi.mk  make: what the wasm3 build flags need (the memory cap)
//   src/abi.ts       the CLI and the tests
//   assembly/abi.ts  the policy (AssemblyScript: plain constants; record and
//                    op names in assembly/abi-names.ts)
// They are build outputs, never committed (so they cannot drift from the
// source): `npm run build` runs this first, and launcher/Makefile runs it
// when abi.json is newer than abi.h. A file is rewritten only when its text
// changes, so make and tsc see no change after a no-op run.
import { existsSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "abi", "abi.json");
const abi = JSON.parse(readFileSync(source, "utf8"));
const HEAD = "Generated from abi/abi.json by abi/gen.mjs: do not edit.";

const snake = (k) => k.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/-/g, "_").toUpperCase();
const entries = (o) => Object.entries(o).filter(([k]) => !k.startsWith("$"));
const cstr = (s) => JSON.stringify(s); // the values are ASCII without escapes a C string reads differently

const ops = entries(abi.ops);
const recordGroups = entries(abi.records);
const allRecords = [...new Set(recordGroups.flatMap(([, g]) => entries(g).map(([k]) => k)))];
const unforwarded = entries(abi.records.manifest)
  .filter(([, r]) => r.forward === false)
  .map(([k]) => k);

function c() {
  const L = [`/* ${HEAD} */`, "#pragma once", "#include <stdbool.h>", ""];
  L.push("/* The policy ABI version this launcher speaks, and the compiled manifest's format. */");
  L.push(`#define FHS_ABI_VERSION ${abi.policyAbi}`, `#define FHS_MANIFEST_FORMAT ${cstr(String(abi.manifestFormat))}`, "");
  L.push("/* Well-known paths and names. */");
  for (const [k, v] of entries(abi.paths)) L.push(`#define FHS_${snake(k)} ${cstr(v.value)} /* ${v.doc} */`);
  L.push("", "/* Limits. */");
  for (const [k, v] of entries(abi.limits)) L.push(`#define FHS_${snake(k)} ${v.value} /* ${v.doc} */`);
  L.push("", "/* Exit codes of the launcher. */");
  for (const [k, v] of entries(abi.exitCodes.launcher)) L.push(`#define FHS_EXIT_${snake(k)} ${v.value} /* ${v.doc} */`);
  L.push("", "/* Record kinds. */");
  for (const k of allRecords) L.push(`#define FHS_REC_${snake(k)} ${cstr(k)}`);
  L.push("", "/* Plan ops: the typed plan's enum (launcher/plan.h) and each op's spec. */");
  L.push("enum fhs_op {", ...ops.map(([k]) => `  FHS_OP_${snake(k)},`), "  FHS_OP_COUNT", "};", "");
  L.push("struct fhs_op_spec {");
  L.push("  const char *name;");
  L.push("  const char *usage; /* its fields, for messages */");
  L.push("  int min, max;      /* fields after the name; max -1: unbounded */");
  L.push("  bool target;       /* the first field is a top-level path of the new root */");
  L.push("  bool build;        /* only a build plan may hold it */");
  L.push("};", "");
  L.push("/* The initializer of a `const struct fhs_op_spec[FHS_OP_COUNT]`, in enum order. */");
  L.push("#define FHS_OP_SPECS \\");
  ops.forEach(([k, o], i) =>
    L.push(`  {${cstr(k)}, ${cstr(o.args.join(" "))}, ${o.min}, ${o.max}, ${!!o.target}, ${!!o.build}}${i + 1 < ops.length ? ", \\" : ""}`),
  );
  L.push("", "/* Manifest records the launcher keeps to itself (never policy input). */");
  L.push(`#define FHS_UNFORWARDED_RECORDS {${unforwarded.map(cstr).join(", ")}}`);
  return L.join("\n") + "\n";
}

function mk() {
  return `# ${HEAD}\nFHS_MEMORY_CAP_PAGES := ${abi.limits.memoryCapPages.value}\n`;
}

function ts() {
  const L = [`// ${HEAD}`, ""];
  const lit = (v) => JSON.stringify(v);
  L.push(`/** The policy ABI version this fhs speaks. */`, `export const ABI_VERSION = ${abi.policyAbi};`);
  L.push(`/** The compiled manifest's format (its \`fhs-manifest\` record). */`, `export const MANIFEST_FORMAT = ${abi.manifestFormat};`, "");
  L.push("/** Well-known paths and names. */", "export const PATHS = {");
  for (const [k, v] of entries(abi.paths)) L.push(`  /** ${v.doc} */`, `  ${k}: ${lit(v.value)},`);
  L.push("} as const;", "", "/** Limits every policy module and launch is held to, the same in both hosts. */", "export const LIMITS = {");
  for (const [k, v] of entries(abi.limits)) L.push(`  /** ${v.doc} */`, `  ${k}: ${v.value},`);
  L.push("} as const;", "", "/** Exit codes of the CLI. */", "export const EXIT = {");
  for (const [k, v] of entries(abi.exitCodes.cli)) L.push(`  /** ${v.doc} */`, `  ${k}: ${v.value},`);
  L.push("} as const;", "", "/** Exit codes of the launcher. */", "export const LAUNCHER_EXIT = {");
  for (const [k, v] of entries(abi.exitCodes.launcher)) L.push(`  /** ${v.doc} */`, `  ${k}: ${v.value},`);
  L.push("} as const;", "");
  L.push("export interface OpSpec {", "  args: readonly string[];", "  min: number;", "  max: number;", "  target?: boolean;", "  build?: boolean;", "}", "");
  L.push("/** The plan's ops (docs/ABI.md). */", "export const OPS: Readonly<Record<string, OpSpec>> = {");
  for (const [k, o] of ops) L.push(`  ${lit(k)}: ${lit({ args: o.args, min: o.min, max: o.max, target: !!o.target, build: !!o.build })},`);
  L.push("};", "");
  L.push("/** Record kinds and their fields, by group. */", "export const RECORDS = {");
  for (const [g, recs] of recordGroups) {
    L.push(`  ${g}: {`);
    for (const [k, r] of entries(recs)) L.push(`    ${lit(k)}: ${lit(r.fields)},`);
    L.push("  },");
  }
  L.push("} as const;", "", "/** Manifest records the launcher keeps to itself (never policy input). */");
  L.push(`export const UNFORWARDED_RECORDS: readonly string[] = ${lit(unforwarded)};`);
  L.push(`export const REQUESTS: readonly string[] = ${lit(abi.requests)};`);
  L.push(`export const PLAN_KINDS: readonly string[] = ${lit(abi.planKinds)};`);
  L.push(`/** ${abi.conflictClasses.doc} */`, `export const CONFLICT_CLASSES: readonly string[] = ${lit(abi.conflictClasses.value)};`);
  return L.join("\n") + "\n";
}

// AssemblyScript emits every string constant of a module it compiles, used or
// not, into the policy's data (which wasm3 loads at every uncached launch):
// assembly/abi.ts holds the numbers and the paths abi.json marks `policy`;
// every path and the record and op names, for policies that want them, are a
// module of their own (assembly/abi-names.ts), costing nothing unless imported.
function as() {
  const L = [`// ${HEAD}`, ""];
  L.push(`export const ABI_VERSION: i32 = ${abi.policyAbi};`);
  for (const [k, v] of entries(abi.limits)) L.push(`/** ${v.doc} */`, `export const ${snake(k)}: i32 = ${v.value};`);
  for (const [k, v] of entries(abi.paths).filter(([, v]) => v.policy)) L.push(`/** ${v.doc} */`, `export const ${snake(k)}: string = ${JSON.stringify(v.value)};`);
  return L.join("\n") + "\n";
}

function asNames() {
  const L = [`// ${HEAD}`, "// Paths, record kinds and plan op names; abi/gen.mjs says why they are apart from assembly/abi.ts.", ""];
  for (const [k, v] of entries(abi.paths)) L.push(`/** ${v.doc} */`, `export const PATH_${snake(k)}: string = ${JSON.stringify(v.value)};`);
  for (const k of allRecords) L.push(`export const REC_${snake(k)}: string = ${JSON.stringify(k)};`);
  for (const [k] of ops) L.push(`export const OP_${snake(k)}: string = ${JSON.stringify(k)};`);
  return L.join("\n") + "\n";
}

// The conflict classes, for assembly/conflicts.ts alone: a module of their
// own, so no other policy code pays for their strings.
function asConflicts() {
  const L = [`// ${HEAD}`, ""];
  L.push(`/** ${abi.conflictClasses.doc} */`, `export const CONFLICT_CLASSES: string[] = ${JSON.stringify(abi.conflictClasses.value)};`);
  return L.join("\n") + "\n";
}

// --check: write nothing; exit 1 naming each generated file that is missing
// or stale (abi.json changed since the last build).
const check = process.argv.includes("--check");
let stale = 0;
function put(rel, text) {
  const file = join(root, rel);
  if (existsSync(file) && readFileSync(file, "utf8") === text) {
    // Unchanged, but older than abi.json or this script: marked fresh, so make
    // does not run this again (and rebuilds nothing).
    if (!check && statSync(file).mtimeMs < Math.max(statSync(source).mtimeMs, statSync(fileURLToPath(import.meta.url)).mtimeMs)) {
      const now = new Date();
      utimesSync(file, now, now);
    }
    return;
  }
  if (check) {
    process.stderr.write(`abi/gen.mjs: ${rel}: not what abi/abi.json gives; run npm run build\n`);
    stale++;
  } else writeFileSync(file, text);
}

put("launcher/abi.h", c());
put("launcher/abi.mk", mk());
put("src/abi.ts", ts());
put("assembly/abi.ts", as());
put("assembly/abi-names.ts", asNames());
put("assembly/abi-conflicts.ts", asConflicts());
if (stale) process.exit(1);
