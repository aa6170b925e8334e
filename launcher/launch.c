/* One launch, top to bottom: identity (main.c: which wrapper, which
 * package) → facts (facts.c: the manifest, the verified policy module, what
 * the policy is told) → the plan (the plan cache, else the policy) → the
 * plan parsed and validated (plan.c, validate.c) → the view (view.c) → exec.
 *
 * Also `fhs-launcher plan`: the same facts and policy, the plan printed and
 * nothing mounted, for `fhs plan`. */
#include "launch.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "abi.h"
#include "cache.h"
#include "exec.h"
#include "facts.h"
#include "plan.h"
#include "policy.h"
#include "records.h"
#include "util.h"
#include "validate.h"
#include "view.h"

extern char **environ;

NORETURN static void die_verdict(const verdict_t *v) { die(v->code, "%s", v->msg); }

/* A view is made afresh: a cwd removed on the host cannot be entered in it. */
NORETURN static void cwd_failed(void)
{
  if (errno == ENOENT) die(FHS_EXIT_SETUP, "the working directory was removed; change to one that exists");
  die_errno(FHS_EXIT_SETUP, "the working directory");
}

static long long now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* argv[0] as the program would see it installed at /usr: a path the caller
 * gave (DIR/usr/bin/gcc, ./gcc, ~/pbin/cc) becomes /usr/<dir>/<its basename>,
 * so realpath(argv[0]) is in the view's /usr (gcc finds cc1 and its headers
 * from it) while the name a multi-call program dispatches on is kept; a bare
 * name stays bare and a leading '-' (a login shell) stays. NULL: unchanged. */
static char *in_view_argv0(const char *a0, const char *relprog)
{
  bool dash = a0[0] == '-';
  const char *p = dash ? a0 + 1 : a0;
  if (!strchr(p, '/')) return NULL;
  const char *slash = strchr(relprog, '/');
  const char *name = base_name(p);
  if (!*name) return NULL;
  return xasprintf("%s/usr/%.*s/%s", dash ? "-" : "", (int)(slash - relprog), relprog, name);
}

/* PATH entries that name the package's own usr/<dir> on the host become
 * /usr/<dir>: a program that searches PATH for itself (gcc does, when argv[0]
 * is a bare name) must find itself installed at /usr, not its wrapper. */
static void rewrite_path(const char *pkg)
{
  const char *path = getenv("PATH");
  if (!path) return;
  size_t plen = strlen(pkg);
  char *out = xmalloc(strlen(path) + 1);
  size_t o = 0;
  bool changed = false;
  for (const char *e = path;;) {
    const char *end = strchrnul(e, ':');
    size_t l = (size_t)(end - e);
    while (l > 1 && e[l - 1] == '/') l--;
    const char *d = e + plen + 5; /* after "<pkg>/usr/" */
    if (l > plen + 5 && !strncmp(e, pkg, plen) && !strncmp(e + plen, "/usr/", 5) && !memchr(d, '/', l - plen - 5)) {
      memcpy(out + o, "/usr/", 5);
      memcpy(out + o + 5, d, l - plen - 5);
      o += l - plen;
      changed = true;
    } else {
      memcpy(out + o, e, (size_t)(end - e));
      o += (size_t)(end - e);
    }
    if (!*end) break;
    out[o++] = ':';
    e = end + 1;
  }
  out[o] = 0;
  if (changed && setenv("PATH", out, 1) < 0) die_errno(FHS_EXIT_SETUP, "setenv PATH");
  free(out);
}

/* What one launch (or plan) knows, step by step. */
typedef struct {
  const char *pkg, *relprog;
  records_t manifest;
  allowed_t allowed;
  const char *policy_path, *policy_sha;
  uint8_t *wasm;
  size_t wlen;
  facts_t facts;
} launch_t;

/* Identity is known; reads the manifest and gathers the facts. The module
 * is read and verified here when `module` is set; a launch reads it only
 * when the plan cache misses (read_module). */
