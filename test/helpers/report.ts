// The conflict report as tests read it: `fhs conflicts|check-install --json`
// through the real CLI, every output checked against its JSON Schema.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import { policiesDir } from "../../src/paths.js";
import { runCli } from "./env.js";

export const ajv = new Ajv2020.default({ strict: true, allErrors: true });
export const validateReport = ajv.compile(JSON.parse(readFileSync(join(policiesDir, "schema", "conflict-report.schema.json"), "utf8")));

export interface Report {
  command: string;
  summary: Record<string, number>;
  conflicts: {
    path: string;
    class: string;
    severity: string;
    override?: { glob: string; classSeverity: string };
    winner: { layer: string; type: string; soname?: string; target?: string };
    losers: { layer: string; type: string; path?: string }[];
    reason: string;
    diamonds?: { consumer: string; consumerLayer: string; soname: string; version: string; loser: string | null }[];
    unbound?: { consumer: string; consumerLayer: string; soname: string; symbol: string; version?: string; binding: string; cause: string }[];
  }[];
  problems: { path: string; layer: string; reason: string }[];
}

/** Runs the CLI with --json; checks the exit status and the schema. */
export function report(args: string[], expectStatus: number): Report {
  const r = runCli([...args, "--json"]);
  assert.equal(r.status, expectStatus, `fhs ${args.join(" ")}: exit ${r.status}\n${r.stderr}\n${r.stdout}`);
  const json = JSON.parse(r.stdout) as Report;
  assert.ok(validateReport(json), `schema: ${ajv.errorsText(validateReport.errors)}`);
  return json;
}
