// The kernel's limits, met: deep nesting, long fast-path chains, hundreds of
// layers; plus the composition story with a real compiler, and `fhs plan`
// agreeing with the launcher.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { repoRoot, runCli, runUnprivileged } from "./helpers/env.js";
import { makePackage, shellPackage, staticProgram, syntheticLayers, wrapPackage } from "./helpers/wrapped.js";
import { LAUNCHER_EXIT } from "../src/abi.js";
import { decodeRecords } from "../src/policy/records.js";

let shellPkg: string;
let step: string;

before(() => {
  ({ pkg: shellPkg } = shellPackage());
  step = staticProgram("step", join(repoRoot, "test/bench/step.c"));
});


describe("nesting", () => {
  it("composes 16 distinct nested packages, each adding its layer", () => {
    const pkgs: string[] = [];
    for (let i = 0; i < 16; i++) pkgs.push(wrapPackage(makePackage({ [`bin/step${i}`]: { from: step } }, `step${i}`)));
    const argv = pkgs.map((p, i) => join(p, `usr/bin/step${i}`));
    const r = runUnprivileged([...argv, join(shellPkg, "usr/bin/dash"), "-c", "tr '\\0' '\\n' < /usr/.fhs/view | grep -c '^view$'; ls /usr/bin | grep -c '^step'"]);
    assert.equal(r.status, 0, r.stderr);
    // Each step package adds two layers: its programs and itself.
    // Each step package adds two layers (its programs and itself) to the
    // shell package's own (its programs, its state when it has one, itself, its dependencies).
    const shellManifestLayers = (JSON.parse(readFileSync(join(shellPkg, ".fhs/manifest.json"), "utf8")) as { layers: unknown[] }).layers.length;
    assert.equal(r.stdout, `${2 * 16 + shellManifestLayers}\n16\n`);
  });

  it("runs a 100-deep chain of fast-path launches without growing namespaces", () => {
    const pkg = wrapPackage(makePackage({ "bin/step": { from: step } }, "fastchain"), []);
    const chain = Array.from({ length: 100 }, () => "/usr/bin/step").join(" ");
    // A view with both packages: the shell's, composed with the step package.
    const r = runUnprivileged([join(pkg, "usr/bin/step"), join(shellPkg, "usr/bin/dash"), "-c", `a=$(readlink /proc/self/ns/user); b=$(${chain} /usr/bin/readlink /proc/self/ns/user); [ "$a" = "$b" ] && echo same-namespace-after-100`]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "same-namespace-after-100\n");
  });

  it("fails clearly past the kernel's user-namespace nesting cap, never hangs", () => {
    // 40 distinct packages: each level must create a namespace.
    const pkgs: string[] = [];
    for (let i = 0; i < 40; i++) pkgs.push(wrapPackage(makePackage({ [`bin/deep${i}`]: { from: step } }, `deep${i}`)));
    const before = runUnprivileged(["cat", "/proc/self/mountinfo"]).stdout;
    const r = runUnprivileged([...pkgs.map((p, i) => join(p, `usr/bin/deep${i}`)), "/bin/true"], { timeoutMs: 60_000 });
    assert.equal(r.status, LAUNCHER_EXIT.setup, r.stderr);
    assert.match(r.stderr, /^fhs: cannot create a user namespace: the kernel's nesting limit \(32 levels\) is reached\n$/);
    assert.equal(runUnprivileged(["cat", "/proc/self/mountinfo"]).stdout, before);
  });
});

describe("many layers", () => {
  it("builds a view of 300 layers", () => {
    // The wide package's own view has 299 layers; the shell launched inside
    // it adds its own and libc's on top: over 300 in one overlay.
    const wide = wrapPackage(makePackage({ "bin/step": { from: step } }, "wide"), syntheticLayers(298));
    const r = runUnprivileged([join(wide, "usr/bin/step"), join(shellPkg, "usr/bin/dash"), "-c", "ls /usr/share/fhs-synth | wc -l; tr '\\0' '\\n' < /usr/.fhs/view | grep -c '^view$'"]);
    assert.equal(r.status, 0, r.stderr);
    const [files, views] = r.stdout.trim().split("\n").map(Number);
    assert.equal(files, 298);
    assert.ok(views! >= 300, `view has ${views} layers`);
  });

  it("runs a view of exactly 500 layers: in place the marker would be a 501st lower, so the policy makes a new root", () => {
    const full = wrapPackage(makePackage({ "bin/step": { from: step } }, "full"), syntheticLayers(498));
    const r = runUnprivileged([join(full, "usr/bin/step")], { env: { FHS_DEBUG: "plan" } });
    assert.equal(r.status, 0, r.stderr);
    const bytes = Buffer.from(r.stderr, "latin1");
    const plan = decodeRecords(bytes.subarray(0, bytes.lastIndexOf("\0\0") + 2));
    assert.deepEqual(plan[0], ["plan", "view"]);
    assert.equal(plan.find((op) => op[0] === "overlay" && op[1] === "/usr")!.length - 2, 500);
  });

  it("refuses more than 500 layers with a clear error: at wrap time, and at launch when nesting adds up", () => {
    const synth = syntheticLayers(501);
    const pkg = makePackage({ "bin/step": { from: step } }, "too-wide");
    const r = runCli(["wrap", pkg, ...synth.flatMap((l) => ["--layer", l])]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, `fhs: package ${pkg}: needs 503 layers; OverlayFS allows at most 500 in one view\n`);
    // 400 + 200 layers: each package alone fits, the nested view does not.
    const outer = wrapPackage(makePackage({ "bin/outer": { from: step } }, "outer"), synth.slice(0, 200));
    const inner = wrapPackage(makePackage({ "bin/inner": { from: step } }, "inner"), synth.slice(200, 600));
    const before = runUnprivileged(["cat", "/proc/self/mountinfo"]).stdout;
    const nested = runUnprivileged([join(outer, "usr/bin/outer"), join(inner, "usr/bin/inner")]);
    assert.equal(nested.status, LAUNCHER_EXIT.policy);
    assert.match(nested.stderr, /^fhs: policy .*policy\.wasm refused the launch: the view needs 505 layers; OverlayFS allows at most 500\n$/);
    assert.equal(runUnprivileged(["cat", "/proc/self/mountinfo"]).stdout, before);
  });
});

describe("the fallback for kernels without lowerdir+", () => {
  // FHS_MOUNT_API=legacy makes the launcher take the path an older kernel
  // takes: one mount(2) with all options in one page.
  it("builds the same view through legacy mount(2) below the page limit", () => {
    const pkg = wrapPackage(makePackage({ "bin/step": { from: step } }, "legacy"), syntheticLayers(20));
    const r = runUnprivileged([join(pkg, "usr/bin/step"), join(shellPkg, "usr/bin/dash"), "-c", "ls /usr/share/fhs-synth | wc -l; grep -c ' overlay ' /proc/self/mountinfo"], { env: { FHS_MOUNT_API: "legacy" } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.split("\n")[0], "20");
  });

  it("refuses a view past the page limit with a clear error, never a cut option string", () => {
    // Layers go to mount(2) as /proc/self/fd/N paths (about 17 bytes each,
    // whatever the layer's own path), so about 240 fit in the page.
    const pkg = wrapPackage(makePackage({ "bin/step": { from: step } }, "legacy-wide"), syntheticLayers(300));
    const r = runUnprivileged([join(pkg, "usr/bin/step")], { env: { FHS_MOUNT_API: "legacy" } });
    assert.equal(r.status, LAUNCHER_EXIT.setup);
    assert.match(r.stderr, /^fhs: overlay \/usr: 302 layers do not fit in mount\(2\)'s one page of options; this kernel lacks fsconfig lowerdir\+ \(Linux >= 6\.8\)\n$/);
    // The same package works with the new mount API.
    assert.equal(runUnprivileged([join(pkg, "usr/bin/step")]).status, 0);
  });
});
