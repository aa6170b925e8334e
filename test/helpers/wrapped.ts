// Building wrapped packages for tests: a package dir owned by the test user,
// wrapped with the real CLI, using the copied launcher that user can reach.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { debLayers } from "./debian.js";
import { isRoot, runCli, testArtifacts, testDir, testUser } from "./env.js";

/** Compiles a small static C program (test/bench/*.c) once per run. */
const compiled = new Map<string, string>();
export function staticProgram(name: string, srcFile: string): string {
  const hit = compiled.get(name);
  if (hit) return hit;
  const out = join(testArtifacts().root, name);
  execFileSync("cc", ["-O2", "-static", "-o", out, srcFile]);
  chmodSync(out, 0o755);
  compiled.set(name, out);
  return out;
}

/** A package dir in FHS layout holding the given files (relative to usr/). */
export function makePackage(files: Record<string, { from?: string; text?: string; mode?: number }>, name = "pkg"): string {
  const dir = join(testDir(`fhs-${name}-`), name);
  for (const [rel, f] of Object.entries(files)) {
    const dst = join(dir, "usr", rel);
    mkdirSync(join(dst, ".."), { recursive: true });
    if (f.from) cpSync(f.from, dst);
    else writeFileSync(dst, f.text ?? "");
    chmodSync(dst, f.mode ?? 0o755);
  }
  chownTree(dir);
  return dir;
}

/** A package made by copying whole layers' usr/ (and etc/) trees (e.g. a Debian package's files). */
export function packageFromLayers(layers: string[], name = "pkg"): string {
  const dir = join(testDir(`fhs-${name}-`), name);
  for (const l of layers) {
    for (const d of ["usr", "etc"]) {
      if (existsSync(join(l, d))) cpSync(join(l, d), join(dir, d), { recursive: true, verbatimSymlinks: true });
    }
  }
  execFileSync("chmod", ["-R", "u+w", dir]);
  chownTree(dir);
  return dir;
}

function chownTree(dir: string): void {
  if (isRoot) execFileSync("chown", ["-R", `${testUser.uid}:${testUser.gid}`, join(dir, "..")]);
}

/** Wraps with the real CLI; returns the package dir. */
export function wrapPackage(dir: string, layers: string[] = [], extra: string[] = []): string {
  const args = ["wrap", dir, ...layers.flatMap((l) => ["--layer", l]), ...extra];
  const r = runCli(args, { env: { FHS_LAUNCHER: testArtifacts().launcher } });
  assert.equal(r.status, 0, `fhs ${args.join(" ")}: ${r.stderr}`);
  if (isRoot) execFileSync("chown", ["-R", "-h", `${testUser.uid}:${testUser.gid}`, dir]);
  return dir;
}

/** Mount table of a fresh process as the test user: what a caller's namespace holds. */
export function callerMounts(): string {
  return execFileSync("cat", ["/proc/self/mountinfo"], { encoding: "utf8" });
}

/** dash, coreutils and grep from Debian as one wrapped package, with their
 * runtime dependencies as layers, and sed as a layer of its own: Debian's
 * Essential packages are declared by no package, and `fhs layer fetch` adds
 * them as layers (its base); libc6's postinst runs sed when fhs env makes
 * the install-time state of a list holding this package. Built once per
 * test process. */
export const SHELL_PROGRAMS = ["dash", "coreutils", "grep"];
let shell: { pkg: string; libc: string[]; layers: string[] } | undefined;
export function shellPackage(): { pkg: string; libc: string[]; layers: string[] } {
  if (shell) return shell;
  const programs = SHELL_PROGRAMS;
  const own = programs.flatMap((p) => debLayers([p]));
  const deps = [...new Set(programs.flatMap((p) => debLayers([p], { withDeps: true }).slice(1)))].filter((l) => !own.includes(l));
  const libc = debLayers(["libc6"], { withDeps: true });
  const base = debLayers(["sed"], { withDeps: true });
  const layers = [...new Set([...libc, ...deps, ...base])];
  const pkg = wrapPackage(packageFromLayers(own, "shell"), layers);
  shell = { pkg, libc, layers };
  return shell;
}

/** Debian's gcc packaged the Nix way: the package holds the programs' own
 * packages (gcc, gcc-12, cpp, cpp-12, binutils); everything else, libgcc-12-dev
 * (stddef.h, crt files) and libc6-dev included, is a layer of its own. gcc
 * finds them because in its view it is installed at /usr. Built once per
 * test process. */
export const GCC_PROGRAM_PACKAGES = ["gcc", "gcc-12", "cpp", "cpp-12", "binutils", "binutils-x86-64-linux-gnu"];
let gcc: { pkg: string; layers: string[] } | undefined;
export function gccPackage(): { pkg: string; layers: string[] } {
  if (gcc) return gcc;
  const own = GCC_PROGRAM_PACKAGES.flatMap((p) => debLayers([p]));
  const layers = debLayers([...GCC_PROGRAM_PACKAGES, "libc6-dev"], { withDeps: true }).filter((l) => !own.includes(l));
  gcc = { pkg: wrapPackage(packageFromLayers(own, "gcc"), layers), layers };
  return gcc;
}

/** A dependency layer (FHS layout) holding one marker file, usr/share/NAME/marker. */
export function markerLayer(name: string): string {
  const dir = join(testDir(`fhs-${name}-`), name);
  mkdirSync(join(dir, "usr/share", name), { recursive: true });
  writeFileSync(join(dir, "usr/share", name, "marker"), `${name}\n`);
  chownTree(dir);
  return dir;
}

/** N synthetic layers, each holding one file, usr/share/fhs-synth/fI. */
export function syntheticLayers(n: number): string[] {
  const root = testDir("fhs-synth-");
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const l = join(root, `layer-${String(i).padStart(3, "0")}`);
    mkdirSync(join(l, "usr/share/fhs-synth"), { recursive: true });
    writeFileSync(join(l, "usr/share/fhs-synth", `f${i}`), `${i}\n`);
    out.push(l);
  }
  if (isRoot) execFileSync("chown", ["-R", `${testUser.uid}:${testUser.gid}`, root]);
  return out;
}
