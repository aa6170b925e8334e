// The foundation: one policy.wasm, the same answers in both hosts, the CLI's
// basic commands, and the launcher's build.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { defaultPolicyWasm, dynamicLauncherPath, policiesDir, staticLauncherPath } from "../src/paths.js";
import { findCaseFiles, loadCase, runCase } from "../src/policy/conformance.js";
import { evalPolicy } from "../src/policy/host.js";
import { ABI_VERSION, LAUNCHER_EXIT, LIMITS } from "../src/abi.js";
import { encodeRecords } from "../src/policy/records.js";
import { repoRoot, runCli, runUnprivileged, testArtifacts } from "./helpers/env.js";

describe("policy.wasm", () => {
  it("stays within its size budget", () => {
    const size = statSync(defaultPolicyWasm).size;
    assert.ok(size <= LIMITS.defaultPolicySizeBudget, `policy.wasm is ${size} bytes, budget ${LIMITS.defaultPolicySizeBudget}`);
  });

  it("imports nothing but env.abort and exports the ABI", () => {
    const mod = new WebAssembly.Module(readFileSync(defaultPolicyWasm));
    assert.deepEqual(WebAssembly.Module.imports(mod).map((i) => `${i.module}.${i.name}`), ["env.abort"]);
    const exports = WebAssembly.Module.exports(mod).map((e) => e.name).sort();
    for (const name of ["fhs_abi", "fhs_alloc", "fhs_eval", "fhs_result_len", "fhs_result_ptr", "memory"]) {
      assert.ok(exports.includes(name), `missing export ${name}`);
    }
  });

  it("declares the ABI version both hosts speak", async () => {
    const res = await evalPolicy(readFileSync(defaultPolicyWasm), encodeRecords([["req", "echo"]]), { name: "default" });
    assert.equal(res.status, 0);
  });
});

describe("conformance: the Node host and the wasm3 host agree byte for byte", () => {
  const files = findCaseFiles([join(policiesDir, "tests")]);
  it("finds cases", () => assert.ok(files.length > 0));
  for (const file of files) {
    const c = loadCase(file);
    it(c.name, async () => {
      const outcome = await runCase(c, defaultPolicyWasm);
      assert.deepEqual(outcome.failures, []);
      assert.ok(outcome.node.ok && outcome.launcher.ok);
      assert.deepEqual(Buffer.from(outcome.node.result.bytes), Buffer.from(outcome.launcher.result.bytes));
    });
  }
});

describe("abi", () => {
  it("the generated launcher/abi.h, launcher/abi.mk, src/abi.ts, assembly/abi.ts and assembly/abi-names.ts are what abi/abi.json gives", () => {
    const r = spawnSync(process.execPath, [join(repoRoot, "abi", "gen.mjs"), "--check"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
  });

  it("the launcher was built from it: its policy ABI and the memory cap wasm3 enforces", () => {
    const r = spawnSync(dynamicLauncherPath, ["--version"], { encoding: "utf8" });
    assert.match(r.stdout, new RegExp(`policy ABI ${ABI_VERSION}\\)$`, "m"));
    const mk = readFileSync(join(repoRoot, "launcher", "abi.mk"), "utf8");
    assert.match(mk, new RegExp(`^FHS_MEMORY_CAP_PAGES := ${LIMITS.memoryCapPages}$`, "m"));
  });
});

describe("launcher", () => {
  it("reports its version and wasm3's", () => {
    const r = spawnSync(dynamicLauncherPath, ["--version"], { encoding: "utf8" });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^fhs-launcher \d+\.\d+\.\d+ \(wasm3 0\.9\.0, policy ABI 1\)$/m);
  });

  it("has a static variant that depends on nothing", () => {
    const file = spawnSync("file", ["-L", staticLauncherPath], { encoding: "utf8" });
    if (file.status === 0) assert.match(file.stdout, /statically linked/);
    const ldd = spawnSync("ldd", [staticLauncherPath], { encoding: "utf8" });
    assert.match(ldd.stdout + ldd.stderr, /not a dynamic executable|statically linked/);
    const r = spawnSync(staticLauncherPath, ["--version"], { encoding: "utf8" });
    assert.equal(r.status, 0);
  });

  it("round-trips input through policy.wasm in wasm3, unprivileged", () => {
    const { launcher, policy } = testArtifacts();
    const input = encodeRecords([["req", "echo"], ["layer", "/nix/store/x-hello", "nix", "usr"]]);
    const r = runUnprivileged([launcher, "eval", policy], { input });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, Buffer.from(input).toString("utf8"));
  });

  it("refuses a policy input on stdin larger than the manifest cap, naming it", () => {
    const { launcher, policy } = testArtifacts();
    const input = Buffer.alloc(LIMITS.manifestSizeCap + 1);
    const r = runUnprivileged([launcher, "eval", policy], { input });
    assert.equal(r.status, LAUNCHER_EXIT.setup);
    assert.equal(r.stderr, `fhs: policy input on stdin: larger than ${LIMITS.manifestSizeCap} bytes\n`);
  });

  it("all kernel probes pass as an unprivileged user", () => {
    const r = runUnprivileged([testArtifacts().launcher, "probe"]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    for (const probe of ["userns", "overlay-in-userns", "lowerdir-plus", "pivot-root-tmpfs"]) {
      assert.match(r.stdout, new RegExp(`^${probe}\\tok`, "m"));
    }
  });
});

describe("fhs CLI", () => {
  it("--version prints the package version", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string };
    const r = runCli(["--version"]);
    assert.equal(r.status, 0);
    assert.match(r.stdout, new RegExp(`fhs/${pkg.version.replace(/\./g, "\\.")}`));
  });

  it("--help lists the commands", () => {
    const r = runCli(["--help"]);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /doctor/);
    assert.match(r.stdout, /policy/);
  });

  it("doctor reports every probe as ok on this machine", () => {
    const r = runCli(["doctor", "--json"]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const findings = JSON.parse(r.stdout) as { name: string; ok: boolean }[];
    const names = findings.map((f) => f.name);
    for (const n of ["launcher", "launcher-dynamic", "policy", "userns", "overlay-in-userns", "lowerdir-plus", "pivot-root-tmpfs"]) {
      assert.ok(names.includes(n), `doctor does not report ${n}`);
    }
    assert.deepEqual(findings.filter((f) => !f.ok), []);
  });

  it("doctor names what is missing, with a remedy, and exits 1", () => {
    const r = runCli(["doctor"], { env: { FHS_LAUNCHER: "/nonexistent/fhs-launcher" } });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /FAIL launcher\s+\/nonexistent\/fhs-launcher is missing/);
    assert.match(r.stdout, /remedy: run: npm run build:launcher/);
  });

  it("an unknown command is one line on stderr and exit 2", () => {
    const r = runCli(["frobnicate"]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split("\n").length, 1);
    assert.match(r.stderr, /^fhs: unknown command 'frobnicate'/);
  });
});
