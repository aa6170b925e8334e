// The conformance table: case files under policies/tests/ (and a package's own
// policy dir), each run through both hosts. A difference between the Node host
// and the launcher's wasm3 host is a failure in itself, whatever the case
// expects.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { FhsError } from "../errors.js";
import { evalPolicy, type PolicyResult } from "./host.js";
import { evalInLauncher } from "./launcher-host.js";
import { encodeRecords, type Rec } from "./records.js";

export interface PolicyCase {
  file: string;
  name: string;
  input: Rec[];
  expect: { status?: number; echo?: boolean; records?: Rec[] };
}

export function findCaseFiles(dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".json")) out.push(p);
    }
  };
  for (const d of dirs) {
    if (!statSync(d, { throwIfNoEntry: false })?.isDirectory()) throw new FhsError(`test directory ${d}: not a directory`);
    walk(d);
  }
  return out;
}

export function loadCase(file: string): PolicyCase {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new FhsError(`${file}: ${(e as Error).message}`);
  }
  const c = raw as Partial<PolicyCase>;
  if (typeof c.name !== "string" || !Array.isArray(c.input) || typeof c.expect !== "object") {
    throw new FhsError(`${file}: a case needs "name", "input" and "expect"`);
  }
  return { file, name: c.name, input: c.input, expect: c.expect ?? {} };
}

export interface CaseOutcome {
  case: PolicyCase;
  node: PolicyResult;
  launcher: PolicyResult;
  /** Empty when the case passed. */
  failures: string[];
}

export async function runCase(c: PolicyCase, wasmPath: string, launcher?: string): Promise<CaseOutcome> {
  const input = encodeRecords(c.input);
  const wasm = readFileSync(wasmPath);
  const node = await evalPolicy(wasm, input, { name: wasmPath });
  const viaLauncher = evalInLauncher(wasmPath, input, wasmPath, launcher);
  const failures: string[] = [];
  if (node.status !== viaLauncher.status || Buffer.compare(Buffer.from(node.bytes), Buffer.from(viaLauncher.bytes)) !== 0) {
    failures.push(`hosts disagree: node gave status ${node.status} and ${node.bytes.length} bytes, wasm3 gave status ${viaLauncher.status} and ${viaLauncher.bytes.length} bytes`);
  }
  if (c.expect.status !== undefined && node.status !== c.expect.status) {
    failures.push(`status: expected ${c.expect.status}, got ${node.status}`);
  }
  if (c.expect.echo && Buffer.compare(Buffer.from(node.bytes), Buffer.from(input)) !== 0) {
    failures.push("echo: the result differs from the input");
  }
  if (c.expect.records && JSON.stringify(node.records) !== JSON.stringify(c.expect.records)) {
    failures.push(`records: expected ${JSON.stringify(c.expect.records)}, got ${JSON.stringify(node.records)}`);
  }
  return { case: c, node, launcher: viaLauncher, failures };
}
