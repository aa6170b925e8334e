// `fhs plan`: exactly the plan a launch would carry out. The launcher gathers
// the facts (`fhs-launcher plan`: the manifest, the verified policy module,
// the current view, the host) and asks the policy, as a launch does, then
// prints the answer instead of making the view: there is one fact gatherer,
// so `fhs plan` and a launch cannot see different worlds.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { PATHS } from "./abi.js";
import { FhsError } from "./errors.js";
import { inspectLayer } from "./layers.js";
import { readManifest } from "./manifest.js";
import { requireLauncher } from "./paths.js";
import { loadConfig } from "./policy/config.js";
import type { PolicyResult } from "./policy/host.js";
import { decodeRecords, encodeRecords, type Rec } from "./policy/records.js";

/** The marker records of a simulated view made of the given layers or
 * wrapped packages (what its marker would hold). Like a view the default
 * policy makes, it keeps the host's /etc for nested launches when its /etc is
 * not the host's alone: some layer has an etc and the config (the package's,
 * or the default for a bare layer) takes it; where, the view's strategy
 * says: under /usr/.fhs when the first wrapped package's view is made in
 * place on this host (its own plan says), else under /.fhs. */
export function simulatedView(inside: string[]): Rec[] {
  const id = "simulated";
  const views: Rec[] = [];
  let keepsHostEtc = false;
  for (const item of inside) {
    const wrapped = existsSync(join(item, PATHS.manifestJson));
    const manifest = wrapped ? readManifest(item) : undefined;
    const layers = manifest ? manifest.layers : [inspectLayer(item)];
    const config = manifest ? manifest.config : loadConfig();
    const etcTaken = config.overlay.etc !== "host" && !config.hostBinds.never.includes("etc");
    for (const l of layers) {
      views.push(["view", l.path, l.layout, l.dirs.join(",")]);
      if (etcTaken && l.layout === "fhs" && l.dirs.includes("etc")) keepsHostEtc = true;
    }
  }
  const first = inside.find((item) => existsSync(join(item, PATHS.manifestJson)));
  const inPlace = first !== undefined && planLaunch(first).records[0]?.[1] === "inplace";
  const kept: Rec[] = keepsHostEtc && existsSync("/etc") ? [["host-etc", inPlace ? PATHS.hostEtcInPlace : PATHS.hostEtcInView]] : [];
  return [["view-id", id], ...views, ...kept];
}

export interface PlanOptions {
  /** Plan as if inside a view of these layers / wrapped packages. */
  inside?: string[];
  /** The launcher to ask (default: the built one, or $FHS_LAUNCHER). */
  launcher?: string;
}

/** The policy's answer for a launch of `target` (a wrapper, or a package
 * directory), from the launcher's facts. */
export function planLaunch(target: string, opts: PlanOptions = {}): PolicyResult {
  const launcher = requireLauncher(opts.launcher);
  const inside = opts.inside?.length ? encodeRecords(simulatedView(opts.inside)) : undefined;
  const args = ["plan", resolve(target), ...(inside ? ["--inside"] : [])];
  const r = spawnSync(launcher, args, { input: inside ?? "", maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw new FhsError(`launcher ${launcher}: ${r.error.message}`);
  if (r.status !== 0 && r.status !== 1) {
    // The launcher's one line, as the CLI's own: `fhs: <object>: <cause>`.
    const line = r.stderr.toString().trim().replace(/^fhs: /, "") || `launcher ${launcher}: exit ${r.status ?? r.signal}`;
    throw new FhsError(line);
  }
  const bytes = new Uint8Array(r.stdout);
  return { status: r.status, bytes, records: decodeRecords(bytes) };
}
