/* Unit tests of the launcher's pure plan parser and validator (launcher/plan.c,
 * launcher/validate.c): one case per refusal, each with the exit code and
 * the line a user sees, and the plans they are variations of accepted, so
 * a refusal is caused by its one change. Built and run by
 * `make -C launcher unit` (ASan and UBSan on); test/unit.test.ts runs it.
 *
 * A plan is written as text: records separated by ';', fields by ' '. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "plan.h"
#include "policy.h"
#include "records.h"
#include "resolve.h"
#include "validate.h"

/* Record bytes from "a b;c d" (a field may not hold ' ' or ';'). */
static uint8_t *encode(const char *text, size_t *len)
{
  size_t n = strlen(text);
  uint8_t *b = malloc(2 * n + 3);
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (text[i] == ' ') b[o++] = 0;
    else if (text[i] == ';') b[o++] = 0, b[o++] = 0;
    else b[o++] = (uint8_t)text[i];
  }
  if (n) b[o++] = 0, b[o++] = 0;
  *len = o;
  return b;
}

/* What plans are checked against: a package of three layers (its programs,
 * itself, a dependency with /etc, a state layer), the host's top-level
 * entries, the build's staging dirs. */
static const char *const MANIFEST =
    "fhs-manifest 1;layer /s/pkg/.fhs/raw nix usr;layer /s/pkg fhs usr;layer /s/dep fhs usr,etc;"
    "layer /s/state fhs var/lib;ldcache /s/pkg/.fhs/ld.so.cache";
static const char *const INPUT = "req launch;host etc dir;host var dir;host home dir;host tmp dir;host bin link usr/bin;host usr dir;host opt dir;"
                                 "host srv dir;host .fhs dir;host sbin link usr/sbin;host lib link usr/lib;host lib64 link /usr/lib64";
/* A host without merged /usr (NixOS: no /lib64). */
static const char *const INPUT_UNMERGED = "req launch;host etc dir;host usr dir;host bin link usr/bin;host sbin link usr/sbin;host lib link usr/lib";
static const build_paths_t BUILD = {.upper = "/b/upper", .work = "/b/work", .dir = "/b/dir", .var = "/b/var"};

/* A launch plan every view case varies, and a build plan. */
#define VIEW "plan view;overlay /usr /s/pkg/.fhs/raw /s/pkg/usr /s/dep/usr;symlink /bin usr/bin;rbind /home /home"
/* An in-place view: /usr first, over the caller's root. */
#define INPLACE "plan inplace;overlay /usr /s/pkg/.fhs/raw /s/pkg/usr /s/dep/usr"
#define BUILDPLAN "plan build;overlay-rw /usr /b/upper /b/work /s/dep/usr;bind-rw /build /b/dir;tmpfs /tmp;dev /dev;netns;chdir /build;clearenv"

typedef struct {
  const char *name;
  const char *plan;      /* NULL: the `big` plan below */
  int flags;             /* B: a build; R: the policy refused (status 1); S: the program is shadowed; U: the host has no merged /usr;
                            F: the input was stage 1 (`facts partial`) */
  int code;              /* 0: accepted */
  const char *message;   /* the whole line, without "fhs: " */
} case_t;

enum { B = 1, R = 2, S = 4, U = 16, F = 32 };

#define P "policy p.wasm: "

