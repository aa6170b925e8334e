// In its view a wrapped program is installed at /usr, as on any distribution:
// whatever it learns about itself (argv[0], /proc/self/exe, realpath(argv[0]),
// its data found relative to itself) points into the view's merged /usr, all
// layers together, never into its package's directory on the host. This holds
// however the wrapper is reached, outside a view, nested, and on the fast path.
import assert from "node:assert/strict";
import { mkdirSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { debLayers } from "./helpers/debian.js";
import { isRoot, repoRoot, runUnprivileged, testDir, testUser } from "./helpers/env.js";
import { execFileSync } from "node:child_process";
import { makePackage, staticProgram, wrapPackage } from "./helpers/wrapped.js";

interface SelfInfo {
  argv0: string;
  exe: string;
  realpath: string;
  data: string;
  mntns: string;
  path: string;
}

function parse(stdout: string): SelfInfo[] {
  return stdout
    .trim()
    .split("\n")
    .map((line) => Object.fromEntries(line.split(" ").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])) as unknown as SelfInfo);
}

/** A layer of its own holding the data the program finds relative to itself. */
function dataLayer(text: string): string {
  const dir = join(testDir("fhs-selfdata-"), "layer");
  mkdirSync(join(dir, "usr/share/fhs-selfdata"), { recursive: true });
  writeFileSync(join(dir, "usr/share/fhs-selfdata/marker"), `${text}\n`);
  if (isRoot) execFileSync("chown", ["-R", `${testUser.uid}:${testUser.gid}`, join(dir, "..")]);
  return dir;
}

let selfinfo: string;
let pkg: string; // bin/selfinfo, bin/alias -> selfinfo, bin/tool -> ../sbin/realtool, bin/script -> ../share/selfpkg/run.sh
let other: string; // another package with its own bin/selfinfo and data
let base: string[]; // dash (for /bin/sh) and libc, each its own layer

before(() => {
  selfinfo = staticProgram("selfinfo", join(repoRoot, "test/fixtures/programs/selfinfo.c"));
  base = debLayers(["dash"], { withDeps: true });
  const dir = makePackage(
    {
      "bin/selfinfo": { from: selfinfo },
      "sbin/realtool": { from: selfinfo },
      "share/selfpkg/run.sh": { text: '#!/bin/sh\necho "script $0"\n' },
    },
    "selfpkg",
  );
  symlinkSync("selfinfo", join(dir, "usr/bin/alias"));
  symlinkSync("../sbin/realtool", join(dir, "usr/bin/tool"));
  symlinkSync("../share/selfpkg/run.sh", join(dir, "usr/bin/script"));
  if (isRoot) execFileSync("chown", ["-h", `${testUser.uid}:${testUser.gid}`, join(dir, "usr/bin/alias"), join(dir, "usr/bin/tool"), join(dir, "usr/bin/script")]);
  pkg = wrapPackage(dir, [dataLayer("selfpkg-data"), ...base]);
  other = wrapPackage(makePackage({ "bin/selfinfo": { from: selfinfo } }, "otherpkg"), [dataLayer("otherpkg-data"), ...base]);
});

const atUsr = { argv0: "/usr/bin/selfinfo", exe: "/usr/bin/selfinfo", realpath: "/usr/bin/selfinfo", data: "selfpkg-data" };

function expectAtUsr(info: SelfInfo, want: Partial<SelfInfo> = atUsr): void {
  for (const [k, v] of Object.entries(want)) assert.equal(info[k as keyof SelfInfo], v, `${k} in ${JSON.stringify(info)}`);
}

function run(argv: string[], opts: Parameters<typeof runUnprivileged>[1] = {}): SelfInfo[] {
  const r = runUnprivileged(argv, opts);
  assert.equal(r.status, 0, r.stderr);
  return parse(r.stdout);
}

