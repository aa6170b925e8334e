// `fhs build --out OUT --layer DEP... [--src PATH] -- COMMAND...`: COMMAND runs
// in a pure view (the policy's `req build`, carried out by the launcher)
// whose /usr is a writable overlay of the dependency layers. What the build
// installs under /usr lands in the overlay's upper directory, a staging dir
// the CLI prepared, and becomes OUT/usr (docs/BUILD.md).
//
//   OUT's parent/.OUT.fhs-build-XXXX/   staging; never looks like OUT
//     input.bin    what the launcher reads: policy + sha256, layers, config, paths
//     upper/       the overlay's upper dir: becomes OUT/usr
//     work/        the overlay's work dir
//     build/       /build in the view: the unpacked --src
//     owner        the CLI's pid and start time: a staging dir whose owner
//                  is gone was left by a killed build, and the next build
//                  in the same parent removes it (docs/RELIABILITY.md)
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, linkSync, lstatSync, lutimesSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { FhsError } from "./errors.js";
import { checkLayerOverlayMetadata, dedupeLayers, inspectLayer, usrDir } from "./layers.js";
import { wrappedPackageLayers } from "./manifest.js";
import { defaultPolicyWasm, dynamicLauncherPath, requireLauncher } from "./paths.js";
import { configRecords, defaultConfigPath, loadConfig } from "./policy/config.js";
import { decodeRecords, encodeRecords, type Rec } from "./policy/records.js";
import { readPolicyModule } from "./policy/validate.js";
import { EXIT, LAUNCHER_EXIT } from "./abi.js";
import { compressionOf, decompress, decompressionMessage, symlinkOnTheWay, walkTar } from "./tar.js";
import { removeTree } from "./tree.js";

/** 1980-01-01, as Nix and reproducible-builds.org tools default to. */
export const DEFAULT_SOURCE_DATE_EPOCH = 315532800;

export interface BuildOptions {
  out: string;
  layers: string[];
  src?: string;
  command: string[];
  policy?: string;
  config?: string;
  network?: boolean;
  sourceDateEpoch?: number;
  launcher?: string;
}

export interface BuildResult {
  /** 0 when OUT was written; otherwise the launcher's own exit code (it has reported the failure). */
  exitCode: number;
  out?: string;
}

const TARBALL = /\.(tar|tar\.gz|tgz|tar\.xz|txz|tar\.bz2|tbz2?|tar\.zst|tzst)$/;

/** The directories the layers show in /usr (the first provider of a path
 * decides its type), created in the upper dir before the build. Layer files
 * may belong to a uid the build's namespace does not map (root-owned store
 * paths); overlay cannot create a file in a directory that exists only in such
 * a lower, so every directory the build may write into must exist upper. */
export function precreateSkeleton(roots: string[], upper: string): Set<string> {
  const kind = new Map<string, boolean>(); // rel -> is a directory
  const created = new Set<string>();
  for (const root of roots) {
    const stack = [""];
    while (stack.length) {
      const rel = stack.pop()!;
      let entries;
      try {
        entries = readdirSync(rel ? join(root, rel) : root, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        const child = rel ? `${rel}/${e.name}` : e.name;
        const known = kind.get(child);
        if (known === undefined) {
          kind.set(child, e.isDirectory());
          if (!e.isDirectory()) continue;
          mkdirSync(join(upper, child), { mode: 0o755 });
          created.add(child);
          stack.push(child);
        } else if (known && e.isDirectory()) {
          stack.push(child);
        }
      }
    }
  }
  return created;
}

/** Removes pre-created directories that the build left empty, deepest first. */
export function pruneSkeleton(upper: string, created: Set<string>): void {
  for (const rel of [...created].sort((a, b) => b.length - a.length)) {
    const p = join(upper, rel);
    try {
      if (readdirSync(p).length === 0) rmdirSync(p);
    } catch {
      // Replaced by the build, or already gone with its parent: keep what the build made.
    }
  }
}

/** Every entry's mtime and atime set to the epoch, children before parents. */
export function normalizeTimes(root: string, epoch: number): void {
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
    lutimesSync(p, epoch, epoch);
  };
  walk(root);
}

