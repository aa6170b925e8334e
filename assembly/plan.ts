// The launch policy: which view a wrapped program runs in (docs/ABI.md,
// "req launch"). Pure computation over the facts the host gathered; the
// launcher validates the plan against fixed invariants and carries it out.
import { RecordWriter } from "./records";
// MAX_LAYERS: overlay refuses a 501st lower layer (OVL_MAX_STACK).
// HOST_ETC_IN_VIEW: where a view keeps the host's /etc for the launches nested
// in it: OverlayFS stacks at most 2 deep, so a nested /etc overlay takes the
// original host's /etc as its lowest lower, never the current view's overlay.
import { HOST_ETC_IN_VIEW, MAX_LAYERS } from "./abi";

export class Layer {
  /** Compared before the path: in wasm3, comparing long store paths character
   * by character made de-duplicating 300 layers cost tens of milliseconds. */
  hash: u32;

  constructor(public path: string, public layout: string, public dirs: string) {
    this.hash = fnv1a(path, 2166136261);
  }


  /** The directory this layer contributes to the view's /DIR, or "" if none. */
  source(dir: string): string {
    if (this.layout == "nix") return dir == "usr" ? this.path : "";
    return hasItem(this.dirs, dir) ? this.path + "/" + dir : "";
  }
}

export function hasItem(commaList: string, item: string): bool {
  // "usr,etc,opt": no split, no allocation.
  let at = commaList.indexOf(item);
  while (at >= 0) {
    const end = at + item.length;
    if ((at == 0 || commaList.charCodeAt(at - 1) == 44) && (end == commaList.length || commaList.charCodeAt(end) == 44)) return true;
    at = commaList.indexOf(item, at + 1);
  }
  return false;
}

export function contains(list: string[], s: string): bool {
  for (let i = 0; i < list.length; i++) if (list[i] == s) return true;
  return false;
}

export function fail(out: RecordWriter, message: string): i32 {
  out.len = 0;
  out.record(["error", message]);
  return 1;
}

/** FNV-1a over the layer list: the view's id, written to the marker and to
 * IN_NIX_FHS so a nested launch can tell a real view from a stray variable. */
/** FNV-1a over a string's UTF-16 code units, read straight from memory: a
 * charCodeAt call per character is a real call in wasm3. */
function fnv1a(s: string, seed: u32): u32 {
  let h = seed;
  const p = changetype<usize>(s);
  const end = p + (<usize>s.length << 1);
  for (let q = p; q < end; q += 2) {
    h ^= <u32>load<u16>(q);
    h *= 16777619;
  }
  return h;
}

function fnv64(h: u64, s: string): u64 {
  const p = changetype<usize>(s);
  const end = p + (<usize>s.length << 1);
  for (let q = p; q < end; q += 2) {
    h ^= <u64>load<u16>(q);
    h *= 0x100000001b3;
  }
  // Each part ends in "\n", as if hashing "path\nlayout\ndirs\n".
  h ^= 10;
  return h * 0x100000001b3;
}

export function viewId(layers: Layer[]): string {
  let h: u64 = 0xcbf29ce484222325;
  for (let i = 0; i < layers.length; i++) {
    const l = unchecked(layers[i]);
    h = fnv64(fnv64(fnv64(h, l.path), l.layout), l.dirs);
  }
  let hex = "";
  for (let k = 60; k >= 0; k -= 4) hex += "0123456789abcdef".charAt(<i32>((h >> <u64>k) & 15));
  return hex;
}

