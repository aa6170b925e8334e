// Conflict verdicts against what glibc's ld.so really does (docs/CONFLICTS.md,
// "Classes"). Each case builds libraries with gcc and linker version scripts,
// gets the verdict from the real CLI (`fhs conflicts --pkg`, `fhs
// check-install`), then runs the consumer through its real wrapper, in its
// view, as the unprivileged user, and checks that the severity predicted the
// outcome (the install-time state cases run the programs the packages' own
// maintainer scripts configured):
//   error   the consumer does not start (ld.so fails it before main);
//   warning it starts; a loader message, or it fails when it calls what the
//           report names;
//   info    it runs, whatever it calls.
import assert from "node:assert/strict";
import { execFileSync, type SpawnSyncReturns } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { debLayers } from "./helpers/debian.js";
import { isRoot, runCliUnprivileged, runUnprivileged, testArtifacts, testDir, testUser } from "./helpers/env.js";
import { report, type Report } from "./helpers/report.js";
import { wrapPackage } from "./helpers/wrapped.js";

const lib = "usr/lib/x86_64-linux-gnu";
let root: string;
let src: string;
let libc: string[];

/** What a run of the consumer showed: did main start, the exit status, stderr. */
function run(pkg: string, arg = ""): SpawnSyncReturns<string> & { started: boolean } {
  const r = runUnprivileged([join(pkg, "usr/bin/app"), ...(arg ? [arg] : [])]);
  return Object.assign(r, { started: r.stdout.startsWith("started\n") });
}

const give = (p: string) => {
  if (isRoot) execFileSync("chown", ["-R", "-h", `${testUser.uid}:${testUser.gid}`, p]);
};

/** A layer holding libfoo.so.1 built from foo.c with the given symbols, a
 * version script (or none) and an identity foo_id() returns. With `real`, the
 * Debian way: the file is libfoo.so.REAL and libfoo.so.1 links to it. */
function libLayer(name: string, o: { defs: string[]; map: string | null; real?: string; dir?: string }): string {
  const dir = join(root, name);
  const libDir = o.dir ?? lib;
  mkdirSync(join(dir, libDir), { recursive: true });
  const file = o.real ? `libfoo.so.${o.real}` : "libfoo.so.1";
  const args = ["-shared", "-fPIC", "-o", join(dir, libDir, file), "-Wl,-soname,libfoo.so.1", `-DID="${name}"`, ...o.defs.map((d) => `-DHAVE_${d}`)];
  if (o.map !== null) {
    writeFileSync(join(src, `${name}.map`), o.map);
    args.push(`-Wl,--version-script,${name}.map`);
  }
  execFileSync("gcc", [...args, "foo.c"], { cwd: src, stdio: ["ignore", "ignore", "inherit"] });
  if (o.real) symlinkSync(file, join(dir, libDir, "libfoo.so.1"));
  give(dir);
  return dir;
}

/** A consumer linked against `against`'s libfoo.so.1, as a layer (for
 * check-install) and as a package wrapped with `layers` below it. */
function consumer(name: string, against: string, flags: string[], layers: string[], source = "app.c"): { pkg: string; layer: string } {
  const bin = join(src, name);
  execFileSync("gcc", ["-o", bin, ...flags, source, join(against, lib, "libfoo.so.1")], { cwd: src, stdio: ["ignore", "ignore", "inherit"] });
  const layer = join(root, `${name}-layer`);
  mkdirSync(join(layer, "usr/bin"), { recursive: true });
  copyFileSync(bin, join(layer, "usr/bin/app"));
  chmodSync(join(layer, "usr/bin/app"), 0o755);
  const pkg = join(testDir(`fhs-${name}-`), name);
  cpSync(layer, pkg, { recursive: true });
  give(layer);
  give(pkg);
  wrapPackage(pkg, [...layers, ...libc]);
  return { pkg, layer };
}

