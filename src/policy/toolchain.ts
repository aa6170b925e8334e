// `fhs policy build|check|test|init`: the library behind the commands. Exit
// codes are the CLI's (src/errors.ts), as conftest's: 0 all passed, 1 a check
// or case failed, 2 a usage, load or internal error. (`opa test` has the
// reverse: 1 for an error, 2 for a failed test.)
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { EXIT_OK, EXIT_USAGE, EXIT_VIOLATIONS, FhsError } from "../errors.js";
import { defaultPolicyWasm, launcherPath, policiesDir } from "../paths.js";
import { compilePolicy } from "./compile.js";
import { displayPath, findCaseFiles, formatHuman, formatJson, formatJunit, runSuite, type SuiteResult } from "./conformance.js";
import { formatProblem, parseJsonWithPositions, SchemaError, schemaProblems, type SchemaName } from "./schemas.js";
import { checkPolicyModule } from "./validate.js";

export type ReportFormat = "human" | "json" | "junit";

export interface CheckOptions {
  paths: string[];
  /** The module every case runs against; default: the nearest policy.wasm, else the built-in one. */
  policy?: string;
  format: ReportFormat;
  color: { green: (s: string) => string; red: (s: string) => string };
}

export interface ToolResult {
  exitCode: number;
  report: string;
}

/** Compiles FILE.ts with the fixed flags, then holds the result to the policy rules. Returns its size. */
export async function buildPolicy(entry: string, out: string): Promise<number> {
  if (!existsSync(entry)) throw new FhsError(`policy source ${entry}: no such file`);
  const staging = `${out}.tmp-${process.pid}`;
  try {
    await compilePolicy(entry, staging);
    const bytes = readFileSync(staging);
    try {
      await checkPolicyModule(bytes, out);
    } catch (e) {
      if (e instanceof FhsError) throw new FhsError(`${e.message} (nothing written)`, EXIT_VIOLATIONS);
      throw e;
    }
    renameSync(staging, out);
    return bytes.length;
  } finally {
    rmSync(staging, { force: true });
  }
}

// ------------------------------------------------------------------ check

export interface CheckItem {
  file: string;
  kind: "config" | "manifest" | "schema" | "case" | "policy module";
  problems: string[];
}

const skipDirs = new Set(["node_modules", ".git"]);

function walkFiles(path: string, out: string[]): void {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new FhsError(`${path}: no such file or directory`);
  if (!st.isDirectory()) {
    out.push(path);
    return;
  }
  for (const e of readdirSync(path).sort()) {
    if (skipDirs.has(e)) continue;
    walkFiles(join(path, e), out);
  }
}

const inTests = (file: string) => file.split(sep).slice(0, -1).includes("tests");

function kindOf(file: string): CheckItem["kind"] | undefined {
  if (file.endsWith(".wasm")) return "policy module";
  if (!file.endsWith(".json")) return undefined;
  if (file.endsWith(".schema.json")) return "schema";
  if (inTests(file)) return "case";
  if (basename(file) === "manifest.json") return "manifest";
  return "config";
}

function checkSchemaFile(file: string): string[] {
  // A fresh instance: a schema must compile in strict mode on its own terms,
  // with the project's others available for $ref.
  const ajv = new Ajv2020({ strict: true, strictTuples: false });
  const dir = join(policiesDir, "schema");
  try {
    const own = JSON.parse(readFileSync(file, "utf8")) as { $id?: string };
    for (const f of readdirSync(dir).filter((n) => n.endsWith(".schema.json"))) {
      const other = JSON.parse(readFileSync(join(dir, f), "utf8")) as { $id?: string };
      if (other.$id !== own.$id) ajv.addSchema(other);
    }
    ajv.compile(own);
    return [];
  } catch (e) {
    return [`${displayPath(file)}: ${(e as Error).message}`];
  }
}

async function checkItem(file: string, kind: CheckItem["kind"]): Promise<CheckItem> {
  const item: CheckItem = { file, kind, problems: [] };
  const shown = displayPath(file);
  try {
    if (kind === "policy module") await checkPolicyModule(readFileSync(file), shown);
    else if (kind === "schema") item.problems.push(...checkSchemaFile(file));
    else {
      const text = readFileSync(file, "utf8");
      const { value, tree } = parseJsonWithPositions(text, shown);
      const schema: SchemaName = kind === "case" ? "policy-case" : kind;
      item.problems.push(...schemaProblems(schema, value, shown, text, tree).map(formatProblem));
    }
  } catch (e) {
    if (e instanceof SchemaError) item.problems.push(...e.problems.map(formatProblem));
    else if (e instanceof FhsError) item.problems.push(e.message);
    else throw e;
  }
  return item;
}

