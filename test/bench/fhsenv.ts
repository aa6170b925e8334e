// A faithful buildFHSEnv, rebuilt from nixpkgs'
// pkgs/build-support/build-fhsenv-bubblewrap (default.nix, buildFHSEnv.nix,
// rootfs-builder, container-init.cc) over Debian layers, for the launch
// benchmark. docs/BENCHMARKS.md says exactly what it keeps and what it
// leaves out. In short, per launch, as there:
//   1. the bash wrapper builds bwrap's arguments: one readlink exec per
//      symlink at the environment's top level, a ro-bind per directory, the
//      environment's /etc entries, the host's /etc entries as links into
//      /.host-etc, a bind of every other host top-level directory;
//   2. bwrap makes the sandbox (no pivot to a prepared root: a tmpfs root
//      filled op by op, then pivot_root);
//   3. the static init writes /etc/ld.so.conf and runs ldconfig over the
//      whole environment (the ldconfig wrapper script, then ldconfig);
//   4. /init, a bash script, sources /etc/profile and execs the program.
// The environment's root is a tree of symlinks into the layers, one per
// file, laid out as rootfs-builder lays out store paths.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface FhsEnv {
  /** The wrapper: run it with the program's arguments. */
  wrapper: string;
  /** Files in the environment's /usr tree (symlinks). */
  files: number;
}

/** Where rootfs-builder puts a store path's entry (remap_native_path), for a
 * layer's usr/ seen as a Nix output; null: not in the environment. Debian's
 * usr/lib64 (the loader's path) also goes to usr/lib64: a Nix program names
 * its loader by store path, a Debian one by /lib64. */
function remap(rel: string): string | null {
  const top = rel.split("/")[0]!;
  if (top === "bin" || top === "sbin" || top === "share" || top === "include") return `usr/${rel}`;
  if (top === "lib" || top === "lib64") return `usr/lib64/${rel.slice(top.length + 1)}`;
  return null;
}

/** Non-directory entries under dir (directory symlinks followed, as
 * rootfs-builder's WalkDir::follow_links does), relative to dir. */
function walk(dir: string, rel = "", out: string[] = []): string[] {
  let names: string[];
  try {
    names = readdirSync(join(dir, rel));
  } catch {
    return out;
  }
  for (const n of names) {
    const r = rel ? `${rel}/${n}` : n;
    const p = join(dir, r);
    const l = lstatSync(p);
    let isDir = l.isDirectory();
    if (l.isSymbolicLink()) {
      try {
        isDir = statSync(p).isDirectory();
      } catch {
        isDir = false; // broken: kept, as there
      }
    }
    if (isDir) walk(dir, r, out);
    else out.push(r);
  }
  return out;
}

/**
 * Builds (once per layer list, under cacheDir) the environment and its
 * wrapper. layers: highest priority first (buildFHSEnv's base packages, then
 * targetPkgs). libcBin: the layer with ldconfig; bash: the layer with bash
 * (the scripts' interpreter, a store path there); containerInit: the built
 * fhsenv-init.c. /nix is bound as there when the host has one.
 */
