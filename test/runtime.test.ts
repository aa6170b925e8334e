// The runtime, as a user sees it: real Debian programs, wrapped with the real
// CLI, launched through the real launcher as an unprivileged user.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { debLayers } from "./helpers/debian.js";
import { policiesDir } from "../src/paths.js";
import { evalPolicy } from "../src/policy/host.js";
import { decodeRecords } from "../src/policy/records.js";
import { runCli, runCliUnprivileged, runUnprivileged, testArtifacts, testDir, testUser } from "./helpers/env.js";
import { sublibAndProgram } from "./helpers/sublib.js";
import { makePackage, packageFromLayers, shellPackage, wrapPackage } from "./helpers/wrapped.js";
import { EXIT, LAUNCHER_EXIT } from "../src/abi.js";
import { PLAN_ENTRY, readPlanEntry, rewritePlanEntry } from "./helpers/plan-cache.js";


/** The records of a plan printed by FHS_DEBUG=plan (raw record bytes on stderr, before the program runs). */
function planFromStderr(stderr: string): string[][] {
  return decodeRecords(Buffer.from(stderr.slice(0, stderr.lastIndexOf("\0\0") + 2)));
}

let libc: string[]; // libc6 and its dependencies
let shellPkg: string; // dash + coreutils, wrapped
let helloPkg: string;

before(() => {
  ({ pkg: shellPkg, libc } = shellPackage());
  helloPkg = wrapPackage(packageFromLayers(debLayers(["hello"]), "hello"), libc);
});

const sh = (script: string, opts: Parameters<typeof runUnprivileged>[1] = {}) =>
  runUnprivileged([join(shellPkg, "usr/bin/dash"), "-c", script], opts);

describe("wrap", () => {
  it("moves programs to .fhs/raw and leaves symlinks to one launcher per package, not copies", () => {
    const wrapper = join(helloPkg, "usr/bin/hello");
    assert.equal(readlinkSync(wrapper), join(helloPkg, ".fhs/.fhs-launcher"));
    // A hard link to the launcher when on the same filesystem: no bytes copied.
    assert.equal(statSync(join(helloPkg, ".fhs/.fhs-launcher")).ino, statSync(testArtifacts().launcher).ino);
    // Outside usr/: nothing of the launcher is in the package's own layer.
    assert.ok(!existsSync(join(helloPkg, "usr/bin/.fhs-launcher")));
    assert.ok(existsSync(join(helloPkg, ".fhs/raw/bin/hello")));
    const manifest = JSON.parse(readFileSync(join(helloPkg, ".fhs/manifest.json"), "utf8"));
    // Its programs (laid out as a /usr) on top, then the package itself.
    assert.deepEqual(manifest.layers.slice(0, 2).map((l: { path: string; layout: string }) => [l.path, l.layout]), [[join(helloPkg, ".fhs/raw"), "nix"], [helloPkg, "fhs"]]);
    assert.deepEqual(manifest.programs, ["bin/hello"]);
    assert.match(manifest.policy.sha256, /^[0-9a-f]{64}$/);
  });

  it("refuses to wrap a package twice", () => {
    const r = runCli(["wrap", helloPkg], { env: { FHS_LAUNCHER: testArtifacts().launcher } });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^fhs: package .*: already wrapped/);
  });

  it("refuses bad layers and leaves the package untouched", () => {
    const pkg = makePackage({ "bin/tool": { text: "#!/bin/sh\necho hi\n" } }, "untouched");
    const file = join(testDir(), "plain-file");
    writeFileSync(file, "x");
    const escaping = join(testDir(), "escaping");
    mkdirSync(join(escaping, "usr/lib"), { recursive: true });
    symlinkSync("../../../../etc/shadow", join(escaping, "usr/lib/evil"));
    for (const [layer, why] of [
      ["/nonexistent/layer", /no such directory/],
      [file, /not a directory/],
      [escaping, /symlink usr\/lib\/evil -> \.\.\/\.\.\/\.\.\/\.\.\/etc\/shadow escapes the layer's root/],
    ] as const) {
      const r = runCli(["wrap", pkg, "--layer", layer]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, why);
      assert.equal(r.stderr.trim().split("\n").length, 1);
      assert.ok(!existsSync(join(pkg, ".fhs")), "package was touched");
      assert.ok(existsSync(join(pkg, "usr/bin/tool")) && !existsSync(join(pkg, ".fhs/raw")));
    }
  });

  it("wraps scripts and symlinks to executables, not data", () => {
    const pkg = makePackage({
      "bin/script": { text: "#!/bin/sh\necho script-ran\n" },
      "bin/data.txt": { text: "not a program", mode: 0o644 },
      "sbin/admin": { text: "#!/bin/sh\necho admin\n" },
      "libexec/helper": { text: "#!/bin/sh\n" },
    }, "mixed");
    symlinkSync("script", join(pkg, "usr/bin/alias"));
    wrapPackage(pkg, [...libc, join(shellPkg)]);
    const manifest = JSON.parse(readFileSync(join(pkg, ".fhs/manifest.json"), "utf8"));
    assert.deepEqual(manifest.programs, ["bin/alias", "bin/script", "sbin/admin"]);
    const r = runUnprivileged([join(pkg, "usr/bin/alias")]);
    assert.equal(r.stdout, "script-ran\n", r.stderr);
  });
});

