// The conformance table: case files under policies/tests/ (and a package's own
// policy dir), each run through both hosts. A difference between the Node host
// and the launcher's wasm3 host is a failure in itself, whatever the case
// expects.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { diffLines } from "diff";
import { FhsError } from "../errors.js";
import { configRecords, defaultConfigPath, loadConfig, type PolicyConfig } from "./config.js";
import { evalPolicy, type PolicyResult } from "./host.js";
import { evalInLauncher } from "./launcher-host.js";
import { encodeRecords, formatRecords, type Rec } from "./records.js";
import { loadJsonChecked } from "./schemas.js";

/** A record pattern: "*" matches one field, a final "..." the rest. */
export type Pattern = string[];

export type Assertion =
  | { has: Pattern; why?: string }
  | { lacks: Pattern; why?: string }
  | { first: Pattern; why?: string }
  | { count: Pattern; equals: number; why?: string }
  | { in: Pattern; order: string[]; why?: string }
  | { before: [Pattern, Pattern]; why?: string };

export interface PolicyCase {
  file: string;
  name: string;
  /** The records sent: the case's input, then its config's records. */
  input: Rec[];
  expect: { status?: number; echo?: boolean; records?: Rec[]; assert?: Assertion[] };
}

interface CaseFile {
  name: string;
  description?: string;
  input: Rec[];
  config?: string | PolicyConfig;
  expect: PolicyCase["expect"];
}

/**
 * The case files under each directory. A directory with a `tests/` subdir
 * (policies/, a package's policy dir) means its tests; any other means itself.
 */
export function findCaseFiles(dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".json")) out.push(p);
    }
  };
  for (const d of dirs) {
    if (!statSync(d, { throwIfNoEntry: false })?.isDirectory()) throw new FhsError(`test directory ${d}: not a directory`);
    walk(statSync(join(d, "tests"), { throwIfNoEntry: false })?.isDirectory() ? join(d, "tests") : d);
  }
  return out;
}

/** Reads a case file, checked against policies/schema/policy-case.schema.json. */
export function loadCase(file: string): PolicyCase {
  const c = loadJsonChecked<CaseFile>(file, "policy-case");
  let input = c.input;
  if (c.config !== undefined) {
    const config = typeof c.config === "string"
      ? loadConfig(c.config === "default" ? defaultConfigPath : resolve(dirname(file), c.config))
      : c.config;
    input = [...input, ...configRecords(config)];
  }
  return { file, name: c.name, input, expect: c.expect };
}

/** What one host made of a case: a result, or the one-line error it failed with. */
export type HostOutcome = { ok: true; result: PolicyResult } | { ok: false; error: string };

export interface CaseOutcome {
  case: PolicyCase;
  node: HostOutcome;
  launcher: HostOutcome;
  /** Empty when the case passed. Each entry may span lines (a diff). */
  failures: string[];
  ms: number;
}

export interface RunOptions {
  /** The policy module the cases run against. */
  wasmPath: string;
  /** Names the policy in messages; default: wasmPath. */
  name?: string;
  launcher?: string;
}

export async function runCase(c: PolicyCase, wasmPathOrOpts: string | RunOptions, launcher?: string): Promise<CaseOutcome> {
  const opts = typeof wasmPathOrOpts === "string" ? { wasmPath: wasmPathOrOpts, launcher } : wasmPathOrOpts;
  const name = opts.name ?? opts.wasmPath;
  const started = performance.now();
  const input = encodeRecords(c.input);
  const wasm = readFileSync(opts.wasmPath);
  const node = await evalPolicy(wasm, input, { name }).then(
    (result): HostOutcome => ({ ok: true, result }),
    (e: Error): HostOutcome => ({ ok: false, error: e.message }),
  );
  let viaLauncher: HostOutcome;
  try {
    viaLauncher = { ok: true, result: evalInLauncher(opts.wasmPath, input, name, opts.launcher) };
  } catch (e) {
    viaLauncher = { ok: false, error: (e as Error).message };
  }
  const failures = [...hostFailures(node, viaLauncher)];
  if (node.ok) failures.push(...expectationFailures(c, node.result, input));
  return { case: c, node, launcher: viaLauncher, failures, ms: performance.now() - started };
}

