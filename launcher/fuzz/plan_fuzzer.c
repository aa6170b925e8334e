/* libFuzzer harness: the plan validator (launch.c parse_plan, validate_plan),
 * which stands between a policy's answer (or a plan cache entry, which anyone
 * able to write the caller's cache could forge) and the mounts. The input is
 * a manifest, a policy input and a plan, three record streams, with a flags
 * byte (a build's plan or a launch's; over the host's /etc or not).
 * Properties: never crashes, never reads outside its inputs; a plan it
 * accepts keeps the invariants the mounts rely on, checked here on their
 * own: a known op; a launch plan holds no build op; every target a distinct
 * top-level name other than /.fhs; every layer source under a manifest
 * layer; a build's writable overlay only over the build's staging dirs; at
 * most 500 lowers. die() is wrapped (-Wl,--wrap=die): a refusal returns here.
 * Built by `make -C launcher fuzz` (clang); run by test/fuzz.test.ts. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../launch.h"
#include "../abi.h"
#include "../policy.h"
#include "../records.h"

static jmp_buf refused;
void __wrap_die(int code, const char *fmt, ...) { (void)code; (void)fmt; longjmp(refused, 1); }
void __wrap_die_errno(int code, const char *fmt, ...) { (void)code; (void)fmt; longjmp(refused, 1); }

static const build_paths_t build = {.upper = "/b/upper", .work = "/b/work", .dir = "/b/dir"};

static bool under_layer(const allowed_t *a, const char *src)
{
  for (size_t i = 0; i < a->n; i++) {
    size_t l = strlen(a->paths[i]);
    if (!strncmp(src, a->paths[i], l) && (src[l] == 0 || src[l] == '/')) return true;
  }
  return false;
}

static void check_accepted(const records_t *plan, const allowed_t *a, bool is_build)
{
  const char *targets[64];
  size_t nt = 0;
  for (size_t i = 1; i < plan->n; i++) {
    const record_t *op = &plan->recs[i];
    const char *k = op->fields[0];
    bool build_op = !strcmp(k, "overlay-rw") || !strcmp(k, "bind-rw") || !strcmp(k, "tmpfs") || !strcmp(k, "dev") ||
                    !strcmp(k, "netns") || !strcmp(k, "chdir") || !strcmp(k, "clearenv");
    if (build_op && !is_build) abort();
    bool mount = !strcmp(k, "overlay") || !strcmp(k, "bind-ro") || !strcmp(k, "rbind") || !strcmp(k, "symlink") ||
                 !strcmp(k, "overlay-rw") || !strcmp(k, "bind-rw") || !strcmp(k, "tmpfs") || !strcmp(k, "dev");
    bool other = !strcmp(k, "etc-link") || !strcmp(k, "host-etc") || !strcmp(k, "setenv") || !strcmp(k, "view-id") ||
                 !strcmp(k, "view") || !strcmp(k, "bind-file") || !strcmp(k, "ldcache-union") || !strcmp(k, "netns") ||
                 !strcmp(k, "chdir") || !strcmp(k, "clearenv");
    if (!mount && !other) abort();
    if (!mount) continue;
    const char *t = op->fields[1];
    if (t[0] != '/' || !t[1] || strchr(t + 1, '/') || !strcmp(t, "/.fhs") || !strcmp(t, "/.") || !strcmp(t, "/..")) abort();
    for (size_t s = 0; s < nt; s++)
      if (!strcmp(targets[s], t)) abort();
    targets[nt++] = t;
    if (!strcmp(k, "overlay") || !strcmp(k, "overlay-rw")) {
      size_t first = !strcmp(k, "overlay") ? 2 : 4;
      if (op->nfields - first > FHS_MAX_LAYERS) abort();
      if (first == 4 && (strcmp(op->fields[2], build.upper) || strcmp(op->fields[3], build.work))) abort();
      for (size_t f = first; f < op->nfields; f++) {
        bool host_etc = f == op->nfields - 1 && !strcmp(t, "/etc") && (!strcmp(op->fields[f], "/etc") || !strcmp(op->fields[f], HOST_ETC_IN_VIEW));
        if (!host_etc && !under_layer(a, op->fields[f])) abort();
      }
    }
    if (!strcmp(k, "bind-ro") && !under_layer(a, op->fields[2])) abort();
    if (!strcmp(k, "bind-rw") && strcmp(op->fields[2], build.dir)) abort();
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

  records_t manifest = {0}, inrecs = {0}, plan = {0};
  allowed_t allowed;
  memset(&allowed, 0, sizeof allowed);
  bool is_build = flags & 1;
  if (records_parse_max(m, mlen, FHS_MANIFEST_RECORDS_CAP, &manifest) == 0 && records_parse(in, ilen, &inrecs) == 0 &&
      !setjmp(refused)) {
    allow_layers(&allowed, &manifest, "layer");
    allowed.host_etc = !is_build && (flags & 2);
    allowed.host_etc_in_view = flags & 4;
    for (size_t i = 0; i < manifest.n; i++)
      if (manifest.recs[i].nfields == 2 && !strcmp(manifest.recs[i].fields[0], "ldcache")) allowed.ldcache = manifest.recs[i].fields[1];
    policy_result_t res = {.status = (flags & 8) ? 1 : 0, .bytes = p, .len = plen};
    parse_plan("fuzz", &res, is_build ? "build" : "launch", &plan);
    validate_plan("fuzz", &plan, &inrecs, &allowed, is_build ? &build : NULL);
    check_accepted(&plan, &allowed, is_build);
    /* To see that a seed is a plan the validator accepts (run with one input). */
    if (getenv("FHS_FUZZ_SHOW")) fprintf(stderr, "accepted %zu ops\n", plan.n - 1);
  }
  free(allowed.paths);
  free(allowed.layouts);
  free(allowed.dirs);
  records_free(&manifest);
  records_free(&inrecs);
  records_free(&plan);
  free(m);
  free(in);
  free(p);
  return 0;
}