/** The one conflict on libfoo.so.1 in the package's view. */
function verdict(rep: Report) {
  const c = rep.conflicts.filter((x) => x.path === `/${lib}/libfoo.so.1`);
  assert.equal(c.length, 1, JSON.stringify(rep.conflicts));
  return c[0]!;
}

const FULL_MAP = "FOO_1.0 { global: foo_id; bar; data_obj; local: *; };\nFOO_1.1 { global: baz; } FOO_1.0;\n";
let full: string;

before(() => {
  root = testDir("fhs-loader-");
  src = join(root, "src");
  mkdirSync(src);
  writeFileSync(
    join(src, "foo.c"),
    [
      "const char *foo_id(void) { return ID; }",
      "#ifdef HAVE_BAR\nint bar(void) { return 2; }\n#endif",
      "#ifdef HAVE_DATA\nint data_obj = 42;\n#endif",
      "#ifdef HAVE_BAZ\nint baz(void) { return 3; }\n#endif",
      "",
    ].join("\n"),
  );
  // main starts, prints "started", and touches the library only as asked: so
  // a run without an argument shows whether ld.so let the program start.
  writeFileSync(
    join(src, "app.c"),
    `#include <stdio.h>
#include <string.h>
const char *foo_id(void);
int bar(void);
#ifdef DATA
extern int data_obj;
#endif
#ifdef NEW
int baz(void);
#endif
int main(int argc, char **argv) {
  const char *a = argc > 1 ? argv[1] : "";
  printf("started\\n");
  fflush(stdout);
  if (!strcmp(a, "id")) printf("%s\\n", foo_id());
  if (!strcmp(a, "bar")) printf("bar %d\\n", bar());
#ifdef DATA
  if (!strcmp(a, "data")) printf("data %d\\n", data_obj);
#endif
#ifdef NEW
  if (!strcmp(a, "baz")) printf("baz %d\\n", baz());
#endif
  return 0;
}
`,
  );
  // Its one reference into libfoo is weak: it runs without bar. Linked with
  // --no-as-needed, or a weak reference alone would not keep libfoo needed.
  writeFileSync(
    join(src, "weak.c"),
    `#include <stdio.h>
extern int bar(void) __attribute__((weak));
int main(void) {
  printf("started\\n%s\\n", bar ? "has bar" : "no bar");
  return 0;
}
`,
  );
  libc = debLayers(["libc6"], { withDeps: true });
  full = libLayer("full", { defs: ["BAR", "DATA", "BAZ"], map: FULL_MAP });
});