describe("launch", () => {
  it("runs a real program in a pure view", () => {
    const r = runUnprivileged([join(helloPkg, "usr/bin/hello")]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "Hello, world!\n");
  });

  it("identifies the package through PATH, a user's symlink and a relative path", () => {
    const link = join(testDir(), "my-hello");
    symlinkSync(join(helloPkg, "usr/bin/hello"), link);
    assert.equal(runUnprivileged([link]).stdout, "Hello, world!\n");
    assert.equal(runUnprivileged(["hello"], { env: { PATH: join(helloPkg, "usr/bin") } }).stdout, "Hello, world!\n");
    assert.equal(runUnprivileged(["./hello"], { cwd: join(helloPkg, "usr/bin") }).stdout, "Hello, world!\n");
    // Inside a view, through PATH: /usr/bin/ls is the wrapper, seen through the overlay.
    const r = sh("command -v ls; ls -d /tmp");
    assert.equal(r.stdout, "/usr/bin/ls\n/tmp\n", r.stderr);
  });

  it("shows no trace of wrapping at /usr: the package's launcher is not in its layers", () => {
    // The wrapped shell's view: its own usr/ is a layer, under its programs.
    const r = sh("ls -a /usr/bin | grep -c fhs-launcher; test -e /usr/.fhs-launcher || echo none");
    assert.equal(r.stdout, "0\nnone\n", r.stderr);
  });

  it("keeps argv[0] exactly as the caller passed it", () => {
    const r = runUnprivileged(["bash", "-c", 'exec -a my-custom-ls "$0" /nonexistent-path', join(shellPkg, "usr/bin/ls")]);
    assert.match(r.stderr, /^my-custom-ls: cannot access '\/nonexistent-path'/m);
  });

  it("is pure outside a view: host-only files are invisible", () => {
    assert.ok(existsSync("/usr/bin/perl") || existsSync("/usr/bin/python3"), "host has perl or python3");
    const r = sh("test -e /usr/bin/perl && echo perl; test -e /usr/bin/python3 && echo python3; test -e /usr/bin/dash && echo dash; echo done");
    assert.equal(r.stdout, "dash\ndone\n", r.stderr);
  });

  it("a stray IN_NIX_FHS in a host shell does not make a run impure", () => {
    for (const forged of ["1", "0123456789abcdef"]) {
      const r = runUnprivileged([join(helloPkg, "usr/bin/hello")], { env: { IN_NIX_FHS: forged, FHS_DEBUG: "plan" } });
      assert.equal(r.status, 0, r.stderr);
      const plan = planFromStderr(r.stderr);
      assert.deepEqual(plan[0], ["plan", "inplace"]);
      assert.deepEqual(plan.filter((p) => p[0] === "view").map((p) => p[1]), [join(helloPkg, ".fhs/raw"), helloPkg, ...libc]);
    }
    // Even the id of a real view does not help without its read-only root and marker.
    const id = sh("printf %s \"$IN_NIX_FHS\"").stdout;
    assert.match(id, /^[0-9a-f]{16}$/);
    const r = runUnprivileged([join(helloPkg, "usr/bin/hello")], { env: { IN_NIX_FHS: id, FHS_DEBUG: "plan" } });
    assert.deepEqual(planFromStderr(r.stderr).filter((p) => p[0] === "view").map((p) => p[1]), [join(helloPkg, ".fhs/raw"), helloPkg, ...libc]);
  });

  it("FHS_DEBUG=input prints the policy's input: the Node host answers those bytes with the plan the launcher carried out", async () => {
    const wrapper = join(helloPkg, "usr/bin/hello");
    const cold = { FHS_PLAN_CACHE: "off" };
    const bytes = (stderr: string) => {
      const b = Buffer.from(stderr, "utf8");
      return b.subarray(0, b.lastIndexOf("\0\0") + 2);
    };
    const r = runUnprivileged([wrapper], { env: { ...cold, FHS_DEBUG: "input" } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "Hello, world!\n");
    const input = bytes(r.stderr);
    const records = decodeRecords(input);
    assert.deepEqual(records[0], ["req", "launch"]);
    assert.deepEqual(records.filter((x) => x[0] === "layer").map((x) => x[1]), [join(helloPkg, ".fhs/raw"), helloPkg, ...libc]);
    assert.ok(records.some((x) => x[0] === "host" && x[1] === "usr"), "the host's root is in the input");
    // All of the root's entries, sorted by name (bytewise) whatever readdir's
    // order: the policy sorts them again, at one comparison an entry.
    const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
    assert.deepEqual(
      records.filter((x) => x[0] === "host").map((x) => x[1]),
      readdirSync("/").sort(byBytes),
    );
    const plan = bytes(runUnprivileged([wrapper], { env: { ...cold, FHS_DEBUG: "plan" } }).stderr);
    const res = await evalPolicy(readFileSync(join(helloPkg, ".fhs/policy.wasm")), input, { name: "hello" });
    assert.equal(res.status, 0);
    assert.deepEqual(Buffer.from(res.bytes), plan);
  });

  it("composes: a wrapped program inside a view sees that view's layers on top of its own", () => {
    const planFile = join(testDir(), "plan");
    const r = sh(`FHS_DEBUG=plan ${helloPkg}/usr/bin/hello 2>${planFile}; ls /usr/bin/dash`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "Hello, world!\n/usr/bin/dash\n");
    const plan = planFromStderr(readFileSync(planFile, "utf8"));
    // hello's layers first, then the shell view's, de-duplicated: one flat overlay.
    const shellLayers = (JSON.parse(readFileSync(join(shellPkg, ".fhs/manifest.json"), "utf8")) as { layers: { path: string }[] }).layers.map((l) => l.path);
    const raw = join(helloPkg, ".fhs/raw");
    const expected = [...new Set([raw, helloPkg, ...libc, ...shellLayers])];
    assert.deepEqual(plan.filter((p) => p[0] === "view").map((p) => p[1]), expected);
    const usr = plan.find((p) => p[0] === "overlay" && p[1] === "/usr")!;
    // Program dirs (nix layout) are a /usr themselves; packages give their usr/.
    assert.deepEqual(usr.slice(2), expected.map((l) => (l.endsWith("/.fhs/raw") ? l : `${l}/usr`)));
  });

  it("takes the fast path when every layer is already in the view: no new namespace", () => {
    const r = sh(`a=$(readlink /proc/self/ns/user); b=$(FHS_DEBUG=plan ${shellPkg}/usr/bin/readlink /proc/self/ns/user 2>/dev/null); [ "$a" = "$b" ] && echo same-ns`);
    assert.equal(r.stdout.trim(), "same-ns", r.stderr);
  });

  it("cannot write to /usr, nor to / beyond what the caller could, and writes to HOME and /tmp persist", () => {
    const home = testUser.home;
    const tmp = testDir();
    const r = sh(`touch /usr/x 2>&1; touch /x 2>&1; echo home > ${home}/fhs-written; echo tmp > ${tmp}/written`);
    assert.match(r.stdout, /touch: cannot touch '\/usr\/x': Read-only file system/);
    // In place, / is the caller's own root (root's, not writable to the user).
    assert.match(r.stdout, /touch: cannot touch '\/x': Permission denied/);
    assert.equal(readFileSync(join(home, "fhs-written"), "utf8"), "home\n");
    assert.equal(readFileSync(join(tmp, "written"), "utf8"), "tmp\n");
    rmSync(join(home, "fhs-written"));
  });

  it("passes exit codes and signal deaths through unchanged", () => {
    assert.equal(sh("exit 42").status, 42);
    assert.equal(sh("exit 0").status, 0);
    const killed = sh("kill -TERM $$");
    assert.equal(killed.signal, "SIGTERM");
  });

  it("keeps the caller's fds and leaks none of its own", () => {
    const out = join(testDir(), "fd3");
    const r = runUnprivileged(["bash", "-c", `exec 3>${out}; "$0" -c 'echo via-fd3 >&3'`, join(shellPkg, "usr/bin/dash")]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(out, "utf8"), "via-fd3\n");
    // The program sees exactly the fds it would see without the launcher.
    const fds = (ls: string) => runUnprivileged([ls, "/proc/self/fd"]).stdout.trim().split("\n").map(Number).sort((a, b) => a - b);
    const baseline = fds("/usr/bin/ls");
    assert.ok(baseline.includes(3), "ls's own directory fd");
    assert.deepEqual(fds(join(shellPkg, "usr/bin/ls")), baseline);
  });

  it("restores the cwd, and fails clearly when it does not exist in the view", () => {
    const dir = testDir();
    assert.equal(sh("pwd", { cwd: dir }).stdout, `${dir}\n`);
    const hostOnly = existsSync("/usr/local/lib") ? "/usr/local/lib" : "/usr/local";
    const before = readFileSync("/proc/self/mountinfo", "utf8");
    const r = sh("pwd", { cwd: hostOnly });
    assert.equal(r.status, LAUNCHER_EXIT.setup);
    assert.equal(r.stderr, `fhs: the working directory ${hostOnly} does not exist in the view: No such file or directory\n`);
    assert.equal(readFileSync("/proc/self/mountinfo", "utf8"), before);
  });

  it("refuses a policy module changed after wrap", () => {
    const pkg = wrapPackage(packageFromLayers(debLayers(["hello"]), "tampered"), libc);
    const policy = join(pkg, ".fhs/policy.wasm");
    const bytes = readFileSync(policy);
    bytes[bytes.length - 1]! ^= 1;
    writeFileSync(policy, bytes);
    const r = runUnprivileged([join(pkg, "usr/bin/hello")]);
    assert.equal(r.status, LAUNCHER_EXIT.policy);
    assert.match(r.stderr, /^fhs: policy .*policy\.wasm: sha256 [0-9a-f]{64} does not match the manifest's [0-9a-f]{64}: the module changed after wrap\n$/);
    assert.equal(r.stdout, "");
  });
});

describe("fhs plan and fhs run", () => {
  const planOf = (stderr: string) => planFromStderr(stderr);

  it("fhs plan prints exactly the plan the launcher carries out, outside a view", () => {
    const launched = runUnprivileged([join(helloPkg, "usr/bin/hello")], { env: { FHS_DEBUG: "plan" } });
    const planned = runCli(["plan", join(helloPkg, "usr/bin/hello"), "--json"]);
    assert.equal(planned.status, 0, planned.stderr);
    assert.deepEqual(JSON.parse(planned.stdout), planOf(launched.stderr));
  });

  it("fhs plan --inside prints the nested plan the launcher carries out inside that view", () => {
    const planFile = join(testDir(), "plan");
    const r = sh(`FHS_DEBUG=plan ${helloPkg}/usr/bin/hello 2>${planFile} >/dev/null`);
    assert.equal(r.status, 0, r.stderr);
    const planned = runCli(["plan", helloPkg, "--inside", shellPkg, "--json"]);
    assert.equal(planned.status, 0, planned.stderr);
    assert.deepEqual(JSON.parse(planned.stdout), planOf(readFileSync(planFile, "utf8")));
  });

  it("fhs plan of something that is neither a package nor a wrapper: exit 2, the launcher's one line", () => {
    const dir = testDir();
    const planned = runCli(["plan", dir]);
    assert.equal(planned.status, EXIT.usage);
    assert.equal(planned.stderr, `fhs: ${dir}: neither a wrapped package nor a wrapper\n`);
    assert.equal(planned.stdout, "");
  });

  it("fhs plan shows the fast path when the package is already in the view", () => {
    const planned = runCli(["plan", join(shellPkg, "usr/bin/ls"), "--inside", shellPkg]);
    assert.equal(planned.status, 0, planned.stderr);
    assert.match(planned.stdout, /^plan fast$/m);
  });

  it("fhs run runs a wrapped program with its arguments and exit status", () => {
    const r = runCliUnprivileged(["run", helloPkg, "hello", "-g", "hi from fhs run"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "hi from fhs run\n");
    assert.equal(runCliUnprivileged(["run", shellPkg, "dash", "-c", "exit 7"]).status, 7);
    const missing = runCliUnprivileged(["run", helloPkg, "nope"]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /^fhs: package .*: no program nope in usr\/bin or usr\/sbin\n$/);
  });
});

describe("which directories come from the layers", () => {
  it("shows the layers' /etc over the host's by default; the config can ask for the host's or the layers' alone", () => {
    const layers = JSON.parse(readFileSync(join(shellPkg, ".fhs/manifest.json"), "utf8")).layers.map((l: { path: string }) => l.path);
    const withEtc = (etc: string) => {
      const config = JSON.parse(readFileSync(join(policiesDir, "default.json"), "utf8"));
      config.overlay.etc = etc;
      delete config.$schema;
      const configFile = join(testDir(), `etc-${etc}.json`);
      writeFileSync(configFile, JSON.stringify(config));
      return wrapPackage(packageFromLayers(debLayers(["dash"]), `etc-${etc}`), layers, ["--config", configFile]);
    };
    const probe = "test -e /etc/hostname && echo host-etc; test -e /etc/ld.so.conf.d/x86_64-linux-gnu.conf && echo libc6-etc; true";
    assert.equal(sh(probe).stdout, "host-etc\nlibc6-etc\n");
    const hostOnly = runUnprivileged([join(withEtc("host"), "usr/bin/dash"), "-c", probe]);
    assert.equal(hostOnly.stdout, existsSync("/etc/ld.so.conf.d/x86_64-linux-gnu.conf") ? "host-etc\nlibc6-etc\n" : "host-etc\n", hostOnly.stderr);
    const layersOnly = runUnprivileged([join(withEtc("layers"), "usr/bin/dash"), "-c", probe]);
    assert.equal(layersOnly.status, 0, layersOnly.stderr);
    assert.equal(layersOnly.stdout, "libc6-etc\n");
  });
});

describe("libraries resolve without LD_LIBRARY_PATH", () => {
  it("the view's ld.so.cache, made at wrap time, finds a library in a directory only a layer's ld.so.conf.d names", () => {
    const { lib, bin } = sublibAndProgram();
    const pkg = wrapPackage(makePackage({ "bin/usesub": { from: bin } }, "usesub"), [lib, ...libc]);
    const manifest = JSON.parse(readFileSync(join(pkg, ".fhs/manifest.json"), "utf8"));
    assert.equal(manifest.ldCache, join(pkg, ".fhs/ld.so.cache"));
    const r = runUnprivileged([join(pkg, "usr/bin/usesub")], { env: { FHS_DEBUG: "plan" } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "found libsub through the view's ld.so.cache\n");
    assert.deepEqual(planFromStderr(r.stderr).find((op) => op[0] === "bind-file"), ["bind-file", "/etc/ld.so.cache", manifest.ldCache]);
    // No LD_LIBRARY_PATH anywhere.
    assert.equal(runUnprivileged([join(shellPkg, "usr/bin/dash"), "-c", 'echo "${LD_LIBRARY_PATH-unset}"']).stdout, "unset\n");
  });

  it("nested, the union of the package's cache and the view's finds a library only the view has; made once, then reused", () => {
    const { lib, bin } = sublibAndProgram();
    // The program's own package does not hold the library; the view it runs in does.
    const prog = wrapPackage(makePackage({ "bin/usesub": { from: bin } }, "usesub-nested"), libc);
    const devshell = wrapPackage(packageFromLayers(debLayers(["dash"]), "subshell"), [lib, ...libc]);
    const runtime = testDir("fhs-xdg-");
    const run = () => runUnprivileged([join(devshell, "usr/bin/dash"), "-c", `FHS_DEBUG=plan ${prog}/usr/bin/usesub 2>${runtime}/plan`], { env: { XDG_RUNTIME_DIR: runtime } });
    // Outside that view, the program cannot find its library.
    const alone = runUnprivileged([join(prog, "usr/bin/usesub")]);
    assert.notEqual(alone.status, 0);
    assert.match(alone.stderr, /libsub\.so\.1: cannot open shared object file/);

    const r = run();
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "found libsub through the view's ld.so.cache\n");
    const plan = planFromStderr(readFileSync(join(runtime, "plan"), "utf8"));
    assert.ok(plan.some((op) => op[0] === "ldcache-union"), "the nested plan binds a union cache");
    // Kept under the sha256 of its whole input (the package's cache, then the
    // view's), as the plan cache keys its entries: a package wrapped again
    // gets its own union, never a stale one.
    const top = readFileSync(join(prog, ".fhs/ld.so.cache"));
    const below = readFileSync(join(devshell, ".fhs/ld.so.cache"));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(top.length));
    const key = createHash("sha256").update(len).update(top).update(below).digest("hex");
    const union = join(runtime, "fhs-plans", `${key}.ld.so.cache`);
    assert.match(execFileSync("/sbin/ldconfig", ["-p", "-C", union], { encoding: "utf8" }), /libsub\.so\.1 .*=> \/usr\/lib\/x86_64-linux-gnu\/fhs-sub\/libsub\.so\.1/);
    const made = statSync(union).mtimeMs;
    assert.equal(run().stdout, "found libsub through the view's ld.so.cache\n");
    assert.equal(statSync(union).mtimeMs, made, "the union cache is not regenerated per launch");
  });
});

describe("inside a view, a launch asks the policy in two stages", () => {
  // Each line FHS_DEBUG=timing wrote: [plan_cache, facts].
  const timings = (stderr: string) => [...stderr.matchAll(/^fhs-timing .* plan_cache=(\w+) facts=(\S+)$/gm)].map((m) => [m[1], m[2]]);
  // The plan cache's entries (named by their key: not the union ld.so.caches
  // or the in-place marker layers, view-KEY/, kept beside them), decoded.
  const entries = (runtime: string) =>
    readdirSync(join(runtime, "fhs-plans"))
      .filter((e) => PLAN_ENTRY.test(e))
      .map((e) => readPlanEntry(join(runtime, "fhs-plans", e)).plan);

  it("the fast path is decided from partial facts (no host facts gathered) and cached as that one answer", () => {
    const runtime = testDir("fhs-xdg-");
    // XDG_RUNTIME_DIR for the inner launches only: the outer view's plan is cached elsewhere.
    const r = sh(`a=$(readlink /proc/self/ns/mnt); for i in 1 2; do b=$(XDG_RUNTIME_DIR=${runtime} FHS_DEBUG=timing ${shellPkg}/usr/bin/readlink /proc/self/ns/mnt) || exit 1; [ "$a" = "$b" ] && echo same-ns; done`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "same-ns\nsame-ns\n");
    assert.deepEqual(timings(r.stderr), [["miss", "partial"], ["hit", "partial"]]);
    const plans = entries(runtime);
    assert.equal(plans.length, 1, "one entry: the stage-1 answer, no plan for every fact");
    assert.deepEqual(plans[0]![0], ["plan", "fast"]);
  });

  it("a package whose programs are no layer of the view is planned in one stage, from every fact (the plan fhs plan --inside prints)", () => {
    // No fast path can be had (the view lacks the package's programs): no
    // stage 1, no lookup of /usr/bin/hello through the view's layers. The
    // input still says the program at /usr is not the package's own.
    const runtime = testDir("fhs-xdg-");
    const planFile = join(testDir(), "plan");
    const inputFile = join(testDir(), "input");
    const r = sh(`XDG_RUNTIME_DIR=${runtime} FHS_DEBUG=timing ${helloPkg}/usr/bin/hello && XDG_RUNTIME_DIR=${runtime} FHS_DEBUG=timing ${helloPkg}/usr/bin/hello && XDG_RUNTIME_DIR=${runtime} FHS_DEBUG=plan ${helloPkg}/usr/bin/hello 2>${planFile} && XDG_RUNTIME_DIR=${runtime} FHS_DEBUG=input ${helloPkg}/usr/bin/hello 2>${inputFile}`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "Hello, world!\n".repeat(4));
    assert.deepEqual(timings(r.stderr), [["miss", "all"], ["hit", "all"]]);
    const plans = entries(runtime);
    assert.equal(plans.length, 1, "one entry: the plan from every fact, no stage-1 answer");
    const full = plans[0]!;
    assert.deepEqual(full[0], ["plan", "inplace"]);
    const input = decodeRecords(readFileSync(inputFile));
    assert.deepEqual(input.filter((rec) => rec[0] === "shadowed" || rec[0] === "facts"), [["shadowed", "bin/hello"]]);
    // What ran is what fhs plan --inside (every fact, one stage) prints.
    assert.deepEqual(planFromStderr(readFileSync(planFile, "utf8")), full);
    const planned = runCli(["plan", helloPkg, "--inside", shellPkg, "--json"]);
    assert.equal(planned.status, 0, planned.stderr);
    assert.deepEqual(JSON.parse(planned.stdout), full);
  });

  it("outside a view, a stray IN_NIX_FHS included, every fact is gathered at once", () => {
    for (const env of [{}, { IN_NIX_FHS: "1" }] as Record<string, string>[]) {
      const r = runUnprivileged([join(helloPkg, "usr/bin/hello")], { env: { FHS_DEBUG: "timing", ...env } });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(timings(r.stderr)[0]![1], "all");
    }
  });
});

describe("the plan cache", () => {
  const timing = (env: Record<string, string>) => {
    const r = runUnprivileged([join(helloPkg, "usr/bin/hello")], { env: { FHS_DEBUG: "timing", ...env } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "Hello, world!\n");
    return /plan_cache=(\w+)/.exec(r.stderr)![1];
  };

  it("a repeated launch reuses the policy's plan instead of running wasm3 again", () => {
    const runtime = testDir("fhs-xdg-");
    assert.equal(timing({ XDG_RUNTIME_DIR: runtime }), "miss");
    assert.equal(timing({ XDG_RUNTIME_DIR: runtime }), "hit");
    assert.equal(timing({ XDG_RUNTIME_DIR: runtime, FHS_PLAN_CACHE: "off" }), "miss");
    // A different input (another IN_NIX_FHS value) is another entry.
    assert.equal(timing({ XDG_RUNTIME_DIR: runtime, IN_NIX_FHS: "1" }), "miss");
  });

  it("an entry is its key's: it holds the whole key, and an entry under the same name whose key differs by one byte is a miss, stored over", () => {
    const runtime = testDir("fhs-xdg-");
    assert.equal(timing({ XDG_RUNTIME_DIR: runtime }), "miss");
    const dir = join(runtime, "fhs-plans");
    const [name, ...more] = readdirSync(dir).filter((e) => PLAN_ENTRY.test(e));
    assert.ok(name && more.length === 0, "one entry");
    const entry = join(dir, name);
    const { key, plan } = readPlanEntry(entry);
    // The key: the module's sha256 (as in the manifest), its file's identity, then the input, which names the program.
    const manifest = JSON.parse(readFileSync(join(helloPkg, ".fhs/manifest.json"), "utf8"));
    assert.equal(key.subarray(0, 64).toString(), manifest.policy.sha256);
    assert.ok(key.includes(Buffer.from(`${helloPkg}\0`)), "the input is in the key");
    assert.equal(plan[0]![0], "plan");
    // Its last input byte changed: the name the launch computes still finds this file, whose key is not the launch's.
    const bytes = readFileSync(entry);
    const last = 16 + key.length - 1;
    bytes[last] = bytes[last]! ^ 1;
    writeFileSync(entry, bytes);
    assert.equal(timing({ XDG_RUNTIME_DIR: runtime }), "miss");
    assert.deepEqual(readPlanEntry(entry).key, key, "stored over with the launch's own key");
    assert.equal(timing({ XDG_RUNTIME_DIR: runtime }), "hit");
    // The key is compared as it is read: an entry cut inside its key is no entry either.
    writeFileSync(entry, readFileSync(entry).subarray(0, 16 + Math.floor(key.length / 2)));
    assert.equal(timing({ XDG_RUNTIME_DIR: runtime }), "miss");
    assert.deepEqual(readPlanEntry(entry).key, key, "stored over with the launch's own key");
    assert.equal(timing({ XDG_RUNTIME_DIR: runtime }), "hit");
  });

  it("FHS_DEBUG=timing: a miss says where the policy's time went, wasm3 having compiled only the functions the launch called", () => {
    const runtime = testDir("fhs-xdg-");
    const run = () => runUnprivileged([join(helloPkg, "usr/bin/hello")], { env: { FHS_DEBUG: "timing", XDG_RUNTIME_DIR: runtime } });
    const miss = run();
    assert.equal(miss.status, 0, miss.stderr);
    const m = /^fhs-timing-policy setup_ns=(\d+) eval_ns=(\d+) compiled=(\d+)\/(\d+) compiled_bytes=(\d+)\/(\d+)$/m.exec(miss.stderr);
    assert.ok(m, miss.stderr);
    const [compiled, functions, bytes, all] = [m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number];
    assert.ok(Number(m[1]) > 0 && Number(m[2]) > 0);
    // Some functions run (the ABI's and the launch decision's); the build,
    // wrap and conflict decisions do not, so wasm3 never compiles them.
    assert.ok(compiled > 0 && compiled < functions, `${compiled} of ${functions} functions compiled`);
    assert.ok(bytes > 0 && bytes < all, `${bytes} of ${all} bytes compiled`);
    // A hit runs no policy at all.
    const hit = run();
    assert.match(hit.stderr, /plan_cache=hit/);
    assert.doesNotMatch(hit.stderr, /fhs-timing-policy/);
  });

  it("a cached plan is validated like a fresh one: a tampered entry is refused, naming the entry and the remedy, which works", () => {
    const runtime = testDir("fhs-xdg-");
    timing({ XDG_RUNTIME_DIR: runtime });
    const dir = join(runtime, "fhs-plans");
    const [name] = readdirSync(dir).filter((e) => PLAN_ENTRY.test(e));
    const entry = join(dir, name!);
    const hello = () => runUnprivileged([join(helloPkg, "usr/bin/hello")], { env: { XDG_RUNTIME_DIR: runtime } });
    const remedy = "; not a plan this launcher would cache: remove it with fhs cache prune --all\n";
    const before = readFileSync("/proc/self/mountinfo", "utf8");
    // A plan the validator refuses; then bytes that are no plan at all. The
    // launcher caches only plans it validated, so neither is the policy's.
    rewritePlanEntry(entry, [["plan", "view"], ["overlay", "/usr", "/etc", "/home"]]);
    let r = hello();
    assert.equal(r.status, LAUNCHER_EXIT.plan);
    assert.equal(r.stderr, `fhs: plan cache entry ${entry}: plan op 'overlay /usr' refused: a lower layer is not one of the manifest's or the current view's layers${remedy}`);
    assert.equal(r.stdout, "");
    writeFileSync(entry, Buffer.concat([readPlanEntry(entry).head, Buffer.from("plan\0view\0")]));
    r = hello();
    assert.equal(r.status, LAUNCHER_EXIT.plan);
    assert.equal(r.stderr, `fhs: plan cache entry ${entry}: the result is not a record stream${remedy}`);
    assert.equal(readFileSync("/proc/self/mountinfo", "utf8"), before);
    // The remedy the line names: the policy is asked again, its plan cached.
    const prune = runCliUnprivileged(["cache", "prune", "--all"], { env: { XDG_RUNTIME_DIR: runtime } });
    assert.equal(prune.status, 0, prune.stderr);
    assert.equal(timing({ XDG_RUNTIME_DIR: runtime }), "miss");
    assert.equal(timing({ XDG_RUNTIME_DIR: runtime }), "hit");
  });

  it("a cache directory others may write to is not used", () => {
    const runtime = testDir("fhs-xdg-");
    timing({ XDG_RUNTIME_DIR: runtime });
    chmodSync(join(runtime, "fhs-plans"), 0o777);
    assert.equal(timing({ XDG_RUNTIME_DIR: runtime }), "miss");
  });
});
