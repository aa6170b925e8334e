// The nixpkgs-facing expressions (nix/pkgs.nix, flake.nix), evaluated with
// real Nix against test/fixtures/nix/stub-pkgs.nix, a stand-in for nixpkgs
// whose functions record their calls: no nixpkgs is reachable here, and a
// parse alone would not catch a misspelt attribute or an interface drift.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { mustWork, repoRoot } from "./helpers/env.js";
import { nixEnv } from "./helpers/nix.js";

const hasNix = spawnSync("nix-instantiate", ["--version"], { encoding: "utf8" }).status === 0;
const skip = mustWork ? false : !hasNix ? "nix-instantiate not installed (apt-get install nix-bin; test/setup.sh does it as root)" : false;

const stub = join(repoRoot, "test", "fixtures", "nix", "stub-pkgs.nix");

function evalJson(expr: string): unknown {
  const r = spawnSync("nix-instantiate", ["--eval", "--strict", "--json", "--expr", expr], { encoding: "utf8", env: nixEnv, cwd: repoRoot, timeout: 120_000 });
  assert.equal(r.status, 0, `nix-instantiate failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe("nixpkgs-facing Nix expressions, against a stub nixpkgs", { skip }, () => {
  it("parse", () => {
    for (const f of ["flake.nix", "nix/pkgs.nix", "nix/default.nix", "nix/cli.nix"]) {
      const r = spawnSync("nix-instantiate", ["--parse", join(repoRoot, f)], { encoding: "utf8", env: nixEnv });
      assert.equal(r.status, 0, `${f}: ${r.stderr}`);
    }
  });

  it("nix/pkgs.nix builds fhs with buildNpmPackage (importNpmLock) and the pinned wasm3 crate", () => {
    const got = evalJson(`
      let s = import ${stub}; fhs = import ./nix/pkgs.nix { pkgs = s.pkgs; }; a = fhs.fhs.stubArgs;
      in {
        call = fhs.fhs.stubCall;
        pname = a.pname;
        npmDeps = a.npmDeps.stubCall;
        npmRoot = baseNameOf a.npmDeps.stubArgs.npmRoot;
        hook = a.npmConfigHook.name;
        crate = fhs.wasm3Crate.stubArgs;
        unpacked = builtins.match ".*tar -xzf /nix/store/[0-9]{32}-wasm3x-sys-0.2.1.tar.gz -C launcher/.deps.*" a.postPatch != null;
        launcher = fhs.launcher;
        node = map (l: l.name) fhs.node;
        lib = builtins.attrNames fhs;
      }`) as Record<string, unknown>;
    assert.equal(got.call, "buildNpmPackage");
    assert.equal(got.pname, "fhs");
    assert.equal(got.npmDeps, "importNpmLock");
    assert.match(got.npmRoot as string, /^[a-z0-9]{32}-fhs-source$/);
    assert.equal(got.hook, "npm-config-hook");
    // The crate and its hash are the ones launcher/fetch-wasm3.sh pins.
    const script = readFileSync(join(repoRoot, "launcher", "fetch-wasm3.sh"), "utf8");
    const crate = got.crate as { url: string; sha256: string };
    assert.equal(crate.sha256, /^SHA256=([0-9a-f]{64})$/m.exec(script)?.[1]);
    assert.equal(crate.url, `https://crates.io/api/v1/crates/${/^CRATE=(\S+)$/m.exec(script)?.[1]}/${/^VERSION=(\S+)$/m.exec(script)?.[1]}/download`);
    assert.equal(got.unpacked, true);
  });

  it("mkFhsPackage over the stub: a derivation whose builder is the launcher, running the CLI's build then wrap", () => {
    const got = evalJson(`
      let s = import ${stub}; fhs = import ./nix/pkgs.nix { pkgs = s.pkgs; };
        p = fhs.mkFhsPackage { pname = "hello"; version = "1"; src = s.pkgs.hello.src; deps = [ s.pkgs.gnumake ]; runtimeDeps = [ s.pkgs.glibc ];
                               buildCommands = "./configure --prefix=/usr && make && make install"; };
      in {
        builder = p.builder;
        args = builtins.tail p.args;
        build = builtins.fromJSON p.fhsBuild;
        wrap = builtins.fromJSON p.fhsWrap;
        drv = builtins.match "/nix/store/[a-z0-9]{32}-hello-1.drv" p.drvPath != null;
      }`) as { builder: string; args: string[]; build: string[]; wrap: string[]; drv: boolean };
    assert.match(got.builder, /fhs-launcher-static$/);
    assert.equal(got.args[1], "--");
    assert.deepEqual(got.args.slice(2, 3), ["/usr/bin/node"]);
    assert.equal(got.build[0], "build");
    assert.deepEqual(got.build.slice(-4), ["--", "sh", "-c", "./configure --prefix=/usr && make && make install"]);
    assert.ok(got.build.includes("/nix/store/00000000000000000000000000000000-gnumake"), got.build.join(" "));
    assert.deepEqual(got.wrap.slice(2), ["--layer", "/nix/store/00000000000000000000000000000000-glibc"]);
    assert.ok(got.drv);
  });

  it("flake.nix: packages, lib, devShells and checks for each system, with nixpkgs as the only input", () => {
    const got = evalJson(`
      let s = import ${stub}; flake = import ./flake.nix; o = flake.outputs { self = o; nixpkgs = s.nixpkgs; };
      in {
        inputs = builtins.attrNames flake.inputs;
        systems = builtins.attrNames o.packages;
        packages = builtins.attrNames o.packages.x86_64-linux;
        default = o.packages.x86_64-linux.default.stubCall;
        lib = builtins.attrNames o.lib.x86_64-linux;
        shell = o.devShells.x86_64-linux.default.stubCall;
        check = builtins.match "/nix/store/[a-z0-9]{32}-hello-0.drv" o.checks.x86_64-linux.hello.drvPath != null;
        checkDeps = builtins.length (builtins.fromJSON o.checks.x86_64-linux.hello.fhsBuild);
      }`) as Record<string, unknown>;
    assert.deepEqual(got.inputs, ["nixpkgs"]);
    assert.deepEqual(got.systems, ["aarch64-linux", "x86_64-linux"]);
    assert.deepEqual(got.packages, ["default", "fhs"]);
    assert.equal(got.default, "buildNpmPackage");
    assert.deepEqual(got.lib, ["debLayer", "fhsRun", "launcher", "mkFhsEnv", "mkFhsPackage", "mkManifest", "policy", "runFhs"]);
    assert.equal(got.shell, "mkShell");
    assert.equal(got.check, true);
    assert.ok((got.checkDeps as number) > 20);
  });

  it("a misspelt nixpkgs attribute fails the evaluation", () => {
    const r = spawnSync(
      "nix-instantiate",
      ["--eval", "--strict", "--expr", `let s = import ${stub}; in (import ./nix/pkgs.nix { pkgs = builtins.removeAttrs s.pkgs [ "importNpmLock" ]; }).fhs.stubArgs.npmDeps`],
      { encoding: "utf8", env: nixEnv, cwd: repoRoot },
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /attribute 'importNpmLock' missing/);
  });
});
