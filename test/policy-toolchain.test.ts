// The policy toolchain as a packager and CI use it: `fhs policy check` over
// policies/, config errors that read like a compiler's, `fhs policy test`
// reports and exit codes, and init -> build -> test -> wrap --policy -> launch.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { policiesDir } from "../src/paths.js";
import { repoRoot, runCli, runUnprivileged, testArtifacts, testDir } from "./helpers/env.js";
import { callerMounts, makePackage, staticProgram, wrapPackage } from "./helpers/wrapped.js";
import { execFileSync } from "node:child_process";
import { LAUNCHER_EXIT } from "../src/abi.js";


describe("fhs policy check over policies/", () => {
  let json: { checks: { file: string; problems: string[] }[]; passed: number; failed: number; cases: { name: string; file: string; ok: boolean }[] };
  before(() => {
    const r = runCli(["policy", "check", "--format", "json"]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    json = JSON.parse(r.stdout);
  });

  it("validates the default config, every schema and the built-in policy module", () => {
    const files = json.checks.map((c) => c.file.slice(repoRoot.length + 1));
    for (const f of ["policies/default.json", "policies/schema/config.schema.json", "policies/schema/manifest.schema.json",
      "policies/schema/plan.schema.json", "policies/schema/policy-case.schema.json", "build/policy.wasm"]) {
      assert.ok(files.includes(f), `${f} was not checked`);
    }
    assert.deepEqual(json.checks.filter((c) => c.problems.length), []);
  });

  it("runs a case table that covers every decision of the default policy", () => {
    assert.equal(json.failed, 0);
    const dirs = new Set(json.cases.map((c) => c.file.slice(policiesDir.length + 1).split("/").slice(1, -1).join("/")));
    for (const d of ["launch/outside", "launch/inside", "launch/stage1", "launch/overlay", "launch/binds", "launch/env", "launch/refuse", "wrap", "conflicts", "abi"]) {
      assert.ok(dirs.has(d), `no cases in policies/tests/${d}`);
    }
    const text = readdirSync(join(policiesDir, "tests", "launch", "inside")).map((f) => readFileSync(join(policiesDir, "tests/launch/inside", f), "utf8")).join("");
    assert.match(text, /"plan", "fast"/, "a fast-path case");
    const stage1 = readdirSync(join(policiesDir, "tests", "launch", "stage1")).map((f) => readFileSync(join(policiesDir, "tests/launch/stage1", f), "utf8")).join("");
    assert.match(stage1, /"plan", "fast"/, "a stage-1 fast-path case");
    assert.match(stage1, /\["plan", "facts"\]/, "a stage-1 case that asks for every fact");
    // Every conflict class the config knows has a case whose expected result names it.
    const config = JSON.parse(readFileSync(join(policiesDir, "default.json"), "utf8")) as { conflicts: { severities: Record<string, string> } };
    const conflicts = readdirSync(join(policiesDir, "tests", "conflicts")).map((f) => JSON.parse(readFileSync(join(policiesDir, "tests/conflicts", f), "utf8")) as { expect: { records?: string[][] } });
    const named = new Set(conflicts.flatMap((c) => (c.expect.records ?? []).flat()));
    for (const cls of Object.keys(config.conflicts.severities)) assert.ok(named.has(cls), `no conflicts case expects class ${cls}`);
  });
});

describe("config errors read like a compiler's", () => {
  let dir: string;
  before(() => {
    dir = testDir("fhs-config-");
    writeFileSync(join(dir, "bad.json"), [
      "{",
      '  "overlay": { "etc": false, "opt": "yes", "etx": true },',
      '  "hostBinds": { "never": ["usr"] },',
      '  "env": {},',
      '  "wrap": { "dirs": ["bin"] },',
      '  "conflicts": { "severities": { "identical": "ok", "shadowed-compatible": "info", "diamond-incompatible": "fatal", "file-collision": "warning", "type-clash": "error" }, "overrides": [] }',
      "}",
    ].join("\n"));
  });

  it("check names file, line, JSON pointer, what was expected and what was found; exit 1", () => {
    const file = join(dir, "bad.json");
    const r = runCli(["policy", "check", file]);
    assert.equal(r.status, 1, r.stderr);
    assert.ok(r.stdout.includes(`${file}:2: /overlay/etx: unknown key (expected one of: usr, etc, opt)`), r.stdout);
    assert.ok(r.stdout.includes(`${file}:2: /overlay/opt: expected boolean, found the string "yes"`), r.stdout);
    assert.ok(r.stdout.includes(`${file}:6: /conflicts/severities/diamond-incompatible: expected one of "ok", "info", "warning", "error", found the string "fatal"`), r.stdout);
  });

  it("wrap refuses the config with one line and exit 2, before touching the package", () => {
    const pkg = makePackage({ "bin/hello": { text: "#!/bin/sh\necho hi\n" } }, "badconfig");
    const r = runCli(["wrap", pkg, "--config", join(dir, "bad.json")], { env: { FHS_LAUNCHER: testArtifacts().launcher } });
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /^fhs: .*bad\.json:2: \/overlay\/etx: unknown key/);
    assert.ok(!existsSync(join(pkg, ".fhs")));
  });
});

