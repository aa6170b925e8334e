// Install-time state (docs/ARCHITECTURE.md, "Install-time state"). A .deb is
// more than its files: its maintainer scripts and dpkg triggers make state
// when it is installed (update-alternatives' links, graphviz's plugin config,
// phpenmod's conf.d links, caches). fhs runs them once per layer set, never
// per launch, and keeps what they wrote as one more layer:
//
//   1. The packages are the layers' LAYER/.fhs/deb/<package>/ (kept by the
//      importer); they are configured in dependency order, the view's layer
//      order reversed (the Essential base first, the package itself last).
//   2. A build view (the policy's `req build`, launcher/build.c) of exactly
//      those layers: /usr and /etc writable overlays of the layers, /var a
//      staged dir, the scripts root of their own user namespace (no real
//      root), no network, nothing of the host but /proc, a scrubbed
//      environment with SOURCE_DATE_EPOCH and DEBIAN_FRONTEND=noninteractive.
//      What needs a dpkg database or an init system is a stub (STUBS).
//   3. `postinst configure` for every package, then `postinst triggered
//      NAMES` for the packages whose trigger interests were activated (file
//      triggers by a path some layer holds, named triggers by `activate` or
//      dpkg-trigger), until no new trigger is activated.
//   4. What landed in the upper dirs becomes the generated layer OUT/{usr,
//      etc,var}: overlay's xattrs stripped, deletions dropped (a layer cannot
//      delete), dpkg's own bookkeeping and logs left out, every time set to
//      SOURCE_DATE_EPOCH, read-only. Same layers in, same bytes out.
//
// A failing script is one line naming the package and the script; it fails
// the caller only when the config says state is required (state.required).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, isAbsolute, join } from "node:path";
import { DEFAULT_SOURCE_DATE_EPOCH, normalizeTimes, precreateSkeleton, pruneSkeleton } from "./build.js";
import { removeTree } from "./tree.js";
import { CONTROL_DIR } from "./debimport.js";
import { FhsError } from "./errors.js";
import { inspectLayer, usrDir, type Layer } from "./layers.js";
import { LAUNCHER_NAME } from "./manifest.js";
import { lexists } from "./transaction.js";
import { dynamicLauncherPath } from "./paths.js";
import { configRecords, type PolicyConfig } from "./policy/config.js";
import { decodeRecords, encodeRecords, type Rec } from "./policy/records.js";
import type { PolicyModule } from "./policy/validate.js";

/** A Debian package whose control members a layer carries. */
interface DebPackage {
  name: string;
  /** LAYER/.fhs/deb/<name>: control, postinst, triggers, … */
  dir: string;
  arch: string;
  version: string;
  /** Trigger names this package is interested in (`interest*` lines). */
  interests: string[];
  /** Trigger names it activates when configured (`activate*` lines). */
  activates: string[];
  /** `Multi-Arch: same`: dpkg keys its database files by PKG:ARCH. */
  multiArchSame: boolean;
}

export interface StateOptions {
  /** The view's layers, in view order (the package's own first). */
  layers: Layer[];
  policy: PolicyModule;
  config: PolicyConfig;
  launcher: string;
  /** The generated layer to create; must not exist. */
  out: string;
  sourceDateEpoch?: number;
  /** Make the layer read-only on disk (the shared env cache); a wrapped
   * package's state stays as writable as the package (a view mounts every
   * layer read-only anyway), so a failed wrap can remove it. */
  seal?: boolean;
  /** One line per failed script or dropped write. */
  report?: (line: string) => void;
}

export interface StateResult {
  /** The generated layer, when there was any state to make. */
  layer?: Layer;
  /** `PACKAGE SCRIPT ACTION: cause`, one per failed script. */
  failures: string[];
}

/** Commands that need a dpkg database or an init system, answered in the
 * state view by stubs placed first in PATH. Services are never started (no
 * init system, no network); the triggers one writes its names for the next
 * round; ldconfig's work is fhs's own view cache (src/ldcache.ts). */