describe("conflict verdicts agree with ld.so", () => {
  it("missing version node: diamond-incompatible, error, exit 1; the consumer does not start", () => {
    const old = libLayer("old", { defs: ["BAR", "DATA"], map: "FOO_1.0 { global: foo_id; bar; data_obj; local: *; };\n" });
    const { pkg, layer } = consumer("app-new", full, ["-DNEW"], [old, full]);
    const c = verdict(report(["conflicts", "--pkg", pkg], 1));
    assert.equal(c.class, "diamond-incompatible");
    assert.equal(c.severity, "error");
    assert.equal(c.winner.layer, old);
    assert.deepEqual(c.diamonds?.map((d) => [d.version, d.loser]), [["FOO_1.1", full]]);
    // The same through check-install: the old library installed over the set.
    assert.equal(verdict(report(["check-install", old, "--into", full, "--into", layer], 1)).class, "diamond-incompatible");
    const r = run(pkg);
    assert.equal(r.started, false);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /version `FOO_1\.1' not found \(required by .*app\)/);
  });

  it("missing function, bound lazily: missing-symbol-lazy, warning, exit 0; starts, fails only when it calls the function", () => {
    const nobar = libLayer("nobar", { defs: ["DATA", "BAZ"], map: FULL_MAP });
    const { pkg, layer } = consumer("app-lazy", full, [], [nobar, full]);
    const c = verdict(report(["conflicts", "--pkg", pkg], 0));
    assert.equal(c.class, "missing-symbol-lazy");
    assert.equal(c.severity, "warning");
    assert.deepEqual(
      c.unbound?.map((u) => [u.symbol, u.version, u.binding, u.cause]),
      [["bar", "FOO_1.0", "lazy", "absent"]],
    );
    assert.equal(verdict(report(["check-install", nobar, "--into", full, "--into", layer], 0)).severity, "warning");
    const r = run(pkg);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    // The winner is the library in the view; what it has still binds.
    assert.equal(run(pkg, "id").stdout, "started\nnobar\n");
    const call = run(pkg, "bar");
    assert.equal(call.started, true);
    assert.equal(call.status, 127);
    assert.match(call.stderr, /symbol lookup error: .*undefined symbol: bar, version FOO_1\.0/);
  });

  it("missing function, BIND_NOW (-z now): missing-symbol, error, exit 1; the consumer does not start", () => {
    const nobar = libLayer("nobar-now", { defs: ["DATA", "BAZ"], map: FULL_MAP });
    const { pkg, layer } = consumer("app-now", full, ["-Wl,-z,now"], [nobar, full]);
    const c = verdict(report(["conflicts", "--pkg", pkg], 1));
    assert.equal(c.class, "missing-symbol");
    assert.equal(c.severity, "error");
    assert.deepEqual(c.unbound?.map((u) => [u.symbol, u.binding]), [["bar", "load"]]);
    assert.equal(verdict(report(["check-install", nobar, "--into", full, "--into", layer], 1)).class, "missing-symbol");
    const r = run(pkg);
    assert.equal(r.started, false);
    assert.equal(r.status, 127);
    assert.match(r.stderr, /undefined symbol: bar, version FOO_1\.0/);
  });

  it("missing data object (a copy relocation, bound at load even without BIND_NOW): missing-symbol, error; the consumer does not start", () => {
    const nodata = libLayer("nodata", { defs: ["BAR", "BAZ"], map: FULL_MAP });
    const { pkg } = consumer("app-data", full, ["-DDATA"], [nodata, full]);
    const c = verdict(report(["conflicts", "--pkg", pkg], 1));
    assert.equal(c.class, "missing-symbol");
    assert.deepEqual(c.unbound?.map((u) => [u.symbol, u.version, u.binding, u.cause]), [["data_obj", "FOO_1.0", "load", "absent"]]);
    const r = run(pkg);
    assert.equal(r.started, false);
    assert.equal(r.status, 127);
    assert.match(r.stderr, /undefined symbol: data_obj, version FOO_1\.0/);
  });

  it("unversioned library over a versioned one, lazy consumer: missing-symbol-lazy, warning; starts with ld.so's message, aborts at the first call", () => {
    const plain = libLayer("plain", { defs: ["BAR", "DATA", "BAZ"], map: null });
    const { pkg } = consumer("app-plain-lazy", full, [], [plain, full]);
    const c = verdict(report(["conflicts", "--pkg", pkg], 0));
    assert.equal(c.class, "missing-symbol-lazy");
    assert.equal(c.severity, "warning");
    assert.ok(c.unbound!.every((u) => u.cause === "unversioned" && u.binding === "lazy"));
    assert.deepEqual(c.unbound!.map((u) => u.symbol).sort(), ["bar", "foo_id"]);
    const r = run(pkg);
    assert.equal(r.status, 0);
    assert.match(r.stderr, /libfoo\.so\.1: no version information available \(required by .*app\)/);
    // Every versioned reference bound to it trips ld.so's check_match assertion.
    const call = run(pkg, "id");
    assert.equal(call.started, true);
    assert.equal(call.status, 127);
    assert.match(call.stderr, /Inconsistency detected by ld\.so: dl-lookup\.c: \d+: check_match: Assertion/);
  });

  it("unversioned library over a versioned one, BIND_NOW consumer: missing-symbol, error; the consumer does not start", () => {
    const plain = libLayer("plain-now", { defs: ["BAR", "DATA", "BAZ"], map: null });
    const { pkg } = consumer("app-plain-now", full, ["-Wl,-z,now"], [plain, full]);
    const c = verdict(report(["conflicts", "--pkg", pkg], 1));
    assert.equal(c.class, "missing-symbol");
    assert.ok(c.unbound!.every((u) => u.cause === "unversioned" && u.binding === "load"));
    const r = run(pkg);
    assert.equal(r.started, false);
    assert.equal(r.status, 127);
    assert.match(r.stderr, /no version information available/);
  });

  it("unversioned library over a versioned one, the consumer's only reference weak and not defined there: unversioned-shadow, warning; runs, with ld.so's message", () => {
    const plain = libLayer("plain-nobar", { defs: ["DATA", "BAZ"], map: null });
    const { pkg } = consumer("app-weak", full, ["-Wl,--no-as-needed"], [plain, full], "weak.c");
    const c = verdict(report(["conflicts", "--pkg", pkg], 0));
    assert.equal(c.class, "unversioned-shadow");
    assert.equal(c.severity, "warning");
    assert.equal(c.unbound, undefined);
    const r = run(pkg);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "started\nno bar\n");
    assert.match(r.stderr, /libfoo\.so\.1: no version information available \(required by .*app\)/);
  });

  it("the same weak reference, the unversioned winner defining it: missing-symbol, error; ld.so's assertion before main", () => {
    const plain = libLayer("plain-weak", { defs: ["BAR", "DATA", "BAZ"], map: null });
    const { pkg } = consumer("app-weak-bound", full, ["-Wl,--no-as-needed"], [plain, full], "weak.c");
    const c = verdict(report(["conflicts", "--pkg", pkg], 1));
    assert.equal(c.class, "missing-symbol");
    assert.deepEqual(c.unbound?.map((u) => [u.symbol, u.version, u.binding, u.cause]), [["bar", "FOO_1.0", "load", "unversioned"]]);
    const r = run(pkg);
    assert.equal(r.started, false);
    assert.equal(r.status, 127);
    assert.match(r.stderr, /check_match: Assertion/);
  });

  it("versioned library over the unversioned one the consumer was linked against: shadowed-compatible, info; runs", () => {
    const plain = libLayer("plain-base", { defs: ["BAR", "DATA", "BAZ"], map: null });
    const { pkg } = consumer("app-unversioned", plain, [], [full, plain]);
    const c = verdict(report(["conflicts", "--pkg", pkg], 0));
    assert.equal(c.class, "shadowed-compatible");
    assert.equal(c.severity, "info");
    for (const arg of ["id", "bar"]) {
      const r = run(pkg, arg);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, "");
    }
    assert.equal(run(pkg, "id").stdout, "started\nfull\n");
  });

  it("a SONAME provided by two layers: the first layer's wins, in the report and in the view, whichever order", () => {
    // Debian's way: libfoo.so.1 links to the real file, a different one per layer.
    const a = libLayer("soname-a", { defs: ["BAR", "DATA", "BAZ"], map: FULL_MAP, real: "1.0.0" });
    const b = libLayer("soname-b", { defs: ["BAR", "DATA", "BAZ"], map: FULL_MAP, real: "1.2.0" });
    for (const [first, second, id] of [[a, b, "soname-a"], [b, a, "soname-b"]] as const) {
      const { pkg } = consumer(`app-${id}`, full, [], [first, second]);
      const c = verdict(report(["conflicts", "--pkg", pkg], 0));
      assert.equal(c.class, "shadowed-compatible");
      assert.equal(c.severity, "info");
      assert.equal(c.winner.layer, first);
      assert.deepEqual(c.losers.map((l) => l.layer), [second]);
      const r = run(pkg, "id");
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `started\n${id}\n`);
    }
  });

  it("one SONAME in two directories: the loader's search order (the multiarch dir first), not the layer order, picks; the verdict follows it", () => {
    const OLD_MAP = "FOO_1.0 { global: foo_id; bar; data_obj; local: *; };\n";
    // The first layer holds the library the consumer needs, in /usr/lib; the
    // second an older one in /usr/lib/x86_64-linux-gnu, which ld.so.cache lists first.
    const fullUsrLib = libLayer("usrlib-full", { defs: ["BAR", "DATA", "BAZ"], map: FULL_MAP, dir: "usr/lib" });
    const oldMultiarch = libLayer("multiarch-old", { defs: ["BAR", "DATA"], map: OLD_MAP });
    const bad = consumer("app-dirs-bad", full, ["-DNEW"], [fullUsrLib, oldMultiarch]);
    const c = verdict(report(["conflicts", "--pkg", bad.pkg], 1));
    assert.equal(c.class, "diamond-incompatible");
    assert.equal(c.winner.layer, oldMultiarch);
    assert.deepEqual(c.losers.map((l) => [l.layer, l.path]), [[fullUsrLib, "/usr/lib/libfoo.so.1"]]);
    assert.deepEqual(c.diamonds?.map((d) => [d.version, d.loser]), [["FOO_1.1", fullUsrLib]]);
    assert.match(c.reason, /the loader's search order takes \/usr\/lib\/x86_64-linux-gnu\/libfoo\.so\.1 before \/usr\/lib\/libfoo\.so\.1$/);
    const r = run(bad.pkg);
    assert.equal(r.started, false);
    assert.match(r.stderr, /version `FOO_1\.1' not found/);
    // The other way round: the second layer's multiarch copy is the one loaded.
    const oldUsrLib = libLayer("usrlib-old", { defs: ["BAR", "DATA"], map: OLD_MAP, dir: "usr/lib" });
    const good = consumer("app-dirs-good", full, ["-DNEW"], [oldUsrLib, full]);
    const g = verdict(report(["conflicts", "--pkg", good.pkg], 0));
    assert.equal(g.class, "shadowed-compatible");
    assert.equal(g.severity, "info");
    assert.equal(g.winner.layer, full);
    const ok = run(good.pkg, "baz");
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, "started\nbaz 3\n");
    assert.equal(run(good.pkg, "id").stdout, "started\nfull\n");
  });
});