describe("fhs policy test", () => {
  let dir: string;
  before(() => {
    dir = testDir("fhs-cases-");
    mkdirSync(join(dir, "tests"));
    writeFileSync(join(dir, "tests", "wrong.json"), JSON.stringify({
      name: "a case whose expectation is wrong",
      input: [["req", "wrap"], ["candidate", "bin/hello", "exec"], ["candidate", "bin/hi", "script"]],
      config: "default",
      expect: { status: 0, records: [["wrap", "bin/hello"], ["wrap", "bin/other"]], assert: [{ lacks: ["wrap", "bin/hi"] }] },
    }));
    writeFileSync(join(dir, "tests", "right.json"), JSON.stringify({
      name: "a case that holds",
      input: [["req", "wrap"], ["candidate", "bin/hello", "exec"]],
      config: "default",
      expect: { records: [["wrap", "bin/hello"]] },
    }));
  });

  it("a failing case prints a readable diff and the failed assertion; exit 1", () => {
    const r = runCli(["policy", "test", dir]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^PASS a case that holds$/m);
    assert.match(r.stdout, /^FAIL a case whose expectation is wrong$/m);
    assert.match(r.stdout, /^\s+- wrap bin\/other$/m);
    assert.match(r.stdout, /^\s+\+ wrap bin\/hi$/m);
    assert.match(r.stdout, /^\s+  wrap bin\/hello$/m);
    assert.match(r.stdout, /lacks wrap bin\/hi: found wrap bin\/hi/);
    assert.match(r.stdout, /1 passed, 1 failed/);
  });

  it("--format json and --format junit say the same", () => {
    const j = runCli(["policy", "test", dir, "--format", "json"]);
    assert.equal(j.status, 1);
    const report = JSON.parse(j.stdout) as { passed: number; failed: number; cases: { ok: boolean; wasm3: { status: number } }[] };
    assert.equal(report.passed, 1);
    assert.equal(report.failed, 1);
    assert.ok(report.cases.every((c) => c.wasm3.status === 0));
    const x = runCli(["policy", "test", dir, "--format", "junit"]);
    assert.equal(x.status, 1);
    assert.match(x.stdout, /^<\?xml version="1\.0" encoding="UTF-8"\?>/);
    assert.match(x.stdout, /<testsuite name="policy conformance" tests="2" failures="1" errors="0"/);
    assert.match(x.stdout, /<failure message="records: the result differs from the expected one">/);
  });

  it("finding no cases is a failure, not a pass", () => {
    const empty = testDir("fhs-nocases-");
    const r = runCli(["policy", "test", empty]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /no test cases found under .*: finding no cases is a failure/);
  });

  it("a case that cannot be loaded is exit 2, with file, line and pointer", () => {
    const bad = testDir("fhs-badcase-");
    writeFileSync(join(bad, "typo.json"), '{\n  "name": "x",\n  "input": [["req", "echo"]],\n  "expect": { "stauts": 0 }\n}\n');
    const r = runCli(["policy", "test", bad]);
    assert.equal(r.status, 2);
    assert.match(r.stdout, /typo\.json:4: \/expect\/stauts: unknown key \(expected one of: status, echo, records, assert\)/);
  });

  it("usage errors are one line and exit 2", () => {
    for (const args of [["policy", "frob"], ["policy", "build", "x.ts"], ["policy", "test", "--format", "xml"]]) {
      const r = runCli(args);
      assert.equal(r.status, 2, args.join(" "));
      assert.equal(r.stderr.trim().split("\n").length, 1);
      assert.match(r.stderr, /^fhs: /);
    }
  });
});

