// The launcher under attack and under bad luck: one named test per class of
// defect, as flatpak and runc name theirs after the hole they close. Each
// launch runs as the unprivileged test user through a real wrapper, and each
// test asserts the exit code, the one line the launcher prints, whether the
// program ran, and that the caller's world holds no residue (mounts, plan
// cache entries, processes). docs/RELIABILITY.md says which promise each
// test checks.
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { decodeRecords, encodeRecords } from "../src/policy/records.js";
import { debLayers } from "./helpers/debian.js";
import { isRoot, mustWork, repoRoot, runCliUnprivileged, runUnprivileged, testArtifacts, testDir, testUser, type RunOptions } from "./helpers/env.js";
import { callerMounts, makePackage, markerLayer, packageFromLayers, staticProgram, syntheticLayers, wrapPackage } from "./helpers/wrapped.js";
import { LAUNCHER_EXIT } from "../src/abi.js";


/** Tests that make files setuid, give them capabilities or mount need root. */
const needsRoot = !isRoot && !mustWork ? "needs root" : false;

let probe: string;
before(() => {
  probe = staticProgram("sec-probe", join(repoRoot, "test/fixtures/security/probe.c"));
});

/** A package holding the static probe program, wrapped with `deps` as layers. */
function probePackage(name: string, deps: string[] = [], extra: Record<string, { text?: string; mode?: number }> = {}): string {
  return wrapPackage(makePackage({ "bin/probe": { from: probe }, ...extra }, name), deps);
}


/** Pids whose environment holds `entry` (readable to root and to their owner). */
function processesWith(entry: string): string {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(entry)) out.push(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return out.join(" ");
}

/** What a launch may leave behind in the caller's world, before and after. */
interface World {
  mounts: string;
  runtime: string;
  cache: string[];
  procs: string;
}
function world(runtime: string): World {
  const cache = existsSync(join(runtime, "fhs-plans")) ? readdirSync(join(runtime, "fhs-plans")).sort() : [];
  // Processes of this test's launches (they carry its XDG_RUNTIME_DIR): none may outlive them.
  const procs = processesWith(`XDG_RUNTIME_DIR=${runtime}`);
  return { mounts: callerMounts(), runtime, cache, procs };
}
function assertNoResidue(before: World, opts: { cacheMayGrow?: boolean } = {}): void {
  const now = world(before.runtime);
  assert.equal(now.mounts, before.mounts, "the caller's mount table changed");
  if (!opts.cacheMayGrow) assert.deepEqual(now.cache, before.cache, "the plan cache changed");
  assert.equal(now.procs, before.procs, "a process of the test user was left running");
}

/** A launch as the test user with its own plan cache directory. */
function launch(argv: string[], runtime: string, opts: RunOptions = {}) {
  return runUnprivileged(argv, { ...opts, env: { XDG_RUNTIME_DIR: runtime, ...opts.env } });
}

