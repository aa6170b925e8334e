// Typed facts: what a request's input records say, read once (docs/ABI.md).
// The host gathers facts about the world (layers, the host's root, the view
// it runs in) and appends the package's config; the readers here turn the
// record stream into one object per request, so a decision reads fields, not
// records. A record the request does not know (or with the wrong number of
// fields) is an error, never ignored: a host and a policy that disagree on
// the input must not silently produce a plan.
import { Layer } from "./layers";

/** One entry of the host's root directory (`host NAME TYPE [TARGET]`). */
export class HostEntry {
  constructor(public name: string, public type: string, public target: string) {}
}

/** `req launch`: the package, the host, the view the launch runs in, the config. */
export class LaunchFacts {
  /** "" when the input was understood; else why not (the refusal's message). */
  error: string = "";
  /** The package's layers, its own first (`layer`). */
  layers: Layer[] = [];
  /** The layers of the view the launch runs in, if any (`view`). */
  view: Layer[] = [];
  /** The host's root directory (`host`), in the order given. */
  hosts: HostEntry[] = [];
  /** Config: extra dirs to overlay besides /usr (`overlay`). */
  overlays: string[] = [];
  /** Config: host top-level dirs never bound (`never-bind`). */
  neverBind: string[] = [];
  /** Config: environment, as key, value pairs (`setenv`). */
  env: string[] = [];
  /** Config: where /etc comes from: "host", "layers" or "layers+host" (`etc-from`). */
  etcFrom: string = "host";
  /** Config: machine files under /etc that are always the host's (`etc-host`). */
  etcHost: string[] = [];
  /** IN_NIX_FHS of the caller, "" when unset (`env-marker`). */
  envMarker: string = "";
  /** The root is the read-only tmpfs only a launcher makes (`marker-root ok`). */
  markerRoot: bool = false;
  /** The id the view's marker carries (`view-id`). */
  markerId: string = "";
  /** The package's ld.so.cache, made at wrap time (`ldcache`). */
  ldCache: string = "";
  /** The host has etc/ld.so.cache (`host-file etc/ld.so.cache`). */
  hostHasLdCache: bool = false;
  /** Some layer above the package shadows its program in the view (`shadowed`). */
  shadowed: bool = false;
  /** Which of etcHost the host's /etc holds (`host-etc-file`). */
  hostEtcHas: string[] = [];
  /** Where the view the launch runs in keeps the host's /etc (`host-etc`). */
  markerHostEtc: string = "";
  /** The host's /etc has mounts below it (`host-etc-mounted`). */
  hostEtcMounted: bool = false;
}

export function launchFacts(input: Array<Array<string>>): LaunchFacts {
  const f = new LaunchFacts();
  for (let i = 1; i < input.length; i++) {
    const r = unchecked(input[i]);
    if (!readLaunchRecord(f, r, unchecked(r[0]), r.length)) {
      f.error = unexpectedRecord(r);
      return f;
    }
  }
  return f;
}

/** One record into the facts; false when the request does not take it. The
 * kind's length picks the few names it can be: wasm3 interprets, and a
 * chain of a score of string comparisons for each of a launch's ~200 records
 * was a real share of a cold launch. */
function readLaunchRecord(f: LaunchFacts, r: string[], k: string, n: i32): bool {
  switch (k.length) {
    case 4:
      if (k == "view" && n == 4) return pushLayer(f.view, r);
      if (k == "host" && (n == 3 || n == 4)) {
        f.hosts.push(new HostEntry(unchecked(r[1]), unchecked(r[2]), n == 4 ? unchecked(r[3]) : ""));
        return true;
      }
      return false;
    case 5:
      return k == "layer" && n == 4 && pushLayer(f.layers, r);
    case 6:
      if (k == "setenv" && n == 3) {
        f.env.push(unchecked(r[1]));
        f.env.push(unchecked(r[2]));
        return true;
      }
      return false;
    case 7:
      if (n != 2) return false;
      if (k == "overlay") f.overlays.push(unchecked(r[1]));
      else if (k == "view-id") f.markerId = unchecked(r[1]);
      else if (k == "ldcache") f.ldCache = unchecked(r[1]);
      else return false;
      return true;
    case 8:
      // Config for other requests: not launch decisions.
      if (k == "wrap-dir" || k == "severity" || k == "override") return true;
      if (n != 2) return false;
      if (k == "etc-host") f.etcHost.push(unchecked(r[1]));
      else if (k == "shadowed") f.shadowed = true;
      else if (k == "host-etc") f.markerHostEtc = unchecked(r[1]);
      else if (k == "etc-from") {
        const v = unchecked(r[1]);
        if (v != "layers+host" && v != "host" && v != "layers") return false;
        f.etcFrom = v;
      } else return false;
      return true;
    case 9:
      if (k == "host-file" && n == 2) {
        f.hostHasLdCache = f.hostHasLdCache || unchecked(r[1]) == "etc/ld.so.cache";
        return true;
      }
      return false;
    case 10:
      if (n != 2) return false;
      if (k == "never-bind") f.neverBind.push(unchecked(r[1]));
      else if (k == "env-marker") f.envMarker = unchecked(r[1]);
      else return false;
      return true;
    case 11:
      if (k == "marker-root" && n == 2) {
        f.markerRoot = unchecked(r[1]) == "ok";
        return true;
      }
      return false;
    case 13:
      if (k == "host-etc-file" && n == 2) {
        f.hostEtcHas.push(unchecked(r[1]));
        return true;
      }
      return false;
    case 16:
      if (k == "host-etc-mounted" && n == 1) {
        f.hostEtcMounted = true;
        return true;
      }
      return false;
  }
  return false;
}

