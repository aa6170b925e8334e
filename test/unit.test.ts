// The launcher's pure parts, unit-tested in C (test/unit/*_test.c, built with
// ASan and UBSan by launcher/Makefile): the plan parser and validator, one
// case per refusal with the exit code and the line a user sees; sha256, both
// implementations; the static launcher's allocator (no sanitizer there). Each C case (TAP) is reported here as a test of its own;
// a case the C side skips (TAP "# SKIP": the CPU lacks an instruction set)
// is skipped here, with its reason, except on CI (CI=true), where no test may
// skip: there it fails, so CI runs on a CPU that exercises every path.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { buildDir } from "../src/paths.js";
import { repoRoot } from "./helpers/env.js";

execFileSync("make", ["-s", "-C", join(repoRoot, "launcher"), "unit-build"], { stdio: "inherit" });

const suites: [string, string][] = [
  ["validate_test", "launcher/validate.c and plan.c (test/unit/validate_test.c)"],
  ["sha256_test", "launcher/sha256.c (test/unit/sha256_test.c)"],
  ["alloc_test", "launcher/alloc.c, the static launcher's malloc (test/unit/alloc_test.c)"],
  ["string_test", "launcher/string.c, the static launcher's memcpy, memmove and memcmp (test/unit/string_test.c)"],
];

for (const [bin, title] of suites) {
  const run = spawnSync(join(buildDir, "unit", bin), { encoding: "utf8" });
  const lines = run.stdout.split("\n");
  const plan = /^1\.\.(\d+)$/.exec(lines[0] ?? "");
  describe(title, () => {
    it("runs every case to the end, without a sanitizer report", () => {
      assert.ok(plan, run.stdout + run.stderr);
      assert.equal(lines.filter((l) => /^(not )?ok \d+ - /.test(l)).length, Number(plan[1]), run.stdout + run.stderr);
      assert.equal(run.stderr, "");
      assert.ok(run.status === 0 || run.status === 1, `exit ${run.status ?? run.signal}: ${run.stderr}`);
    });
    lines.forEach((line, i) => {
      const m = /^(not )?ok \d+ - (.*?)(?: # SKIP (.*))?$/.exec(line);
      if (!m) return;
      const details = lines.slice(i + 1).filter((_, j, rest) => rest.slice(0, j + 1).every((l) => l.startsWith("#"))).join("\n");
      if (m[3] !== undefined && process.env.CI !== "true") it(m[2]!, { skip: m[3] }, () => {});
      else if (m[3] !== undefined) it(m[2]!, () => assert.fail(`skipped on CI: ${m[3]}`));
      else it(m[2]!, () => assert.ok(!m[1], details));
    });
  });
}
