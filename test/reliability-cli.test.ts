// Regression tests for the CLI's reliability defects, one `describe` per bug
// class (docs/RELIABILITY.md, "CLI: wrap, build, manifests, caches"). Each
// asserts what a user sees: the exit code, the one-line message, and that
// nothing of theirs was lost or left behind.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { isRoot, runCliUnprivileged, runUnprivileged, testArtifacts, testUser } from "./helpers/env.js";
import { makePackage, shellPackage } from "./helpers/wrapped.js";

const EXIT_USAGE = 2;

/** Every fact about a tree a user would miss: names, types, modes, contents, link targets. */
function treeSnapshot(root: string): string[] {
  const lines: string[] = [];
  const walk = (rel: string) => {
    const p = rel ? join(root, rel) : root;
    const st = lstatSync(p);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) lines.push(`${rel} -> ${readlinkSync(p)}`);
    else if (st.isDirectory()) {
      lines.push(`${rel}/ ${mode}`);
      for (const e of readdirSync(p).sort()) walk(rel ? `${rel}/${e}` : e);
    } else lines.push(`${rel} ${mode} ${createHash("sha256").update(readFileSync(p)).digest("hex")}`);
  };
  walk("");
  return lines;
}

/** fhs as the unprivileged test user, with the launcher that user can reach. */
const fhs = (args: string[], opts: { timeoutMs?: number } = {}) =>
  runCliUnprivileged(args, { env: { FHS_LAUNCHER: testArtifacts().launcher }, ...opts });

let runtime: string[]; // layers a shell script needs: dash, coreutils and libc

before(() => {
  const shell = shellPackage();
  runtime = [shell.pkg, ...shell.layers];
});

/** Three programs in two directories, each with its own bytes. */
function threePrograms(name: string): string {
  return makePackage(
    {
      "bin/a": { text: "#!/bin/sh\necho program-a\n" },
      "bin/b": { text: "#!/bin/sh\necho program-b\n" },
      "sbin/c": { text: "#!/bin/sh\necho program-c\n" },
    },
    name,
  );
}

/** Files the test made as root belong to the package's owner, as if they had made them. */
function giveToTestUser(dir: string): void {
  if (isRoot) execFileSync("chown", ["-R", "-h", `${testUser.uid}:${testUser.gid}`, dir]);
}

const layerArgs = (layers: string[]) => layers.flatMap((l) => ["--layer", l]);

