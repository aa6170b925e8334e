// `fhs layer fetch PKG... --into STORE` (docs/LAYERS.md): Debian packages and
// their dependency closure, one layer each, and a layer set that lists them.
//
// apt decides, fhs does not second-guess it: the closure is what
// `apt-get --simulate install` computes against an empty dpkg status, so
// alternatives (`a | b`), virtual packages, versions, pins and Conflicts are
// chosen exactly as apt would choose them on an empty system. Recommends and
// Suggests are left out, as `--no-install-recommends` does.
//
// Debian packages never declare dependencies on Essential packages (Debian
// Policy 3.5): every system has them. So, unless told otherwise, the
// Essential: yes packages of the archive (found with apt's `?essential`
// pattern, then kept only when the record itself says Essential: yes: apt
// flags itself essential too) join the same apt solution, and what only they
// bring in is the set's "base".
//
// The .debs are fetched with `apt-get download` (apt checks them against the
// signed archive index) into a cache outside any repository, and each is
// imported with the existing importer (src/debimport.ts): atomic, read-only,
// and skipped when STORE already has that package_version_arch.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, closeSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { CONTROL_DIR, importDeb, layerHasControl, layerName } from "./debimport.js";
import { removeTree } from "./tree.js";
import { FhsError } from "./errors.js";
import { inspectLayer } from "./layers.js";
import { LAYER_SET_VERSION, writeLayerSet, type LayerRole, type LayerSet, type LayerSetEntry } from "./layerset.js";

export interface FetchOptions {
  /** apt's package specs: NAME, NAME=VERSION, NAME/RELEASE (NAME:ARCH allowed). */
  packages: string[];
  /** The layer store. */
  into: string;
  /** Where the layer set goes; default STORE/<names joined by +>.set.json. */
  set?: string;
  /** More packages that join apt's solution as dependencies, not as the
   * package: what the package needs but Debian only recommends (gcc needs
   * libc6-dev to compile anything). */
  with?: string[];
  /** Add the Essential base (default true). */
  base?: boolean;
  /** Cache root (debs/, apt/); default $FHS_CACHE_DIR, else $XDG_CACHE_HOME/fhs, else ~/.cache/fhs. */
  cache?: string;
  /** Also make a fresh, writable package directory from the requested packages' layers. */
  packageDir?: string;
  /** One line per step; only called when there is something to say. */
  progress?: (line: string) => void;
}

export interface FetchResult {
  setPath: string;
  set: LayerSet;
  downloaded: number;
  imported: number;
  packageDir?: string;
}

/** A package in apt's solution. */
interface Resolved {
  name: string;
  version: string;
  arch: string;
}

/** What the dependency graph needs from a package's record. */
interface DebRecord {
  depends: string[][];
  provides: string[];
  size: number;
}

const SPEC = /^([a-z0-9][a-z0-9+.-]*)(:[a-z0-9-]+)?(?:=([A-Za-z0-9.+~:-]+)|\/([A-Za-z0-9.+~_-]+))?$/;

/** The cache root: $FHS_CACHE_DIR, else $XDG_CACHE_HOME/fhs, else ~/.cache/fhs. */
export function defaultCacheDir(): string {
  if (process.env.FHS_CACHE_DIR) return resolve(process.env.FHS_CACHE_DIR);
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg.startsWith("/") ? xdg : join(homedir(), ".cache"), "fhs");
}

/** The default set file: STORE/hello.set.json, STORE/hello+make.set.json. */
export function defaultSetPath(into: string, packages: readonly string[]): string {
  const names = [...new Set(packages.map((p) => SPEC.exec(p)?.[1] ?? p))];
  return join(resolve(into), `${names.join("+")}.set.json`);
}

