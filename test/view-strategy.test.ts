// The two ways to make a view (docs/ARCHITECTURE.md, "Two ways to make a
// view"), as a user sees them: on this merged-/usr host the policy makes the
// view in place; a package whose config says "view": "new-root" gets a new
// root. Both must be the same view to the program, nest into each other, keep
// the inside-a-view proof unforgeable, and leave the caller's mount table as
// it was. Real Debian programs, the real launcher, as the unprivileged user.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { policiesDir } from "../src/paths.js";
import { decodeRecords } from "../src/policy/records.js";
import { debLayers } from "./helpers/debian.js";
import { isRoot, mustWork, repoRoot, runUnprivileged, testDir, testUser } from "./helpers/env.js";
import { callerMounts, makePackage, markerLayer, packageFromLayers, SHELL_PROGRAMS, shellPackage, staticProgram, wrapPackage } from "./helpers/wrapped.js";

const NEW_ROOT = ["--config", join(policiesDir, "new-root.json")];

/** Every plan FHS_DEBUG=plan printed (each launch of a chain prints its own), in order. */
function plans(stderr: string): string[][][] {
  const end = stderr.lastIndexOf("\0\0");
  if (end < 0) return [];
  const out: string[][][] = [];
  for (const r of decodeRecords(Buffer.from(stderr.slice(0, end + 2)))) {
    if (r[0] === "plan") out.push([]);
    out[out.length - 1]?.push(r);
  }
  return out;
}

/** Prints the innermost /usr overlay's top lower: where the marker layer came from. */
const USR_TOP = "grep ' /usr ' /proc/self/mountinfo | tail -n 1 | grep -o 'lowerdir[+]*=[^,]*' | head -n 1 | cut -d= -f2";

/** The marker layer's two homes (docs/ARCHITECTURE.md, "The marker layer"):
 * an entry made once in the per-user cache dir, or, with the cache off, a
 * tmpfs of the launch's own, attached at the host's /usr beneath the /usr
 * overlay (TMPFS_TOP). */
/** A tmpfs marker layer's usr/, the /usr overlay's top lower: the tmpfs is
 * attached at /usr before the overlay covers it, so the exec's close does not
 * unmount it alone (launcher/view.c, layer_on_tmpfs). */
const TMPFS_TOP = "/usr/usr";

const CACHE_MODES = [
  {
    name: "marker layer from the cache",
    env: () => ({ XDG_RUNTIME_DIR: testDir("fhs-strategy-run-") }),
    check(top: string, env: Record<string, string>) {
      assert.match(top, new RegExp(`^${env.XDG_RUNTIME_DIR}/fhs-plans/view-[0-9a-f]{16}/usr$`), "the /usr overlay's top lower is the cache entry");
    },
  },
  {
    name: "FHS_PLAN_CACHE=off: a tmpfs marker layer",
    env: () => ({ FHS_PLAN_CACHE: "off" }),
    check(top: string) {
      assert.equal(top, TMPFS_TOP, "the /usr overlay's top lower is the launch's own tmpfs");
    },
  },
] as const;

let inPlace: string; // the test shell (SHELL_PROGRAMS) wrapped with the default config ("auto")
let newRoot: string; // the same programs wrapped with "view": "new-root"
let step: string;

before(() => {
  const shell = shellPackage();
  inPlace = shell.pkg;
  const own = SHELL_PROGRAMS.flatMap((p) => debLayers([p]));
  newRoot = wrapPackage(packageFromLayers(own, "shell-new-root"), shell.layers, NEW_ROOT);
  step = staticProgram("step", join(repoRoot, "test/bench/step.c"));
});

function sh(pkg: string, script: string, opts: { cwd?: string; env?: Record<string, string> } = {}) {
  return runUnprivileged([join(pkg, "usr/bin/dash"), "-c", script], opts);
}