/** Unpacks or copies --src into dir; returns the view path the build starts in. */
async function prepareSource(src: string, dir: string): Promise<string> {
  const abs = resolve(src);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw new FhsError(`source ${src}: no such file or directory`);
  }
  if (st.isDirectory()) {
    const name = basename(abs);
    cpSync(abs, join(dir, name), { recursive: true, verbatimSymlinks: true });
    return `/build/${name}`;
  }
  if (!TARBALL.test(abs)) throw new FhsError(`source ${src}: neither a directory nor a tarball (.tar, .tar.gz, .tar.xz, .tar.bz2, .tar.zst)`);
  await unpackSource(readFileSync(abs), dir, (cause) => {
    throw new FhsError(`source ${src}: cannot unpack: ${cause}`);
  });
  // A release tarball holds one top directory (hello-2.10/): start there.
  const top = readdirSync(dir);
  if (top.length === 1 && lstatSync(join(dir, top[0]!)).isDirectory()) return `/build/${top[0]}`;
  return "/build";
}

/** Unpacks a source tarball (gzip, xz, bzip2, zstd or none, told by its
 * first bytes) into dir, as an unprivileged GNU tar would: the caller's
 * ownership, modes less the umask and setuid/setgid, mtimes kept, directory
 * modes and times set last (a read-only directory is filled first).
 * Refused: a name with `..`, an entry that would be written through a
 * symlink (GNU tar guards the same way), a hard link to what is not an
 * earlier entry. Devices and fifos are skipped: a build has no use for them. */
