// Install-time state (docs/ARCHITECTURE.md, "Install-time state"): the
// packages' postinst scripts and triggers run once at wrap time in a pure
// state view, and what they wrote is the package's generated layer. Real
// Debian layers, fixture .debs built with dpkg-deb, the real CLI and
// launcher, every launch and wrap as the unprivileged user.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, cpSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { debLayers } from "./helpers/debian.js";
import { fetchedPackage, fetchSet } from "./helpers/fetched.js";
import { isRoot, repoRoot, runCliUnprivileged, runUnprivileged, testArtifacts, testDir, testUser } from "./helpers/env.js";
import { LAUNCHER_EXIT } from "../src/abi.js";
import { PLAN_ENTRY, readPlanEntry, rewritePlanEntry } from "./helpers/plan-cache.js";

/** A .deb built with dpkg-deb: FILES (path -> [mode, text]) and a postinst. */
function fixtureDeb(dir: string, name: string, files: Record<string, [number, string]>, postinst: string): string {
  const root = join(dir, `${name}-root`);
  mkdirSync(join(root, "DEBIAN"), { recursive: true });
  writeFileSync(join(root, "DEBIAN/control"), `Package: ${name}\nVersion: 1.0\nArchitecture: all\nMaintainer: fhs <fhs@example.org>\nDescription: install-time state fixture\n`);
  writeFileSync(join(root, "DEBIAN/postinst"), postinst, { mode: 0o755 });
  for (const [rel, [mode, text]] of Object.entries(files)) {
    mkdirSync(join(root, rel, ".."), { recursive: true });
    writeFileSync(join(root, rel), text, { mode });
  }
  // As debhelper makes it: what dpkg -L lists.
  const sums = Object.entries(files).map(([rel, [, text]]) => `${createHash("md5").update(text).digest("hex")}  ${rel}\n`);
  writeFileSync(join(root, "DEBIAN/md5sums"), sums.join(""));
  const deb = join(dir, `${name}_1.0_all.deb`);
  execFileSync("dpkg-deb", ["--root-owner-group", "-Zgzip", "--build", root, deb], { stdio: "ignore" });
  return deb;
}

/** Every entry under root: type, mode, link target or content hash, mtime. */
function treeOf(root: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = lstatSync(p);
    const rel = relative(root, p) || ".";
    const what = st.isSymbolicLink() ? `-> ${readlinkSync(p)}` : st.isDirectory() ? "dir" : createHash("sha256").update(readFileSync(p)).digest("hex");
    out.push(`${rel} ${(st.mode & 0o7777).toString(8)} ${st.mtimeMs} ${what}`);
    if (st.isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e));
  };
  walk(root);
  return out;
}

const env = () => ({ FHS_LAUNCHER: testArtifacts().launcher });
const give = (p: string) => {
  if (isRoot) execFileSync("chown", ["-R", "-h", `${testUser.uid}:${testUser.gid}`, p]);
};

