/* The plan's invariants (docs/ABI.md, "the launcher checks"): a pure
 * function of the typed plan and what it is checked against. No system
 * call, no exit: a refusal is a verdict. Unit-tested one refusal at a time
 * (test/unit/validate_test.c) and fuzzed (fuzz/plan_fuzzer.c). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "plan.h"
#include "records.h"

/* The layers a plan may take sources from. */
typedef struct {
  const char **paths; /* layer paths */
  const char **dirs;  /* their comma lists */
  const char **layouts;
  size_t *lens;       /* strlen of each path */
  char *kinds;        /* each layout: 'n' nix, 'f' fhs, 0 neither (matches nothing) */
  size_t n;
  /* The manifest's ld.so.cache for the view, the only file a plan may bind. */
  const char *ldcache;
  /* A launch (not a build) may use the host's /etc: the current root's /etc,
   * or, inside a view that kept it, the copy it kept (FHS_HOST_ETC_IN_VIEW
   * or FHS_HOST_ETC_IN_PLACE, as its marker was found; NULL: none). */
  bool host_etc;
  const char *host_etc_kept;
} allowed_t;

/* The staging dirs the CLI prepared for a build: the only writable sources.
 * etc_upper, etc_work and var are set only for a state build (src/state.ts):
 * /etc a writable overlay too, /var a staged dir. */
typedef struct {
  const char *upper, *work, *dir;
  const char *etc_upper, *etc_work, *var;
} build_paths_t;

/* What a plan is checked against. */
typedef struct {
  const char *policy;         /* names the module in messages */
  const allowed_t *allowed;
  const records_t *in;        /* the policy's input: its `host` records */
  const build_paths_t *build; /* NULL for a launch */
  /* A fast plan execs /usr/<program> of the current view: only when that is
   * package pkg's own program (shadowed false). program NULL: fhs env. */
  const char *pkg, *program;
  bool shadowed;
  /* The input was stage 1 of a launch inside a view (it ends `facts
   * partial`: no host facts): only `plan fast` or a bare `plan facts` may
   * answer it, and `plan facts` answers nothing else. */
  bool partial;
} plan_ctx_t;

/* Adds the `KIND PATH LAYOUT DIRS` records of r (KIND layer or view) to a.
 * A layer is one directory, named one way: refused (125) unless its path is
 * absolute and normalized. */
bool allow_layers(allowed_t *a, const records_t *r, const char *kind, verdict_t *v);
void allowed_free(allowed_t *a);

/* True when the plan keeps every invariant; else false with *v (123). */
bool plan_validate(const plan_t *plan, const plan_ctx_t *ctx, verdict_t *v);

/* A normalized relative path: no leading or trailing '/', no empty, "." or
 * ".." component. */
bool rel_path_ok(const char *p);
