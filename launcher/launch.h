#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "records.h"

/* Finds the package a wrapper belongs to by following the symlink chain from
 * `path` to the link that points at <pkg>/usr/bin/.fhs-launcher. On success
 * *pkg and *rel (bin/hello) are set (malloc'd) and it returns true. */
bool find_wrapper(const char *path, char **pkg, char **rel);

/* Launches the package's program <rel> (bin/hello; the file is
 * <pkg>/.fhs/raw/<rel>) at /usr/<rel> in the view the package's policy plans.
 * Returns only on failure (it has already reported it). */
int launch(const char *pkg, const char *rel, char **argv);

/* fhs env: the same launch, from an explicit compiled manifest, of argv[0]
 * looked up by PATH inside the view. */
int launch_env(const char *manifest, char **argv);

/* Benchmarks only: carries out a saved plan, then execs argv[0]. */
int replay_plan(const char *plan_file, char **argv);

/* ---- shared with build.c: the plan machinery ---- */

/* The layers a plan may take sources from. */
typedef struct {
  const char **paths; /* layer paths */
  const char **dirs;  /* their comma lists */
  const char **layouts;
  size_t n;
  /* The manifest's ld.so.cache for the view, the only file a plan may bind. */
  const char *ldcache;
  /* A launch (not a build) may use the host's /etc: the current root's /etc,
   * or, inside a view that kept it, HOST_ETC_IN_VIEW. */
  bool host_etc;
  bool host_etc_in_view;
} allowed_t;

/* Where a view keeps the host's /etc, read-only, for the launches nested in
 * it (OverlayFS stacks at most 2 deep: a nested /etc overlay needs the
 * original host's /etc as a lower, not the current view's overlay). */
#define HOST_ETC_IN_VIEW "/.fhs/host-etc"

/* The staging dirs the CLI prepared for a build: the only writable sources.
 * etc_upper, etc_work and var are set only for a state build (src/state.ts):
 * /etc a writable overlay too, /var a staged dir. */
typedef struct {
  const char *upper, *work, *dir;
  const char *etc_upper, *etc_work, *var;
} build_paths_t;

void add_host_entries(recbuf_t *in);
/* The compiled manifest's records that are policy input (launch and fuzzer). */
void add_manifest_facts(recbuf_t *in, const records_t *manifest);
/* The policy's answer as a plan: a refusal or a malformed answer ends the
 * process with 122 and one line naming the policy. */
struct policy_result;
void parse_plan(const char *policy, const struct policy_result *res, const char *what, records_t *plan);
/* Reads the module the `policy PATH SHA256` record of `recs` names and checks
 * its hash: wasm3 trusts its input, so only a module the CLI validated may
 * reach it. `what` names the records' file in messages. Exits 122/125. */
uint8_t *read_verified_policy(const records_t *recs, const char *what, const char **path_out, size_t *len_out,
                              const char **sha_out);
void allow_layers(allowed_t *a, const records_t *r, const char *kind);
/* Refuses (exit 123) any op that breaks an invariant; build ops only when
 * `build` is given. */
void validate_plan(const char *policy, const records_t *plan, const records_t *in, const allowed_t *allowed,
                   const build_paths_t *build);
/* Enters the namespaces and makes the plan's root the process's root. */
void build_view(const records_t *plan);

/* fhs-launcher build INPUT [--status-fd N] -- COMMAND... (build.c) */
int build_main(int argc, char **argv);
/* fhs-launcher overlay-clean DIR (build.c) */
int overlay_clean_main(int argc, char **argv);
int overlay_check_main(int argc, char **argv);
/* fhs-launcher manifest OUT NAME POLICY CONFIG LAYER... (manifest.c): the
 * compiled manifest of a view, for Nix builds that have no CLI yet. */
int manifest_main(int argc, char **argv);