export function planLaunch(input: Array<Array<string>>, out: RecordWriter): i32 {
  const layers = new Array<Layer>();
  const view = new Array<Layer>();
  const overlays = new Array<string>();
  const neverBind = new Array<string>();
  const env = new Array<string>(); // key, value pairs
  const hostNames = new Array<string>();
  const hostTypes = new Array<string>();
  const hostTargets = new Array<string>();
  let envMarker = "";
  let markerRoot = false;
  let markerId = "";
  let ldCache = "";
  let hostHasLdCache = false;
  let shadowed = false;
  // Where /etc comes from (config `etc-from`); without the record, the host's.
  let etcFrom = "host";
  const etcHost = new Array<string>(); // config: machine paths, always the host's
  const hostEtcHas = new Array<string>(); // facts: which of them the host's /etc holds
  let markerHostEtc = "";
  let hostEtcMounted = false;

  for (let i = 1; i < input.length; i++) {
    const r = input[i];
    const k = r[0];
    const n = r.length;
    if (k == "layer" && n == 4) layers.push(new Layer(r[1], r[2], r[3]));
    else if (k == "view" && n == 4) view.push(new Layer(r[1], r[2], r[3]));
    else if (k == "host" && (n == 3 || n == 4)) {
      hostNames.push(r[1]);
      hostTypes.push(r[2]);
      hostTargets.push(n == 4 ? r[3] : "");
    } else if (k == "overlay" && n == 2) overlays.push(r[1]);
    else if (k == "never-bind" && n == 2) neverBind.push(r[1]);
    else if (k == "setenv" && n == 3) {
      env.push(r[1]);
      env.push(r[2]);
    } else if (k == "env-marker" && n == 2) envMarker = r[1];
    else if (k == "marker-root" && n == 2) markerRoot = r[1] == "ok";
    else if (k == "view-id" && n == 2) markerId = r[1];
    else if (k == "ldcache" && n == 2) ldCache = r[1];
    else if (k == "shadowed" && n == 2) shadowed = true;
    else if (k == "host-file" && n == 2) hostHasLdCache = hostHasLdCache || r[1] == "etc/ld.so.cache";
    else if (k == "etc-from" && n == 2 && (r[1] == "layers+host" || r[1] == "host" || r[1] == "layers")) etcFrom = r[1];
    else if (k == "etc-host" && n == 2) etcHost.push(r[1]);
    else if (k == "host-etc-file" && n == 2) hostEtcHas.push(r[1]);
    else if (k == "host-etc" && n == 2) markerHostEtc = r[1];
    else if (k == "host-etc-mounted" && n == 1) hostEtcMounted = true;
    else if (k == "wrap-dir" || k == "severity" || k == "override") continue; // not launch decisions
    else return fail(out, "unexpected input record: " + k + " with " + (n - 1).toString() + " fields");
  }
  if (layers.length == 0) return fail(out, "the package has no layers");

  // Inside a view only when all three agree: IN_NIX_FHS is set, the root is
  // the read-only tmpfs only a launcher creates, and its marker carries the
  // same id. A stray IN_NIX_FHS=1 in a host shell matches none of them, so
  // the run stays pure.
  const inside = envMarker != "" && markerRoot && markerId == envMarker && view.length > 0;

  let combined = new Array<Layer>();
  if (inside) {
    // Fast path: the package adds nothing to the view it is already in, and
    // its program is the one at /usr there (no layer above shadows it; the
    // launcher checks and says `shadowed REL`). Else the package goes on top.
    const viewHashes = hashesOf(view);
    let allPresent = !shadowed;
    for (let i = 0; i < layers.length && allPresent; i++) {
      allPresent = find(view, viewHashes, view.length, unchecked(layers[i])) >= 0;
    }
    if (allPresent) {
      out.record(["plan", "fast"]);
      writeEnv(out, env);
      return 0;
    }
    // The package's layers go on top of the current view's. One flat list of
    // the original layer directories: overlay stacking depth is 2, so a nested
    // view never stacks on the parent's /usr.
    combined = dedupe(layers.concat(view));
  } else {
    combined = dedupe(layers);
  }
  if (combined.length > MAX_LAYERS) {
    return fail(out, "the view needs " + combined.length.toString() + " layers; OverlayFS allows at most " + MAX_LAYERS.toString());
  }

  const id = viewId(combined);
  out.record(["plan", "view"]);

  // The host's /etc: in a view that kept it (the marker says where), that
  // copy; else the current root's, unless the config never binds it.
  let hostEtc = "";
  if (!contains(neverBind, "etc")) {
    if (markerRoot && markerHostEtc == HOST_ETC_IN_VIEW) hostEtc = markerHostEtc;
    else if (hostDir(hostNames, hostTypes, "etc")) hostEtc = "/etc";
  }

  // The kernel refuses an overlay over a host /etc with mounts below it (a
  // container runtime's resolv.conf, hosts, hostname) that a new user
  // namespace may not uncover: there the layers' etc cannot go over the
  // host's, so /etc is the host's, bound as it is, with those mounts.
  if (etcFrom == "layers+host" && hostEtcMounted && hostEtc != "") etcFrom = "host";

  // /usr always; opt when the config asks and some layer has it; etc as the
  // config's etc-from says, when some layer has it.
  const overlaid = new Array<string>();
  const dirs = ["usr", "etc", "opt"];
  let etcFromLayers = false;
  for (let d = 0; d < dirs.length; d++) {
    const dir = dirs[d];
    if (dir == "opt" && !contains(overlays, dir)) continue;
    if (dir == "etc" && etcFrom == "host") continue;
    const lowers = new Array<string>();
    for (let i = 0; i < combined.length; i++) {
      const s = combined[i].source(dir);
      if (s != "") lowers.push(s);
    }
    if (lowers.length == 0) {
      if (dir == "usr") return fail(out, "no layer provides /usr");
      continue;
    }
    overlaid.push(dir);
    if (dir == "etc") {
      etcFromLayers = true;
      if (etcFrom == "layers+host" && hostEtc != "") {
        // The layers' defaults over the host's /etc, and the machine's own
        // files (users, names, DNS, time zone) the host's whatever the layers
        // hold: each a link into the host's /etc kept at HOST_ETC_IN_VIEW,
        // which the launcher puts on top of this overlay. Links, not file
        // binds: a bind (like an overlay lower) keeps showing a file the
        // host has since replaced by rename, as resolv.conf is.
        for (let e = 0; e < etcHost.length; e++) {
          const rel = etcHost[e];
          if (contains(hostEtcHas, rel)) out.record(["etc-link", rel]);
        }
        lowers.push(hostEtc);
      }
    }
    // A read-only overlay needs two lowers; one layer is a read-only bind.
    if (lowers.length == 1) out.record(["bind-ro", "/" + dir, lowers[0]]);
    else out.record((["overlay", "/" + dir] as string[]).concat(lowers));
  }

  // Merged /usr: the classic top-level names are links into it.
  out.record(["symlink", "/bin", "usr/bin"]);
  out.record(["symlink", "/sbin", "usr/sbin"]);
  out.record(["symlink", "/lib", "usr/lib"]);
  out.record(["symlink", "/lib64", "usr/lib64"]);
  const linked = ["bin", "sbin", "lib", "lib64"];

  // Every other host top-level directory is bound, so writes land on real
  // filesystems; sorted so the plan does not depend on readdir order.
  const order = new Array<i32>();
  for (let i = 0; i < hostNames.length; i++) {
    // Insertion sort: a root holds a few dozen entries (and AssemblyScript has no closures for a comparator).
    let j = order.length;
    order.push(i);
    while (j > 0 && hostNames[order[j - 1]] > hostNames[i]) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = i;
  }
  let boundVar = false;
  for (let o = 0; o < order.length; o++) {
    const i = order[o];
    const name = hostNames[i];
    if (contains(neverBind, name) || contains(overlaid, name) || contains(linked, name) || name == ".fhs") continue;
    if (name == "etc") {
      if (hostEtc != "") out.record(["rbind", "/etc", hostEtc]);
    } else if (hostTypes[i] == "dir") {
      out.record(["rbind", "/" + name, "/" + name]);
      if (name == "var") boundVar = true;
    }
    else if (hostTypes[i] == "link") out.record(["symlink", "/" + name, hostTargets[i]]);
  }

  // Install-time state under /var/lib (src/state.ts): the generated layers'
  // var/lib over the host's, read-only, where programs look for it. The rest
  // of /var stays the host's, as writable as it was. A nested view keeps its
  // parent's /var/lib (it comes with the rbind of /var): OverlayFS stacks
  // only 2 deep, and the host's /var/lib is not kept apart in a view.
  if (!inside && boundVar) {
    const varLowers = new Array<string>();
    for (let i = 0; i < combined.length; i++) {
      const s = combined[i].source("var/lib");
      if (s != "") varLowers.push(s);
    }
    if (varLowers.length > 0) out.record((["var-lib"] as string[]).concat(varLowers));
  }

  // The view's ld.so.cache, computed at wrap time for the package's layers,
  // over the host's (which describes the host's libraries). Only where /etc
  // is the host's and has one to bind over; when /etc comes from the layers,
  // their own cache (if any) is what the view shows.
  // Nested, the view's libraries are the package's on top of the current
  // view's: the launcher binds the union of both caches (made once per layer
  // list) instead of the package's alone.
  const etcHasHost = hostEtc != "" && (!etcFromLayers || etcFrom == "layers+host");
  if (ldCache != "" && hostHasLdCache && etcHasHost) {
    out.record([inside ? "ldcache-union" : "bind-file", "/etc/ld.so.cache", ldCache]);
  }

  // The marker nested launches read, and the variable that must match it.
  out.record(["view-id", id]);
  for (let i = 0; i < combined.length; i++) out.record(["view", combined[i].path, combined[i].layout, combined[i].dirs]);
  // Every view keeps the host's /etc for the launches nested in it (read-only,
  // under the marker's directory). Not the view's own /etc: an overlay cannot
  // be over a directory with mounts below it that the nested user namespace
  // may not uncover (the kernel refuses: "failed to clone lowerpath"), and
  // the view's /etc has the ld.so.cache bound in it; nor over the view's /etc
  // overlay (OverlayFS stacks 2 deep). Bound under the marker's directory
  // and named in the marker, after the view's layers.
  if (hostEtc != "") out.record(["host-etc", hostEtc]);
  out.record(["setenv", "IN_NIX_FHS", id]);
  writeEnv(out, env);
  return 0;
}