export async function unpackSource(tarball: Buffer, dir: string, fail: (cause: string) => never): Promise<void> {
  const umask = process.umask();
  const dirs: [string, number, Date | undefined][] = [];
  // The path of each entry below dir, checked: no `..`, no symlink on the way.
  const target = (name: string): string => {
    const parts = name.split("/").filter((p) => p !== "" && p !== ".");
    if (parts.includes("..")) fail(`unsafe path '${name}'`);
    const link = symlinkOnTheWay(dir, parts.join("/"));
    if (link !== undefined) fail(`'${name}' would be written through the symlink '${link}'`);
    return join(dir, ...parts);
  };
  try {
    await walkTar(decompress(tarball, compressionOf(tarball)), (h, body) => {
      const abs = target(h.name);
      if (abs === dir) return;
      const mode = (h.mode ?? 0o644) & 0o777 & ~umask;
      if (h.type !== "directory") {
        mkdirSync(dirname(abs), { recursive: true, mode: 0o755 });
        // A later entry of the same name replaces the earlier one, as in GNU tar.
        const old = lstatOrNull(abs);
        if (old?.isDirectory()) fail(`'${h.name}' is a directory earlier in the archive`);
        if (old) rmSync(abs);
      }
      switch (h.type) {
        case "directory":
          mkdirSync(abs, { recursive: true, mode: 0o700 });
          dirs.push([abs, mode, h.mtime]);
          return;
        case "file":
        case "contiguous-file":
          writeFileSync(abs, body, { mode: 0o600 });
          chmodSync(abs, mode);
          break;
        case "symlink":
          symlinkSync(h.linkname ?? "", abs);
          break;
        case "link":
          linkSync(target(h.linkname ?? ""), abs);
          return;
        default:
          return;
      }
      if (h.mtime) lutimesSync(abs, h.mtime, h.mtime);
    });
  } catch (e) {
    if (e instanceof FhsError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    fail(code === "ENOENT" && (e as NodeJS.ErrnoException).syscall === "link" ? `a hard link points to what is not in the archive before it` : decompressionMessage(e as Error));
  }
  // Deepest first: setting a directory's time after its children were written.
  for (const [abs, mode, mtime] of dirs.reverse()) {
    chmodSync(abs, mode);
    if (mtime) lutimesSync(abs, mtime, mtime);
  }
}

function lstatOrNull(p: string) {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

const INTERRUPTS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

const STAGING_NAME = /^\..+\.fhs-build-[A-Za-z0-9]{6}$/;

/** This process as an owner record: its pid and start time (the pair names
 * one process even after the pid is reused). */
function ownerRecord(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22, counted after the command name, which may hold spaces.
    const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    return `${pid} ${start}\n`;
  } catch {
    return undefined;
  }
}

/** Removes the staging dirs in `parent` left by builds that were killed
 * (their owner process is gone); says so on stderr, one line each. A
 * staging dir without an owner record (an older fhs's) is reported, not
 * removed: nothing tells whether its build still runs. */
export function removeStaleStaging(parent: string): void {
  // Without /proc nothing tells a live build from a dead one: leave them all.
  if (!ownerRecord(process.pid)) return;
  const uid = process.getuid?.();
  for (const name of readdirSync(parent).filter((n) => STAGING_NAME.test(n))) {
    const dir = join(parent, name);
    let owner: string;
    try {
      const st = lstatSync(dir);
      if (!st.isDirectory() || st.uid !== uid) continue;
      owner = readFileSync(join(dir, "owner"), "utf8");
    } catch {
      process.stderr.write(`fhs: ${dir}: a build's staging dir with no owner record, left by a killed build of an older fhs or still being made; remove it if no build runs\n`);
      continue;
    }
    const pid = Number(owner.split(" ")[0]);
    if (!Number.isInteger(pid) || pid <= 0 || ownerRecord(pid) === owner) continue;
    removeTree(dir);
    process.stderr.write(`fhs: ${dir}: removed, the staging dir of a build that was killed (pid ${pid})\n`);
  }
}

interface Spawned {
  code: number | null;
  signal: NodeJS.Signals | null;
  ran: boolean;
  interrupted?: NodeJS.Signals;
}

/** Runs the launcher; `ran` says COMMAND was reached (a byte on fd 3 before exec). */
function runLauncher(launcher: string, args: string[]): Promise<Spawned> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(launcher, args, { stdio: ["inherit", "inherit", "inherit", "pipe"] });
    let ran = false;
    let interrupted: NodeJS.Signals | undefined;
    // The launcher forwards them to the build, whose processes all die with
    // it (launcher/build.c); then it ends as the build did.
    const onSignal = (sig: NodeJS.Signals) => {
      interrupted = sig;
      child.kill(sig);
    };
    for (const s of INTERRUPTS) process.on(s, onSignal);
    (child.stdio[3] as NodeJS.ReadableStream).on("data", () => (ran = true));
    child.on("error", (e) => reject(new FhsError(`launcher ${launcher}: ${e.message}`)));
    child.on("close", (code, signal) => {
      for (const s of INTERRUPTS) process.off(s, onSignal);
      resolvePromise({ code, signal, ran, interrupted });
    });
  });
}

