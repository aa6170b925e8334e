// The launch policy: which view a wrapped program runs in (docs/ABI.md,
// "req launch"). Pure computation over the facts the host gathered
// (facts.ts); the launcher validates the plan against fixed invariants and
// carries it out. Each decision is a small exported function; planLaunch
// composes them through a Policy (policy.ts), whose methods a custom policy
// overrides one at a time.
import { HostEntry, LaunchFacts } from "./facts";
import { Layer, contains, dedupe, includesAll, sameString, sources, viewId } from "./layers";
import { RecordWriter, fail } from "./records";
import { Policy } from "./policy";

// MAX_LAYERS: overlay refuses a 501st lower layer (OVL_MAX_STACK).
// HOST_ETC_IN_VIEW: where a view keeps the host's /etc for the launches nested
// in it: OverlayFS stacks at most 2 deep, so a nested /etc overlay takes the
// original host's /etc as its lowest lower, never the current view's overlay.
// HOST_ETC_IN_PLACE: the same, in an in-place view (under /usr/.fhs).
import { HOST_ETC_IN_PLACE, HOST_ETC_IN_VIEW, MAX_LAYERS } from "./abi";

/** Merged /usr: the classic top-level names are links into it. */
const USR_LINKS = ["bin", "sbin", "lib", "lib64"];

/** Inside a view only when all three agree: IN_NIX_FHS is set, the view's
 * proof is there (the root is the read-only tmpfs only a new-root launcher
 * creates, or /usr is the read-only overlay holding the marker only an
 * in-place launcher makes), and its marker carries the same id. A stray
 * IN_NIX_FHS=1 in a host shell matches none of them, so the run stays pure. */
export function isInside(f: LaunchFacts): bool {
  return f.envMarker != "" && (f.markerRoot || f.markerUsr) && f.markerId == f.envMarker && f.view.length > 0;
}

/** Fast path (inside a view): the package adds nothing to the view it is
 * already in, and its program is the one at /usr there (no layer above
 * shadows it; the launcher checks and says `shadowed REL`). */
export function isFastPath(f: LaunchFacts): bool {
  return !f.shadowed && includesAll(f.view, f.layers);
}

/** The view's layers. Inside a view, the package's go on top of the current
 * view's: one flat list of the original layer directories, so overlay
 * stacking depth is 2 and a nested view never stacks on the parent's /usr. */
export function viewLayersOf(f: LaunchFacts, inside: bool): Layer[] {
  return inside ? dedupe(f.layers.concat(f.view)) : dedupe(f.layers);
}

/** The host's /etc: in a view that kept it (the marker says where), that
 * copy; else the current root's, unless the config never binds it. "" for none. */
export function hostEtcOf(f: LaunchFacts): string {
  if (contains(f.neverBind, "etc")) return "";
  if (f.markerRoot && f.markerHostEtc == HOST_ETC_IN_VIEW) return f.markerHostEtc;
  if (f.markerUsr && f.markerHostEtc == HOST_ETC_IN_PLACE) return f.markerHostEtc;
  const h = hostEntry(f, "etc");
  return h != null && h.type == "dir" ? "/etc" : "";
}

/** Where /etc comes from: the config's choice, except that the kernel refuses
 * an overlay over a host /etc with mounts below it (a container runtime's
 * resolv.conf, hosts, hostname) that a new user namespace may not uncover:
 * there the layers' etc cannot go over the host's, so /etc is the host's,
 * bound as it is, with those mounts. */
export function etcFromOf(f: LaunchFacts, hostEtc: string): string {
  return f.etcFrom == "layers+host" && f.hostEtcMounted && hostEtc != "" ? "host" : f.etcFrom;
}

/** Whether /DIR (usr, etc, opt) is made from the layers when some layer has
 * it: /usr always, /opt when the config asks, /etc unless it is the host's. */
export function overlaysDir(f: LaunchFacts, dir: string, etcFrom: string): bool {
  if (dir == "opt") return contains(f.overlays, dir);
  if (dir == "etc") return etcFrom != "host";
  return true;
}

/** The machine's own files under /etc (users, names, DNS, time zone) that stay
 * the host's whatever the layers hold: the config's list, where the host has them. */
export function etcLinksOf(f: LaunchFacts): string[] {
  const out = new Array<string>();
  for (let e = 0; e < f.etcHost.length; e++) if (contains(f.hostEtcHas, f.etcHost[e])) out.push(f.etcHost[e]);
  return out;
}