describe("fhs policy build holds a module to the rules", () => {
  it("refuses a forbidden import, with the reason, exit 1, writing nothing", () => {
    const dir = testDir("fhs-build-");
    const out = join(dir, "import.wasm");
    const r = runCli(["policy", "build", join(repoRoot, "test/fixtures/hostile/import.ts"), "-o", out]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^fhs: policy .*import\.wasm: imports env\.system; the only import allowed is env\.abort \(nothing written\)$/m);
    assert.deepEqual(readdirSync(dir), []);
  });

  it("refuses a wrong ABI version found by instantiation", () => {
    const dir = testDir("fhs-build-");
    const r = runCli(["policy", "build", join(repoRoot, "test/fixtures/hostile/wrong-abi.ts"), "-o", join(dir, "p.wasm")]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /fhs_abi\(\) returns 2, this fhs speaks 1/);
  });
});

describe("a packager's custom policy: init, build, test, wrap --policy, launch", () => {
  let polDir: string;
  let pkg: string;
  let lsroot: string;
  before(() => {
    polDir = join(testDir("fhs-custom-"), "mypolicy");
    lsroot = staticProgram("lsroot", join(repoRoot, "test/fixtures/policy/lsroot.c"));
  });

  it("init scaffolds a policy, a case and a README snippet", () => {
    const r = runCli(["policy", "init", polDir]);
    assert.equal(r.status, 0, r.stderr);
    for (const f of ["policy.ts", "tests/binds-only-allowed.json", "README.md"]) assert.ok(existsSync(join(polDir, f)), f);
    assert.equal(runCli(["policy", "init", polDir]).status, 2, "init refuses a non-empty dir");
  });

  it("build compiles it with the fixed flags and checks it", () => {
    const r = runCli(["policy", "build", join(polDir, "policy.ts"), "-o", join(polDir, "policy.wasm")]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^built .*policy\.wasm \(\d+ bytes\)/);
  });

  it("test runs its case in both hosts and passes; the built-in policy fails it", () => {
    const r = runCli(["policy", "test", polDir]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^1 passed, 0 failed/m);
    const builtin = runCli(["policy", "test", polDir, "--policy", join(repoRoot, "build/policy.wasm")]);
    assert.equal(builtin.status, 1, "the case must tell the custom policy from the built-in one");
  });

  it("wrap --policy ships it: the manifest records its sha256, and a launch binds only what it allows", () => {
    pkg = wrapPackage(makePackage({ "bin/lsroot": { from: lsroot } }, "custom"), [], ["--policy", join(polDir, "policy.wasm")]);
    const manifest = JSON.parse(readFileSync(join(pkg, ".fhs", "manifest.json"), "utf8")) as { policy: { sha256: string; source: string } };
    assert.equal(manifest.policy.source, "custom");
    assert.equal(manifest.policy.sha256, execFileSync("sha256sum", [join(polDir, "policy.wasm")], { encoding: "utf8" }).split(" ")[0]);
    const r = runUnprivileged([join(pkg, "usr/bin/lsroot")]);
    assert.equal(r.status, 0, r.stderr);
    const names = r.stdout.trim().split("\n");
    for (const n of ["usr", "tmp", "home", "proc", "dev"]) assert.ok(names.includes(n), `${n} missing from ${names}`);
    for (const n of ["srv", "mnt", "opt", "boot", "root"]) assert.ok(!names.includes(n), `${n} should not be in the view`);
  });

  it("a policy changed after wrap: the launcher refuses it, exit 122, one line, nothing run or mounted", () => {
    const wasm = join(pkg, ".fhs", "policy.wasm");
    const bytes = readFileSync(wasm);
    bytes[bytes.length - 1]! ^= 0x01;
    writeFileSync(wasm, bytes);
    const before = callerMounts();
    const r = runUnprivileged([join(pkg, "usr/bin/lsroot")]);
    assert.equal(r.status, LAUNCHER_EXIT.policy);
    assert.equal(r.stdout, "", "the program must not run");
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /^fhs: policy .*policy\.wasm: sha256 [0-9a-f]{64} does not match the manifest's [0-9a-f]{64}: the module changed after wrap$/m);
    assert.equal(callerMounts(), before);
  });

  it("wrap --policy refuses a module with a forbidden import and leaves the package alone", async () => {
    const dir = testDir("fhs-badpol-");
    const out = join(dir, "import.wasm");
    const { compilePolicy } = await import("../src/policy/compile.js");
    await compilePolicy(join(repoRoot, "test/fixtures/hostile/import.ts"), out);
    const target = makePackage({ "bin/lsroot": { from: lsroot } }, "forbidden");
    const r = runCli(["wrap", target, "--policy", out], { env: { FHS_LAUNCHER: testArtifacts().launcher } });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^fhs: policy .*import\.wasm: imports env\.system; the only import allowed is env\.abort$/m);
    assert.ok(!existsSync(join(target, ".fhs")));
  });
});