export async function build(opts: BuildOptions): Promise<BuildResult> {
  if (opts.command.length === 0) throw new FhsError("build: no COMMAND given (fhs build --out OUT --layer DEP... -- COMMAND...)");
  const out = resolve(opts.out);
  if (existsSync(out) || isDanglingLink(out)) throw new FhsError(`output ${opts.out}: already exists; remove it or choose another path`);
  if (!existsSync(dirname(out)) || !statSync(dirname(out)).isDirectory()) throw new FhsError(`output ${opts.out}: parent directory ${dirname(out)} does not exist`);
  if (opts.layers.length === 0) throw new FhsError("build: no --layer given; a build sees nothing but its layers");
  // A wrapped package stands for its own layer list, as in fhs env and fhs
  // wrap (src/manifest.ts, wrappedPackageLayers): its real programs, not its
  // wrappers, are at /usr in the build, with their dependencies.
  const layers = dedupeLayers(opts.layers.flatMap((l) => wrappedPackageLayers(l) ?? [inspectLayer(l)]));
  if (opts.src !== undefined && !existsSync(resolve(opts.src))) throw new FhsError(`source ${opts.src}: no such file or directory`);
  const epoch = opts.sourceDateEpoch ?? DEFAULT_SOURCE_DATE_EPOCH;
  if (!Number.isInteger(epoch) || epoch < 0) throw new FhsError(`build: SOURCE_DATE_EPOCH must be a non-negative integer, not ${epoch}`);

  // The launcher hands the module to wasm3, which trusts its input.
  const policy = readPolicyModule(opts.policy ? resolve(opts.policy) : defaultPolicyWasm);
  const config = loadConfig(opts.config ?? defaultConfigPath);
  const launcher = requireLauncher(opts.launcher);
  checkLayerOverlayMetadata(layers, launcher);

  removeStaleStaging(dirname(out));
  const staging = mkdtempSync(join(dirname(out), `.${basename(out)}.fhs-build-`));
  try {
    writeFileSync(join(staging, "owner"), ownerRecord(process.pid) ?? `${process.pid}\n`);
    const upper = join(staging, "upper");
    const work = join(staging, "work");
    const scratch = join(staging, "build");
    for (const d of [upper, work, scratch]) mkdirSync(d, { mode: 0o755 });
    const cwd = opts.src !== undefined ? await prepareSource(opts.src, scratch) : "/build";
    const created = precreateSkeleton(layers.map(usrDir), upper);
    const input: Rec[] = [
      ["fhs-build", "1"],
      ["policy", policy.path, policy.sha256],
      ...layers.map((l): Rec => ["layer", l.path, l.layout, l.dirs.join(",")]),
      ...configRecords(config),
      ["build-upper", upper],
      ["build-work", work],
      ["build-dir", scratch],
      ["build-cwd", cwd],
      ["network", opts.network ? "on" : "off"],
      ["source-date-epoch", String(epoch)],
    ];
    const inputPath = join(staging, "input.bin");
    writeFileSync(inputPath, encodeRecords(input));

    const r = await runLauncher(launcher, ["build", inputPath, "--status-fd", "3", "--", ...opts.command]);
    if (r.interrupted) throw new FhsError(`build interrupted by ${r.interrupted}; no output written`, 128 + osConstants.signals[r.interrupted]);
    // No byte on the status fd: the view was never built and the launcher
    // has said why, in one line, with its own exit code.
    if (!r.ran) return { exitCode: r.code ?? LAUNCHER_EXIT.setup };
    if (r.signal) throw new FhsError(`build command ${opts.command[0]} killed by ${r.signal}; no output written`, EXIT.buildFailed);
    if (r.code !== 0) throw new FhsError(`build command ${opts.command[0]} failed with exit ${r.code}; no output written`, EXIT.buildFailed);

    checkUpper(launcher, upper);
    pruneSkeleton(upper, created);
    const staged = join(staging, "out");
    mkdirSync(staged, { mode: 0o755 });
    renameSync(upper, join(staged, "usr"));
    normalizeTimes(staged, epoch);
    // Last step, and atomic: OUT appears complete or not at all.
    if (existsSync(out)) throw new FhsError(`output ${opts.out}: appeared during the build; not replaced`);
    renameSync(staged, out);
    return { exitCode: 0, out };
  } finally {
    removeTree(staging);
  }
}

function isDanglingLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Refuses whiteouts and opaque dirs (the build deleted or replaced a
 * dependency's path) and strips overlay's xattrs (launcher overlay-clean). */
function checkUpper(launcher: string, upper: string): void {
  // The dynamic launcher when the configured one is missing: any build of it has the command.
  const bin = existsSync(launcher) ? launcher : dynamicLauncherPath;
  const r = spawnSync(bin, ["overlay-clean", upper], { maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new FhsError(`launcher ${bin}: ${r.error.message}`);
  if (r.status !== 0) throw new FhsError(`build output: cannot inspect ${upper}: ${String(r.stderr).trim()}`);
  const found = decodeRecords(r.stdout);
  if (found.length === 0) return;
  const [what, rel] = found[0]!;
  const how = what === "opaque" ? "replaced the dependency directory" : "deleted the dependency path";
  const more = found.length > 1 ? ` (and ${found.length - 1} more)` : "";
  throw new FhsError(`build output refused: the build ${how} /usr/${rel}${more}; a build may only add files`, EXIT.outputRefused);
}
