// Conflict reports before install (docs/CONFLICTS.md). The scanner indexes the
// layers; the policy (assembly/conflicts.ts, request `conflicts`) classifies
// every contested path; this module builds the compact policy input, evaluates
// it in chunks, and turns the answer into a report.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { CONFLICT_CLASSES } from "./abi.js";
import { FhsError } from "./errors.js";
import { dedupeLayers, inspectLayer, type Layer } from "./layers.js";
import { viewLibDirs } from "./ldcache.js";
import { readManifest } from "./manifest.js";
import { configRecords, loadConfig, type PolicyConfig } from "./policy/config.js";
import { evalPolicy } from "./policy/host.js";
import { encodeRecords, type Rec } from "./policy/records.js";
import { compareBytes, resolveProvider, scanContents, walkLayers, type Provider, type ScanIndex } from "./scan/index.js";
import type { ElfInfo, ElfSymbols } from "./scan/elf.js";
import { readElfSymbols } from "./scan/files.js";

export const REPORT_VERSION = 1;
export const SEVERITIES = ["error", "warning", "info", "ok"] as const;
/** The policy's class order, least severe first (abi/abi.json). */
const CLASS_RANK = CONFLICT_CLASSES;
export type Severity = (typeof SEVERITIES)[number];

/** Where a layer came from on the command line. */
export interface LayerSource {
  layer: Layer;
  /** "layer", or the wrapped package directory it came from. */
  from: string;
  /** check-install: the layer belongs to the package being installed. */
  installing?: boolean;
  /** The layer is install-time state (a wrapped package's .fhs/state, src/state.ts). */
  generated?: boolean;
}

export interface ProviderReport {
  layer: string;
  /** A loser at another view path: the same SONAME, later in the loader's search order. */
  path?: string;
  type: Provider["type"];
  size?: number;
  sha256?: string;
  target?: string;
  soname?: string;
}

export interface Diamond {
  consumer: string;
  consumerLayer: string;
  soname: string;
  version: string;
  /** The first loser that defines the version, if any does. */
  loser: string | null;
}

/** A reference of a consumer that the winner cannot bind. */
export interface Unbound {
  consumer: string;
  consumerLayer: string;
  soname: string;
  symbol: string;
  /** The version node the reference asks for, if versioned. */
  version?: string;
  /** "load": bound when the consumer is loaded, so the load fails; "lazy":
   * a function bound at its first call, which fails then. */
  binding: "load" | "lazy";
  /** "absent": the winner does not define it; "unversioned": the winner has
   * no symbol versions, and ld.so refuses a versioned reference bound to it. */
  cause: "absent" | "unversioned";
}

export interface Conflict {
  path: string;
  class: string;
  severity: Severity;
  override?: { glob: string; classSeverity: Severity };
  winner: ProviderReport;
  losers: ProviderReport[];
  reason: string;
  diamonds?: Diamond[];
  unbound?: Unbound[];
}

export interface Problem {
  path: string;
  layer: string;
  reason: string;
}

export interface ConflictReport {
  fhsConflictReport: typeof REPORT_VERSION;
  command: "conflicts" | "check-install";
  layers: { path: string; layout: string; from: string; installing?: boolean }[];
  summary: {
    layers: number;
    entries: number;
    contested: number;
    error: number;
    warning: number;
    info: number;
    ok: number;
    problems: number;
    /** check-install: conflicts among the existing layers alone, left out of the report. */
    preexisting?: number;
  };
  conflicts: Conflict[];
  problems: Problem[];
}

export interface ConflictStats {
  walkMs: number;
  readMs: number;
  policyMs: number;
  totalMs: number;
  filesRead: number;
  chunks: number;
  inputBytes: number;
}

export interface ConflictOptions {
  sources: LayerSource[];
  config: PolicyConfig;
  policy: Uint8Array;
  policyName: string;
  command?: ConflictReport["command"];
  progress?: (msg: string) => void;
  /** Target size of one policy input; keeps each evaluation far below the memory cap and deadline. */
  chunkBytes?: number;
}