describe("install-time state from fixture packages", () => {
  const work = testDir("fhs-state-");
  const store = join(work, "store");
  const okDeb = fixtureDeb(
    work,
    "fhs-fixture-ok",
    {
      "usr/bin/fhs-fixture-show": [0o755, "#!/bin/sh\ncat /var/lib/fhs-fixture/seen\nreadlink /etc/alternatives/fhs-editor\nexec fhs-editor\n"],
      "usr/libexec/fhs-fixture/editor": [0o755, "#!/bin/sh\necho real editor\n"],
    },
    '#!/bin/sh\nset -e\nmkdir -p /var/lib/fhs-fixture\necho "configured as uid $(id -u): $DPKG_MAINTSCRIPT_PACKAGE $1" > /var/lib/fhs-fixture/seen\nupdate-alternatives --quiet --install /usr/bin/fhs-editor fhs-editor /usr/libexec/fhs-fixture/editor 50\n',
  );
  const badDeb = fixtureDeb(work, "fhs-fixture-bad", {}, '#!/bin/sh\necho "cannot frobnicate" >&2\nexit 3\n');
  // The fixtures need a shell, mkdir and id, update-alternatives and
  // dpkg-query (dpkg, libmd0) and a libc.
  const base = debLayers(["dash", "coreutils", "dpkg", "libmd0", "libc6", "libselinux1", "libpcre2-8-0", "libacl1", "libattr1", "libgmp10", "libcap2"]);
  give(work);
  chmodSync(work, 0o755);
  const imported = runCliUnprivileged(["layer", "import", "--json", "--into", store, okDeb, badDeb]);
  assert.equal(imported.status, 0, imported.stderr);
  const [okLayer, badLayer] = (JSON.parse(imported.stdout) as { layer: string }[]).map((r) => r.layer);

  /** A package dir made from the ok fixture's layer, scripts included, wrapped unprivileged. */
  const wrapFixture = (name: string, extra: string[] = []) => {
    const pkg = join(work, name);
    cpSync(okLayer!, pkg, { recursive: true, verbatimSymlinks: true });
    execFileSync("chmod", ["-R", "u+w", pkg]);
    execFileSync("rm", [join(pkg, ".fhs/deb.json")]);
    give(pkg);
    const r = runCliUnprivileged(["wrap", pkg, "--policy", testArtifacts().policy, ...extra, "--layer", badLayer!, ...base.flatMap((l) => ["--layer", l])], { env: env() });
    return { pkg, r };
  };

  it("a postinst reads the files its package ships under /var and rewrites one, asks dpkg-query -L for its files, gives a file to an unmapped user; the view shows the shipped and the rewritten files at /var/lib", () => {
    const ownDeb = fixtureDeb(
      work,
      "fhs-fixture-own",
      {
        "usr/bin/fhs-own-show": [0o755, "#!/bin/sh\ncd /var/lib/fhs-own && cat seen listed rewritten kept\n"],
        "var/lib/fhs-own/shipped": [0o644, "shipped\n"],
        "var/lib/fhs-own/rewritten": [0o644, "original\n"],
        "var/lib/fhs-own/kept": [0o644, "kept as shipped\n"],
      },
      [
        "#!/bin/sh",
        "set -e",
        // A system user's uid the state view cannot map: without the build
        // view's filter, EINVAL and the script stops here (set -e).
        "chown 4242:4242 /var/lib/fhs-own",
        "cat /var/lib/fhs-own/shipped > /var/lib/fhs-own/seen",
        // An unknown user is still an error.
        "chown fhs-no-such-user /var/lib/fhs-own/seen 2>/dev/null || echo 'unknown user refused' >> /var/lib/fhs-own/seen",
        "dpkg-query -L fhs-fixture-own > /var/lib/fhs-own/listed",
        "echo rewritten > /var/lib/fhs-own/rewritten",
        "",
      ].join("\n"),
    );
    give(work);
    const r0 = runCliUnprivileged(["layer", "import", "--json", "--into", store, ownDeb]);
    assert.equal(r0.status, 0, r0.stderr);
    const ownLayer = (JSON.parse(r0.stdout) as { layer: string }[])[0]!.layer;
    const pkg = join(work, "own");
    cpSync(ownLayer, pkg, { recursive: true, verbatimSymlinks: true });
    execFileSync("chmod", ["-R", "u+w", pkg]);
    execFileSync("rm", [join(pkg, ".fhs/deb.json")]);
    give(pkg);
    const r = runCliUnprivileged(["wrap", pkg, "--policy", testArtifacts().policy, ...base.flatMap((l) => ["--layer", l])], { env: env() });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /fhs-fixture-own/);
    const run = runUnprivileged([join(pkg, "usr/bin/fhs-own-show")], { cwd: work });
    assert.equal(run.status, 0, run.stderr);
    const listed = ["/.", "/usr", "/usr/bin", "/usr/bin/fhs-own-show", "/var", "/var/lib", "/var/lib/fhs-own", "/var/lib/fhs-own/kept", "/var/lib/fhs-own/rewritten", "/var/lib/fhs-own/shipped"];
    assert.equal(run.stdout, `shipped\nunknown user refused\n${listed.join("\n")}\nrewritten\nkept as shipped\n`);
    // The state layer holds what the script changed; what it left as shipped stays the package's.
    assert.deepEqual(readdirSync(join(pkg, ".fhs/state/var/lib/fhs-own")).sort(), ["listed", "rewritten", "seen"]);
  });

  it("a failing postinst is one line naming the package and the script (a command in no layer says so); the wrap succeeds; the other scripts' state is in the view", () => {
    const { pkg, r } = wrapFixture("pkg1");
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stderr.split("\n").filter((l) => l.includes("fhs-fixture-bad"));
    assert.deepEqual(lines, ["fhs: install-time state: fhs-fixture-bad postinst configure: exit 3: cannot frobnicate"], r.stderr);
    // libc6's postinst runs sed, which this set (no Essential base) lacks:
    // the shell's words, then what they mean here.
    const libc = r.stderr.split("\n").filter((l) => l.includes("libc6 postinst"));
    assert.equal(libc.length, 1, r.stderr);
    assert.match(libc[0]!, /^fhs: install-time state: libc6 postinst configure: exit 127: \S+: \d+: sed: not found \(the command is in none of the layers: Debian's maintainer scripts count on its Essential packages, which `fhs layer fetch` adds as layers; docs\/LAYERS\.md, "The base: Debian's Essential packages"\)$/);
    const run = runUnprivileged([join(pkg, "usr/bin/fhs-fixture-show")], { cwd: work });
    assert.equal(run.status, 0, run.stderr);
    // Root of its own user namespace, as dpkg would run it; /var/lib state and
    // the alternative resolve where programs look.
    assert.equal(run.stdout, "configured as uid 0: fhs-fixture-ok configure\n/usr/libexec/fhs-fixture/editor\nreal editor\n");
    const manifest = JSON.parse(readFileSync(join(pkg, ".fhs/manifest.json"), "utf8")) as { layers: { path: string; dirs: string[] }[] };
    assert.deepEqual(manifest.layers.slice(0, 3).map((l) => relative(pkg, l.path)), [".fhs/raw", ".fhs/state", ""]);
    assert.deepEqual(manifest.layers[1]!.dirs, ["usr", "etc", "var/lib"]);
  });

  it("the launcher refuses a var-lib op that shows no layer's var/lib, that comes before the host's /var (a new root), or a build op in a launch", () => {
    // A new root binds the host's /var itself, so the order matters there;
    // an in-place plan's order is checked by test/unit/validate_test.c.
    const { pkg, r } = wrapFixture("pkg5", ["--config", join(repoRoot, "policies/new-root.json")]);
    assert.equal(r.status, 0, r.stderr);
    const show = join(pkg, "usr/bin/fhs-fixture-show");
    const runtime = testDir("fhs-xdg-");
    const first = runUnprivileged([show], { env: { XDG_RUNTIME_DIR: runtime } });
    assert.equal(first.status, 0, first.stderr);
    const dir = join(runtime, "fhs-plans");
    const entry = join(dir, readdirSync(dir).find((n) => PLAN_ENTRY.test(n))!);
    const plan = readPlanEntry(entry).plan;
    const varLib = plan.findIndex((op) => op[0] === "var-lib");
    assert.deepEqual(plan[varLib], ["var-lib", join(pkg, ".fhs/state/var/lib")]);
    const tampered = (ops: string[][]) => {
      rewritePlanEntry(entry, ops);
      return runUnprivileged([show], { env: { XDG_RUNTIME_DIR: runtime } });
    };
    const notLayer = tampered(plan.map((op, i) => (i === varLib ? ["var-lib", "/etc"] : op)));
    assert.equal(notLayer.status, LAUNCHER_EXIT.plan);
    assert.match(notLayer.stderr, /^fhs: plan cache entry .*\/plan-[0-9a-f]{16}: plan op 'var-lib \/etc' refused: a source is not a layer's var\/lib; not a plan this launcher would cache: remove it with fhs cache prune --all\n$/);
    const early = [plan[0]!, plan[varLib]!, ...plan.slice(1).filter((_, i) => i + 1 !== varLib)];
    const before = tampered(early);
    assert.equal(before.status, LAUNCHER_EXIT.plan);
    assert.match(before.stderr, /refused: var-lib needs the host's \/var bound before it, and comes once; not a plan this launcher would cache/);
    const root = tampered([plan[0]!, ["userns-root"], ...plan.slice(1)]);
    assert.equal(root.status, LAUNCHER_EXIT.plan);
    assert.match(root.stderr, /plan op 'userns-root ' refused: only a build plan may hold this op; not a plan this launcher would cache/);
  });

  it("the generated layer is bit-identical across two wraps, and read-only in the view", () => {
    const a = wrapFixture("pkg2");
    const b = wrapFixture("pkg3");
    assert.equal(a.r.status, 0, a.r.stderr);
    assert.equal(b.r.status, 0, b.r.stderr);
    const ta = treeOf(join(a.pkg, ".fhs/state"));
    assert.deepEqual(ta, treeOf(join(b.pkg, ".fhs/state")));
    assert.ok(ta.some((l) => l.startsWith("var/lib/fhs-fixture/seen 644 315532800000 ")), ta.join("\n"));
    assert.ok(ta.includes("usr/bin/fhs-editor 777 315532800000 -> /etc/alternatives/fhs-editor"), ta.join("\n"));
    const write = runCliUnprivileged(["env", "--policy", testArtifacts().policy, "--pkg", a.pkg, "--", "sh", "-c", "echo x > /var/lib/fhs-fixture/seen"], { env: env() });
    assert.notEqual(write.status, 0);
    assert.match(write.stderr, /Read-only file system/);
  });

  it("when the config requires the state, a failing postinst fails the wrap with that one line, and the package stays unwrapped", () => {
    const config = JSON.parse(readFileSync(join(repoRoot, "policies/default.json"), "utf8")) as Record<string, unknown>;
    config.state = { required: true };
    const configPath = join(work, "required.json");
    writeFileSync(configPath, JSON.stringify(config));
    chmodSync(configPath, 0o644);
    const { pkg, r } = wrapFixture("pkg4", ["--config", configPath]);
    assert.equal(r.status, 2);
    // The first failure is named (the base layers' own scripts may fail
    // first in this small set: libc6's needs sed), then how many more.
    assert.match(r.stderr, /^fhs: install-time state: \S+ postinst configure: exit \d+: [^\n]*; the config requires the state \(state\.required\)\n$/);
    assert.ok(r.stderr.includes("fhs-fixture-bad postinst configure: exit 3: cannot frobnicate") || / \(and \d+ more\); /.test(r.stderr), r.stderr);
    assert.throws(() => lstatSync(join(pkg, ".fhs/manifest.json")));
  });
});

describe("install-time state of real packages", () => {
  it("graphviz wrapped twice: the same generated layer, bit for bit, holding libgvc6's plugin config", () => {
    const a = fetchedPackage("graphviz", ["graphviz"]);
    const b = fetchedPackage("graphviz", ["graphviz"]);
    const ta = treeOf(join(a.pkg, ".fhs/state"));
    assert.ok(ta.some((l) => l.startsWith("usr/lib/x86_64-linux-gnu/graphviz/config6a ")), "dot -c wrote config6a");
    assert.deepEqual(ta, treeOf(join(b.pkg, ".fhs/state")));
    const r = runUnprivileged([join(a.pkg, "usr/bin/dot"), "-Tsvg"], { input: "digraph { a -> b }\n" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /<svg[\s\S]*<\/svg>/);
  });

  it("fhs env --layers-from makes the state of the layer list once and reuses it", () => {
    const cache = testDir("fhs-state-cache-");
    give(cache);
    const set = fetchSet(["mawk"]);
    const args = ["env", "--policy", testArtifacts().policy, "--layers-from", set, "--", "sh", "-c", "awk 'BEGIN { print 6 * 7 }'; readlink /etc/alternatives/awk"];
    const first = runCliUnprivileged(args, { env: { ...env(), XDG_CACHE_HOME: cache } });
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout, "42\n/usr/bin/mawk\n");
    const made = readdirSync(join(cache, "fhs/state")).filter((n) => !n.startsWith("."));
    assert.equal(made.length, 1);
    const second = runCliUnprivileged(args, { env: { ...env(), XDG_CACHE_HOME: cache } });
    assert.equal(second.stdout, first.stdout);
    assert.deepEqual(readdirSync(join(cache, "fhs/state")).filter((n) => !n.startsWith(".")), made);
  });
});
