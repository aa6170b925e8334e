/* libFuzzer harness: the plan parser and validator (plan.c plan_parse,
 * validate.c plan_validate, both pure: no exit, no system call),
 * which stands between a policy's answer (or a plan cache entry, which anyone
 * able to write the caller's cache could forge) and the mounts. The input is
 * a manifest, a policy input and a plan, three record streams, with a flags
 * byte (a build's plan or a launch's; over the host's /etc or not; inside
 * a new root or an in-place view; a stage-1 input or every fact).
 * Properties: never crashes, never reads outside its inputs; a plan it
 * accepts keeps the invariants the mounts rely on, checked here on their
 * own: a known op; a launch plan holds no build op; every target a distinct
 * top-level name other than /.fhs; every layer source under a manifest
 * layer; a build's writable overlay only over the build's staging dirs; at
 * most 500 lowers; every op within its spec in abi/abi.json; a stage-1
 * input gets only plan fast or a bare plan facts, and plan facts answers
 * nothing else.
 * Built by `make -C launcher fuzz` (clang); run by test/fuzz.test.ts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../abi.h"
#include "../plan.h"
#include "../policy.h"
#include "../records.h"
#include "../validate.h"

static const build_paths_t build = {.upper = "/b/upper", .work = "/b/work", .dir = "/b/dir"};

static bool under_layer(const allowed_t *a, const char *src)
{
  for (size_t i = 0; i < a->n; i++) {
    size_t l = strlen(a->paths[i]);
    if (!strncmp(src, a->paths[i], l) && (src[l] == 0 || src[l] == '/')) return true;
  }
  return false;
}

static void check_accepted(const plan_t *plan, const allowed_t *a, bool is_build)
{
  const char *targets[64];
  size_t nt = 0;
  for (size_t i = 0; i < plan->n; i++) {
    const plan_op_t *op = &plan->ops[i];
    if (op->op >= FHS_OP_COUNT) abort();
    const struct fhs_op_spec *s = &fhs_op_specs[op->op];
    if ((int)op->nargs < s->min || (s->max >= 0 && (int)op->nargs > s->max)) abort();
    const char *k = s->name;
    bool build_op = !strcmp(k, "overlay-rw") || !strcmp(k, "bind-rw") || !strcmp(k, "tmpfs") || !strcmp(k, "dev") ||
                    !strcmp(k, "netns") || !strcmp(k, "chdir") || !strcmp(k, "clearenv") || !strcmp(k, "userns-root");
    if (build_op && !is_build) abort();
    /* In place: only its ops, /usr an overlay, no new root's links or binds. */
    if (plan->kind == PLAN_INPLACE && (!strcmp(k, "rbind") || !strcmp(k, "symlink") || (!strcmp(k, "bind-ro") && !strcmp(op->args[0], "/usr"))))
      abort();
    if (plan->kind != PLAN_INPLACE && !strcmp(k, "hide")) abort();
    bool mount = !strcmp(k, "overlay") || !strcmp(k, "bind-ro") || !strcmp(k, "rbind") || !strcmp(k, "symlink") ||
                 !strcmp(k, "overlay-rw") || !strcmp(k, "bind-rw") || !strcmp(k, "tmpfs") || !strcmp(k, "dev");
    if (!mount) continue;
    const char *t = op->args[0];
    if (t[0] != '/' || !t[1] || strchr(t + 1, '/') || !strcmp(t, "/.fhs") || !strcmp(t, "/.") || !strcmp(t, "/..")) abort();
    for (size_t s2 = 0; s2 < nt; s2++)
      if (!strcmp(targets[s2], t)) abort();
    targets[nt++] = t;
    if (!strcmp(k, "overlay") || !strcmp(k, "overlay-rw")) {
      size_t first = !strcmp(k, "overlay") ? 1 : 3;
      if (op->nargs - first > FHS_MAX_LAYERS) abort();
      if (first == 3 && (strcmp(op->args[1], build.upper) || strcmp(op->args[2], build.work))) abort();
      for (size_t f = first; f < op->nargs; f++) {
        bool host_etc = f == op->nargs - 1 && !strcmp(t, "/etc") && (!strcmp(op->args[f], "/etc") || !strcmp(op->args[f], FHS_HOST_ETC_IN_VIEW) || !strcmp(op->args[f], FHS_HOST_ETC_IN_PLACE));
        if (!host_etc && !under_layer(a, op->args[f])) abort();
      }
    }
    if (!strcmp(k, "bind-ro") && !under_layer(a, op->args[1])) abort();
    if (!strcmp(k, "bind-rw") && strcmp(op->args[1], build.dir)) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 5) return 0;
  uint8_t flags = data[0];
  size_t mlen = (size_t)(data[1] | data[2] << 8), ilen = (size_t)(data[3] | data[4] << 8);
  data += 5;
  size -= 5;
  if (mlen > size) mlen = size;
  if (ilen > size - mlen) ilen = size - mlen;
  size_t plen = size - mlen - ilen;
  /* Exact-size copies: ASan sees a read past any of them. */
  uint8_t *m = malloc(mlen + 1), *in = malloc(ilen + 1), *p = malloc(plen + 1);
  memcpy(m, data, mlen);
  memcpy(in, data + mlen, ilen);
  memcpy(p, data + mlen + ilen, plen);

  records_t manifest = {0}, inrecs = {0};
  plan_t plan = {0};
  allowed_t allowed;
  memset(&allowed, 0, sizeof allowed);
  bool is_build = flags & 1;
  verdict_t v;
  if (records_parse_max(m, mlen, FHS_MANIFEST_RECORDS_CAP, &manifest) == 0 && records_parse(in, ilen, &inrecs) == 0 &&
      allow_layers(&allowed, &manifest, "layer", &v)) {
    allowed.host_etc = !is_build && (flags & 2);
    allowed.host_etc_kept = (flags & 4) ? ((flags & 64) ? FHS_HOST_ETC_IN_PLACE : FHS_HOST_ETC_IN_VIEW) : NULL;
    for (size_t i = 0; i < manifest.n; i++)
      if (manifest.recs[i].nfields == 2 && !strcmp(manifest.recs[i].fields[0], "ldcache")) allowed.ldcache = manifest.recs[i].fields[1];
    policy_result_t res = {.status = (flags & 8) ? 1 : 0, .bytes = p, .len = plen};
    plan_ctx_t ctx = {.policy = "fuzz", .allowed = &allowed, .in = &inrecs, .build = is_build ? &build : NULL,
                      .pkg = "/pkg", .program = (flags & 16) ? "bin/x" : NULL, .shadowed = flags & 32,
                      .partial = flags & 128};
    if (plan_parse("fuzz", &res, is_build, &plan, &v) && plan_validate(&plan, &ctx, &v)) {
      check_accepted(&plan, &allowed, is_build);
      if (ctx.partial ? plan.kind != PLAN_FAST && !(plan.kind == PLAN_FACTS && plan.n == 0) : plan.kind == PLAN_FACTS) abort();
      /* To see that a seed is a plan the validator accepts (run with one input). */
      if (getenv("FHS_FUZZ_SHOW")) fprintf(stderr, "accepted %zu ops\n", plan.n);
    } else if (v.code != FHS_EXIT_PLAN && v.code != FHS_EXIT_POLICY) {
      abort(); /* a plan is refused as a policy's failure or a broken invariant, nothing else */
    }
  }
  allowed_free(&allowed);
  free(manifest.recs), free(manifest.field_store);
  free(inrecs.recs), free(inrecs.field_store);
  plan_free(&plan);
  free(m);
  free(in);
  free(p);
  return 0;
}