describe("wrap-transaction: fhs wrap is all or nothing and never loses a program", () => {
  it("a move that fails midway undoes every earlier move: each original byte-identical, nothing left behind", () => {
    const pkg = threePrograms("midway");
    // bin/a and bin/b move first; sbin/c cannot leave a directory its owner made read-only.
    chmodSync(join(pkg, "usr/sbin"), 0o555);
    const before = treeSnapshot(pkg);
    const r = fhs(["wrap", pkg, ...layerArgs(runtime)]);
    assert.equal(r.status, EXIT_USAGE, r.stderr);
    assert.match(r.stderr, /^fhs: package \S+: wrapping failed \(EACCES: permission denied, unlink '\S+\/usr\/sbin\/c'\); nothing was changed\n$/);
    assert.deepEqual(treeSnapshot(pkg), before);

    // Once the cause is gone, the same wrap succeeds and every program runs.
    chmodSync(join(pkg, "usr/sbin"), 0o755);
    const ok = fhs(["wrap", pkg, ...layerArgs(runtime)]);
    assert.equal(ok.status, 0, ok.stderr);
    for (const p of ["bin/a", "bin/b", "sbin/c"]) {
      const run = runUnprivileged([join(pkg, "usr", p)]);
      assert.equal(run.stdout, `program-${p.slice(-1)}\n`, run.stderr);
    }
  });

  it("refuses a package whose usr/raw already holds an entry: nothing is renamed over it", () => {
    const pkg = threePrograms("raw-taken");
    mkdirSync(join(pkg, "usr/raw/bin"), { recursive: true });
    writeFileSync(join(pkg, "usr/raw/bin/a"), "precious\n");
    const before = treeSnapshot(pkg);
    const r = fhs(["wrap", pkg, ...layerArgs(runtime)]);
    assert.equal(r.status, EXIT_USAGE);
    assert.equal(r.stderr, `fhs: package ${pkg}: half-wrapped (usr/raw exists but .fhs/manifest.json does not); run 'fhs unwrap ${pkg}' to put its programs back, then wrap again\n`);
    assert.deepEqual(treeSnapshot(pkg), before);
  });

  it("a wrap cut short (programs moved, .fhs.tmp-PID left) is refused; fhs unwrap puts every program back", () => {
    const pkg = threePrograms("cut-short");
    const pristine = treeSnapshot(pkg);
    // What a wrap killed midway leaves: two programs moved and replaced by
    // wrappers, the third not yet, the launcher in place, the staging dir.
    const launcher = join(pkg, "usr/bin/.fhs-launcher");
    writeFileSync(launcher, readFileSync(testArtifacts().launcher), { mode: 0o755 });
    for (const p of ["bin/a", "sbin/c"]) {
      mkdirSync(join(pkg, "usr/raw", p, ".."), { recursive: true });
      writeFileSync(join(pkg, "usr/raw", p), readFileSync(join(pkg, "usr", p)), { mode: 0o755 });
      chmodSync(join(pkg, "usr/raw", p), 0o755);
      rmSync(join(pkg, "usr", p));
      symlinkSync(launcher, join(pkg, "usr", p));
    }
    mkdirSync(join(pkg, ".fhs.tmp-4242"));
    writeFileSync(join(pkg, ".fhs.tmp-4242/manifest.bin"), "partial");
    giveToTestUser(pkg);
    const half = treeSnapshot(pkg);

    const r = fhs(["wrap", pkg, ...layerArgs(runtime)]);
    assert.equal(r.status, EXIT_USAGE);
    assert.equal(r.stderr, `fhs: package ${pkg}: half-wrapped (a wrap was cut short: .fhs.tmp-4242 is left); run 'fhs unwrap ${pkg}' to put its programs back, then wrap again\n`);
    assert.deepEqual(treeSnapshot(pkg), half);

    const u = fhs(["unwrap", pkg]);
    assert.equal(u.status, 0, u.stderr);
    assert.equal(u.stdout, `unwrapped 2 programs in ${pkg}: bin/a sbin/c\n`);
    assert.deepEqual(treeSnapshot(pkg), pristine);
  });

  it("fhs unwrap reverses a whole wrap, byte for byte", () => {
    const pkg = threePrograms("roundtrip");
    const pristine = treeSnapshot(pkg);
    assert.equal(fhs(["wrap", pkg, ...layerArgs(runtime)]).status, 0);
    assert.ok(lstatSync(join(pkg, "usr/bin/a")).isSymbolicLink());
    const u = fhs(["unwrap", pkg]);
    assert.equal(u.status, 0, u.stderr);
    assert.equal(u.stdout, `unwrapped 3 programs in ${pkg}: bin/a bin/b sbin/c\n`);
    assert.deepEqual(treeSnapshot(pkg), pristine);
    const again = fhs(["unwrap", pkg]);
    assert.equal(again.status, EXIT_USAGE);
    assert.equal(again.stderr, `fhs: package ${pkg}: not wrapped; nothing to put back\n`);
  });

  it("fhs unwrap changes nothing when a program's place holds something else", () => {
    const pkg = threePrograms("unwrap-conflict");
    assert.equal(fhs(["wrap", pkg, ...layerArgs(runtime)]).status, 0);
    rmSync(join(pkg, "usr/bin/b"));
    writeFileSync(join(pkg, "usr/bin/b"), "a new b\n");
    giveToTestUser(pkg);
    const before = treeSnapshot(pkg);
    const u = fhs(["unwrap", pkg]);
    assert.equal(u.status, EXIT_USAGE);
    assert.equal(u.stderr, `fhs: package ${pkg}: cannot put usr/raw/bin/b back: usr/bin/b exists and is not a wrapper; nothing was changed\n`);
    assert.deepEqual(treeSnapshot(pkg), before);
  });
});

describe("manifest-shape: a manifest.json of valid JSON but the wrong shape is an input error naming the file", () => {
  const cases: [string, string, RegExp][] = [
    ["null", "null", /:1: \/: expected object, found null/],
    ["[null] layers", '{"fhsManifest":1,"package":"/p","layers":[null],"policy":{"path":"/p","sha256":"' + "0".repeat(64) + '","source":"default"},"config":{},"programs":[],"launcher":"/l"}', /:1: \/layers\/0: expected object, found null/],
    ["an array", "[]", /:1: \/: expected object, found an array/],
    ["an object lacking keys", '{\n  "fhsManifest": 1,\n  "layers": "/usr"\n}', /:1: \/: missing key "package" \(and \d+ more\)/],
  ];
  for (const [name, text, message] of cases) {
    it(`${name}: fhs env --pkg and fhs plan --inside exit 2 with one line`, () => {
      const pkg = makePackage({ "bin/x": { text: "#!/bin/sh\n" } }, "badmanifest");
      mkdirSync(join(pkg, ".fhs"));
      writeFileSync(join(pkg, ".fhs/manifest.json"), text);
      for (const args of [["env", "--pkg", pkg, "--", "true"], ["plan", join(runtime[0]!, "usr/bin/dash"), "--inside", pkg]]) {
        const r = fhs(args);
        assert.equal(r.status, EXIT_USAGE, r.stderr);
        assert.equal(r.stderr.split("\n").length, 2, r.stderr);
        assert.ok(r.stderr.startsWith(`fhs: ${join(pkg, ".fhs/manifest.json")}:`), r.stderr);
        assert.match(r.stderr, message);
        assert.doesNotMatch(r.stderr, /internal error|TypeError/);
      }
      assert.ok(existsSync(join(pkg, "usr/bin/x")));
    });
  }
});
