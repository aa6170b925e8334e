// fhs env: a dev environment as a view, and the seed's story in it: a wrapped
// gcc, run inside an environment that adds a library's development files,
// compiles and links against that library, and the program runs.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, lstatSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { inspectLayer } from "../src/layers.js";
import { encodeManifest, MANIFEST_VERSION } from "../src/manifest.js";
import { defaultConfigPath, loadConfig } from "../src/policy/config.js";
import { debLayers } from "./helpers/debian.js";
import { envLayers } from "../src/env.js";
import { isRoot, repoRoot, runCliUnprivileged, runUnprivileged, testArtifacts, testDir, testUser } from "./helpers/env.js";
import { sublibAndProgram } from "./helpers/sublib.js";
import { callerMounts, gccPackage, makePackage, markerLayer, shellPackage, wrapPackage } from "./helpers/wrapped.js";

let gccPkg: string;
let shellPkg: string;
let zlibDev: string[];

before(() => {
  gccPkg = gccPackage().pkg;
  shellPkg = shellPackage().pkg;
  zlibDev = debLayers(["zlib1g-dev", "zlib1g"]);
});

function fhsEnv(args: string[], opts: { cwd?: string; input?: string; env?: Record<string, string> } = {}) {
  return runCliUnprivileged(["env", "--policy", testArtifacts().policy, ...args], { ...opts, env: { ...opts.env, FHS_LAUNCHER: testArtifacts().launcher } });
}

/** How many wrappers a run launched: with FHS_DEBUG=timing each prints one
 * line (the env's own launch prints none). */
function launches(stderr: string): number {
  return stderr.split("\n").filter((l) => l.startsWith("fhs-timing ")).length;
}

describe("fhs env: the seed's story", () => {
  it("inside an env with zlib's -dev layers, the wrapped gcc compiles and links a zlib program, which runs", () => {
    const work = testDir("fhs-env-gcc-");
    writeFileSync(join(work, "z.c"), `#include <stdio.h>\n#include <zlib.h>\nint main(void) { printf("zlib %s\\n", zlibVersion()); return 0; }\n`);
    const layers = zlibDev.flatMap((l) => ["--layer", l]);
    const r = fhsEnv(["--pkg", shellPkg, ...layers, "--", "sh", "-c", `${gccPkg}/usr/bin/gcc -o z z.c -lz && ./z`], { cwd: work });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^zlib 1\.2\.\d+/);
  });

  it("without zlib's layers the same compile fails: the env is what brings zlib.h", () => {
    const work = testDir("fhs-env-gcc-");
    writeFileSync(join(work, "z.c"), "#include <zlib.h>\nint main(void) { return 0; }\n");
    const r = fhsEnv(["--pkg", shellPkg, "--", "sh", "-c", `${gccPkg}/usr/bin/gcc -c z.c`], { cwd: work });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /zlib\.h: No such file or directory/);
  });
});