/** Layers of a wrapped package, from its manifest. */
export function packageLayers(pkg: string): { layers: Layer[]; config?: PolicyConfig; generated: Set<string> } {
  const m = readManifest(pkg);
  if (!Array.isArray(m.layers) || m.layers.length === 0) throw new FhsError(`package ${pkg}: its manifest lists no layers`);
  const layers = m.layers.map((l) => inspectLayer(l.path));
  return { layers, config: m.config, generated: new Set(layers.filter((l) => isStateLayer(l.path)).map((l) => l.path)) };
}

/** A wrapped package's install-time state layer is DIR/.fhs/state (src/wrap.ts);
 * an env's is a cache dir named state/HASH, see src/state.ts. */
export function isStateLayer(path: string): boolean {
  return /\/\.fhs\/state$/.test(path);
}

/** The layers named on a command line, in order, duplicates dropped (first kept). */
export function collectSources(args: { layers?: string[]; pkgs?: string[]; installing?: boolean }): { sources: LayerSource[]; configs: PolicyConfig[] } {
  const sources: LayerSource[] = [];
  const configs: PolicyConfig[] = [];
  for (const p of args.pkgs ?? []) {
    const { layers, config, generated } = packageLayers(p);
    if (config) configs.push(config);
    for (const l of layers) sources.push({ layer: l, from: p, installing: args.installing, ...(generated.has(l.path) ? { generated: true } : {}) });
  }
  for (const d of args.layers ?? []) {
    const layer = inspectLayer(d);
    sources.push({ layer, from: "layer", installing: args.installing, ...(isStateLayer(layer.path) ? { generated: true } : {}) });
  }
  return { sources, configs };
}

export function dedupeSources(sources: LayerSource[]): LayerSource[] {
  const kept = dedupeLayers(sources.map((s) => s.layer));
  return kept.map((l) => sources.find((s) => s.layer === l)!);
}

/** Severities from the base config; the packages' path overrides first, then the base's. */
export function mergeConfigs(base: PolicyConfig, pkgs: PolicyConfig[]): PolicyConfig {
  const overrides = [...pkgs.flatMap((c) => c.conflicts?.overrides ?? []), ...base.conflicts.overrides];
  return { ...base, conflicts: { severities: base.conflicts.severities, overrides } };
}

const isLib = (e: Provider["elf"]): e is ElfInfo => !!e && !("bad" in e) && e.soname !== undefined;

export async function checkConflicts(opts: ConflictOptions): Promise<{ report: ConflictReport; stats: ConflictStats }> {
  const t0 = performance.now();
  const sources = dedupeSources(opts.sources);
  if (sources.length === 0) throw new FhsError("no layers given; use --layer DIR or --pkg WRAPPED_DIR");
  const layers = sources.map((s) => s.layer);
  // The layers' /etc is in the view unless it comes from the host alone.
  const dirs = (["etc", "opt"] as const).filter((d) => (d === "etc" ? opts.config.overlay?.etc !== "host" : opts.config.overlay?.opt));
  const scanOpts = { dirs: [...dirs], progress: opts.progress };
  const index = walkLayers(layers, scanOpts);
  const t1 = performance.now();
  const { files } = await scanContents(index, scanOpts);
  const t2 = performance.now();

  const generated = sources.flatMap((s, i) => (s.generated ? [i] : []));
  const elsewhere = sonameElsewhere(index);
  const unbound = unboundReferences(index, elsewhere);
  const chunks = buildInputs(index, opts.config, opts.chunkBytes ?? 256 * 1024, generated, unbound, elsewhere);
  opts.progress?.(`classifying ${index.contested.length} contested paths`);
  const answers = await evalChunks(chunks, opts);
  const t3 = performance.now();

  const report = buildReport(index, sources, answers, opts.command ?? "conflicts", elsewhere);
  const stats: ConflictStats = {
    walkMs: t1 - t0,
    readMs: t2 - t1,
    policyMs: t3 - t2,
    totalMs: performance.now() - t0,
    filesRead: files,
    chunks: chunks.length,
    inputBytes: chunks.reduce((n, c) => n + c.length, 0),
  };
  return { report, stats };
}

