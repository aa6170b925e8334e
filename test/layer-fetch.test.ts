// `fhs layer fetch`: a Debian package, its dependency closure as apt solves
// it, and Debian's Essential base, each its own layer, listed in a layer set
// that `--layers-from` hands to wrap, env, build and conflicts. Then real
// programs packaged that way (the requested package is the wrapped dir,
// everything else a layer) run as the unprivileged user: make running a
// recipe, git init/commit/clone, python's subprocess with shell=True.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import type { LayerSet } from "../src/layerset.js";
import { schemaValidator } from "../src/policy/schemas.js";
import { cacheRoot, layerDir } from "./helpers/debian.js";
import { runCli, runCliUnprivileged, runUnprivileged, testArtifacts, testDir, testUser } from "./helpers/env.js";
import { wrapPackage } from "./helpers/wrapped.js";

// .debs and apt's package cache for fetches, shared by runs like the other
// Debian test data; layers go to the same store the other tests import into.
const fetchCache = join(cacheRoot, "fetch");
const fetchEnv = { FHS_CACHE_DIR: fetchCache };

function fetch(args: string[], env: Record<string, string> = {}) {
  return runCli(["layer", "fetch", ...args], { env: { ...fetchEnv, ...env }, timeoutMs: 600_000 });
}

function readSet(file: string): LayerSet {
  return JSON.parse(readFileSync(file, "utf8")) as LayerSet;
}

