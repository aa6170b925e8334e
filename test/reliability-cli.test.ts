// Regression tests for the CLI's reliability defects, one `describe` per bug
// class (docs/RELIABILITY.md, "CLI: wrap, build, manifests, caches"). Each
// asserts what a user sees: the exit code, the one-line message, and that
// nothing of theirs was lost or left behind.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { debLayers } from "./helpers/debian.js";
import { isRoot, mustWork, repoRoot, runCli, runCliUnprivileged, runUnprivileged, testArtifacts, testDir, testUser } from "./helpers/env.js";
import { makePackage, shellPackage } from "./helpers/wrapped.js";
import { EXIT } from "../src/abi.js";


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
  // The shell package stands for its layers, its real sh first, so the wrap
  // makes install-time state: sed is there for libc6's postinst, and the
  // wrap's stderr holds only what the test looks for.
  runtime = [shell.pkg, ...debLayers(["sed"]), ...shell.layers];
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
    assert.equal(r.status, EXIT.usage, r.stderr);
    assert.deepEqual(treeSnapshot(pkg), before);
    assert.match(r.stderr, /^fhs: package \S+: wrapping failed \(EACCES: permission denied, unlink '\S+\/usr\/sbin\/c'\); nothing was changed\n$/);

    // Once the cause is gone, the same wrap succeeds and every program runs.
    chmodSync(join(pkg, "usr/sbin"), 0o755);
    const ok = fhs(["wrap", pkg, ...layerArgs(runtime)]);
    assert.equal(ok.status, 0, ok.stderr);
    for (const p of ["bin/a", "bin/b", "sbin/c"]) {
      const run = runUnprivileged([join(pkg, "usr", p)]);
      assert.equal(run.stdout, `program-${p.slice(-1)}\n`, run.stderr);
    }
  });

  it("a SIGTERM while the package is being wrapped undoes the whole wrap: exit 143, one line, nothing changed", async () => {
    // ldconfig, run by wrap for the view's ld.so.cache, takes about a second
    // over a library directory of 20000 entries: a window to signal the CLI in.
    const slow = join(testDir("fhs-slowlibs-"), "slowlibs");
    mkdirSync(join(slow, "usr/lib/slow"), { recursive: true });
    mkdirSync(join(slow, "etc/ld.so.conf.d"), { recursive: true });
    writeFileSync(join(slow, "etc/ld.so.conf.d/slow.conf"), "/usr/lib/slow\n");
    for (let i = 0; i < 20000; i++) writeFileSync(join(slow, `usr/lib/slow/libslow${i}.so.1`), "not a library\n");
    giveToTestUser(join(slow, ".."));
    const pkg = threePrograms("interrupted");
    const before = treeSnapshot(pkg);
    const cli = startCli(["wrap", pkg, ...layerArgs(runtime), "--layer", slow]);
    // The launcher execs ldconfig in place: it is the CLI's own child.
    const ldconfigOfCli = () =>
      processesMentioning("fhs-ldcache-").some((pid) => {
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
          return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === cli.pid && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("ldconfig");
        } catch {
          return false;
        }
      });
    await waitFor("wrap's ldconfig to start", ldconfigOfCli, 60_000);
    process.kill(cli.pid, "SIGTERM");
    const r = await cli.done;
    assert.equal(r.code, 143, r.stderr);
    assert.deepEqual(treeSnapshot(pkg), before);
    assert.equal(r.stderr, `fhs: package ${pkg}: wrap interrupted by SIGTERM; nothing was changed\n`);
  });

  it("refuses a package whose .fhs/raw already holds an entry: nothing is renamed over it", () => {
    const pkg = threePrograms("raw-taken");
    mkdirSync(join(pkg, ".fhs/raw/bin"), { recursive: true });
    writeFileSync(join(pkg, ".fhs/raw/bin/a"), "precious\n");
    const before = treeSnapshot(pkg);
    const r = fhs(["wrap", pkg, ...layerArgs(runtime)]);
    assert.equal(r.status, EXIT.usage);
    assert.equal(r.stderr, `fhs: package ${pkg}: half-wrapped (.fhs/raw exists but .fhs/manifest.json does not); run 'fhs unwrap ${pkg}' to put its programs back, then wrap again\n`);
    assert.deepEqual(treeSnapshot(pkg), before);
  });

  it("a wrap cut short (programs moved, .fhs.tmp-PID left) is refused; fhs unwrap puts every program back", () => {
    const pkg = threePrograms("cut-short");
    const pristine = treeSnapshot(pkg);
    // What a wrap killed midway leaves: two programs moved and replaced by
    // wrappers, the third not yet, the staging dir with the launcher (it
    // lands in .fhs/ at the commit, so the wrappers point where it is not yet).
    mkdirSync(join(pkg, ".fhs.tmp-4242"));
    writeFileSync(join(pkg, ".fhs.tmp-4242/.fhs-launcher"), readFileSync(testArtifacts().launcher), { mode: 0o755 });
    writeFileSync(join(pkg, ".fhs.tmp-4242/manifest.bin"), "partial");
    for (const p of ["bin/a", "sbin/c"]) {
      mkdirSync(join(pkg, ".fhs/raw", p, ".."), { recursive: true });
      writeFileSync(join(pkg, ".fhs/raw", p), readFileSync(join(pkg, "usr", p)), { mode: 0o755 });
      chmodSync(join(pkg, ".fhs/raw", p), 0o755);
      rmSync(join(pkg, "usr", p));
      symlinkSync(join(pkg, ".fhs/.fhs-launcher"), join(pkg, "usr", p));
    }
    giveToTestUser(pkg);
    const half = treeSnapshot(pkg);

    const r = fhs(["wrap", pkg, ...layerArgs(runtime)]);
    assert.equal(r.status, EXIT.usage);
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
    assert.equal(again.status, EXIT.usage);
    assert.equal(again.stderr, `fhs: package ${pkg}: not wrapped; nothing to put back\n`);
  });

  it("fhs unwrap puts back a package an fhs before manifest format 2 wrapped (its launcher in usr/bin)", () => {
    const pkg = threePrograms("old-layout");
    const pristine = treeSnapshot(pkg);
    assert.equal(fhs(["wrap", pkg, ...layerArgs(runtime)]).status, 0);
    // The old layout: the launcher in the package's usr/bin, every wrapper
    // pointing there, manifest.json of format 1.
    const old = join(pkg, "usr/bin/.fhs-launcher");
    execFileSync("mv", [join(pkg, ".fhs/.fhs-launcher"), old]);
    for (const p of ["bin/a", "bin/b", "sbin/c"]) {
      rmSync(join(pkg, "usr", p));
      symlinkSync(old, join(pkg, "usr", p));
    }
    const mjson = join(pkg, ".fhs/manifest.json");
    writeFileSync(mjson, readFileSync(mjson, "utf8").replace(/"fhsManifest": 2/, '"fhsManifest": 1'));
    giveToTestUser(pkg);
    // Used as a layer, it is refused with the remedy, in one line.
    const e = fhs(["env", "--pkg", pkg, "--", "true"]);
    assert.equal(e.status, EXIT.usage);
    assert.equal(e.stderr, `fhs: ${mjson}: manifest format 1; this fhs reads format 2: run 'fhs unwrap ${pkg}', then wrap it again\n`);
    const u = fhs(["unwrap", pkg]);
    assert.equal(u.status, 0, u.stderr);
    assert.equal(u.stdout, `unwrapped 3 programs in ${pkg}: bin/a bin/b sbin/c\n`);
    assert.deepEqual(treeSnapshot(pkg), pristine);
  });

  it("wrap and unwrap keep what .fhs/ held before (an imported layer's record)", () => {
    const pkg = threePrograms("imported");
    mkdirSync(join(pkg, ".fhs"));
    writeFileSync(join(pkg, ".fhs/deb.json"), '{"package":"x"}\n');
    giveToTestUser(pkg);
    const pristine = treeSnapshot(pkg);
    assert.equal(fhs(["wrap", pkg, ...layerArgs(runtime)]).status, 0);
    // state: the install-time state libc6's postinst makes, wrap's like the rest;
    // .fhs-launcher: the one launcher every wrapper points at.
    assert.deepEqual(readdirSync(join(pkg, ".fhs")).sort(), [".fhs-launcher", "deb.json", "ld.so.cache", "manifest.bin", "manifest.json", "policy.wasm", "raw", "state"]);
    assert.deepEqual(readdirSync(pkg).sort(), [".fhs", "usr"]);
    const u = fhs(["unwrap", pkg]);
    assert.equal(u.status, 0, u.stderr);
    assert.deepEqual(treeSnapshot(pkg), pristine);
  });

  it("fhs unwrap changes nothing when a program's place holds something else", () => {
    const pkg = threePrograms("unwrap-conflict");
    assert.equal(fhs(["wrap", pkg, ...layerArgs(runtime)]).status, 0);
    rmSync(join(pkg, "usr/bin/b"));
    writeFileSync(join(pkg, "usr/bin/b"), "a new b\n");
    giveToTestUser(pkg);
    const before = treeSnapshot(pkg);
    const u = fhs(["unwrap", pkg]);
    assert.equal(u.status, EXIT.usage);
    assert.equal(u.stderr, `fhs: package ${pkg}: cannot put .fhs/raw/bin/b back: usr/bin/b exists and is not a wrapper; nothing was changed\n`);
    assert.deepEqual(treeSnapshot(pkg), before);
  });
});

