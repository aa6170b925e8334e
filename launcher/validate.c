/* The plan validator: everything a plan must keep before anything is
 * mounted. A plan comes from a policy (any module the user chose) or from
 * the plan cache (a file anyone able to write the caller's cache could
 * forge), so nothing in it is trusted. */
#include "validate.h"

#include <string.h>

#include "resolve.h"
#include "util.h"

bool allow_layers(allowed_t *a, const records_t *r, const char *kind, verdict_t *v)
{
  /* Room for all of them at once: a realloc per layer and list was most of
   * the allocator's work on a fast path with a few hundred layers. */
  size_t more = 0;
  for (size_t i = 0; i < r->n; i++) more += r->recs[i].nfields == 4 && !strcmp(r->recs[i].fields[0], kind);
  if (!more) return true;
  a->paths = xrealloc(a->paths, (a->n + more) * sizeof *a->paths);
  a->layouts = xrealloc(a->layouts, (a->n + more) * sizeof *a->layouts);
  a->dirs = xrealloc(a->dirs, (a->n + more) * sizeof *a->dirs);
  a->lens = xrealloc(a->lens, (a->n + more) * sizeof *a->lens);
  a->kinds = xrealloc(a->kinds, (a->n + more) * sizeof *a->kinds);
  for (size_t i = 0; i < r->n; i++) {
    const record_t *rec = &r->recs[i];
    if (rec->nfields != 4 || strcmp(rec->fields[0], kind)) continue;
    /* "/a/../b" or "/a//b" would make the plan's string checks and the path
     * the kernel opens disagree. */
    size_t len = path_normalized_len(rec->fields[1]);
    if (!len)
      return verdict(v, FHS_EXIT_SETUP, "layer %s: not a normalized absolute path (it has an empty, '.' or '..' component)",
                     rec->fields[1]);
    const char *layout = rec->fields[2];
    a->paths[a->n] = rec->fields[1];
    a->layouts[a->n] = layout;
    a->dirs[a->n] = rec->fields[3];
    a->lens[a->n] = len;
    a->kinds[a->n] = !strcmp(layout, "nix") ? 'n' : !strcmp(layout, "fhs") ? 'f' : 0;
    a->n++;
  }
  return true;
}

void allowed_free(allowed_t *a)
{
  free(a->paths);
  free(a->layouts);
  free(a->dirs);
  free(a->lens);
  free(a->kinds);
  a->paths = a->layouts = a->dirs = NULL;
  a->lens = NULL;
  a->kinds = NULL;
  a->n = 0;
}

static bool list_has(const char *list, const char *item, size_t itemlen)
{
  for (const char *p = list; *p;) {
    const char *end = strchr(p, ',');
    size_t l = end ? (size_t)(end - p) : strlen(p);
    if (l == itemlen && !strncmp(p, item, l)) return true;
    if (!end) break;
    p = end + 1;
  }
  return false;
}

/* A layer source is a manifest or view layer itself (Nix layout), or its
 * usr/etc/opt subdirectory (FHS layout), as the layer's own record says.
 * The answer does not depend on where the search starts; *hint (where the
 * last match was, plus one) makes it start there, because an overlay names
 * its layers in the allowed list's order: one comparison per layer instead
 * of a scan of the list, which with 300 layers was ~5% of a launch. */
static bool layer_source_ok(const allowed_t *a, const char *src, size_t *hint)
{
  /* Word-wide compares against the paths' known lengths. */
  size_t srclen = strlen(src);
  for (size_t k = 0; k < a->n; k++) {
    size_t i = (*hint + k) % a->n;
    size_t l = a->lens[i];
    if (l > srclen || memcmp(a->paths[i], src, l)) continue;
    if ((src[l] == 0 && a->kinds[i] == 'n') ||
        (src[l] == '/' && a->kinds[i] == 'f' && list_has(a->dirs[i], src + l + 1, srclen - l - 1))) {
      *hint = i + 1;
      return true;
    }
  }
  return false;
}