describe("setuid-escalation: the launcher never runs with privileges its caller lacks", { skip: needsRoot }, () => {
  const made: string[] = [];
  after(() => {
    for (const f of made) rmSync(f, { force: true });
  });

  /** The package's launcher replaced by a copy with `mode` and owner/caps applied by `prepare`. */
  function privilegedPackage(name: string, prepare: (launcher: string) => void): string {
    const pkg = probePackage(name);
    const launcher = join(pkg, ".fhs/.fhs-launcher");
    rmSync(launcher);
    copyFileSync(testArtifacts().launcher, launcher);
    made.push(launcher);
    prepare(launcher);
    return pkg;
  }

  for (const [name, prepare, message] of [
    [
      "setuid to another user",
      (l: string) => {
        chownSync(l, 65534, testUser.gid); // nobody: any uid but the caller's
        chmodSync(l, 0o4755);
      },
      (l: string) => `launcher ${l}: runs setuid (uid ${testUser.uid}, effective uid 65534); it must never be setuid: remove the bit (chmod u-s)`,
    ],
    [
      "setgid to another group",
      (l: string) => {
        chownSync(l, testUser.uid, 65534);
        chmodSync(l, 0o2755);
      },
      (l: string) => `launcher ${l}: runs setgid (gid ${testUser.gid}, effective gid 65534); it must never be setgid: remove the bit (chmod g-s)`,
    ],
    [
      "given file capabilities",
      (l: string) => execFileSync("setcap", ["cap_sys_admin,cap_dac_override+ep", l]),
      (l: string) => `launcher ${l}: was started with privileges its caller lacks (AT_SECURE); it must have none: remove its file capabilities (setcap -r)`,
    ],
    [
      "given permitted-only file capabilities",
      (l: string) => execFileSync("setcap", ["cap_dac_override+p", l]),
      (l: string) => `launcher ${l}: was started with privileges its caller lacks (AT_SECURE); it must have none: remove its file capabilities (setcap -r)`,
    ],
  ] as const) {
    it(`refuses at once when ${name}, before reading anything the caller controls`, () => {
      const pkg = privilegedPackage(name.replace(/\W+/g, "-"), prepare);
      const runtime = testDir("fhs-runtime-");
      const before = world(runtime);
      const r = launch([join(pkg, "usr/bin/probe")], runtime);
      assert.equal(r.status, LAUNCHER_EXIT.setup, r.stderr);
      assert.equal(r.stderr, `fhs: ${message(join(pkg, ".fhs/.fhs-launcher"))}\n`);
      assert.equal(r.stdout, "", "the program ran");
      // Refused before the plan cache: no file owned by another user in the caller's cache.
      assert.ok(!existsSync(join(runtime, "fhs-plans")), "the launcher touched the caller's plan cache");
      assertNoResidue(before);
    });
  }

  it("a root caller (every capability, real and effective ids equal) runs a wrapper as usual", () => {
    const pkg = probePackage("root-caller");
    // Deliberately not through runUnprivileged: this is the root caller's case.
    const r = spawnSync(join(pkg, "usr/bin/probe"), [], { encoding: "utf8", env: { PATH: "/usr/bin:/bin", FHS_PLAN_CACHE: "off" } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "ran uid=0 euid=0\n");
  });

  it("a caller with ambient capabilities of its own runs a wrapper as usual", () => {
    const pkg = probePackage("ambient-caller");
    const r = spawnSync(
      "setpriv",
      [`--reuid=${testUser.uid}`, `--regid=${testUser.gid}`, "--clear-groups", "--inh-caps=+net_bind_service", "--ambient-caps=+net_bind_service", "--", join(pkg, "usr/bin/probe")],
      { encoding: "utf8", env: { PATH: "/usr/bin:/bin", FHS_PLAN_CACHE: "off" } },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `ran uid=${testUser.uid} euid=${testUser.uid}\n`);
  });
});

describe("marker-forgery: no layer's usr/.fhs shows in a view (a usr/.fhs/view there would forge the in-place proof)", () => {
  const NEW_ROOT = ["--config", join(repoRoot, "policies/new-root.json")];
  /** A layer holding a forged in-place marker and another file beside it. */
  function forgingLayer(): string {
    const dep = markerLayer("forger");
    mkdirSync(join(dep, "usr/.fhs"));
    writeFileSync(join(dep, "usr/.fhs/view"), "view-id\0forged\0\0");
    writeFileSync(join(dep, "usr/.fhs/extra"), "extra\n");
    if (isRoot) execFileSync("chown", ["-R", `${testUser.uid}:${testUser.gid}`, dep]);
    return dep;
  }

  it("in place: /usr/.fhs is the launcher's alone (the marker layer's .fhs is opaque)", () => {
    const pkg = probePackage("forge-inplace", [forgingLayer()]);
    const runtime = testDir("fhs-runtime-");
    assert.equal(launch([join(pkg, "usr/bin/probe"), "exists", "/usr/.fhs/extra"], runtime).stdout, "exists no\n");
    assert.equal(launch([join(pkg, "usr/bin/probe"), "exists", "/usr/share/forger/marker"], runtime).stdout, "exists yes\n");
  });

  it("in a new root: /usr/.fhs from a layer does not show (an empty file .fhs tops the layers)", () => {
    const pkg = wrapPackage(makePackage({ "bin/probe": { from: probe } }, "forge-new-root"), [forgingLayer()], NEW_ROOT);
    const runtime = testDir("fhs-runtime-");
    for (const path of ["/usr/.fhs/view", "/usr/.fhs/extra"]) assert.equal(launch([join(pkg, "usr/bin/probe"), "exists", path], runtime).stdout, "exists no\n", path);
    assert.equal(launch([join(pkg, "usr/bin/probe"), "exists", "/usr/share/forger/marker"], runtime).stdout, "exists yes\n");
  });

  it("a new root of 500 layers (no room for that file) holding usr/.fhs is refused, named", () => {
    const pkg = wrapPackage(makePackage({ "bin/probe": { from: probe } }, "forge-full"), [forgingLayer(), ...syntheticLayers(497)]);
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const r = launch([join(pkg, "usr/bin/probe"), "exists", "/usr/.fhs/view"], runtime);
    assert.equal(r.status, LAUNCHER_EXIT.setup, r.stderr);
    assert.equal(r.stderr, "fhs: /usr: one of the view's 500 layers holds usr/.fhs, which only the launcher makes (an in-place view's marker)\n");
    assert.equal(r.stdout, "", "the program ran");
    assertNoResidue(before, { cacheMayGrow: true });
  });
});

describe("layer-symlink-escape: layers are opened as the manifest names them, following no symlink", () => {
  for (const api of ["default", "legacy"] as const) {
    const env: Record<string, string> = api === "legacy" ? { FHS_MOUNT_API: "legacy" } : {};
    const note = api === "legacy" ? " (per-component fallback, legacy mount)" : "";

    it(`refuses a layer dir replaced after wrap by a relative symlink to the host's root${note}`, () => {
      const dep = markerLayer("swapped");
      const pkg = probePackage("swapped-pkg", [dep]);
      const runtime = testDir("fhs-runtime-");
      // The view works as wrapped; then the layer becomes ../.. (as many as
      // lead from its dir to /: the host's root, from wherever it is resolved).
      assert.equal(launch([join(pkg, "usr/bin/probe"), "exists", "/usr/share/swapped/marker"], runtime, { env }).stdout, "exists yes\n");
      rmSync(dep, { recursive: true });
      symlinkSync(relative(dirname(dep), "/"), dep);
      const before = world(runtime);
      const r = launch([join(pkg, "usr/bin/probe"), "exists", "/usr/bin/perl"], runtime, { env });
      assert.equal(r.status, LAUNCHER_EXIT.setup, r.stderr);
      assert.equal(r.stderr, `fhs: layer ${dep}/usr: ${dep} is a symlink; a layer is opened without following symlinks\n`);
      assert.equal(r.stdout, "", "the program ran (with the host's /usr in its view)");
      assertNoResidue(before);
    });

    it(`refuses a layer whose usr is a symlink to the host's /usr${note}`, () => {
      const dep = markerLayer("usrlink");
      const pkg = probePackage("usrlink-pkg", [dep]);
      const runtime = testDir("fhs-runtime-");
      rmSync(join(dep, "usr"), { recursive: true });
      symlinkSync("/usr", join(dep, "usr"));
      const before = world(runtime);
      const r = launch([join(pkg, "usr/bin/probe"), "exists", "/usr/bin/perl"], runtime, { env });
      assert.equal(r.status, LAUNCHER_EXIT.setup, r.stderr);
      assert.equal(r.stderr, `fhs: layer ${dep}/usr: ${dep}/usr is a symlink; a layer is opened without following symlinks\n`);
      assert.equal(r.stdout, "", "the program ran");
      assertNoResidue(before, { cacheMayGrow: true });
    });
  }

  it("refuses layers under one shared parent when the parent or one of them became a symlink", () => {
    // Two layers in one directory: the launcher opens that parent once and
    // resolves each layer from it, with the same rule (resolve.c).
    const parent = testDir("fhs-shared-");
    const layers = ["one", "two", "three"].map((n) => {
      const l = join(parent, n);
      mkdirSync(join(l, "usr/share", n), { recursive: true });
      writeFileSync(join(l, "usr/share", n, "marker"), `${n}\n`);
      return l;
    });
    if (isRoot) execFileSync("chown", ["-R", `${testUser.uid}:${testUser.gid}`, parent]);
    const pkg = probePackage("shared-parent-pkg", layers);
    const runtime = testDir("fhs-runtime-");
    assert.equal(launch([join(pkg, "usr/bin/probe"), "exists", "/usr/share/three/marker"], runtime).stdout, "exists yes\n");
    // A later layer (resolved from the shared parent's fd) swapped for a link to the host's root.
    const two = layers[1]!;
    renameSync(two, `${two}.real`);
    symlinkSync("/", two);
    let before = world(runtime);
    let r = launch([join(pkg, "usr/bin/probe"), "exists", "/usr/bin/perl"], runtime);
    assert.equal(r.status, LAUNCHER_EXIT.setup, r.stderr);
    assert.equal(r.stderr, `fhs: layer ${two}/usr: ${two} is a symlink; a layer is opened without following symlinks\n`);
    assert.equal(r.stdout, "", "the program ran");
    assertNoResidue(before, { cacheMayGrow: true });
    rmSync(two);
    renameSync(`${two}.real`, two);
    // The shared parent itself swapped for a link to a copy of it.
    renameSync(parent, `${parent}.real`);
    symlinkSync(`${parent}.real`, parent);
    before = world(runtime);
    r = launch([join(pkg, "usr/bin/probe"), "exists", "/usr/share/one/marker"], runtime);
    assert.equal(r.status, LAUNCHER_EXIT.setup, r.stderr);
    assert.equal(r.stderr, `fhs: layer ${layers[0]}/usr: ${parent} is a symlink; a layer is opened without following symlinks\n`);
    assert.equal(r.stdout, "", "the program ran");
    assertNoResidue(before, { cacheMayGrow: true });
  });

  it("refuses a manifest layer with '..' (here: the host's /usr by a detour)", () => {
    const dep = markerLayer("dotdot");
    const pkg = probePackage("dotdot-pkg", [dep]);
    const file = join(pkg, ".fhs/manifest.bin");
    const sneaky = `${dep}/../../../usr`;
    const recs = decodeRecords(readFileSync(file)).map((r) => (r[0] === "layer" && r[1] === dep ? ["layer", sneaky, "nix", "usr"] : r));
    writeFileSync(file, encodeRecords(recs));
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const r = launch([join(pkg, "usr/bin/probe"), "exists", "/usr/bin/perl"], runtime);
    assert.equal(r.status, LAUNCHER_EXIT.setup, r.stderr);
    assert.equal(r.stderr, `fhs: layer ${sneaky}: not a normalized absolute path (it has an empty, '.' or '..' component)\n`);
    assert.equal(r.stdout, "", "the program ran");
    assertNoResidue(before);
  });

  it("still launches through every mount path: fds by FSCONFIG_SET_FD, by /proc/self/fd path, and legacy mount(2)", () => {
    const deps = [markerLayer("api-a"), markerLayer("api-b")];
    const pkg = probePackage("api-pkg", deps);
    for (const api of ["", "path", "legacy"]) {
      const r = launch([join(pkg, "usr/bin/probe"), "exists", "/usr/share/api-b/marker"], testDir("fhs-runtime-"), { env: { FHS_MOUNT_API: api } });
      assert.equal(r.status, 0, `${api}: ${r.stderr}`);
      assert.equal(r.stdout, "exists yes\n", api);
    }
  });
});

describe("layers-by-name: layers sharing a parent are mounted by name beneath a clone of it that follows no symlink", () => {
  /** Six layers in one directory, the test user's: from the fourth on, the
   * launcher hands each to the kernel as "<name>/usr" beneath a clone of the
   * directory in which no symlink is followed (resolve.c). */
  function sharedLayers(prefix: string): string[] {
    const parent = testDir(prefix);
    const layers = ["l0", "l1", "l2", "l3", "l4", "l5"].map((n) => {
      const l = join(parent, n);
      mkdirSync(join(l, "usr/share", n), { recursive: true });
      writeFileSync(join(l, "usr/share", n, "marker"), `${n}\n`);
      return l;
    });
    if (isRoot) execFileSync("chown", ["-R", `${testUser.uid}:${testUser.gid}`, parent]);
    return layers;
  }

  for (const view of ["in place", "a new root"] as const) {
    const wrapArgs = view === "a new root" ? ["--config", join(repoRoot, "policies/new-root.json")] : [];
    const wrapProbe = (name: string, deps: string[]) => join(wrapPackage(makePackage({ "bin/probe": { from: probe } }, name), deps, wrapArgs), "usr/bin/probe");

    it(`${view}: mounts them; every layer shows, and the kernel's record of /usr names the late ones beneath their parent`, () => {
      const layers = sharedLayers("fhs-byname-");
      const probeIn = wrapProbe("byname-pkg", layers);
      const runtime = testDir("fhs-runtime-");
      for (const n of ["l0", "l3", "l4", "l5"]) assert.equal(launch([probeIn, "exists", `/usr/share/${n}/marker`], runtime).stdout, "exists yes\n", n);
      const usr = launch([probeIn, "usr-mount"], runtime).stdout;
      assert.match(usr, /[=:]l5\/usr[,:\s]/, `l5 by name beneath its parent's clone: ${usr}`);
      assert.ok(!usr.includes(`${layers[5]}/usr`), `l5 by its full path: ${usr}`);
      // The other layers by /proc/self/fd paths (Linux 6.8-6.12); and an old
      // kernel's way (FHS_MOUNT_API=legacy): every layer by fd, mount(2).
      for (const api of ["path", "legacy"]) {
        const r = launch([probeIn, "exists", "/usr/share/l5/marker"], runtime, { env: { FHS_MOUNT_API: api } });
        assert.equal(r.stdout, "exists yes\n", `${api}: ${r.stderr}`);
      }
    });

    it(`${view}: nested, the programs layers (PKG/.fhs/raw) of packages in one directory are named beneath it too`, () => {
      // Four wrapped packages side by side, each run from the view of the
      // one before: the innermost view has eight layers in that directory,
      // four of them programs layers, three levels below it.
      const store = testDir("fhs-byname-nested-");
      const progs = ["n0", "n1", "n2", "n3"].map((n) => {
        mkdirSync(join(store, n, "usr/bin"), { recursive: true });
        copyFileSync(probe, join(store, n, "usr/bin/probe"));
        chmodSync(join(store, n, "usr/bin/probe"), 0o755);
        if (isRoot) execFileSync("chown", ["-R", `${testUser.uid}:${testUser.gid}`, join(store, n)]);
        return join(wrapPackage(join(store, n), [], wrapArgs), "usr/bin/probe");
      });
      const runtime = testDir("fhs-runtime-");
      const r = launch([progs[0]!, "exec", progs[1]!, "exec", progs[2]!, "exec", progs[3]!, "usr-mount"], runtime);
      assert.equal(r.status, 0, r.stderr);
      // The innermost view's /usr: the one that holds n3 (its first layer, by fd).
      const usr = r.stdout.split("\n").find((l) => l.includes(join(store, "n3/.fhs/raw"))) ?? r.stdout;
      for (const n of ["n1", "n0"]) {
        assert.match(usr, new RegExp(`[=:]${n}/\\.fhs/raw[,:\\s]`), `${n}'s programs by name beneath the directory's clone: ${usr}`);
        assert.ok(!usr.includes(join(store, n, ".fhs/raw")), `${n}'s programs by their full path: ${usr}`);
      }
    });

    it(`${view}: refuses a late layer swapped for a symlink, one whose usr is a symlink, and a missing one, each named as before`, () => {
      const layers = sharedLayers("fhs-byname-refused-");
      const probeIn = wrapProbe("byname-refused-pkg", layers);
      const runtime = testDir("fhs-runtime-");
      assert.equal(launch([probeIn, "exists", "/usr/share/l5/marker"], runtime).stdout, "exists yes\n");
      const [l4, l5] = [layers[4]!, layers[5]!];
      const refused = (why: string, layer: string) => {
        const before = world(runtime);
        const r = launch([probeIn, "exists", "/usr/bin/perl"], runtime);
        assert.equal(r.status, LAUNCHER_EXIT.setup, r.stderr);
        assert.equal(r.stderr, `fhs: layer ${layer}/usr: ${why}\n`);
        assert.equal(r.stdout, "", "the program ran");
        assertNoResidue(before, { cacheMayGrow: true });
      };
      renameSync(l4, `${l4}.real`);
      symlinkSync("/", l4);
      refused(`${l4} is a symlink; a layer is opened without following symlinks`, l4);
      rmSync(l4);
      refused("No such file or directory", l4);
      renameSync(`${l4}.real`, l4);
      renameSync(join(l5, "usr"), join(l5, "usr.real"));
      symlinkSync("/usr", join(l5, "usr"));
      refused(`${l5}/usr is a symlink; a layer is opened without following symlinks`, l5);
      rmSync(join(l5, "usr"));
      renameSync(join(l5, "usr.real"), join(l5, "usr"));
      assert.equal(launch([probeIn, "exists", "/usr/share/l5/marker"], runtime).stdout, "exists yes\n", "restored, it launches again");
    });
  }

  it("shows what is mounted on a late layer, as the caller sees it (the clone holds the parent's mounts)", { skip: needsRoot }, () => {
    const layers = sharedLayers("fhs-byname-mounted-");
    const probeIn = join(probePackage("byname-mounted-pkg", layers), "usr/bin/probe");
    const other = testDir("fhs-byname-other-");
    mkdirSync(join(other, "usr/share/bound"), { recursive: true });
    writeFileSync(join(other, "usr/share/bound/marker"), "bound\n");
    execFileSync("mount", ["--bind", other, layers[4]!]);
    try {
      const runtime = testDir("fhs-runtime-");
      assert.equal(launch([probeIn, "exists", "/usr/share/bound/marker"], runtime).stdout, "exists yes\n", "the mount's files");
      assert.equal(launch([probeIn, "exists", "/usr/share/l4/marker"], runtime).stdout, "exists no\n", "the files it covers");
    } finally {
      execFileSync("umount", [layers[4]!]);
    }
  });

  it("starts the program in the caller's working directory; one the caller may no longer search is refused as before", { skip: needsRoot }, async () => {
    const probeIn = join(probePackage("byname-cwd-pkg", sharedLayers("fhs-byname-cwd-")), "usr/bin/probe");
    const runtime = testDir("fhs-runtime-");
    const cwd = testDir("fhs-byname-here-");
    assert.equal(launch([probeIn, "cwd"], runtime, { cwd }).stdout, `cwd ${cwd}\n`);
    // Root's directory, searchable when the caller entered it, then not. The
    // launcher changes into the layers' parent and back to mount them by
    // name; it must not be stranded there, nor fail another way than a
    // launch by fd does: the view is made, and entering the directory in it
    // is refused.
    chownSync(cwd, 0, 0);
    const child = spawn("setpriv", [`--reuid=${testUser.uid}`, `--regid=${testUser.gid}`, "--clear-groups", "--", "sh", "-c", 'cd "$1" && echo in && read go && exec "$2" cwd', "sh", cwd, probeIn], {
      env: { PATH: "/usr/bin:/bin", XDG_RUNTIME_DIR: runtime },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "", err = "";
    child.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    await new Promise<void>((inside) => child.stdout.on("data", (d) => ((out += d), out === "in\n" && inside())));
    chmodSync(cwd, 0o700);
    child.stdin.end("go\n");
    assert.equal(await exited, LAUNCHER_EXIT.setup);
    assert.equal(err, `fhs: the working directory ${cwd} cannot be entered in the view: Permission denied\n`);
    assert.equal(out, "in\n");
  });
});

describe("layer-swap-race: a layer swapped for a symlink while launches run never shows the host", () => {
  for (const shared of [false, true]) {
    const what = shared ? "the sixth of six layers in one directory (mounted by name beneath its clone)" : "a layer";
    it(`200 launches against ${what} flipping between its dir and a symlink to the host's root`, async () => {
      assert.ok(existsSync("/usr/bin/perl"), "the host has /usr/bin/perl (the witness)");
      let deps = [markerLayer("flipping")];
      if (shared) {
        const parent = testDir("fhs-flipping-shared-");
        deps = ["l0", "l1", "l2", "l3", "l4", "l5"].map((n) => join(parent, n));
        for (const d of deps) mkdirSync(join(d, "usr/share"), { recursive: true });
        if (isRoot) execFileSync("chown", ["-R", `${testUser.uid}:${testUser.gid}`, parent]);
      }
      const dep = deps.at(-1)!;
      const pkg = probePackage(shared ? "flipping-shared-pkg" : "flipping-pkg", deps);
      const runtime = testDir("fhs-runtime-");
      // As the test user, as fast as it can: the dir moves aside, a symlink to
      // the host's root takes its name, then the dir comes back.
      const flip = 'while :; do mv "$1" "$1.real" && ln -s "$2" "$1" && rm "$1" && mv "$1.real" "$1"; done';
      const flipper = spawn("setpriv", [`--reuid=${testUser.uid}`, `--regid=${testUser.gid}`, "--clear-groups", "--", "sh", "-c", flip, "sh", dep, relative(dirname(dep), "/")], { stdio: "ignore" });
      const seen = new Map<string, number>();
      try {
        for (let i = 0; i < 200; i++) {
          const r = launch([join(pkg, "usr/bin/probe"), "exists", "/usr/bin/perl"], runtime);
          const outcome = r.status === 0 ? `ran: ${r.stdout.trim()}` : `${r.status}: ${r.stderr.trim()}`;
          seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
        }
      } finally {
        flipper.kill("SIGKILL");
        await new Promise((done) => flipper.once("exit", done));
      }
      // The program ran in a pure view, or the launch was refused naming the
      // layer: as a symlink, as missing, or as changing under the open.
      const refused = `${LAUNCHER_EXIT.setup}: fhs: layer ${dep}/usr: `;
      const allowed = [
        "ran: exists no",
        `${refused}${dep} is a symlink; a layer is opened without following symlinks`,
        `${refused}No such file or directory`,
        `${refused}${dep} changed while it was being opened`,
        // ELOOP, in glibc's words and in musl's (the static launcher's libc).
        `${refused}changed while it was being opened (Too many levels of symbolic links)`,
        `${refused}changed while it was being opened (Symbolic link loop)`,
        `${refused}changed while it was being opened (No such file or directory)`,
      ];
      for (const [outcome, n] of seen) assert.ok(allowed.includes(outcome), `${n}× ${outcome}`);
    });
  }
});

describe("layer-missing: a broken layer is named, not the first one", () => {
  it("names the missing layer among several", () => {
    const deps = [markerLayer("h1"), markerLayer("h2"), markerLayer("h3")];
    const pkg = probePackage("missing-pkg", deps);
    rmSync(deps[1]!, { recursive: true });
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const r = launch([join(pkg, "usr/bin/probe")], runtime);
    assert.equal(r.status, LAUNCHER_EXIT.setup, r.stderr);
    assert.equal(r.stderr, `fhs: layer ${deps[1]}/usr: No such file or directory\n`);
    assert.equal(r.stdout, "");
    assertNoResidue(before, { cacheMayGrow: true });
  });
});

describe("input-not-regular: a FIFO or device as manifest or policy is refused, never waited on", () => {
  for (const [what, rel, code, message] of [
    ["manifest.bin", ".fhs/manifest.bin", LAUNCHER_EXIT.setup, (pkg: string) => `package ${pkg}: cannot read its manifest ${pkg}/.fhs/manifest.bin: not a regular file`],
    ["policy.wasm", ".fhs/policy.wasm", LAUNCHER_EXIT.policy, (pkg: string) => `policy ${pkg}/.fhs/policy.wasm: cannot read: not a regular file`],
  ] as const) {
    it(`refuses a FIFO as ${what}`, () => {
      const pkg = probePackage(`fifo-${what.replace(".", "-")}`);
      rmSync(join(pkg, rel));
      execFileSync("mkfifo", [join(pkg, rel)]);
      if (isRoot) chownSync(join(pkg, rel), testUser.uid, testUser.gid);
      const runtime = testDir("fhs-runtime-");
      const before = world(runtime);
      const r = launch([join(pkg, "usr/bin/probe")], runtime, { timeoutMs: 15_000 });
      assert.equal(r.error, undefined, "the launcher hung");
      assert.equal(r.status, code, r.stderr);
      assert.equal(r.stderr, `fhs: ${message(pkg)}\n`);
      assert.equal(r.stdout, "");
      assertNoResidue(before);
    });
  }

  it("refuses a character device as manifest.bin", () => {
    const pkg = probePackage("chardev-manifest");
    rmSync(join(pkg, ".fhs/manifest.bin"));
    symlinkSync("/dev/zero", join(pkg, ".fhs/manifest.bin"));
    const r = launch([join(pkg, "usr/bin/probe")], testDir("fhs-runtime-"), { timeoutMs: 15_000 });
    assert.equal(r.status, LAUNCHER_EXIT.setup, r.stderr);
    assert.equal(r.stderr, `fhs: package ${pkg}: cannot read its manifest ${pkg}/.fhs/manifest.bin: not a regular file\n`);
  });
});

describe("manifest-oversized: what the launcher reads and parses is capped", () => {
  /** A manifest: the package's real records, then `tiny` records of one byte each. */
  function bloat(pkg: string, tiny: number): void {
    const file = join(pkg, ".fhs/manifest.bin");
    const head = readFileSync(file);
    const filler = Buffer.alloc(tiny * 3);
    for (let i = 0; i < tiny; i++) filler[i * 3] = 0x61; // "a\0\0": one record, one field
    writeFileSync(file, Buffer.concat([head, filler]));
  }
  // 256 MiB of address space: the launcher needs a few; 60 MB of tiny records took 677 MB.
  const bounded = (argv: string[]) => ["prlimit", `--as=${256 << 20}`, "--", ...argv];

  it("refuses a 60 MB manifest by its size, in bounded memory", () => {
    const pkg = probePackage("huge-manifest");
    bloat(pkg, 20_000_000);
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const r = launch(bounded([join(pkg, "usr/bin/probe")]), runtime);
    assert.equal(r.status, LAUNCHER_EXIT.setup, r.stderr);
    assert.equal(r.stderr, `fhs: package ${pkg}: cannot read its manifest ${pkg}/.fhs/manifest.bin: larger than the cap of ${4 << 20} bytes\n`);
    assert.equal(r.stdout, "");
    assertNoResidue(before);
  });

  it("refuses a manifest under the size cap holding a million tiny records", () => {
    const pkg = probePackage("many-records");
    bloat(pkg, 1_300_000);
    const r = launch(bounded([join(pkg, "usr/bin/probe")]), testDir("fhs-runtime-"));
    assert.equal(r.status, LAUNCHER_EXIT.setup, r.stderr);
    assert.equal(r.stderr, `fhs: package ${pkg}: its manifest ${pkg}/.fhs/manifest.bin holds more than 65536 records, the cap\n`);
    assert.equal(r.stdout, "");
  });
});

describe("caller-itimer-kept: the policy's deadline does not touch the caller's ITIMER_REAL", () => {
  it("a pending alarm set before exec survives a launch that runs the policy", () => {
    const pkg = probePackage("itimer-pkg");
    // The caller arms 30 s, then execs the wrapper; the plan cache is off, so wasm3 runs.
    const r = launch([probe, "set-itimer", "30", join(pkg, "usr/bin/probe"), "itimer"], testDir("fhs-runtime-"), { env: { FHS_PLAN_CACHE: "off" } });
    assert.equal(r.status, 0, r.stderr);
    const left = Number(/^itimer (\d+)\n$/.exec(r.stdout)?.[1]);
    assert.ok(left >= 25 && left <= 30, `the program saw ${JSON.stringify(r.stdout)}`);
  });
});

describe("interpreter-missing: an exec that fails for want of an interpreter says so", () => {
  it("names the ELF interpreter a view of zero runtime layers lacks", () => {
    const pkg = wrapPackage(packageFromLayers(debLayers(["hello"]), "hello-alone"), []);
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const r = launch([join(pkg, "usr/bin/hello")], runtime);
    assert.equal(r.status, LAUNCHER_EXIT.noexec, r.stderr);
    assert.match(r.stderr, /^fhs: exec \S+\/bin\/hello: its ELF interpreter \/lib64\/ld-linux-x86-64\.so\.2 is missing in the view\n$/);
    assert.equal(r.stdout, "");
    assertNoResidue(before, { cacheMayGrow: true });
  });

  it("names the #! interpreter a view lacks", () => {
    const pkg = wrapPackage(makePackage({ "bin/script": { text: "#!/bin/bash -e\necho ran\n" } }, "script-alone"), []);
    const r = launch([join(pkg, "usr/bin/script")], testDir("fhs-runtime-"));
    assert.equal(r.status, LAUNCHER_EXIT.noexec, r.stderr);
    assert.match(r.stderr, /^fhs: exec \S+\/bin\/script: its interpreter \/bin\/bash is missing in the view\n$/);
    assert.equal(r.stdout, "");
  });
});

describe("bind-ro-submounts: a read-only layer bind is read-only all the way down", { skip: needsRoot }, () => {
  for (const api of ["default", "legacy"] as const) {
    it(`a mount inside a single-layer view is read-only there${api === "legacy" ? " (remount fallback)" : ""}`, () => {
      // One layer, no package: /usr is a recursive read-only bind of it (a
      // wrapped package always has two, its programs and itself). fhs env
      // makes such a view.
      const layer = makePackage({ "bin/probe": { from: probe }, "share/sub/keep": { text: "" } }, `submount-${api}`);
      const sub = join(layer, "usr/share/sub");
      // A writable tmpfs on the layer's share/sub, in a mount namespace of this
      // test only (nothing is mounted in the host's), then the launch as the test user.
      const script = 'mount -t tmpfs -o mode=1777 fhs-sub "$1" && exec setpriv --reuid="$2" --regid="$3" --clear-groups -- "$4" "$5" env --policy "$6" --layer "$7" -- probe write /usr/share/sub/x';
      const r = spawnSync("unshare", ["--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", sub, String(testUser.uid), String(testUser.gid), process.execPath, join(repoRoot, "dist/cli.js"), testArtifacts().policy, layer], {
        encoding: "utf8",
        env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: testUser.home, FHS_PLAN_CACHE: "off", FHS_LAUNCHER: testArtifacts().launcher, ...(api === "legacy" ? { FHS_MOUNT_API: "legacy" } : {}) },
      });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, "write Read-only file system\n");
    });
  }
});

describe("legacy-mount-options: paths with option separators reach mount(2) intact", () => {
  it("fhs build --out a,b works through legacy mount(2)", () => {
    const shell = debLayers(["dash", "coreutils"], { withDeps: true });
    const parent = testDir("fhs-comma-");
    const out = join(parent, "a,b:c");
    const args = ["build", "--out", out, "--policy", testArtifacts().policy, ...shell.flatMap((l) => ["--layer", l]), "--", "sh", "-c", "mkdir -p /usr/share/comma && echo built > /usr/share/comma/f"];
    const r = runCliUnprivileged(args, { env: { FHS_LAUNCHER: testArtifacts().launcher, FHS_MOUNT_API: "legacy" }, timeoutMs: 300_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(join(out, "usr/share/comma/f"), "utf8"), "built\n");
    assert.deepEqual(readdirSync(parent).filter((n) => n.includes(".fhs-build-")), [], "staging left behind");
  });
});