export async function fetchLayers(opts: FetchOptions): Promise<FetchResult> {
  const progress = opts.progress ?? (() => {});
  if (opts.packages.length === 0) throw new FhsError("layer fetch: no package given");
  for (const p of opts.packages) if (!SPEC.test(p)) throw new FhsError(`${p}: not a package name (expected NAME, NAME=VERSION or NAME/RELEASE)`);
  const into = resolve(opts.into);
  const setPath = resolve(opts.set ?? defaultSetPath(into, opts.packages));
  const packageDir = opts.packageDir === undefined ? undefined : resolve(opts.packageDir);
  if (packageDir && existsSync(packageDir)) throw new FhsError(`package ${opts.packageDir}: exists; --package makes a fresh directory`);
  const apt = new Apt(opts.cache ?? defaultCacheDir());
  // One architecture per set: a package's unqualified dependencies name packages of its own architecture.
  for (const p of [...opts.packages, ...(opts.with ?? [])]) {
    const arch = SPEC.exec(p)![2]?.slice(1);
    if (arch && arch !== apt.architecture()) throw new FhsError(`${p}: not ${apt.architecture()}; fhs layer fetch makes sets for apt's architecture (${apt.architecture()}) only`);
  }

  // 1. The closure, as apt solves it.
  const withBase = opts.base ?? true;
  const requestedNames = [...new Set(opts.packages.map((p) => SPEC.exec(p)![1]!))];
  const withNames = [...new Set((opts.with ?? []).map((p) => SPEC.exec(p)![1]!))].filter((n) => !requestedNames.includes(n));
  const essential = withBase ? (await apt.essentialPackages()).filter((n) => !requestedNames.includes(n) && !withNames.includes(n)) : [];
  const solution = await apt.solve([...opts.packages, ...(opts.with ?? []), ...essential]);
  const byName = new Map(solution.packages.map((r) => [r.name, r]));
  const requested = requestedNames.map((n) => {
    const name = solution.selected.get(n) ?? n;
    if (!byName.has(name)) throw new FhsError(`${n}: not in apt's solution (apt-get --simulate install did not list it)`);
    return name;
  });
  const extra = withNames.map((n) => {
    const name = solution.selected.get(n) ?? n;
    if (!byName.has(name)) throw new FhsError(`${n}: not in apt's solution (apt-get --simulate install did not list it)`);
    return name;
  });
  const records = await apt.records(solution.packages);
  const graph = dependencyGraph(solution.packages, records);

  // 2. The order: requested first, then their closure with dependents before
  // dependencies, then the base; the first provider of a path wins.
  const closure = topoOrder([...requested, ...extra.filter((n) => !requested.includes(n))], graph, new Set());
  const deps = closure.filter((n) => !requested.includes(n));
  const base = topoOrder(essential.filter((n) => byName.has(n)), graph, new Set(closure));
  const placed = new Set([...closure, ...base]);
  // A package apt installed that no chosen alternative reaches (apt satisfied
  // some `a | b` with b while a is also there) still belongs to the set.
  const rest = solution.packages.map((r) => r.name).filter((n) => !placed.has(n));
  const ordered: [string, LayerRole][] = [
    ...requested.map((n): [string, LayerRole] => [n, "requested"]),
    ...[...deps, ...rest].map((n): [string, LayerRole] => [n, "dependency"]),
    ...base.map((n): [string, LayerRole] => [n, "base"]),
  ];
  progress(`${opts.packages.join(" ")}: ${ordered.length} packages (${requested.length} requested, ${deps.length + rest.length} dependencies, ${base.length} base)`);

  // 3. Layers: what STORE lacks is downloaded (unless cached) and imported.
  const layerOf = (r: Resolved) => join(into, layerName(r.name, r.version, r.arch));
  const missing = ordered.map(([n]) => byName.get(n)!).filter((r) => !isImported(layerOf(r)));
  const debs = await apt.download(missing, (n) => records.get(n)?.size ?? 0, progress);
  for (const r of missing) {
    progress(`import ${r.name} ${r.version}`);
    await importDeb(debs.files.get(r.name)!, into);
  }

  const set: LayerSet = {
    fhsLayerSet: LAYER_SET_VERSION,
    requested: [...opts.packages],
    base: withBase,
    architecture: apt.architecture(),
    layers: ordered.map(([n, role]): LayerSetEntry => {
      const r = byName.get(n)!;
      return { path: inspectLayer(layerOf(r)).path, role, package: r.name, version: r.version, architecture: r.arch };
    }),
  };
  mkdirSync(dirname(setPath), { recursive: true });
  writeLayerSet(setPath, set);
  if (packageDir) makePackageDir(packageDir, set.layers.filter((l) => l.role === "requested").map((l) => l.path));
  progress(`${set.layers.length} layers in ${into}: ${debs.downloaded} downloaded, ${missing.length} imported`);
  return { setPath, set, downloaded: debs.downloaded, imported: missing.length, packageDir };
}