static const case_t cases[] = {
    /* Accepted: the plans the refusals vary. */
    {"a view plan", VIEW, 0, 0, NULL},
    {"a fast plan", "plan fast", 0, 0, NULL},
    {"a fast plan with its environment, answering stage 1", "plan fast;setenv A b", F, 0, NULL},
    {"plan facts, answering stage 1", "plan facts", F, 0, NULL},
    {"a build plan", BUILDPLAN, B, 0, NULL},
    {"an /etc over the host's with its links and host-etc",
     VIEW ";etc-link passwd;overlay /etc /s/dep/etc /etc;host-etc /etc;rbind /var /var;var-lib /s/state/var/lib;bind-file /etc/ld.so.cache /s/pkg/.fhs/ld.so.cache;setenv A b;view-id 1;view /s/dep fhs usr,etc",
     0, 0, NULL},

    {"an in-place plan with every op it may hold",
     INPLACE ";etc-link passwd;overlay /etc /s/dep/etc /etc;hide /srv;hide /.fhs;var-lib /s/state/var/lib;bind-file /etc/ld.so.cache /s/pkg/.fhs/ld.so.cache;view-id 1;view /s/dep fhs usr,etc;host-etc /etc;setenv A b",
     0, 0, NULL},

    /* The parser: the policy's answer (122). */
    {"a result that is not a record stream", "", 0, FHS_EXIT_POLICY, P "the result is not a record stream"},
    {"a refusal", "error no-layers", R, FHS_EXIT_POLICY, "policy p.wasm refused the launch: no-layers"},
    {"no plan record first", "view /x", 0, FHS_EXIT_POLICY, P "the result does not start with a 'plan KIND' record"},
    {"an unknown plan kind", "plan slow", 0, FHS_EXIT_POLICY, P "unknown plan kind 'slow'"},
    {"a launch plan where a build's is asked", VIEW, B, FHS_EXIT_POLICY, P "the result does not start with 'plan build'"},
    /* The parser: ops against their spec (123). */
    {"an unknown op", "plan view;mount /x /y", 0, FHS_EXIT_PLAN, P "plan op 'mount /x' refused: unknown op"},
    {"too few fields", "plan view;symlink /x", 0, FHS_EXIT_PLAN, P "plan op 'symlink /x' refused: symlink takes 2 fields: TARGET VALUE"},
    {"too many fields", "plan build;netns now", B, FHS_EXIT_PLAN, P "plan op 'netns now' refused: netns takes no fields"},
    {"an overlay of one lower", "plan view;overlay /usr /s/dep/usr", 0, FHS_EXIT_PLAN,
     P "plan op 'overlay /usr' refused: overlay takes at least 3 fields: TARGET LOWER..."},
    {"a build op in a launch plan", "plan view;tmpfs /tmp", 0, FHS_EXIT_PLAN, P "plan op 'tmpfs /tmp' refused: only a build plan may hold this op"},

    /* The validator: targets. */
    {"a nested target", VIEW ";symlink /a/b x", 0, FHS_EXIT_PLAN,
     P "plan op 'symlink /a/b' refused: the target must be a top-level path in the new root, other than /.fhs"},
    {"the marker's directory as a target", VIEW ";symlink /.fhs x", 0, FHS_EXIT_PLAN,
     P "plan op 'symlink /.fhs' refused: the target must be a top-level path in the new root, other than /.fhs"},
    {"a target used twice", VIEW ";symlink /home x", 0, FHS_EXIT_PLAN, P "plan op 'symlink /home' refused: the target is already used by an earlier op"},
    {"more top-level entries than the cap", NULL, 0, FHS_EXIT_PLAN, P "plan op 'symlink /e64' refused: too many top-level entries"},
    /* Layer sources. */
    {"an overlay lower that is no layer", "plan view;overlay /usr /s/pkg/usr /home", 0, FHS_EXIT_PLAN,
     P "plan op 'overlay /usr' refused: a lower layer is not one of the manifest's or the current view's layers"},
    {"a layer's dir its record does not list", "plan view;overlay /usr /s/pkg/usr /s/pkg/etc", 0, FHS_EXIT_PLAN,
     P "plan op 'overlay /usr' refused: a lower layer is not one of the manifest's or the current view's layers"},
    {"a bind-ro of no layer", VIEW ";bind-ro /opt /opt", 0, FHS_EXIT_PLAN,
     P "plan op 'bind-ro /opt' refused: the source is not one of the manifest's or the current view's layers"},
    {"an rbind of another host dir", VIEW ";rbind /tmp /home2", 0, FHS_EXIT_PLAN,
     P "plan op 'rbind /tmp' refused: the source must be the host top-level directory of the same name"},
    {"an rbind of a host link", VIEW ";rbind /sbin /bin", 0, FHS_EXIT_PLAN,
     P "plan op 'rbind /sbin' refused: the source must be the host top-level directory of the same name"},
    /* The host's /etc. */
    {"an etc-link that climbs", VIEW ";etc-link ../shadow;overlay /etc /s/dep/etc /etc;host-etc /etc", 0, FHS_EXIT_PLAN,
     P "plan op 'etc-link ../shadow' refused: etc-link needs one normalized relative path"},
    {"an etc-link in a build", BUILDPLAN ";etc-link passwd", B, FHS_EXIT_PLAN,
     P "plan op 'etc-link passwd' refused: only a launch over the host's /etc may link to it"},
    {"host-etc of another dir", VIEW ";host-etc /home", 0, FHS_EXIT_PLAN, P "plan op 'host-etc /home' refused: the source must be the host's /etc, kept once"},
    {"host-etc twice", VIEW ";host-etc /etc;host-etc /etc", 0, FHS_EXIT_PLAN, P "plan op 'host-etc /etc' refused: the source must be the host's /etc, kept once"},
    {"host-etc of the view's copy, outside a view", VIEW ";host-etc /.fhs/host-etc", 0, FHS_EXIT_PLAN,
     P "plan op 'host-etc /.fhs/host-etc' refused: the source must be the host's /etc, kept once"},
    {"etc-link before an /etc overlay not over the host's", VIEW ";etc-link passwd;overlay /etc /s/dep/etc /s/dep/etc;host-etc /etc", 0, FHS_EXIT_PLAN,
     P "plan op 'overlay /etc' refused: etc-link ops must precede the /etc overlay over the host's /etc"},
    {"etc-link with no /etc overlay after it", VIEW ";etc-link passwd;host-etc /etc", 0, FHS_EXIT_PLAN,
     P "plan refused: etc-link ops without the /etc overlay over the host's /etc"},
    {"etc-link without host-etc", VIEW ";etc-link passwd;overlay /etc /s/dep/etc /etc", 0, FHS_EXIT_PLAN, P "plan refused: etc-link ops without host-etc"},
    /* Files, the environment, state. */
    {"setenv of a key with '='", VIEW ";setenv A=B c", 0, FHS_EXIT_PLAN, P "plan op 'setenv A=B' refused: setenv needs KEY VALUE, and KEY has no '='"},
    {"bind-file elsewhere than /etc/ld.so.cache", VIEW ";bind-file /etc/passwd /s/pkg/.fhs/ld.so.cache", 0, FHS_EXIT_PLAN,
     P "plan op 'bind-file /etc/passwd' refused: only the manifest's ld.so.cache may be bound, at /etc/ld.so.cache"},
    {"ldcache-union of another file", VIEW ";ldcache-union /etc/ld.so.cache /home/x", 0, FHS_EXIT_PLAN,
     P "plan op 'ldcache-union /etc/ld.so.cache' refused: only the manifest's ld.so.cache may be bound, at /etc/ld.so.cache"},
    {"var-lib in a build", BUILDPLAN ";var-lib /s/state/var/lib", B, FHS_EXIT_PLAN, P "plan op 'var-lib /s/state/var/lib' refused: a build has no host /var"},
    {"var-lib before /var is bound", VIEW ";var-lib /s/state/var/lib;rbind /var /var", 0, FHS_EXIT_PLAN,
     P "plan op 'var-lib /s/state/var/lib' refused: var-lib needs the host's /var bound before it, and comes once"},
    {"var-lib twice", VIEW ";rbind /var /var;var-lib /s/state/var/lib;var-lib /s/state/var/lib", 0, FHS_EXIT_PLAN,
     P "plan op 'var-lib /s/state/var/lib' refused: var-lib needs the host's /var bound before it, and comes once"},
    {"var-lib of a dir that is no layer's var/lib", VIEW ";rbind /var /var;var-lib /s/dep/etc", 0, FHS_EXIT_PLAN,
     P "plan op 'var-lib /s/dep/etc' refused: a source is not a layer's var/lib"},
    /* In place: only its ops, over the host's own dirs, /usr first, on a merged-/usr host. */
    {"an rbind in an in-place view", INPLACE ";rbind /home /home", 0, FHS_EXIT_PLAN,
     P "plan op 'rbind /home' refused: an in-place view has no such op (the caller's root stays as it is)"},
    {"a symlink in an in-place view", INPLACE ";symlink /lib32 usr/lib32", 0, FHS_EXIT_PLAN,
     P "plan op 'symlink /lib32' refused: an in-place view has no such op (the caller's root stays as it is)"},
    {"a layer mounted over another host dir in place", INPLACE ";bind-ro /home /s/dep/etc", 0, FHS_EXIT_PLAN,
     P "plan op 'bind-ro /home' refused: in place, only the host's /usr, /etc and /opt directories are mounted over"},
    {"a layer mounted over a host link in place", INPLACE ";bind-ro /lib /s/dep/etc", 0, FHS_EXIT_PLAN,
     P "plan op 'bind-ro /lib' refused: in place, only the host's /usr, /etc and /opt directories are mounted over"},
    {"something before /usr in place", "plan inplace;hide /srv;overlay /usr /s/pkg/usr /s/dep/usr", 0, FHS_EXIT_PLAN,
     P "plan op 'hide /srv' refused: an in-place view mounts /usr first"},
    {"/usr bound, not overlaid, in place", "plan inplace;bind-ro /usr /s/dep/usr", 0, FHS_EXIT_PLAN,
     P "plan op 'bind-ro /usr' refused: in place, /usr is an overlay (the marker is its top lower), never a bind"},
    {"hiding what is no host dir", INPLACE ";hide /bin", 0, FHS_EXIT_PLAN, P "plan op 'hide /bin' refused: only a directory of the host's root can be hidden"},
    {"hiding in a new root", VIEW ";hide /srv", 0, FHS_EXIT_PLAN, P "plan op 'hide /srv' refused: only an in-place view hides host directories"},
    {"an in-place view on a host without merged /usr", INPLACE, U, FHS_EXIT_PLAN,
     P "plan inplace refused: the host's /lib64 is not a link into /usr, so it would show the host's files"},
    {"host-etc of an in-place view's copy, outside a view", INPLACE ";host-etc /usr/.fhs/host-etc", 0, FHS_EXIT_PLAN,
     P "plan op 'host-etc /usr/.fhs/host-etc' refused: the source must be the host's /etc, kept once"},
    /* Builds. */
    {"chdir to a path with ..", BUILDPLAN ";chdir /build/../etc", B, FHS_EXIT_PLAN, P "plan op 'chdir /build/../etc' refused: chdir needs one absolute, normalized path"},
    {"dev elsewhere than /dev", "plan build;dev /mydev", B, FHS_EXIT_PLAN, P "plan op 'dev /mydev' refused: dev takes only the target /dev"},
    {"a writable overlay over another upper", "plan build;overlay-rw /usr /home /b/work /s/dep/usr", B, FHS_EXIT_PLAN,
     P "plan op 'overlay-rw /usr' refused: upper and work must be the build's staging dirs for that target, with at least one lower layer"},
    {"a writable overlay of the staging dirs elsewhere", "plan build;overlay-rw /opt /b/upper /b/work /s/dep/usr", B, FHS_EXIT_PLAN,
     P "plan op 'overlay-rw /opt' refused: upper and work must be the build's staging dirs for that target, with at least one lower layer"},
    {"a writable overlay over a lower that is no layer", "plan build;overlay-rw /usr /b/upper /b/work /home", B, FHS_EXIT_PLAN,
     P "plan op 'overlay-rw /usr' refused: a lower layer is not one of the build's layers"},
    {"a writable bind of another dir", "plan build;bind-rw /build /home", B, FHS_EXIT_PLAN,
     P "plan op 'bind-rw /build' refused: the source must be the build's scratch dir (or, at /var, its staged /var)"},
    {"a launch's plan for a build", VIEW, 0 | 8, FHS_EXIT_PLAN, P "plan refused: a launch plan where a build was asked"},
    /* The fast path. */
    {"a fast plan when the view's program is another", "plan fast", S, FHS_EXIT_PLAN,
     P "plan fast refused: /usr/bin/x in the current view is not package /s/pkg's program"},
    {"a fast plan answering stage 1 when the view's program is another", "plan fast", S | F, FHS_EXIT_PLAN,
     P "plan fast refused: /usr/bin/x in the current view is not package /s/pkg's program"},
    /* Stage 1 (`facts partial`): only plan fast, or a bare plan facts. */
    {"plan facts answering every fact", "plan facts", 0, FHS_EXIT_PLAN, P "plan facts refused: the input already held every fact"},
    {"plan facts with ops", "plan facts;setenv A b", F, FHS_EXIT_PLAN,
     P "plan facts refused: it holds ops; it asks for every fact and does nothing else"},
    {"a view planned from partial facts", VIEW, F, FHS_EXIT_PLAN,
     P "plan view refused: the input held partial facts (no host facts), which allow only plan fast or plan facts"},
    {"an in-place view planned from partial facts", INPLACE, F, FHS_EXIT_PLAN,
     P "plan inplace refused: the input held partial facts (no host facts), which allow only plan fast or plan facts"},
    {"a kind no launcher knows", "plan faster", F, FHS_EXIT_POLICY, P "unknown plan kind 'faster'"},
    /* Layer caps: generated below. */
    {"an overlay of 501 layers", NULL, 0, FHS_EXIT_PLAN, "view needs 501 layers; OverlayFS allows at most 500"},
    {"a writable overlay of 501 layers", NULL, B, FHS_EXIT_PLAN, "build needs 501 layers; OverlayFS allows at most 500"},
};