function hostFailures(node: HostOutcome, w3: HostOutcome): string[] {
  const out: string[] = [];
  if (!node.ok) out.push(`node host: ${node.error}`);
  if (!w3.ok) out.push(`wasm3 host: ${w3.error}`);
  if (node.ok && w3.ok) {
    const a = node.result, b = w3.result;
    if (a.status !== b.status || Buffer.compare(Buffer.from(a.bytes), Buffer.from(b.bytes)) !== 0) {
      out.push(`hosts disagree: node gave status ${a.status} and ${a.bytes.length} bytes, wasm3 gave status ${b.status} and ${b.bytes.length} bytes\n${recordDiff(a.records, b.records, "node", "wasm3")}`);
    }
  } else if (!node.ok && !w3.ok && node.error !== w3.error) {
    out.push("hosts disagree: they failed with different messages");
  }
  return out;
}

function expectationFailures(c: PolicyCase, res: PolicyResult, input: Uint8Array): string[] {
  const out: string[] = [];
  const e = c.expect;
  if (e.status !== undefined && res.status !== e.status) {
    out.push(`status: expected ${e.status}, got ${res.status}${res.status === 1 ? ` (${formatRecords(res.records.slice(0, 1))})` : ""}`);
  }
  if (e.echo && Buffer.compare(Buffer.from(res.bytes), Buffer.from(input)) !== 0) {
    out.push(`echo: the result differs from the input\n${recordDiff(c.input, res.records)}`);
  }
  if (e.records && JSON.stringify(res.records) !== JSON.stringify(e.records)) {
    out.push(`records: the result differs from the expected one\n${recordDiff(e.records, res.records)}`);
  }
  for (const a of e.assert ?? []) {
    const why = check(a, res.records);
    if (why) out.push(`${describeAssertion(a)}: ${why}${a.why ? ` (${a.why})` : ""}`);
  }
  return out;
}

export function matches(p: Pattern, r: Rec): boolean {
  const rest = p[p.length - 1] === "...";
  const fixed = rest ? p.length - 1 : p.length;
  if (rest ? r.length < fixed : r.length !== fixed) return false;
  for (let i = 0; i < fixed; i++) if (p[i] !== "*" && p[i] !== r[i]) return false;
  return true;
}

const show = (p: Pattern) => formatRecords([p]);

function describeAssertion(a: Assertion): string {
  if ("has" in a) return `has ${show(a.has)}`;
  if ("lacks" in a) return `lacks ${show(a.lacks)}`;
  if ("first" in a) return `first ${show(a.first)}`;
  if ("count" in a) return `count ${show(a.count)} = ${a.equals}`;
  if ("in" in a) return `in ${show(a.in)}: ${a.order.join(" before ")}`;
  return `${show(a.before[0])} before ${show(a.before[1])}`;
}

/** Checks one assertion; returns why it failed, or "" when it holds. */
function check(a: Assertion, recs: Rec[]): string {
  if ("has" in a) return recs.some((r) => matches(a.has, r)) ? "" : `no record matches ${show(a.has)}`;
  if ("lacks" in a) {
    const hit = recs.find((r) => matches(a.lacks, r));
    return hit ? `found ${formatRecords([hit])}` : "";
  }
  if ("first" in a) return recs[0] && matches(a.first, recs[0]) ? "" : `the first record is ${recs[0] ? formatRecords([recs[0]]) : "missing"}`;
  if ("count" in a) {
    const n = recs.filter((r) => matches(a.count, r)).length;
    return n === a.equals ? "" : `${n} records match, expected ${a.equals}`;
  }
  if ("in" in a) {
    const r = recs.find((x) => matches(a.in, x));
    if (!r) return `no record matches ${show(a.in)}`;
    let from = 1;
    for (const f of a.order) {
      const i = r.indexOf(f, from);
      if (i < 0) return r.includes(f) ? `${f} comes too early in ${formatRecords([r])}` : `${f} is not in ${formatRecords([r])}`;
      from = i + 1;
    }
    return "";
  }
  const [pa, pb] = a.before;
  const ia = recs.findIndex((r) => matches(pa, r));
  const ib = recs.findIndex((r) => matches(pb, r));
  if (ia < 0) return `no record matches ${show(pa)}`;
  if (ib < 0) return `no record matches ${show(pb)}`;
  return ia < ib ? "" : `${show(pb)} comes first (record ${ib + 1}, the other is record ${ia + 1})`;
}

