// nix/default.nix with real Nix (Debian's nix-bin, test/setup.sh installs it):
// a derivation whose builder is the static fhs launcher runs an unpatched
// Debian shell in a view of layers that are store paths, inside Nix's
// sandbox, and writes $out.
//
// nix-build runs as root against the machine's /nix/store (there is no
// daemon to let the unprivileged test user build); the builder itself runs as
// one of Debian's nixbld build users, unprivileged, in the sandbox's user
// namespace, where store paths are owned by an unmapped uid. Every run builds
// a new derivation (a nonce in its environment), so a cached output never
// stands in for a build.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { debLayers } from "./helpers/debian.js";
import { isRoot, mustWork, repoRoot } from "./helpers/env.js";
import { addLayers, nixEnv, nixRun, writeNixManifest } from "./helpers/nix.js";

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

let work: string;
let layers: string[];
let debDash: string;
let policy: string;
const outputs: string[] = [];

/** nix-build of an fhsRun call; returns the process result. */
function build(name: string, manifest: string, layerPaths: string[], script: string) {
  const expr = join(work, `${name}.nix`);
  writeFileSync(
    expr,
    `(import ${join(repoRoot, "nix")} { }).fhsRun {
  name = ${JSON.stringify(name)};
  manifest = ${manifest};
  layers = builtins.fromJSON ${JSON.stringify(JSON.stringify(layerPaths))};
  command = [ "sh" "-c" ${JSON.stringify(script)} ];
  env.nonce = ${JSON.stringify(randomUUID())};
}\n`,
  );
  return spawnSync("nix-build", [expr, "--no-out-link", ...NIX_OPTS], { encoding: "utf8", timeout: 120_000, env: nixEnv });
}

describe("nix/default.nix: fhsRun in the Nix sandbox", { skip }, () => {
  before(() => {
    if (mustWork) {
      assert.ok(hasNix, "nix-build is not installed (test/setup.sh installs nix-bin)");
      assert.ok(hasBuildUsers, "no nixbld group (test/setup.sh installs nix-setup-systemd)");
      assert.ok(isRoot, "the Nix test runs nix-build as root on CI");
    }
    work = mkdtempSync(join(tmpdir(), "fhs-nix-"));
    const debs = debLayers(["dash", "coreutils", "libc6"]);
    debDash = join(debs[0]!, "usr", "bin", "dash");
    layers = addLayers(debs);
    // The library's own policy, as a store path: the manifest must name it.
    policy = JSON.parse(nixRun("nix-instantiate", ["--eval", "--read-write-mode", "--json", "--expr", `(import ${join(repoRoot, "nix")} { }).policy`]));
  });

  after(() => {
    // Outputs are not GC roots (--no-out-link): drop them; the layers stay, so a later run adds nothing.
    for (const out of outputs) spawnSync("nix-store", ["--delete", out], { encoding: "utf8", env: nixEnv });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("the builder is the launcher: Debian's dash runs in a view of store-path layers and writes $out", () => {
    const manifest = join(work, "manifest.bin");
    writeNixManifest(manifest, { name: "nix-test", layers, policy });
    const script = [
      "set -e",
      "{",
      '  echo "IN_NIX_FHS=$IN_NIX_FHS"',
      "  sha256sum /usr/bin/sh",
      '  while read -r line; do case "$line" in *" /usr "*) echo "usr-mount: $line";; esac; done < /proc/self/mountinfo',
      '  for d in /*; do echo "root: $d"; done',
      "} > $out",
    ].join("\n");
    const r = build("fhs-nix-test", manifest, layers, script);
    assert.equal(r.status, 0, `nix-build failed:\n${r.stderr}`);
    const out = r.stdout.trim();
    assert.match(out, /^\/nix\/store\/[a-z0-9]{32}-fhs-nix-test$/);
    outputs.push(out);
    const text = readFileSync(out, "utf8");

    assert.match(text, /^IN_NIX_FHS=[0-9a-f]+$/m, text);
    // /usr/bin/sh in the view is Debian's dash, byte for byte.
    const sha = createHash("sha256").update(readFileSync(debDash)).digest("hex");
    assert.match(text, new RegExp(`^${sha}  /usr/bin/sh$`, "m"), text);
    // /usr is a read-only overlay of exactly the three store layers, in order.
    const mount = /^usr-mount: .* \/usr ro[^ ]* .*- overlay \S+ (\S+)$/m.exec(text);
    assert.ok(mount, `no overlay at /usr:\n${text}`);
    const lowers = mount[1]!.split(",").filter((o) => o.startsWith("lowerdir")).flatMap((o) => o.replace(/^lowerdir\+?=/, "").split(":"));
    // Layers are mounted from fds opened in the launcher's scratch root, where
    // the caller's root is /oldroot: the kernel names them from there.
    assert.deepEqual(lowers.map((l) => "/" + l.replace(/^\/?(oldroot\/)?/, "")), layers.map((l) => `${l}/usr`));
    // The sandbox's root, seen through the view: its /build, no host /home or /root.
    const roots = [...text.matchAll(/^root: (\S+)$/gm)].map((m) => m[1]);
    assert.ok(roots.includes("/build") && roots.includes("/nix") && roots.includes("/usr"), roots.join(" "));
    assert.ok(!roots.includes("/home") && !roots.includes("/root"), `not the sandbox's root: ${roots.join(" ")}`);
  });

  it("a view without the command fails the build with the launcher's message", () => {
    const libcOnly = layers.slice(2);
    const manifest = join(work, "manifest-noshell.bin");
    writeNixManifest(manifest, { name: "nix-test-noshell", layers: libcOnly, policy });
    const r = build("fhs-nix-noshell", manifest, libcOnly, "echo never > $out");
    assert.notEqual(r.status, 0, `nix-build succeeded:\n${r.stdout}`);
    assert.match(r.stderr, /exec sh in the view/);
    assert.match(r.stderr, /builder for '\/nix\/store\/[a-z0-9]{32}-fhs-nix-noshell\.drv' failed with exit code \d+/);
  });
});
