// fhs conflicts / fhs check-install on real ELF libraries built here with gcc
// and a linker version script, through the real CLI and policy.wasm.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { policiesDir } from "../src/paths.js";
import { parseElf, parseElfSymbols } from "../src/scan/elf.js";
import { runCli, testDir } from "./helpers/env.js";
import { report } from "./helpers/report.js";
import { wrapPackage } from "./helpers/wrapped.js";


const layerArgs = (...dirs: string[]) => dirs.flatMap((d) => ["--layer", d]);

let root: string;
let v10: string, v11: string, app: string, v10link: string, v11link: string;
const lib = "usr/lib/x86_64-linux-gnu";

function sh(cmd: string, args: string[], cwd: string) {
  execFileSync(cmd, args, { cwd, stdio: ["ignore", "ignore", "inherit"] });
}

before(() => {
  root = testDir("fhs-conflicts-");
  const src = join(root, "src");
  mkdirSync(src);
  writeFileSync(join(src, "foo.c"), "int foo(void) { return 1; }\n#ifdef V11\nint foo_more(void) { return 2; }\n#endif\n");
  writeFileSync(join(src, "v10.map"), "FOO_1.0 { global: foo; local: *; };\n");
  writeFileSync(join(src, "v11.map"), "FOO_1.0 { global: foo; local: *; };\nFOO_1.1 { global: foo_more; } FOO_1.0;\n");
  writeFileSync(join(src, "app.c"), "int foo_more(void);\nint main(void) { return foo_more() == 2 ? 0 : 1; }\n");
  const mk = (name: string) => mkdirSync(join(root, name, lib), { recursive: true });
  v10 = join(root, "v10");
  v11 = join(root, "v11");
  app = join(root, "app");
  mk("v10");
  mk("v11");
  mkdirSync(join(app, "usr/bin"), { recursive: true });
  sh("gcc", ["-shared", "-fPIC", "-o", join(v10, lib, "libfoo.so.1"), "-Wl,-soname,libfoo.so.1", "-Wl,--version-script,v10.map", "foo.c"], src);
  sh("gcc", ["-shared", "-fPIC", "-DV11", "-o", join(v11, lib, "libfoo.so.1"), "-Wl,-soname,libfoo.so.1", "-Wl,--version-script,v11.map", "foo.c"], src);
  sh("gcc", ["-o", join(app, "usr/bin/app"), "app.c", join(v11, lib, "libfoo.so.1")], src);
  // The same libraries the Debian way: libfoo.so.1 a symlink to the versioned file.
  v10link = join(root, "v10link");
  v11link = join(root, "v11link");
  for (const [dir, from, real] of [[v10link, v10, "libfoo.so.1.0.0"], [v11link, v11, "libfoo.so.1.1.0"]] as const) {
    mkdirSync(join(dir, lib), { recursive: true });
    copyFileSync(join(from, lib, "libfoo.so.1"), join(dir, lib, real));
    symlinkSync(real, join(dir, lib, "libfoo.so.1"));
  }
});

