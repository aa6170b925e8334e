// `fhs plan`: exactly the plan a launch would carry out, computed by the same
// policy.wasm in Node from the same facts the launcher gathers.
import { accessSync, constants, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statfsSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import { FhsError } from "./errors.js";
import { inspectLayer } from "./layers.js";
import { readCompiledManifest, readManifest } from "./manifest.js";
import { loadConfig } from "./policy/config.js";
import { evalPolicy, type PolicyResult } from "./policy/host.js";
import { decodeRecords, encodeRecords, type Rec } from "./policy/records.js";

const TMPFS_MAGIC = 0x01021994;
const LAUNCHER_SUFFIX = "/usr/bin/.fhs-launcher";
/** Where a view keeps the host's /etc for nested launches (launcher/launch.h). */
const HOST_ETC_IN_VIEW = "/.fhs/host-etc";
/** A normalized relative path, as the launcher's rel_path_ok accepts it. */
const REL_PATH = /^(?!\.\.?(\/|$))[^/\0]+(\/(?!\.\.?(\/|$))[^/\0]+)*$/;

/** `host-etc-file REL` for each machine path of the config (`etc-host REL`)
 * that the host's /etc holds: the current root's, or the copy the current
 * view kept, exactly as the launcher probes them. */
export function hostEtcFiles(config: Rec[], viewFacts: Rec[]): Rec[] {
  const kept = viewFacts.some((r) => r[0] === "marker-root") && viewFacts.some((r) => r[0] === "host-etc" && r.length === 2 && r[1] === HOST_ETC_IN_VIEW);
  let hostEtc = "/etc";
  if (kept) {
    try {
      if (statSync(HOST_ETC_IN_VIEW).isDirectory()) hostEtc = HOST_ETC_IN_VIEW;
    } catch {
      // Not there: the current root's, as the launcher falls back to.
    }
  }
  const recs: Rec[] = [];
  const mounts = mountPointsBelow(hostEtc);
  let mounted = false;
  for (const r of config) {
    if (r[0] !== "etc-host" || r.length !== 2 || !REL_PATH.test(r[1]!)) continue;
    try {
      lstatSync(join(hostEtc, r[1]!));
    } catch {
      continue; // The host has no such file: the layers' (if any) shows.
    }
    recs.push(["host-etc-file", r[1]!]);
    // On another mount than the host's /etc: the path or a directory on the way is a mount point.
    const path = join(hostEtc, r[1]!);
    if (mounts.some((m) => path === m || path.startsWith(m + "/"))) mounted = true;
  }
  if (mounted) recs.push(["host-etc-mounted"]);
  return recs;
}

/** Mount points strictly below `dir`, from /proc/self/mountinfo (the launcher
 * compares statx mount ids; Node has none, the answer is the same). */
function mountPointsBelow(dir: string): string[] {
  let info: string;
  try {
    info = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return [];
  }
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return info
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((m): m is string => !!m)
    .map(unescape)
    .filter((m) => m.startsWith(dir + "/"));
}

/** The package a wrapper (or a package dir) belongs to, as the launcher finds it. */
export function resolvePackage(target: string): { pkg: string; program?: string } {
  const abs = resolve(target);
  if (existsSync(join(abs, ".fhs", "manifest.bin"))) return { pkg: abs };
  // The same walk as the launcher's find_wrapper: the hop whose target is a
  // package's launcher is the wrapper, usr/<dir>/<name>.
  let cur = abs;
  for (let hops = 0; hops < 40; hops++) {
    let link: string;
    try {
      link = readlinkSync(cur);
    } catch {
      break;
    }
    if (link.endsWith(LAUNCHER_SUFFIX) && link.startsWith("/")) {
      // The wrapper's directory by its real path (~/pbin -> pkg/usr/bin is usr/bin).
      return { pkg: link.slice(0, -LAUNCHER_SUFFIX.length), program: `${basename(realpathSync(dirname(cur)))}/${basename(cur)}` };
    }
    cur = link.startsWith("/") ? link : join(cur, "..", link);
  }
  throw new FhsError(`${target}: neither a wrapped package nor a wrapper`);
}

export function hostEntries(root = "/"): Rec[] {
  const recs: Rec[] = [];
  for (const e of readdirSync(root, { withFileTypes: true })) {
    if (e.isSymbolicLink()) recs.push(["host", e.name, "link", readlinkSync(join(root, e.name))]);
    else recs.push(["host", e.name, e.isDirectory() ? "dir" : e.isFile() ? "file" : "other"]);
  }
  return recs;
}

/** Whether /usr/<program> in the current view is not the package's own
 * .fhs/raw/<program> (the launcher's program_shadowed). */
function programShadowed(pkg: string, program: string): boolean {
  try {
    const a = lstatSync(`/usr/${program}`, { bigint: true });
    const b = lstatSync(join(pkg, ".fhs", "raw", program), { bigint: true });
    return a.ino !== b.ino || a.mode !== b.mode || a.size !== b.size || a.mtimeNs !== b.mtimeNs;
  } catch {
    return true;
  }
}

/** The facts about the view we are in, exactly as the launcher reads them. */
export function currentViewFacts(self?: { pkg: string; program?: string }): Rec[] {
  const marker = process.env.IN_NIX_FHS;
  if (!marker) return [];
  const recs: Rec[] = [["env-marker", marker]];
  try {
    const rootIsRoTmpfs = statfsSync("/").type === TMPFS_MAGIC && !isWritable("/");
    if (rootIsRoTmpfs) {
      recs.push(["marker-root", "ok"], ...decodeRecords(readFileSync("/.fhs/view")));
      if (self?.program && programShadowed(self.pkg, self.program)) recs.push(["shadowed", self.program]);
    }
  } catch {
    // No marker: not inside a view, whatever the variable says.
  }
  return recs;
}

function isWritable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "EROFS";
  }
}