/** The module a case file runs against: --policy, else the nearest policy.wasm up to its root, else the built-in one. */
function policyFor(caseFile: string, root: string, explicit?: string): string {
  if (explicit) return explicit;
  for (let d = dirname(caseFile); ; d = dirname(d)) {
    if (existsSync(join(d, "policy.wasm"))) return join(d, "policy.wasm");
    if (d === root || d === dirname(d) || relative(root, d).startsWith("..")) break;
  }
  return defaultPolicyWasm;
}

function requireLauncher(): void {
  if (!existsSync(launcherPath)) throw new FhsError(`launcher ${launcherPath}: not built (run: npm run build:launcher); every case runs in both hosts`);
}

/** `fhs policy check`: schemas, configs, manifests, modules, and then every case. */
export async function checkPolicies(opts: CheckOptions): Promise<ToolResult> {
  const roots = (opts.paths.length ? opts.paths : [policiesDir]).map((p) => resolve(p));
  const items: CheckItem[] = [];
  const cases: { file: string; root: string }[] = [];
  const modules = new Set<string>();
  for (const root of roots) {
    const files: string[] = [];
    walkFiles(root, files);
    for (const file of files) {
      const kind = kindOf(file);
      if (!kind) continue;
      const item = await checkItem(file, kind);
      items.push(item);
      if (kind === "policy module") modules.add(file);
      if (kind === "case" && item.problems.length === 0) cases.push({ file, root: statSync(root).isDirectory() ? root : dirname(root) });
    }
  }
  if (opts.policy) await checkUsedModule(resolve(opts.policy), items, modules);
  requireLauncher();
  const policyOf = new Map(cases.map((c) => [c.file, policyFor(c.file, c.root, opts.policy && resolve(opts.policy))]));
  for (const m of new Set(policyOf.values())) await checkUsedModule(m, items, modules);
  const suite = await runSuite(cases.map((c) => c.file).filter((f) => items.every((i) => i.file !== policyOf.get(f) || i.problems.length === 0)), (f) => ({ wasmPath: policyOf.get(f)! }));
  const failedChecks = items.filter((i) => i.problems.length > 0).length;
  const failedCases = suite.outcomes.filter((o) => o.failures.length > 0).length;
  // A directory is expected to hold cases; a file named alone is only checked.
  const noCases = suite.outcomes.length === 0 && roots.some((r) => statSync(r).isDirectory());
  const exitCode = failedChecks || failedCases || noCases || suite.loadErrors.length ? EXIT_VIOLATIONS : EXIT_OK;
  return { exitCode, report: report(opts, suite, items, noCases ? `no test cases found under ${roots.join(", ")}` : undefined) };
}

async function checkUsedModule(file: string, items: CheckItem[], seen: Set<string>): Promise<void> {
  if (seen.has(file)) return;
  seen.add(file);
  if (!existsSync(file)) throw new FhsError(`policy ${file}: no such file${file === defaultPolicyWasm ? " (run: npm run build:policy)" : ""}`);
  items.push(await checkItem(file, "policy module"));
}

/** `fhs policy test`: the cases alone. */
export async function testPolicies(opts: CheckOptions): Promise<ToolResult> {
  const dirs = (opts.paths.length ? opts.paths : [policiesDir]).map((p) => resolve(p));
  requireLauncher();
  const files: { file: string; wasm: string }[] = [];
  for (const d of dirs) {
    const wasm = opts.policy ? resolve(opts.policy) : existsSync(join(d, "policy.wasm")) ? join(d, "policy.wasm") : defaultPolicyWasm;
    if (!existsSync(wasm)) throw new FhsError(`policy ${wasm}: no such file${wasm === defaultPolicyWasm ? " (run: npm run build:policy)" : ""}`);
    for (const file of findCaseFiles([d])) files.push({ file, wasm });
  }
  const wasmOf = new Map(files.map((f) => [f.file, f.wasm]));
  const suite = await runSuite(files.map((f) => f.file), (f) => ({ wasmPath: wasmOf.get(f)! }));
  const noCases = suite.outcomes.length === 0 && suite.loadErrors.length === 0;
  const failed = suite.outcomes.some((o) => o.failures.length > 0);
  const exitCode = suite.loadErrors.length ? EXIT_USAGE : failed || noCases ? EXIT_VIOLATIONS : EXIT_OK;
  return { exitCode, report: report(opts, suite, [], noCases ? `no test cases found under ${dirs.join(", ")}` : undefined) };
}