/** Another provider of a library: the same SONAME at another view path. */
interface Elsewhere {
  vp: string;
  file: Provider;
}

/** The same SONAME in two directories of the loader's search path (no path
 * collides): the view's ld.so.cache lists the one in the directory ldconfig
 * met first, and the loader takes it, whatever the layer order. Keyed by the
 * view path the loader takes; the others follow in search order, when their
 * bytes differ. */
function sonameElsewhere(index: ScanIndex): Map<string, Elsewhere[]> {
  const dirs = viewLibDirs(index.layers);
  const rank = new Map(dirs.map((d, i) => [d, i]));
  const bySoname = new Map<string, { vp: string; rank: number; file: Provider }[]>();
  for (const [vp, list] of index.paths) {
    const slash = vp.lastIndexOf("/");
    const r = rank.get(vp.slice(0, slash));
    if (r === undefined) continue;
    const file = resolveProvider(index, vp, list[0]!);
    // ldconfig lists a library under its SONAME, at the path named by it.
    if (!file || !isLib(file.elf) || file.elf.soname !== vp.slice(slash + 1)) continue;
    let l = bySoname.get(file.elf.soname);
    if (!l) bySoname.set(file.elf.soname, (l = []));
    l.push({ vp, rank: r, file });
  }
  const out = new Map<string, Elsewhere[]>();
  for (const l of bySoname.values()) {
    if (l.length < 2) continue;
    l.sort((a, b) => a.rank - b.rank);
    const w = l[0]!;
    const wHash = fileHash(w.file);
    const rest = l.slice(1).filter((x) => x.file.abs !== w.file.abs && fileHash(x.file) !== wHash);
    if (rest.length > 0) out.set(w.vp, rest.map((x) => ({ vp: x.vp, file: x.file })));
  }
  return out;
}

/** A provider's sha256, read now if the scan did not need it. */
function fileHash(p: Provider): string {
  if (!p.hash) {
    try {
      const bytes = readFileSync(p.abs);
      p.hash = createHash("sha256").update(bytes).digest("hex");
      p.size = bytes.length;
    } catch (e) {
      return `unreadable:${(e as NodeJS.ErrnoException).code ?? "?"}`;
    }
  }
  return p.hash;
}

/** The facts behind the symbol-level classes: for every contested path where
 * the winner and a loser are the same SONAME, each reference of a consumer in
 * the view (an object that needs that SONAME) that the winner cannot bind, the
 * way ld.so binds it (docs/CONFLICTS.md):
 * - a reference versioned with a node of this SONAME (its verneed vn_file)
 *   binds only to that name and version; if the winner has no DT_VERDEF at
 *   all, ld.so's check_match asserts and the process dies ("unversioned");
 *   a version node the winner lacks altogether fails the load earlier, in the
 *   version check, and is a `need` fact, not one of these;
 * - an unversioned reference binds to any definition of the name; it is the
 *   winner's to bind when a loser of the same SONAME defines it;
 * - an unresolved weak reference binds to 0, which is no error.
 * Keyed by contested path; the records go with the path's providers. */
