// fhs build with real software: GNU hello from its release tarball, built
// with Debian's toolchain as layers, by an unprivileged user, then wrapped
// and run. Also: the build view's purity, reproducibility, and bad input.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { debLayers, debSource } from "./helpers/debian.js";
import { runCliUnprivileged, runUnprivileged, testArtifacts, testDir } from "./helpers/env.js";
import { callerMounts, shellPackage, wrapPackage } from "./helpers/wrapped.js";
import { EXIT } from "../src/abi.js";

const EPOCH = 315532800;
const TOOLCHAIN = ["gcc", "binutils", "make", "coreutils", "sed", "grep", "gawk", "dash", "libc6-dev"];
const HELLO_BUILD = "./configure --prefix=/usr && make && make install";

let buildLayers: string[];
let helloSrc: string;
let shellLayers: string[]; // dash, coreutils and their libraries: enough for small scripted builds

before(() => {
  buildLayers = debLayers(TOOLCHAIN, { withDeps: true });
  helloSrc = debSource("hello");
  shellLayers = debLayers(["dash", "coreutils"], { withDeps: true });
});

/** fhs build as the unprivileged test user, with the artifacts that user can reach. */
function fhsBuild(out: string, layers: string[], command: string[], extra: string[] = []) {
  const args = ["build", "--out", out, "--policy", testArtifacts().policy, ...layers.flatMap((l) => ["--layer", l]), ...extra, "--", ...command];
  return runCliUnprivileged(args, { env: { FHS_LAUNCHER: testArtifacts().launcher }, timeoutMs: 600_000 });
}

/** Everything about a tree that must be identical between two builds. */
function treeDigest(root: string): string[] {
  const lines: string[] = [];
  const walk = (rel: string) => {
    const p = rel ? join(root, rel) : root;
    const st = lstatSync(p);
    const mode = (st.mode & 0o7777).toString(8);
    const time = `${st.mtimeMs}`;
    if (st.isSymbolicLink()) lines.push(`${rel} link ${readlinkSync(p)} ${time}`);
    else if (st.isDirectory()) {
      lines.push(`${rel}/ dir ${mode} ${time}`);
      for (const e of readdirSync(p).sort()) walk(rel ? `${rel}/${e}` : e);
    } else if (st.isFile()) lines.push(`${rel} file ${mode} ${time} ${createHash("sha256").update(readFileSync(p)).digest("hex")}`);
    else lines.push(`${rel} other ${mode}`);
  };
  walk("");
  return lines;
}

/** No staging dir of a build is left beside OUT. */
function assertNoStaging(parent: string): void {
  const left = readdirSync(parent).filter((n) => n.includes(".fhs-build-"));
  assert.deepEqual(left, [], `staging left behind in ${parent}`);
}