describe("view strategy: in place on a merged-/usr host, a new root when the config says so", () => {
  it("the policy chooses in place here; the config forces a new root", () => {
    const a = sh(inPlace, "true", { env: { FHS_DEBUG: "plan" } });
    const b = sh(newRoot, "true", { env: { FHS_DEBUG: "plan" } });
    assert.equal(a.status, 0, a.stderr);
    assert.equal(b.status, 0, b.stderr);
    assert.deepEqual(plans(a.stderr)[0]![0], ["plan", "inplace"]);
    assert.deepEqual(plans(b.stderr)[0]![0], ["plan", "view"]);
  });

  it("both are the same view to the program: /usr, its own path, EROFS, no host /usr, the machine's /etc, the view's ld.so.cache, the cwd", () => {
    const work = testDir("fhs-strategy-cwd-");
    const probe = (pkg: string) =>
      [
        "ls /usr | tr '\\n' ' '; echo",
        "ls /usr/bin | sha256sum | cut -c1-16",
        "readlink /proc/self/exe",
        "touch /usr/x 2>&1 | grep -o 'Read-only file system'",
        "test -e /usr/bin/perl || test -e /usr/bin/python3 || echo no-host-usr",
        "cat /etc/hostname; grep -c '^root:' /etc/passwd",
        `sha256sum /etc/ld.so.cache ${pkg}/.fhs/ld.so.cache | cut -c1-64 | uniq | wc -l`,
        "pwd",
      ].join("; ");
    const a = sh(inPlace, probe(inPlace), { cwd: work });
    const b = sh(newRoot, probe(newRoot), { cwd: work });
    assert.equal(a.status, 0, a.stderr);
    assert.equal(b.status, 0, b.stderr);
    const hostname = readFileSync("/etc/hostname", "utf8");
    const lines = a.stdout.split("\n");
    assert.equal(lines[2], "/usr/bin/readlink");
    assert.equal(lines[3], "Read-only file system");
    assert.equal(lines[4], "no-host-usr");
    assert.equal(lines[5] + "\n", hostname);
    assert.equal(lines[6], "1");
    assert.equal(lines[7], "1", "/etc/ld.so.cache is the package's own cache");
    assert.equal(lines[8], work);
    assert.equal(a.stdout, b.stdout);
  });

  it("the machine's /etc files are links into the kept host /etc, under /usr/.fhs in place and /.fhs in a new root", () => {
    assert.equal(sh(inPlace, "readlink /etc/passwd").stdout, "/usr/.fhs/host-etc/passwd\n");
    assert.equal(sh(newRoot, "readlink /etc/passwd").stdout, "/.fhs/host-etc/passwd\n");
  });

  it("nothing of an in-place view reaches the caller's mount table, and the view's mounts propagate nowhere", () => {
    const before = callerMounts();
    const r = sh(inPlace, "grep ' /usr ' /proc/self/mountinfo | tail -n 1");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, / \/usr ro[, ].* - overlay /);
    assert.doesNotMatch(r.stdout, /shared:|master:/, "a private mount: no peer group, no master");
    assert.equal(callerMounts(), before);
  });

  it("the clone /usr's layers are named beneath is attached under the /usr overlay, not left detached for the exec to tear down alone", () => {
    // docs/ARCHITECTURE.md, "Layers by name": a detached tree's last close
    // unmounts it on its own, waiting for an RCU grace period per clone.
    const r = sh(inPlace, "grep ' /usr ' /proc/self/mountinfo", { env: { FHS_DEBUG: "plan" } });
    assert.equal(r.status, 0, r.stderr);
    const usrOp = plans(r.stderr)[0]!.find((op) => op[0] === "overlay" && op[1] === "/usr")!;
    const byParent = new Map<string, number>();
    for (const layer of usrOp.slice(2)) {
      // resolve.c's parent: the path less <name>/usr, or less <name>/.fhs/raw
      // for a wrapped package's programs layer.
      const parent = layer.split("/").slice(0, layer.endsWith("/.fhs/raw") ? -3 : -2).join("/");
      byParent.set(parent, (byParent.get(parent) ?? 0) + 1);
    }
    // resolve.c names a parent's layers beneath a clone of it from its fourth layer.
    const cloned = [...byParent].filter(([, n]) => n >= 4).map(([p]) => p);
    assert.ok(cloned.length >= 1, `the test shell has a parent of four layers or more: ${JSON.stringify([...byParent])}`);
    const lines = r.stdout.trim().split("\n");
    assert.match(lines.at(-1)!, / \/usr ro[, ].* - overlay /, "the view's /usr is the overlay, on top");
    const parked = lines.slice(0, -1).filter((l) => l.split(" ")[5]!.split(",").includes("nosymfollow"));
    assert.equal(parked.length, cloned.length, `one clone per parent, beneath the overlay:\n${r.stdout}`);
    for (const p of cloned) assert.ok(parked.some((l) => p.endsWith(l.split(" ")[3]!)), `a clone of ${p}:\n${r.stdout}`);
    // Covered: /usr shows the view, not the parent's entries.
    const ls = sh(inPlace, "test -x /usr/bin/dash && ls -A /usr | grep -c _amd64$");
    assert.equal(ls.stdout, "0\n", ls.stderr);
  });

  it("nests three deep, mixing the strategies both ways, one flat overlay at every level", () => {
    const pkgs: Record<string, string> = {};
    for (const [name, extra] of [["auto-a", []], ["root-b", NEW_ROOT], ["auto-c", []], ["root-a", NEW_ROOT], ["auto-b", []], ["root-c", NEW_ROOT]] as const) {
      pkgs[name] = wrapPackage(makePackage({ [`bin/${name}`]: { from: step } }, name), [markerLayer(name)], [...extra]);
    }
    const chain = (names: string[], shell: string) => {
      const argv = [...names.map((n) => join(pkgs[n]!, `usr/bin/${n}`)), join(shell, "usr/bin/dash"), "-c", "ls /usr/share | grep -E '^(auto|root)-' | tr '\\n' ' '; ls /usr/.fhs/view /.fhs/view 2>/dev/null | tr '\\n' ' '"];
      return runUnprivileged(argv, { env: { FHS_DEBUG: "plan" } });
    };
    const a = chain(["auto-a", "root-b", "auto-c"], inPlace);
    assert.equal(a.status, 0, a.stderr);
    assert.deepEqual(plans(a.stderr).map((p) => p[0]![1]), ["inplace", "view", "inplace", "inplace"]);
    // In place inside a new root, the new root's /.fhs is hidden: only the innermost marker shows.
    assert.equal(a.stdout, "auto-a auto-c root-b /usr/.fhs/view ");
    const b = chain(["root-a", "auto-b", "root-c"], newRoot);
    assert.equal(b.status, 0, b.stderr);
    assert.deepEqual(plans(b.stderr).map((p) => p[0]![1]), ["view", "inplace", "view", "view"]);
    assert.equal(b.stdout, "auto-b root-a root-c /.fhs/view ");
    // Flat: the innermost /usr overlay names every original layer directory.
    const inner = plans(a.stderr)[3]!.find((r) => r[0] === "overlay" && r[1] === "/usr")!;
    for (const n of ["auto-a", "root-b", "auto-c"]) assert.ok(inner.some((l) => l.endsWith(`/${n}/usr`) && l.includes(`fhs-${n}-`)), `${n} in ${inner.join(" ")}`);
  });

  it("a stray IN_NIX_FHS does not make a run impure, nor a marker in the host's /usr that is no launcher's overlay", { skip: !isRoot && !mustWork ? "needs root to write the host's /usr/.fhs" : false }, () => {
    const id = sh(inPlace, 'printf %s "$IN_NIX_FHS"').stdout;
    assert.match(id, /^[0-9a-f]{16}$/);
    const fake = markerLayer("forged");
    mkdirSync("/usr/.fhs", { recursive: true });
    try {
      writeFileSync("/usr/.fhs/view", `view-id\0${id}\0\0view\0${fake}\0fhs\0usr\0\0host-etc\0/usr/.fhs/host-etc\0\0`);
      const r = runUnprivileged([join(inPlace, "usr/bin/dash"), "-c", "test -e /usr/share/forged/marker && echo forged; echo done"], { env: { IN_NIX_FHS: id, FHS_DEBUG: "plan" } });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, "done\n");
      const views = plans(r.stderr)[0]!.filter((p) => p[0] === "view").map((p) => p[1]);
      assert.ok(!views.includes(fake), "the forged marker's layer is not in the view");
    } finally {
      rmSync("/usr/.fhs", { recursive: true, force: true });
    }
  });
});