/** Whether a host top-level entry the view does not make itself is bound
 * into it: all of them but those the config never binds. */
export function bindsHostEntry(f: LaunchFacts, h: HostEntry): bool {
  return !contains(f.neverBind, h.name);
}

/** Why the view cannot be made in place on this host, "" when it can
 * (docs/ARCHITECTURE.md, "Two ways to make a view"). In place, the caller's
 * root stays: only /usr (and /etc, /opt as overlaid) are mounted over. That
 * is the same view as a new root only on a merged-/usr host, where /bin,
 * /sbin, /lib and /lib64 are links into /usr and so land in the view's /usr;
 * the mount points must be the host's own directories (nothing is created
 * on the host); and every name the config never binds must vanish: a link
 * into usr/ already shows the view's /usr, a directory is hidden under an
 * empty read-only tmpfs, anything else cannot be hidden. */
export function inPlaceObstacleOf(f: LaunchFacts, overlaid: string[], usrLowers: i32): string {
  // The marker is the top lower of /usr, so /usr is always an overlay; one
  // layer is bound instead, with its submounts, which an overlay refuses.
  if (usrLowers < 2) return "one layer";
  // ... and one more lower than the view's layers, within OverlayFS's cap.
  if (usrLowers + 1 > MAX_LAYERS) return usrLowers.toString() + " layers leave no room for the marker (OverlayFS allows " + MAX_LAYERS.toString() + " lowers)";
  for (let i = 0; i < USR_LINKS.length; i++) {
    const h = hostEntry(f, USR_LINKS[i]);
    if (h == null || !intoUsr(h)) return "/" + USR_LINKS[i] + " is not a link into /usr";
  }
  for (let i = 0; i < overlaid.length; i++) {
    const h = hostEntry(f, overlaid[i]);
    if (h == null || h.type != "dir") return "/" + overlaid[i] + " is no host dir";
  }
  for (let i = 0; i < f.hosts.length; i++) {
    const h = f.hosts[i];
    if (!hiddenInPlace(f, h.name) || contains(overlaid, h.name) || intoUsr(h) || h.type == "dir") continue;
    return "/" + h.name + " cannot be hidden";
  }
  return "";
}

/** How the view is made: "in-place" where that is correct for the host
 * (the cheaper way: no new root, no binds), else "new-root"; the config may
 * force either. Anything else is a refusal's message: the config forces in
 * place on a host where it would not be the same view. */
export function strategyOf(f: LaunchFacts, overlaid: string[], usrLowers: i32): string {
  if (f.strategy == "new-root") return "new-root";
  const why = inPlaceObstacleOf(f, overlaid, usrLowers);
  if (why == "") return "in-place";
  if (f.strategy == "in-place") return "no in-place view here: " + why;
  return "new-root";
}

/** A host top-level name an in-place view must not show: those the config
 * never binds, and a /.fhs (a new root's marker dir, which a new root never
 * binds either). */
function hiddenInPlace(f: LaunchFacts, name: string): bool {
  return name == ".fhs" || contains(f.neverBind, name);
}

/** The host's top-level entry NAME. Asked ~10 times a launch of a root of
 * ~30 entries: elements are read from memory and compared by sameString
 * (an element read and a string comparison are each a call in wasm3). */
function hostEntry(f: LaunchFacts, name: string): HostEntry | null {
  const hosts = f.hosts;
  const n = hosts.length;
  const data = hosts.dataStart;
  for (let i = 0; i < n; i++) {
    const h = load<HostEntry>(data + (<usize>i << alignof<HostEntry>()));
    if (sameString(h.name, name)) return h;
  }
  return null;
}

/** A link into usr/ (usr/lib32, /usr/lib32): in a view it shows the view's /usr. */
function intoUsr(h: HostEntry): bool {
  return h.type == "link" && (h.target.startsWith("usr/") || h.target.startsWith("/usr/"));
}