describe("a wrapped program is installed at /usr in its view", () => {
  it("by its host path: argv[0], /proc/self/exe and realpath(argv[0]) are /usr/bin/selfinfo; its data comes from another layer", () => {
    const [info] = run([join(pkg, "usr/bin/selfinfo")]);
    expectAtUsr(info!);
  });

  it("by a relative path, and through /proc/self/cwd", () => {
    expectAtUsr(run(["./selfinfo"], { cwd: join(pkg, "usr/bin") })[0]!);
    expectAtUsr(run(["usr/bin/selfinfo"], { cwd: pkg })[0]!);
    expectAtUsr(run(["/proc/self/cwd/selfinfo"], { cwd: join(pkg, "usr/bin") })[0]!);
  });

  it("through a symlinked directory (~/pbin -> pkg/usr/bin)", () => {
    const home = testDir("fhs-pbin-");
    symlinkSync(join(pkg, "usr/bin"), join(home, "pbin"));
    expectAtUsr(run([join(home, "pbin/selfinfo")])[0]!);
  });

  it("through a user's symlink of another name: the name is kept, the directory is /usr/bin", () => {
    const home = testDir("fhs-alias-");
    symlinkSync(join(pkg, "usr/bin/selfinfo"), join(home, "mytool"));
    expectAtUsr(run([join(home, "mytool")])[0]!, { argv0: "/usr/bin/mytool", exe: "/usr/bin/selfinfo", data: "selfpkg-data" });
  });

  it("a bare name stays bare, a login shell's '-' stays, and PATH names the package's bin as /usr/bin", () => {
    const [bare] = run(["/usr/bin/env", `PATH=${join(pkg, "usr/bin")}:/usr/bin:/bin`, "selfinfo"]);
    expectAtUsr(bare!, { argv0: "selfinfo", exe: "/usr/bin/selfinfo", realpath: "-", path: "/usr/bin:/usr/bin:/bin" });
    const [login] = run(["/bin/bash", "-c", `exec -a -selfinfo ${join(pkg, "usr/bin/selfinfo")}`]);
    expectAtUsr(login!, { argv0: "-selfinfo", exe: "/usr/bin/selfinfo", data: "selfpkg-data" });
  });

  it("nested inside another package's view, and on the fast path inside its own", () => {
    // other's view, then selfpkg on top of it (a new namespace), then
    // selfpkg again by host path (fast path: same namespace), then by its
    // /usr path inside the view (no launcher at all: the program itself).
    const [outer, nested, fast, direct] = run([
      join(other, "usr/bin/selfinfo"),
      join(pkg, "usr/bin/selfinfo"),
      join(pkg, "usr/bin/selfinfo"),
      "/usr/bin/selfinfo",
    ]);
    expectAtUsr(outer!, { ...atUsr, data: "otherpkg-data" });
    expectAtUsr(nested!);
    assert.notEqual(nested!.mntns, outer!.mntns);
    expectAtUsr(fast!);
    assert.equal(fast!.mntns, nested!.mntns, "the fast path makes no namespace");
    expectAtUsr(direct!);
    assert.equal(direct!.mntns, nested!.mntns);
  });

  it("a program shadowed in the current view by a layer above gets a view with its package on top", () => {
    // selfpkg's view, then other's on top (other's /usr/bin/selfinfo wins),
    // then selfpkg's wrapper by host path: all its layers are in the view,
    // but /usr/bin/selfinfo there is other's, so no fast path.
    const [, top, again] = run([join(pkg, "usr/bin/selfinfo"), join(other, "usr/bin/selfinfo"), join(pkg, "usr/bin/selfinfo")]);
    assert.equal(top!.data, "otherpkg-data");
    expectAtUsr(again!);
    assert.notEqual(again!.mntns, top!.mntns);
  });
});

describe("fhs wrap keeps every symlink working", () => {
  it("a link to another program of the package (alias -> selfinfo) runs it, under its own name", () => {
    const [info] = run([join(pkg, "usr/bin/alias")]);
    expectAtUsr(info!, { argv0: "/usr/bin/alias", exe: "/usr/bin/selfinfo", realpath: "/usr/bin/selfinfo", data: "selfpkg-data" });
  });

  it("a relative link into sbin (as graphviz's dot -> ../sbin/libgvc6-config-update) resolves in the view", () => {
    assert.equal(readlinkSync(join(pkg, ".fhs/raw/bin/tool")), "../sbin/realtool", "the link is moved as it is: it is resolved in the view, where .fhs/raw is a layer of /usr");
    const [info] = run([join(pkg, "usr/bin/tool")]);
    expectAtUsr(info!, { argv0: "/usr/bin/tool", exe: "/usr/sbin/realtool", realpath: "/usr/sbin/realtool", data: "selfpkg-data" });
  });

  it("a relative link to a script in share (as python3's py3versions) runs it in the view", () => {
    const r = runUnprivileged([join(pkg, "usr/bin/script")]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "script /usr/bin/script\n");
  });
});