describe("fhs env: the view", () => {
  it("is a launch view: host dirs bound, /usr from the layers only, the IN_NIX_FHS marker", () => {
    const work = testDir("fhs-env-view-");
    const r = fhsEnv(["--pkg", shellPkg, "--layer", zlibDev[0]!, "--", "sh", "-c", "echo id=$IN_NIX_FHS; tr '\\0' ' ' < /usr/.fhs/view; echo; pwd; test -e /usr/bin/node || echo no-host-usr; ls /usr/include | tr '\\n' ' '"], { cwd: work });
    assert.equal(r.status, 0, r.stderr);
    const [idLine, marker, cwd, pure, include] = r.stdout.split("\n");
    const id = idLine!.replace("id=", "");
    assert.match(id, /^[0-9a-f]{16}$/);
    assert.ok(marker!.startsWith(`view-id ${id} `), marker);
    assert.ok(marker!.includes(`view ${shellPkg} fhs usr`));
    assert.ok(marker!.includes(`view ${zlibDev[0]} fhs usr`));
    assert.equal(cwd, work);
    assert.equal(pure, "no-host-usr");
    assert.match(include!, /zlib\.h/);
  });

  it("has the view's own ld.so.cache, like a wrapped program's: a library only the env's layers hold is found", () => {
    const { lib, bin } = sublibAndProgram();
    const home = testDir("fhs-env-home-");
    const run = () => runUnprivileged([process.execPath, join(repoRoot, "dist/cli.js"), "env", "--policy", testArtifacts().policy, "--pkg", shellPkg, "--layer", lib, "--", bin], { env: { FHS_LAUNCHER: testArtifacts().launcher, XDG_CACHE_HOME: home } });
    const r = run();
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "found libsub through the view's ld.so.cache\n");
    // Made once for this layer list, then reused.
    const [cache] = readdirSync(join(home, "fhs/ld.so.cache"));
    const made = statSync(join(home, "fhs/ld.so.cache", cache!)).mtimeMs;
    assert.equal(run().stdout, "found libsub through the view's ld.so.cache\n");
    assert.equal(statSync(join(home, "fhs/ld.so.cache", cache!)).mtimeMs, made);
  });

  it("with no COMMAND runs a shell whose prompt shows that you are inside", () => {
    const r = fhsEnv(["--pkg", shellPkg], { input: 'echo "[$PS1]"; echo "in $IN_NIX_FHS"\n' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\[\(fhs\) \$ \]\nin [0-9a-f]{16}\n$/);
  });

  it("on a terminal the shell is interactive and prints that prompt", () => {
    const cli = join(process.cwd(), "dist", "cli.js");
    const cmd = `${process.execPath} ${cli} env --policy ${testArtifacts().policy} --pkg ${shellPkg}`;
    const argv = ["script", "-qec", cmd, "/dev/null"];
    const full = isRoot ? ["/usr/bin/setpriv", `--reuid=${testUser.uid}`, `--regid=${testUser.gid}`, "--clear-groups", "--", ...argv] : argv;
    const r = spawnSync(full[0]!, full.slice(1), {
      input: "echo in-the-view\nexit 3\n",
      encoding: "utf8",
      timeout: 60_000,
      env: { PATH: "/usr/bin:/bin", HOME: testUser.home, FHS_LAUNCHER: testArtifacts().launcher, TERM: "dumb" },
    });
    assert.equal(r.status, 3, r.stdout + r.stderr);
    assert.match(r.stdout, /\(fhs\) \$ /);
    assert.match(r.stdout, /in-the-view/);
  });

  it("a wrapped program started inside composes on top of the env", () => {
    // dash from the shell package, run by its store path inside an env that
    // has only zlib: the nested view holds both.
    const r = fhsEnv(["--layer", zlibDev[0]!, "--layer", ...debLayers(["dash"]), "--", `${shellPkg}/usr/bin/dash`, "-c", "test -e /usr/include/zlib.h && test -e /usr/bin/tac && echo composed"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "composed\n");
  });

  it("inside a view, an env launch layers on top of that view", () => {
    // The CLI runs on the host's node, which a view does not show; the inner
    // env launch is made by the launcher from a compiled manifest, as
    // `fhs env` itself makes it.
    const dir = testDir("fhs-env-nested-");
    const policy = readFileSync(testArtifacts().policy);
    const inner = join(dir, "manifest.bin");
    writeFileSync(
      inner,
      encodeManifest({
        fhsManifest: MANIFEST_VERSION,
        package: dir,
        layers: [inspectLayer(zlibDev[0]!)],
        policy: { path: testArtifacts().policy, sha256: createHash("sha256").update(policy).digest("hex"), source: "default" },
        config: loadConfig(defaultConfigPath),
        programs: [],
        launcher: testArtifacts().launcher,
      }),
    );
    const launcher = join(testArtifacts().root, "fhs-launcher-static");
    const before = callerMounts();
    const r = fhsEnv(["--pkg", shellPkg, "--", "sh", "-c", `test -e /usr/include/zlib.h && echo leaked; ${launcher} env ${inner} -- sh -c 'test -e /usr/include/zlib.h && test -e /usr/bin/tac && tr "\\0" " " < /usr/.fhs/view'`]);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /leaked/);
    assert.ok(r.stdout.includes(`view ${zlibDev[0]} fhs usr`), r.stdout);
    assert.ok(r.stdout.includes(`view ${shellPkg} fhs usr`), r.stdout);
    assert.equal(callerMounts(), before);
  });

  it("refuses a --pkg that is not wrapped and a layer that is not a directory, in one line", () => {
    const dir = testDir("fhs-env-bad-");
    const r1 = fhsEnv(["--pkg", dir, "--", "true"]);
    assert.equal(r1.status, 2);
    assert.match(r1.stderr, /^fhs: package .*: not a wrapped package \(no \.fhs\/manifest\.json\)\n$/);
    const r2 = fhsEnv(["--layer", join(dir, "missing"), "--", "true"]);
    assert.equal(r2.status, 2);
    assert.match(r2.stderr, /^fhs: layer .*missing: no such directory\n$/);
  });
});