function unboundReferences(index: ScanIndex, elsewhere: Map<string, Elsewhere[]>): Map<string, Rec[]> {
  const out = new Map<string, Rec[]>();
  const symCache = new Map<string, ElfSymbols | null>();
  const symbols = (abs: string): ElfSymbols | null => {
    let s = symCache.get(abs);
    if (s === undefined) {
      const r = readElfSymbols(abs);
      symCache.set(abs, (s = "bad" in r ? null : r));
    }
    return s;
  };
  let consumersBySoname: Map<string, { vp: string; p: Provider }[]> | undefined;
  for (const vp of libraryPaths(index, elsewhere)) {
    const provs = providersOf(index, vp);
    const w = resolveProvider(index, vp, provs[0]!);
    if (!w || !isLib(w.elf)) continue;
    const soname = w.elf.soname!;
    const losers = [...provs.slice(1).map((p) => resolveProvider(index, vp, p)), ...(elsewhere.get(vp) ?? []).map((x) => x.file)].filter(
      (p): p is Provider => !!p && isLib(p.elf) && p.elf.soname === soname && p.abs !== w.abs && !(p.hash && p.hash === w.hash),
    );
    if (losers.length === 0) continue;
    if (!consumersBySoname) {
      consumersBySoname = new Map();
      for (const [cvp, list] of index.paths) {
        const c = list[0]!;
        const e = c.elf;
        if (c.type !== "file" || !e || "bad" in e) continue;
        for (const so of new Set([...e.needed, ...e.needs.map((n) => n.file)])) {
          let l = consumersBySoname.get(so);
          if (!l) consumersBySoname.set(so, (l = []));
          l.push({ vp: cvp, p: c });
        }
      }
    }
    const ws = symbols(w.abs);
    if (!ws) continue;
    const wElf = w.elf as ElfInfo;
    const loserSyms = losers.map((l) => symbols(l.abs)).filter((s): s is ElfSymbols => !!s);
    const recs: Rec[] = [];
    for (const c of consumersBySoname.get(soname) ?? []) {
      if (c.p.abs === w.abs || losers.some((l) => l.abs === c.p.abs)) continue;
      // ld.so checks versions before it binds anything: a consumer that needs
      // a version node the winner lacks never gets to its symbols.
      const e = c.p.elf as ElfInfo;
      if (wElf.versioned && e.needs.some((n) => n.file === soname && n.versions.some((v) => !wElf.defs.includes(v)))) continue;
      const cs = symbols(c.p.abs);
      if (!cs) continue;
      const seen = new Set<string>();
      for (const r of cs.refs) {
        let cause: "absent" | "unversioned" | undefined;
        if (r.file === soname) {
          if (!wElf.versioned) cause = ws.names.has(r.name) || !r.weak ? "unversioned" : undefined;
          else if (!wElf.defs.includes(r.version!)) cause = !needsVersion(c.p, soname, r.version!) && !r.weak ? "absent" : undefined;
          else if (!ws.defined.has(`${r.name}@${r.version}`) && !r.weak) cause = "absent";
        } else if (r.file === undefined && !ws.names.has(r.name) && !r.weak && loserSyms.some((l) => l.names.has(r.name))) cause = "absent";
        if (!cause) continue;
        const key = `${r.name}@${r.version ?? ""}`;
        if (seen.has(key)) continue;
        seen.add(key);
        recs.push(["unbound", c.vp, String(c.p.layer), soname, r.name, r.version ?? "-", r.load ? "load" : "lazy", cause]);
      }
    }
    if (recs.length > 0) out.set(vp, recs);
  }
  return out;
}

/** The paths the policy classes: the contested ones and the winners of a
 * SONAME found elsewhere too, in byte order. */
function libraryPaths(index: ScanIndex, elsewhere: Map<string, Elsewhere[]>): string[] {
  const contested = new Set(index.contested);
  return [...index.contested, ...[...elsewhere.keys()].filter((vp) => !contested.has(vp))].sort(compareBytes);
}

/** A path's own providers: all of them when contested, else the one there is. */
function providersOf(index: ScanIndex, vp: string): Provider[] {
  const list = index.paths.get(vp)!;
  return list.length > 1 ? list : [list[0]!];
}

/** Whether the consumer's version check asks for VERSION of SONAME (a
 * non-weak need: a missing one fails the load before any symbol is bound). */
function needsVersion(p: Provider, soname: string, version: string): boolean {
  const e = p.elf as ElfInfo;
  return e.needs.some((n) => n.file === soname && n.versions.includes(version));
}

/** Policy inputs, each self-contained: config, the libraries its paths lead
 * to, the version needs on those libraries, then the paths. */