static void gather(launch_t *L, const char *pkg, const char *relprog, const char *mpath, const uint8_t *inside, size_t inside_len,
                   bool module, bool stage1)
{
  verdict_t v;
  L->pkg = pkg;
  L->relprog = relprog;
  load_manifest(pkg, mpath, &L->manifest);
  /* Before the policy sees them: a layer is one directory, named one way. */
  if (!allow_layers(&L->allowed, &L->manifest, FHS_REC_LAYER, &v)) die_verdict(&v);
  if (module) L->wasm = read_verified_policy(&L->manifest, mpath, &L->policy_path, &L->wlen, &L->policy_sha);
  else policy_record(&L->manifest, mpath, &L->policy_path, &L->policy_sha);
  gather_launch_facts(&L->facts, pkg, relprog, &L->manifest, inside, inside_len, stage1);
}

/* A cached plan refused: the entry is named, not the policy. The launcher
 * stores only plans it validated, under the whole key they were validated
 * for, so the entry is not the policy's answer: something wrote it since (a
 * user's own files are theirs to change), or another fhs's launcher with
 * other rules did. The verdict's own "policy P: " goes; its cause stays. */
NORETURN static void die_cached(const char *policy, const char *file, const verdict_t *v)
{
  const char *why = v->msg;
  size_t pl = strlen(policy);
  if (!strncmp(why, "policy ", 7) && !strncmp(why + 7, policy, pl) && why[7 + pl] == ':') why += 7 + pl + 2;
  die(FHS_EXIT_PLAN, "plan cache entry %s: %s; not a plan this launcher would cache: remove it with fhs cache prune --all",
      file, why);
}

/* The plan for the input gathered so far: cached for exactly this module and
 * input, else the policy's (the module read and verified on the first miss);
 * then parsed and validated, as fresh from the policy as from the cache, and
 * only then cached: a refused answer is never stored, so a cached entry that
 * is refused was not this launcher's (die_cached). Returns whether the
 * answer came from the cache. */
static bool decide(launch_t *L, const char *mpath, policy_result_t *res, plan_t *plan, records_t *inrecs)
{
  recbuf_t *in = &L->facts.in;
  /* FHS_DEBUG=input: the exact bytes the policy is asked (each stage's),
   * whether or not a cached plan answers them; the benchmark's policy floor
   * (docs/BENCHMARKS.md) is built from them. */
  const char *debug = getenv("FHS_DEBUG");
  if (debug && !strcmp(debug, "input")) (void)!write_all(STDERR_FILENO, in->buf, in->len);
  plan_key_t cache_key;
  char module_id[160];
  bool have_id = module_identity(L->policy_path, module_id, sizeof module_id);
  bool cached = plan_cache_lookup(L->policy_sha, have_id ? module_id : NULL, in->buf, in->len, &cache_key, res);
  if (!cached) {
    if (!L->wasm) L->wasm = read_verified_policy(&L->manifest, mpath, &L->policy_path, &L->wlen, &L->policy_sha);
    policy_trap_is_status(L->facts.partial);
    policy_eval(L->policy_path, L->wasm, L->wlen, in->buf, in->len, res);
  }
  verdict_t v;
  memset(inrecs, 0, sizeof *inrecs);
  if (L->facts.partial && res->status != 0) {
    /* A stage-1 refusal or trap is not final: it is asked again with every
     * fact, as a one-stage launch would have asked it. So a policy built
     * before stage 1 existed (it refuses the unknown `facts` record) still
     * launches inside a view, and a real refusal is given by the full input.
     * Cached as what it amounts to, `plan facts`: the module and this input
     * give it every time, so the next launch runs no policy in stage 1. */
    if (!cached) {
      recbuf_t ask = {0};
      recbuf_record(&ask, FHS_REC_PLAN, "facts", NULL);
      policy_result_t again = {.status = 0, .bytes = ask.buf, .len = ask.len};
      plan_cache_store(&cache_key, &again);
      free(ask.buf);
    }
    memset(plan, 0, sizeof *plan);
    plan->kind = PLAN_FACTS;
    return cached;
  }
  if (!plan_parse(L->policy_path, res, false, plan, &v)) {
    if (cached) die_cached(L->policy_path, cache_key.file, &v);
    die_verdict(&v);
  }
  /* The validator reads the input's `host` records alone: only the host's
   * facts, the input's last part, are parsed (not the manifest's records
   * before them, a few hundred with as many layers), and only the host
   * records the launcher gathered count, none that view records or `plan
   * --inside`'s stdin carried. A stage-1 input has none, so it is checked
   * against none, unparsed (only plan fast or a bare plan facts can pass
   * there anyway). */
  if (!L->facts.partial && records_parse(in->buf + L->facts.host_at, in->len - L->facts.host_at, inrecs) < 0)
    die(FHS_EXIT_SETUP, "internal: malformed policy input");
  plan_ctx_t ctx = {.policy = L->policy_path, .allowed = &L->allowed, .in = inrecs, .build = NULL,
                    .pkg = L->pkg, .program = L->relprog, .shadowed = L->facts.shadowed, .partial = L->facts.partial};
  if (!plan_validate(plan, &ctx, &v)) {
    if (cached) die_cached(L->policy_path, cache_key.file, &v);
    die_verdict(&v);
  }
  if (!cached) plan_cache_store(&cache_key, res);
  return cached;
}