describe("view strategy: what the config never binds is hidden in place", { skip: !isRoot && !mustWork ? "needs root to put a file in the host's /srv" : false }, () => {
  const probeFile = "/srv/fhs-view-strategy-probe";
  let pkg: string;
  let configFile: string;
  let secProbe: string;
  before(() => {
    writeFileSync(probeFile, "host\n");
    const config = JSON.parse(readFileSync(join(policiesDir, "default.json"), "utf8")) as { $schema?: string; hostBinds: { never: string[] } };
    delete config.$schema;
    config.hostBinds.never.push("srv");
    configFile = join(testDir("fhs-strategy-config-"), "never-srv.json");
    writeFileSync(configFile, JSON.stringify(config));
    pkg = wrapPackage(makePackage({ "bin/probe-step": { from: step } }, "hider"), [shellPackage().pkg, ...shellPackage().layers], ["--config", configFile]);
    secProbe = staticProgram("sec-probe", join(repoRoot, "test/fixtures/security/probe.c"));
  });
  after(() => rmSync(probeFile, { force: true }));

  /** Mounts at /srv and /srv's entries, as the innermost of `argv` sees them. */
  const srvFrom = (argv: string[], env: Record<string, string>) => {
    const r = runUnprivileged([...argv, "/usr/bin/dash", "-c", "grep -c ' /srv ' /proc/self/mountinfo; ls -A /srv | tr '\\n' ' '; echo"], { env: { ...env, FHS_DEBUG: "plan" } });
    assert.equal(r.status, 0, r.stderr);
    return { r, lines: r.stdout.split("\n") };
  };

  for (const mode of CACHE_MODES) {
    it(`nested in place, /srv stays hidden by the level above's hide, not hidden again, unless something else is there (${mode.name})`, () => {
      // A second package of its own (no fast path), the same config; run
      // from inside hider's view, directly and from under a caller's own
      // mount of a tmpfs at /srv (probe cover: its own user + mount
      // namespace), which the nested view must hide again.
      const env = mode.env();
      const nested = join(wrapPackage(makePackage({ "bin/probe-step": { from: step } }, "hider-nested"), [shellPackage().pkg, ...shellPackage().layers], ["--config", configFile]), "usr/bin/probe-step");
      const outer = join(pkg, "usr/bin/probe-step");
      const direct = srvFrom([outer, nested], env);
      assert.deepEqual(plans(direct.r.stderr).map((p) => p[0]![1]), ["inplace", "inplace"]);
      assert.ok(plans(direct.r.stderr).every((p) => p.some((op) => op[0] === "hide" && op[1] === "/srv")), "both plans hide /srv");
      // With the cache, both levels' hides are of its one empty directory:
      // the nested level keeps the one above (one mount at /srv). Without
      // it, each level's marker layer is its own: hidden twice.
      assert.deepEqual(direct.lines.slice(0, 2), ["XDG_RUNTIME_DIR" in env ? "1" : "2", ""]);
      const covered = srvFrom([outer, secProbe, "cover", "/srv", nested], env);
      // The level above's hide, the caller's tmpfs, and the nested level's hide over it.
      assert.deepEqual(covered.lines.slice(0, 2), ["3", ""], "the caller's tmpfs is hidden again");
    });

    it(`/srv is an empty read-only directory in the view; the host's stays as it was (${mode.name})`, () => {
      const env = mode.env();
      const r = runUnprivileged([join(pkg, "usr/bin/probe-step"), "/usr/bin/dash", "-c", `ls -A /srv | wc -l; touch /srv/x 2>&1 | grep -o 'Read-only file system'; ${USR_TOP}`], { env: { ...env, FHS_DEBUG: "plan" } });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(plans(r.stderr)[0]![0], ["plan", "inplace"]);
      assert.ok(plans(r.stderr)[0]!.some((p) => p[0] === "hide" && p[1] === "/srv"));
      const lines = r.stdout.split("\n");
      assert.deepEqual(lines.slice(0, 2), ["0", "Read-only file system"]);
      mode.check(lines[2]!, env);
      assert.equal(readFileSync(probeFile, "utf8"), "host\n");
    });
  }
});