export function planLaunch(p: Policy, f: LaunchFacts, out: RecordWriter): i32 {
  if (f.layers.length == 0) return fail(out, "the package has no layers");
  const inside = p.inside(f);
  if (inside && p.fastPath(f)) {
    const env = p.environment(f);
    // On a stage-1 input a decision that read a host fact read it as absent
    // (it was not gathered): that answer is not taken.
    if (!(f.partial && f.consulted)) {
      out.field("plan").field("fast").end();
      writeEnv(out, env);
      return 0;
    }
  }
  // Stage 1 decides the fast path alone; anything else is planned from every
  // fact: ask again with them (the launcher gathers the host's and does).
  if (f.partial) {
    out.field("plan").field("facts").end();
    return 0;
  }
  const layers = p.viewLayers(f, inside);
  if (layers.length > MAX_LAYERS) {
    return tooManyLayers(out, layers.length);
  }
  const id = viewId(layers);

  const hostEtc = p.hostEtc(f);
  const etcFrom = p.etcFrom(f, hostEtc);

  // /usr, /etc, /opt from the layers, as decided, when some layer has them.
  const overlaid = new Array<string>();
  const lowersOf: string[][] = [];
  const dirs = ["usr", "etc", "opt"];
  let etcFromLayers = false;
  for (let d = 0; d < dirs.length; d++) {
    const dir = dirs[d];
    if (!p.overlays(f, dir, etcFrom)) continue;
    const lowers = sources(layers, dir);
    if (lowers.length == 0) {
      if (dir == "usr") return fail(out, "no layer provides /usr");
      continue;
    }
    overlaid.push(dir);
    lowersOf.push(lowers);
    if (dir == "etc") {
      etcFromLayers = true;
      // The layers' defaults over the host's /etc (see below).
      if (etcFrom == "layers+host" && hostEtc != "") lowers.push(hostEtc);
    }
  }

  let strategy = p.strategy(f, overlaid, lowersOf[0].length);
  if (strategy != "in-place" && strategy != "new-root") return fail(out, strategy);
  // In place, what the config never binds is hidden. An entry a policy's
  // own bindHost leaves out must not be there at all, as in a new root: then
  // a new root (a policy that wants it in place overrides strategy too).
  const hosts = byName(f.hosts);
  const hide = new Array<string>();
  for (let i = 0; i < hosts.length && strategy == "in-place"; i++) {
    const h = hosts[i];
    if (contains(overlaid, h.name) || intoUsr(h)) continue;
    if (hiddenInPlace(f, h.name)) hide.push("/" + h.name); // a dir: inPlaceObstacleOf
    else if (!p.bindHost(f, h)) {
      if (f.strategy == "in-place") return notBound(out, h.name);
      strategy = "new-root";
    }
  }
  const inPlace = strategy == "in-place";
  out.field("plan").field(inPlace ? "inplace" : "view").end();

  for (let d = 0; d < overlaid.length; d++) {
    const dir = overlaid[d];
    const lowers = lowersOf[d];
    if (dir == "etc" && etcFrom == "layers+host" && hostEtc != "") {
      // The machine's own files each a link into the host's /etc kept at
      // HOST_ETC_IN_VIEW (HOST_ETC_IN_PLACE in place), which the launcher
      // puts on top of this overlay. Links, not file binds: a bind (like an
      // overlay lower) keeps showing a file the host has since replaced by
      // rename, as resolv.conf is.
      const links = p.etcLinks(f);
      for (let e = 0; e < links.length; e++) out.field("etc-link").field(links[e]).end();
    }
    // A read-only overlay needs two lowers; one layer is a read-only bind.
    if (lowers.length == 1) out.field("bind-ro").field("/" + dir).field(lowers[0]).end();
    else out.field("overlay").field("/" + dir).fields(lowers).end();
  }

  // Each way's records are written by a function of its own: wasm3 compiles
  // a function when first called, so a launch compiles only its own way's.
  const hostVar = inPlace ? writeInPlace(f, hide, out) : writeNewRoot(p, f, hosts, overlaid, hostEtc, out);

  // Install-time state under /var/lib (src/state.ts): the generated layers'
  // var/lib over the host's, read-only, where programs look for it. The rest
  // of /var stays the host's, as writable as it was. A nested view keeps its
  // parent's /var/lib (it comes with the rbind of /var, or stays in place):
  // OverlayFS stacks only 2 deep, and the host's /var/lib is not kept apart
  // in a view.
  if (!inside && hostVar) {
    const varLowers = sources(layers, "var/lib");
    if (varLowers.length > 0) out.field("var-lib").fields(varLowers).end();
  }

  // The view's ld.so.cache, computed at wrap time for the package's layers,
  // over the host's (which describes the host's libraries). Only where /etc
  // is the host's and has one to bind over; when /etc comes from the layers,
  // their own cache (if any) is what the view shows.
  // Nested, the view's libraries are the package's on top of the current
  // view's: the launcher binds the union of both caches (made once per layer
  // list) instead of the package's alone.
  const etcHasHost = hostEtc != "" && (!etcFromLayers || etcFrom == "layers+host");
  if (f.ldCache != "" && f.hostHasLdCache && etcHasHost) {
    out.field(inside ? "ldcache-union" : "bind-file").field("/etc/ld.so.cache").field(f.ldCache).end();
  }

  // The marker nested launches read, and the variable that must match it.
  out.field("view-id").field(id).end();
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i];
    out.field("view").field(l.path).field(l.layout).field(l.dirs).end();
  }
  // Every view keeps the host's /etc for the launches nested in it (read-only,
  // under the marker's directory). Not the view's own /etc: an overlay cannot
  // be over a directory with mounts below it that the nested user namespace
  // may not uncover (the kernel refuses: "failed to clone lowerpath"), and
  // the view's /etc has the ld.so.cache bound in it; nor over the view's /etc
  // overlay (OverlayFS stacks 2 deep). Bound under the marker's directory
  // and named in the marker, after the view's layers.
  if (hostEtc != "") out.field("host-etc").field(hostEtc).end();
  out.field("setenv").field("IN_NIX_FHS").field(id).end();
  writeEnv(out, p.environment(f));
  return 0;
}

