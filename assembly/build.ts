// The build policy (docs/ABI.md, "req build"): the pure view a build runs in.
// /usr is a writable overlay of the dependency layers whose upper directory
// the CLI prepared; nothing else of the host's /usr, no host /home, no
// network unless asked, a scrubbed environment. The launcher validates every
// op (only the CLI-prepared staging dirs may be written) and carries it out.
import { RecordWriter } from "./records";
import { Layer, contains, dedupe, fail, viewId } from "./plan";

/** Host top-level dirs a build sees. /proc for the toolchain's own use;
 * /nix because layers built by Nix point into the store (their loader, their
 * libraries). Everything else of the host stays out. */
const BUILD_BINDS = ["nix", "proc"];

export function planBuild(input: Array<Array<string>>, out: RecordWriter): i32 {
  const layers = new Array<Layer>();
  const overlays = new Array<string>();
  const env = new Array<string>();
  const hosts = new Array<string>();
  let upper = "";
  let work = "";
  let dir = "";
  let cwd = "/build";
  let network = false;
  let epoch = "";
  let etcFrom = "host";
  // A state build (src/state.ts): /etc a writable overlay of the layers' etc
  // dirs, /var a staged dir, the command root of its user namespace.
  let etcUpper = "";
  let etcWork = "";
  let varDir = "";
  let root = false;

  for (let i = 1; i < input.length; i++) {
    const r = input[i];
    const k = r[0];
    const n = r.length;
    if (k == "layer" && n == 4) layers.push(new Layer(r[1], r[2], r[3]));
    else if (k == "host" && (n == 3 || n == 4)) {
      if (r[2] == "dir") hosts.push(r[1]);
    } else if (k == "overlay" && n == 2) overlays.push(r[1]);
    else if (k == "etc-from" && n == 2) etcFrom = r[1];
    else if (k == "setenv" && n == 3) {
      env.push(r[1]);
      env.push(r[2]);
    } else if (k == "build-upper" && n == 2) upper = r[1];
    else if (k == "build-work" && n == 2) work = r[1];
    else if (k == "build-dir" && n == 2) dir = r[1];
    else if (k == "build-cwd" && n == 2) cwd = r[1];
    else if (k == "network" && n == 2) network = r[1] == "on";
    else if (k == "source-date-epoch" && n == 2) epoch = r[1];
    else if (k == "build-etc-upper" && n == 2) etcUpper = r[1];
    else if (k == "build-etc-work" && n == 2) etcWork = r[1];
    else if (k == "build-var" && n == 2) varDir = r[1];
    else if (k == "build-root" && n == 2) root = r[1] == "on";
    else if (k == "never-bind" || k == "etc-host" || k == "wrap-dir" || k == "severity" || k == "override") continue;
    else return fail(out, "unexpected input record: " + k + " with " + (n - 1).toString() + " fields");
  }
  if (layers.length == 0) return fail(out, "a build needs at least one layer");
  if (upper == "" || work == "" || dir == "") return fail(out, "a build needs build-upper, build-work and build-dir");
  if (epoch == "") return fail(out, "a build needs source-date-epoch");
  const all = dedupe(layers);

  out.record(["plan", "build"]);
  // A forgotten download is a build failure, not a silent dependency.
  if (!network) out.record(["netns"]);
  if (root) out.record(["userns-root"]);

  const usr = new Array<string>();
  for (let i = 0; i < all.length; i++) {
    const s = all[i].source("usr");
    if (s != "") usr.push(s);
  }
  out.record((["overlay-rw", "/usr", upper, work] as string[]).concat(usr));
  // /etc and /opt from the layers only, and only when the config asks (for
  // /etc: "layers" or "layers+host"): the host's configuration is not part of
  // a build's inputs.
  if (etcUpper != "") {
    // What the scripts write to /etc lands in the staged upper dir; the
    // layers' etc dirs are read-only lowers. Never the host's /etc.
    const etcLowers = new Array<string>();
    for (let i = 0; i < all.length; i++) {
      const s = all[i].source("etc");
      if (s != "") etcLowers.push(s);
    }
    if (etcLowers.length == 0) return fail(out, "a state build needs a layer with an etc dir");
    out.record((["overlay-rw", "/etc", etcUpper, etcWork] as string[]).concat(etcLowers));
  }
  if (varDir != "") out.record(["bind-rw", "/var", varDir]);
  const extra = ["etc", "opt"];
  for (let d = 0; d < extra.length; d++) {
    if (extra[d] == "etc" && etcUpper != "") continue;
    if (extra[d] == "etc" ? etcFrom == "host" : !contains(overlays, extra[d])) continue;
    const lowers = new Array<string>();
    for (let i = 0; i < all.length; i++) {
      const s = all[i].source(extra[d]);
      if (s != "") lowers.push(s);
    }
    if (lowers.length == 1) out.record(["bind-ro", "/" + extra[d], lowers[0]]);
    else if (lowers.length > 1) out.record((["overlay", "/" + extra[d]] as string[]).concat(lowers));
  }
  out.record(["symlink", "/bin", "usr/bin"]);
  out.record(["symlink", "/sbin", "usr/sbin"]);
  out.record(["symlink", "/lib", "usr/lib"]);
  out.record(["symlink", "/lib64", "usr/lib64"]);
  for (let i = 0; i < BUILD_BINDS.length; i++) {
    if (contains(hosts, BUILD_BINDS[i])) out.record(["rbind", "/" + BUILD_BINDS[i], "/" + BUILD_BINDS[i]]);
  }
  out.record(["dev", "/dev"]);
  out.record(["tmpfs", "/tmp"]);
  // Maintainer scripts write root's home (base-files: /root/.profile) and
  // /run; neither is state, both are scratch.
  if (root) {
    out.record(["tmpfs", "/root"]);
    out.record(["tmpfs", "/run"]);
  }
  out.record(["bind-rw", "/build", dir]);

  // A build is a view: wrapped programs among its layers compose on top of it.
  const id = viewId(all);
  out.record(["view-id", id]);
  for (let i = 0; i < all.length; i++) out.record(["view", all[i].path, all[i].layout, all[i].dirs]);

  out.record(["chdir", cwd]);
  // The environment is replaced, not filtered: nothing of the caller's leaks in.
  out.record(["clearenv"]);
  out.record(["setenv", "PATH", "/usr/bin:/bin"]);
  out.record(["setenv", "HOME", "/homeless-shelter"]);
  out.record(["setenv", "TMPDIR", "/tmp"]);
  out.record(["setenv", "LC_ALL", "C"]);
  out.record(["setenv", "TZ", "UTC"]);
  out.record(["setenv", "SOURCE_DATE_EPOCH", epoch]);
  out.record(["setenv", "IN_NIX_FHS", id]);
  for (let i = 0; i + 1 < env.length; i += 2) out.record(["setenv", env[i], env[i + 1]]);
  return 0;
}