describe("view strategy: the in-place marker layer, made once in the cache or on a tmpfs of the launch's own", () => {
  for (const mode of CACHE_MODES) {
    describe(mode.name, () => {
      it("the same view: /usr read-only, the marker a file of the /usr overlay, the machine's /etc files, its own ld.so.cache", () => {
        const env = mode.env();
        const probe = [
          "touch /usr/x 2>&1 | grep -o 'Read-only file system'",
          // The proof's two halves as a user sees them: /usr an overlay, the marker a regular file in it.
          "grep ' /usr ' /proc/self/mountinfo | tail -n 1 | grep -o ' - overlay '",
          "test -f /usr/.fhs/view && ! test -L /usr/.fhs/view && echo marker-file",
          "stat -c %a /usr/.fhs/view /usr/.fhs /usr",
          "readlink /etc/passwd /etc/hostname",
          "cat /etc/hostname",
          `sha256sum /etc/ld.so.cache ${inPlace}/.fhs/ld.so.cache | cut -c1-64 | uniq | wc -l`,
          USR_TOP,
        ].join("; ");
        for (const round of ["first", "second"]) {
          const r = sh(inPlace, probe, { env });
          assert.equal(r.status, 0, `${round}: ${r.stderr}`);
          const lines = r.stdout.split("\n");
          assert.deepEqual(lines.slice(0, 9), ["Read-only file system", " - overlay ", "marker-file", "444", "555", "555", "/usr/.fhs/host-etc/passwd", "/usr/.fhs/host-etc/hostname", readFileSync("/etc/hostname", "utf8").trimEnd()], round);
          assert.equal(lines[9], "1", "/etc/ld.so.cache is the package's own cache");
          mode.check(lines[10]!, env);
        }
        if ("XDG_RUNTIME_DIR" in env) {
          const entries = readdirSync(join(env.XDG_RUNTIME_DIR, "fhs-plans")).filter((f) => f.startsWith("view-") || f.startsWith(".new-"));
          assert.equal(entries.length, 1, `one entry, made once and reused: ${entries.join(" ")}`);
        }
      });

      it("nested launches prove they are inside the view and compose, mixing the strategies and the cache on and off", () => {
        const env = mode.env();
        const otherRuntime = testDir("fhs-strategy-run-");
        const other = "XDG_RUNTIME_DIR" in env ? "env FHS_PLAN_CACHE=off" : `env -u FHS_PLAN_CACHE XDG_RUNTIME_DIR=${otherRuntime}`;
        const pkgs: Record<string, string> = {};
        for (const [name, extra] of [["auto-a", []], ["root-b", NEW_ROOT], ["auto-c", []]] as const) {
          pkgs[name] = wrapPackage(makePackage({ [`bin/${name}`]: { from: step } }, name), [markerLayer(name)], [...extra]);
        }
        // auto-a (this mode) > root-b > dash > auto-c (the other mode) > dash: what the innermost sees.
        const inner = `ls /usr/share | grep -E '^(auto|root)-' | tr '\\n' ' '; echo; ${USR_TOP}; printf %s "$IN_NIX_FHS"`;
        const argv = [join(pkgs["auto-a"]!, "usr/bin/auto-a"), join(pkgs["root-b"]!, "usr/bin/root-b"), join(inPlace, "usr/bin/dash"), "-c", `${other} ${join(pkgs["auto-c"]!, "usr/bin/auto-c")} ${join(inPlace, "usr/bin/dash")} -c "${inner.replaceAll('"', '\\"').replaceAll("$", "\\$")}"`];
        const r = runUnprivileged(argv, { env: { ...env, FHS_DEBUG: "plan" } });
        assert.equal(r.status, 0, r.stderr);
        const kinds = plans(r.stderr).map((p) => p[0]![1]);
        assert.deepEqual(kinds, ["inplace", "view", "inplace", "inplace", "fast"]);
        // Each nested launch saw the view it ran in (the marker proof): its layers are the view's, flat.
        const lines = r.stdout.split("\n");
        assert.equal(lines[0], "auto-a auto-c root-b ");
        const otherMode = CACHE_MODES.find((m) => m !== mode)!;
        otherMode.check(lines[1]!, { XDG_RUNTIME_DIR: otherRuntime });
        assert.match(lines[2]!, /^[0-9a-f]{16}$/);
      });
    });
  }
});