describe("fhs build: GNU hello from source", () => {
  let first: string;

  it("builds with ./configure && make && make install in a pure view, unprivileged", () => {
    const parent = testDir("fhs-hello-");
    first = join(parent, "hello");
    const r = fhsBuild(first, buildLayers, ["sh", "-c", HELLO_BUILD], ["--src", helloSrc]);
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    assert.match(r.stderr, /fhs: built .*\/hello\n$/);
    assert.deepEqual(readdirSync(first), ["usr"]);
    assert.ok(lstatSync(join(first, "usr/bin/hello")).isFile());
    assert.ok(existsSync(join(first, "usr/share/man/man1/hello.1")));
    // Only what the build installed: none of the dependencies' files, no empty pre-created dirs.
    assert.ok(!existsSync(join(first, "usr/bin/gcc")));
    assert.ok(!existsSync(join(first, "usr/include")));
    for (const line of treeDigest(first)) assert.match(line, new RegExp(` ${EPOCH * 1000}( |$)`), `not normalized: ${line}`);
    assertNoStaging(parent);
  });

  it("the result, wrapped with its runtime layers, runs as an unprivileged user", () => {
    const parent = testDir("fhs-hello-run-");
    const pkg = join(parent, "hello");
    const r = fhsBuild(pkg, buildLayers, ["sh", "-c", HELLO_BUILD], ["--src", helloSrc]);
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    wrapPackage(pkg, debLayers(["libc6"], { withDeps: true }));
    const run = runUnprivileged([join(pkg, "usr/bin/hello")]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, "Hello, world!\n");
    const greet = runUnprivileged([join(pkg, "usr/bin/hello"), "-g", "built by fhs"]);
    assert.equal(greet.stdout, "built by fhs\n");
  });

  it("the same build twice gives bit-identical output (contents, modes, times, links)", () => {
    assert.ok(first, "needs the first build");
    const parent = testDir("fhs-hello-again-");
    const second = join(parent, "hello");
    const r = fhsBuild(second, buildLayers, ["sh", "-c", HELLO_BUILD], ["--src", helloSrc]);
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    const a = treeDigest(first);
    const b = treeDigest(second);
    assert.ok(a.length > 20);
    assert.deepEqual(b, a);
  });

  it("fails cleanly when a needed layer (make) is left out", () => {
    const make = debLayers(["make"])[0]!;
    const parent = testDir("fhs-hello-nomake-");
    const out = join(parent, "hello");
    const before = callerMounts();
    const r = fhsBuild(out, buildLayers.filter((l) => l !== make), ["sh", "-c", HELLO_BUILD], ["--src", helloSrc]);
    assert.equal(r.status, EXIT.buildFailed, r.stderr.slice(-2000));
    // The shell's own complaint, then fhs's one line.
    assert.match(r.stderr, /make: not found/);
    assert.match(r.stderr, /\nfhs: build command sh failed with exit 127; no output written\n$/);
    assert.ok(!existsSync(out));
    assertNoStaging(parent);
    assert.equal(callerMounts(), before);
  });
});

describe("fhs build: the build view", () => {
  it("is pure: no host /usr or /home, scrubbed environment, no network, private /tmp, a minimal /dev", () => {
    const parent = testDir("fhs-pure-");
    const script = [
      "env | sort",
      "test -e /usr/bin/node && echo HOST-USR-VISIBLE",
      "test -e /home && echo HOST-HOME-VISIBLE",
      "test -e \"$HOME\" && echo HOME-EXISTS",
      "echo cwd=$(pwd)",
      "echo tmp=$(ls -A /tmp | wc -l)",
      "echo dev=$(ls /dev | tr '\\n' ' ')",
      "echo null | cat > /dev/null && echo devnull-ok",
      // Interfaces of this network namespace: only lo, and it is up.
      "echo net=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' ')",
      "mkdir -p /usr/share/doc/probe && echo ok > /usr/share/doc/probe/ran",
    ].join("\n");
    const r = fhsBuild(join(parent, "out"), shellLayers, ["sh", "-c", script]);
    assert.equal(r.status, 0, r.stderr);
    const env = r.stdout.split("\n").filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split("=")[0]);
    assert.deepEqual(env, ["HOME", "IN_NIX_FHS", "LC_ALL", "PATH", "PWD", "SOURCE_DATE_EPOCH", "TMPDIR", "TZ"]);
    assert.match(r.stdout, /^PATH=\/usr\/bin:\/bin$/m);
    assert.match(r.stdout, new RegExp(`^SOURCE_DATE_EPOCH=${EPOCH}$`, "m"));
    assert.doesNotMatch(r.stdout, /HOST-USR-VISIBLE|HOST-HOME-VISIBLE|HOME-EXISTS/);
    assert.match(r.stdout, /^cwd=\/build$/m);
    assert.match(r.stdout, /^tmp=0$/m);
    assert.match(r.stdout, /^dev=fd full null random shm stderr stdin stdout tty urandom zero$/m);
    assert.match(r.stdout, /^devnull-ok$/m);
    assert.match(r.stdout, /^net=lo$/m);
    assert.equal(readFileSync(join(parent, "out/usr/share/doc/probe/ran"), "utf8"), "ok\n");
  });

  it("copies a source directory to /build/NAME and starts there; the source stays untouched", () => {
    const src = join(testDir("fhs-srcdir-"), "proj");
    mkdirSync(src);
    writeFileSync(join(src, "data.txt"), "from source\n");
    const parent = testDir("fhs-srcdir-out-");
    const r = fhsBuild(join(parent, "out"), shellLayers, ["sh", "-c", "pwd && mkdir -p /usr/share/proj && cp data.txt /usr/share/proj/ && rm data.txt"], ["--src", src]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "/build/proj\n");
    assert.equal(readFileSync(join(parent, "out/usr/share/proj/data.txt"), "utf8"), "from source\n");
    assert.ok(existsSync(join(src, "data.txt")));
  });

  it("a wrapped package given as --layer stands for its own layers: its real programs at /usr/bin, no launcher runs", () => {
    const shell = shellPackage();
    const parent = testDir("fhs-build-wrapped-");
    const r = fhsBuild(join(parent, "out"), [shell.pkg], ["sh", "-c", "ls -l /usr/bin/ls && mkdir -p /usr/share/w && echo built > /usr/share/w/ok"]);
    assert.equal(r.status, 0, r.stderr);
    // The program itself, not a link to the package's launcher.
    assert.match(r.stdout, /^-r[-w]x.* \/usr\/bin\/ls\n$/);
    assert.equal(readFileSync(join(parent, "out/usr/share/w/ok"), "utf8"), "built\n");
    // Only the build's own files: nothing of the wrapped package was copied in.
    assert.ok(!existsSync(join(parent, "out/usr/bin/ls")));
  });

  it("refuses output that deletes a dependency's file, naming the path", () => {
    const parent = testDir("fhs-whiteout-");
    const out = join(parent, "out");
    const r = fhsBuild(out, shellLayers, ["sh", "-c", "rm -f /usr/bin/tac && test ! -e /usr/bin/tac"]);
    assert.equal(r.status, EXIT.outputRefused, r.stderr);
    assert.equal(r.stderr, "fhs: build output refused: the build deleted the dependency path /usr/bin/tac; a build may only add files\n");
    assert.ok(!existsSync(out));
    assertNoStaging(parent);
  });
});