export function buildFhsEnv(opts: { layers: string[]; cacheDir: string; bwrap: string; libcBin: string; bash: string; runScript: string; containerInit: string }): FhsEnv {
  const key = createHash("sha256").update(JSON.stringify([opts.layers, opts.bwrap, opts.runScript, 2])).digest("hex").slice(0, 16);
  const root = join(opts.cacheDir, `fhsenv-${key}`);
  const wrapper = join(root, "bin", "fhsenv-bwrap");
  const count = join(root, "files");
  if (existsSync(wrapper)) return { wrapper, files: Number(readFileSync(count, "utf8")) };

  const stage = `${root}.tmp-${process.pid}`;
  rmSync(stage, { recursive: true, force: true });
  const bash = join(opts.bash, "usr/bin/bash");
  const script = (name: string, text: string) => {
    const p = join(stage, name);
    mkdirSync(join(p, ".."), { recursive: true });
    writeFileSync(p, text, { mode: 0o755 });
    return join(root, name);
  };

  // The store paths that buildFHSEnv puts first: its /etc/profile (the
  // variables it exports, abridged to what a launch of `true` reads) and
  // its ldconfig wrapper.
  const profile = join(stage, "profile-out");
  mkdirSync(join(profile, "etc"), { recursive: true });
  writeFileSync(
    join(profile, "etc/profile"),
    `export PS1='fhsenv:\\u@\\h:\\w\\$ '\nexport LOCALE_ARCHIVE="\${LOCALE_ARCHIVE:-/usr/lib/locale/locale-archive}"\nexport PATH="/run/wrappers/bin:/usr/bin:/usr/sbin:$PATH"\nexport TZDIR='/etc/zoneinfo'\nexport XDG_DATA_DIRS=$XDG_DATA_DIRS\${XDG_DATA_DIRS:+:}/run/opengl-driver/share:/run/opengl-driver-32/share\ncase ":$XDG_DATA_DIRS:" in *:/usr/local/share:*) ;; *) export XDG_DATA_DIRS="$XDG_DATA_DIRS\${XDG_DATA_DIRS:+:}/usr/local/share" ;; esac\ncase ":$XDG_DATA_DIRS:" in *:/usr/share:*) ;; *) export XDG_DATA_DIRS="$XDG_DATA_DIRS\${XDG_DATA_DIRS:+:}/usr/share" ;; esac\nunset NIX_ENFORCE_PURITY\nexport NIX_CFLAGS_COMPILE='-idirafter /usr/include'\nexport NIX_CFLAGS_LINK='-L/usr/lib -L/usr/lib32'\nexport NIX_LDFLAGS='-L/usr/lib -L/usr/lib32'\nexport PKG_CONFIG_PATH=/usr/lib/pkgconfig\nexport ACLOCAL_PATH=/usr/share/aclocal\nexport GST_PLUGIN_SYSTEM_PATH_1_0=/usr/lib/gstreamer-1.0:/usr/lib32/gstreamer-1.0\n`,
  );
  const ldconfigOut = join(stage, "ldconfig-out");
  mkdirSync(join(ldconfigOut, "bin"), { recursive: true });
  writeFileSync(join(ldconfigOut, "bin/ldconfig"), `#!${bash}\nexec ${join(opts.libcBin, "usr/sbin/ldconfig")} -f /etc/ld.so.conf -C /etc/ld.so.cache "$@"\n`, { mode: 0o755 });

  // rootfs-builder: every file of every path, first (highest priority) wins,
  // as a symlink to it; directories are real.
  const rootfs = join(stage, "rootfs");
  const taken = new Set<string>();
  let files = 0;
  const place = (dest: string, src: string) => {
    if (taken.has(dest)) return;
    taken.add(dest);
    mkdirSync(join(rootfs, dest, ".."), { recursive: true });
    symlinkSync(src, join(rootfs, dest));
    files++;
  };
  // The two generated paths are described by their final location.
  for (const [dir, final] of [
    [profile, join(root, "profile-out")],
    [ldconfigOut, join(root, "ldconfig-out")],
  ] as const) {
    for (const r of walk(dir)) {
      const d = r.startsWith("etc/") ? r : remap(r);
      if (d) place(d, join(final, r));
    }
  }
  for (const layer of opts.layers) {
    for (const r of walk(join(layer, "usr"))) {
      const d = remap(r);
      if (d) place(d, join(layer, "usr", r));
    }
    // Nix's glibc ships no ld.so.conf: the init writes it, as there.
    for (const top of ["etc", "opt"]) for (const r of walk(join(layer, top))) if (!r.startsWith("ld.so.conf")) place(`${top}/${r}`, join(layer, top, r));
  }
  for (const [link, target] of [
    ["bin", "/usr/bin"],
    ["sbin", "/usr/sbin"],
    ["lib", "/usr/lib"],
    ["lib32", "/usr/lib32"],
    ["lib64", "/usr/lib64"],
    ["usr/lib", "/usr/lib64"],
    ["libexec", "/usr/libexec"],
    ["etc/mtab", "/proc/mounts"],
  ] as const) {
    mkdirSync(join(rootfs, link, ".."), { recursive: true });
    if (!taken.has(link)) symlinkSync(target, join(rootfs, link));
  }

  // A stand-in for the glibc store path whose etc/ the wrapper covers.
  const glibc = join(root, "glibc");
  mkdirSync(join(stage, "glibc/etc"), { recursive: true });
  writeFileSync(join(stage, "glibc/etc/rpc"), "");
  const init = script("init", `#!${bash}\nsource /etc/profile\nexec ${opts.runScript} "$@"\n`);
  const containerInit = join(root, "container-init");
  copyFileSync(opts.containerInit, join(stage, "container-init"));
  chmodSync(join(stage, "container-init"), 0o755);
  const fhsenv = join(root, "rootfs");

  // The wrapper: default.nix's bwrapCmd with the defaults (chdirToPwd,
  // dieWithParent; no unshare*, no privateTmp), written out for this tree.
  const etcBindEntries = ["static", "nix", "shells", "bashrc", "zshenv", "zshrc", "zinputrc", "zprofile", "passwd", "group", "shadow", "hosts", "resolv.conf", "nsswitch.conf", "profiles", "login.defs", "sudoers", "sudoers.d", "localtime", "zoneinfo", "machine-id", "os-release", "pam.d", "fonts", "alsa", "asound.conf", "ssl/certs", "ca-certificates", "pki", "dconf"].map((f) => `/etc/${f}`);
  script(
    "bin/fhsenv-bwrap",
    `#!/usr/bin/env bash
ignored=(/nix /dev /proc /etc)
ro_mounts=()
symlinks=()
etc_ignored=()
for i in ${fhsenv}/*; do
  path="/\${i##*/}"
  if [[ $path == '/etc' ]]; then
    :
  elif [[ -L $i ]]; then
    symlinks+=(--symlink "$(/usr/bin/readlink "$i")" "$path")
    ignored+=("$path")
  else
    ro_mounts+=(--ro-bind "$i" "$path")
    ignored+=("$path")
  fi
done
if [[ -d ${fhsenv}/etc ]]; then
  for i in ${fhsenv}/etc/*; do
    path="/\${i##*/}"
    if [[ $path == '/fonts' || $path == '/ssl' ]]; then
      continue
    fi
    if [[ -L $i ]]; then
      symlinks+=(--symlink "$i" "/etc$path")
    else
      ro_mounts+=(--ro-bind "$i" "/etc$path")
    fi
    etc_ignored+=("/etc$path")
  done
fi
if [[ -e /.host-etc ]]; then
  ro_mounts+=(--ro-bind /.host-etc /.host-etc)
else
  ro_mounts+=(--ro-bind /etc /.host-etc)
fi
declare -A etc_ignored_set
for ign in "\${etc_ignored[@]}"; do
  etc_ignored_set[$ign]=1
done
for i in ${etcBindEntries.map((e) => `'${e}'`).join(" ")}; do
  if [[ -n "\${etc_ignored_set[$i]:-}" ]]; then
    continue
  fi
  if [[ -e $i ]]; then
    symlinks+=(--symlink "/.host-etc/\${i#/etc/}" "$i")
  fi
done
declare -A ignored_set
for ign in "\${ignored[@]}"; do
  ignored_set[$ign]=1
done
declare -a auto_mounts
for dir in /*; do
  if [[ -d "$dir" ]] && [[ -z "\${ignored_set[$dir]:-}" ]]; then
    auto_mounts+=(--bind "$dir" "$dir")
  fi
done
declare -a x11_args
x11_args+=(--tmpfs /tmp/.X11-unix)
if [[ "$DISPLAY" == *:* ]]; then
  display_nr=\${DISPLAY/#*:}
  display_nr=\${display_nr/%.*}
  local_socket=/tmp/.X11-unix/X$display_nr
  x11_args+=(--ro-bind-try "$local_socket" "$local_socket")
fi
cmd=(
  ${opts.bwrap}
  --dev-bind /dev /dev
  --proc /proc
  --chdir "$(pwd)"
  --die-with-parent
${existsSync("/nix") ? "  --bind /nix /nix\n" : ""}  --tmpfs ${glibc}/etc
  --tmpfs /etc
  --symlink /etc/ld.so.conf ${glibc}/etc/ld.so.conf
  --symlink /etc/ld.so.cache ${glibc}/etc/ld.so.cache
  --ro-bind ${glibc}/etc/rpc ${glibc}/etc/rpc
  --remount-ro ${glibc}/etc
  --symlink ${init} /init
  "\${ro_mounts[@]}"
  "\${symlinks[@]}"
  "\${auto_mounts[@]}"
  "\${x11_args[@]}"
  ${containerInit} "$@"
)
exec "\${cmd[@]}"
`,
  );
  writeFileSync(join(stage, "files"), String(files));
  execFileSync("chmod", ["-R", "a+rX", stage]);
  renameSync(stage, root);
  return { wrapper, files };
}
