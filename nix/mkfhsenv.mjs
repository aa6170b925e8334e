// The builder of the view package behind nix/default.nix's mkFhsEnv, run by
// Node in the view of `node` inside Nix's sandbox. It lays out a package the
// way `fhs wrap` does, with no programs of its own: usr/bin/bash and
// usr/bin/sh are wrappers (links to the package's launcher) whose view is
// $fhsLayers, so the launcher execs the view's own /usr/bin/bash. nix-shell
// runs `bash` from the shell derivation's PATH, which is this usr/bin: its
// rc file, and the command of --run, run in the view. `setup` is what
// nix-shell sources as $stdenv/setup: it defines runHook, so the
// derivation's shellHook runs too.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const out = process.env.out;
// Beside the manifest, outside usr/: no view shows it at /usr (src/wrap.ts).
const launcher = join(out, ".fhs", ".fhs-launcher");
mkdirSync(join(out, "usr", "bin"), { recursive: true });
mkdirSync(join(out, ".fhs"));
copyFileSync(process.env.FHS_LAUNCHER, launcher);
chmodSync(launcher, 0o555);
for (const name of ["bash", "sh"]) symlinkSync(launcher, join(out, "usr", "bin", name));
const layers = JSON.parse(process.env.fhsLayers);
const r = spawnSync(process.env.FHS_LAUNCHER, ["manifest", join(out, ".fhs", "manifest.bin"), out, process.env.fhsPolicy, process.env.fhsConfig, ...layers], {
  stdio: "inherit",
});
if (r.status !== 0) process.exit(r.status ?? 1);
const bash = join(out, "usr", "bin", "bash");
writeFileSync(
  join(out, "setup"),
  [
    // Sourced by a bash outside the view: nixpkgs' bashInteractive, which
    // nix-shell prefers to the view's bash when <nixpkgs> has one. The rest
    // of nix-shell's rc must run in the view: a --run rc (`bash RC`, already
    // deleted, still open on fd 255) is read again by the view's bash from
    // that fd; an interactive shell becomes the view's, which runs shellHook.
    // Outside a view: no marker where an in-place view (/usr/.fhs) or a new
    // root (/.fhs) keeps it.
    'if [ -z "${IN_NIX_FHS:-}" ] || { [ ! -e /usr/.fhs/view ] && [ ! -e /.fhs/view ]; }; then',
    "  if [[ $- != *i* ]] && [ -e /proc/self/fd/255 ]; then",
    "    exec {fhs_rc}</proc/self/fd/255",
    `    exec ${bash} /proc/self/fd/$fhs_rc`,
    "  fi",
    // The rc's first line could not remove nix-shell's temporary directory:
    // PATH was this derivation's, which has no rm outside the view.
    '  if declare -F _nix_shell_clean_tmpdir >/dev/null; then PATH=/usr/bin:/bin _nix_shell_clean_tmpdir; fi',
    `  exec ${bash} --rcfile ${join(out, "rc")} -i`,
    "fi",
    // nix-shell's rc unsets PATH and sets it again, so PATH is no longer
    // exported: a program that locates itself through PATH (gcc finding
    // cc1) finds nothing. The rc also puts the directory of the bash it
    // found by PATH (".") and an empty entry first. runHook, which the rc
    // calls for shellHook once PATH is final, exports PATH without those.
    "runHook() {",
    '  local d p="" IFS=:',
    '  for d in $PATH; do case "$d" in "" | .) ;; *) p="${p:+$p:}$d" ;; esac; done',
    '  export PATH="${p:-/usr/bin:/usr/sbin}"',
    '  local hook="$1"',
    '  eval "${!hook:-}"',
    "}",
    "",
  ].join("\n"),
);
// The interactive shell's rc when it had to re-enter: what nix-shell's rc
// would have done after $stdenv/setup.
writeFileSync(join(out, "rc"), `source ${join(out, "setup")}\nrunHook shellHook\n`);
