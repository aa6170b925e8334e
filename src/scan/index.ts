// The layer index: every entry of every layer, by view path (/usr/..., /etc/...,
// /opt/...), with its providers in layer order. Walking records type and path
// only; the file contents (sha256, size, ELF dynamic info) are read afterwards,
// and only where they can decide something: hashes for paths that more than one
// layer provides, ELF info for contested files and for the objects the view
// shows (the consumers). Reading is spread over worker threads when it pays.
import { availableParallelism } from "node:os";
import { readdirSync, readlinkSync } from "node:fs";
import { basename } from "node:path";
import { Worker } from "node:worker_threads";
import { FhsError } from "../errors.js";
import { usrDir, type Layer } from "../layers.js";
import { LAUNCHER_NAME } from "../manifest.js";
import type { BadElf, ElfInfo } from "./elf.js";
import { scanFiles, WANT_ELF, WANT_HASH, type FileResult, type FileTask } from "./files.js";

export type EntryType = "file" | "dir" | "link" | "other";

export interface Provider {
  /** Index into ScanIndex.layers. */
  layer: number;
  type: EntryType;
  /** Where the entry lives on disk. */
  abs: string;
  target?: string;
  size?: number;
  hash?: string;
  elf?: ElfInfo | BadElf | null;
  /** The file could not be read. */
  error?: string;
}

export interface ScanProblem {
  path: string;
  layer: number;
  reason: string;
}

export interface ScanIndex {
  layers: Layer[];
  /** View path -> providers, first (winning) provider first. */
  paths: Map<string, Provider[]>;
  entries: number;
  problems: ScanProblem[];
  /** Paths provided by more than one layer, not all of them directories; sorted. */
  contested: string[];
}

export interface ScanOptions {
  /** View dirs beyond usr that the overlay covers (the policy config's `overlay`). */
  dirs: ("etc" | "opt")[];
  progress?: (msg: string) => void;
  /** Below this many files to read, threads cost more than they save. */
  threadThreshold?: number;
}

// FHS: /usr/share is architecture independent and /usr/include holds headers,
// so neither holds ELF objects; other files are probed by their first bytes.
const NO_ELF_DIRS = ["/usr/share/", "/usr/include/", "/etc/"];
const NO_ELF_EXT = /\.(h|hpp|py|pyc|pm|pl|rb|js|json|txt|la|a|o|pc|cmake|mo|gz|xz|bz2|zst|html|xml|conf|sh|png|svg|md|go|el|elc|tcl)$/;

export function elfCandidate(viewPath: string): boolean {
  for (const d of NO_ELF_DIRS) if (viewPath.startsWith(d)) return false;
  return !NO_ELF_EXT.test(viewPath);
}