describe("fhs build: bad input", () => {
  const cases: { name: string; code: number; message: RegExp; setup: (parent: string) => { out: string; layers?: string[]; command?: string[]; extra?: string[] } }[] = [
    {
      name: "a missing --src",
      code: EXIT.usage,
      message: /^fhs: source \/nonexistent\/src\.tar\.gz: no such file or directory\n$/,
      setup: (p) => ({ out: join(p, "out"), extra: ["--src", "/nonexistent/src.tar.gz"] }),
    },
    {
      name: "a COMMAND that fails",
      code: EXIT.buildFailed,
      message: /^fhs: build command sh failed with exit 7; no output written\n$/,
      setup: (p) => ({ out: join(p, "out"), command: ["sh", "-c", "mkdir -p /usr/share/x && touch /usr/share/x/half && exit 7"] }),
    },
    {
      name: "an OUT that exists",
      code: EXIT.usage,
      message: /^fhs: output .*\/out: already exists; remove it or choose another path\n$/,
      setup: (p) => {
        mkdirSync(join(p, "out"));
        return { out: join(p, "out") };
      },
    },
    {
      name: "a layer that is not a directory",
      code: EXIT.usage,
      message: /^fhs: layer .*\/not-a-dir: not a directory\n$/,
      setup: (p) => {
        writeFileSync(join(p, "not-a-dir"), "x");
        return { out: join(p, "out"), layers: [join(p, "not-a-dir")] };
      },
    },
  ];
  for (const c of cases) {
    it(`${c.name}: one line, exit ${c.code}, no OUT, no staging, no mount left`, () => {
      const parent = testDir("fhs-bad-build-");
      const s = c.setup(parent);
      const outExisted = existsSync(s.out);
      const before = callerMounts();
      const r = fhsBuild(s.out, [...(s.layers ?? []), ...shellLayers], s.command ?? ["sh", "-c", "true"], s.extra ?? []);
      assert.equal(r.status, c.code, r.stderr);
      assert.match(r.stderr, c.message);
      if (outExisted) assert.deepEqual(readdirSync(s.out), []);
      else assert.ok(!existsSync(s.out));
      assertNoStaging(parent);
      assert.equal(callerMounts(), before);
    });
  }
});