describe("docs/POLICY.md's policy API example, as it stands", () => {
  let dir: string;
  before(() => {
    dir = testDir("fhs-doc-policy-");
    // Each block the doc marks `<!-- example: FILE -->` is written to FILE.
    const doc = readFileSync(join(repoRoot, "docs/POLICY.md"), "utf8");
    const blocks = [...doc.matchAll(/<!-- example: (\S+) -->\n```\w*\n([\s\S]*?)\n```/g)];
    assert.deepEqual(blocks.map((b) => b[1]), ["policy.ts", "tests/no-config-scripts.json"]);
    mkdirSync(join(dir, "tests"));
    for (const [, file, text] of blocks) writeFileSync(join(dir, file!), `${text}\n`);
  });

  it("compiles, and its case passes in both hosts; the built-in policy fails the case", () => {
    const b = runCli(["policy", "build", "policy.ts", "-o", "policy.wasm"], { cwd: dir });
    assert.equal(b.status, 0, b.stderr);
    const t = runCli(["policy", "test", "."], { cwd: dir });
    assert.equal(t.status, 0, t.stdout + t.stderr);
    assert.match(t.stdout, /^PASS sdl2-config stays unwrapped/m);
    const builtin = runCli(["policy", "test", ".", "--policy", join(repoRoot, "build/policy.wasm")], { cwd: dir });
    assert.equal(builtin.status, 1, "the case must tell the example from the built-in policy");
    assert.match(builtin.stdout, /\+ wrap bin\/sdl2-config/);
  });

  it("a compile error names file:line:column on one line, exit 2, nothing written", () => {
    const src = readFileSync(join(dir, "policy.ts"), "utf8");
    const line = src.split("\n").findIndex((l) => l.includes("super.wraps")) + 1;
    const column = src.split("\n")[line - 1]!.indexOf("super.wraps") + 1;
    writeFileSync(join(dir, "broken.ts"), src.replace("super.wraps", "super_wraps"));
    const r = runCli(["policy", "build", "broken.ts", "-o", "broken.wasm"], { cwd: dir });
    assert.equal(r.status, 2);
    assert.equal(r.stderr, `fhs: policy broken.ts: compilation failed: broken.ts:${line}:${column}: Cannot find name 'super_wraps'. (TS2304)\n`);
    assert.ok(!existsSync(join(dir, "broken.wasm")));
  });
});

describe("a launch's facts have one reader: Policy.evaluate over records plans as serve over bytes does", () => {
  it("a policy answering every request through evaluate(parseRecords(...)) passes every case of policies/tests, in both hosts", () => {
    // serve reads a launch's facts straight from the input bytes
    // (launchFactsAt); a direct caller of Policy.evaluate gives records, which
    // launchFacts encodes and reads the same way. The case tables, which the
    // built-in policy (serve) passes, must pass this way too.
    const dir = testDir("fhs-records-evaluate-");
    const b = runCli(["policy", "build", join(repoRoot, "test/fixtures/policy/records-evaluate.ts"), "-o", join(dir, "policy.wasm")]);
    assert.equal(b.status, 0, b.stderr);
    const t = runCli(["policy", "test", join(policiesDir, "tests"), "--policy", join(dir, "policy.wasm")]);
    assert.equal(t.status, 0, t.stdout + t.stderr);
    const m = /^(\d+) passed, 0 failed/m.exec(t.stdout);
    assert.ok(m && Number(m[1]) > 0, t.stdout);
  });
});

describe("a custom policy that binds less: its view is a new root, and in place is refused naming the entry", () => {
  // test/fixtures/policy/no-srv: bindHost leaves the host's /srv out. In
  // place, an entry the view does not bind would still be there, so the
  // view is a new root; a config forcing in place is refused.
  it("its cases pass in both hosts; the built-in policy, which binds /srv, fails both", () => {
    const fixture = join(repoRoot, "test/fixtures/policy/no-srv");
    const wasm = join(testDir("fhs-no-srv-"), "policy.wasm");
    const b = runCli(["policy", "build", join(fixture, "policy.ts"), "-o", wasm]);
    assert.equal(b.status, 0, b.stderr);
    const t = runCli(["policy", "test", fixture, "--policy", wasm]);
    assert.equal(t.status, 0, t.stdout + t.stderr);
    assert.match(t.stdout, /^2 passed, 0 failed/m);
    const builtin = runCli(["policy", "test", fixture, "--policy", join(repoRoot, "build/policy.wasm")]);
    assert.equal(builtin.status, 1);
    assert.match(builtin.stdout, /^0 passed, 2 failed/m);
  });
});