/** Imported, with its maintainer scripts (a layer of an older import is
 * imported again: src/debimport.ts completes it). */
function isImported(layer: string): boolean {
  return layerHasControl(layer);
}

/** For each package, the packages its Depends and Pre-Depends chose, in field order. */
function dependencyGraph(packages: Resolved[], records: Map<string, DebRecord>): Map<string, string[]> {
  const names = new Set(packages.map((r) => r.name));
  const providers = new Map<string, string>();
  for (const r of packages) for (const v of records.get(r.name)?.provides ?? []) if (!providers.has(v)) providers.set(v, r.name);
  const graph = new Map<string, string[]>();
  for (const r of packages) {
    const edges: string[] = [];
    for (const clause of records.get(r.name)?.depends ?? []) {
      const chosen = clause.map((alt) => (names.has(alt) ? alt : providers.get(alt))).find((n) => n !== undefined);
      // apt's solution must satisfy every Depends and Pre-Depends: checked, not assumed.
      if (chosen === undefined) throw new FhsError(`${r.name}: dependency '${clause.join(" | ")}' is not satisfied by apt's solution`);
      if (chosen !== r.name) edges.push(chosen);
    }
    graph.set(r.name, edges);
  }
  return graph;
}

/** Dependents before their dependencies (reverse post-order of a depth-first walk; a cycle is cut where it closes). */
function topoOrder(roots: string[], graph: Map<string, string[]>, exclude: Set<string>): string[] {
  const seen = new Set(exclude);
  const post: string[] = [];
  const visit = (n: string) => {
    if (seen.has(n)) return;
    seen.add(n);
    for (const d of graph.get(n) ?? []) visit(d);
    post.push(n);
  };
  // Roots in reverse, so that after the reversal the first root comes first.
  for (const r of [...roots].reverse()) visit(r);
  return post.reverse();
}

/**
 * A fresh, writable package directory from the requested packages' layers,
 * for `fhs wrap DIR --layers-from SET` (wrap moves files inside DIR, so it
 * cannot be a read-only layer). Built beside and renamed into place.
 */
