// Shared test environment: where artifacts are, and how to run things as an
// unprivileged user. Launcher tests never run as root: when the suite runs as
// root (as on CI), commands drop to the `fhs-test` user that test/setup.sh makes.
import { execFileSync, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildDir, packageRoot } from "../../src/paths.js";

export const repoRoot = packageRoot;
export const isRoot = process.getuid?.() === 0;
/** On CI every test must run: a missing capability fails instead of skipping. */
export const mustWork = process.env.CI === "true";

export const TEST_USER = "fhs-test";

function lookupUser(): { uid: number; gid: number; home: string } {
  if (!isRoot) return { uid: process.getuid!(), gid: process.getgid!(), home: process.env.HOME ?? tmpdir() };
  const line = execFileSync("getent", ["passwd", TEST_USER], { encoding: "utf8" }).trim();
  const [, , uid, gid, , home] = line.split(":");
  return { uid: Number(uid), gid: Number(gid), home: home! };
}
export const testUser = lookupUser();

/** This process's scratch root: every directory a test or the benchmark
 * makes lives under it, and it is removed when the process exits, so a run
 * leaves nothing in /tmp (FHS_TEST_KEEP=1 keeps it, to look at after a
 * failure). World-traversable: the test user reaches what is made for it.
 * While anything is mounted below it (a test that failed before
 * unmounting) it is kept whole: a recursive removal would go through the
 * mount into whatever it shows. */
let scratch: string | undefined;
function scratchRoot(): string {
  if (scratch) return scratch;
  const root = mkdtempSync(join(tmpdir(), "fhs-scratch-"));
  chmodSync(root, 0o755);
  scratch = root;
  if (process.env.FHS_TEST_KEEP !== "1") process.on("exit", () => removeScratch(root));
  return root;
}

function removeScratch(root: string): void {
  // Mount points as /proc/self/mountinfo writes them (' ' as \040).
  const mounted = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => (l.split(" ")[4] ?? "").replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .find((mp) => mp.startsWith(`${root}/`));
  if (mounted) {
    process.stderr.write(`fhs tests: kept ${root}: ${mounted} is still mounted\n`);
    return;
  }
  // Layers and marker layers are read-only; root may remove them anyway,
  // another user must make their directories writable first.
  if (!isRoot) spawnSync("chmod", ["-R", "u+w", root], { stdio: "ignore" });
  try {
    rmSync(root, { recursive: true, force: true });
  } catch (e) {
    process.stderr.write(`fhs tests: could not remove all of ${root}: ${(e as Error).message}\n`);
  }
}

/** A fresh directory of this process's own (root's when run as root), removed at exit. */
export function scratchDir(prefix = "fhs-"): string {
  return mkdtempSync(join(scratchRoot(), prefix));
}

/** A fresh directory owned by the test user, under a world-traversable root. */
export function testDir(prefix = "fhs-"): string {
  const dir = scratchDir(prefix);
  chmodSync(dir, 0o755);
  if (isRoot) chownSync(dir, testUser.uid, testUser.gid);
  return dir;
}

let artifacts: { launcher: string; policy: string; root: string } | undefined;
/** The launcher and policy.wasm, copied where the unprivileged user can reach
 * them (a checkout under /root is not). */
export function testArtifacts() {
  if (artifacts) return artifacts;
  const root = scratchDir("fhs-artifacts-");
  chmodSync(root, 0o755);
  for (const f of ["fhs-launcher", "fhs-launcher-static", "policy.wasm"]) copyFileSync(join(buildDir, f), join(root, f));
  chmodSync(join(root, "fhs-launcher"), 0o755);
  chmodSync(join(root, "fhs-launcher-static"), 0o755);
  // Wrappers use the static launcher: a view need not contain a libc.
  artifacts = { launcher: join(root, "fhs-launcher-static"), policy: join(root, "policy.wasm"), root };
  return artifacts;
}

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  input?: string | Uint8Array;
  timeoutMs?: number;
}

/** Runs argv as the unprivileged test user with a minimal, explicit environment. */
export function runUnprivileged(argv: string[], opts: RunOptions = {}): SpawnSyncReturns<string> {
  const env: Record<string, string> = {
    PATH: "/usr/local/bin:/usr/bin:/bin",
    HOME: testUser.home,
    LANG: "C.UTF-8",
    ...opts.env,
  };
  const full = isRoot
    ? ["/usr/bin/setpriv", `--reuid=${testUser.uid}`, `--regid=${testUser.gid}`, "--clear-groups", "--", ...argv]
    : argv;
  return spawnSync(full[0]!, full.slice(1), {
    env,
    cwd: opts.cwd ?? "/",
    input: opts.input,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** Runs the built fhs CLI, as a user would (as the current user). */
export function runCli(args: string[], opts: RunOptions = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [join(repoRoot, "dist", "cli.js"), ...args], {
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd ?? repoRoot,
    input: opts.input,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 120_000,
  });
}

export function mkdirp(p: string): string {
  mkdirSync(p, { recursive: true });
  return p;
}

/** Runs the built fhs CLI as the unprivileged test user (for commands that launch). */
export function runCliUnprivileged(args: string[], opts: RunOptions = {}): SpawnSyncReturns<string> {
  return runUnprivileged([process.execPath, join(repoRoot, "dist", "cli.js"), ...args], opts);
}
