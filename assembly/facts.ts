// Typed facts: what a request's input records say, read once (docs/ABI.md).
// The host gathers facts about the world (layers, the host's root, the view
// it runs in) and appends the package's config; the readers here turn the
// record stream into one object per request, so a decision reads fields, not
// records. A record the request does not know (or with the wrong number of
// fields) is an error, never ignored: a host and a policy that disagree on
// the input must not silently produce a plan.
import { Layer } from "./layers";
import { RecordWriter, bytesAre, decodeField } from "./records";

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
  /** Some layer above the package shadows its program in the view (`shadowed`). */
  shadowed: bool = false;
  /** Where the view the launch runs in keeps the host's /etc (`host-etc`). */
  markerHostEtc: string = "";

  // The host's facts: gathered after the view's records, and absent from a
  // stage-1 input (`facts partial`), where "none given" is not "none there".
  // Read through the getters below, which note that a decision consulted
  // one: planLaunch then answers a stage-1 input `plan facts` (ask again
  // with every fact), never a plan made as if the host had none.
  /** The input ends `facts partial`: stage 1 of a launch inside a view, the
   * host's facts not gathered (docs/POLICY.md, "Stage 1"). */
  partial: bool = false;
  /** A decision read one of the host's facts below. */
  consulted: bool = false;
  _hosts: HostEntry[] = [];
  _hostHasLdCache: bool = false;
  _hostEtcHas: string[] = [];
  _hostEtcMounted: bool = false;

  /** The host's root directory (`host`), in the order given. */
  get hosts(): HostEntry[] {
    this.consulted = true;
    return this._hosts;
  }
  /** The host has etc/ld.so.cache (`host-file etc/ld.so.cache`). */
  get hostHasLdCache(): bool {
    this.consulted = true;
    return this._hostHasLdCache;
  }
  /** Which of etcHost the host's /etc holds (`host-etc-file`). */
  get hostEtcHas(): string[] {
    this.consulted = true;
    return this._hostEtcHas;
  }
  /** The host's /etc has mounts below it (`host-etc-mounted`). */
  get hostEtcMounted(): bool {
    this.consulted = true;
    return this._hostEtcMounted;
  }
}

export function launchFacts(input: Array<Array<string>>): LaunchFacts {
  // One reader for both ways in: the records as bytes, as a host sends them.
  const w = new RecordWriter();
  for (let i = 0; i < input.length; i++) w.record(input[i]);
  return launchFactsAt(w.buf.dataStart, w.len);
}

/** The most fields a launch record has (`layer PATH LAYOUT DIRS`). */
const MAX_FIELDS = 4;

/** `req launch` facts read from the request's record bytes (well-formed, the
 * first record the request's), not from records made into strings first: a
 * cold launch runs this in wasm3, which interprets, and making an array and
 * a string of every field, kinds and other requests' config included, was a
 * large share of its time. Only the values a fact keeps become strings. */
export function launchFactsAt(ptr: usize, len: i32): LaunchFacts {
  const f = new LaunchFacts();
  const end = ptr + <usize>len;
  const starts = new StaticArray<usize>(MAX_FIELDS);
  const lens = new StaticArray<i32>(MAX_FIELDS);
  let at = ptr;
  // The request's own record.
  while (load<u8>(at) != 0) {
    while (load<u8>(at) != 0) at++;
    at++;
  }
  at++;
  while (at < end) {
    let n: i32 = 0;
    while (load<u8>(at) != 0) {
      const s = at;
      while (load<u8>(at) != 0) at++;
      if (n < MAX_FIELDS) {
        // Stored in place: StaticArray#__uset is a call in wasm3, ~500 a launch.
        store<usize>(changetype<usize>(starts) + (<usize>n << alignof<usize>()), s);
        store<i32>(changetype<usize>(lens) + (<usize>n << alignof<i32>()), <i32>(at - s));
      }
      n++;
      at++;
    }
    at++; // the record's closing NUL
    // Fields past MAX_FIELDS are not kept: no record the request takes has
    // them, so such a record is refused (or skipped as other requests' config).
    if (!readLaunchRecord(f, starts, lens, n)) {
      f.error = unexpected(decodeField(unchecked(starts[0]), unchecked(lens[0])), n);
      return f;
    }
  }
  return f;
}

/** Field k of the record being read, as a string. */
// @ts-ignore: decorator
@inline function field(starts: StaticArray<usize>, lens: StaticArray<i32>, k: i32): string {
  return decodeField(unchecked(starts[k]), unchecked(lens[k]));
}

