#pragma once
#include <stdbool.h>
#include <stddef.h>

/* Launches the package's program <rel> (bin/hello; the file is
 * <pkg>/.fhs/raw/<rel>) at /usr/<rel> in the view the package's policy plans.
 * Returns only on failure (it has already reported it). */
int launch(const char *pkg, const char *rel, char **argv);

/* fhs env: the same launch, from an explicit compiled manifest, of argv[0]
 * looked up by PATH inside the view. */
int launch_env(const char *manifest, char **argv);

/* fhs-launcher plan WRAPPER|PACKAGE [--inside]: a launch's facts and the
 * policy's answer on stdout; nothing is mounted (fhs plan). Exits 0, or 1
 * when the policy refused. */
int plan_main(int argc, char **argv);

/* fhs-launcher build INPUT [--status-fd N] -- COMMAND... (build.c) */
int build_main(int argc, char **argv);
/* fhs-launcher overlay-clean DIR (build.c) */
int overlay_clean_main(int argc, char **argv);
int overlay_check_main(int argc, char **argv);
/* fhs-launcher manifest OUT NAME POLICY CONFIG LAYER... (manifest.c): the
 * compiled manifest of a view, for Nix builds that have no CLI yet. */
int manifest_main(int argc, char **argv);
