// The soak: 10,000 launcher executions, mixed outside a view, nested and on
// the fast path, from two workers at once (both cores), through a small
// static driver (test/fixtures/faults/soak.c) as the unprivileged user.
// Asserts: every program's exit code as chosen, nothing on stderr; the fds a
// program gets (outside and nested, about every 1000th launch) are the same
// as on the first; the
// mean peak RSS of the last 200 launches of each worker is that of its first
// 200; afterwards no mount in the caller's table, no process of the soak
// left, no temp file in the plan cache. docs/RELIABILITY.md records the
// figures.
import assert from "node:assert/strict";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { repoRoot, runUnprivileged, testDir } from "./helpers/env.js";
import { assertNoResidue, world } from "./helpers/residue.js";
import { makePackage, markerLayer, staticProgram, wrapPackage } from "./helpers/wrapped.js";

/** Launcher executions in all; FHS_SOAK_LAUNCHES overrides (longer runs by hand). */
const LAUNCHES = Number(process.env.FHS_SOAK_LAUNCHES ?? 10_000);
const WORKERS = 2;

let prog: string;
let driver: string;
before(() => {
  prog = staticProgram("fault-world", join(repoRoot, "test/fixtures/faults/world.c"));
  driver = staticProgram("soak", join(repoRoot, "test/fixtures/faults/soak.c"));
});


describe("soak: 10,000 mixed launches on both cores leave nothing behind and do not grow", () => {
  it(`${LAUNCHES} launches by ${WORKERS} workers: outside a view, nested, fast path`, { timeout: 600_000 }, (t) => {
    const a = wrapPackage(makePackage({ "bin/world": { from: prog } }, "soak-a"), [markerLayer("soak-dep")]);
    const b = wrapPackage(makePackage({ "bin/world": { from: prog } }, "soak-b"));
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const start = performance.now();
    const r = runUnprivileged([driver, String(WORKERS), String(LAUNCHES), join(a, "usr/bin/world"), join(b, "usr/bin/world")], {
      env: { XDG_RUNTIME_DIR: runtime },
      timeoutMs: 540_000,
    });
    const seconds = (performance.now() - start) / 1000;
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(r.stderr, "", "a launch failed or printed something");
    assert.equal(r.status, 0);
    const workers = r.stdout
      .trim()
      .split("\n")
      .map((line) => {
        const m = /^worker (\d+) iterations (\d+) launches (\d+) failures (\d+) fds-checks (\d+) fds-changed (\d+) rss-first-kib (\d+) rss-last-kib (\d+)$/.exec(line);
        assert.ok(m, line);
        const [, , iterations, launches, failures, checks, changed, rssFirst, rssLast] = m.map(Number);
        return { iterations: iterations!, launches: launches!, failures: failures!, checks: checks!, changed: changed!, rssFirst: rssFirst!, rssLast: rssLast! };
      });
    assert.equal(workers.length, WORKERS);
    const launches = workers.reduce((n, w) => n + w.launches, 0);
    assert.ok(launches >= LAUNCHES, `${launches} launches`);
    for (const w of workers) {
      assert.equal(w.failures, 0);
      assert.equal(w.checks, 2 * Math.ceil(w.iterations / 300), "fd checks");
      assert.equal(w.changed, 0, "the fds a program gets changed");
      // Flat: the last launches peak no higher than the first (a page or two of noise).
      assert.ok(w.rssLast <= w.rssFirst + 64, `peak RSS grew from ${w.rssFirst} KiB to ${w.rssLast} KiB`);
    }
    assertNoResidue(before, { cacheMayGrow: true });
    const rss = workers.map((w) => `${w.rssFirst}→${w.rssLast} KiB`).join(", ");
    t.diagnostic(`soak: ${launches} launches in ${seconds.toFixed(1)} s (${Math.round(launches / seconds)}/s); peak RSS first→last 200 per worker: ${rss}; fd checks ${workers.reduce((n, w) => n + w.checks, 0)}`);
  });
});