describe("libraries: diamonds", () => {
  it("the consumer really breaks when v1.0 wins (the premise)", () => {
    const r = spawnSync(join(app, "usr/bin/app"), [], { env: { LD_LIBRARY_PATH: join(v10, lib) }, encoding: "utf8" });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /FOO_1\.1' not found/);
    const ok = spawnSync(join(app, "usr/bin/app"), [], { env: { LD_LIBRARY_PATH: join(v11, lib) } });
    assert.equal(ok.status, 0);
  });

  it("v1.0 first: an incompatible diamond, naming consumer, layer, version, winner and loser", () => {
    const rep = report(["conflicts", ...layerArgs(v10, v11, app)], 1);
    assert.equal(rep.conflicts.length, 1);
    const c = rep.conflicts[0]!;
    assert.equal(c.path, `/${lib}/libfoo.so.1`);
    assert.equal(c.class, "diamond-incompatible");
    assert.equal(c.severity, "error");
    assert.equal(c.winner.layer, v10);
    assert.equal(c.winner.soname, "libfoo.so.1");
    assert.deepEqual(c.losers.map((l) => l.layer), [v11]);
    assert.deepEqual(c.diamonds, [{ consumer: "/usr/bin/app", consumerLayer: app, soname: "libfoo.so.1", version: "FOO_1.1", loser: v11 }]);
    assert.equal(rep.summary.error, 1);
  });

  it("v1.1 first: compatible shadowing, info, exit 0", () => {
    const rep = report(["conflicts", ...layerArgs(v11, v10, app)], 0);
    assert.equal(rep.conflicts.length, 1);
    assert.equal(rep.conflicts[0]!.class, "shadowed-compatible");
    assert.equal(rep.conflicts[0]!.severity, "info");
    assert.equal(rep.conflicts[0]!.diamonds, undefined);
  });

  it("without a consumer needing FOO_1.1, v1.0 winning is compatible", () => {
    const rep = report(["conflicts", ...layerArgs(v10, v11)], 0);
    assert.equal(rep.conflicts[0]!.class, "shadowed-compatible");
  });

  it("follows SONAME symlinks through the view to the versioned files", () => {
    const rep = report(["conflicts", ...layerArgs(v10link, v11link, app)], 1);
    assert.equal(rep.conflicts.length, 1);
    const c = rep.conflicts[0]!;
    assert.equal(c.path, `/${lib}/libfoo.so.1`);
    assert.equal(c.winner.target, "libfoo.so.1.0.0");
    assert.equal(c.class, "diamond-incompatible");
    assert.equal(c.diamonds![0]!.loser, v11link);
    assert.equal(report(["conflicts", ...layerArgs(v11link, v10link, app)], 0).conflicts[0]!.class, "shadowed-compatible");
  });

  it("human report: grouped by severity, with the dependent chain", () => {
    const r = runCli(["conflicts", ...layerArgs(v10, v11, app)]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^error \(1\)$/m);
    assert.match(r.stdout, /winner .*\/v10 .*SONAME libfoo\.so\.1/);
    assert.match(r.stdout, /loser {2}.*\/v11 /);
    assert.match(r.stdout, /\/usr\/bin\/app \(from .*\/app\) needs FOO_1\.1 of libfoo\.so\.1: only in loser .*\/v11/);
  });
});

describe("files: identical, collisions, type clashes, overrides", () => {
  let a: string, b: string;
  before(() => {
    a = join(root, "a");
    b = join(root, "b");
    for (const d of [a, b]) mkdirSync(join(d, "usr/share/doc/x"), { recursive: true });
    writeFileSync(join(a, "usr/share/doc/x/same"), "same\n");
    writeFileSync(join(b, "usr/share/doc/x/same"), "same\n");
    writeFileSync(join(a, "usr/share/doc/x/differs"), "one\n");
    writeFileSync(join(b, "usr/share/doc/x/differs"), "two\n");
    symlinkSync("same", join(a, "usr/share/doc/x/link"));
    symlinkSync("same", join(b, "usr/share/doc/x/link"));
    symlinkSync("same", join(a, "usr/share/doc/x/link2"));
    symlinkSync("differs", join(b, "usr/share/doc/x/link2"));
    writeFileSync(join(a, "usr/share/doc/x/dir-or-file"), "file\n");
    mkdirSync(join(b, "usr/share/doc/x/dir-or-file"));
    writeFileSync(join(a, "usr/share/doc/x/file-or-link"), "file\n");
    symlinkSync("same", join(b, "usr/share/doc/x/file-or-link"));
  });

  it("classifies each path, in a deterministic order", () => {
    const rep = report(["conflicts", ...layerArgs(a, b)], 1);
    const got = rep.conflicts.map((c) => [c.path.replace("/usr/share/doc/x/", ""), c.class, c.severity]);
    assert.deepEqual(got, [
      ["dir-or-file", "type-clash", "error"],
      ["file-or-link", "type-clash", "error"],
      ["differs", "file-collision", "warning"],
      ["link2", "file-collision", "warning"],
      ["link", "identical", "ok"],
      ["same", "identical", "ok"],
    ]);
    assert.equal(rep.conflicts[0]!.reason, "file vs dir");
    assert.deepEqual(rep.summary, { layers: 2, entries: 18, contested: 6, error: 2, warning: 2, info: 0, ok: 2, problems: 0 });
    assert.equal(runCli(["conflicts", "--json", ...layerArgs(a, b)]).stdout, runCli(["conflicts", "--json", ...layerArgs(a, b)]).stdout);
  });

  it("applies path overrides from the policy config and says so", () => {
    const cfg = JSON.parse(readFileSync(join(policiesDir, "default.json"), "utf8"));
    cfg.conflicts.overrides = [
      { path: "/usr/share/doc/**", severity: "info", reason: "docs never matter" },
      { path: "/usr/share/doc/x/differs", severity: "error" },
    ];
    const file = join(root, "config.json");
    writeFileSync(file, JSON.stringify(cfg));
    const rep = report(["conflicts", "--config", file, ...layerArgs(a, b)], 0);
    assert.ok(rep.conflicts.every((c) => c.severity === "info"));
    const clash = rep.conflicts.find((c) => c.path.endsWith("dir-or-file"))!;
    assert.deepEqual(clash.override, { glob: "/usr/share/doc/**", classSeverity: "error" });
    const human = runCli(["conflicts", "--config", file, ...layerArgs(a, b)]);
    assert.match(human.stdout, /dir-or-file {2}\[type-clash\] file vs dir \(override \/usr\/share\/doc\/\*\*: error -> info\)/);
  });
});

