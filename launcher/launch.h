#pragma once
#include <stdbool.h>

/* Finds the package a wrapper belongs to by following the symlink chain from
 * `path` to the link that points at <pkg>/usr/bin/.fhs-launcher. On success
 * *pkg and *rel (bin/hello) are set (malloc'd) and it returns true. */
bool find_wrapper(const char *path, char **pkg, char **rel);

/* Launches <pkg>/usr/raw/<rel> in the view the package's policy plans.
 * Returns only on failure (it has already reported it). */
int launch(const char *pkg, const char *rel, char **argv);

/* Benchmarks only: carries out a saved plan, then execs argv[0]. */
int replay_plan(const char *plan_file, char **argv);