function buildInputs(
  index: ScanIndex,
  config: PolicyConfig,
  chunkBytes: number,
  generated: number[],
  unbound: Map<string, Rec[]>,
  elsewhere: Map<string, Elsewhere[]>,
): Uint8Array[] {
  const cfg: Rec[] = [...configRecords(config).filter((r) => r[0] === "severity" || r[0] === "override"), ...generated.map((i): Rec => ["generated", String(i)])];
  // Version needs of every ELF object the view shows, by provider SONAME.
  const needsBySoname = new Map<string, Rec[]>();
  for (const [vp, list] of index.paths) {
    const w = list[0]!;
    const e = w.elf;
    if (!e || "bad" in e) continue;
    for (const n of e.needs) {
      if (n.versions.length === 0 && !n.weak) continue;
      let l = needsBySoname.get(n.file);
      if (!l) needsBySoname.set(n.file, (l = []));
      if (n.versions.length > 0) l.push(["need", n.file, vp, String(w.layer), ...n.versions]);
      // Weak needs fail no version check, but ld.so still reports a winner without versions.
      if (n.weak) l.push(["weakneed", n.file, vp, String(w.layer), ...n.weak]);
    }
  }
  const needBytes = new Map<string, number>();
  for (const [so, l] of needsBySoname) {
    l.sort((a, b) => compareBytes(a[2]!, b[2]!));
    needBytes.set(so, l.reduce((n, r) => n + r.join(" ").length + 2, 0));
  }

  const out: Uint8Array[] = [];
  let libs: Rec[] = [];
  let libIds = new Map<ElfInfo, number>();
  /** Libraries without DT_VERDEF, by their lib record's index. */
  let plain: Rec[] = [];
  let paths: Rec[] = [];
  let bytes = 0;
  const flush = () => {
    if (paths.length === 0) return;
    const sonames = new Set(libs.map((l) => l[1]!));
    const needs = [...sonames].sort(compareBytes).flatMap((s) => needsBySoname.get(s) ?? []);
    // A library every object needs (libc.so.6) can bring more needs than one
    // evaluation holds: the paths go again with each slice of the needs, and
    // the answers are merged per path (the worst class wins, as in the policy).
    let slice: Rec[] = [];
    let sliceBytes = 0;
    for (const n of needs) {
      slice.push(n);
      sliceBytes += n.join(" ").length + 2;
      if (sliceBytes >= chunkBytes) {
        out.push(encodeRecords([["req", "conflicts"], ...cfg, ...libs, ...plain, ...slice, ...paths]));
        slice = [];
        sliceBytes = 0;
      }
    }
    if (slice.length > 0 || needs.length === 0) out.push(encodeRecords([["req", "conflicts"], ...cfg, ...libs, ...plain, ...slice, ...paths]));
    libs = [];
    plain = [];
    libIds = new Map();
    paths = [];
    bytes = 0;
  };
  const libId = (e: ElfInfo): number => {
    let id = libIds.get(e);
    if (id === undefined) {
      libIds.set(e, (id = libs.length));
      // A SONAME new to this chunk brings its consumers' needs along.
      if (!libs.some((l) => l[1] === e.soname)) bytes += needBytes.get(e.soname!) ?? 0;
      libs.push(["lib", e.soname!, ...e.defs]);
      if (!e.versioned) plain.push(["unversioned", String(id)]);
      bytes += e.soname!.length + e.defs.join(" ").length;
    }
    return id;
  };
  for (const vp of libraryPaths(index, elsewhere)) {
    const group: Rec[] = [["path", vp]];
    const own = providersOf(index, vp);
    // The winner's bytes, to tell an identical copy elsewhere (fileHash) from another build.
    for (const p of own) {
      const rec: Rec = ["prov", String(p.layer), p.type, own.length > 1 ? providerValue(p) : fileHash(resolveProvider(index, vp, p) ?? p)];
      const e = resolveProvider(index, vp, p)?.elf;
      if (isLib(e)) rec.push(String(libId(e)));
      group.push(rec);
    }
    for (const x of elsewhere.get(vp) ?? []) group.push(["alt", String(x.file.layer), fileHash(x.file), String(libId(x.file.elf as ElfInfo))]);
    group.push(...(unbound.get(vp) ?? []));
    paths.push(...group);
    bytes += group.reduce((n, r) => n + r.join(" ").length + 2, 0);
    if (bytes >= chunkBytes) flush();
  }
  flush();
  return out;
}