describe("check-install", () => {
  it("reports what installing a package on top of a set would break", () => {
    const rep = report(["check-install", v10, "--into", v11, "--into", app], 1);
    assert.equal(rep.command, "check-install");
    assert.equal(rep.conflicts.length, 1);
    assert.equal(rep.conflicts[0]!.class, "diamond-incompatible");
    assert.equal(rep.conflicts[0]!.diamonds![0]!.consumer, "/usr/bin/app");
  });

  it("leaves out conflicts the existing set already had", () => {
    const rep = report(["check-install", app, "--into", v11, "--into", v10], 0);
    assert.equal(rep.conflicts.length, 0);
    assert.equal(rep.summary.preexisting, 1);
  });

  it("covers a wrapped program launched inside a wrapped view", () => {
    const view = join(testDir("fhs-view-"), "view");
    mkdirSync(join(view, "usr/bin"), { recursive: true });
    wrapPackage(view, [v10]);
    const prog = join(testDir("fhs-prog-"), "prog");
    mkdirSync(join(prog, "usr/bin"), { recursive: true });
    copyFileSync(join(app, "usr/bin/app"), join(prog, "usr/bin/app"));
    chmodSync(join(prog, "usr/bin/app"), 0o755);
    wrapPackage(prog, [v11]);
    // Alone, the program sees v1.1 behind itself: fine.
    assert.equal(report(["conflicts", "--pkg", prog], 0).conflicts.length, 0);
    // Inside the view its own v1.1 still wins over the view's v1.0.
    const inside = report(["check-install", prog, "--into", view], 0);
    assert.equal(inside.conflicts[0]?.class, "shadowed-compatible");
    // A view that puts v1.0 first, then the program's dependency: the diamond.
    const both = report(["conflicts", "--pkg", view, "--pkg", prog], 1);
    assert.equal(both.conflicts[0]!.class, "diamond-incompatible");
    assert.match(both.conflicts[0]!.diamonds![0]!.consumer, /^\/usr\/raw\/bin\/app$|^\/usr\/bin\/app$/);
  });
});