function makePackageDir(dir: string, layers: string[]): void {
  const tmp = mkdtempSync(join(dirname(dir), `.${basename(dir)}.tmp-`));
  try {
    for (const layer of layers) {
      for (const name of readdirSync(layer)) {
        if (name === ".fhs") {
          // The import record stays with the layer; the maintainer scripts
          // travel with the package, whose install-time state is made from
          // them at wrap time (src/state.ts).
          const deb = join(layer, ".fhs", CONTROL_DIR);
          if (existsSync(deb)) {
            cpSync(deb, join(tmp, ".fhs", CONTROL_DIR), { recursive: true, force: false, errorOnExist: false, verbatimSymlinks: true });
            makeWritable(join(tmp, ".fhs"));
          }
          continue;
        }
        // The first layer that provides a path keeps it, as in a view. Times
        // are the .deb's, as in the layer: what install-time state records
        // of a file (a .pyc holds its source's mtime) must not depend on
        // when the package was made.
        cpSync(join(layer, name), join(tmp, name), { recursive: true, force: false, errorOnExist: false, verbatimSymlinks: true, preserveTimestamps: true });
        makeWritable(join(tmp, name));
      }
    }
    chmodSync(tmp, 0o755);
    renameSync(tmp, dir);
  } catch (e) {
    removeTree(tmp);
    if (e instanceof FhsError) throw e;
    throw new FhsError(`package ${dir}: cannot make (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

function makeWritable(path: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return;
  chmodSync(path, st.mode | 0o200);
  if (st.isDirectory()) for (const n of readdirSync(path)) makeWritable(join(path, n));
}

/** apt-get and apt-cache against an empty dpkg status, with caches of our own. */
class Apt {
  private readonly aptDir: string;
  private readonly debDir: string;
  private arch?: string;

  constructor(readonly cacheDir: string) {
    this.aptDir = join(cacheDir, "apt");
    this.debDir = join(cacheDir, "debs");
  }

  /** Options for every call. The package caches live here, keyed to the empty
   * status file, so that the host's own apt caches are never rewritten and a
   * second fetch does not rebuild them. */
  private options(): string[] {
    const status = join(this.aptDir, "status");
    if (!existsSync(status)) {
      try {
        mkdirSync(this.aptDir, { recursive: true });
        // Created once and never written again: apt checks its cache against it.
        closeSync(openSync(status, "a"));
      } catch (e) {
        throw new FhsError(`cache ${this.cacheDir}: cannot create (${(e as NodeJS.ErrnoException).code})`);
      }
    }
    return [
      "-o", `Dir::State::status=${status}`,
      "-o", `Dir::Cache::pkgcache=${join(this.aptDir, "pkgcache.bin")}`,
      "-o", `Dir::Cache::srcpkgcache=${join(this.aptDir, "srcpkgcache.bin")}`,
      // A name is a name: no fallback to a regular expression or a glob ("lib.ssl" would match hundreds).
      "-o", "APT::Cmd::Pattern-Only=true",
      "-o", "APT::Install-Recommends=false",
      "-o", "APT::Install-Suggests=false",
    ];
  }

  private async run(cmd: "apt-get" | "apt-cache", args: string[], opts: { cwd?: string; onLine?: (line: string) => void } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    const argv = [...this.options(), ...args];
    return new Promise((resolvePromise, reject) => {
      // Messages are parsed: apt must speak its own language.
      const child = spawn(cmd, argv, { cwd: opts.cwd, env: { ...process.env, LC_ALL: "C", LANGUAGE: "" }, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      let partial = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        stdout += d;
        if (!opts.onLine) return;
        partial += d;
        const lines = partial.split("\n");
        partial = lines.pop()!;
        for (const l of lines) opts.onLine(l);
      });
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.on("error", (e) => reject(new FhsError(`${cmd}: ${e.message} (fhs layer fetch needs apt)`)));
      child.on("close", (code) => resolvePromise({ code: code ?? 128, stdout, stderr }));
    });
  }

  /** The architecture apt resolves for (APT::Architecture). */
  architecture(): string {
    if (this.arch) return this.arch;
    const r = spawnSync("apt-config", ["shell", "A", "APT::Architecture"], { encoding: "utf8" });
    const m = /^A='([a-z0-9-]+)'$/m.exec(r.stdout ?? "");
    if (!m) throw new FhsError(`apt-config: cannot tell the architecture (${r.error?.message ?? r.stderr?.trim() ?? ""})`);
    return (this.arch = m[1]!);
  }

  /** Names of the archive's Essential: yes packages. */
  async essentialPackages(): Promise<string[]> {
    const r = await this.run("apt-cache", ["show", "?essential"]);
    if (r.code !== 0) throw this.error(r, "?essential");
    const names = new Set<string>();
    for (const stanza of r.stdout.split(/\n\n+/)) {
      const f = fields(stanza);
      if (f.get("Essential") === "yes" && f.get("Package")) names.add(f.get("Package")!);
    }
    if (names.size === 0) throw new FhsError("apt: the archive has no Essential packages (are the package lists there? run apt-get update)");
    return [...names].sort();
  }

  /** apt's solution for installing SPECS on an empty system. */
  async solve(specs: string[]): Promise<{ packages: Resolved[]; selected: Map<string, string> }> {
    // quiet=0: apt says which package stands for a virtual one only when not quiet, and it turns quiet when stdout is not a terminal.
    const r = await this.run("apt-get", ["--simulate", "-o", "quiet=0", "install", ...specs]);
    if (r.code !== 0) throw this.error(r, specs.join(" "));
    const packages: Resolved[] = [];
    for (const line of r.stdout.split("\n")) {
      // Inst libgcc-s1 (12.2.0-14+deb12u1 Debian:12.15/oldstable [amd64]) []
      const m = /^Inst (\S+) (?:\[\S*\] )?\((\S+) .*\[([a-z0-9-]+)\]\)/.exec(line);
      if (m) packages.push({ name: m[1]!.replace(/:.*$/, ""), version: m[2]!, arch: m[3]! });
    }
    // A virtual package with one provider: "Note, selecting 'mawk' instead of 'awk'".
    const selected = new Map<string, string>();
    for (const m of r.stdout.matchAll(/^Note, selecting '([^']+)' instead of '([^']+)'/gm)) selected.set(m[2]!.replace(/:.*$/, ""), m[1]!.replace(/:.*$/, ""));
    return { packages, selected };
  }

  /** Depends, Pre-Depends, Provides and Size of the exact versions in a solution. */
  async records(packages: Resolved[]): Promise<Map<string, DebRecord>> {
    const r = await this.run("apt-cache", ["show", ...packages.map((p) => `${p.name}:${p.arch}=${p.version}`)]);
    if (r.code !== 0) throw this.error(r, "apt-cache show");
    const out = new Map<string, DebRecord>();
    for (const stanza of r.stdout.split(/\n\n+/)) {
      const f = fields(stanza);
      const name = f.get("Package");
      if (!name || out.has(name)) continue;
      const depends = [f.get("Pre-Depends"), f.get("Depends")]
        .filter((v): v is string => !!v)
        .flatMap((v) => v.split(","))
        .map((clause) => clause.split("|").map((alt) => alt.trim().replace(/\s*\(.*$/, "").replace(/:.*$/, "")));
      const provides = (f.get("Provides") ?? "").split(",").map((p) => p.trim().replace(/\s*\(.*$/, "").replace(/:.*$/, "")).filter(Boolean);
      out.set(name, { depends, provides, size: Number(f.get("Size") ?? 0) });
    }
    return out;
  }

  /** The .debs of the packages, from the cache or downloaded into it; by package name. */
  async download(packages: Resolved[], size: (name: string) => number, progress: (line: string) => void): Promise<{ files: Map<string, string>; downloaded: number }> {
    const files = new Map<string, string>();
    let downloaded = 0;
    const fileOf = (r: Resolved) => `${layerName(r.name, r.version, r.arch)}.deb`;
    const toGet = packages.filter((r) => !existsSync(join(this.debDir, fileOf(r))));
    for (const r of packages) files.set(r.name, join(this.debDir, fileOf(r)));
    if (toGet.length === 0) return { files, downloaded };
    const total = toGet.reduce((s, r) => s + size(r.name), 0);
    progress(`download ${toGet.length} package${toGet.length === 1 ? "" : "s"} (${(total / 1e6).toFixed(1)} MB)`);
    let tmp: string;
    try {
      mkdirSync(this.debDir, { recursive: true });
      tmp = mkdtempSync(join(this.debDir, ".dl-"));
    } catch (e) {
      throw new FhsError(`cache ${this.debDir}: cannot write (${(e as NodeJS.ErrnoException).code})`);
    }
    try {
      const r = await this.run("apt-get", ["download", ...toGet.map((p) => `${p.name}:${p.arch}=${p.version}`)], {
        cwd: tmp,
        onLine: (l) => {
          // Get:1 http://deb.debian.org/debian bookworm/main amd64 hello amd64 2.10-3 [53.1 kB]
          const m = /^Get:\d+ \S+ \S+ \S+ (\S+) \S+ (\S+) \[([^\]]+)\]/.exec(l);
          if (m) progress(`get ${m[1]} ${m[2]} (${m[3]})`);
        },
      });
      if (r.code !== 0) throw this.downloadError(r, toGet);
      // Complete files only: moved into the cache once apt has checked them.
      for (const p of toGet) {
        const f = join(tmp, fileOf(p));
        if (!existsSync(f)) throw new FhsError(`${p.name} ${p.version}: download failed (apt-get download wrote no ${fileOf(p)})`);
        renameSync(f, join(this.debDir, fileOf(p)));
        downloaded++;
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    return { files, downloaded };
  }

  /** apt's error, said as one line that names the package and the cause. */
  private error(r: { stdout: string; stderr: string }, what: string): FhsError {
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("E: ")).map((l) => l.slice(3));
    for (const e of errors) {
      let m = /^Unable to locate package (\S+)/.exec(e);
      if (m) return new FhsError(`${m[1]}: no such package in the archive (apt: ${e})`);
      m = /^Version '([^']+)' for '([^']+)' was not found/.exec(e);
      if (m) return new FhsError(`${m[2]}=${m[1]}: no such version in the archive (apt: ${e})`);
      m = /^Release '([^']+)' for '([^']+)' was not found/.exec(e);
      if (m) return new FhsError(`${m[2]}/${m[1]}: no such release in the archive (apt: ${e})`);
      m = /^Package '([^']+)' has no installation candidate/.exec(e);
      if (m) {
        const providers = new RegExp(`^Package ${escape(m[1]!)} is a virtual package provided by:\\n((?:  .*\\n)+)`, "m").exec(r.stdout);
        const names = providers ? providers[1]!.trim().split("\n").map((l) => l.trim().split(" ")[0]) : [];
        return new FhsError(`${m[1]}: no installable package of that name${names.length ? ` (a virtual package; provided by: ${names.join(", ")}; choose one)` : ""}`);
      }
    }
    // "The following packages have unmet dependencies:\n hello : Depends: foo but it is not installable"
    const unmet = /^The following packages have unmet dependencies:\n((?: .*\n?)+)/m.exec(r.stdout);
    if (unmet) {
      const lines: string[] = [];
      let pkg = "";
      for (const raw of unmet[1]!.split("\n")) {
        const m = /^ (\S+) : (.*)$/.exec(raw);
        if (m) {
          pkg = m[1]!;
          lines.push(`${pkg}: ${m[2]!.trim()}`);
        } else if (raw.trim() && pkg) lines.push(`${pkg}: ${raw.trim()}`);
      }
      const [first, ...more] = lines;
      if (first) {
        const [name, ...cause] = first.split(": ");
        return new FhsError(`${name}: dependency cannot be satisfied: ${cause.join(": ")}${more.length ? ` (and ${more.length} more: ${more.join("; ")})` : ""}`);
      }
    }
    const cause = errors[0] ?? r.stderr.trim().split("\n").pop() ?? "failed";
    return new FhsError(`${what}: apt: ${cause}`);
  }

  private downloadError(r: { stdout: string; stderr: string }, packages: Resolved[]): FhsError {
    const lines = r.stderr.split("\n").filter((l) => l.startsWith("E: ")).map((l) => l.slice(3));
    for (const e of lines) {
      // E: Failed to fetch http://…/pool/main/h/hello/hello_2.10-3_amd64.deb  Could not connect to …
      const m = /^Failed to fetch (\S+)\s+(.*)$/.exec(e);
      if (m) {
        const file = decodeURIComponent(basename(m[1]!));
        const p = packages.find((q) => file === `${q.name}_${q.version.replace(/^\d+:/, "")}_${q.arch}.deb`);
        return new FhsError(`${p ? `${p.name} ${p.version}` : file}: download failed (${m[2]!.trim()})`);
      }
    }
    return new FhsError(`${packages.map((p) => p.name).join(" ")}: download failed (apt: ${lines[0] ?? r.stderr.trim().split("\n").pop() ?? "failed"})`);
  }
}

/** A control stanza's fields (continuation lines joined). */
function fields(stanza: string): Map<string, string> {
  const out = new Map<string, string>();
  let key = "";
  for (const line of stanza.split("\n")) {
    if (/^\s/.test(line)) {
      if (key) out.set(key, `${out.get(key)} ${line.trim()}`);
      continue;
    }
    const i = line.indexOf(":");
    if (i <= 0) continue;
    key = line.slice(0, i);
    out.set(key, line.slice(i + 1).trim());
  }
  return out;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