/** Fetches PKGS with the base into the shared store; the set file and (optionally) a package dir in a fresh test dir. */
function fetchSet(pkgs: string[], opts: { packageDir?: boolean; noBase?: boolean } = {}): { set: string; pkg?: string; stderr: string } {
  const dir = testDir("fhs-fetch-");
  const set = join(dir, "set.json");
  const pkg = opts.packageDir ? join(dir, pkgs[0]!) : undefined;
  const r = fetch([...pkgs, "--into", layerDir, "--set", set, ...(opts.noBase ? ["--no-base"] : []), ...(pkg ? ["--package", pkg] : [])]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${set}\n${pkg ? `${pkg}\n` : ""}`);
  return { set, pkg, stderr: r.stderr };
}

/** The archive's records of exactly these versions (apt-cache show), by package. */
function archiveRecords(layers: LayerSet["layers"]): Map<string, string> {
  const out = execFileSync("apt-cache", ["show", ...layers.map((l) => `${l.package}:${l.architecture}=${l.version}`)], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const records = new Map<string, string>();
  for (const stanza of out.split("\n\n")) {
    const name = /^Package: (.*)$/m.exec(stanza)?.[1];
    if (name && !records.has(name)) records.set(name, stanza.replace(/\n\s+/g, " "));
  }
  return records;
}
const field = (record: string | undefined, name: string) => new RegExp(`^${name}: (.*)$`, "m").exec(record ?? "")?.[1] ?? "";

/** Names in a Depends-like field: clauses of alternatives, versions and arch qualifiers dropped. */
function clauses(field: string): string[][] {
  if (!field) return [];
  return field.split(",").map((c) => c.split("|").map((a) => a.trim().split(/[\s(:]/)[0]!));
}

/** The archive's Essential: yes packages, read from apt's own dump of the package lists. */
function essentialFromArchive(): string[] {
  const r = spawnSync("apt-cache", ["dumpavail"], { encoding: "utf8", maxBuffer: 512 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr);
  const names = new Set<string>();
  for (const stanza of r.stdout.split("\n\n")) if (/^Essential: yes$/m.test(stanza)) names.add(/^Package: (.*)$/m.exec(stanza)![1]!);
  return [...names];
}

describe("fhs layer fetch hello: the closure and the base, each its own layer", () => {
  let setFile: string;
  let set: LayerSet;
  let firstStderr: string;
  before(() => {
    const f = fetchSet(["hello"]);
    setFile = f.set;
    firstStderr = f.stderr;
    set = readSet(setFile);
  });

  test("the set validates against policies/schema/layer-set.schema.json", () => {
    const validate = schemaValidator("layer-set");
    assert.ok(validate(set), JSON.stringify(validate.errors));
  });

  test("hello first (requested), then libc6 and the rest of its closure, then the base with dash and coreutils", () => {
    const role = (p: string) => set.layers.find((l) => l.package === p)?.role;
    assert.equal(set.layers[0]!.package, "hello");
    assert.deepEqual(set.layers.filter((l) => l.role === "requested").map((l) => l.package), ["hello"]);
    assert.equal(role("libc6"), "dependency");
    for (const p of ["dash", "coreutils", "bash", "libc-bin", "base-files"]) assert.equal(role(p), "base", p);
    // Roles come in blocks: requested, dependency, base.
    const order = set.layers.map((l) => ["requested", "dependency", "base"].indexOf(l.role));
    assert.deepEqual(order, [...order].sort((a, b) => a - b));
    assert.equal(set.base, true);
    assert.deepEqual(set.requested, ["hello"]);
  });

  test("every layer is its own directory, imported from its own .deb", () => {
    assert.equal(new Set(set.layers.map((l) => l.path)).size, set.layers.length);
    for (const l of set.layers) {
      const meta = JSON.parse(readFileSync(join(l.path, ".fhs", "deb.json"), "utf8")) as { package: string; version: string };
      assert.deepEqual([meta.package, meta.version], [l.package, l.version], l.path);
      assert.equal(statSync(l.path).mode & 0o777, 0o555, l.path);
    }
    const dash = set.layers.find((l) => l.package === "dash")!.path;
    assert.ok(statSync(join(dash, "usr/bin/dash")).isFile());
    assert.equal(readdirSync(join(dash, "usr/bin")).sort().join(" "), "dash sh");
    // libc-bin (Essential) brings the C.UTF-8 locale that programs assume.
    assert.ok(existsSync(join(set.layers.find((l) => l.package === "libc-bin")!.path, "usr/lib/locale/C.utf8/LC_CTYPE")));
  });

  test("the set is a full closure: every Depends and Pre-Depends of every member is met inside it", () => {
    const records = archiveRecords(set.layers);
    assert.equal(records.size, set.layers.length);
    const members = new Set(set.layers.map((l) => l.package!));
    for (const l of set.layers) for (const v of clauses(field(records.get(l.package!), "Provides"))) members.add(v[0]!);
    for (const l of set.layers) {
      const record = records.get(l.package!);
      const deps = [...clauses(field(record, "Pre-Depends")), ...clauses(field(record, "Depends"))];
      for (const c of deps) assert.ok(c.some((a) => members.has(a)), `${l.package}: ${c.join(" | ")} unmet`);
    }
  });

  test("every Essential: yes package of the archive is in the base (or already in the closure)", () => {
    const members = new Set(set.layers.map((l) => l.package));
    const essential = essentialFromArchive();
    assert.ok(essential.includes("dash") && essential.includes("coreutils"), essential.join(" "));
    for (const p of essential) assert.ok(members.has(p), p);
    // apt flags itself essential, Debian does not: it is not in the base.
    assert.ok(!members.has("apt"));
  });

  test("a second fetch downloads and imports nothing, and writes the same set", () => {
    assert.match(firstStderr, /^fhs: hello: \d+ packages \(1 requested, \d+ dependencies, \d+ base\)$/m);
    const again = join(testDir("fhs-fetch-"), "again.json");
    const r = fetch(["hello", "--into", layerDir, "--set", again]);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /^fhs: (get|import|download) /m);
    assert.match(r.stderr, new RegExp(`^fhs: ${set.layers.length} layers in ${layerDir}: 0 downloaded, 0 imported$`, "m"));
    assert.deepEqual(readSet(again), set);
  });

  test("--json prints the set", () => {
    const r = fetch(["hello", "--into", layerDir, "--set", join(testDir("fhs-fetch-"), "s.json"), "--json"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), set);
  });

  test("fhs env --layers-from: every layer of the set, hello and /bin/sh included", () => {
    const r = runCliUnprivileged(["env", "--policy", testArtifacts().policy, "--layers-from", setFile, "--", "sh", "-c", "hello; readlink -f /bin/sh"], {
      env: { FHS_LAUNCHER: testArtifacts().launcher },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "Hello, world!\n/usr/bin/dash\n");
  });

  test("fhs conflicts --layers-from: the report covers every layer of the set", () => {
    const r = runCli(["conflicts", "--layers-from", setFile, "--json"]);
    assert.ok(r.status === 0 || r.status === 1, r.stderr);
    const report = JSON.parse(r.stdout) as { summary: { layers: number } };
    assert.equal(report.summary.layers, set.layers.length);
  });

  test("fhs check-install --layers-from: installing a layer into the set is checked against every layer of it", () => {
    const hello = set.layers[0]!.path;
    const r = runCli(["check-install", hello, "--layers-from", setFile, "--json"]);
    assert.ok(r.status === 0 || r.status === 1, r.stderr);
    const report = JSON.parse(r.stdout) as { summary: { layers: number } };
    // hello's layer is both the one installed and a member of the set: counted once.
    assert.equal(report.summary.layers, set.layers.length);
  });

  test("fhs build --layers-from: a build sees the set's /usr, shell included", () => {
    const out = join(testDir("fhs-fetch-build-"), "out");
    const r = runCliUnprivileged(
      ["build", "--policy", testArtifacts().policy, "--out", out, "--layers-from", setFile, "--", "sh", "-c", "mkdir -p /usr/share/greeting && hello > /usr/share/greeting/text"],
      { env: { FHS_LAUNCHER: testArtifacts().launcher } },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(join(out, "usr/share/greeting/text"), "utf8"), "Hello, world!\n");
  });

  test("a bad set file is one clear error, exit 2", () => {
    const dir = testDir("fhs-badset-");
    const bad = join(dir, "bad.json");
    writeFileSync(bad, `{\n  "fhsLayerSet": 1,\n  "layers": [\n    { "path": "x" }\n  ]\n}\n`);
    for (const cmd of [["conflicts"], ["env"], ["wrap", dir]]) {
      const r = runCli([...cmd, "--layers-from", bad]);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr, `fhs: ${bad}:4: /layers/0: missing key "role"\n`);
    }
    writeFileSync(bad, "{ not json");
    const r = runCli(["conflicts", "--layers-from", bad]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, new RegExp(`^fhs: ${bad}:1: not JSON: `));
    const missing = runCli(["conflicts", "--layers-from", join(dir, "none.json")]);
    assert.equal(missing.stderr, `fhs: ${join(dir, "none.json")}: no such file\n`);
  });
});

describe("fhs layer fetch into a fresh store and cache", () => {
  test("--no-base: hello and its closure are downloaded and imported once, read-only; the second fetch finds them", () => {
    const dir = testDir("fhs-fetch-fresh-");
    const env = { FHS_CACHE_DIR: join(dir, "cache") };
    const store = join(dir, "store");
    const r = fetch(["hello", "--into", store, "--no-base"], env);
    assert.equal(r.status, 0, r.stderr);
    const setFile = join(store, "hello.set.json");
    assert.equal(r.stdout, `${setFile}\n`);
    const set = readSet(setFile);
    const names = set.layers.map((l) => l.package!);
    assert.equal(names[0], "hello");
    assert.ok(names.includes("libc6"));
    assert.ok(!names.includes("dash"), "no base with --no-base");
    assert.ok(set.layers.every((l) => l.role !== "base"));
    const n = set.layers.length;
    assert.match(r.stderr, new RegExp(`^fhs: download ${n} packages \\(`, "m"));
    for (const p of names) assert.match(r.stderr, new RegExp(`^fhs: get ${p} `, "m"));
    for (const p of names) assert.match(r.stderr, new RegExp(`^fhs: import ${p} `, "m"));
    assert.match(r.stderr, new RegExp(`^fhs: ${n} layers in ${store}: ${n} downloaded, ${n} imported$`, "m"));
    assert.deepEqual(readdirSync(store).sort(), [...set.layers.map((l) => l.path.slice(store.length + 1)), "hello.set.json"].sort());
    assert.deepEqual(readdirSync(join(dir, "cache", "debs")).filter((f) => f.startsWith(".")), []);

    const again = fetch(["hello", "--into", store, "--no-base"], env);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`^fhs: ${n} layers in ${store}: 0 downloaded, 0 imported$`, "m"));
  });

  test("a virtual package with one provider is that provider, as in apt: libz-dev is zlib1g-dev", () => {
    const { set } = fetchSet(["libz-dev"], { noBase: true });
    const layers = readSet(set).layers;
    assert.deepEqual(layers.filter((l) => l.role === "requested").map((l) => l.package), ["zlib1g-dev"]);
    assert.equal(layers[0]!.package, "zlib1g-dev");
    assert.ok(layers.some((l) => l.package === "zlib1g" && l.role === "dependency"));
  });

  test("a download that fails: one line naming the package and the cause, exit 2, no layer and no set", () => {
    const dir = testDir("fhs-fetch-fail-");
    // The user's apt configuration applies: here a proxy nothing listens on.
    const conf = join(dir, "apt.conf");
    writeFileSync(conf, 'Acquire::http::Proxy "http://127.0.0.1:9/";\nAcquire::Retries "0";\n');
    const store = join(dir, "store");
    const r = fetch(["hello", "--into", store, "--no-base"], { FHS_CACHE_DIR: join(dir, "cache"), APT_CONFIG: conf });
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.trim().split("\n").filter((l) => !/^fhs: (hello: \d+ packages|download \d+ packages)/.test(l));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^fhs: (hello|libc6|libgcc-s1|gcc-12-base) \S+: download failed \(.*127\.0\.0\.1.*\)$/);
    assert.ok(!existsSync(store));
    assert.deepEqual(readdirSync(join(dir, "cache", "debs")), []);
  });
});

describe("fhs layer fetch: errors", () => {
  const store = join(testDir("fhs-fetch-err-"), "store");
  const cases: [string[], RegExp][] = [
    [["no-such-package-fhs"], /^fhs: no-such-package-fhs: no such package in the archive \(apt: Unable to locate package no-such-package-fhs\)$/],
    [["hello=9.9"], /^fhs: hello=9\.9: no such version in the archive \(apt: Version '9\.9' for 'hello' was not found\)$/],
    // A name is not a regular expression: "hel.o" must not become hello.
    [["hel.o"], /^fhs: hel\.o: no such package in the archive/],
    [["awk"], /^fhs: awk: no installable package of that name \(a virtual package; provided by: .*\bmawk\b.*; choose one\)$/],
    // Architecture: all, but it depends on FreeBSD's console tools, which no Linux architecture has.
    [["console-setup-freebsd"], /^fhs: console-setup-freebsd: dependency cannot be satisfied: Depends: (vidcontrol|kbdcontrol) but it is not installable/],
    [["hello:no-such-arch"], /^fhs: hello:no-such-arch: not \S+; fhs layer fetch makes sets for apt's architecture \(\S+\) only$/],
    [["hello;true"], /^fhs: hello;true: not a package name \(expected NAME, NAME=VERSION or NAME\/RELEASE\)$/],
  ];
  for (const [args, message] of cases) {
    test(`${args.join(" ")}: one line, exit 2, nothing written`, () => {
      const r = fetch([...args, "--into", store]);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr.split("\n").length, 2, r.stderr);
      assert.match(r.stderr.trim(), message);
      assert.equal(r.stdout, "");
      assert.ok(!existsSync(store));
    });
  }
});

describe("real programs packaged the Nix way from fetched sets, as the unprivileged user", () => {
  const run = (argv: string[], cwd?: string) => runUnprivileged(argv, { cwd, env: { HOME: testUser.home } });

  test("fhs wrap --layers-from: the package is DIR, the set's requested layers are not added again", () => {
    const { set, pkg } = fetchSet(["hello"], { packageDir: true });
    assert.ok(!existsSync(join(pkg!, ".fhs/deb.json")), "the layer's import record is not the package's (its maintainer scripts are, in .fhs/deb)");
    assert.ok(statSync(join(pkg!, "usr/bin/hello")).mode & 0o200, "the package dir is writable");
    wrapPackage(pkg!, [], ["--layers-from", set]);
    const manifest = JSON.parse(readFileSync(join(pkg!, ".fhs/manifest.json"), "utf8")) as { layers: { path: string }[] };
    const layers = readSet(set).layers;
    assert.deepEqual(
      manifest.layers.map((l) => l.path),
      // Its programs, its install-time state (made at wrap), itself, then the set's other layers.
      [join(pkg!, ".fhs/raw"), join(pkg!, ".fhs/state"), pkg!, ...layers.filter((l) => l.role !== "requested").map((l) => l.path)],
    );
    const hello = layers[0]!.path;
    assert.ok(statSync(join(hello, "usr/bin/hello")).isFile() && !lstatSync(join(hello, "usr/bin/hello")).isSymbolicLink(), "the layer is untouched");
    const r = run([join(pkg!, "usr/bin/hello")]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "Hello, world!\n");
  });

  describe("GNU make runs a recipe", () => {
    const makefile = "all:\n\t@echo \"recipe for $@ ran by $$(readlink /proc/$$$$/exe)\"\n";
    test("with the base: /bin/sh is dash from its own layer", () => {
      const { set, pkg } = fetchSet(["make"], { packageDir: true });
      wrapPackage(pkg!, [], ["--layers-from", set]);
      const work = testDir("fhs-make-");
      writeFileSync(join(work, "Makefile"), makefile);
      const r = run([join(pkg!, "usr/bin/make"), "-s", "-C", work]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, "recipe for all ran by /usr/bin/dash\n");
    });
    test("without it (--no-base): make: /bin/sh: No such file or directory", () => {
      const { set, pkg } = fetchSet(["make"], { packageDir: true, noBase: true });
      wrapPackage(pkg!, [], ["--layers-from", set]);
      const work = testDir("fhs-make-");
      writeFileSync(join(work, "Makefile"), makefile);
      const r = run([join(pkg!, "usr/bin/make"), "-s", "-C", work]);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /make: \/bin\/sh: No such file or directory/);
    });
  });

  test("git: init, commit, and clone of a local repository", () => {
    const { set, pkg } = fetchSet(["git"], { packageDir: true });
    wrapPackage(pkg!, [], ["--layers-from", set]);
    const git = join(pkg!, "usr/bin/git");
    const work = testDir("fhs-git-");
    const steps = [
      [git, "init", "-q", "-b", "main", "origin"],
      [git, "-C", "origin", "-c", "user.name=T", "-c", "user.email=t@example.org", "commit", "-q", "--allow-empty", "-m", "first"],
      [git, "clone", "-q", "origin", "copy"],
      [git, "-C", "copy", "log", "--format=%s %an"],
    ];
    let out = "";
    for (const argv of steps) {
      const r = run(argv, work);
      assert.equal(r.status, 0, `${argv.slice(1).join(" ")}: ${r.stderr}`);
      out = r.stdout;
    }
    assert.equal(out, "first T\n");
  });

  test("python: subprocess.run(..., shell=True) runs /bin/sh", () => {
    // python3.11-minimal holds the interpreter itself (python3's /usr/bin/python3
    // is a symlink into it, from the python3-minimal package).
    const { set, pkg } = fetchSet(["python3.11-minimal"], { packageDir: true });
    wrapPackage(pkg!, [], ["--layers-from", set]);
    const script = 'import subprocess; r = subprocess.run("echo hi from $0", shell=True, capture_output=True, text=True); print(r.returncode, r.stdout.strip())';
    const r = run([join(pkg!, "usr/bin/python3.11"), "-c", script]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "0 hi from /bin/sh\n");
  });
});