describe("wrapped packages as layers: each stands for its own layer list", () => {
  it("fhs env --layer WRAPPED: the real programs at /usr/bin, with their dependencies; gcc compiles and no launcher runs", () => {
    const work = testDir("fhs-env-wrapped-");
    writeFileSync(join(work, "hello.c"), "int main(void) { return 0; }\n");
    // A dependency of gcc given again, after it: it stays where gcc's list has it.
    const dep = gccPackage().layers[0]!;
    const script = "ls -l /usr/bin/ls; ls -lL /usr/bin/gcc; gcc -c hello.c && test -s hello.o && echo compiled; tr '\\0' ' ' < /usr/.fhs/view";
    const r = fhsEnv(["--layer", gccPkg, "--layer", shellPkg, "--layer", dep, "--", "sh", "-c", script], { cwd: work, env: { FHS_DEBUG: "timing" } });
    assert.equal(r.status, 0, r.stderr);
    const [ls, gcc, compiled] = r.stdout.split("\n");
    // The programs themselves, not links to the package's launcher.
    assert.match(ls!, /^-r[-w]x.* \/usr\/bin\/ls$/);
    assert.match(gcc!, /^-r[-w]x.* \/usr\/bin\/gcc$/);
    const real = statSync(join(gccPkg, ".fhs/raw/bin/gcc")).size;
    assert.ok(gcc!.includes(` ${real} `), `${gcc} is not ${join(gccPkg, ".fhs/raw/bin/gcc")} (${real} bytes)`);
    assert.ok(lstatSync(join(gccPkg, "usr/bin/gcc")).isSymbolicLink(), "the package's usr/bin/gcc is its wrapper");
    assert.equal(compiled, "compiled");
    // No launcher ran for sh, ls, gcc, cc1, as.
    assert.equal(launches(r.stderr), 0, r.stderr);
    // gcc's programs first, then its own dir; the dependency once, in gcc's place for it.
    const marker = r.stdout.split("\n").at(-1)!;
    const order = [...marker.matchAll(/view (\S+) (?:fhs|nix) /g)].map((m) => m[1]!);
    assert.equal(order[0], join(gccPkg, ".fhs/raw"));
    assert.ok(order.includes(gccPkg) && order.includes(join(shellPkg, ".fhs/raw")));
    assert.equal(order.filter((l) => l === dep).length, 1);
    assert.ok(order.indexOf(dep) < order.indexOf(join(shellPkg, ".fhs/raw")), "the dependency stays in gcc's list, before the next package");
  });

  it("a wrapper run by its path in such an env still launches (the fast path), once per program", () => {
    const r = fhsEnv(["--pkg", shellPkg, "--", `${shellPkg}/usr/bin/sh`, "-c", `${shellPkg}/usr/bin/ls -l ${shellPkg}/usr/bin/ls`], { env: { FHS_DEBUG: "timing" } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^l.* -> .*\.fhs-launcher\n$/);
    assert.equal(launches(r.stderr), 2, r.stderr);
  });

  it("fhs wrap --layer WRAPPED: the dependency's real programs in the package's view, no launch for them", () => {
    const pkg = makePackage({ "bin/lsls": { text: "#!/bin/sh\nls -l /usr/bin/ls\n" } }, "lsls");
    wrapPackage(pkg, [shellPkg]);
    const m = JSON.parse(readFileSync(join(pkg, ".fhs/manifest.json"), "utf8")) as { layers: { path: string }[] };
    const paths = m.layers.map((l) => l.path);
    assert.ok(paths.includes(join(shellPkg, ".fhs/raw")) && paths.includes(shellPkg), paths.join(" "));
    const r = runUnprivileged([join(pkg, "usr/bin/lsls")], { env: { FHS_DEBUG: "timing" } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^-r[-w]x.* \/usr\/bin\/ls\n$/);
    assert.equal(launches(r.stderr), 1, r.stderr);
  });

  it("refuses a wrapped package moved since it was wrapped, in one line: its list names the old place", () => {
    const pkg = wrapPackage(makePackage({ "bin/hi": { text: "#!/bin/sh\necho hi\n" } }, "moved"));
    const moved = join(testDir("fhs-env-moved-"), "moved");
    cpSync(pkg, moved, { recursive: true, verbatimSymlinks: true });
    const r = fhsEnv(["--layer", moved, "--", "true"]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, `fhs: package ${moved}: its manifest was written for ${pkg}; wrap it again where it is\n`);
  });

  it("fhs-launcher manifest (mkFhsEnv's view) expands a wrapped package as fhs env does: the same bytes", () => {
    const dir = testDir("fhs-env-launcher-manifest-");
    const out = join(dir, "manifest.bin");
    const policy = testArtifacts().policy;
    const args = [gccPkg, gccPackage().layers[0]!, markerLayer("extra")];
    const r = runUnprivileged([join(testArtifacts().root, "fhs-launcher-static"), "manifest", out, "v", policy, join(repoRoot, "build", "config.bin"), ...args]);
    assert.equal(r.status, 0, r.stderr);
    const expected = encodeManifest({
      fhsManifest: MANIFEST_VERSION,
      package: "v",
      layers: envLayers([], args),
      policy: { path: policy, sha256: createHash("sha256").update(readFileSync(policy)).digest("hex"), source: "default" },
      config: loadConfig(defaultConfigPath),
      programs: [],
      launcher: "",
    });
    assert.deepEqual(readFileSync(out), Buffer.from(expected));
    assert.equal(envLayers([], args)[0]!.path, join(gccPkg, ".fhs/raw"));
  });
});