function hostDir(names: string[], types: string[], name: string): bool {
  for (let i = 0; i < names.length; i++) if (names[i] == name) return types[i] == "dir";
  return false;
}

function writeEnv(out: RecordWriter, env: string[]): void {
  for (let i = 0; i + 1 < env.length; i += 2) out.record(["setenv", env[i], env[i + 1]]);
}

export function hashesOf(layers: Layer[]): Uint32Array {
  const h = new Uint32Array(layers.length);
  for (let i = 0; i < layers.length; i++) unchecked((h[i] = unchecked(layers[i]).hash));
  return h;
}

/** Index of `l` among the first n of `list` (whose hashes are given), or -1.
 * The inner loop compares integers only; paths only on a hash match. */
export function find(list: Layer[], hashes: Uint32Array, n: i32, l: Layer): i32 {
  const h = l.hash;
  for (let j = 0; j < n; j++) if (unchecked(hashes[j]) == h && unchecked(list[j]).path == l.path) return j;
  return -1;
}

export function dedupe(layers: Layer[]): Layer[] {
  const outList = new Array<Layer>();
  const hashes = new Uint32Array(layers.length);
  for (let i = 0; i < layers.length; i++) {
    const l = unchecked(layers[i]);
    if (find(outList, hashes, outList.length, l) >= 0) continue;
    unchecked((hashes[outList.length] = l.hash));
    outList.push(l);
  }
  return outList;
}

/** `req wrap`: which of the package's executables get a wrapper. Input:
 * `wrap-dir DIR` config records and `candidate REL KIND` for every entry of
 * the package's usr/ dirs (KIND: exec, script, link-exec, other). Output:
 * `wrap REL` for each one to wrap, in input order. */
export function planWrap(input: Array<Array<string>>, out: RecordWriter): i32 {
  const wrapDirs = new Array<string>();
  for (let i = 1; i < input.length; i++) if (input[i][0] == "wrap-dir" && input[i].length == 2) wrapDirs.push(input[i][1]);
  for (let i = 1; i < input.length; i++) {
    const r = input[i];
    if (r[0] != "candidate" || r.length != 3) continue;
    const slash = r[1].indexOf("/");
    // Only direct children of a wrapped dir: usr/bin/x, not usr/bin/sub/x.
    if (slash <= 0 || r[1].indexOf("/", slash + 1) >= 0) continue;
    if (!contains(wrapDirs, r[1].substring(0, slash))) continue;
    if (r[2] == "exec" || r[2] == "script" || r[2] == "link-exec") out.record(["wrap", r[1]]);
  }
  return 0;
}
