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
  /** /usr is a read-only overlay whose own files hold the marker: only an
   * in-place launcher makes one (`marker-usr ok`). */
  markerUsr: bool = false;
  /** Config: how the view is made: "auto", "new-root" or "in-place" (`view-strategy`). */
  strategy: string = "auto";
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
    const r = input[i];
    const k = r[0];
    const n = r.length;
    if (k == "layer" && n == 4) f.layers.push(new Layer(r[1], r[2], r[3]));
    else if (k == "view" && n == 4) f.view.push(new Layer(r[1], r[2], r[3]));
    else if (k == "host" && (n == 3 || n == 4)) f.hosts.push(new HostEntry(r[1], r[2], n == 4 ? r[3] : ""));
    else if (k == "overlay" && n == 2) f.overlays.push(r[1]);
    else if (k == "never-bind" && n == 2) f.neverBind.push(r[1]);
    else if (k == "setenv" && n == 3) {
      f.env.push(r[1]);
      f.env.push(r[2]);
    } else if (k == "env-marker" && n == 2) f.envMarker = r[1];
    else if (k == "marker-root" && n == 2) f.markerRoot = r[1] == "ok";
    else if (k == "marker-usr" && n == 2) f.markerUsr = r[1] == "ok";
    else if (k == "view-strategy" && n == 2) f.strategy = r[1]; // checked by the config's schema
    else if (k == "view-id" && n == 2) f.markerId = r[1];
    else if (k == "ldcache" && n == 2) f.ldCache = r[1];
    else if (k == "shadowed" && n == 2) f.shadowed = true;
    else if (k == "host-file" && n == 2) f.hostHasLdCache = f.hostHasLdCache || r[1] == "etc/ld.so.cache";
    else if (k == "etc-from" && n == 2 && (r[1] == "layers+host" || r[1] == "host" || r[1] == "layers")) f.etcFrom = r[1];
    else if (k == "etc-host" && n == 2) f.etcHost.push(r[1]);
    else if (k == "host-etc-file" && n == 2) f.hostEtcHas.push(r[1]);
    else if (k == "host-etc" && n == 2) f.markerHostEtc = r[1];
    else if (k == "host-etc-mounted" && n == 1) f.hostEtcMounted = true;
    else if (k == "wrap-dir" || k == "severity" || k == "override") continue; // not launch decisions
    else {
      f.error = unexpectedRecord(r);
      return f;
    }
  }
  return f;
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
    else if (k == "never-bind" || k == "etc-host" || k == "view-strategy" || k == "wrap-dir" || k == "severity" || k == "override") continue;
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
