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
const launcher = join(out, "usr", "bin", ".fhs-launcher");
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
// nix-shell's rc unsets PATH and sets it again, so PATH is no longer
// exported: a program that locates itself through PATH (gcc finding cc1)
// finds nothing. Its rc also puts the directory of the bash it found by
// PATH (".") and an empty entry first. runHook, which the rc calls for
// shellHook once PATH is final, exports PATH without those.
writeFileSync(
  join(out, "setup"),
  [
    "runHook() {",
    '  local d p="" IFS=:',
    '  for d in $PATH; do case "$d" in "" | .) ;; *) p="${p:+$p:}$d" ;; esac; done',
      'export PATH="${p:-/usr/bin:/usr/sbin}"',
    '  local hook="$1"',
    '  eval "${!hook:-}"',
    "}",
    "",
  ].join("\n"),
);