/** Facts for a simulated view made of the given layers or wrapped packages.
 * Like a view the default policy makes, it keeps the host's /etc for nested
 * launches when its /etc is not the host's alone: some layer has an etc and
 * the config (the package's, or the default for a bare layer) takes it. */
export function simulatedViewFacts(inside: string[]): Rec[] {
  const id = "simulated";
  const views: Rec[] = [];
  let keepsHostEtc = false;
  for (const item of inside) {
    const wrapped = existsSync(join(item, ".fhs", "manifest.json"));
    const manifest = wrapped ? readManifest(item) : undefined;
    const layers = manifest ? manifest.layers : [inspectLayer(item)];
    const config = manifest ? manifest.config : loadConfig();
    const etcTaken = config.overlay.etc !== "host" && !config.hostBinds.never.includes("etc");
    for (const l of layers) {
      views.push(["view", l.path, l.layout, l.dirs.join(",")]);
      if (etcTaken && l.layout === "fhs" && l.dirs.includes("etc")) keepsHostEtc = true;
    }
  }
  const kept: Rec[] = keepsHostEtc && existsSync("/etc") ? [["host-etc", HOST_ETC_IN_VIEW]] : [];
  return [["env-marker", id], ["marker-root", "ok"], ["view-id", id], ...views, ...kept];
}

export interface PlanOptions {
  /** Plan as if inside a view of these layers / wrapped packages. */
  inside?: string[];
}

export async function planLaunch(target: string, opts: PlanOptions = {}): Promise<PolicyResult & { pkg: string; input: Rec[] }> {
  const { pkg, program } = resolvePackage(target);
  const manifest = readCompiledManifest(pkg);
  const policy = manifest.find((r) => r[0] === "policy");
  if (!policy || policy.length !== 3) throw new FhsError(`package ${pkg}: the manifest names no policy`);
  const [, policyPath, sha] = policy as [string, string, string];
  const bytes = readFileSync(policyPath);
  const actual = createHash("sha256").update(bytes).digest("hex");
  if (actual !== sha) throw new FhsError(`policy ${policyPath}: sha256 ${actual} does not match the manifest's ${sha}: the module changed after wrap`);
  const forwarded = manifest.filter((r) => !["fhs-manifest", "pkg", "policy", "program"].includes(r[0]!));
  const viewFacts = opts.inside?.length ? simulatedViewFacts(opts.inside) : currentViewFacts({ pkg, program });
  const input: Rec[] = [
    ["req", "launch"],
    ...forwarded,
    ...viewFacts,
    ...hostEntries(),
    ...(existsSync("/etc/ld.so.cache") ? [["host-file", "etc/ld.so.cache"] as Rec] : []),
    ...hostEtcFiles(forwarded, viewFacts),
  ];
  const res = await evalPolicy(bytes, encodeRecords(input), { name: policyPath });
  return { ...res, pkg, input };
}