/* Set by launch_env: the manifest to read instead of a package's. */
static const char *env_manifest;

int launch_env(const char *manifest, char **argv)
{
  env_manifest = manifest;
  return launch(manifest, NULL, argv);
}

/* The view of a plan that makes one. Its own function, so its buffer is in
 * no frame but its own while the launch gathers facts and decides. */
__attribute__((noinline)) static void make_view(const plan_t *plan)
{
  char union_ldcache[PATH_MAX];
  prepare_union_ldcache(plan, union_ldcache);
  if (plan->kind == PLAN_VIEW) build_view(plan, union_ldcache);
  else build_view_inplace(plan, union_ldcache);
}

int launch(const char *pkg, const char *relprog, char **argv)
{
  /* FHS_DEBUG=plan prints the plan's bytes; FHS_DEBUG=timing the time spent
   * in the policy and in the whole launch (benchmarks read it);
   * FHS_DEBUG=input the policy's input, in decide. */
  const char *debug = getenv("FHS_DEBUG");
  bool timing = debug && !strcmp(debug, "timing");
  long long t_start = timing ? now_ns() : 0;
  /* Paths here are allocated at their size, not in PATH_MAX buffers on the
   * stack: the stack pages a launch writes are page faults (path_cat). The
   * cwd is read into the arena's last block, which then shrinks in place. */
  char *cwd = xmalloc(PATH_MAX);
  if (!getcwd(cwd, PATH_MAX)) cwd_failed();
  cwd = xrealloc(cwd, strlen(cwd) + 1);

  /* Facts: inside a view, first only those the fast path is decided from
   * (stage 1, docs/ARCHITECTURE.md "The fast path in two stages"). */
  launch_t L = {0};
  char *mpath = env_manifest ? xstrdup(env_manifest) : path_cat(pkg, FHS_MANIFEST_BIN);
  gather(&L, pkg, relprog, mpath, NULL, 0, false, true);
  verdict_t v;
  if (!allow_layers(&L.allowed, &L.facts.viewrecs, FHS_REC_VIEW, &v)) die_verdict(&v);
  L.allowed.host_etc = true;
  L.allowed.host_etc_kept = L.facts.host_etc_kept;
  L.allowed.ldcache = manifest_value(&L.manifest, FHS_REC_LDCACHE);

  /* The plan. */
  policy_result_t res;
  plan_t plan;
  records_t inrecs;
  long long t_policy = timing ? now_ns() : 0;
  /* FHS_DEBUG=timing says which facts the answer took: partial (stage 1
   * alone), partial+all (asked again), all (one stage: outside a view). */
  const char *facts = L.facts.partial ? "partial" : "all";
  bool cached = decide(&L, mpath, &res, &plan, &inrecs);
  if (plan.kind == PLAN_FACTS) {
    /* Stage 2: the policy asked for every fact; the same input, completed. */
    plan_free(&plan);
    records_free(&inrecs);
    add_host_facts(&L.facts, &L.manifest);
    L.allowed.host_etc_kept = L.facts.host_etc_kept;
    cached = decide(&L, mpath, &res, &plan, &inrecs) && cached;
    facts = "partial+all";
  }
  if (timing) t_policy = now_ns() - t_policy;
  /* The exact bytes, so tests can compare them with `fhs plan`. */
  if (debug && !strcmp(debug, "plan")) (void)!write_all(STDERR_FILENO, res.bytes, res.len);

  /* The view. */
  if (plan.kind == PLAN_VIEW || plan.kind == PLAN_INPLACE) {
    make_view(&plan);
    /* Again: a cwd under /usr or /etc was the mount the view now covers. */
    if (chdir(cwd) < 0)
      die_errno(FHS_EXIT_SETUP, "the working directory %s %s in the view", cwd,
                errno == ENOENT || errno == ENOTDIR ? "does not exist" : "cannot be entered");
  }
  for (size_t i = 0; i < plan.n; i++)
    if (plan.ops[i].op == FHS_OP_SETENV && setenv(plan.ops[i].args[0], plan.ops[i].args[1], 1) < 0)
      die_errno(FHS_EXIT_SETUP, "setenv %s", plan.ops[i].args[0]);

  /* Exec. */
  if (env_manifest) {
    /* fhs env: the command is looked up by PATH, inside the view. */
    execvp(argv[0], argv);
    die_exec(argv[0], errno, " in the view");
  }
  /* In its view the program is installed at /usr (docs/ARCHITECTURE.md, "What
   * a program sees of itself"): exec'd by its /usr path, so /proc/self/exe
   * and realpath(argv[0]) land in the view's merged /usr, all layers
   * together, never in the package's own directory on the host. */
  char *prog = path_cat("/usr", relprog);
  char *argv0 = argv[0] ? in_view_argv0(argv[0], relprog) : NULL;
  if (argv0) argv[0] = argv0;
  rewrite_path(pkg);
  if (timing) {
    char line[160];
    int n = snprintf(line, sizeof line, "fhs-timing policy_ns=%lld launch_ns=%lld plan_cache=%s facts=%s\n", t_policy,
                     now_ns() - t_start, cached ? "hit" : "miss", facts);
    if (n > 0) (void)!write(STDERR_FILENO, line, (size_t)n);
  }
  execve(prog, argv, environ);
  die_exec(prog, errno, "");
}

