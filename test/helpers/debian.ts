// Real software for tests: Debian binary packages as layers, and Debian source
// release tarballs. Everything is cached outside the repository, world-readable,
// so that the unprivileged test user can use the layers:
//   $FHS_TEST_CACHE (default /var/cache/fhs-test)
//     debs/     the downloaded .deb files
//     layers/   <package>_<version>_<arch>, made by `fhs layer import`
//     src/PKG/  `apt-get source --download-only` results
// The API is synchronous, so a test file can call it at top level:
//   const [hello, libc] = debLayers(["hello", "libc6"]);
//   const layers = debLayers(["coreutils"], { withDeps: true });
//   const tarball = debSource("hello"); // .../hello_2.10.orig.tar.gz
// Downloads need the package lists (`apt-get update`, run here once when root).
// A second call finds everything cached and runs no apt-get download.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { layerName } from "../../src/debimport.js";
import { repoRoot } from "./env.js";

export const cacheRoot = process.env.FHS_TEST_CACHE || "/var/cache/fhs-test";
export const debDir = join(cacheRoot, "debs");
export const layerDir = join(cacheRoot, "layers");
export const srcDir = join(cacheRoot, "src");

const isRoot = process.getuid?.() === 0;
const DEPENDS_FLAGS = ["--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"];

export interface DebPackage {
  package: string;
  version: string;
  architecture: string;
  /** The .deb's file name, as apt-get download writes it (an epoch's ':' as %3a). */
  file: string;
}