const STUBS: Record<string, string> = {
  "dpkg-trigger": `# Records the activation; fhs runs the interested packages' postinst triggered.
for a; do case "$a" in --no-await|--await|--by-package=*|--admindir=*|--root=*) ;; --check-supported) exit 0 ;; -*) ;; *) echo "$a" >> /build/triggers.out ;; esac; done
exit 0`,
  "dpkg-maintscript-helper": "# Conffile and symlink moves between versions: nothing was installed before.\nexit 0",
  "deb-systemd-helper": "# No init system in a view: units are neither enabled nor started.\nexit 0",
  "deb-systemd-invoke": "exit 0",
  "invoke-rc.d": "# No services run at install time in a view.\nexit 0",
  "update-rc.d": "exit 0",
  "service": "exit 0",
  "systemctl": "exit 0",
  "systemd-tmpfiles": "exit 0",
  "systemd-sysusers": "exit 0",
  "start-stop-daemon": "exit 0",
  "ldconfig": "# The view's ld.so.cache is fhs's own (src/ldcache.ts).\nexit 0",
};

/** Runs each planned maintainer script as dpkg would, from dpkg's info
 * directory; one status line each. */
const DRIVER = `#!/bin/sh
# fhs install-time state: PACKAGE ARCH SCRIPT ACTION ARG per line of /build/plan.
while IFS='	' read -r pkg arch script action arg; do
  s="/var/lib/dpkg/info/$pkg.$script"
  [ -f "$s" ] || continue
  DPKG_MAINTSCRIPT_PACKAGE="$pkg" DPKG_MAINTSCRIPT_ARCH="$arch" DPKG_MAINTSCRIPT_NAME="$script" \\
  DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT=1 DPKG_ROOT= DPKG_ADMINDIR=/var/lib/dpkg \\
    "$s" "$action" "$arg" </dev/null >"/build/log/$pkg.$script.$action" 2>&1
  echo "$pkg	$script	$action	$?" >> /build/status
done < /build/plan
exit 0
`;

/** What a script's `sh: CMD: not found` (exit 127) most often means: Debian
 * runs maintainer scripts on a system with every Essential package, which
 * no package declares (docs/LAYERS.md, "The base"); the view has its layers
 * alone. Said once, after the shell's own words. */
const MISSING_COMMAND = " (the command is in none of the layers: Debian's maintainer scripts count on its Essential packages, which `fhs layer fetch` adds as layers; docs/LAYERS.md, \"The base: Debian's Essential packages\")";

/** Packages whose scripts are not run: usrmerge converts a system to merged
 * /usr, which every view is by construction; base-files makes the machine's
 * top-level directories (/home, /mnt, /srv…) and root's dotfiles, which a
 * view takes from the host; ssl-cert generates the machine's "snakeoil" key
 * pair, a secret of one machine (random, so never the same bytes twice, and
 * a private key has no place in a shareable layer). */
const SKIPPED = new Set(["usrmerge", "base-files", "ssl-cert"]);

/** Trigger names fhs handles itself: the view's ld.so.cache is made at wrap time. */
const OWN_TRIGGERS = new Set(["ldconfig"]);

/** dbus's copy of the machine id (see ETC_DROPPED). */
const MACHINE_ID_DBUS = "var/lib/dbus/machine-id";

/** What of /var is state. dpkg's database is an input fhs generated (from
 * the control files), logs and temporary files are not state, and the
 * loader's aux cache holds inode numbers. */
const VAR_DROPPED = ["var/log", "var/tmp", "var/backups", "var/spool", "var/mail", "var/run", "var/lock", "var/cache/ldconfig", "var/cache/debconf", MACHINE_ID_DBUS];
/** Of /var/lib/dpkg, only the alternatives' database is kept. */
const DPKG_KEPT = new Set(["alternatives"]);
/** /etc files that are locks or backups, fhs's own (ld.so.cache), or the
 * machine's identity, which dbus's postinst generates at random: a view
 * shows the host's (hostBinds.etc), and one machine's id has no place in a
 * shareable layer that must be the same bytes at every wrap. */
const ETC_DROPPED = new Set(["etc/machine-id", "etc/ld.so.cache", "etc/.pwd.lock", "etc/passwd-", "etc/group-", "etc/shadow-", "etc/gshadow-", "etc/subuid-", "etc/subgid-"]);

function controlFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
    if (m) fields.set(m[1]!, m[2]!.trim());
  }
  return fields;
}

/** The packages of the layers, in dependency order (view order reversed);
 * a package seen twice counts where the view shows it first. */
export function statePackages(layers: Layer[]): DebPackage[] {
  const seen = new Set<string>();
  const out: DebPackage[] = [];
  for (const l of layers) {
    const root = join(l.path, ".fhs", CONTROL_DIR);
    let names: string[];
    try {
      names = readdirSync(root).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      if (seen.has(name) || !/^[a-z0-9][a-z0-9+.-]*$/.test(name)) continue;
      const dir = join(root, name);
      let control: Map<string, string>;
      try {
        control = controlFields(readFileSync(join(dir, "control"), "utf8"));
      } catch {
        continue;
      }
      seen.add(name);
      const interests: string[] = [];
      const activates: string[] = [];
      try {
        for (const line of readFileSync(join(dir, "triggers"), "utf8").split("\n")) {
          const m = /^\s*(interest|interest-await|interest-noawait|activate|activate-await|activate-noawait)\s+(\S+)/.exec(line.replace(/#.*/, ""));
          if (!m) continue;
          (m[1]!.startsWith("interest") ? interests : activates).push(m[2]!);
        }
      } catch {
        // No triggers file.
      }
      out.push({ name, dir, arch: control.get("Architecture") ?? "all", version: control.get("Version") ?? "", interests, activates, multiArchSame: control.get("Multi-Arch") === "same" });
    }
  }
  return out.reverse();
}

/** Whether the set's /bin/sh (the first layer's that has one, as the view
 * shows it) is a program the state view can run: a wrapped package's
 * usr/bin/sh is a link to its launcher on the host, which a build view does
 * not show. */
function usableShell(layers: Layer[]): boolean {
  for (const l of layers) {
    let sh = join(usrDir(l), "bin", "sh");
    if (!lexists(sh)) continue;
    // sh -> dash -> …/.fhs-launcher: follow the layer's own relative links.
    for (let hops = 0; hops < 10 && lexists(sh) && lstatSync(sh).isSymbolicLink(); hops++) {
      const target = readlinkSync(sh);
      if (basename(target) === LAUNCHER_NAME) return false;
      if (isAbsolute(target)) return true; // resolved in the view
      sh = join(dirname(sh), target);
    }
    return true;
  }
  return false;
}

/** True when some layer (or a generated upper) shows the view path. */
function viewHas(layers: Layer[], uppers: Record<string, string>, path: string): boolean {
  const m = /^\/(usr|etc)(\/.*)?$/.exec(path);
  if (!m) return false;
  const rest = m[2] ?? "";
  const roots = [uppers[m[1]!]!, ...layers.map((l) => (m[1] === "usr" ? usrDir(l) : l.dirs.includes("etc") ? join(l.path, "etc") : ""))];
  return roots.some((r) => r !== "" && existsSync(r + rest));
}

/** /var/lib/dpkg/status describing the set as installed, so that
 * dpkg-query and dpkg --compare-versions callers see the packages. */
function dpkgStatus(pkgs: DebPackage[]): string {
  return [...pkgs]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((p) => {
      const text = readFileSync(join(p.dir, "control"), "utf8").trimEnd();
      const [first, ...rest] = text.split("\n");
      return [first, "Status: install ok installed", ...rest].join("\n") + "\n";
    })
    .join("\n");
}

/** dpkg's file list of a package (`/var/lib/dpkg/info/PKG.list`), for the
 * scripts that ask `dpkg -L` what their package installed: python's postinst
 * byte-compiles exactly `dpkg -L libpython3.11-stdlib`'s .py files, and
 * py3compile -p does the same for every python package. The list is the
 * package's md5sums (its regular files, by the paths the .deb has) and
 * conffiles, with their parent directories, as dpkg would list them; links
 * are not in it (md5sums has none; a layer may hold several packages'
 * files, so its tree cannot say whose a link is). */
function dpkgFileList(p: DebPackage): string | undefined {
  const files = new Set<string>();
  const add = (path: string) => {
    const clean = path.replace(/^\.?\/*/, "/").replace(/\/+$/, "");
    if (clean === "/" || clean.includes("\n")) return;
    files.add(clean);
    for (let d = dirname(clean); d !== "/"; d = dirname(d)) files.add(d);
  };
  try {
    for (const line of readFileSync(join(p.dir, "md5sums"), "utf8").split("\n")) {
      const m = /^[0-9a-f]{32} [ *](.+)$/.exec(line);
      if (m) add(m[1]!);
    }
  } catch {
    // No md5sums: only conffiles, if any.
  }
  try {
    for (const line of readFileSync(join(p.dir, "conffiles"), "utf8").split("\n")) if (line.startsWith("/")) add(line.trim().replace(/^remove-on-upgrade\s+/, ""));
  } catch {
    // No conffiles.
  }
  if (files.size === 0) return undefined;
  return ["/.", ...[...files].sort()].join("\n") + "\n";
}

/** The files the layers ship under /var, copied into the state view's
 * staged /var (the first layer's, as a view shows them): scripts read them
 * (aspell-en's postinst builds its dictionary hashes only for the
 * languages /var/lib/aspell/*.compat names) and may rewrite them. Returns
 * each copy's relative path and its source. */
function stageShippedVar(layers: Layer[], varDir: string): Map<string, string> {
  const shipped = new Map<string, string>();
  const walk = (root: string, rel: string) => {
    let entries;
    try {
      entries = readdirSync(join(root, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        walk(root, r);
        continue;
      }
      const to = join(varDir, r);
      if (shipped.has(r) || lexists(to)) continue;
      const from = join(root, r);
      if (e.isSymbolicLink()) symlinkSync(readlinkSync(from), to);
      else if (e.isFile()) {
        copyFileSync(from, to);
        chmodSync(to, (lstatSync(from).mode & 0o7777) | 0o200);
      } else continue;
      shipped.set(r, from);
    }
  };
  for (const l of layers) if (l.layout === "fhs") walk(join(l.path, "var"), "");
  return shipped;
}

/** Shipped /var files the scripts left as they were: they stay their
 * layer's, the state layer keeps only what changed. */
function dropUnchangedShipped(varDir: string, shipped: Map<string, string>): void {
  for (const [rel, from] of shipped) {
    const at = join(varDir, rel);
    let same = false;
    try {
      const a = lstatSync(at);
      const b = lstatSync(from);
      if (a.isSymbolicLink() && b.isSymbolicLink()) same = readlinkSync(at) === readlinkSync(from);
      else if (a.isFile() && b.isFile()) same = a.size === b.size && readFileSync(at).equals(readFileSync(from));
    } catch {
      continue; // removed by a script: nothing to keep
    }
    if (same) rmSync(at, { force: true });
  }
}

/** Removes overlay's whiteouts (a deletion a layer cannot carry) and strips
 * its xattrs; returns the deleted paths. */
function cleanUpper(launcher: string, upper: string): string[] {
  const bin = existsSync(launcher) ? launcher : dynamicLauncherPath;
  const r = spawnSync(bin, ["overlay-clean", upper], { maxBuffer: 64 * 1024 * 1024 });
  if (r.error || r.status !== 0) throw new FhsError(`install-time state: cannot inspect ${upper}: ${r.error?.message ?? String(r.stderr).trim()}`);
  const deleted: string[] = [];
  for (const [what, rel] of decodeRecords(r.stdout)) {
    if (what !== "whiteout" || !rel) continue;
    deleted.push(rel);
    try {
      const st = lstatSync(join(upper, rel));
      if (!st.isDirectory()) unlinkSync(join(upper, rel));
    } catch {
      // An xattr whiteout on a directory was stripped: the directory stays.
    }
  }
  return deleted;
}

function dropPaths(root: string, rels: Iterable<string>): void {
  for (const rel of rels) rmSync(join(root, rel), { recursive: true, force: true });
}

/** Directories 0555, files without write bits: the layer is read-only. */
function sealTree(root: string): void {
  const st = lstatSync(root);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    for (const e of readdirSync(root)) sealTree(join(root, e));
    chmodSync(root, 0o555);
  } else chmodSync(root, st.mode & 0o7555);
}

function hasEntries(dir: string): boolean {
  try {
    return readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

/**
 * Makes the install-time state of `layers` as a layer at `out`. Returns no
 * layer when no package has a postinst or a trigger interest, or when the
 * layers cannot run one (no /bin/sh, no etc dir).
 */
export function makeState(opts: StateOptions): StateResult {
  const report = opts.report ?? (() => {});
  const pkgs = statePackages(opts.layers);
  const runnable = pkgs.filter((p) => !SKIPPED.has(p.name) && existsSync(join(p.dir, "postinst")));
  if (runnable.length === 0) return { failures: [] };
  // Without a shell or an etc dir the layers are not a Debian system the
  // scripts could run in (a library's -dev layers alone): no state, quietly.
  if (!usableShell(opts.layers)) return { failures: [] };
  if (!opts.layers.some((l) => l.dirs.includes("etc"))) return { failures: [] };
  const epoch = opts.sourceDateEpoch ?? DEFAULT_SOURCE_DATE_EPOCH;
  const staging = mkdtempSync(join(dirname(opts.out), ".state-"));
  try {
    const d = (n: string) => join(staging, n);
    for (const n of ["usr", "usr-work", "etc", "etc-work", "var", "build", "build/log", "build/stubs"]) mkdirSync(d(n), { mode: 0o755 });
    // Every directory a script may write into exists upper (build.ts says why).
    const usrCreated = precreateSkeleton(opts.layers.map(usrDir), d("usr"));
    const etcCreated = precreateSkeleton(opts.layers.filter((l) => l.dirs.includes("etc")).map((l) => join(l.path, "etc")), d("etc"));
    precreateSkeleton(opts.layers.filter((l) => l.layout === "fhs").map((l) => join(l.path, "var")), d("var"));
    const shippedVar = stageShippedVar(opts.layers, d("var"));
    for (const v of ["var/lib/dpkg/alternatives", "var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "var/cache", "var/log", "var/tmp"]) {
      mkdirSync(join(staging, v), { recursive: true, mode: 0o755 });
    }
    chmodSync(d("var/tmp"), 0o1777);
    writeFileSync(d("var/lib/dpkg/status"), dpkgStatus(pkgs));
    // The multiarch database layout, where PKG:ARCH.list is looked for.
    writeFileSync(d("var/lib/dpkg/info/format"), "1\n");
    mkdirSync(d("etc/alternatives"), { recursive: true, mode: 0o755 });
    // Directory times are what a cache (fontconfig's) may record.
    normalizeTimes(d("usr"), epoch);
    normalizeTimes(d("etc"), epoch);
    // The control members where dpkg keeps them: debconf's frontend finds a
    // package's templates and config script beside its postinst.
    for (const p of pkgs) {
      for (const f of readdirSync(p.dir)) {
        if (f === "control") continue;
        const to = d(`var/lib/dpkg/info/${p.name}.${f}`);
        copyFileSync(join(p.dir, f), to);
        chmodSync(to, 0o755);
      }
      // dpkg names a Multi-Arch: same package's database files PKG:ARCH.
      const list = dpkgFileList(p);
      if (list) writeFileSync(d(`var/lib/dpkg/info/${p.multiArchSame ? `${p.name}:${p.arch}` : p.name}.list`), list);
    }
    for (const [name, body] of Object.entries(STUBS)) writeFileSync(d(`build/stubs/${name}`), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    writeFileSync(d("build/run.sh"), DRIVER, { mode: 0o755 });

    const input: Rec[] = [
      ["fhs-build", "1"],
      ["policy", opts.policy.path, opts.policy.sha256],
      ...opts.layers.map((l): Rec => ["layer", l.path, l.layout, l.dirs.join(",")]),
      ...configRecords(opts.config),
      ["build-upper", d("usr")],
      ["build-work", d("usr-work")],
      ["build-etc-upper", d("etc")],
      ["build-etc-work", d("etc-work")],
      ["build-var", d("var")],
      ["build-root", "on"],
      ["build-dir", d("build")],
      ["build-cwd", "/"],
      ["network", "off"],
      ["source-date-epoch", String(epoch)],
      ["setenv", "PATH", "/build/stubs:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      ["setenv", "HOME", "/root"],
      ["setenv", "DEBIAN_FRONTEND", "noninteractive"],
      ["setenv", "DEBCONF_NONINTERACTIVE_SEEN", "true"],
      ["setenv", "DEBCONF_NOWARNINGS", "yes"],
    ];
    writeFileSync(d("input.bin"), encodeRecords(input));

    const failures: string[] = [];
    const run = (plan: string[][]) => {
      writeFileSync(d("build/plan"), plan.map((l) => l.join("\t") + "\n").join(""));
      rmSync(d("build/status"), { force: true });
      const r = spawnSync(opts.launcher, ["build", d("input.bin"), "--", "/bin/sh", "/build/run.sh"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
      if (r.error) throw new FhsError(`launcher ${opts.launcher}: ${r.error.message}`);
      if (r.status !== 0) throw new FhsError(`install-time state: the state view failed (exit ${r.status ?? r.signal}): ${(r.stderr || "").trim().split("\n").pop() ?? ""}`);
      const status = existsSync(d("build/status")) ? readFileSync(d("build/status"), "utf8") : "";
      for (const line of status.split("\n").filter(Boolean)) {
        const [pkg, script, action, code] = line.split("\t");
        if (code === "0") continue;
        const log = existsSync(d(`build/log/${pkg}.${script}.${action}`)) ? readFileSync(d(`build/log/${pkg}.${script}.${action}`), "utf8") : "";
        const last = log.trim().split("\n").pop()?.trim() ?? "";
        const line1 = `${pkg} ${script} ${action}: exit ${code}${last ? `: ${last}` : ""}${code === "127" && / not found$/.test(last) ? MISSING_COMMAND : ""}`;
        failures.push(line1);
        report(`install-time state: ${line1}`);
      }
    };

    // Configure, in dependency order.
    run(runnable.map((p) => [p.name, p.arch, "postinst", "configure", ""]));

    // Triggers: file triggers are activated by a path the view holds (every
    // package is being installed), named ones by `activate` lines and by
    // dpkg-trigger calls; each round may activate more.
    const done = new Map<string, Set<string>>();
    const named = new Set(pkgs.flatMap((p) => p.activates));
    for (let round = 0; round < 4; round++) {
      if (existsSync(d("build/triggers.out"))) {
        for (const n of readFileSync(d("build/triggers.out"), "utf8").split("\n")) if (n.trim()) named.add(n.trim());
        rmSync(d("build/triggers.out"));
      }
      const plan: string[][] = [];
      for (const p of pkgs) {
        if (SKIPPED.has(p.name) || !existsSync(join(p.dir, "postinst"))) continue;
        const seen = done.get(p.name) ?? new Set<string>();
        const names = p.interests.filter(
          (n) => !OWN_TRIGGERS.has(n) && !seen.has(n) && (n.startsWith("/") ? viewHas(opts.layers, { usr: d("usr"), etc: d("etc") }, n) : named.has(n)),
        );
        if (names.length === 0) continue;
        for (const n of names) seen.add(n);
        done.set(p.name, seen);
        plan.push([p.name, p.arch, "postinst", "triggered", names.join(" ")]);
      }
      if (plan.length === 0) break;
      run(plan);
    }

    // The generated layer: what the scripts wrote, and nothing else.
    for (const [dir, created] of [["usr", usrCreated], ["etc", etcCreated]] as const) {
      for (const rel of cleanUpper(opts.launcher, d(dir))) report(`install-time state: a script deleted /${dir}/${rel}; a layer cannot delete, the view keeps it`);
      pruneSkeleton(d(dir), created);
    }
    dropUnchangedShipped(d("var"), shippedVar);
    dropPaths(staging, ETC_DROPPED);
    dropPaths(staging, VAR_DROPPED);
    if (existsSync(d("var/lib/dpkg"))) dropPaths(d("var/lib/dpkg"), readdirSync(d("var/lib/dpkg")).filter((n) => !DPKG_KEPT.has(n)));
    pruneEmptyDirs(d("var"));
    pruneEmptyDirs(d("etc"));
    pruneEmptyDirs(d("usr"));

    const layerDir = d("out");
    mkdirSync(layerDir, { mode: 0o755 });
    renameSync(d("usr"), join(layerDir, "usr"));
    mkdirSync(join(layerDir, "usr"), { recursive: true, mode: 0o755 });
    for (const n of ["etc", "var"]) if (hasEntries(d(n))) renameSync(d(n), join(layerDir, n));
    normalizeTimes(layerDir, epoch);
    if (opts.seal) {
      sealTree(layerDir);
      chmodSync(layerDir, 0o755);
    }
    renameSync(layerDir, opts.out);
    const layer = inspectLayer(opts.out);
    // State under var/lib is shown where programs look (the view's /var/lib).
    if (existsSync(join(opts.out, "var", "lib")) && !layer.dirs.includes("var/lib")) layer.dirs.push("var/lib");
    return { layer, failures };
  } finally {
    removeTree(staging);
  }
}

/** Empty directories removed, deepest first (the root stays). */
function pruneEmptyDirs(root: string): void {
  const walk = (p: string): boolean => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return false;
    }
    if (!st.isDirectory()) return true;
    let keep = false;
    for (const e of readdirSync(p)) keep = walk(join(p, e)) || keep;
    if (!keep && p !== root) rmSync(p, { recursive: true, force: true });
    return keep;
  };
  walk(root);
}

/** The config's word on failures: state.required makes a failed script fail the caller. */
export function stateRequired(config: PolicyConfig): boolean {
  return config.state?.required === true;
}

/** makeState, failing when the config requires the state and a script failed. */
export function makeStateChecked(opts: StateOptions): StateResult {
  const r = makeState(opts);
  if (r.failures.length > 0 && stateRequired(opts.config)) {
    removeTree(opts.out);
    throw new FhsError(`install-time state: ${r.failures[0]}${r.failures.length > 1 ? ` (and ${r.failures.length - 1} more)` : ""}; the config requires the state (state.required)`);
  }
  return r;
}

/** The state of a layer list that has no package to hold it (`fhs env`):
 * made once per list, kept under the list's hash in the user's cache
 * directory ($XDG_CACHE_HOME/fhs/state/), reused by later sessions. */
export function cachedViewState(layers: Layer[], opts: Omit<StateOptions, "layers" | "out">): Layer | undefined {
  if (statePackages(layers).every((p) => !existsSync(join(p.dir, "postinst")))) return undefined;
  const key = createHash("sha256").update(JSON.stringify(layers)).digest("hex");
  const dir = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "fhs", "state");
  const out = join(dir, key);
  const described = (): Layer => {
    const l = inspectLayer(out);
    if (existsSync(join(out, "var", "lib")) && !l.dirs.includes("var/lib")) l.dirs.push("var/lib");
    return l;
  };
  if (existsSync(join(out, "usr"))) return described();
  if (existsSync(join(dir, `${key}.none`))) return undefined;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch {
    return undefined; // no writable cache directory: the view has no generated state
  }
  const tmp = mkdtempSync(join(dir, `.${key}.tmp-`));
  try {
    const r = makeStateChecked({ ...opts, layers, out: join(tmp, "state"), seal: true });
    if (!r.layer) {
      writeFileSync(join(dir, `${key}.none`), "");
      return undefined;
    }
    try {
      renameSync(join(tmp, "state"), out);
    } catch (e) {
      // Another session made it first: the same bytes.
      if (!existsSync(join(out, "usr"))) throw e;
    }
    return described();
  } finally {
    removeTree(tmp);
  }
}

/** `fhs wrap`'s step: the package's install-time state, made in `staged`
 * and described at `final` (where the wrap moves it: DIR/.fhs/state). */
export function wrapState(layers: Layer[], policy: PolicyModule, config: PolicyConfig, launcher: string, staged: string, final: string): Layer | undefined {
  // When the state is required, the error names the failure instead.
  const report = stateRequired(config) ? undefined : (line: string) => process.stderr.write(`fhs: ${line}\n`);
  const r = makeStateChecked({ layers, policy, config, launcher, out: staged, report });
  return r.layer ? { ...r.layer, path: final } : undefined;
}
