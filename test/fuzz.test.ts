// The libFuzzer harnesses (launcher/fuzz/, built with clang by `make -C
// launcher fuzz`, ASan and UBSan on), each run for a bounded time over a copy
// of its seed corpus in test/fuzz/corpus/. A crash, a sanitizer report or a
// broken property (the harness aborts) fails the test, and the input that
// did it is kept in the artifact directory the failure names.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { buildDir } from "../src/paths.js";
import { repoRoot, scratchDir } from "./helpers/env.js";

/** Seconds per harness (five harnesses: 90 s in all); FHS_FUZZ_SECONDS overrides (longer runs by hand, or on a schedule). */
const SECONDS = Number(process.env.FHS_FUZZ_SECONDS ?? 18);

before(() => {
  execFileSync("make", ["-s", "-C", join(repoRoot, "launcher"), "fuzz"], { stdio: "inherit" });
});

describe("fuzzing the launcher's parsers", () => {
  for (const name of ["records", "ldcache", "manifest", "recbuf", "plan"]) {
    it(`${name}_fuzzer runs ${SECONDS} s over its corpus without a finding`, { timeout: (SECONDS + 120) * 1000 }, (t) => {
      const work = scratchDir(`fhs-fuzz-${name}-`);
      const corpus = join(work, "corpus");
      cpSync(join(repoRoot, "test/fuzz/corpus", name), corpus, { recursive: true });
      const r = spawnSync(join(buildDir, "fuzz", `${name}_fuzzer`), [`-max_total_time=${SECONDS}`, "-timeout=10", "-rss_limit_mb=1024", `-artifact_prefix=${work}/`, corpus], {
        encoding: "utf8",
        timeout: (SECONDS + 90) * 1000,
      });
      const findings = readdirSync(work).filter((f) => f !== "corpus");
      assert.deepEqual(findings, [], `${name}_fuzzer found inputs, kept in ${work}:\n${r.stderr.slice(-3000)}`);
      assert.equal(r.status, 0, r.stderr.slice(-3000));
      const done = /Done (\d+) runs in (\d+) second/.exec(r.stderr);
      assert.ok(done, r.stderr.slice(-3000));
      t.diagnostic(`${name}_fuzzer: ${done[1]} runs in ${done[2]} s`);
    });
  }

  it("plan_fuzzer's seeds reach the accepted-plan checks: a launch view, a fast plan, a stage-1 plan facts and a build plan pass the validator; a refusal does not", () => {
    const accepted = (seed: string) =>
      spawnSync(join(buildDir, "fuzz", "plan_fuzzer"), [join(repoRoot, "test/fuzz/corpus/plan", seed)], { encoding: "utf8", env: { ...process.env, FHS_FUZZ_SHOW: "1" } }).stderr.match(/^accepted (\d+) ops$/m)?.[1];
    assert.equal(accepted("launch"), "30");
    assert.equal(accepted("fast"), "1");
    assert.equal(accepted("facts"), "0");
    assert.equal(accepted("build"), "7");
    assert.equal(accepted("refused"), undefined);
  });
});