/** A line diff of two record lists, one record per line, as `fhs plan` shows them. */
export function recordDiff(expected: Rec[], actual: Rec[], a = "expected", b = "actual"): string {
  const lines = [`  --- ${a}`, `  +++ ${b}`];
  for (const part of diffLines(`${formatRecords(expected)}\n`, `${formatRecords(actual)}\n`)) {
    const mark = part.added ? "+" : part.removed ? "-" : " ";
    for (const l of part.value.replace(/\n$/, "").split("\n")) lines.push(`  ${mark} ${l}`);
  }
  return lines.join("\n");
}

export interface SuiteResult {
  outcomes: CaseOutcome[];
  /** Files that could not be loaded, with the reason. */
  loadErrors: { file: string; error: string }[];
}

/** Loads and runs every case in `files`. */
export async function runSuite(files: readonly string[], opts: RunOptions | ((file: string) => RunOptions)): Promise<SuiteResult> {
  const result: SuiteResult = { outcomes: [], loadErrors: [] };
  for (const file of files) {
    let c: PolicyCase;
    try {
      c = loadCase(file);
    } catch (e) {
      if (!(e instanceof FhsError)) throw e;
      result.loadErrors.push({ file, error: e.message });
      continue;
    }
    result.outcomes.push(await runCase(c, typeof opts === "function" ? opts(file) : opts));
  }
  return result;
}

// ---------------------------------------------------------------- reports

/** A path as the user would type it: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : file;
}

export function formatHuman(s: SuiteResult, color: { green: (x: string) => string; red: (x: string) => string }): string {
  const out: string[] = [];
  for (const l of s.loadErrors) out.push(`${color.red("ERROR")} ${l.error}`);
  for (const o of s.outcomes) {
    if (o.failures.length === 0) {
      out.push(`${color.green("PASS")} ${o.case.name}`);
      continue;
    }
    out.push(`${color.red("FAIL")} ${o.case.name}`, `     ${displayPath(o.case.file)}`);
    for (const f of o.failures) out.push(...f.split("\n").map((l, i) => `     ${i === 0 ? "" : "  "}${l}`));
  }
  const failed = s.outcomes.filter((o) => o.failures.length > 0).length;
  out.push(
    `${s.outcomes.length - failed} passed, ${failed} failed${s.loadErrors.length ? `, ${s.loadErrors.length} could not be loaded` : ""}` +
      " (each case through the Node host and the wasm3 host)",
  );
  return out.join("\n");
}

export function formatJson(s: SuiteResult): string {
  const host = (h: HostOutcome) => (h.ok ? { status: h.result.status, records: h.result.records } : { error: h.error });
  return JSON.stringify(
    {
      passed: s.outcomes.filter((o) => o.failures.length === 0).length,
      failed: s.outcomes.filter((o) => o.failures.length > 0).length,
      loadErrors: s.loadErrors,
      cases: s.outcomes.map((o) => ({
        name: o.case.name,
        file: o.case.file,
        ok: o.failures.length === 0,
        failures: o.failures,
        node: host(o.node),
        wasm3: host(o.launcher),
        ms: Math.round(o.ms),
      })),
    },
    null,
    2,
  );
}

const xml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")
  // XML 1.0 cannot carry most control characters, even escaped.
  .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);

export function formatJunit(s: SuiteResult): string {
  const failed = s.outcomes.filter((o) => o.failures.length > 0).length;
  const total = s.outcomes.length + s.loadErrors.length;
  const time = (s.outcomes.reduce((t, o) => t + o.ms, 0) / 1000).toFixed(3);
  const out = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="fhs policy test" tests="${total}" failures="${failed}" errors="${s.loadErrors.length}" time="${time}">`,
    `  <testsuite name="policy conformance" tests="${total}" failures="${failed}" errors="${s.loadErrors.length}" time="${time}">`,
  ];
  for (const l of s.loadErrors) {
    out.push(`    <testcase name="${xml(l.file)}" classname="load">`, `      <error message="${xml(l.error.split("\n")[0]!)}">${xml(l.error)}</error>`, `    </testcase>`);
  }
  for (const o of s.outcomes) {
    const attrs = `name="${xml(o.case.name)}" classname="${xml(o.case.file)}" time="${(o.ms / 1000).toFixed(3)}"`;
    if (o.failures.length === 0) {
      out.push(`    <testcase ${attrs}/>`);
      continue;
    }
    out.push(`    <testcase ${attrs}>`, `      <failure message="${xml(o.failures[0]!.split("\n")[0]!)}">${xml(o.failures.join("\n"))}</failure>`, `    </testcase>`);
  }
  out.push("  </testsuite>", "</testsuites>");
  return out.join("\n");
}