function providerValue(p: Provider): string {
  if (p.type === "file") return p.hash ?? `unreadable:${p.error ?? "?"}`;
  if (p.type === "link") return p.target || `unreadable:${p.error ?? "?"}`;
  return "-";
}

async function evalChunks(chunks: Uint8Array[], opts: ConflictOptions): Promise<Rec[][]> {
  const answers: Rec[][] = new Array(chunks.length);
  let next = 0;
  const run = async () => {
    while (next < chunks.length) {
      const i = next++;
      const res = await evalPolicy(opts.policy, chunks[i]!, { name: opts.policyName });
      if (res.status !== 0) {
        const msg = res.records.find((r) => r[0] === "error")?.slice(1).join(" ") ?? "refused";
        throw new FhsError(`policy ${opts.policyName}: refused the conflict classification: ${msg}`);
      }
      answers[i] = res.records;
    }
  };
  await Promise.all(Array.from({ length: Math.min(chunks.length, availableParallelism()) }, run));
  return answers;
}

function buildReport(index: ScanIndex, sources: LayerSource[], answers: Rec[][], command: ConflictReport["command"], elsewhere: Map<string, Elsewhere[]>): ConflictReport {
  const layerPath = (i: string | number) => index.layers[Number(i)]!.path;
  const conflicts: Conflict[] = [];
  const seen = new Map<string, Conflict>();
  let cur: Conflict | undefined;
  /** Whether the last conflict record set cur's class (its override record then applies). */
  let took = false;
  for (const rec of answers.flat()) {
    if (rec[0] === "conflict") {
      const [, path, cls, sev, winner, losers] = rec as [string, string, string, Severity, string, string];
      // The answer names the providers by layer, in the order they were sent:
      // the path's own, then the same SONAME elsewhere (one layer may hold both).
      const all = [...providersOf(index, path).map((p) => describe(index, path, p)), ...(elsewhere.get(path) ?? []).map((x) => ({ ...describe(index, x.vp, x.file), path: x.vp }))];
      const named = [winner, ...losers.split(",")];
      if (named.length !== all.length || named.some((l, i) => all[i]!.layer !== index.layers[Number(l)]?.path)) throw new FhsError(`policy: answer for ${path} names other providers than were sent`);
      const next: Conflict = { path, class: cls, severity: sev, winner: all[0]!, losers: all.slice(1), reason: "" };
      const prev = seen.get(path);
      if (!prev) {
        seen.set(path, next);
        conflicts.push(next);
        cur = next;
        took = true;
      } else {
        // The same path answered again with another slice of the needs.
        took = CLASS_RANK.indexOf(cls) > CLASS_RANK.indexOf(prev.class);
        if (took) {
          prev.class = cls;
          prev.severity = sev;
          delete prev.override;
        }
        cur = prev;
      }
    } else if (rec[0] === "override" && cur) {
      if (!took) continue;
      // The conflict record holds the overridden severity; this one the class's own.
      cur.override = { glob: rec[1]!, classSeverity: rec[2] as Severity };
    } else if (rec[0] === "unbound" && cur) {
      const [, consumer, layer, soname, symbol, version, binding, cause] = rec as string[];
      const u: Unbound = { consumer: consumer!, consumerLayer: layerPath(layer!), soname: soname!, symbol: symbol!, ...(version !== "-" ? { version } : {}), binding: binding as Unbound["binding"], cause: cause as Unbound["cause"] };
      // A path goes to the policy again with each slice of the needs, its facts with it.
      if (!(cur.unbound ??= []).some((x) => x.consumer === u.consumer && x.symbol === u.symbol && x.version === u.version)) cur.unbound.push(u);
    } else if (rec[0] === "missing" && cur) {
      (cur.diamonds ??= []).push({ consumer: rec[1]!, consumerLayer: layerPath(rec[2]!), soname: rec[3]!, version: rec[4]!, loser: rec[5] ? layerPath(rec[5]) : null });
    } else {
      throw new FhsError(`policy: unexpected answer record ${rec[0]}`);
    }
  }
  for (const c of conflicts) c.reason = reasonOf(c);

  const problems: Problem[] = index.problems.map((p) => ({ path: p.path, layer: layerPath(p.layer), reason: p.reason }));
  for (const [vp, list] of index.paths) {
    for (const p of list) {
      if (p.elf && "bad" in p.elf) problems.push({ path: vp, layer: layerPath(p.layer), reason: `bad ELF: ${p.elf.bad}` });
      else if (p.error) problems.push({ path: vp, layer: layerPath(p.layer), reason: `unreadable (${p.error})` });
    }
  }
  problems.sort((a, b) => compareBytes(a.path, b.path) || compareBytes(a.layer, b.layer));

  let kept = conflicts;
  let preexisting: number | undefined;
  if (command === "check-install") {
    const installing = new Set(sources.filter((s) => s.installing).map((s) => s.layer.path));
    const involved = (c: Conflict) =>
      installing.has(c.winner.layer) ||
      c.losers.some((l) => installing.has(l.layer)) ||
      (c.diamonds ?? []).some((d) => installing.has(d.consumerLayer)) ||
      (c.unbound ?? []).some((d) => installing.has(d.consumerLayer));
    kept = conflicts.filter(involved);
    preexisting = conflicts.length - kept.length;
  }
  const rank = (s: Severity) => SEVERITIES.indexOf(s);
  kept.sort((a, b) => rank(a.severity) - rank(b.severity) || compareBytes(a.path, b.path));
  const count = (s: Severity) => kept.filter((c) => c.severity === s).length;
  return {
    fhsConflictReport: REPORT_VERSION,
    command,
    layers: sources.map((s) => ({ path: s.layer.path, layout: s.layer.layout, from: s.from, ...(command === "check-install" ? { installing: !!s.installing } : {}) })),
    summary: {
      layers: index.layers.length,
      entries: index.entries,
      contested: index.contested.length,
      error: count("error"),
      warning: count("warning"),
      info: count("info"),
      ok: count("ok"),
      problems: problems.length,
      ...(preexisting !== undefined ? { preexisting } : {}),
    },
    conflicts: kept,
    problems,
  };
}