/* Targets are single top-level names in the new root: no "..", no nesting,
 * and never the marker's directory, which only the launcher writes (in
 * place, a host's /.fhs may be hidden: the marker is under /usr there). */
static bool target_ok(const char *t, bool hide)
{
  if (t[0] != '/' || !t[1] || strchr(t + 1, '/')) return false;
  if (!strcmp(t, "/.") || !strcmp(t, "/..") || (!hide && !strcmp(t, FHS_MARKER_DIR))) return false;
  return true;
}

bool rel_path_ok(const char *p)
{
  if (!*p || p[0] == '/') return false;
  for (const char *c = p; *c;) {
    const char *end = strchrnul(c, '/');
    size_t l = (size_t)(end - c);
    if (l == 0 || (l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.')) return false;
    if (!*end) break;
    c = end + 1;
  }
  return p[strlen(p) - 1] != '/';
}

static bool host_dir_ok(const records_t *in, const char *src)
{
  if (src[0] != '/') return false;
  for (size_t i = 0; i < in->n; i++) {
    const record_t *r = &in->recs[i];
    if (r->nfields >= 3 && !strcmp(r->fields[0], FHS_REC_HOST) && !strcmp(r->fields[2], "dir") && !strcmp(r->fields[1], src + 1))
      return true;
  }
  return false;
}

/* The host's /etc, as a launch may use it: the current root's /etc when it is
 * a host directory, or the copy a view kept for nested launches. */
static bool host_etc_ok(const plan_ctx_t *c, const char *src)
{
  if (!c->allowed->host_etc) return false;
  if (!strcmp(src, "/etc")) return host_dir_ok(c->in, src);
  return c->allowed->host_etc_kept && !strcmp(src, c->allowed->host_etc_kept);
}

static bool abs_normalized(const char *d)
{
  size_t l = strlen(d);
  return d[0] == '/' && !strstr(d, "/../") && !strstr(d, "//") && !(l >= 3 && !strcmp(d + l - 3, "/.."));
}

/* The state one pass over the plan keeps. */
typedef struct {
  const char *seen[FHS_MAX_TOP_LEVEL];
  size_t nseen;
  /* etc-link ops wait for the /etc overlay over the host's /etc they go on top of. */
  size_t pending_links, links;
  bool has_host_etc, var_bound, var_lib_done;
  size_t hint; /* layer_source_ok's */
  bool inplace; /* the plan is an in-place view: only its ops, over the caller's root */
} walk_t;

/* The ops an in-place view is made of: the caller's root stays, so it has
 * no binds of host dirs and no links of its own. */
static bool inplace_op(enum fhs_op op)
{
  switch (op) {
  case FHS_OP_OVERLAY:
  case FHS_OP_BIND_RO:
  case FHS_OP_ETC_LINK:
  case FHS_OP_HOST_ETC:
  case FHS_OP_BIND_FILE:
  case FHS_OP_LDCACHE_UNION:
  case FHS_OP_VAR_LIB:
  case FHS_OP_HIDE:
  case FHS_OP_VIEW_ID:
  case FHS_OP_VIEW:
  case FHS_OP_SETENV:
    return true;
  default:
    return false;
  }
}

/* Merged /usr, as the host's root entries say: /bin, /sbin, /lib, /lib64
 * are links into /usr, so in place they show the view's /usr. */
static const char *not_merged(const records_t *in)
{
  static const char *const names[] = {"bin", "sbin", "lib", "lib64"};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    bool ok = false;
    for (size_t i = 0; i < in->n && !ok; i++) {
      const record_t *r = &in->recs[i];
      ok = r->nfields == 4 && !strcmp(r->fields[0], FHS_REC_HOST) && !strcmp(r->fields[1], names[k]) && !strcmp(r->fields[2], "link") &&
           (!strncmp(r->fields[3], "usr/", 4) || !strncmp(r->fields[3], "/usr/", 5));
    }
    if (!ok) return names[k];
  }
  return NULL;
}

static bool check_op(const plan_ctx_t *c, const plan_op_t *op, walk_t *w, verdict_t *v)
{
  const char *const *a = op->args;
  const size_t n = op->nargs; /* within the op's spec: plan_parse checked */
  const allowed_t *al = c->allowed;
  const build_paths_t *b = c->build;
  if (w->inplace) {
    if (!inplace_op(op->op)) return refuse_op(v, c->policy, op, "an in-place view has no such op (the caller's root stays as it is)");
    /* Mounted over the host's own directories, and /usr before anything
     * that relies on it (the kept /etc is bound inside it). */
    bool usr = op->op == FHS_OP_OVERLAY && !strcmp(a[0], "/usr");
    if ((op->op == FHS_OP_OVERLAY || op->op == FHS_OP_BIND_RO) &&
        ((strcmp(a[0], "/usr") && strcmp(a[0], "/etc") && strcmp(a[0], "/opt")) || !host_dir_ok(c->in, a[0])))
      return refuse_op(v, c->policy, op, "in place, only the host's /usr, /etc and /opt directories are mounted over");
    if (op->op == FHS_OP_HIDE && !host_dir_ok(c->in, a[0]))
      return refuse_op(v, c->policy, op, "only a directory of the host's root can be hidden");
    /* The marker is the top lower of the /usr overlay: /usr is never a bind. */
    if (op->op == FHS_OP_BIND_RO && !strcmp(a[0], "/usr"))
      return refuse_op(v, c->policy, op, "in place, /usr is an overlay (the marker is its top lower), never a bind");
    if (w->nseen == 0 && !usr && op->op != FHS_OP_SETENV && op->op != FHS_OP_VIEW_ID && op->op != FHS_OP_VIEW)
      return refuse_op(v, c->policy, op, "an in-place view mounts /usr first");
    if (op->op == FHS_OP_VAR_LIB) w->var_bound = host_dir_ok(c->in, "/var");
  } else if (op->op == FHS_OP_HIDE) {
    return refuse_op(v, c->policy, op, "only an in-place view hides host directories");
  }
  if (fhs_op_specs[op->op].target) {
    if (!target_ok(a[0], w->inplace && op->op == FHS_OP_HIDE))
      return refuse_op(v, c->policy, op, "the target must be a top-level path in the new root, other than /.fhs");
    for (size_t s = 0; s < w->nseen; s++)
      if (!strcmp(w->seen[s], a[0])) return refuse_op(v, c->policy, op, "the target is already used by an earlier op");
    if (w->nseen == FHS_MAX_TOP_LEVEL) return refuse_op(v, c->policy, op, "too many top-level entries");
    w->seen[w->nseen++] = a[0];
  }
  switch (op->op) {
  case FHS_OP_ETC_LINK:
    /* A link in /etc into the view's read-only copy of the host's /etc: it
     * shows a host file at its own path and makes nothing writable. */
    if (!rel_path_ok(a[0])) return refuse_op(v, c->policy, op, "etc-link needs one normalized relative path");
    if (!al->host_etc) return refuse_op(v, c->policy, op, "only a launch over the host's /etc may link to it");
    w->pending_links++;
    w->links++;
    return true;
  case FHS_OP_HOST_ETC:
    if (!host_etc_ok(c, a[0]) || w->has_host_etc) return refuse_op(v, c->policy, op, "the source must be the host's /etc, kept once");
    w->has_host_etc = true;
    return true;
  case FHS_OP_SETENV:
    if (strchr(a[0], '=')) return refuse_op(v, c->policy, op, "setenv needs KEY VALUE, and KEY has no '='");
    return true;
  case FHS_OP_VIEW_ID:
  case FHS_OP_VIEW:
    return true; /* marker contents; checked when read */
  case FHS_OP_BIND_FILE:
  case FHS_OP_LDCACHE_UNION:
    /* One file, one place: the view's own ld.so.cache, read-only. */
    if (strcmp(a[0], FHS_LDSO_CACHE) || !al->ldcache || strcmp(a[1], al->ldcache))
      return refuse_op(v, c->policy, op, "only the manifest's ld.so.cache may be bound, at /etc/ld.so.cache");
    return true;
  case FHS_OP_VAR_LIB:
    /* Generated state layers' var/lib, read-only over the host's /var/lib,
     * which the host /var bound earlier brings: nothing becomes writable,
     * only layer sources are shown. Once, and never in a build. */
    if (b) return refuse_op(v, c->policy, op, "a build has no host /var");
    if (!w->var_bound || w->var_lib_done) return refuse_op(v, c->policy, op, "var-lib needs the host's /var bound before it, and comes once");
    for (size_t f = 0; f < n; f++) {
      size_t l = strlen(a[f]);
      if (l < 8 || strcmp(a[f] + l - 8, "/var/lib") || !layer_source_ok(al, a[f], &w->hint))
        return refuse_op(v, c->policy, op, "a source is not a layer's var/lib");
    }
    w->var_lib_done = true;
    return true;
  case FHS_OP_OVERLAY: {
    if (n - 1 > FHS_MAX_LAYERS)
      return verdict(v, FHS_EXIT_PLAN, "view needs %zu layers; OverlayFS allows at most %d", n - 1, FHS_MAX_LAYERS);
    /* In place, the marker is one more lower on top of /usr's. */
    if (w->inplace && !strcmp(a[0], "/usr") && n - 1 + 1 > FHS_MAX_LAYERS)
      return verdict(v, FHS_EXIT_PLAN, "in-place view needs %zu layers and its marker; OverlayFS allows at most %d: a new root holds %d", n - 1,
                     FHS_MAX_LAYERS, FHS_MAX_LAYERS);
    /* /etc may have the host's /etc as its lowest lower: the layers'
     * defaults over the machine's own files, all read-only. */
    bool over_host = !strcmp(a[0], "/etc") && host_etc_ok(c, a[n - 1]);
    for (size_t f = 1; f < n; f++)
      if (!(over_host && f == n - 1) && !layer_source_ok(al, a[f], &w->hint))
        return refuse_op(v, c->policy, op, "a lower layer is not one of the manifest's or the current view's layers");
    if (w->pending_links && !over_host) return refuse_op(v, c->policy, op, "etc-link ops must precede the /etc overlay over the host's /etc");
    w->pending_links = 0;
    return true;
  }
  case FHS_OP_BIND_RO:
    if (!layer_source_ok(al, a[1], &w->hint)) return refuse_op(v, c->policy, op, "the source is not one of the manifest's or the current view's layers");
    return true;
  case FHS_OP_RBIND: {
    /* Host dirs are bound as they are: nothing becomes writable that the
     * caller could not already write. */
    bool host_etc = !strcmp(a[0], "/etc") && host_etc_ok(c, a[1]);
    if (!host_etc && (!host_dir_ok(c->in, a[1]) || strcmp(a[0], a[1])))
      return refuse_op(v, c->policy, op, "the source must be the host top-level directory of the same name");
    if (!strcmp(a[0], "/var")) w->var_bound = true;
    return true;
  }
  case FHS_OP_HIDE: /* an empty read-only tmpfs: it shows nothing, makes nothing writable */
  case FHS_OP_SYMLINK:
  case FHS_OP_NETNS:
  case FHS_OP_CLEARENV:
  case FHS_OP_USERNS_ROOT:
  case FHS_OP_TMPFS:
    /* userns-root: the command is uid 0 of its own user namespace, mapped to
     * the caller (maintainer scripts chown to root); no privilege outside. */
    return true;
  case FHS_OP_CHDIR:
    if (!abs_normalized(a[0])) return refuse_op(v, c->policy, op, "chdir needs one absolute, normalized path");
    return true;
  case FHS_OP_DEV:
    if (strcmp(a[0], "/dev")) return refuse_op(v, c->policy, op, "dev takes only the target /dev");
    return true;
  case FHS_OP_OVERLAY_RW: {
    /* Only the CLI's staging dirs become writable, never a layer: /usr's
     * pair, and for a state build /etc's pair, each at its own target. */
    bool usr = !strcmp(a[0], "/usr") && !strcmp(a[1], b->upper) && !strcmp(a[2], b->work);
    bool etc = b->etc_upper && !strcmp(a[0], "/etc") && !strcmp(a[1], b->etc_upper) && !strcmp(a[2], b->etc_work);
    if (!usr && !etc)
      return refuse_op(v, c->policy, op, "upper and work must be the build's staging dirs for that target, with at least one lower layer");
    if (n - 3 > FHS_MAX_LAYERS)
      return verdict(v, FHS_EXIT_PLAN, "build needs %zu layers; OverlayFS allows at most %d", n - 3, FHS_MAX_LAYERS);
    for (size_t f = 3; f < n; f++)
      if (!layer_source_ok(al, a[f], &w->hint)) return refuse_op(v, c->policy, op, "a lower layer is not one of the build's layers");
    return true;
  }
  case FHS_OP_BIND_RW: {
    bool scratch = !strcmp(a[1], b->dir);
    bool var = b->var && !strcmp(a[0], "/var") && !strcmp(a[1], b->var);
    if (!scratch && !var) return refuse_op(v, c->policy, op, "the source must be the build's scratch dir (or, at /var, its staged /var)");
    return true;
  }
  case FHS_OP_COUNT:
    break;
  }
  return refuse_op(v, c->policy, op, "unknown op");
}

bool plan_validate(const plan_t *plan, const plan_ctx_t *c, verdict_t *v)
{
  /* plan_parse let build-only ops into a build plan alone; a build plan
   * needs the build's staging dirs to be checked against. */
  if ((plan->kind == PLAN_BUILD) != (c->build != NULL))
    return verdict(v, FHS_EXIT_PLAN, "policy %s: plan refused: a %s plan where a %s was asked", c->policy,
                   plan->kind == PLAN_BUILD ? "build" : "launch", c->build ? "build" : "launch");
  /* Stage 1 told the policy nothing of the host: a view planned from it
   * would be planned blind, so only the fast path or "ask me again with every
   * fact" may answer it; and that question is no plan for a full input. */
  if (c->partial && plan->kind != PLAN_FAST && plan->kind != PLAN_FACTS)
    return verdict(v, FHS_EXIT_PLAN, "policy %s: plan %s refused: the input held partial facts (no host facts), which allow only plan fast or plan facts",
                   c->policy, plan->kind == PLAN_INPLACE ? "inplace" : plan->kind == PLAN_BUILD ? "build" : "view");
  if (plan->kind == PLAN_FACTS) {
    if (!c->partial)
      return verdict(v, FHS_EXIT_PLAN, "policy %s: plan facts refused: the input already held every fact", c->policy);
    if (plan->n)
      return verdict(v, FHS_EXIT_PLAN, "policy %s: plan facts refused: it holds ops; it asks for every fact and does nothing else", c->policy);
    return true;
  }
  walk_t w = {.inplace = plan->kind == PLAN_INPLACE};
  const char *name = w.inplace ? not_merged(c->in) : NULL;
  if (name)
    return verdict(v, FHS_EXIT_PLAN, "policy %s: plan inplace refused: the host's /%s is not a link into /usr, so it would show the host's files", c->policy, name);
  for (size_t i = 0; i < plan->n; i++)
    if (!check_op(c, &plan->ops[i], &w, v)) return false;
  if (w.pending_links)
    return verdict(v, FHS_EXIT_PLAN, "policy %s: plan refused: etc-link ops without the /etc overlay over the host's /etc", c->policy);
  /* The links point into the kept copy of the host's /etc. */
  if (w.links && !w.has_host_etc) return verdict(v, FHS_EXIT_PLAN, "policy %s: plan refused: etc-link ops without host-etc", c->policy);
  /* A fast plan execs /usr/<rel> of the current view: refused unless that
   * is the package's own program (never outside a view). */
  if (plan->kind == PLAN_FAST && c->program && c->shadowed)
    return verdict(v, FHS_EXIT_PLAN, "policy %s: plan fast refused: /usr/%s in the current view is not package %s's program",
                   c->policy, c->program, c->pkg);
  return true;
}