describe("manifest-shape: a manifest.json of valid JSON but the wrong shape is an input error naming the file", () => {
  const cases: [string, string, RegExp][] = [
    ["null", "null", /:1: \/: expected object, found null/],
    ["[null] layers", '{"fhsManifest":2,"package":"/p","layers":[null],"policy":{"path":"/p","sha256":"' + "0".repeat(64) + '","source":"default"},"config":{},"programs":[],"launcher":"/l"}', /:1: \/layers\/0: expected object, found null/],
    ["an array", "[]", /:1: \/: expected object, found an array/],
    ["an object lacking keys", '{\n  "fhsManifest": 2,\n  "layers": "/usr"\n}', /:1: \/: missing key "package" \(and \d+ more\)/],
    // Written by an fhs of another manifest format: said before its shape is checked.
    [
      "another manifest format",
      '{"fhsManifest":1,"package":"/p","layers":[],"policy":{"path":"/p","sha256":"' + "0".repeat(64) + '","source":"default"},"config":{},"programs":[],"launcher":"/l"}',
      /: manifest format 1; this fhs reads format 2: run 'fhs unwrap .*', then wrap it again$/m,
    ],
  ];
  for (const [name, text, message] of cases) {
    it(`${name}: fhs env --pkg and fhs plan --inside exit 2 with one line`, () => {
      const pkg = makePackage({ "bin/x": { text: "#!/bin/sh\n" } }, "badmanifest");
      mkdirSync(join(pkg, ".fhs"));
      writeFileSync(join(pkg, ".fhs/manifest.json"), text);
      for (const args of [["env", "--pkg", pkg, "--", "true"], ["plan", join(runtime[0]!, "usr/bin/dash"), "--inside", pkg]]) {
        const r = fhs(args);
        assert.equal(r.status, EXIT.usage, r.stderr);
        assert.equal(r.stderr.split("\n").length, 2, r.stderr);
        assert.ok(r.stderr.startsWith(`fhs: ${join(pkg, ".fhs/manifest.json")}:`), r.stderr);
        assert.match(r.stderr, message);
        assert.doesNotMatch(r.stderr, /internal error|TypeError/);
      }
      assert.ok(existsSync(join(pkg, "usr/bin/x")));
    });
  }
});

