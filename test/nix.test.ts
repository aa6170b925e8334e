// nix/ with real Nix (Debian's nix-bin 2.8, which test/setup.sh installs): the
// sandbox on, no substituter, no nixpkgs. Layers are Debian packages added to
// the store; the launcher, the policy and the CLI are this checkout's.
//
// nix-build runs as root against the machine's /nix/store (no daemon lets the
// unprivileged test user build); the builder itself runs as one of Debian's
// nixbld users, unprivileged, in the sandbox's user namespace. What a build
// made runs as the unprivileged test user, outside Nix.
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { debFiles, debianArchiveVersion, debLayers, debSource } from "./helpers/debian.js";
import { isRoot, mustWork, repoRoot, runUnprivileged } from "./helpers/env.js";
import { addLayers, nixEnv, nixRun } from "./helpers/nix.js";
import { startRemoteBuilder } from "./helpers/remote-builder.js";
import { encodeManifest, MANIFEST_VERSION } from "../src/manifest.js";
import { inspectLayer } from "../src/layers.js";
import { defaultConfigPath, loadConfig } from "../src/policy/config.js";
import { readPolicyModule } from "../src/policy/validate.js";

const hasNix = spawnSync("nix-build", ["--version"], { encoding: "utf8" }).status === 0;
const hasBuildUsers = spawnSync("getent", ["group", "nixbld"], { encoding: "utf8" }).status === 0;
const skip = mustWork
  ? false
  : !hasNix
    ? "nix-build not installed (apt-get install nix-bin; test/setup.sh does it as root)"
    : !hasBuildUsers
      ? "no nixbld group for Nix's build users (apt-get install nix-setup-systemd; test/setup.sh does it as root)"
      : !isRoot
        ? "nix-build needs root here: the store is root's and no nix-daemon runs"
        : false;

// The sandbox on, and no fallback to an unsandboxed build when it cannot be
// set up; nothing to substitute from (no binary cache is reachable).
const NIX_OPTS = ["--option", "sandbox", "true", "--option", "sandbox-fallback", "false", "--option", "substituters", ""];

const TOOLCHAIN = ["gcc", "binutils", "make", "coreutils", "sed", "grep", "gawk", "dash", "libc6-dev"];
// Debian's nodejs and what it depends on, each a layer (the node-* packages
// hold the modules Debian unbundles from Node), and tar with its
// decompressors for `fhs build --src TARBALL`.
const NODE = ["libnode108", "node-acorn", "node-cjs-module-lexer", "node-undici", "libuv1", "libc-ares2", "libbrotli1", "libnghttp2-14", "libicu72", "libssl3", "zlib1g", "libstdc++6", "libgcc-s1", "gcc-12-base", "libc6"];

let work: string;
let layersJson: string;
let fixture: Record<string, string[]>;
const packagesNix = join(repoRoot, "test", "fixtures", "nix", "packages.nix");

function nixBuild(attr: string, extra: string[] = [], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync("nix-build", [packagesNix, "--arg", "layers", layersJson, "-A", attr, "--no-out-link", ...NIX_OPTS, ...extra], {
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 600_000,
    maxBuffer: 64 * 1024 * 1024,
    env: opts.env ?? nixEnv,
  });
}

function built(attr: string): string {
  const r = nixBuild(attr);
  assert.equal(r.status, 0, `nix-build -A ${attr} failed:\n${r.stderr.slice(-4000)}`);
  const out = r.stdout.trim().split("\n").pop()!;
  assert.match(out, /^\/nix\/store\/[a-z0-9]{32}-/);
  return out;
}

/** A view's layers for fhsRun tests, in a one-off expression. */
function runExpr(name: string, layers: string[], script: string): SpawnSyncReturns<string> {
  const expr = join(work, `${name}.nix`);
  writeFileSync(
    expr,
    `(import ${join(repoRoot, "nix")} { }).fhsRun {
  name = ${JSON.stringify(name)};
  layers = builtins.fromJSON ${JSON.stringify(JSON.stringify(layers))};
  command = [ "sh" "-c" ${JSON.stringify(script)} ];
  env.nonce = ${JSON.stringify(randomUUID())};
}\n`,
  );
  return spawnSync("nix-build", [expr, "--no-out-link", ...NIX_OPTS], { encoding: "utf8", timeout: 120_000, env: nixEnv });
}