describe("a custom policy whose fast-path decision reads a host fact: never answered from stage 1's partial facts", () => {
  // test/fixtures/policy/host-fact: no fast path on a host whose root has
  // /tmp. Stage 1 of a launch inside a view holds no host facts; the read is
  // noted and the answer is plan facts, never a fast path taken as if the
  // host had no /tmp.
  const fixture = join(repoRoot, "test/fixtures/policy/host-fact");
  let wasm: string;
  let nsrun: string;
  before(() => {
    wasm = join(testDir("fhs-host-fact-"), "policy.wasm");
    const b = runCli(["policy", "build", join(fixture, "policy.ts"), "-o", wasm]);
    assert.equal(b.status, 0, b.stderr);
    nsrun = staticProgram("selfinfo", join(repoRoot, "test/fixtures/programs/selfinfo.c"));
  });

  it("its cases pass in both hosts; the built-in policy, whose fast path reads no host fact, fails the stage-1 case", () => {
    const t = runCli(["policy", "test", fixture, "--policy", wasm]);
    assert.equal(t.status, 0, t.stdout + t.stderr);
    assert.match(t.stdout, /^2 passed, 0 failed/m);
    const builtin = runCli(["policy", "test", fixture, "--policy", join(repoRoot, "build/policy.wasm")]);
    assert.equal(builtin.status, 1);
    assert.match(builtin.stdout, /^FAIL stage 1: /m);
    assert.match(builtin.stdout, /\+ plan fast/);
  });

  it("launched inside its own view: the built-in policy takes the fast path from stage 1; this one asks for every fact and gets a view", () => {
    const run = (pkg: string) => {
      const prog = join(pkg, "usr/bin/nsrun");
      // The program in its view runs its own wrapper again, from inside.
      const r = runUnprivileged([prog, prog], { env: { FHS_DEBUG: "timing" } });
      assert.equal(r.status, 0, r.stderr);
      // selfinfo prints its mount namespace, then execs the rest of its arguments.
      const [outer, inner] = [...r.stdout.matchAll(/ mntns=(\S+)/g)].map((m) => m[1]);
      assert.ok(outer && inner, r.stdout);
      const facts = [...r.stderr.matchAll(/^fhs-timing .* facts=(\S+)$/gm)].map((m) => m[1]);
      return { same: outer === inner, facts };
    };
    const builtin = wrapPackage(makePackage({ "bin/nsrun": { from: nsrun } }, "nsrun"), []);
    assert.deepEqual(run(builtin), { same: true, facts: ["all", "partial"] });
    const custom = wrapPackage(makePackage({ "bin/nsrun": { from: nsrun } }, "nsrun-host-fact"), [], ["--policy", wasm]);
    assert.deepEqual(run(custom), { same: false, facts: ["all", "partial+all"] });
  });
});

describe("a policy that fails on stage 1's partial facts (as a module from before stage 1 does): asked again with every fact", () => {
  // test/fixtures/policy/stage1-refuses traps on a stage-1 input. The
  // launcher takes a stage-1 failure as plan facts, asks again with every
  // fact, and caches the stage-1 outcome so the next launch runs no policy.
  it("launched inside its own view: no failure, the answer from every fact (here the fast path), then from the cache", () => {
    const wasm = join(testDir("fhs-stage1-refuses-"), "policy.wasm");
    const b = runCli(["policy", "build", join(repoRoot, "test/fixtures/policy/stage1-refuses/policy.ts"), "-o", wasm]);
    assert.equal(b.status, 0, b.stderr);
    const nsrun = staticProgram("selfinfo", join(repoRoot, "test/fixtures/programs/selfinfo.c"));
    const pkg = wrapPackage(makePackage({ "bin/nsrun": { from: nsrun } }, "nsrun-stage1-refuses"), [], ["--policy", wasm]);
    const prog = join(pkg, "usr/bin/nsrun");
    const cache = testDir("fhs-stage1-cache-");
    const run = () => {
      const r = runUnprivileged([prog, prog], { env: { FHS_DEBUG: "timing", XDG_RUNTIME_DIR: cache } });
      assert.equal(r.status, 0, r.stderr);
      const [outer, inner] = [...r.stdout.matchAll(/ mntns=(\S+)/g)].map((m) => m[1]);
      assert.ok(outer && inner, r.stdout);
      assert.equal(outer, inner, "the nested launch took the fast path the full facts give");
      return [...r.stderr.matchAll(/^fhs-timing .* plan_cache=(\S+) facts=(\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
    };
    assert.deepEqual(run(), ["miss all", "miss partial+all"]);
    assert.deepEqual(run(), ["hit all", "hit partial+all"]);
  });
});
