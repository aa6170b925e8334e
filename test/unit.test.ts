// The launcher's pure parts, unit-tested in C (test/unit/*_test.c, built with
// ASan and UBSan by launcher/Makefile): the plan parser and validator, one
// case per refusal with the exit code and the line a user sees. Each C case
// is reported here as a test of its own.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { buildDir } from "../src/paths.js";
import { repoRoot } from "./helpers/env.js";

execFileSync("make", ["-s", "-C", join(repoRoot, "launcher"), "unit-build"], { stdio: "inherit" });
const run = spawnSync(join(buildDir, "unit", "validate_test"), { encoding: "utf8" });
const lines = run.stdout.split("\n");
const plan = /^1\.\.(\d+)$/.exec(lines[0] ?? "");

describe("launcher/validate.c and plan.c (test/unit/validate_test.c)", () => {
  it("runs every case to the end, without a sanitizer report", () => {
    assert.ok(plan, run.stdout + run.stderr);
    assert.equal(lines.filter((l) => /^(not )?ok \d+ - /.test(l)).length, Number(plan[1]), run.stdout + run.stderr);
    assert.equal(run.stderr, "");
    assert.ok(run.status === 0 || run.status === 1, `exit ${run.status ?? run.signal}: ${run.stderr}`);
  });
  lines.forEach((line, i) => {
    const m = /^(not )?ok \d+ - (.*)$/.exec(line);
    if (!m) return;
    const details = lines.slice(i + 1).filter((_, j, rest) => rest.slice(0, j + 1).every((l) => l.startsWith("#"))).join("\n");
    it(m[2]!, () => assert.ok(!m[1], details));
  });
});
