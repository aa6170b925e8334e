// The build policy (docs/ABI.md, "req build"): the pure view a build runs in.
// /usr is a writable overlay of the dependency layers whose upper directory
// the CLI prepared; nothing else of the host's /usr, no host /home, no
// network unless asked, a scrubbed environment. The launcher validates every
// op (only the CLI-prepared staging dirs may be written) and carries it out.
import { BuildFacts } from "./facts";
import { contains, dedupe, sources, viewId } from "./layers";
import { writeEnv } from "./launch";
import { Policy } from "./policy";
import { RecordWriter, fail } from "./records";

/** Host top-level dirs a build sees. /proc for the toolchain's own use;
 * /nix because layers built by Nix point into the store (their loader, their
 * libraries). Everything else of the host stays out. */
export const BUILD_BINDS = ["nix", "proc"];

/** The host's top-level dirs bound into a build's view, in BUILD_BINDS order. */
export function buildBindsOf(f: BuildFacts): string[] {
  const out = new Array<string>();
  for (let i = 0; i < BUILD_BINDS.length; i++) if (contains(f.hostDirs, BUILD_BINDS[i])) out.push(BUILD_BINDS[i]);
  return out;
}

export function planBuild(p: Policy, f: BuildFacts, out: RecordWriter): i32 {
  if (f.layers.length == 0) return fail(out, "a build needs at least one layer");
  if (f.upper == "" || f.work == "" || f.dir == "") return fail(out, "a build needs build-upper, build-work and build-dir");
  if (f.epoch == "") return fail(out, "a build needs source-date-epoch");
  const all = dedupe(f.layers);

  out.record(["plan", "build"]);
  // A forgotten download is a build failure, not a silent dependency.
  if (!f.network) out.record(["netns"]);
  if (f.root) out.record(["userns-root"]);

  out.record((["overlay-rw", "/usr", f.upper, f.work] as string[]).concat(sources(all, "usr")));
  // /etc and /opt from the layers only, and only when the config asks (for
  // /etc: "layers" or "layers+host"): the host's configuration is not part of
  // a build's inputs.
  if (f.etcUpper != "") {
    // What the scripts write to /etc lands in the staged upper dir; the
    // layers' etc dirs are read-only lowers. Never the host's /etc.
    const etcLowers = sources(all, "etc");
    if (etcLowers.length == 0) return fail(out, "a state build needs a layer with an etc dir");
    out.record((["overlay-rw", "/etc", f.etcUpper, f.etcWork] as string[]).concat(etcLowers));
  }
  if (f.varDir != "") out.record(["bind-rw", "/var", f.varDir]);
  const extra = ["etc", "opt"];
  for (let d = 0; d < extra.length; d++) {
    if (extra[d] == "etc" && f.etcUpper != "") continue;
    if (extra[d] == "etc" ? f.etcFrom == "host" : !contains(f.overlays, extra[d])) continue;
    const lowers = sources(all, extra[d]);
    if (lowers.length == 1) out.record(["bind-ro", "/" + extra[d], lowers[0]]);
    else if (lowers.length > 1) out.record((["overlay", "/" + extra[d]] as string[]).concat(lowers));
  }
  out.record(["symlink", "/bin", "usr/bin"]);
  out.record(["symlink", "/sbin", "usr/sbin"]);
  out.record(["symlink", "/lib", "usr/lib"]);
  out.record(["symlink", "/lib64", "usr/lib64"]);
  const binds = p.buildBinds(f);
  for (let i = 0; i < binds.length; i++) out.record(["rbind", "/" + binds[i], "/" + binds[i]]);
  out.record(["dev", "/dev"]);
  out.record(["tmpfs", "/tmp"]);
  // Maintainer scripts write root's home (base-files: /root/.profile) and
  // /run; neither is state, both are scratch.
  if (f.root) {
    out.record(["tmpfs", "/root"]);
    out.record(["tmpfs", "/run"]);
  }
  out.record(["bind-rw", "/build", f.dir]);

  // A build is a view: wrapped programs among its layers compose on top of it.
  const id = viewId(all);
  out.record(["view-id", id]);
  for (let i = 0; i < all.length; i++) out.record(["view", all[i].path, all[i].layout, all[i].dirs]);

  out.record(["chdir", f.cwd]);
  // The environment is replaced, not filtered: nothing of the caller's leaks in.
  out.record(["clearenv"]);
  out.record(["setenv", "PATH", "/usr/bin:/bin"]);
  out.record(["setenv", "HOME", "/homeless-shelter"]);
  out.record(["setenv", "TMPDIR", "/tmp"]);
  out.record(["setenv", "LC_ALL", "C"]);
  out.record(["setenv", "TZ", "UTC"]);
  out.record(["setenv", "SOURCE_DATE_EPOCH", f.epoch]);
  out.record(["setenv", "IN_NIX_FHS", id]);
  writeEnv(out, f.env);
  return 0;
}