describe("input errors and bad ELF files", () => {
  it("exit 2 for a missing layer, a file given as a layer, and no layers", () => {
    const missing = runCli(["conflicts", "--layer", join(root, "nope")]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /^fhs: layer .*nope: no such directory$/m);
    const file = runCli(["conflicts", "--layer", join(root, "src", "foo.c")]);
    assert.equal(file.status, 2);
    assert.match(file.stderr, /not a directory/);
    assert.equal(runCli(["conflicts"]).status, 2);
    const pkg = runCli(["conflicts", "--pkg", v10]);
    assert.equal(pkg.status, 2);
    assert.match(pkg.stderr, /not wrapped/);
  });

  it("reports a truncated or garbage ELF as bad, and still classifies", () => {
    const bad = join(root, "bad");
    mkdirSync(join(bad, lib), { recursive: true });
    const full = readFileSync(join(v11, lib, "libfoo.so.1"));
    writeFileSync(join(bad, lib, "libfoo.so.1"), full.subarray(0, 200));
    writeFileSync(join(bad, lib, "libgarbage.so.2"), Buffer.concat([full.subarray(0, 4), Buffer.alloc(60, 0xff)]));
    const rep = report(["conflicts", ...layerArgs(bad, v10)], 0);
    assert.equal(rep.conflicts[0]!.class, "file-collision");
    assert.deepEqual(rep.problems.map((p) => p.path), [`/${lib}/libfoo.so.1`, `/${lib}/libgarbage.so.2`]);
    for (const p of rep.problems) assert.match(p.reason, /^bad ELF: /);
  });

  it("the ELF reader survives every truncation and random corruption, each caught by a check of its own", () => {
    const full = readFileSync(join(app, "usr/bin/app"));
    const reader = (b: Buffer) => (off: number, len: number) => b.subarray(off, off + len);
    const good = parseElf(reader(full), full.length);
    assert.ok(good && !("bad" in good));
    assert.deepEqual(good.needs.find((n) => n.file === "libfoo.so.1")?.versions, ["FOO_1.1"]);
    // The symbol reader (dynamic symbols, versions, relocations) the same way.
    const syms = parseElfSymbols(reader(full), full.length);
    assert.ok(syms && !("bad" in syms));
    assert.ok(syms.syms.refs.some((r) => r.name === "foo_more" && r.version === "FOO_1.1" && r.file === "libfoo.so.1" && !r.load));
    // parseElf turns any exception into { bad: "malformed (...)" }: that is
    // the last resort, so a corruption that reaches it is a missing check.
    const checked = (res: ReturnType<typeof parseElf>, what: string) => {
      if (res && "bad" in res) assert.doesNotMatch(res.bad, /^malformed/, what);
      else if (res) for (const s of [...res.needed, ...res.defs, ...res.needs.flatMap((n) => [n.file, ...n.versions])]) assert.equal(typeof s, "string", what);
      return res;
    };
    // A cut file parses as the whole one (what it needs lies before the cut) or is truncated.
    for (let n = 0; n < full.length; n += 7) {
      const res = checked(parseElf(reader(full.subarray(0, n)), n), `cut at ${n}`);
      parseElfSymbols(reader(full.subarray(0, n)), n);
      if (res && "bad" in res) assert.match(res.bad, /^truncated: /, `cut at ${n}`);
      else assert.deepEqual(res, good, `cut at ${n}`);
    }
    // mulberry32: every byte position is reached (a plain LCG's low bits are not random).
    let seed = 42;
    const rand = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return (t ^ (t >>> 14)) >>> 0;
    };
    const causes = new Set<string>();
    const span = Math.min(full.length, 16384);
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.from(full);
      // The magic stays: the corruption is in the structures the reader follows.
      for (let k = 1 + (rand() % 8); k > 0; k--) b[4 + (rand() % (span - 4))] = rand() & 0xff;
      const res = checked(parseElf(reader(b), b.length), `corruption ${i}`);
      if (res && "bad" in res) causes.add(res.bad.replace(/[:(].*/, ""));
      const sy = parseElfSymbols(reader(b), b.length);
      assert.ok(sy === null || "bad" in sy || Array.isArray(sy.syms.refs));
    }
    // The loop reached the reader's checks, not only the first one.
    assert.ok(causes.size >= 5, `only ${[...causes].join(", ")}`);
    const lib11 = readFileSync(join(v11, lib, "libfoo.so.1"));
    const info = parseElf(reader(lib11), lib11.length);
    assert.ok(info && !("bad" in info));
    assert.equal(info.soname, "libfoo.so.1");
    assert.deepEqual(info.defs, ["FOO_1.0", "FOO_1.1"]);
  });
});