describe("view strategy: a cache entry that is not a finished entry of the caller's own is not used", () => {
  /** The entry a first launch made in a fresh runtime dir, with a file planted in its usr/. */
  function entry(): { runtime: string; dir: string; name: string } {
    const runtime = testDir("fhs-strategy-run-");
    const r = sh(inPlace, "true", { env: { XDG_RUNTIME_DIR: runtime } });
    assert.equal(r.status, 0, r.stderr);
    const dir = join(runtime, "fhs-plans");
    const [name, ...more] = readdirSync(dir).filter((f) => f.startsWith("view-"));
    assert.ok(name && more.length === 0, "one entry");
    return { runtime, dir, name };
  }
  /** Plants usr/planted in the layer at `layer` (as its owner could). */
  function plant(layer: string) {
    chmodSync(join(layer, "usr"), 0o755);
    writeFileSync(join(layer, "usr/planted"), "planted\n");
    chmodSync(join(layer, "usr"), 0o555);
  }
  const probe = `test -e /usr/planted && echo used-the-entry; cat /etc/hostname; ${USR_TOP}`;

  for (const [what, bits] of [["group-writable", 0o020], ["other-writable", 0o002], ["owner-writable (unfinished)", 0o200]] as const) {
    it(`a ${what} entry: the launch makes a tmpfs layer instead and leaves the entry as it is`, () => {
      const e = entry();
      plant(join(e.dir, e.name));
      chmodSync(join(e.dir, e.name), 0o555 | bits);
      const r = sh(inPlace, probe, { env: { XDG_RUNTIME_DIR: e.runtime } });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `${readFileSync("/etc/hostname", "utf8")}${TMPFS_TOP}\n`);
      assert.equal(lstatSync(join(e.dir, e.name)).mode & 0o777, 0o555 | bits, "not replaced");
    });
  }

  it("an entry whose key is another content's (two keys can share a name): not used, not replaced", () => {
    const e = entry();
    const layer = join(e.dir, e.name);
    plant(layer);
    const key = readFileSync(join(layer, "key"));
    assert.ok(key.includes(Buffer.from("fhs-marker-layer-")), "the entry keeps its key");
    const other = Buffer.from(key);
    other[other.length - 2] = other[other.length - 2]! ^ 1;
    chmodSync(layer, 0o755);
    chmodSync(join(layer, "key"), 0o644);
    writeFileSync(join(layer, "key"), other);
    chmodSync(join(layer, "key"), 0o444);
    chmodSync(layer, 0o555);
    const r = sh(inPlace, probe, { env: { XDG_RUNTIME_DIR: e.runtime } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${readFileSync("/etc/hostname", "utf8")}${TMPFS_TOP}\n`);
    assert.deepEqual(readFileSync(join(layer, "key")), other, "not replaced");
  });

  it("a symlink in place of the entry (to a forged layer): not followed, the launch makes a tmpfs layer", () => {
    const e = entry();
    const forged = join(e.runtime, "forged");
    renameSync(join(e.dir, e.name), forged);
    plant(forged);
    symlinkSync(forged, join(e.dir, e.name));
    const r = sh(inPlace, probe, { env: { XDG_RUNTIME_DIR: e.runtime } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${readFileSync("/etc/hostname", "utf8")}${TMPFS_TOP}\n`);
    assert.ok(lstatSync(join(e.dir, e.name)).isSymbolicLink(), "not replaced");
  });

  it("a read-only entry whose usr/ its owner made a symlink: not followed, the launch makes a tmpfs layer", () => {
    const e = entry();
    const layer = join(e.dir, e.name);
    const forged = join(e.runtime, "forged-usr");
    mkdirSync(forged);
    writeFileSync(join(forged, "planted"), "planted\n");
    chmodSync(layer, 0o755);
    renameSync(join(layer, "usr"), join(layer, "usr-aside"));
    symlinkSync(forged, join(layer, "usr"));
    chmodSync(layer, 0o555);
    const r = sh(inPlace, probe, { env: { XDG_RUNTIME_DIR: e.runtime } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${readFileSync("/etc/hostname", "utf8")}${TMPFS_TOP}\n`);
  });

  for (const name of ["etc/passwd", "usr/.fhs/view"]) {
    it(`an entry a cleaner of old files removed ${name} from (root: no chmod needed): not used, the view is whole`, { skip: !isRoot && !mustWork ? "needs root to remove a file from a read-only directory" : false }, () => {
      const e = entry();
      rmSync(join(e.dir, e.name, name));
      const r = sh(inPlace, `readlink /etc/passwd; test -f /usr/.fhs/view && echo marker; ${USR_TOP}`, { env: { XDG_RUNTIME_DIR: e.runtime } });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `/usr/.fhs/host-etc/passwd\nmarker\n${TMPFS_TOP}\n`);
    });
  }

  // A filesystem clock can be as coarse as a scheduler tick (ramfs here; ext4
  // and tmpfs before Linux 6.13): a removal right after the entry was renamed
  // into place can carry the rename's own ctime. The removal races the first
  // launch, as many times as it takes to land in the rename's tick a few times.
  for (const name of ["etc/passwd", "usr/.fhs/view"]) {
    it(`${name} removed in the tick the entry was made (a coarse clock): not used, the view is whole`, { skip: !isRoot && !mustWork ? "needs root to mount a ramfs and remove a file from a read-only directory" : false }, () => {
      const runtime = testDir("fhs-strategy-run-");
      const dash = join(inPlace, "usr/bin/dash");
      const as = `setpriv --reuid=${testUser.uid} --regid=${testUser.gid} --clear-groups -- env XDG_RUNTIME_DIR=${runtime} ${dash} -c`;
      const probe = `readlink /etc/passwd; test -f /usr/.fhs/view && echo marker; ${USR_TOP}`;
      const want = `/usr/.fhs/host-etc/passwd\nmarker\n${TMPFS_TOP}`;
      // In a mount namespace of its own: the ramfs is never in the machine's mount table.
      const script = `set -e; mount -t ramfs ramfs ${runtime}; chmod 700 ${runtime}; chown ${testUser.uid}:${testUser.gid} ${runtime}
        tries=0; ties=0
        while [ $ties -lt 3 ] && [ $tries -lt 300 ]; do
          tries=$((tries + 1)); rm -rf ${runtime}/fhs-plans
          ${as} true & first=$!
          has() { [ -e ${runtime}/fhs-plans/view-*/${name} ] || [ -h ${runtime}/fhs-plans/view-*/${name} ]; }
          until has; do kill -0 $first 2>/dev/null || break; done
          has || { wait $first; echo "try $tries: the first launch (status $?) made no entry with ${name}"; exit 1; }
          rm ${runtime}/fhs-plans/view-*/${name}
          wait $first
          e=$(echo ${runtime}/fhs-plans/view-*)
          [ "$(stat -c %z $e)" = "$(stat -c %z $e/$(dirname ${name}))" ] && ties=$((ties + 1))
          out=$(${as} '${probe.replaceAll("'", "'\\''")}')
          [ "$out" = "$(printf '${want}')" ] || { echo "try $tries: the launch saw: $out"; exit 1; }
        done
        echo "$ties ties in $tries tries"`;
      const r = spawnSync("unshare", ["--mount", "--propagation", "private", "sh", "-c", script], { encoding: "utf8", timeout: 300_000 });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^[1-9][0-9]* ties in /, "a removal landed in the tick of the rename at least once");
    });
  }

  it("an entry made within one clock tick (its times tie) is checked name by name, then re-stamped: later launches see its ctime after its directories'", () => {
    const e = entry();
    const ctime = (rel: string) => lstatSync(join(e.dir, e.name, rel), { bigint: true }).ctimeNs;
    // Past a coarse clock's tick (at most 10 ms): the re-stamp's time is a later one.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30);
    const r = sh(inPlace, probe, { env: { XDG_RUNTIME_DIR: e.runtime } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${readFileSync("/etc/hostname", "utf8")}${join(e.dir, e.name)}/usr\n`, "the entry is used");
    for (const dir of ["usr", "etc", "usr/.fhs"]) assert.ok(ctime(dir) < ctime("."), `${dir}'s ctime is before the entry's`);
    assert.equal(lstatSync(join(e.dir, e.name)).mode & 0o7777, 0o555, "the same mode");
  });

  it("an untouched entry is used (the probe above can see one)", () => {
    const e = entry();
    const r = sh(inPlace, probe, { env: { XDG_RUNTIME_DIR: e.runtime } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${readFileSync("/etc/hostname", "utf8")}${join(e.dir, e.name)}/usr\n`);
  });
});

describe("view strategy: concurrent first launches of one view", () => {
  it("all succeed, and one entry remains, finished, with no temporary left", async () => {
    const runtime = testDir("fhs-strategy-run-");
    const argv = [join(inPlace, "usr/bin/dash"), "-c", `cat /usr/.fhs/view | head -c 8; echo; ${USR_TOP}`];
    const full = isRoot ? ["/usr/bin/setpriv", `--reuid=${testUser.uid}`, `--regid=${testUser.gid}`, "--clear-groups", "--", ...argv] : argv;
    const one = () =>
      new Promise<{ code: number | null; out: string; err: string }>((done) => {
        const child = spawn(full[0]!, full.slice(1), { env: { PATH: "/usr/bin:/bin", XDG_RUNTIME_DIR: runtime }, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (err += d));
        child.once("close", (code) => done({ code, out, err }));
      });
    const results = await Promise.all(Array.from({ length: 8 }, one));
    const dir = join(runtime, "fhs-plans");
    const names = readdirSync(dir).filter((f) => !f.startsWith("plan-") && f !== "empty");
    assert.equal(names.length, 1, `one entry, no temporary: ${names.join(" ")}`);
    // The empty directory hides show (where the host has a directory to
    // hide), made once too: its mkdir raced, and EEXIST is success.
    if (existsSync(join(dir, "empty"))) assert.equal(lstatSync(join(dir, "empty")).mode & 0o7777, 0o555);
    assert.match(names[0]!, /^view-[0-9a-f]{16}$/);
    assert.equal(lstatSync(join(dir, names[0]!)).mode & 0o7777, 0o555);
    for (const r of results) {
      assert.equal(r.code, 0, r.err);
      // Every launch got a whole view: its marker, and the one entry as its layer.
      const [head, top] = r.out.split("\n");
      assert.equal(head, "view-id\0");
      assert.equal(top, join(dir, names[0]!, "usr"), "the race's losers use the winner's entry");
    }
  });
});

describe("view strategy: the in-place view's ld.so.cache is a file of the marker layer, not a mount", () => {
  for (const mode of CACHE_MODES) {
    it(`${mode.name}: the package's cache, no mount at /etc/ld.so.cache, and a changed cache is seen by the next launch`, () => {
      const shell = shellPackage();
      const own = SHELL_PROGRAMS.flatMap((p) => debLayers([p]));
      const pkg = wrapPackage(packageFromLayers(own, "ldcache-file"), shell.layers);
      const env = mode.env() as Record<string, string>;
      const file = join(pkg, ".fhs/ld.so.cache");
      const script = `grep -c ' /etc/ld.so.cache ' /proc/self/mountinfo; sha256sum /etc/ld.so.cache | cut -c1-64`;
      const digest = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
      let r = sh(pkg, script, { env });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `0\n${digest(readFileSync(file))}\n`);
      // The package's cache replaced (glibc ignores a cache it cannot read and
      // searches the default dirs): the next launch shows the new bytes.
      const saved = readFileSync(file);
      const junk = Buffer.from("not an ld.so.cache\n");
      rmSync(file);
      writeFileSync(file, junk, { mode: 0o444 });
      try {
        r = sh(pkg, script, { env });
        assert.equal(r.stdout, `0\n${digest(junk)}\n`, r.stderr);
      } finally {
        rmSync(file);
        writeFileSync(file, saved, { mode: 0o444 });
      }
    });
  }
});