function run(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status}): ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`);
  return r.stdout;
}

/** A world-readable directory (the unprivileged test user reads the cache). */
function ensureDir(dir: string): string {
  if (!existsSync(dir)) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      chmodSync(dir, 0o755);
    } catch (e) {
      throw new Error(`debian test helper: cannot create ${dir} (${(e as NodeJS.ErrnoException).code}); run once as root, or set FHS_TEST_CACHE`);
    }
  }
  return dir;
}

let hostArch: string | undefined;
function arch(): string {
  return (hostArch ??= run("dpkg", ["--print-architecture"]).trim());
}

let listsReady = false;
let updated = false;
/** Package lists are needed by apt-cache and apt-get; fetch them once when missing. */
function ensureLists(): void {
  if (listsReady) return;
  const lists = "/var/lib/apt/lists";
  const have = existsSync(lists) && readdirSync(lists).some((f) => /_Packages(\.\w+)?$/.test(f));
  if (!have) {
    if (!isRoot) throw new Error("debian test helper: no apt package lists; as root run: apt-get update");
    update();
  }
  listsReady = true;
}
/** Stale lists name versions the archive no longer has: refresh once per process (root only). */
function update(): boolean {
  if (updated || !isRoot) return false;
  run("apt-get", ["update", "-qq"]);
  infoMemo.clear();
  updated = true;
  return true;
}

/** Candidate versions of the named packages; packages without one are left out. */
export function debInfo(names: readonly string[]): Map<string, DebPackage> {
  const asked = names.filter((n) => !infoMemo.has(n));
  if (asked.length) for (const [n, d] of showPackages(asked)) infoMemo.set(n, d);
  const out = new Map<string, DebPackage>();
  for (const n of names) {
    const d = infoMemo.get(n);
    if (d) out.set(n, d);
  }
  return out;
}
const infoMemo = new Map<string, DebPackage>();

function showPackages(names: readonly string[]): Map<string, DebPackage> {
  ensureLists();
  const r = spawnSync("apt-cache", ["show", "--no-all-versions", ...names], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const found: DebPackage[] = [];
  for (const stanza of (r.stdout ?? "").split(/\n\n+/)) {
    const f = (k: string) => new RegExp(`^${k}: (.*)$`, "m").exec(stanza)?.[1]?.trim();
    const p = f("Package"), v = f("Version"), a = f("Architecture");
    if (!p || !v || !a) continue;
    if (a !== arch() && a !== "all") continue;
    found.push({ package: p, version: v, architecture: a, file: `${p}_${v.replaceAll(":", "%3a")}_${a}.deb` });
  }
  // A name is a package (its candidate) or PACKAGE=VERSION (that version).
  const out = new Map<string, DebPackage>();
  for (const n of names) {
    const [p, v] = n.split("=");
    const d = found.find((x) => x.package === p && (v === undefined || x.version === v));
    if (d) out.set(n, d);
  }
  return out;
}

/** The dependency closure (Depends and Pre-Depends) of the packages, requested
 * ones first, as real packages (virtual ones and other architectures dropped). */
export function debClosure(packages: readonly string[]): string[] {
  ensureLists();
  const out = run("apt-cache", ["depends", "--recurse", ...DEPENDS_FLAGS, ...packages]);
  const names: string[] = [...packages];
  for (const line of out.split("\n")) {
    if (!line || line.startsWith(" ") || line.startsWith("<")) continue;
    const name = line.trim().replace(new RegExp(`:(${arch()}|all)$`), "");
    if (!name.includes(":")) names.push(name);
  }
  const unique = [...new Set(names)];
  const info = debInfo(unique);
  return unique.filter((n) => info.has(n));
}

/** Downloads (or finds cached) .debs for the packages; returns their paths in order. */
export function debFiles(packages: readonly string[]): string[] {
  ensureDir(debDir);
  let info = debInfo(packages);
  if (packages.some((p) => !info.has(p)) && update()) info = debInfo(packages);
  const missing = packages.filter((p) => !info.has(p));
  if (missing.length) throw new Error(`debian test helper: no installable ${arch()}/all package: ${missing.join(", ")}`);
  const wanted = packages.map((p) => info.get(p)!);
  const toFetch = wanted.filter((d) => !existsSync(join(debDir, d.file)));
  if (toFetch.length) {
    // Download beside the cache and move in, so that a concurrent test never sees half a .deb.
    const tmp = mkdtempSync(join(debDir, ".dl-"));
    chmodSync(tmp, 0o755);
    try {
      const args = ["download", "-q", ...toFetch.map((d) => `${d.package}=${d.version}`)];
      try {
        run("apt-get", args, tmp);
      } catch (e) {
        if (!update()) throw e;
        run("apt-get", args, tmp);
      }
      for (const d of toFetch) {
        const src = join(tmp, d.file);
        if (!existsSync(src)) throw new Error(`debian test helper: apt-get download gave no ${d.file}`);
        chmodSync(src, 0o644);
        renameSync(src, join(debDir, d.file));
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return wanted.map((d) => join(debDir, d.file));
}

/**
 * Layers for Debian packages, imported with the project's own `fhs layer import`
 * (the CLI must be built). Returns layer paths: the requested packages first,
 * then (withDeps) their dependency closure, without duplicates. Synchronous.
 */
export function debLayers(packages: readonly string[], opts: { withDeps?: boolean } = {}): string[] {
  const key = JSON.stringify([packages, !!opts.withDeps]);
  const known = memo.get(key);
  if (known) return [...known];
  const names = opts.withDeps ? debClosure(packages) : [...new Set(packages)];
  const info = debInfo(names);
  const cached = names.map((n) => info.get(n)).map((d) => d && join(layerDir, layerName(d.package, d.version, d.architecture)));
  if (cached.every((p) => p && existsSync(join(p, ".fhs", "deb.json")))) {
    memo.set(key, cached as string[]);
    return [...(cached as string[])];
  }
  const debs = debFiles(names);
  ensureDir(layerDir);
  const out = execFileSync(process.execPath, [join(repoRoot, "dist", "cli.js"), "layer", "import", "--json", "--into", layerDir, ...debs], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const layers = (JSON.parse(out) as { layer: string }[]).map((r) => r.layer);
  memo.set(key, layers);
  return [...layers];
}
const memo = new Map<string, string[]>();

/** apt's configuration for source downloads: the machine's own Debian
 * sources as deb-src entries, and their lists, in the test cache
 * (`$FHS_TEST_CACHE/apt-src`). `/etc/apt` is never written, so `apt-get
 * source` on this machine answers afterwards exactly as before the tests. */
const aptSrcDir = join(cacheRoot, "apt-src");
const aptSrcOpts = () => [
  "-o", `Dir::Etc::SourceList=${join(aptSrcDir, "deb-src.list")}`,
  "-o", "Dir::Etc::SourceParts=/nonexistent",
  "-o", `Dir::State::Lists=${join(aptSrcDir, "lists")}`,
  "-o", `Dir::Cache=${join(aptSrcDir, "cache")}`,
  // The lists are root's, in a directory apt's download user cannot write.
  "-o", "APT::Sandbox::User=root",
];
let debSrcReady = false;
/** apt-get with that configuration, one at a time: test files run
 * concurrently, and apt refuses, not waits, when its lists are locked. */
const aptSrc = (args: string[], cwd?: string) => run("flock", [join(aptSrcDir, "lock"), "apt-get", ...aptSrcOpts(), ...args], cwd);

/** The deb-src lists, made once from the Debian sources apt uses (root only). */
function ensureDebSrc(): void {
  if (debSrcReady) return;
  const list = join(aptSrcDir, "deb-src.list");
  const lists = join(aptSrcDir, "lists");
  const fresh = existsSync(list) && existsSync(lists) && readdirSync(lists).some((f) => /_Sources(\.\w+)?$/.test(f));
  if (!fresh) {
    if (!isRoot) throw new Error(`debian test helper: no ${list} for apt-get source; run the tests once as root`);
    // One-line entries from every deb entry of the machine's sources (deb822 or not), mirrored as deb-src.
    const entries = run("apt-get", ["indextargets", "--format", "$(REPO_URI) $(RELEASE) $(COMPONENT)", "Created-By: Packages"])
      .split("\n")
      .filter((l) => /\/debian(-security)?\/ /.test(l));
    const lines = [...new Set(entries)].map((l) => {
      const [uri, suite, comp] = l.trim().split(" ");
      return `deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${uri} ${suite} ${comp}`;
    });
    if (!lines.length) throw new Error("debian test helper: apt has no Debian archive entry to mirror as deb-src");
    for (const d of ["lists/partial", "cache/archives/partial"]) ensureDir(join(aptSrcDir, d));
    writeFileSync(`${list}.${process.pid}`, lines.join("\n") + "\n", { mode: 0o644 });
    renameSync(`${list}.${process.pid}`, list);
    aptSrc(["update", "-qq"]);
  }
  debSrcReady = true;
}

/** PACKAGE=VERSION of the version a Debian archive mirror (a .../debian or
 * .../debian-security repository) offers first (apt-cache madison lists by
 * priority): not a third-party repository's, such as the nodesource nodejs
 * a machine may have installed. */
export function debianArchiveVersion(pkg: string): string {
  ensureLists();
  const line = run("apt-cache", ["madison", pkg])
    .split("\n")
    .find((l) => /\/debian(-security)? \S+( \S+)? Packages$/.test(l.trim()));
  const version = line?.split("|")[1]?.trim();
  if (!version) throw new Error(`debian test helper: the Debian archive has no ${pkg}`);
  return `${pkg}=${version}`;
}

/** The upstream release tarball of a source package (its .orig.tar.*, or the
 * native .tar.* when it has none), downloaded once into the cache. */
export function debSource(pkg: string): string {
  const dir = join(srcDir, pkg);
  const find = () => {
    if (!existsSync(dir)) return undefined;
    const files = readdirSync(dir);
    const tarball = files.find((f) => /\.orig\.tar\.\w+$/.test(f)) ?? files.find((f) => /\.tar\.\w+$/.test(f) && !f.includes(".debian."));
    return tarball && join(dir, tarball);
  };
  const cached = find();
  if (cached) return cached;
  ensureDebSrc();
  ensureDir(srcDir);
  const tmp = mkdtempSync(join(srcDir, `.dl-${pkg}-`));
  chmodSync(tmp, 0o755);
  try {
    aptSrc(["source", "--download-only", "-q", pkg], tmp);
    for (const f of readdirSync(tmp)) chmodSync(join(tmp, f), 0o644);
    try {
      renameSync(tmp, dir);
    } catch {
      // Another test fetched it meanwhile.
      rmSync(tmp, { recursive: true, force: true });
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const got = find();
  if (!got) throw new Error(`debian test helper: apt-get source ${pkg} gave no release tarball in ${dir}`);
  return got;
}
