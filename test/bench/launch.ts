// Launch benchmark: the per-exec cost of a wrapper beside honest baselines,
// side by side in one run (docs/BENCHMARKS.md says what each baseline does).
// Not a test: it measures, writes bench/results/<date>.json, the SVG charts
// and the results block of docs/BENCHMARKS.md.
//   npm run bench                   the full run (as root it drops to fhs-test)
//   BENCH_SMOKE=1 BENCH_OUT=DIR     a few runs of every case, written to DIR
//                                   (test/bench.test.ts; asserts nothing about speed)
//
// Each figure is the median of the runs of a C runner (test/bench/runner.c)
// that fork+execs the command and waits, so Node adds nothing to the timing.
// Rounds of all commands are interleaved to spread machine noise evenly.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { decodeRecords, encodeRecords } from "../../src/policy/records.js";
import { debLayers, debSource } from "../helpers/debian.js";
import { fetchedPackage } from "../helpers/fetched.js";
import { isRoot, repoRoot, runCli, runUnprivileged, testArtifacts, testDir, testUser } from "../helpers/env.js";
import { GCC_PROGRAM_PACKAGES, gccPackage, makePackage, packageFromLayers, staticProgram, syntheticLayers, wrapPackage } from "../helpers/wrapped.js";
import { renderCharts } from "./charts.js";
import { buildFhsEnv } from "./fhsenv.js";

const smoke = process.env.BENCH_SMOKE === "1";
const RUNS = Number(process.env.BENCH_RUNS ?? (smoke ? 3 : 200));
/** Runs for each point of the charts' sweeps (many points, each cheaper to estimate). */
const SWEEP_RUNS = Number(process.env.BENCH_SWEEP_RUNS ?? (smoke ? 2 : 60));
// Many short rounds rather than a few long ones: this VM's speed drifts over
// minutes (consecutive full runs of the same code differed by up to 50% on
// one ratio with 5 rounds of 40), and a drift then falls on every case alike.
const ROUNDS = smoke ? 1 : 20;
/** Layers in the view. A wrapped package's smallest view has 2: its programs
 * layer (.fhs/raw) and its own dir; the rest are dependencies. */
const LAYER_POINTS = smoke ? [2, 10] : [2, 10, 50, 100, 300, 500];
const DEPTHS = smoke ? [1, 2] : Array.from({ length: 16 }, (_, i) => i + 1);
const outDir = process.env.BENCH_OUT ?? repoRoot;
const cacheDir = process.env.FHS_BENCH_CACHE ?? "/var/cache/fhs-bench";

const runner = staticProgram("runner", join(repoRoot, "test/bench/runner.c"));
/** The programs measured beside the launcher are built as the launcher is:
 * static, with musl when musl-gcc is there (launcher/Makefile). Linked with
 * glibc, a static program's start alone costs ~60 cpuid instructions (its
 * CPU features and cache sizes), each a trap to the hypervisor in a VM
 * (~4 µs on the project's 2-core VM): ~0.3 ms that a floor would count as
 * the kernel's and the launcher never pays (case direct-step-glibc). */
const hasMusl = spawnSync("sh", ["-c", "command -v musl-gcc"]).status === 0;
function benchProgram(name: string, src: string): string {
  if (!hasMusl) return staticProgram(name, src);
  const out = join(testArtifacts().root, `${name}-musl`);
  execFileSync("musl-gcc", ["-O2", "-static", "-o", out, src]);
  return out;
}
const step = benchProgram("step", join(repoRoot, "test/bench/step.c"));
const stepGlibc = staticProgram("step", join(repoRoot, "test/bench/step.c"));
const floor = benchProgram("floor", join(repoRoot, "test/bench/floor.c"));
const floorView = benchProgram("floor-view", join(repoRoot, "test/bench/floor-view.c"));
const containerInit = staticProgram("fhsenv-init", join(repoRoot, "test/bench/fhsenv-init.c"));
const { launcher } = testArtifacts();
const bwrap = execFileSync("bash", [join(repoRoot, "test/bench/get-bwrap.sh")], { encoding: "utf8" }).trim();

const give = (p: string) => {
  if (isRoot) execFileSync("chown", ["-R", "-h", `${testUser.uid}:${testUser.gid}`, p]);
};

/** The plan the launcher carries out for a wrapper: its bytes, as records. */
function planBytesOf(wrapper: string): Buffer {
  // Decoded as UTF-8 by the helper: valid UTF-8 (any path here) comes back byte for byte.
  const bytes = Buffer.from(runUnprivileged([wrapper], { env: { FHS_DEBUG: "plan" } }).stderr, "utf8");
  return bytes.subarray(0, bytes.lastIndexOf("\0\0") + 2);
}
function planOf(wrapper: string): string[][] {
  return decodeRecords(planBytesOf(wrapper));
}

/** The policy floor of a cold launch: PKG (wrapped with the built-in policy)
 * wrapped again with test/fixtures/bench/policy-floor.ts, built with the
 * input a cold launch of WRAPPER asks and the plan the built-in policy
 * answers, which it answers to that input as constant bytes. The launch is the
 * same; the policy does none of the deciding. Stops the bench if the floor
 * answers another plan, or does not answer that input itself (wasm3 would
 * compile the built-in policy's functions): either would be a false figure. */