function describe(index: ScanIndex, vp: string, p: Provider): ProviderReport {
  const r: ProviderReport = { layer: index.layers[p.layer]!.path, type: p.type };
  if (p.type === "file" && p.hash) {
    r.size = p.size;
    r.sha256 = p.hash;
  }
  if (p.type === "link") r.target = p.target;
  const e = resolveProvider(index, vp, p)?.elf;
  if (isLib(e)) r.soname = e.soname;
  return r;
}

function reasonOf(c: Conflict): string {
  const moved = c.losers.filter((l) => l.path !== undefined);
  const why = classReason(c);
  // The loader, not the layer order, chose among the directories.
  return moved.length === 0 ? why : `${why}; the loader's search order takes ${c.path} before ${[...new Set(moved.map((l) => l.path))].join(", ")}`;
}

function classReason(c: Conflict): string {
  const w = c.winner;
  const l = c.losers.find((x) => x.type !== w.type) ?? c.losers.find((x) => (x.sha256 ?? x.target) !== (w.sha256 ?? w.target)) ?? c.losers[0]!;
  switch (c.class) {
    case "identical":
      return w.type === "link" ? "same link target" : w.type === "dir" ? "directories merge" : "same bytes";
    case "shadowed-compatible":
      return `same SONAME ${w.soname}; the winner defines every version node and symbol the closure binds`;
    case "diamond-incompatible": {
      const n = new Set(c.diamonds?.map((d) => d.consumer)).size;
      return `${n} consumer${n === 1 ? "" : "s"} need${n === 1 ? "s" : ""} version nodes of ${w.soname} that the winner lacks`;
    }
    case "unversioned-shadow":
      return `the winner has no symbol versions; ld.so prints "no version information available" for the consumers that need version nodes of ${w.soname}, and binds nothing they reference through them`;
    case "missing-symbol": {
      const u = (c.unbound ?? []).find((x) => x.binding === "load")!;
      return `${u.consumer} binds ${u.symbol}${u.version ? `@${u.version}` : ""} when loaded, ${u.cause === "unversioned" ? "a versioned reference into a library without symbol versions (ld.so aborts)" : "which the winner does not define (symbol lookup error)"}: it cannot start`;
    }
    case "missing-symbol-lazy": {
      const n = new Set(c.unbound?.map((x) => x.symbol)).size;
      return `the winner cannot bind ${n} function${n === 1 ? "" : "s"} the consumers bind lazily: they start, and fail at the first call to one`;
    }
    case "state-override":
      return "install-time state replaces the package's entry, as dpkg leaves it";
    case "state-collision":
      return "two install-time states differ; the upper one wins, with no priorities compared";
    case "type-clash":
      return `${w.type} vs ${l.type}`;
    default:
      return w.type === "link" ? "different link targets" : w.type === "file" ? "different contents" : `both are ${w.type}`;
  }
}