/* The generated plans: too many top-level entries, and 501 lowers. */
static char *big_plan(const char *name)
{
  size_t cap = 1 << 16, o = 0;
  char *s = malloc(cap);
  if (strstr(name, "top-level")) {
    o += (size_t)snprintf(s + o, cap - o, "plan view");
    for (int i = 0; i <= FHS_MAX_TOP_LEVEL; i++) o += (size_t)snprintf(s + o, cap - o, ";symlink /e%d x", i);
  } else {
    bool rw = strstr(name, "writable");
    o += (size_t)snprintf(s + o, cap - o, rw ? "plan build;overlay-rw /usr /b/upper /b/work" : "plan view;overlay /usr");
    for (int i = 0; i < FHS_MAX_LAYERS + 1; i++) o += (size_t)snprintf(s + o, cap - o, " /s/dep/usr");
  }
  return s;
}

/* The rule for a layer's path, one byte at a time (the launcher's own
 * version in resolve.c reads eight at a time). */
static bool normalized_bytewise(const char *path)
{
  if (path[0] != '/' || !path[1]) return false;
  const char *c = path + 1;
  for (const char *p = c;; p++) {
    if (*p != '/' && *p) continue;
    size_t l = (size_t)(p - c);
    if (l == 0 || (l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.')) return false;
    if (!*p) return true;
    c = p + 1;
  }
}

int main(void)
{
  size_t mlen, ilen;
  size_t ulen;
  uint8_t *mb = encode(MANIFEST, &mlen), *ib = encode(INPUT, &ilen), *ub = encode(INPUT_UNMERGED, &ulen);
  records_t manifest, in, unmerged;
  if (records_parse(mb, mlen, &manifest) < 0 || records_parse(ib, ilen, &in) < 0 || records_parse(ub, ulen, &unmerged) < 0) return 2;
  int failed = 0, n = 0;
  size_t ncases = sizeof cases / sizeof cases[0];
  printf("1..%zu\n", ncases + 3);
  for (size_t i = 0; i < ncases; i++) {
    const case_t *c = &cases[i];
    char *gen = c->plan ? NULL : big_plan(c->name);
    size_t plen;
    uint8_t *pb = encode(c->plan ? c->plan : gen, &plen);
    policy_result_t res = {.status = (c->flags & R) ? 1 : 0, .bytes = pb, .len = plen};
    allowed_t allowed = {0};
    verdict_t v = {0};
    bool build = c->flags & B;
    if (!allow_layers(&allowed, &manifest, "layer", &v)) return 2;
    allowed.host_etc = !build;
    allowed.ldcache = "/s/pkg/.fhs/ld.so.cache";
    plan_ctx_t ctx = {.policy = "p.wasm", .allowed = &allowed, .in = (c->flags & U) ? &unmerged : &in, .build = build || (c->flags & 8) ? &BUILD : NULL,
                      .pkg = "/s/pkg", .program = "bin/x", .shadowed = c->flags & S, .partial = c->flags & F};
    plan_t plan;
    bool ok = plan_parse("p.wasm", &res, build, &plan, &v) && plan_validate(&plan, &ctx, &v);
    bool pass = c->code == 0 ? ok : !ok && v.code == c->code && !strcmp(v.msg, c->message);
    printf("%s %d - %s\n", pass ? "ok" : "not ok", ++n, c->name);
    if (!pass) {
      failed++;
      if (ok) printf("#   accepted; expected %d: %s\n", c->code, c->message);
      else printf("#   got %d: %s\n#   expected %d: %s\n", v.code, v.msg, c->code, c->message ? c->message : "(accepted)");
    }
    plan_free(&plan);
    allowed_free(&allowed);
    free(pb);
    free(gen);
  }
  /* A layer is one directory, named one way. */
  {
    size_t len;
    uint8_t *b = encode("layer /s/a/../b fhs usr", &len);
    records_t r;
    allowed_t a = {0};
    verdict_t v = {0};
    bool pass = records_parse(b, len, &r) == 0 && !allow_layers(&a, &r, "layer", &v) && v.code == FHS_EXIT_SETUP &&
                !strcmp(v.msg, "layer /s/a/../b: not a normalized absolute path (it has an empty, '.' or '..' component)");
    printf("%s %d - a layer path with '..' is refused before the policy sees it\n", pass ? "ok" : "not ok", ++n);
    if (!pass) failed++, printf("#   got %d: %s\n", v.code, v.msg);
    allowed_free(&a);
    free(r.recs), free(r.field_store), free(b);
  }
  /* path_normalized, the one rule for how a layer may be named. */
  {
    static const struct { const char *path; bool ok; } paths[] = {
        {"/", false},      {"", false},          {"a/b", false},     {"/a", true},        {"/a/b/c", true},
        {"/a//b", false},  {"/a/b/", false},     {"/./a", false},    {"/a/.", false},     {"/a/../b", false},
        {"/..", false},    {"/a/..b", true},     {"/a/.b/c", true},  {"/a/b..", true},    {"/.fhs/raw", true},
    };
    bool pass = true;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
      if (path_normalized(paths[i].path) != paths[i].ok) pass = false, printf("#   path_normalized(\"%s\") != %d\n", paths[i].path, paths[i].ok);
    printf("%s %d - path_normalized: absolute, no empty, '.' or '..' component\n", pass ? "ok" : "not ok", ++n);
    if (!pass) failed++;
  }
  /* Every path of '/', '.' and 'a' up to 13 bytes, at every offset from an
   * aligned buffer, against the rule read one byte at a time: the launcher's
   * version looks at eight bytes at a time, so a '/' at any place in a word,
   * at a word's edge or in the tail must count the same. */
  {
    bool pass = true;
    static const char alpha[] = "/.a";
    char buf[32] __attribute__((aligned(16)));
    size_t tried = 0;
    for (size_t len = 0; len <= 13 && pass; len++) {
      size_t total = 1;
      for (size_t k = 0; k < len; k++) total *= 3;
      for (size_t code = 0; code < total && pass; code++) {
        char path[16];
        size_t c = code;
        for (size_t k = 0; k < len; k++, c /= 3) path[k] = alpha[c % 3];
        path[len] = 0;
        bool want = normalized_bytewise(path);
        for (size_t off = 0; off < 8 && pass; off++) {
          memcpy(buf + off, path, len + 1);
          tried++;
          if (path_normalized(buf + off) != want || path_normalized_len(buf + off) != (want ? len : 0))
            pass = false, printf("#   path_normalized(\"%s\") at offset %zu != %d\n", path, off, want);
        }
      }
    }
    printf("%s %d - path_normalized: the same answer as a byte-by-byte reading, for %zu paths and offsets\n", pass ? "ok" : "not ok", ++n, tried);
    if (!pass) failed++;
  }
  free(manifest.recs), free(manifest.field_store), free(in.recs), free(in.field_store), free(mb), free(ib);
  free(unmerged.recs), free(unmerged.field_store), free(ub);
  if (failed) printf("# %d of %d failed\n", failed, n);
  return failed ? 1 : 0;
}