/** One record into the facts; false when the request does not take it. The
 * kind's length picks the few names it can be, compared in place: a chain
 * of a score of string comparisons for each of a launch's ~200 records was
 * a real share of a cold launch. */
function readLaunchRecord(f: LaunchFacts, starts: StaticArray<usize>, lens: StaticArray<i32>, n: i32): bool {
  const k = unchecked(starts[0]);
  const kl = unchecked(lens[0]);
  switch (kl) {
    case 4:
      if (bytesAre(k, kl, "view") && n == 4) {
        f.view.push(new Layer(field(starts, lens, 1), field(starts, lens, 2), field(starts, lens, 3)));
        return true;
      }
      if (bytesAre(k, kl, "host") && (n == 3 || n == 4)) {
        f._hosts.push(new HostEntry(field(starts, lens, 1), field(starts, lens, 2), n == 4 ? field(starts, lens, 3) : ""));
        return true;
      }
      return false;
    case 5:
      if (bytesAre(k, kl, "layer") && n == 4) {
        f.layers.push(new Layer(field(starts, lens, 1), field(starts, lens, 2), field(starts, lens, 3)));
        return true;
      }
      if (bytesAre(k, kl, "facts") && n == 2 && bytesAre(unchecked(starts[1]), unchecked(lens[1]), "partial")) {
        f.partial = true;
        return true;
      }
      return false;
    case 6:
      if (bytesAre(k, kl, "setenv") && n == 3) {
        f.env.push(field(starts, lens, 1));
        f.env.push(field(starts, lens, 2));
        return true;
      }
      return false;
    case 7:
      if (n != 2) return false;
      if (bytesAre(k, kl, "overlay")) f.overlays.push(field(starts, lens, 1));
      else if (bytesAre(k, kl, "view-id")) f.markerId = field(starts, lens, 1);
      else if (bytesAre(k, kl, "ldcache")) f.ldCache = field(starts, lens, 1);
      else return false;
      return true;
    case 8:
      // Config for other requests: not launch decisions, never decoded.
      if (bytesAre(k, kl, "wrap-dir") || bytesAre(k, kl, "severity") || bytesAre(k, kl, "override")) return true;
      if (n != 2) return false;
      if (bytesAre(k, kl, "etc-host")) f.etcHost.push(field(starts, lens, 1));
      else if (bytesAre(k, kl, "shadowed")) f.shadowed = true;
      else if (bytesAre(k, kl, "host-etc")) f.markerHostEtc = field(starts, lens, 1);
      else if (bytesAre(k, kl, "etc-from")) {
        const v = field(starts, lens, 1);
        if (v != "layers+host" && v != "host" && v != "layers") return false;
        f.etcFrom = v;
      } else return false;
      return true;
    case 9:
      if (bytesAre(k, kl, "host-file") && n == 2) {
        f._hostHasLdCache = f._hostHasLdCache || bytesAre(unchecked(starts[1]), unchecked(lens[1]), "etc/ld.so.cache");
        return true;
      }
      return false;
    case 10:
      if (n != 2) return false;
      if (bytesAre(k, kl, "never-bind")) f.neverBind.push(field(starts, lens, 1));
      else if (bytesAre(k, kl, "env-marker")) f.envMarker = field(starts, lens, 1);
      else if (bytesAre(k, kl, "marker-usr")) f.markerUsr = bytesAre(unchecked(starts[1]), unchecked(lens[1]), "ok");
      else return false;
      return true;
    case 11:
      if (bytesAre(k, kl, "marker-root") && n == 2) {
        f.markerRoot = bytesAre(unchecked(starts[1]), unchecked(lens[1]), "ok");
        return true;
      }
      return false;
    case 13:
      if (n != 2) return false;
      if (bytesAre(k, kl, "host-etc-file")) f._hostEtcHas.push(field(starts, lens, 1));
      else if (bytesAre(k, kl, "view-strategy")) f.strategy = field(starts, lens, 1); // checked by the config's schema
      else return false;
      return true;
    case 16:
      if (bytesAre(k, kl, "host-etc-mounted") && n == 1) {
        f._hostEtcMounted = true;
        return true;
      }
      return false;
  }
  return false;
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
  return unexpected(r[0], r.length);
}

function unexpected(kind: string, n: i32): string {
  return "unexpected input record: " + kind + " with " + (n - 1).toString() + " fields";
}