/** A .deb built with dpkg-deb: FILES (path -> [mode, text]) and a postinst. */
function fixtureDeb(dir: string, name: string, files: Record<string, [number, string]>, postinst: string): string {
  const tree = join(dir, `${name}-root`);
  mkdirSync(join(tree, "DEBIAN"), { recursive: true });
  writeFileSync(join(tree, "DEBIAN/control"), `Package: ${name}\nVersion: 1.0\nArchitecture: all\nMaintainer: fhs <fhs@example.org>\nDescription: conflict fixture\n`);
  writeFileSync(join(tree, "DEBIAN/postinst"), postinst, { mode: 0o755 });
  for (const [rel, [mode, text]] of Object.entries(files)) {
    mkdirSync(join(tree, rel, ".."), { recursive: true });
    writeFileSync(join(tree, rel), text, { mode });
  }
  const deb = join(dir, `${name}_1.0_all.deb`);
  execFileSync("dpkg-deb", ["--root-owner-group", "-Zgzip", "--build", tree, deb], { stdio: "ignore" });
  return deb;
}

describe("conflict verdicts on install-time state (generated files, alternatives)", () => {
  // Two packages offer the same alternative, fhs-pager; A (priority 50) also
  // rewrites at install time the config file it ships.
  let pkgA: string;
  let pkgB: string;
  before(() => {
    const work = testDir("fhs-loader-state-");
    const a = fixtureDeb(
      work,
      "fhs-alt-a",
      {
        "etc/fhs-alt.conf": [0o644, "shipped\n"],
        "usr/libexec/fhs-alt-a/pager": [0o755, "#!/bin/sh\necho pager a\n"],
        "usr/bin/fhs-alt-show": [0o755, "#!/bin/sh\ncat /etc/fhs-alt.conf\nreadlink /etc/alternatives/fhs-pager\nexec fhs-pager\n"],
        // Runs a program inside this package's view (a composed view when that program is wrapped too).
        "usr/bin/fhs-alt-exec": [0o755, '#!/bin/sh\nexec "$@"\n'],
      },
      "#!/bin/sh\nset -e\necho configured > /etc/fhs-alt.conf\nupdate-alternatives --quiet --install /usr/bin/fhs-pager fhs-pager /usr/libexec/fhs-alt-a/pager 50\n",
    );
    const b = fixtureDeb(
      work,
      "fhs-alt-b",
      {
        "usr/libexec/fhs-alt-b/pager": [0o755, "#!/bin/sh\necho pager b\n"],
        "usr/bin/fhs-alt-b-show": [0o755, "#!/bin/sh\nreadlink /etc/alternatives/fhs-pager\nexec fhs-pager\n"],
      },
      "#!/bin/sh\nset -e\nupdate-alternatives --quiet --install /usr/bin/fhs-pager fhs-pager /usr/libexec/fhs-alt-b/pager 10\n",
    );
    // A shell, update-alternatives (dpkg) and a libc for the scripts.
    const base = debLayers(["dash", "coreutils", "dpkg", "libc6", "libselinux1", "libpcre2-8-0", "libacl1", "libattr1", "libgmp10", "libcap2"]);
    give(work);
    const imported = runCliUnprivileged(["layer", "import", "--json", "--into", join(work, "store"), a, b]);
    assert.equal(imported.status, 0, imported.stderr);
    const [layerA, layerB] = (JSON.parse(imported.stdout) as { layer: string }[]).map((r) => r.layer);
    const wrap = (layer: string, name: string) => {
      const pkg = join(work, name);
      cpSync(layer, pkg, { recursive: true, verbatimSymlinks: true });
      execFileSync("chmod", ["-R", "u+w", pkg]);
      execFileSync("rm", [join(pkg, ".fhs/deb.json")]);
      give(pkg);
      const r = runCliUnprivileged(["wrap", pkg, "--policy", testArtifacts().policy, ...base.flatMap((l) => ["--layer", l])], {
        env: { FHS_LAUNCHER: testArtifacts().launcher },
      });
      assert.equal(r.status, 0, r.stderr);
      return pkg;
    };
    pkgA = wrap(layerA!, "pkg-a");
    pkgB = wrap(layerB!, "pkg-b");
  });

  it("a file the package's own postinst rewrote: state-override, info, exit 0; the program reads the generated one", () => {
    const rep = report(["conflicts", "--pkg", pkgA], 0);
    const c = rep.conflicts.find((x) => x.path === "/etc/fhs-alt.conf");
    assert.ok(c, JSON.stringify(rep.conflicts));
    assert.equal(c.class, "state-override");
    assert.equal(c.severity, "info");
    assert.equal(c.winner.layer, join(pkgA, ".fhs/state"));
    const r = runUnprivileged([join(pkgA, "usr/bin/fhs-alt-show")]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "configured\n/usr/libexec/fhs-alt-a/pager\npager a\n");
  });

  it("the same alternative from two packages' states, composed: state-collision, warning, exit 0; the upper package's choice runs, not dpkg's priority", () => {
    const rep = report(["check-install", pkgB, "--into", pkgA], 0);
    const c = rep.conflicts.find((x) => x.path === "/etc/alternatives/fhs-pager");
    assert.ok(c, JSON.stringify(rep.conflicts));
    assert.equal(c.class, "state-collision");
    assert.equal(c.severity, "warning");
    assert.equal(c.winner.layer, join(pkgB, ".fhs/state"));
    assert.equal(c.winner.target, "/usr/libexec/fhs-alt-b/pager");
    assert.equal(rep.summary.error, 0);
    // /usr/bin/fhs-pager is the same link (to /etc/alternatives/fhs-pager) in both.
    assert.equal(rep.conflicts.find((x) => x.path === "/usr/bin/fhs-pager")?.class, "identical");
    // B's program started inside A's view: B's layers go on top, its state's link wins.
    const r = runUnprivileged([join(pkgA, "usr/bin/fhs-alt-exec"), join(pkgB, "usr/bin/fhs-alt-b-show")]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${c.winner.target}\npager b\n`);
  });
});