int plan_main(int argc, char **argv)
{
  bool inside = argc == 4 && !strcmp(argv[3], "--inside");
  if (argc != 3 && !inside) die(FHS_EXIT_SETUP, "usage: fhs-launcher plan WRAPPER|PACKAGE [--inside]");
  const char *target = argv[2];
  /* A package directory, or a wrapper found as a launch finds it. */
  char *pkg = NULL, *rel = NULL;
  char *mpath = xasprintf("%s/" FHS_MANIFEST_BIN, target);
  struct stat st;
  if (target[0] == '/' && stat(mpath, &st) == 0) {
    pkg = xstrdup(target);
  } else if (!find_wrapper(target, &pkg, &rel)) {
    die(FHS_EXIT_SETUP, "%s: neither a wrapped package nor a wrapper", target);
  } else {
    free(mpath);
    mpath = xasprintf("%s/" FHS_MANIFEST_BIN, pkg);
  }
  /* --inside: the view's records (view-id, view, host-etc) on stdin, as its
   * marker would hold them. */
  size_t ilen = 0;
  cleanup_free uint8_t *view = inside ? read_stdin("view records", FHS_MANIFEST_SIZE_CAP, &ilen) : NULL;
  launch_t L = {0};
  /* Every fact, in one stage: `fhs plan` prints the whole answer, which
   * for a fast path is the `plan fast` a launch's stage 1 gets. */
  gather(&L, pkg, rel, mpath, view, ilen, true, false);
  policy_result_t res;
  policy_eval(L.policy_path, L.wasm, L.wlen, L.facts.in.buf, L.facts.in.len, &res);
  if (write_all(STDOUT_FILENO, res.bytes, res.len) < 0) die_errno(FHS_EXIT_SETUP, "write stdout");
  return res.status == 0 ? 0 : 1;
}