/** Walks the layers; throws FhsError when a layer root cannot be read. */
export function walkLayers(layers: Layer[], opts: ScanOptions): ScanIndex {
  const paths = new Map<string, Provider[]>();
  const problems: ScanProblem[] = [];
  let entries = 0;
  const add = (view: string, p: Provider) => {
    entries++;
    const list = paths.get(view);
    if (list) list.push(p);
    else paths.set(view, [p]);
  };
  // A wrapped package's wrappers (links to its .fhs-launcher, and the
  // launcher) are covered in its view by its programs layer (.fhs/raw, on
  // top): they are not files a program sees, so not conflicts.
  const wrappedWithPrograms = new Set(layers.filter((l) => l.path.endsWith(`/.fhs/raw`)).map((l) => l.path.slice(0, -"/.fhs/raw".length)));
  const isWrapping = (layer: number, e: { name: string; isSymbolicLink(): boolean }, abs: string): boolean => {
    if (!wrappedWithPrograms.has(layers[layer]!.path)) return false;
    if (e.name === LAUNCHER_NAME) return true;
    if (!e.isSymbolicLink()) return false;
    try {
      return basename(readlinkSync(abs)) === LAUNCHER_NAME;
    } catch {
      return false;
    }
  };
  const walk = (dir: string, view: string, layer: number) => {
    let ents;
    try {
      ents = readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      problems.push({ path: view, layer, reason: `unreadable directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` });
      return;
    }
    for (const e of ents) {
      const abs = `${dir}/${e.name}`;
      const vp = `${view}/${e.name}`;
      if (isWrapping(layer, e, abs)) continue;
      if (e.isDirectory()) {
        add(vp, { layer, type: "dir", abs });
        walk(abs, vp, layer);
      } else if (e.isSymbolicLink()) add(vp, { layer, type: "link", abs });
      else if (e.isFile()) add(vp, { layer, type: "file", abs });
      else add(vp, { layer, type: "other", abs });
    }
  };
  layers.forEach((l, i) => {
    opts.progress?.(`indexing layer ${i + 1}/${layers.length}`);
    const roots: [string, string][] = [[usrDir(l), "/usr"]];
    for (const d of opts.dirs) if (l.dirs.includes(d)) roots.push([`${l.path}/${d}`, `/${d}`]);
    for (const [root, view] of roots) {
      try {
        readdirSync(root);
      } catch (e) {
        throw new FhsError(`layer ${l.path}: cannot read ${root} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      walk(root, view, i);
    }
  });
  const contested: string[] = [];
  for (const [vp, list] of paths) if (list.length > 1 && list.some((p) => p.type !== "dir")) contested.push(vp);
  contested.sort(compareBytes);
  return { layers, paths, entries, problems, contested };
}

/** Code-unit order: deterministic, locale independent. */
export function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function linkTarget(p: Provider): string {
  if (p.target === undefined) {
    try {
      p.target = readlinkSync(p.abs);
    } catch (e) {
      p.target = "";
      p.error = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    }
  }
  return p.target;
}

/** The view's merged-/usr top-level links, as the launcher creates them. */
const TOP_LINKS: Record<string, string> = { bin: "usr/bin", sbin: "usr/sbin", lib: "usr/lib", lib64: "usr/lib64" };

const VIEW_ROOTS = new Set(["usr", "etc", "opt"]);

/** Resolves a view path through the view's symlinks to the provider the view
 * shows there (the first layer's), like the kernel would inside the view. */
export function resolveView(index: ScanIndex, path: string, hops = 0): Provider | undefined {
  const parts = path.split("/");
  let cur = "";
  for (let i = 0; i < parts.length; i++) {
    const name = parts[i]!;
    if (name === "" || name === ".") continue;
    if (name === "..") {
      cur = cur.slice(0, cur.lastIndexOf("/"));
      continue;
    }
    const next = `${cur}/${name}`;
    if (cur === "" && VIEW_ROOTS.has(name)) {
      // The overlay roots themselves are no layer's entries.
      cur = next;
      continue;
    }
    const prov = index.paths.get(next)?.[0];
    const top = cur === "" ? TOP_LINKS[name] : undefined;
    const target = prov?.type === "link" ? linkTarget(prov) : prov ? undefined : top;
    if (target !== undefined) {
      if (hops >= 40 || target === "") return undefined;
      const rest = parts.slice(i + 1).join("/");
      return resolveView(index, `${target.startsWith("/") ? "" : cur + "/"}${target}/${rest}`, hops + 1);
    }
    if (!prov) return undefined;
    cur = next;
    if (i === parts.length - 1 || parts.slice(i + 1).every((p) => p === "" || p === ".")) return prov;
  }
  return undefined;
}

/** Where a provider leads when it is the one the view shows: itself for a
 * file, the resolved target for a link. */
export function resolveProvider(index: ScanIndex, viewPath: string, p: Provider): Provider | undefined {
  if (p.type !== "link") return p;
  const t = linkTarget(p);
  if (t === "") return undefined;
  const dir = viewPath.slice(0, viewPath.lastIndexOf("/"));
  return resolveView(index, t.startsWith("/") ? t : `${dir}/${t}`, 1);
}

/** Reads the contents the classification needs (see the header). */
export async function scanContents(index: ScanIndex, opts: ScanOptions): Promise<{ files: number }> {
  const want = new Map<Provider, number>();
  const need = (p: Provider | undefined, flags: number) => {
    if (!p || p.type !== "file") return;
    want.set(p, (want.get(p) ?? 0) | flags);
  };
  for (const vp of index.contested) {
    for (const p of index.paths.get(vp)!) {
      need(p, WANT_HASH | WANT_ELF);
      need(resolveProvider(index, vp, p), WANT_ELF);
    }
  }
  for (const [vp, list] of index.paths) {
    const w = list[0]!;
    if (w.type === "file" && elfCandidate(vp)) need(w, WANT_ELF);
  }
  const provs = [...want.keys()];
  const tasks: FileTask[] = provs.map((p) => [p.abs, want.get(p)!]);
  const results = await readInParallel(tasks, opts);
  provs.forEach((p, i) => {
    const r = results[i]!;
    if (r.error) p.error = r.error;
    if (r.hash) {
      p.hash = r.hash;
      p.size = r.size;
    }
    if (r.elf !== undefined) p.elf = r.elf;
  });
  return { files: tasks.length };
}

async function readInParallel(tasks: FileTask[], opts: ScanOptions): Promise<FileResult[]> {
  const threshold = opts.threadThreshold ?? 4000;
  const workerUrl = new URL("./worker.js", import.meta.url);
  // Under a TypeScript loader the worker has no compiled file next to it: read inline.
  const n = import.meta.url.endsWith(".ts") ? 1 : Math.max(1, Math.min(availableParallelism(), Math.floor(tasks.length / threshold) + 1));
  const report = (done: number) => opts.progress?.(`reading files ${Math.min(done, tasks.length)}/${tasks.length}`);
  if (n === 1) return scanFiles(tasks, report);
  // Interleaved shares balance big and small files across threads; the main
  // thread reads one share itself rather than idling.
  const shares: FileTask[][] = Array.from({ length: n }, () => []);
  tasks.forEach((t, i) => shares[i % n]!.push(t));
  const pending = shares.slice(1).map(
    (share) =>
      new Promise<FileResult[]>((resolvePromise, reject) => {
        const w = new Worker(workerUrl, { workerData: share });
        w.once("message", (m: FileResult[]) => {
          resolvePromise(m);
          void w.terminate();
        });
        w.once("error", (e) => reject(new FhsError(`scan worker failed: ${e.message}`)));
      }),
  );
  const mine = scanFiles(shares[0]!, (d) => report(d * n));
  const all = [mine, ...(await Promise.all(pending))];
  const out: FileResult[] = new Array(tasks.length);
  all.forEach((res, s) => res.forEach((r, j) => (out[j * n + s] = r)));
  return out;
}
