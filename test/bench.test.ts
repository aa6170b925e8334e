// A smoke run of the launch benchmark (test/bench/launch.ts, BENCH_SMOKE=1):
// every case runs a few times through the real runner, launcher, kernel
// floor, bubblewrap and buildFHSEnv reconstruction, the real workloads once
// (GNU hello's configure + make in each of its three envs), and the results file,
// charts and results block are written to a scratch directory. Nothing is
// asserted about speed: only that every figure was measured, and that the
// benchmark left apt's configuration as it found it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { isRoot, mustWork, repoRoot, testDir } from "./helpers/env.js";

const aptConfig = () =>
  ["/etc/apt/sources.list.d", "/etc/apt/apt.conf.d", "/etc/apt/preferences.d"].map((d) => {
    try {
      return readdirSync(d).map((f) => `${d}/${f}:${readFileSync(join(d, f), "utf8")}`);
    } catch {
      return [];
    }
  });

describe("launch benchmark, smoke run", { skip: !isRoot && !mustWork ? "needs root (apt-get for bubblewrap's build tools)" : false }, () => {
  it("measures every case, writes the results file, both charts and the results block, and leaves apt's sources alone", () => {
    const before = aptConfig();
    const out = testDir("fhs-bench-smoke-");
    const r = spawnSync(process.execPath, ["--import", "tsx", join(repoRoot, "test/bench/launch.ts")], {
      env: { ...process.env, BENCH_SMOKE: "1", BENCH_OUT: out },
      cwd: repoRoot,
      encoding: "utf8",
      timeout: 30 * 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(aptConfig(), before, "the benchmark changed apt's configuration");

    const files = readdirSync(join(out, "bench/results"));
    assert.equal(files.length, 1);
    const res = JSON.parse(readFileSync(join(out, "bench/results", files[0]!), "utf8")) as {
      smoke: boolean;
      machine: { cpus: number; kernel: string };
      medians: Record<string, number>;
      targets: { figure: string; result: number; floor: number | null }[];
      layerSeries: { layers: number; fhs: number; newRoot: number; floor: number; viewFloor: number }[];
      decomposition: { view: string; wall: Record<string, number>; cpu: Record<string, number> }[];
      depthSeries: { depth: number; fhs: number; newRoot: number; floor: number }[];
      helloBuild: { launches: Record<string, number> };
    };
    assert.equal(res.smoke, true);
    assert.ok(res.machine.cpus > 0 && res.machine.kernel.length > 0);
    for (const name of ["direct", "fhs", "fhs-new-root", "fhs-cold", "fhs-cold-policy-floor", "floor", "floor-view", "bwrap", "inview-direct", "inview-fast", "inview-floor", "buildfhsenv", "fhs-big", "state-with", "state-without", "depth-fhs-2", "depth-fhs-new-root-2", "depth-floor-2", "layers-floor-view-2", "layers-floor-view-10"])
      assert.ok(Number.isFinite(res.medians[name]) && res.medians[name]! > 0, `no median for ${name}`);
    // The real workloads: python3 and gcc, and GNU hello's configure + make in three envs.
    for (const name of ["python-wrapper", "python-inview", "python-inview-fast", "gcc-wrapper", "gcc-inview", "gcc-inview-fast", "hello-unwrapped", "hello-wrapped-layers", "hello-wrapped-path"])
      assert.ok(Number.isFinite(res.medians[name]) && res.medians[name]! > 0, `no median for ${name}`);
    // Wrapped packages as the env's layers run no launcher; through the wrappers, every tool is one.
    assert.equal(res.helloBuild.launches["hello-unwrapped"], 0);
    assert.equal(res.helloBuild.launches["hello-wrapped-layers"], 0);
    assert.ok(res.helloBuild.launches["hello-wrapped-path"]! > 100, `${res.helloBuild.launches["hello-wrapped-path"]} launches through the wrappers`);
    assert.equal(res.targets.length, 10);
    for (const t of res.targets) assert.ok(Number.isFinite(t.result), `no figure for ${t.figure}`);
    // Each figure that a missed target could be held against its floor has one: the
    // view floor (10 layers, the sweep's largest point), one static exec, the kernel
    // floor nested, a policy that answers a constant plan.
    const floors = res.targets.filter((t) => t.floor !== null);
    assert.deepEqual(
      floors.map((t) => t.figure.split(" ")[0]),
      ["wrapper", "fast", "per-level", "wrapper", "policy"],
    );
    // Present and a number; its sign is speed, which a smoke run of 2 samples asserts nothing about.
    for (const t of floors) assert.ok(Number.isFinite(t.floor), `no floor for ${t.figure}`);
    assert.deepEqual(res.layerSeries.map((p) => p.layers), [2, 10]);
    for (const p of [...res.layerSeries, ...res.depthSeries]) assert.ok(Number.isFinite(p.fhs) && Number.isFinite(p.newRoot) && Number.isFinite(p.floor));
    for (const p of res.layerSeries) assert.ok(Number.isFinite(p.viewFloor), `no view floor at ${p.layers} layers`);
    // fhs's overhead split at the view floor, at 10 layers and at the sweep's largest point.
    assert.equal(res.decomposition.length, 2);
    for (const d of res.decomposition)
      for (const k of ["fhsOverViewFloor", "viewFloorOverFloor"]) assert.ok(Number.isFinite(d.wall[k]) && Number.isFinite(d.cpu[k]), `no ${k} for ${d.view}`);

    for (const chart of ["layers.svg", "depth.svg"]) {
      const svg = readFileSync(join(out, "docs/bench", chart), "utf8");
      assert.match(svg, /^<svg /);
      assert.match(svg, /fhs wrapper/);
      assert.match(svg, /fhs wrapper, new root/);
      assert.match(svg, /kernel floor \(in place\)/);
      if (chart === "layers.svg") assert.match(svg, /view floor/);
    }
    const doc = readFileSync(join(out, "docs/BENCHMARKS.md"), "utf8");
    assert.match(doc, /<!-- results:begin[\s\S]*\| launcher peak RSS \|[\s\S]*<!-- results:end -->/);
    assert.match(doc, /<!-- results:begin[\s\S]*\| view floor: [\s\S]*fhs \/ view floor[\s\S]*<!-- results:end -->/);
  });
});