function withPolicyFloor(pkg: string, layers: string[], wrapper: string): void {
  const cold = { FHS_PLAN_CACHE: "off" };
  const input = Buffer.from(runUnprivileged([wrapper], { env: { ...cold, FHS_DEBUG: "input" } }).stderr, "utf8");
  const plan = planBytesOf(wrapper);
  const bytes = (b: Buffer) => `[${[...b].join(",")}]`;
  const dir = testDir("fhs-bench-policy-floor-");
  copyFileSync(join(repoRoot, "test/fixtures/bench/policy-floor.ts"), join(dir, "policy.ts"));
  writeFileSync(join(dir, "recorded.ts"), `export const INPUT: StaticArray<u8> = ${bytes(input.subarray(0, input.lastIndexOf("\0\0") + 2))};\nexport const PLAN: StaticArray<u8> = ${bytes(plan)};\n`);
  for (const args of [["policy", "build", join(dir, "policy.ts"), "-o", join(dir, "policy.wasm")], ["unwrap", pkg]]) {
    const r = runCli(args);
    if (r.status !== 0) throw new Error(`bench: fhs ${args.join(" ")}: ${r.stderr}`);
  }
  wrapPackage(pkg, layers, ["--policy", join(dir, "policy.wasm")]);
  if (!planBytesOf(wrapper).equals(plan)) throw new Error(`bench: the policy floor's plan for ${wrapper} is not the built-in policy's`);
  const timing = runUnprivileged([wrapper], { env: { ...cold, FHS_DEBUG: "timing" } }).stderr;
  const compiled = Number(/compiled=(\d+)\//.exec(timing)?.[1]);
  if (!(compiled < 12)) throw new Error(`bench: the policy floor did not answer its recorded input (wasm3 compiled ${compiled} functions): ${timing}`);
}

/** The directories the plan overlays at /usr, top first: the kernel floor's layers. */
function usrLayers(plan: string[][]): string[] {
  const op = plan.find((r) => (r[0] === "overlay" || r[0] === "bind-ro") && r[1] === "/usr");
  if (!op) throw new Error(`bench: the plan mounts nothing at /usr: ${JSON.stringify(plan)}`);
  return op[0] === "overlay" ? op.slice(2) : [op[2]!];
}

/** The in-place kept /etc, as the marker names it and the /etc links point into it. */
const HOST_ETC_IN_PLACE = "/usr/.fhs/host-etc";

/** The view floor's command for an in-place plan, up to its PROGRAM
 * (test/bench/floor-view.c): every mount the plan makes, none of the
 * launcher's work. Its marker layer is made here once, as the launcher's
 * cached one is (docs/ARCHITECTURE.md, "The marker layer"): usr/.fhs/view
 * holding the marker's records, an empty usr/.fhs/host-etc, etc/ with a link
 * per etc-link (into the kept /etc, or a copy of the host's link) and the
 * view's ld.so.cache, empty/; every directory 0555, owned by the user who
 * runs it. An op it cannot mirror stops the bench: a view floor missing a
 * mount fhs makes would be a false figure. */
function viewFloorArgs(plan: string[][]): string[] {
  if (plan[0]?.join(" ") !== "plan inplace") throw new Error(`bench: the view floor mirrors an in-place plan only: ${plan[0]?.join(" ")}`);
  const marker = join(testDir("fhs-bench-floor-view-"), "marker");
  const records: string[][] = [];
  const links: string[] = [];
  const opts: string[] = [];
  let usr: string[] | undefined;
  let etc: string[] | undefined;
  let hostEtc = false;
  let ldcache: string | undefined;
  for (const op of plan.slice(1)) {
    const [kind, target] = op;
    if (kind === "overlay" && target === "/usr") usr = op.slice(2);
    else if (kind === "overlay" && target === "/etc") {
      // The host's /etc is the lowest lower, which floor-view adds itself.
      if (op[op.length - 1] !== "/etc") throw new Error(`bench: the plan's /etc overlay does not end with the host's /etc: ${op.join(" ")}`);
      etc = op.slice(2, -1);
    } else if (kind === "etc-link") links.push(target!);
    else if (kind === "host-etc") {
      if (target !== "/etc") throw new Error(`bench: the plan keeps ${target}, not the host's /etc`);
      hostEtc = true;
      records.push(["host-etc", HOST_ETC_IN_PLACE]);
    } else if (kind === "hide") opts.push("--hide", target!);
    else if (kind === "view-id" || kind === "view") records.push(op);
    else if (kind === "setenv") continue;
    // The view's ld.so.cache: whatever op places it over /etc/ld.so.cache, its source is the last field.
    else if (target === "/etc/ld.so.cache") ldcache = op[op.length - 1];
    else throw new Error(`bench: floor-view does not mirror the plan's ${op.join(" ")}`);
  }
  if (!usr || !hostEtc) throw new Error(`bench: the plan has no /usr overlay or no kept /etc: ${JSON.stringify(plan)}`);
  // The marker's records in the launcher's order: view-id, view..., then host-etc.
  records.sort((a, b) => Number(a[0] === "host-etc") - Number(b[0] === "host-etc"));
  mkdirSync(join(marker, "usr/.fhs/host-etc"), { recursive: true });
  mkdirSync(join(marker, "etc"));
  mkdirSync(join(marker, "empty"));
  writeFileSync(join(marker, "usr/.fhs/view"), encodeRecords(records), { mode: 0o444 });
  for (const name of links) {
    let st;
    try {
      st = lstatSync(join("/etc", name));
    } catch {
      continue; // skipped, as the launcher skips a host file that is gone
    }
    mkdirSync(dirname(join(marker, "etc", name)), { recursive: true });
    symlinkSync(st.isSymbolicLink() ? readlinkSync(join("/etc", name)) : `${HOST_ETC_IN_PLACE}/${name}`, join(marker, "etc", name));
  }
  if (ldcache && etc) copyFileSync(ldcache, join(marker, "etc/ld.so.cache"));
  // No /etc overlay to hold it: bound over the host's, as fhs does then.
  else if (ldcache) opts.push("--ldcache", ldcache);
  if (!etc) opts.push("--no-etc");
  execFileSync(floorView, ["--mark-opaque", join(marker, "usr/.fhs")]);
  give(marker);
  execFileSync("chmod", ["-R", "a-w", marker]);
  return [floorView, ...opts, marker, ...(etc ?? []), "--", ...usr, "--"];
}

/** bubblewrap building the same view as a plan: same overlay, links and binds. */
function bwrapView(plan: string[][]): string[] {
  return [bwrap, "--unshare-user", "--unshare-ipc"].concat(
    plan.flatMap((op): string[] => {
      if (op[0] === "overlay") return [...op.slice(2).flatMap((l) => ["--overlay-src", l]), "--ro-overlay", op[1]!];
      if (op[0] === "bind-ro") return ["--ro-bind", op[2]!, op[1]!];
      if (op[0] === "rbind") return op[1] === "/dev" ? ["--dev-bind", "/dev", "/dev"] : op[1] === "/proc" ? ["--proc", "/proc"] : ["--bind", op[2]!, op[1]!];
      if (op[0] === "symlink") return ["--symlink", op[2]!, op[1]!];
      return [];
    }),
    ["--remount-ro", "/"],
  );
}

type Case = { name: string; argv: string[]; env?: Record<string, string>; runs: number; inView?: boolean; cwd?: string };
const cases: Case[] = [];
const add = (c: Omit<Case, "runs"> & { runs?: number }) => cases.push({ runs: RUNS, ...c });

// --- Headline: coreutils' true, with its runtime layers, padded to 10 layers.
const libc = debLayers(["libc6"], { withDeps: true });
const coreutils = debLayers(["coreutils"]);
// Both ways to make a view (docs/ARCHITECTURE.md, "Two ways to make a
// view"): the policy's choice for this host ("auto": in place on a
// merged-/usr host), and a new root, forced by the config. bubblewrap always
// builds a new root: it is compared with fhs building the same one.
const NEW_ROOT = ["--config", join(repoRoot, "policies/new-root.json")];
const pad10 = [...libc, ...syntheticLayers(10 - 1 - libc.length)];
const pkg10 = wrapPackage(packageFromLayers(coreutils, "true10"), pad10);
const pkg10NewRoot = wrapPackage(packageFromLayers(coreutils, "true10-new-root"), pad10, NEW_ROOT);
const rawTrue = join(pkg10, ".fhs/raw/bin/true");
const wrapped10 = join(pkg10, "usr/bin/true");
const plan10 = planOf(wrapped10);
const plan10NewRoot = planOf(join(pkg10NewRoot, "usr/bin/true"));
add({ name: "direct", argv: [rawTrue] });
add({ name: "fhs", argv: [wrapped10] });
add({ name: "fhs-new-root", argv: [join(pkg10NewRoot, "usr/bin/true")] });
add({ name: "fhs-cold", argv: [wrapped10], env: { FHS_PLAN_CACHE: "off" } });
// The same cold launch with a policy that decides nothing (withPolicyFloor).
const pkgPolicyFloor = wrapPackage(packageFromLayers(coreutils, "true10-policy-floor"), pad10);
const wrappedPolicyFloor = join(pkgPolicyFloor, "usr/bin/true");
withPolicyFloor(pkgPolicyFloor, pad10, wrappedPolicyFloor);
add({ name: "fhs-cold-policy-floor", argv: [wrappedPolicyFloor], env: { FHS_PLAN_CACHE: "off" } });
add({ name: "floor", argv: [floor, ...usrLayers(plan10), "--", "/usr/bin/true"] });
add({ name: "floor-view", argv: [...viewFloorArgs(plan10), "/usr/bin/true"] });
add({ name: "bwrap", argv: [...bwrapView(plan10NewRoot), rawTrue] });
// Inside pkg10's view (fhs env --pkg): a direct exec, and the wrapper (fast path).
const cli = join(repoRoot, "dist/cli.js");
const inView = (...target: string[]) => [process.execPath, cli, "env", "--pkg", pkg10, "--", runner, "RUNS", ...target];
add({ name: "inview-direct", argv: inView(rawTrue), inView: true });
add({ name: "inview-fast", argv: inView(wrapped10), inView: true });

// The fast path's physical floor: in the same view, one more exec of a
// static program that does nothing but exec the real one, as the launcher's
// fast path does (musl when there is musl, as the launcher).
add({ name: "inview-floor", argv: inView(step, rawTrue), inView: true });

// --- Layer sweep: a static program (it needs no libc layer), padded with
// synthetic layers; the same view by fhs, the floor and bubblewrap.
const direct = step;
add({ name: "direct-step", argv: [direct] });
// What a static glibc program's start costs beside it (benchProgram).
if (hasMusl) add({ name: "direct-step-glibc", argv: [stepGlibc] });
const synth = syntheticLayers(Math.max(...LAYER_POINTS) - 2);
for (const n of LAYER_POINTS) {
  const pkg = wrapPackage(makePackage({ "bin/step": { from: step } }, `step${n}`), synth.slice(0, n - 2));
  const pkgNewRoot = wrapPackage(makePackage({ "bin/step": { from: step } }, `step${n}-new-root`), synth.slice(0, n - 2), NEW_ROOT);
  const plan = planOf(join(pkg, "usr/bin/step"));
  if (usrLayers(plan).length !== n) throw new Error(`bench: the view of step${n} has ${usrLayers(plan).length} layers`);
  add({ name: `layers-fhs-${n}`, argv: [join(pkg, "usr/bin/step")], runs: SWEEP_RUNS });
  add({ name: `layers-fhs-new-root-${n}`, argv: [join(pkgNewRoot, "usr/bin/step")], runs: SWEEP_RUNS });
  add({ name: `layers-floor-${n}`, argv: [floor, ...usrLayers(plan), "--", "/usr/bin/step"], runs: SWEEP_RUNS });
  // The view floor mirrors an in-place view; at 500 layers fhs makes a new
  // root (in place, the marker layer would be a 501st lower): no point there.
  if (plan[0]?.[1] === "inplace") add({ name: `layers-floor-view-${n}`, argv: [...viewFloorArgs(plan), "/usr/bin/step"], runs: SWEEP_RUNS });
  add({ name: `layers-bwrap-${n}`, argv: [...bwrapView(planOf(join(pkgNewRoot, "usr/bin/step"))), join(pkg, ".fhs/raw/bin/step")], runs: SWEEP_RUNS });
}

// --- Nesting: 16 distinct packages, each a static step that execs the next;
// the floor nests the same way, each level mounting the layers of every
// level so far (the view fhs makes there: flat, one overlay) and running
// that level's step from its /usr, as the wrapper does, so both chains run
// the same programs and differ only by the launcher and its mounts.
const chainPkgs = Array.from({ length: Math.max(...DEPTHS) }, (_, i) => wrapPackage(makePackage({ [`bin/s${i}`]: { from: step } }, `s${i}`)));
const chainWrappers = chainPkgs.map((p, i) => join(p, `usr/bin/s${i}`));
const chainNewRoot = Array.from({ length: Math.max(...DEPTHS) }, (_, i) => join(wrapPackage(makePackage({ [`bin/s${i}`]: { from: step } }, `s${i}-new-root`), [], NEW_ROOT), `usr/bin/s${i}`));
// Each package's view layers (its programs layer and its own dir), as its plan names them.
const chainUsr = chainWrappers.map((w) => usrLayers(planOf(w)));
for (const d of DEPTHS) {
  add({ name: `depth-fhs-${d}`, argv: [...chainWrappers.slice(0, d), direct], runs: SWEEP_RUNS });
  add({ name: `depth-fhs-new-root-${d}`, argv: [...chainNewRoot.slice(0, d), direct], runs: SWEEP_RUNS });
  const floorChain = Array.from({ length: d }, (_, i) => [floor, ...chainUsr.slice(0, i + 1).reverse().flat(), "--", `/usr/bin/s${i}`]).flat();
  add({ name: `depth-floor-${d}`, argv: [...floorChain, direct], runs: SWEEP_RUNS });
}

// --- A faithful buildFHSEnv (test/bench/fhsenv.ts) of the libsdl2-dev
// closure plus buildFHSEnv's base packages, against fhs over the same layers.
const FHSENV_BASE = ["libc6", "libc-bin", "libgcc-s1", "libstdc++6", "bash", "coreutils", "less", "passwd", "login", "util-linux", "gawk", "diffutils", "findutils", "sed", "grep", "tar", "gzip", "bzip2", "xz-utils"];
const envLayers = debLayers(smoke ? FHSENV_BASE : [...FHSENV_BASE, "libsdl2-dev"], { withDeps: true });
const layerOf = (name: string) => debLayers([name])[0]!;
const fhsenv = buildFhsEnv({ layers: envLayers, cacheDir, bwrap, libcBin: layerOf("libc-bin"), bash: layerOf("bash"), runScript: "/usr/bin/true", containerInit });
const bigPkg = wrapPackage(packageFromLayers([layerOf("coreutils")], "truebig"), envLayers.filter((l) => l !== layerOf("coreutils")));
add({ name: "buildfhsenv", argv: [fhsenv.wrapper] });
add({ name: "fhs-big", argv: [join(bigPkg, "usr/bin/true")] });

// --- Install-time state (issue 13): GNU hello fetched as a user does
// (`fhs layer fetch`, its closure with the Essential base), so its wrap makes
// a .fhs/state layer; beside it the same package and layers with the layers'
// package metadata left out, so no state is made.
const hello = fetchedPackage("hello", ["hello"]);
const plainRoot = testDir("fhs-bench-plain-");
const plainLayers = hello.layers.map((l, i) => {
  const dst = join(plainRoot, `l${i}`);
  execFileSync("cp", ["-al", l, dst]);
  rmSync(join(dst, ".fhs"), { recursive: true, force: true });
  return dst;
});
const plainHello = join(testDir("fhs-bench-hello-"), "hello");
cpSync(hello.pkg, plainHello, { recursive: true, verbatimSymlinks: true });
const unwrapped = runCli(["unwrap", plainHello]);
if (unwrapped.status !== 0) throw new Error(`bench: fhs unwrap ${plainHello}: ${unwrapped.stderr}`);
give(plainHello);
const helloState = existsSync(join(hello.pkg, ".fhs/state"));
wrapPackage(plainHello, plainLayers);
add({ name: "state-with", argv: [join(hello.pkg, "usr/bin/hello")] });
add({ name: "state-without", argv: [join(plainHello, "usr/bin/hello")] });

// --- Real workloads, (a): python3 -c pass and gcc -c hello.c through their
// wrappers (a launch from outside a view, plan cached), and inside a view of
// the same layers (fhs env --pkg) the same programs unwrapped and through
// their wrappers (the fast path).
const WORKLOAD_RUNS = Number(process.env.BENCH_WORKLOAD_RUNS ?? (smoke ? 2 : 50));
/** Debian packages made a wrapped package the Nix way: their own files, wrapped against the rest of their closure. */
function wrappedDeb(name: string, own: string[], extra: string[] = []): string {
  const ownLayers = own.flatMap((p) => debLayers([p]));
  const deps = debLayers([...own, ...extra], { withDeps: true }).filter((l) => !ownLayers.includes(l));
  return wrapPackage(packageFromLayers(ownLayers, name), deps);
}
const pyPkg = wrappedDeb("python3", ["python3-minimal", "python3.11-minimal"]);
const pyEnv = (...argv: string[]) => [process.execPath, cli, "env", "--pkg", pyPkg, "--", runner, "RUNS", ...argv];
add({ name: "python-wrapper", argv: [join(pyPkg, "usr/bin/python3"), "-c", "pass"], runs: WORKLOAD_RUNS });
add({ name: "python-inview", argv: pyEnv("/usr/bin/python3", "-c", "pass"), inView: true, runs: WORKLOAD_RUNS });
add({ name: "python-inview-fast", argv: pyEnv(join(pyPkg, "usr/bin/python3"), "-c", "pass"), inView: true, runs: WORKLOAD_RUNS });
const gccPkg = gccPackage().pkg;
const gccWork = testDir("fhs-bench-gcc-");
writeFileSync(join(gccWork, "hello.c"), '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n');
give(gccWork);
const gccEnv = (...argv: string[]) => [process.execPath, cli, "env", "--pkg", gccPkg, "--", runner, "RUNS", ...argv];
add({ name: "gcc-wrapper", argv: [join(gccPkg, "usr/bin/gcc"), "-c", "hello.c"], cwd: gccWork, runs: WORKLOAD_RUNS });
add({ name: "gcc-inview", argv: gccEnv("/usr/bin/gcc", "-c", "hello.c"), inView: true, cwd: gccWork, runs: WORKLOAD_RUNS });
add({ name: "gcc-inview-fast", argv: gccEnv(join(gccPkg, "usr/bin/gcc"), "-c", "hello.c"), inView: true, cwd: gccWork, runs: WORKLOAD_RUNS });

// --- Real workloads, (b): GNU hello's ./configure && make inside fhs env,
// with a toolchain of wrapped packages (gcc, and each tool its own package)
// against the same Debian packages unwrapped, as plain layers of the env:
//   hello-unwrapped       the packages' layers (fhs env --layer DEB...)
//   hello-wrapped-layers  the wrapped packages as layers (fhs env --layer PKG...):
//                         each stands for its own layers, real programs first,
//                         so no launcher runs at all
//   hello-wrapped-path    the same env, PATH at the wrappers' directories:
//                         every tool configure and make run by name is a
//                         wrapper exec'd through the fast path
// Configure and make alone are timed (the runner, in the view); the source is
// unpacked afresh for each run. The launches are counted in a run of their
// own, untimed, under strace (each execve of a wrapper): the timed runs
// carry no debug output. A launcher that wrote to stderr (FHS_DEBUG=timing)
// made every compile's conftest.err non-empty, so configure ran grep, cat
// and mv after each one: ~300 launches more (2488, not ~2210), and a slower
// build. strace stops only at execve (--seccomp-bpf).
const HELLO_TOOLS = ["coreutils", "sed", "grep", "gawk", "diffutils", "findutils", "make", "dash"];
const HELLO_ROUNDS = smoke ? 1 : 3;
const toolPkgs = [gccPkg, ...HELLO_TOOLS.map((t) => wrappedDeb(t, [t]))];
const toolDebs = [...GCC_PROGRAM_PACKAGES, "libc6-dev", ...HELLO_TOOLS];
const toolLayers = [...new Set([...toolDebs.flatMap((p) => debLayers([p])), ...debLayers(toolDebs, { withDeps: true })])];
const helloSrc = debSource("hello");
const HELLO_VARIANTS = ["hello-unwrapped", "hello-wrapped-layers", "hello-wrapped-path"] as const;
const helloLaunches: Record<string, number> = {};
if (spawnSync("sh", ["-c", "command -v strace"]).status !== 0) {
  if (!isRoot) throw new Error("bench: strace counts the launches of GNU hello's build; as root run: apt-get install strace");
  // `npm run bench` alone does not run test/setup.sh, which installs it for the tests.
  const apt = { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, stdio: "ignore" } as const;
  execFileSync("apt-get", ["update", "-qq"], apt);
  execFileSync("apt-get", ["install", "-y", "-qq", "strace"], apt);
}
/** One build of VARIANT: its time, or with COUNT (a directory strace writes
 * a file per process into: no call of one process is split around
 * another's) the wrapper launches it made, untimed. */
function helloBuild(variant: (typeof HELLO_VARIANTS)[number], count?: string): { wall: number; cpu: number } {
  const dir = testDir("fhs-bench-hello-build-");
  execFileSync("tar", ["xzf", helloSrc, "-C", dir]);
  give(dir);
  const src = join(dir, readdirSync(dir)[0]!);
  const envLayersArgs = (variant === "hello-unwrapped" ? toolLayers : toolPkgs).flatMap((l) => ["--layer", l]);
  const wrappers = variant === "hello-wrapped-path";
  const path = wrappers ? toolPkgs.map((p) => join(p, "usr/bin")).join(":") : "/usr/bin:/bin";
  const sh = wrappers ? join(toolPkgs[toolPkgs.length - 1]!, "usr/bin/sh") : "/usr/bin/sh";
  const build = `PATH=${path}; export PATH; ./configure >/dev/null && make >/dev/null`;
  const strace = count ? ["strace", "-ff", "--seccomp-bpf", "-qq", "-e", "trace=execve", "-e", "signal=none", "-o", join(count, "p")] : [];
  const r = runUnprivileged([...strace, process.execPath, cli, "env", ...envLayersArgs, "--", runner, "1", sh, "-c", build], {
    cwd: src,
    env: { FHS_LAUNCHER: launcher },
    timeoutMs: 1_800_000,
  });
  if (r.status !== 0) throw new Error(`bench ${variant}: ${r.stderr.slice(-3000)}`);
  rmSync(dir, { recursive: true, force: true });
  if (count) {
    // A launch is an exec of a wrapper: a program under a wrapped package's own usr/.
    const execs = readdirSync(count).flatMap((f) => readFileSync(join(count, f), "utf8").split("\n")).filter((l) => /^execve\(".* = 0$/.test(l));
    helloLaunches[variant] = execs.filter((l) => toolPkgs.some((p) => l.startsWith(`execve("${p}/usr/`))).length;
    return { wall: 0, cpu: 0 };
  }
  const t = /^(\d+) (\d+)$/m.exec(r.stdout);
  if (!t) throw new Error(`bench ${variant}: no timing in ${r.stdout}`);
  return { wall: Number(t[1]) / 1e6, cpu: Number(t[2]) / 1e6 };
}

// --- Run: rounds of every case, interleaved.
const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
const cpuSamples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
let rssKiB = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (const c of cases) {
    const n = String(Math.max(1, Math.ceil(c.runs / ROUNDS)));
    const argv = c.inView ? c.argv.map((a) => (a === "RUNS" ? n : a)) : [runner, n, ...c.argv];
    const r = runUnprivileged(argv, { env: { ...c.env, FHS_LAUNCHER: launcher }, cwd: c.cwd, timeoutMs: 600_000 });
    if (r.status !== 0) {
      // bubblewrap cannot make some views (its overlay options go through
      // one mount(2) page): a missing point, said so in the results.
      if (c.name.startsWith("layers-bwrap-")) {
        samples.delete(c.name);
        cpuSamples.delete(c.name);
        continue;
      }
      throw new Error(`bench ${c.name}: ${r.stderr}`);
    }
    const lines = r.stdout.trim().split("\n");
    for (const l of lines) {
      const t = /^(\d+) (\d+)$/.exec(l);
      if (!t) continue;
      samples.get(c.name)?.push(Number(t[1]) / 1e6);
      cpuSamples.get(c.name)?.push(Number(t[2]) / 1e6);
    }
    if (c.name === "fhs") rssKiB = Math.max(rssKiB, Number(lines.find((l) => l.startsWith("rss "))!.slice(4)));
  }
}
for (const c of cases) if (samples.get(c.name)?.length === 0) samples.delete(c.name), cpuSamples.delete(c.name);
// The builds: rounds of the three variants, interleaved.
for (const v of HELLO_VARIANTS) samples.set(v, []), cpuSamples.set(v, []);
for (const v of HELLO_VARIANTS) {
  const count = testDir("fhs-bench-hello-count-");
  give(count);
  helloBuild(v, count);
  rmSync(count, { recursive: true, force: true });
}
for (let round = 0; round < HELLO_ROUNDS; round++) {
  for (const v of HELLO_VARIANTS) {
    const t = helloBuild(v);
    samples.get(v)!.push(t.wall);
    cpuSamples.get(v)!.push(t.cpu);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const m = Object.fromEntries([...samples].map(([k, v]) => [k, median(v)])) as Record<string, number>;
/** CPU time medians: the same figures with the waiting for a CPU left out. */
const mc = Object.fromEntries([...cpuSamples].map(([k, v]) => [k, median(v)])) as Record<string, number>;

// Policy share: the launcher's own clock around wasm3 load + eval, with the
// plan cache off (a cold launch).
const timingRuns = smoke ? 3 : 50;
/** Medians of the launcher's clock over cold launches of WRAPPER, in ms. */
function launcherClock(wrapper: string): { policyMs: number; launchMs: number } {
  const t = Array.from({ length: timingRuns }, () => runUnprivileged([wrapper], { env: { FHS_DEBUG: "timing", FHS_PLAN_CACHE: "off" } }).stderr);
  const ms = (re: RegExp) => median(t.map((x) => Number(re.exec(x)![1]) / 1e6));
  return { policyMs: ms(/policy_ns=(\d+)/), launchMs: ms(/launch_ns=(\d+)/) };
}
const { policyMs, launchMs } = launcherClock(wrapped10);
const policyFloor = launcherClock(wrappedPolicyFloor);

// --- Figures.
const overStep = (k: string) => (m[k] === undefined ? null : m[k]! - m["direct-step"]!);
const layerSeries = LAYER_POINTS.map((n) => ({ layers: n, fhs: overStep(`layers-fhs-${n}`), newRoot: overStep(`layers-fhs-new-root-${n}`), floor: overStep(`layers-floor-${n}`), viewFloor: overStep(`layers-floor-view-${n}`), bwrap: overStep(`layers-bwrap-${n}`) }));
const depthSeries = DEPTHS.map((d) => ({ depth: d, fhs: overStep(`depth-fhs-${d}`), newRoot: overStep(`depth-fhs-new-root-${d}`), floor: overStep(`depth-floor-${d}`) }));
const perLevel = (series: "fhs" | "floor", d: number) => depthSeries.find((p) => p.depth === d)![series]! / d;
const dMax = Math.max(...DEPTHS);
const lMax = LAYER_POINTS.includes(300) ? 300 : Math.max(...LAYER_POINTS);
const at = (n: number) => layerSeries.find((p) => p.layers === n)!;
const lMin = Math.min(...LAYER_POINTS.filter((n) => n > 1));
/** µs per layer between the sweep's points lMin and lMax (the smoke has one point: 0). */
const slope = (s: "fhs" | "floor" | "viewFloor") => (lMax > lMin ? ((at(lMax)[s]! - at(lMin)[s]!) / (lMax - lMin)) * 1000 : 0);

/** The decomposition of fhs's overhead (not a target): over the same direct
 * exec, fhs against the view floor (the launcher's own work) and the view
 * floor against the floor (the mounts fhs's guarantees need), at 10 layers
 * (coreutils' true) and at the sweep's lMax (the static step). */
function decompose(x: Record<string, number>, fhs: string, viewFloor: string, floor: string, direct: string) {
  const o = (k: string) => x[k]! - x[direct]!;
  return { fhs: o(fhs), viewFloor: o(viewFloor), floor: o(floor), fhsOverViewFloor: o(fhs) / o(viewFloor), viewFloorOverFloor: o(viewFloor) / o(floor) };
}
const decomposition = [
  { view: "coreutils true, 10 layers", layers: 10, wall: decompose(m, "fhs", "floor-view", "floor", "direct"), cpu: decompose(mc, "fhs", "floor-view", "floor", "direct") },
  {
    view: `static program, ${lMax} layers`,
    layers: lMax,
    wall: decompose(m, `layers-fhs-${lMax}`, `layers-floor-view-${lMax}`, `layers-floor-${lMax}`, "direct-step"),
    cpu: decompose(mc, `layers-fhs-${lMax}`, `layers-floor-view-${lMax}`, `layers-floor-${lMax}`, "direct-step"),
  },
];

/** The time-based ratios of the targets, from one set of medians (wall or
 * CPU), and the same ratios for each one's floor: what the figure would be
 * if fhs did nothing but what it cannot leave out. */
function ratios(x: Record<string, number>) {
  const o = (k: string) => x[k]! - x.direct!;
  const os = (k: string) => x[k]! - x["direct-step"]!;
  return {
    floor: o("fhs") / o("floor"),
    bwrap: o("fhs") / o("bwrap"),
    fast: x["inview-fast"]! / x["inview-direct"]!,
    depth: os(`depth-fhs-${dMax}`) / dMax / os("depth-fhs-1"),
    layers: os(`layers-fhs-${lMax}`) / os(`layers-floor-${lMax}`),
    fhsenv: x.buildfhsenv! / x["fhs-big"]!,
    helloLayers: x["hello-wrapped-layers"]! / x["hello-unwrapped"]!,
    helloPath: x["hello-wrapped-path"]! / x["hello-unwrapped"]!,
    // The floors: the view floor (every mount fhs makes, none of its work),
    // one static exec, the kernel's own growth with depth.
    floorOfFloor: o("floor-view") / o("floor"),
    floorOfFast: x["inview-floor"]! / x["inview-direct"]!,
    // Depth: a level of fhs at depth 1 plus what the kernel floor's own level
    // grows by at dMax (more user namespaces above it, more mounts to copy):
    // the figure fhs would have if nesting added nothing of its own. Beside
    // it, the kernel floor's own ratio.
    floorOfDepth: (os("depth-fhs-1") + os(`depth-floor-${dMax}`) / dMax - os("depth-floor-1")) / os("depth-fhs-1"),
    kernelDepth: os(`depth-floor-${dMax}`) / dMax / os("depth-floor-1"),
    floorOfLayers: x[`layers-floor-view-${lMax}`] === undefined ? null : os(`layers-floor-view-${lMax}`) / os(`layers-floor-${lMax}`),
  };
}
const rw = ratios(m);
const rc = ratios(mc);
/** A target's figure, with `floor`: the same figure for its floor, where
 * the issue's baseline is not one already (null). */
type Target = { figure: string; result: number; cpu: number | null; floor: number | null; floorIs: string | null; unit: string; target: string; met: boolean };
const VIEW_FLOOR = "the view floor: fhs's mounts, none of its work";
const policyShare = (100 * policyMs) / m["fhs-cold"]!;
const targets: Target[] = [
  { figure: "wrapper overhead vs the in-place kernel floor (10 layers)", result: rw.floor, cpu: rc.floor, floor: rw.floorOfFloor, floorIs: VIEW_FLOOR, unit: "×", target: "≤ 1.25×", met: rw.floor <= 1.25 },
  { figure: "wrapper overhead vs bubblewrap's for the same view", result: rw.bwrap, cpu: rc.bwrap, floor: null, floorIs: null, unit: "×", target: "≤ 0.35×", met: rw.bwrap <= 0.35 },
  { figure: "fast path vs direct exec, inside a view", result: rw.fast, cpu: rc.fast, floor: rw.floorOfFast, floorIs: "a static program that execs the target", unit: "×", target: "≤ 1.25×", met: rw.fast <= 1.25 },
  { figure: `per-level cost, depth ${dMax} vs depth 1`, result: rw.depth, cpu: rc.depth, floor: rw.floorOfDepth, floorIs: `fhs's level at depth 1 plus the kernel floor's own growth per level (the kernel floor nested the same way: ${rw.kernelDepth.toFixed(2)}×)`, unit: "×", target: "≤ 1.2×", met: rw.depth <= 1.2 },
  { figure: `wrapper overhead with ${lMax} layers vs the kernel floor's with the same layers`, result: rw.layers, cpu: rc.layers, floor: rw.floorOfLayers, floorIs: VIEW_FLOOR, unit: "×", target: "≤ 1.25×", met: rw.layers <= 1.25 },
  {
    figure: "policy load + eval, share of a cold launch",
    result: policyShare,
    cpu: null,
    floor: (100 * policyFloor.policyMs) / m["fhs-cold-policy-floor"]!,
    floorIs: "a policy that checks its input and answers a constant plan",
    unit: "%",
    target: "≤ 10%",
    met: policyShare <= 10,
  },
  { figure: `faithful buildFHSEnv launch (${envLayers.length} layers) vs fhs (same layers)`, result: rw.fhsenv, cpu: rc.fhsenv, floor: null, floorIs: null, unit: "× slower", target: "≥ 5× slower", met: rw.fhsenv >= 5 },
  { figure: "launcher peak RSS", result: rssKiB / 1024, cpu: null, floor: null, floorIs: null, unit: "MiB", target: "≤ 2 MiB", met: rssKiB <= 2048 },
  { figure: "GNU hello configure + make, wrapped toolchain as env layers vs unwrapped", result: rw.helloLayers, cpu: rc.helloLayers, floor: null, floorIs: null, unit: "×", target: "≤ 1.10×", met: rw.helloLayers <= 1.1 },
  { figure: "GNU hello configure + make, through the wrappers (PATH, fast path) vs unwrapped", result: rw.helloPath, cpu: rc.helloPath, floor: null, floorIs: null, unit: "×", target: "≤ 1.10×", met: rw.helloPath <= 1.1 },
];

const osRelease = readFileSync("/etc/os-release", "utf8");
const machine = {
  cpus: cpus().length,
  cpu: cpus()[0]?.model ?? "unknown",
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  kernel: release(),
  os: /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1] ?? "unknown",
  loadavg: readFileSync("/proc/loadavg", "utf8").trim(),
  node: process.version,
};
const date = new Date().toISOString().slice(0, 10);
const results = {
  date: new Date().toISOString(),
  smoke,
  machine,
  method: { runs: RUNS, sweepRuns: SWEEP_RUNS, rounds: ROUNDS, statistic: "median, ms", overhead: "median minus the direct exec's median of the same program" },
  medians: m,
  cpuMedians: mc,
  layers: { fhsenv: envLayers.length, fhsenvFiles: fhsenv.files, hello: hello.layers.length, helloState, helloToolchain: toolLayers.length, helloToolPackages: toolPkgs.length },
  helloBuild: { rounds: HELLO_ROUNDS, launches: helloLaunches },
  launcherClock: { launchMs, policyMs, policyFloor },
  rssKiB,
  slopes: { fhsUsPerLayer: slope("fhs"), floorUsPerLayer: slope("floor"), viewFloorUsPerLayer: slope("viewFloor") },
  decomposition,
  layerSeries,
  depthSeries,
  targets,
};
mkdirSync(join(outDir, "bench/results"), { recursive: true });
const resultsFile = join(outDir, "bench/results", `${date}.json`);
writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);

// --- Charts and the results block of docs/BENCHMARKS.md.
mkdirSync(join(outDir, "docs/bench"), { recursive: true });
await renderCharts({ layerSeries, depthSeries, dir: join(outDir, "docs/bench"), note: `${machine.cpus} × ${machine.cpu}, Linux ${machine.kernel}, ${date}` });

const fmt = (x: number | undefined | null) => (x === undefined || x === null ? "—" : `${x.toFixed(3)} ms`);
const block = `<!-- results:begin (written by npm run bench) -->
Run of ${date}: ${RUNS} runs per command in ${ROUNDS} interleaved rounds
(${SWEEP_RUNS} for each chart point), as an unprivileged user; medians.
Machine: ${machine.cpus} × ${machine.cpu}, ${machine.memoryGiB} GiB, Linux
${machine.kernel}, ${machine.os}; load average at the end: ${machine.loadavg}.
Raw figures: [bench/results/${date}.json](../bench/results/${date}.json).

| command | median, wall | median, CPU |
|---|---|---|
| direct exec of coreutils \`true\` | ${fmt(m.direct)} | ${fmt(mc.direct)} |
| fhs wrapper, 10 layers (the policy's choice here: ${plan10[0]![1] === "inplace" ? "in place" : "a new root"}) | ${fmt(m.fhs)} | ${fmt(mc.fhs)} |
| fhs wrapper, 10 layers, a new root (config \`"view": "new-root"\`) | ${fmt(m["fhs-new-root"])} | ${fmt(mc["fhs-new-root"])} |
| fhs wrapper, 10 layers, plan cache off (wasm3 runs the policy) | ${fmt(m["fhs-cold"])} | ${fmt(mc["fhs-cold"])} |
| the same, plan cache off, its policy a constant answer (test/fixtures/bench/policy-floor.ts): the policy floor | ${fmt(m["fhs-cold-policy-floor"])} | ${fmt(mc["fhs-cold-policy-floor"])} |
| kernel floor: in-place overlay at /usr, same 10 layers (test/bench/floor.c) | ${fmt(m.floor)} | ${fmt(mc.floor)} |
| view floor: the in-place view's mounts alone, same 10 layers (test/bench/floor-view.c) | ${fmt(m["floor-view"])} | ${fmt(mc["floor-view"])} |
| bubblewrap 0.12 building the same view as fhs's new root | ${fmt(m.bwrap)} | ${fmt(mc.bwrap)} |
| inside a view: direct exec | ${fmt(m["inview-direct"])} | ${fmt(mc["inview-direct"])} |
| inside a view: wrapper, fast path | ${fmt(m["inview-fast"])} | ${fmt(mc["inview-fast"])} |
| inside a view: a static program (${hasMusl ? "musl" : "glibc"}) that execs \`true\`: the fast path's floor | ${fmt(m["inview-floor"])} | ${fmt(mc["inview-floor"])} |
| direct exec of a static program (${hasMusl ? "musl" : "glibc"}, as the floors and the launcher) | ${fmt(m["direct-step"])} | ${fmt(mc["direct-step"])} |
| direct exec of the same static program linked with glibc | ${fmt(m["direct-step-glibc"])} | ${fmt(mc["direct-step-glibc"])} |
| fhs wrapper, static program, ${lMax} layers | ${fmt(m[`layers-fhs-${lMax}`])} | ${fmt(mc[`layers-fhs-${lMax}`])} |
| kernel floor, same ${lMax} layers | ${fmt(m[`layers-floor-${lMax}`])} | ${fmt(mc[`layers-floor-${lMax}`])} |
| view floor, same ${lMax} layers | ${fmt(m[`layers-floor-view-${lMax}`])} | ${fmt(mc[`layers-floor-view-${lMax}`])} |
| nesting depth 1, fhs / floor | ${fmt(m["depth-fhs-1"])} / ${fmt(m["depth-floor-1"])} | ${fmt(mc["depth-fhs-1"])} / ${fmt(mc["depth-floor-1"])} |
| nesting depth ${dMax}, fhs / floor | ${fmt(m[`depth-fhs-${dMax}`])} / ${fmt(m[`depth-floor-${dMax}`])} | ${fmt(mc[`depth-fhs-${dMax}`])} / ${fmt(mc[`depth-floor-${dMax}`])} |
| faithful buildFHSEnv, ${envLayers.length} layers (${fhsenv.files} files linked) | ${fmt(m.buildfhsenv)} | ${fmt(mc.buildfhsenv)} |
| fhs wrapper, the same ${envLayers.length} layers | ${fmt(m["fhs-big"])} | ${fmt(mc["fhs-big"])} |
| GNU hello, fetched: ${hello.layers.length} layers${helloState ? " + its .fhs/state layer" : ""} | ${fmt(m["state-with"])} | ${fmt(mc["state-with"])} |
| GNU hello, the same layers without package metadata: no state layer | ${fmt(m["state-without"])} | ${fmt(mc["state-without"])} |
| \`python3 -c pass\`: wrapper, from outside a view | ${fmt(m["python-wrapper"])} | ${fmt(mc["python-wrapper"])} |
| \`python3 -c pass\`: inside a view of its layers, unwrapped / wrapper (fast path) | ${fmt(m["python-inview"])} / ${fmt(m["python-inview-fast"])} | ${fmt(mc["python-inview"])} / ${fmt(mc["python-inview-fast"])} |
| \`gcc -c hello.c\`: wrapper, from outside a view | ${fmt(m["gcc-wrapper"])} | ${fmt(mc["gcc-wrapper"])} |
| \`gcc -c hello.c\`: inside a view of its layers, unwrapped / wrapper (fast path) | ${fmt(m["gcc-inview"])} / ${fmt(m["gcc-inview-fast"])} | ${fmt(mc["gcc-inview"])} / ${fmt(mc["gcc-inview-fast"])} |
| GNU hello \`./configure && make\` in fhs env, Debian packages unwrapped (${toolLayers.length} layers) | ${fmt(m["hello-unwrapped"])} | ${fmt(mc["hello-unwrapped"])} |
| the same, ${toolPkgs.length} wrapped packages as the env's layers (${helloLaunches["hello-wrapped-layers"]} launches) | ${fmt(m["hello-wrapped-layers"])} | ${fmt(mc["hello-wrapped-layers"])} |
| the same env, PATH at the wrappers: ${helloLaunches["hello-wrapped-path"]} fast-path launches | ${fmt(m["hello-wrapped-path"])} | ${fmt(mc["hello-wrapped-path"])} |
| launcher's own clock, plan cache off: whole launch until exec | ${fmt(launchMs)} | |
| launcher's own clock, plan cache off: policy load + eval in wasm3 | ${fmt(policyMs)} | |
| launcher's own clock, plan cache off, the policy floor: whole launch / policy load + eval | ${fmt(policyFloor.launchMs)} / ${fmt(policyFloor.policyMs)} | |

Per-layer slope (${lMin}→${lMax} layers): fhs ${slope("fhs").toFixed(1)} µs per layer, the view floor ${slope("viewFloor").toFixed(1)} µs, the kernel floor ${slope("floor").toFixed(1)} µs.
Per-level cost at depth ${dMax} vs depth 1: fhs ${(perLevel("fhs", dMax) / perLevel("fhs", 1)).toFixed(2)}×, the kernel floor ${(perLevel("floor", dMax) / perLevel("floor", 1)).toFixed(2)}× (wall).
${layerSeries.some((p) => p.bwrap === null) ? `bubblewrap could not build the view with ${layerSeries.filter((p) => p.bwrap === null).map((p) => p.layers).join(", ")} layers.\n` : ""}
Where fhs's overhead goes (a decomposition, not a target; overheads over the same direct exec):

| view | fhs | view floor | kernel floor | fhs / view floor: the launcher's own work | view floor / floor: the mounts the guarantees need | the same ratios in CPU time |
|---|---|---|---|---|---|---|
${decomposition.map(({ view, wall: w, cpu: c }) => `| ${view} | ${fmt(w.fhs)} | ${fmt(w.viewFloor)} | ${fmt(w.floor)} | ${w.fhsOverViewFloor.toFixed(2)} × | ${w.viewFloorOverFloor.toFixed(2)} × | ${c.fhsOverViewFloor.toFixed(2)} × / ${c.viewFloorOverFloor.toFixed(2)} × |`).join("\n")}

| figure | result (wall) | target | met | the same in CPU time | the same figure for its floor (wall) |
|---|---|---|---|---|---|
${targets.map((t) => `| ${t.figure} | ${t.result.toFixed(2)} ${t.unit} | ${t.target} | ${t.met ? "yes" : "**no**"} | ${t.cpu === null ? "" : `${t.cpu.toFixed(2)} ${t.unit}`} | ${t.floor === null ? "" : `${t.floor.toFixed(2)} ${t.unit}: ${t.floorIs}`} |`).join("\n")}

![overhead against layer count](bench/layers.svg)
![overhead against nesting depth](bench/depth.svg)
<!-- results:end -->`;
const docFile = join(outDir, "docs/BENCHMARKS.md");
const doc = existsSync(docFile) ? readFileSync(docFile, "utf8") : `# Benchmarks\n\n${block}\n`;
writeFileSync(docFile, doc.replace(/<!-- results:begin[\s\S]*?<!-- results:end -->/, block));
console.log(block);
console.log(`results: ${resultsFile}`);