function report(opts: CheckOptions, suite: SuiteResult, items: CheckItem[], noCases?: string): string {
  const { green, red } = opts.color;
  if (opts.format === "json") {
    const tests = JSON.parse(formatJson(suite)) as object;
    return JSON.stringify({ checks: items, ...tests, ...(noCases ? { error: noCases } : {}) }, null, 2);
  }
  if (opts.format === "junit") {
    const checks = items.map((i) => ({ file: i.file, error: i.problems.join("\n") })).filter((i) => i.error);
    const extra = noCases ? [{ file: "(no cases)", error: noCases }] : [];
    // Failed checks appear as errored test cases, so CI dashboards show them.
    return formatJunit({ ...suite, loadErrors: [...checks, ...suite.loadErrors, ...extra] });
  }
  const out: string[] = [];
  for (const i of items) {
    if (i.problems.length === 0) out.push(`${green("ok  ")} ${i.kind} ${displayPath(i.file)}`);
    else out.push(`${red("FAIL")} ${i.kind} ${displayPath(i.file)}`, ...i.problems.map((p) => `     ${p}`));
  }
  if (items.length) {
    const bad = items.filter((i) => i.problems.length > 0).length;
    out.push(`${items.length - bad} of ${items.length} files valid`, "");
  }
  if (suite.outcomes.length || suite.loadErrors.length || noCases) out.push(formatHuman(suite, { green, red }));
  if (noCases) out.push(`${red("FAIL")} ${noCases}: finding no cases is a failure`);
  return out.join("\n");
}

// ------------------------------------------------------------------ init

/** The scaffold: a policy that keeps the built-in decisions and adds one rule, a case for it, a README snippet. */
export function initPolicy(dir: string): string[] {
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new FhsError(`${dir}: exists and is not empty; policy init only writes into a new or empty directory`);
  mkdirSync(join(dir, "tests"), { recursive: true });
  const files: [string, string][] = [
    ["policy.ts", POLICY_TEMPLATE],
    [join("tests", "binds-only-allowed.json"), `${JSON.stringify(CASE_TEMPLATE, null, 2)}\n`],
    ["README.md", README_TEMPLATE],
  ];
  for (const [name, text] of files) writeFileSync(join(dir, name), text);
  return files.map(([name]) => join(dir, name));
}

const POLICY_TEMPLATE = `// This package's own fhs policy: the built-in decisions, but one. A view
// binds only the host directories in ALLOWED_BINDS, a sandbox the JSON config
// cannot express (it lists the dirs that are never bound, not the only ones
// that are). "fhs/..." imports are the built-in policy's source, shipped with
// fhs: the Policy class has one method per decision, and this one overrides
// bindHost. The API: docs/POLICY.md, "The policy API".
//
//   fhs policy build policy.ts -o policy.wasm   compile and check the rules
//   fhs policy test .                           run tests/ in both hosts
//   fhs wrap PKG --policy policy.wasm           ship it with a package
import { serve } from "fhs/exports";
import { HostEntry, LaunchFacts } from "fhs/facts";
import { Policy } from "fhs/policy";

// The ABI a host calls (docs/ABI.md); fhs_eval below answers with this policy.
export { fhs_abi, fhs_alloc, fhs_result_ptr, fhs_result_len } from "fhs/exports";

const ALLOWED_BINDS = ["dev", "etc", "home", "nix", "proc", "run", "sys", "tmp", "var"];

class OnlyAllowedBinds extends Policy {
  /** A host directory is bound when the built-in policy binds it and it is allowed. */
  bindHost(f: LaunchFacts, h: HostEntry): bool {
    return super.bindHost(f, h) && (h.type != "dir" || ALLOWED_BINDS.includes(h.name));
  }
}

export function fhs_eval(ptr: usize, len: i32): i32 {
  return serve(ptr, len, new OnlyAllowedBinds());
}
`;

const CASE_TEMPLATE = {
  name: "outside any view: /home and /tmp are bound, /srv and /mnt are not",
  input: [
    ["req", "launch"],
    ["layer", "/nix/store/00000000000000000000000000000000-mypkg", "fhs", "usr"],
    ["layer", "/nix/store/11111111111111111111111111111111-glibc", "nix", "usr"],
    ["host", "home", "dir"],
    ["host", "mnt", "dir"],
    ["host", "srv", "dir"],
    ["host", "tmp", "dir"],
  ],
  config: "default",
  expect: {
    status: 0,
    assert: [
      { first: ["plan", "view"] },
      { has: ["rbind", "/home", "/home"] },
      { has: ["rbind", "/tmp", "/tmp"] },
      { lacks: ["rbind", "/srv", "..."], why: "/srv is not in ALLOWED_BINDS" },
      { lacks: ["rbind", "/mnt", "..."], why: "/mnt is not in ALLOWED_BINDS" },
      { in: ["overlay", "/usr", "..."], order: ["/nix/store/00000000000000000000000000000000-mypkg/usr", "/nix/store/11111111111111111111111111111111-glibc"] },
    ],
  },
};

const README_TEMPLATE = `## Policy

This package ships its own fhs policy (\`policy.ts\`): the built-in layout
decisions, except that a view binds only the host directories listed in
\`ALLOWED_BINDS\`.

\`\`\`sh
fhs policy build policy.ts -o policy.wasm    # compile; refused if it breaks the policy rules
fhs policy test .                            # tests/*.json, in the Node host and in the launcher's wasm3
fhs wrap PKG --policy policy.wasm            # the manifest records its sha256
\`\`\`

The launcher refuses to run a wrapped program whose policy.wasm no longer
matches the sha256 recorded at wrap time (exit 122).
`;