/** The human report: grouped by severity, most severe first. */
export function formatReport(r: ConflictReport, color: { red: (s: string) => string; yellow: (s: string) => string; bold: (s: string) => string }): string {
  const lines: string[] = [];
  const head: Record<Severity, (s: string) => string> = { error: color.red, warning: color.yellow, info: (s) => s, ok: (s) => s };
  for (const sev of SEVERITIES) {
    const group = r.conflicts.filter((c) => c.severity === sev);
    if (group.length === 0) continue;
    if (sev === "ok") {
      lines.push(`ok (${group.length}): identical in every layer that provides them`);
      continue;
    }
    lines.push(head[sev](color.bold(`${sev} (${group.length})`)));
    for (const c of group) {
      lines.push(`  ${c.path}  [${c.class}] ${c.reason}${c.override ? ` (override ${c.override.glob}: ${c.override.classSeverity} -> ${c.severity})` : ""}`);
      lines.push(`    winner ${providerLine(c.winner)}`);
      for (const l of c.losers) lines.push(`    loser  ${providerLine(l)}`);
      for (const d of c.diamonds ?? []) {
        lines.push(`    ${d.consumer} (from ${d.consumerLayer}) needs ${d.version} of ${d.soname}: ${d.loser ? `only in loser ${d.loser}` : "no provider defines it"}`);
      }
      for (const u of c.unbound ?? []) {
        const what = u.cause === "unversioned" ? "versioned, into a library without versions" : "not defined by the winner";
        lines.push(`    ${u.consumer} (from ${u.consumerLayer}) binds ${u.symbol}${u.version ? `@${u.version}` : ""} of ${u.soname} ${u.binding === "load" ? "at load" : "lazily"}: ${what}`);
      }
    }
  }
  if (r.problems.length > 0) {
    lines.push(color.yellow(color.bold(`problems (${r.problems.length})`)));
    for (const p of r.problems) lines.push(`  ${p.path} in ${p.layer}: ${p.reason}`);
  }
  const s = r.summary;
  lines.push(
    `${s.layers} layers, ${s.entries} entries, ${s.contested} contested paths: ${s.error} errors, ${s.warning} warnings, ${s.info} info, ${s.ok} identical` +
      (s.preexisting !== undefined ? `; ${s.preexisting} conflicts among the existing layers left out` : ""),
  );
  return lines.join("\n") + "\n";
}

function providerLine(p: ProviderReport): string {
  const what = p.type === "link" ? `-> ${p.target}` : p.type === "file" ? `${p.size} bytes sha256:${p.sha256?.slice(0, 12)}` : p.type;
  return `${p.layer}${p.path ? ` ${p.path}` : ""}  ${what}${p.soname ? ` (SONAME ${p.soname})` : ""}`;
}

export { loadConfig };