/** The processes whose argv is exactly `argv`, by pid. */
function processesWithArgv(argv: string[]): number[] {
  const want = `${argv.join("\0")}\0`;
  const found: number[] = [];
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8") === want) found.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The processes whose argv mentions `text` anywhere. */
function processesMentioning(text: string): number[] {
  return readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function waitFor(what: string, cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** fhs as the unprivileged test user, started in the background. */
function startCli(args: string[]): { pid: number; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> } {
  const argv = [process.execPath, join(repoRoot, "dist", "cli.js"), ...args];
  const full = isRoot ? ["/usr/bin/setpriv", `--reuid=${testUser.uid}`, `--regid=${testUser.gid}`, "--clear-groups", "--", ...argv] : argv;
  const child = spawn(full[0]!, full.slice(1), {
    env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: testUser.home, LANG: "C.UTF-8", FHS_LAUNCHER: testArtifacts().launcher },
    cwd: "/",
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((res) => child.on("close", (code, signal) => res({ code, signal, stderr })));
  return { pid: child.pid!, done };
}

describe("build-interrupted: a build's processes die with it, and a killed build's staging dir is cleaned by the next", () => {
  let shellLayers: string[];
  before(() => {
    shellLayers = debLayers(["dash", "coreutils"], { withDeps: true });
  });
  const buildArgs = (out: string, command: string[]) => ["build", "--out", out, "--policy", testArtifacts().policy, ...layerArgs(shellLayers), "--", ...command];

  const cases: [NodeJS.Signals, string][] = [
    ["SIGTERM", "exit 143 and one line"],
    ["SIGINT", "exit 130 and one line"],
    ["SIGHUP", "exit 129 and one line"],
    ["SIGKILL", "dies by SIGKILL; the next build removes its staging dir"],
  ];
  for (const [signal, outcome] of cases) {
    it(`${signal} to fhs build -- sh -c 'sleep 30': no process left, no output; ${outcome}`, async () => {
      const parent = testDir("fhs-interrupt-");
      const out = join(parent, "out");
      // A duration no other process on the machine sleeps for.
      const sleep = ["sleep", `30.${process.pid}${signal.length}`];
      const cli = startCli(buildArgs(out, ["sh", "-c", sleep.join(" ")]));
      await waitFor("the build's sleep to start", () => processesWithArgv(sleep).length > 0, 120_000);
      const sent = Date.now();
      process.kill(cli.pid, signal);
      const r = await cli.done;
      // Promptly: not when the sleep would have ended anyway.
      assert.ok(Date.now() - sent < 15_000, `fhs build took ${Date.now() - sent} ms to end after ${signal}`);
      if (signal === "SIGKILL") {
        assert.equal(r.signal, "SIGKILL");
      } else {
        assert.equal(r.code, 128 + osConstants.signals[signal], r.stderr);
        assert.equal(r.stderr, `fhs: build interrupted by ${signal}; no output written\n`);
      }
      // Nothing of the build runs on: not the sleep, not the launcher (whose argv names the staging dir).
      await waitFor("the build's processes to die", () => processesWithArgv(sleep).length === 0 && processesMentioning(`${parent}/.out.fhs-build-`).length === 0, 10_000);
      assert.ok(!existsSync(out));
      const staging = readdirSync(parent).filter((n) => n.includes(".fhs-build-"));
      if (signal !== "SIGKILL") {
        assert.deepEqual(staging, []);
        return;
      }
      // The CLI could not clean up after SIGKILL; the next build does, and says so.
      assert.equal(staging.length, 1);
      const next = fhs(buildArgs(out, ["sh", "-c", "mkdir -p /usr/share/doc/x && echo ok > /usr/share/doc/x/ok"]));
      assert.equal(next.status, 0, next.stderr);
      assert.equal(next.stderr, `fhs: ${join(parent, staging[0]!)}: removed, the staging dir of a build that was killed (pid ${cli.pid})\nfhs: built ${out}\n`);
      assert.deepEqual(readdirSync(parent), ["out"]);
    });
  }

  it("a running build's staging dir is not taken for a killed one's", async () => {
    const parent = testDir("fhs-concurrent-");
    const sleep = ["sleep", `31.${process.pid}`];
    const first = startCli(buildArgs(join(parent, "first"), ["sh", "-c", sleep.join(" ")]));
    await waitFor("the first build's sleep to start", () => processesWithArgv(sleep).length > 0, 120_000);
    const second = fhs(buildArgs(join(parent, "second"), ["true"]));
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.stderr, `fhs: built ${join(parent, "second")}\n`);
    assert.equal(readdirSync(parent).filter((n) => n.startsWith(".first.fhs-build-")).length, 1);
    process.kill(first.pid, "SIGTERM");
    assert.equal((await first.done).code, 143);
  });
});

describe("layer-whiteout: a layer holding overlay's metadata is refused by wrap, env and build, by name", () => {
  // Only root can make a 0/0 character device; CI runs the suite as root.
  const skip = !isRoot && !mustWork ? "needs root to mknod a whiteout into a fixture layer" : false;

  /** A layer, owned by the test user, whose usr/bin/ls would hide coreutils' ls. */
  function shadowLayer(mark: (dir: string) => void): string {
    const layer = join(testDir("fhs-shadow-"), "shadow");
    mkdirSync(join(layer, "usr/bin"), { recursive: true });
    mkdirSync(join(layer, "usr/share/doc"), { recursive: true });
    mark(layer);
    giveToTestUser(join(layer, ".."));
    return layer;
  }
  const whiteout = () => shadowLayer((l) => execFileSync("mknod", [join(l, "usr/bin/ls"), "c", "0", "0"]));
  const whiteoutMessage = (layer: string) =>
    `fhs: layer ${layer}: holds an overlay whiteout usr/bin/ls (a character device 0/0), which would hide files of the layers below it in a view; a layer must be a plain tree\n`;

  it("fhs wrap refuses a whiteout in a dependency layer and leaves the package untouched", { skip }, () => {
    const layer = whiteout();
    const pkg = threePrograms("wrap-whiteout");
    const before = treeSnapshot(pkg);
    const r = fhs(["wrap", pkg, "--layer", layer, ...layerArgs(runtime)]);
    assert.equal(r.status, EXIT.usage);
    assert.equal(r.stderr, whiteoutMessage(layer));
    assert.deepEqual(treeSnapshot(pkg), before);
  });

  it("fhs env and fhs build refuse it before anything runs", { skip }, () => {
    const layer = whiteout();
    const env = fhs(["env", "--layer", layer, ...layerArgs(runtime), "--", "true"]);
    assert.equal(env.status, EXIT.usage);
    assert.equal(env.stderr, whiteoutMessage(layer));
    const parent = testDir("fhs-whiteout-build-");
    const build = fhs(["build", "--out", join(parent, "out"), "--policy", testArtifacts().policy, "--layer", layer, ...layerArgs(runtime), "--", "true"]);
    assert.equal(build.status, EXIT.usage);
    assert.equal(build.stderr, whiteoutMessage(layer));
    assert.deepEqual(readdirSync(parent), []);
  });

  it("an opaque directory (user.overlay.opaque) is refused the same way", { skip }, () => {
    const layer = shadowLayer((l) => execFileSync("setfattr", ["-n", "user.overlay.opaque", "-v", "y", join(l, "usr/share")]));
    const pkg = threePrograms("wrap-opaque");
    const r = fhs(["wrap", pkg, "--layer", layer, ...layerArgs(runtime)]);
    assert.equal(r.status, EXIT.usage);
    assert.equal(r.stderr, `fhs: layer ${layer}: holds overlay metadata on usr/share (xattr user.overlay.opaque), which would hide files of the layers below it in a view; a layer must be a plain tree\n`);
  });

  it("trusted.overlay.opaque is refused where it can be seen (by root)", { skip: !isRoot && !mustWork ? "only root can set or list trusted.* xattrs" : false }, () => {
    const layer = shadowLayer((l) => execFileSync("setfattr", ["-n", "trusted.overlay.opaque", "-v", "y", join(l, "usr/share/doc")]));
    const pkg = threePrograms("wrap-trusted");
    const r = runCli(["wrap", pkg, "--layer", layer, ...layerArgs(runtime)], { env: { FHS_LAUNCHER: testArtifacts().launcher } });
    assert.equal(r.status, EXIT.usage);
    assert.equal(r.stderr, `fhs: layer ${layer}: holds overlay metadata on usr/share/doc (xattr trusted.overlay.opaque), which would hide files of the layers below it in a view; a layer must be a plain tree\n`);
  });
});

/** A home whose runtime dir holds an empty plan cache dir, 0700, as the launcher makes it. */
function planCacheHome(prefix: string) {
  const home = testDir(prefix);
  const env = { XDG_RUNTIME_DIR: join(home, "run"), XDG_CACHE_HOME: join(home, "cache") };
  const plans = join(env.XDG_RUNTIME_DIR, "fhs-plans");
  mkdirSync(plans, { recursive: true, mode: 0o700 });
  chmodSync(plans, 0o700);
  return { home, env, plans };
}

describe("cache-bound: fhs cache prune removes cached plans and ld.so.caches not used lately, and nothing else", () => {
  it("removes the entries unused past --max-age, keeps the rest; --all empties; launches make them again", () => {
    const home = testDir("fhs-caches-");
    const env = { XDG_RUNTIME_DIR: join(home, "run"), XDG_CACHE_HOME: join(home, "cache") };
    for (const d of Object.values(env)) mkdirSync(d);
    giveToTestUser(home);
    const plans = join(env.XDG_RUNTIME_DIR, "fhs-plans");
    const ldcaches = join(env.XDG_CACHE_HOME, "fhs", "ld.so.cache");
    const pkg = threePrograms("cached");
    assert.equal(fhs(["wrap", pkg, ...layerArgs(runtime)]).status, 0);
    const launch = (prog: string) => {
      const r = runUnprivileged([join(pkg, "usr", prog)], { env });
      assert.equal(r.status, 0, r.stderr);
    };
    // In-place views' marker layers (view-<sha256>/) and the empty directory
    // their hides show (empty/) share the plans' directory; prune never
    // removes them (a mounted view may use them): they are checked apart.
    const all_ = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);
    const ls = (dir: string) => all_(dir).filter((n) => !n.startsWith("view-") && n !== "empty");
    const views = () => all_(plans).filter((n) => n.startsWith("view-"));

    // Entries of both caches: a plan per launch, an ld.so.cache per env layer list.
    launch("bin/a");
    const envRun = runCliUnprivileged(["env", ...layerArgs(runtime), "--", "true"], { env: { ...env, FHS_LAUNCHER: testArtifacts().launcher } });
    assert.equal(envRun.status, 0, envRun.stderr);
    const old = [...ls(plans).map((n) => join(plans, n)), ...ls(ldcaches).map((n) => join(ldcaches, n))];
    assert.ok(ls(plans).length >= 1 && ls(ldcaches).length === 1, `caches: ${old.join(" ")}`);
    // Last used 40 days ago.
    const longAgo = new Date(Date.now() - 40 * 86_400_000);
    for (const f of old) utimesSync(f, longAgo, longAgo);
    // A fresh plan: another package's (the plan depends on the package, not the program).
    const dash = runUnprivileged([join(runtime[0]!, "usr/bin/dash"), "-c", "true"], { env });
    assert.equal(dash.status, 0, dash.stderr);
    const fresh = ls(plans).filter((n) => !old.includes(join(plans, n)));
    assert.equal(fresh.length, 1);
    writeFileSync(join(plans, "notes"), "not fhs's\n");
    giveToTestUser(home);
    const layers = views();
    assert.ok(layers.length >= 1, "the in-place launches made their marker layers in the cache");

    // Made when a view hid a directory (the host's /lost+found, where it has one).
    const hadEmpty = existsSync(join(plans, "empty"));
    const r = runCliUnprivileged(["cache", "prune"], { env });
    assert.equal(r.status, 0, r.stderr);
    const oldPlans = old.filter((f) => f.startsWith(plans)).length;
    assert.match(r.stdout, new RegExp(`^plans ${plans}: removed ${oldPlans} \\(\\d+ KiB\\), kept 1 \\(\\d+ KiB\\)\\nld.so.cache ${ldcaches}: removed 1 \\(\\d+ KiB\\), kept 0 \\(0 KiB\\)\\n$`));
    assert.deepEqual(ls(plans), [...fresh, "notes"].sort());
    assert.deepEqual(ls(ldcaches), []);

    const all = runCliUnprivileged(["cache", "prune", "--all"], { env });
    assert.equal(all.status, 0, all.stderr);
    assert.match(all.stdout, /^plans \S+: removed 1 \(\d+ KiB\), kept 0 \(0 KiB\)\n/);
    assert.deepEqual(ls(plans), ["notes"]);
    assert.deepEqual(views(), layers, "prune leaves the marker layers alone");
    assert.equal(existsSync(join(plans, "empty")), hadEmpty, "and the hides' empty directory");
    launch("bin/a");
    assert.ok(ls(plans).filter((n) => n !== "notes").length >= 1);
  });

  it("removes a marker layer's temporary a killed launch left, once no launch could still be filling it", () => {
    const { home, env, plans } = planCacheHome("fhs-caches-new-");
    // As cache_entry_begin leaves one: half filled, some dirs already read-only.
    const temp = (name: string, minutesAgo: number) => {
      const d = join(plans, name);
      mkdirSync(join(d, "usr/.fhs"), { recursive: true });
      writeFileSync(join(d, "usr/.fhs/view"), "view-id\0x\0\0");
      chmodSync(join(d, "usr/.fhs"), 0o555);
      chmodSync(join(d, "usr"), 0o555);
      const t = new Date(Date.now() - minutesAgo * 60_000);
      utimesSync(d, t, t);
    };
    temp(".new-Ab12Cd", 60);
    temp(".new-Xy34Zw", 1);
    giveToTestUser(home);
    const r = runCliUnprivileged(["cache", "prune"], { env });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^plans \S+: removed 1 \(0 KiB\), kept 0 \(0 KiB\)\n/);
    assert.deepEqual(readdirSync(plans), [".new-Xy34Zw"], "the fresh one may still be filled by a running launch");
  });

  it("--max-size keeps the most recently used within the bound; a directory others may write is left alone", () => {
    const { home, env, plans } = planCacheHome("fhs-caches-size-");
    // Three 600 KiB entries used one, two and three days ago.
    const names = ["a", "b", "c"].map((c) => c.repeat(64));
    names.forEach((n, i) => {
      writeFileSync(join(plans, n), Buffer.alloc(600 * 1024));
      const t = new Date(Date.now() - (i + 1) * 86_400_000);
      utimesSync(join(plans, n), t, t);
    });
    giveToTestUser(home);
    const r = runCliUnprivileged(["cache", "prune", "--max-size", "1"], { env });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^plans \S+: removed 2 \(1200 KiB\), kept 1 \(600 KiB\)\n/);
    assert.deepEqual(readdirSync(plans), [names[0]]);

    chmodSync(plans, 0o777);
    const unsafe = runCliUnprivileged(["cache", "prune", "--all"], { env });
    assert.equal(unsafe.status, 0, unsafe.stderr);
    assert.match(unsafe.stdout, /^plans \S+: not a directory only you own and may write; left alone\n/);
    assert.deepEqual(readdirSync(plans), [names[0]]);

    const bad = runCliUnprivileged(["cache", "prune", "--max-age", "soon"], { env });
    assert.equal(bad.status, EXIT.usage);
    assert.equal(bad.stderr, "fhs: cache prune: --max-age: expected a number of days >= 0, not 'soon'\n");
  });
});