// Refusals whose message is built: functions of their own, so a launch that
// is not refused compiles none of the string building.
function tooManyLayers(out: RecordWriter, n: i32): i32 {
  return fail(out, "the view needs " + n.toString() + " layers; OverlayFS allows at most " + MAX_LAYERS.toString());
}

function notBound(out: RecordWriter, name: string): i32 {
  return fail(out, "no in-place view here: /" + name + " is not bound");
}

/** An in-place view's own records: the caller's root stays; what is not
 * bound is hidden (links into usr/ already show the view's /usr). Returns
 * whether the view's /var is the host's directory. */
function writeInPlace(f: LaunchFacts, hide: string[], out: RecordWriter): bool {
  for (let i = 0; i < hide.length; i++) out.field("hide").field(hide[i]).end();
  const v = hostEntry(f, "var");
  return v != null && v.type == "dir" && !contains(hide, "/var");
}

/** A new root's own records: the merged-/usr links, then every other host
 * top-level entry bound (a link made again), so writes land on real
 * filesystems; HOSTS sorted, so the plan does not depend on readdir order.
 * Returns whether the view's /var is the host's directory. */
function writeNewRoot(p: Policy, f: LaunchFacts, hosts: HostEntry[], overlaid: string[], hostEtc: string, out: RecordWriter): bool {
  let hostVar = false;
  for (let i = 0; i < USR_LINKS.length; i++) out.field("symlink").field("/" + USR_LINKS[i]).field("usr/" + USR_LINKS[i]).end();
  for (let i = 0; i < hosts.length; i++) {
    const h = hosts[i];
    const name = h.name;
    if (contains(overlaid, name) || contains(USR_LINKS, name) || name == ".fhs" || !p.bindHost(f, h)) continue;
    if (name == "etc") {
      if (hostEtc != "") out.field("rbind").field("/etc").field(hostEtc).end();
    } else if (h.type == "dir") {
      const at = "/" + name;
      out.field("rbind").field(at).field(at).end();
      if (name == "var") hostVar = true;
    } else if (h.type == "link") out.field("symlink").field("/" + name).field(h.target).end();
  }
  return hostVar;
}

/** The entries sorted by name. Insertion sort: a root holds a few dozen
 * entries (and AssemblyScript has no closures for a comparator), and the
 * launcher sends them sorted already (launcher/facts.c), so it makes one
 * comparison an entry; any other order gives the same result, slower. */
function byName(hosts: HostEntry[]): HostEntry[] {
  const n = hosts.length;
  const sorted = new Array<HostEntry>(n);
  for (let i = 0; i < n; i++) {
    const h = unchecked(hosts[i]);
    let j = i;
    while (j > 0 && unchecked(sorted[j - 1]).name > h.name) {
      unchecked((sorted[j] = unchecked(sorted[j - 1])));
      j--;
    }
    unchecked((sorted[j] = h));
  }
  return sorted;
}

/** `setenv` records from key, value pairs. */
export function writeEnv(out: RecordWriter, env: string[]): void {
  for (let i = 0; i + 1 < env.length; i += 2) out.field("setenv").field(env[i]).field(env[i + 1]).end();
}