const unique = (xs: string[]) => [...new Set(xs)];

describe("nix/: Nix builds in fhs views", { skip }, () => {
  before(() => {
    if (mustWork) {
      assert.ok(hasNix, "nix-build is not installed (test/setup.sh installs nix-bin)");
      assert.ok(hasBuildUsers, "no nixbld group (test/setup.sh installs nix-setup-systemd)");
      assert.ok(isRoot, "the Nix test runs nix-build as root on CI");
    }
    work = mkdtempSync(join(tmpdir(), "fhs-nix-"));
    chmodSync(work, 0o755);
    const nodejs = debianArchiveVersion("nodejs");
    const nodeVersion = nodejs.split("=")[1]!;
    const shell = debLayers(["dash", "bash", "coreutils"], { withDeps: true });
    fixture = {
      node: addLayers(unique([...debLayers([nodejs, ...NODE.map((p) => (p === "libnode108" ? `${p}=${nodeVersion}` : p))]), ...debLayers(["tar", "gzip", "xz-utils"], { withDeps: true })])),
      toolchain: addLayers(debLayers(TOOLCHAIN, { withDeps: true }).filter((l) => !basename(l).startsWith("make_"))),
      runtime: addLayers(debLayers(["libc6"], { withDeps: true })),
      shell: addLayers(shell),
      zlib: addLayers(debLayers(["zlib1g-dev", "zlib1g"])),
    };
    const helloSrc = debSource("hello");
    layersJson = join(work, "layers.json");
    writeFileSync(
      layersJson,
      JSON.stringify({
        ...fixture,
        gcc12: addLayers(debLayers(["gcc-12"]))[0],
        makeDeb: debFiles(["make"])[0],
        helloSrc,
        helloVersion: /hello_([^-]+)\.orig/.exec(basename(helloSrc))?.[1] ?? "0",
      }),
    );
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("fhsRun: Debian's dash runs as the builder in a view of store-path layers; the launcher writes the manifest", () => {
    const layers = fixture.shell!;
    const script = [
      "set -e",
      "{",
      '  echo "IN_NIX_FHS=$IN_NIX_FHS"',
      "  sha256sum /usr/bin/dash",
      '  for d in /*; do echo "root: $d"; done',
      "} > $out",
    ].join("\n");
    const r = runExpr("fhs-nix-run", layers, script);
    assert.equal(r.status, 0, `nix-build failed:\n${r.stderr}`);
    const text = readFileSync(r.stdout.trim(), "utf8");
    assert.match(text, /^IN_NIX_FHS=[0-9a-f]+$/m, text);
    const dash = layers.find((l) => basename(l).includes("-dash_"))!;
    const sha = createHash("sha256").update(readFileSync(join(dash, "usr", "bin", "dash"))).digest("hex");
    assert.match(text, new RegExp(`^${sha}  /usr/bin/dash$`, "m"), text);
    const roots = [...text.matchAll(/^root: (\S+)$/gm)].map((m) => m[1]);
    assert.ok(roots.includes("/build") && roots.includes("/nix") && !roots.includes("/home"), roots.join(" "));
    spawnSync("nix-store", ["--delete", r.stdout.trim()], { env: nixEnv });
  });

  it("fhs-launcher manifest writes the bytes the CLI writes for the same view", () => {
    const out = join(work, "launcher-manifest.bin");
    const policy = join(repoRoot, "build", "policy.wasm");
    const layers = [...fixture.shell!.slice(0, 3), fixture.node![0]!];
    const r = spawnSync(join(repoRoot, "build", "fhs-launcher-static"), ["manifest", out, "v", policy, join(repoRoot, "build", "config.bin"), ...layers], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const expected = encodeManifest({
      fhsManifest: MANIFEST_VERSION,
      package: "v",
      layers: layers.map((l) => inspectLayer(l)),
      policy: { path: policy, sha256: readPolicyModule(policy).sha256, source: "default" },
      config: loadConfig(defaultConfigPath),
      programs: [],
      launcher: "",
    });
    assert.deepEqual(readFileSync(out), Buffer.from(expected));
    // Never over an existing file; a relative layer is refused.
    const again = spawnSync(join(repoRoot, "build", "fhs-launcher-static"), ["manifest", out, "v", policy, join(repoRoot, "build", "config.bin"), "rel/layer"], { encoding: "utf8" });
    assert.equal(again.status, 125);
    assert.match(again.stderr, /^fhs: layer rel\/layer: not an absolute path\n$/);
  });

  it("a view without the command fails the build with the launcher's message", () => {
    const libcOnly = fixture.runtime!;
    const r = runExpr("fhs-nix-noshell", libcOnly, "echo never > $out");
    assert.notEqual(r.status, 0, `nix-build succeeded:\n${r.stdout}`);
    assert.match(r.stderr, /exec sh in the view/);
    assert.match(r.stderr, /builder for '\/nix\/store\/[a-z0-9]{32}-fhs-nix-noshell\.drv' failed with exit code 127/);
  });

  let hello: string;
  it("mkFhsPackage: GNU hello from its release tarball, built and wrapped in the sandbox; it runs outside Nix, unprivileged", () => {
    hello = built("hello");
    const r = runUnprivileged([join(hello, "usr", "bin", "hello")]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "Hello, world!\n");
    assert.equal(runUnprivileged([join(hello, "usr", "bin", "hello"), "-g", "from Nix"]).stdout, "from Nix\n");
    // The programs in .fhs/raw, the manifest naming the runtime layers by store path.
    assert.ok(existsSync(join(hello, ".fhs", "raw", "bin", "hello")));
    const manifest = JSON.parse(readFileSync(join(hello, ".fhs", "manifest.json"), "utf8")) as { layers: { path: string }[] };
    assert.deepEqual(manifest.layers.map((l) => l.path), [join(hello, ".fhs", "raw"), hello, ...fixture.runtime!]);
    // Its closure: the runtime layers and the launcher, found by Nix's scan;
    // not the toolchain, not the CLI, not Node.
    const refs = nixRun("nix-store", ["--query", "--references", hello]).split("\n").sort();
    const launcher = refs.filter((p) => p.endsWith("-fhs-launcher"));
    assert.equal(launcher.length, 1, refs.join("\n"));
    assert.deepEqual(refs, [...fixture.runtime!, hello, launcher[0]!].sort());
  });

  it("nix-build --check rebuilds it bit-identical", () => {
    assert.ok(hello, "the hello build ran first");
    const r = nixBuild("hello", ["--check"]);
    assert.equal(r.status, 0, `--check failed:\n${r.stderr.slice(-3000)}`);
    assert.doesNotMatch(r.stderr, /may not be deterministic/);
  });

  it("a remote build: the same derivation built by a Nix remote builder over ssh, none locally (--max-jobs 0)", async () => {
    assert.ok(hello, "the hello build ran first");
    const remote = await startRemoteBuilder();
    try {
      // Neither store may hold the output: the build must happen, remotely.
      nixRun("nix-store", ["--delete", hello]);
      remote.runAsRemote(["nix-store", "--delete", hello]);
      assert.notEqual(remote.runAsRemote(["nix-store", "--check-validity", hello]).status, 0);
      const r = nixBuild("hello", ["--max-jobs", "0", "--builders", remote.builders, "--option", "builders-use-substitutes", "false"], {
        env: { ...nixEnv, ...remote.env },
      });
      assert.equal(r.status, 0, `remote nix-build failed:\n${r.stderr.slice(-4000)}`);
      assert.equal(r.stdout.trim(), hello);
      assert.match(r.stderr, /building '\/nix\/store\/[a-z0-9]{32}-hello-[^']*\.drv' on 'ssh:\/\/fhs-nixremote@127\.0\.0\.1'/);
      // Built in the remote user's store, copied back into the local one.
      assert.equal(remote.runAsRemote(["nix-store", "--check-validity", hello]).status, 0);
      const run = runUnprivileged([join(hello, "usr", "bin", "hello")]);
      assert.equal(run.stdout, "Hello, world!\n", run.stderr);
    } finally {
      remote.stop();
    }
  });

  it("debLayer: a .deb made a layer inside Nix, the same tree fhs layer import makes", () => {
    const make = built("make");
    const imported = debLayers(["make"])[0]!;
    const list = (dir: string): string[] =>
      readdirSync(dir, { recursive: true, withFileTypes: true }).map((e) => join(e.parentPath, e.name).slice(dir.length)).sort();
    assert.deepEqual(list(make), list(imported));
    const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");
    assert.equal(sha(join(make, "usr", "bin", "make")), sha(join(imported, "usr", "bin", "make")));
  });

  it("a Nix-layout dependency ($out/bin, $out/lib) is a layer: at build time and at run time", () => {
    const greet = built("greet");
    assert.ok(existsSync(join(greet, "bin", "greet")) && !existsSync(join(greet, "usr")));
    const greeter = built("greeter");
    const r = runUnprivileged([join(greeter, "usr", "bin", "greeter")]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "built with: greetings from a Nix-layout layer\nrunning: greetings from a Nix-layout layer\n");
  });

  it("mkFhsEnv: nix-shell --run enters the view; a compiler from packages, itself at /usr/bin, sees the env's zlib", () => {
    const gcc = built("gcc");
    const src = join(work, "z.c");
    writeFileSync(src, '#include <stdio.h>\n#include <zlib.h>\nint main(void) { printf("zlib %s\\n", zlibVersion()); return 0; }\n');
    // Outside the env the wrapped compiler has no zlib.h.
    const alone = runUnprivileged([join(gcc, "usr", "bin", "gcc-12"), "-o", join(work, "z-alone"), src]);
    assert.notEqual(alone.status, 0);
    assert.match(alone.stderr, /zlib\.h: No such file or directory/);

    const bin = join(work, "z");
    const r = spawnSync(
      "nix-shell",
      [packagesNix, "--arg", "layers", layersJson, "-A", "env", ...NIX_OPTS, "--run", `echo "hook=$FHS_ENV_HOOK view=$IN_NIX_FHS"; ls /usr/include/zlib.h; echo "gcc=$(readlink -f "$(command -v gcc-12)")"; gcc-12 -o ${bin} ${src} -lz && ${bin}`],
      { encoding: "utf8", timeout: 600_000, env: nixEnv, cwd: work },
    );
    assert.equal(r.status, 0, `nix-shell failed:\n${r.stderr.slice(-3000)}`);
    assert.match(r.stdout, /^hook=ran view=[0-9a-f]+$/m);
    assert.match(r.stdout, /^\/usr\/include\/zlib\.h$/m);
    assert.match(r.stdout, /^zlib 1\.2\.13$/m);
    // The package stands for its layers, its programs first: gcc-12 is the
    // compiler itself, in the view's /usr, not the package's wrapper.
    assert.match(r.stdout, /^gcc=\/usr\/bin\/\S+$/m);

    // With nixpkgs, nix-shell runs nixpkgs' bash, outside the view (the
    // host's bash stands in for it here): $stdenv/setup re-enters the view.
    const hostBash = spawnSync(
      "nix-shell",
      [packagesNix, "--arg", "layers", layersJson, "-A", "env", ...NIX_OPTS, "--run", `echo "hook=$FHS_ENV_HOOK view=$IN_NIX_FHS"; ${bin}`],
      { encoding: "utf8", timeout: 600_000, env: { ...nixEnv, NIX_BUILD_SHELL: "/bin/bash" }, cwd: work },
    );
    assert.equal(hostBash.status, 0, `nix-shell with the host's bash failed:\n${hostBash.stderr.slice(-3000)}`);
    assert.match(hostBash.stdout, /^hook=ran view=[0-9a-f]+$/m);
    assert.match(hostBash.stdout, /^zlib 1\.2\.13$/m);
  });
});