function pushLayer(list: Layer[], r: string[]): bool {
  list.push(new Layer(unchecked(r[1]), unchecked(r[2]), unchecked(r[3])));
  return true;
}

/** `req build`: the dependency layers, the staging dirs the CLI prepared, the config. */
export class BuildFacts {
  error: string = "";
  layers: Layer[] = [];
  /** The host's top-level directories (`host NAME dir`); other entries are not kept. */
  hostDirs: string[] = [];
  overlays: string[] = [];
  etcFrom: string = "host";
  env: string[] = [];
  /** /usr's upper and work dirs, and the source dir mounted at /build. */
  upper: string = "";
  work: string = "";
  dir: string = "";
  cwd: string = "/build";
  network: bool = false;
  /** SOURCE_DATE_EPOCH. */
  epoch: string = "";
  /** A state build (src/state.ts): /etc's upper and work dirs, the staged /var, root in its namespace. */
  etcUpper: string = "";
  etcWork: string = "";
  varDir: string = "";
  root: bool = false;
}

export function buildFacts(input: Array<Array<string>>): BuildFacts {
  const f = new BuildFacts();
  for (let i = 1; i < input.length; i++) {
    const r = input[i];
    const k = r[0];
    const n = r.length;
    if (k == "layer" && n == 4) f.layers.push(new Layer(r[1], r[2], r[3]));
    else if (k == "host" && (n == 3 || n == 4)) {
      if (r[2] == "dir") f.hostDirs.push(r[1]);
    } else if (k == "overlay" && n == 2) f.overlays.push(r[1]);
    else if (k == "etc-from" && n == 2) f.etcFrom = r[1];
    else if (k == "setenv" && n == 3) {
      f.env.push(r[1]);
      f.env.push(r[2]);
    } else if (k == "build-upper" && n == 2) f.upper = r[1];
    else if (k == "build-work" && n == 2) f.work = r[1];
    else if (k == "build-dir" && n == 2) f.dir = r[1];
    else if (k == "build-cwd" && n == 2) f.cwd = r[1];
    else if (k == "network" && n == 2) f.network = r[1] == "on";
    else if (k == "source-date-epoch" && n == 2) f.epoch = r[1];
    else if (k == "build-etc-upper" && n == 2) f.etcUpper = r[1];
    else if (k == "build-etc-work" && n == 2) f.etcWork = r[1];
    else if (k == "build-var" && n == 2) f.varDir = r[1];
    else if (k == "build-root" && n == 2) f.root = r[1] == "on";
    else if (k == "never-bind" || k == "etc-host" || k == "wrap-dir" || k == "severity" || k == "override") continue;
    else {
      f.error = unexpectedRecord(r);
      return f;
    }
  }
  return f;
}

/** One entry of a package's usr/ dirs (`candidate REL KIND`); KIND: exec, script, link-exec, other. */
export class Candidate {
  constructor(public rel: string, public kind: string) {}
}

/** `req wrap`: the package's executables and the config's wrapped dirs. */
export class WrapFacts {
  error: string = "";
  wrapDirs: string[] = [];
  candidates: Candidate[] = [];
}

/** Records of other shapes are config for other requests, which `req wrap` passes over. */
export function wrapFacts(input: Array<Array<string>>): WrapFacts {
  const f = new WrapFacts();
  for (let i = 1; i < input.length; i++) {
    const r = input[i];
    if (r[0] == "wrap-dir" && r.length == 2) f.wrapDirs.push(r[1]);
    else if (r[0] == "candidate" && r.length == 3) f.candidates.push(new Candidate(r[1], r[2]));
  }
  return f;
}

/** The refusal for a record a request does not take. */
export function unexpectedRecord(r: string[]): string {
  return "unexpected input record: " + r[0] + " with " + (r.length - 1).toString() + " fields";
}
