/* One launch, top to bottom: identify the package, read its compiled manifest,
 * ask the policy for a plan, validate the plan, build the view, exec.
 *
 * Nothing touches the caller's mount namespace: every mount happens after
 * unshare(CLONE_NEWUSER|CLONE_NEWNS), in a namespace that dies with this
 * process if anything fails. */
#include "launch.h"

#include <dirent.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/stat.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "ldcache.h"
#include "limits.h"
#include "mounts.h"
#include "policy.h"
#include "records.h"
#include "resolve.h"
#include "sha256.h"
#include "util.h"

extern char **environ;

/* Each package holds one copy (or hard link) of the launcher, in usr/bin, so
 * that a program locating itself by realpath(argv[0]) (gcc does, to find
 * cc1) lands in its own package's usr/bin. */
#define LAUNCHER_NAME ".fhs-launcher"
/* The compiled manifest's format, as src/manifest.ts MANIFEST_VERSION writes it. */
#define FHS_MANIFEST_VERSION "1"

/* The union ld.so.cache a nested view binds, when prepare_union_ldcache made one. */
static char union_ldcache[PATH_MAX];
#define MARKER "/.fhs/view"

/* A view is made afresh: a cwd removed on the host cannot be entered in it. */
NORETURN static void cwd_failed(void)
{
  if (errno == ENOENT) die(FHS_EXIT_SETUP, "the working directory was removed; change to one that exists");
  die_errno(FHS_EXIT_SETUP, "the working directory");
}

/* ---------------------------------------------------------------- identity */

static const char *base_name(const char *p)
{
  const char *slash = strrchr(p, '/');
  return slash ? slash + 1 : p;
}

bool find_wrapper(const char *start, char **pkg, char **rel)
{
  if (!start || !*start) return false;
  char cur[PATH_MAX];
  if (start[0] == '/') {
    if (strlen(start) >= sizeof cur) return false;
    strcpy(cur, start);
  } else {
    /* ./hello: the wrapper's directory name must be known, so go absolute. */
    if (!getcwd(cur, sizeof cur)) return false;
    size_t l = strlen(cur);
    if (l + 1 + strlen(start) >= sizeof cur) return false;
    cur[l] = '/';
    strcpy(cur + l + 1, start);
  }
  /* Each hop is one readlink. The hop whose target is a package's launcher,
   * <pkg>/usr/bin/.fhs-launcher, is the wrapper: usr/<dir>/<name>. Usually
   * that is the first hop; a user's own symlinks come before it. */
  for (int hops = 0; hops < 40; hops++) {
    char target[PATH_MAX];
    ssize_t n = readlink(cur, target, sizeof target - 1);
    if (n < 0) return false;
    target[n] = 0;
    if (!strcmp(base_name(target), LAUNCHER_NAME)) {
      /* target = <pkg>/usr/bin/.fhs-launcher */
      size_t suffix = strlen("/usr/bin/" LAUNCHER_NAME);
      if ((size_t)n <= suffix || target[0] != '/' || strcmp(target + n - suffix, "/usr/bin/" LAUNCHER_NAME)) return false;
      *pkg = strndup(target, (size_t)n - suffix);
      /* rel = <dir>/<name> of the wrapper: wrappers are direct children of
       * <pkg>/usr/<dir>. The directory is named by its real path, not by the
       * path the caller used: ~/pbin -> pkg/usr/bin, ./hello, or
       * /proc/self/cwd/hello all name usr/bin. */
      const char *name = base_name(cur);
      size_t dirlen = (size_t)(name - cur);
      if (dirlen < 2 || !*name) return false;
      char dir[PATH_MAX], real[PATH_MAX];
      memcpy(dir, cur, dirlen - 1);
      dir[dirlen - 1] = 0;
      if (!realpath(dir, real)) return false;
      const char *dname = base_name(real);
      if (!*dname) return false;
      *rel = xasprintf("%s/%s", dname, name);
      return *pkg != NULL;
    }
    if (target[0] == '/') {
      strcpy(cur, target);
    } else {
      char *slash = strrchr(cur, '/');
      size_t dirlen = slash ? (size_t)(slash - cur) + 1 : 0;
      if (dirlen + (size_t)n >= sizeof cur) return false;
      memcpy(cur + dirlen, target, (size_t)n + 1);
    }
  }
  return false;
}

/* ------------------------------------------------------------ input facts */

/* The manifest's records the policy sees: its layers and config, not the
 * header, the policy's own record, the program list or the package path. */
void add_manifest_facts(recbuf_t *in, const records_t *manifest)
{
  for (size_t i = 0; i < manifest->n; i++) {
    const char *k = manifest->recs[i].fields[0];
    if (!strcmp(k, "fhs-manifest") || !strcmp(k, "policy") || !strcmp(k, "program") || !strcmp(k, "pkg")) continue;
    for (size_t f = 0; f < manifest->recs[i].nfields; f++) recbuf_field(in, manifest->recs[i].fields[f]);
    recbuf_end(in);
  }
}

void add_host_entries(recbuf_t *in)
{
  DIR *d = opendir("/"); /* glibc opens it O_CLOEXEC */
  if (!d) die_errno(FHS_EXIT_SETUP, "read the root directory");
  struct dirent *e;
  while ((e = readdir(d))) {
    const char *n = e->d_name;
    if (!strcmp(n, ".") || !strcmp(n, "..")) continue;
    unsigned char t = e->d_type;
    if (t == DT_UNKNOWN) {
      struct stat st;
      if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
      t = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
    }
    if (t == DT_LNK) {
      char target[PATH_MAX];
      ssize_t len = readlinkat(dirfd(d), n, target, sizeof target - 1);
      if (len <= 0) continue;
      target[len] = 0;
      recbuf_record(in, "host", n, "link", target, NULL);
    } else {
      recbuf_record(in, "host", n, t == DT_DIR ? "dir" : t == DT_REG ? "file" : "other", NULL);
    }
  }
  closedir(d);
}

/* The current view, if we are in one: '/' is a read-only tmpfs (only a
 * launcher makes one) holding the marker. The policy decides what it proves;
 * the launcher also uses the marker's layers as allowed plan sources. */
static uint8_t *read_marker(size_t *len)
{
  struct statfs sf;
  if (statfs("/", &sf) < 0 || sf.f_type != TMPFS_MAGIC || !(sf.f_flags & ST_RDONLY)) return NULL;
  return read_file(MARKER, 16 << 20, len);
}

/* A view that kept the host's /etc says so in its marker (host-etc), and
 * only a launcher writes that read-only root. */
static bool view_keeps_host_etc(const records_t *view)
{
  for (size_t i = 0; i < view->n; i++) {
    const record_t *r = &view->recs[i];
    if (r->nfields == 2 && !strcmp(r->fields[0], "host-etc") && !strcmp(r->fields[1], HOST_ETC_IN_VIEW)) {
      struct stat st;
      return stat(HOST_ETC_IN_VIEW, &st) == 0 && S_ISDIR(st.st_mode);
    }
  }
  return false;
}

static bool rel_path_ok(const char *p);

/* host-etc-file REL for each `etc-host REL` of the config that exists (as any
 * type, a dangling link too) in the host's /etc at `host_etc`; then
 * host-etc-mounted when one of them is on another mount than that /etc (as
 * container runtimes bind resolv.conf, hosts, hostname): the kernel refuses
 * an overlay over a directory with mounts below it that a new user namespace
 * may not uncover. */
/* statx by its system call: musl (the static launcher's libc) has no wrapper. */
static int sys_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *sx)
{
  return (int)syscall(SYS_statx, dirfd, path, flags, mask, sx);
}

static void add_host_etc_files(recbuf_t *in, const records_t *manifest, const char *host_etc)
{
  char path[PATH_MAX];
  struct statx sx;
  bool have_etc_id = sys_statx(AT_FDCWD, host_etc, 0, STATX_MNT_ID, &sx) == 0 && (sx.stx_mask & STATX_MNT_ID);
  uint64_t etc_id = have_etc_id ? sx.stx_mnt_id : 0;
  bool mounted = false;
  for (size_t i = 0; i < manifest->n; i++) {
    const record_t *r = &manifest->recs[i];
    if (r->nfields != 2 || strcmp(r->fields[0], "etc-host") || !rel_path_ok(r->fields[1])) continue;
    int m = snprintf(path, sizeof path, "%s/%s", host_etc, r->fields[1]);
    if (m <= 0 || (size_t)m >= sizeof path || sys_statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) < 0) continue;
    recbuf_record(in, "host-etc-file", r->fields[1], NULL);
    if (have_etc_id && (sx.stx_mask & STATX_MNT_ID) && sx.stx_mnt_id != etc_id) mounted = true;
  }
  if (mounted) recbuf_record(in, "host-etc-mounted", NULL);
}

/* ------------------------------------------------------------- validation */

void allow_layers(allowed_t *a, const records_t *r, const char *kind)
{
  for (size_t i = 0; i < r->n; i++) {
    const record_t *rec = &r->recs[i];
    if (rec->nfields != 4 || strcmp(rec->fields[0], kind)) continue;
    /* A layer is one directory, named one way: "/a/../b" or "/a//b" would
     * make the plan's string checks and the path the kernel opens disagree. */
    if (!path_normalized(rec->fields[1]))
      die(FHS_EXIT_SETUP, "layer %s: not a normalized absolute path (it has an empty, '.' or '..' component)", rec->fields[1]);
    a->paths = xrealloc(a->paths, (a->n + 1) * sizeof *a->paths);
    a->layouts = xrealloc(a->layouts, (a->n + 1) * sizeof *a->layouts);
    a->dirs = xrealloc(a->dirs, (a->n + 1) * sizeof *a->dirs);
    a->paths[a->n] = rec->fields[1];
    a->layouts[a->n] = rec->fields[2];
    a->dirs[a->n] = rec->fields[3];
    a->n++;
  }
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
  for (size_t k = 0; k < a->n; k++) {
    size_t i = (*hint + k) % a->n;
    size_t l = strlen(a->paths[i]);
    if (strncmp(src, a->paths[i], l)) continue;
    if ((src[l] == 0 && !strcmp(a->layouts[i], "nix")) ||
        (src[l] == '/' && !strcmp(a->layouts[i], "fhs") && list_has(a->dirs[i], src + l + 1, strlen(src + l + 1)))) {
      *hint = i + 1;
      return true;
    }
  }
  return false;
}

/* Targets are single top-level names in the new root: no "..", no nesting,
 * and never the marker's directory, which only the launcher writes. */
static bool target_ok(const char *t)
{
  if (t[0] != '/' || !t[1] || strchr(t + 1, '/')) return false;
  if (!strcmp(t, "/.") || !strcmp(t, "/..") || !strcmp(t, "/.fhs")) return false;
  return true;
}

/* A normalized relative path: no leading or trailing '/', no empty, "." or
 * ".." component. */
static bool rel_path_ok(const char *p)
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

/* The host's /etc, as a launch may use it: the current root's /etc when it is
 * a host directory, or the copy a view kept for nested launches. */
static bool host_dir_ok(const records_t *in, const char *src);
static bool host_etc_ok(const allowed_t *a, const records_t *in, const char *src)
{
  if (!a->host_etc) return false;
  if (!strcmp(src, "/etc")) return host_dir_ok(in, src);
  return a->host_etc_in_view && !strcmp(src, HOST_ETC_IN_VIEW);
}

static bool host_dir_ok(const records_t *in, const char *src)
{
  if (src[0] != '/') return false;
  for (size_t i = 0; i < in->n; i++) {
    const record_t *r = &in->recs[i];
    if (r->nfields >= 3 && !strcmp(r->fields[0], "host") && !strcmp(r->fields[2], "dir") && !strcmp(r->fields[1], src + 1))
      return true;
  }
  return false;
}

static void refuse(const char *policy, const record_t *op, const char *why)
{
  die(FHS_EXIT_PLAN, "policy %s: plan op '%s %s' refused: %s", policy, op->fields[0],
      op->nfields > 1 ? op->fields[1] : "", why);
}

/* Ops only a build plan may hold: they write, or change what the program
 * sees beyond the view's mounts. `build` is NULL for a launch. */
static bool build_op_ok(const char *policy, const record_t *op, const build_paths_t *build)
{
  const char *k = op->fields[0];
  bool is_build_op = !strcmp(k, "overlay-rw") || !strcmp(k, "bind-rw") || !strcmp(k, "tmpfs") || !strcmp(k, "dev") ||
                     !strcmp(k, "netns") || !strcmp(k, "chdir") || !strcmp(k, "clearenv") || !strcmp(k, "userns-root");
  if (!is_build_op) return false;
  if (!build) refuse(policy, op, "only a build plan may hold this op");
  /* userns-root: the command is uid 0 of its own user namespace, mapped to
   * the caller (maintainer scripts chown to root); no privilege outside. */
  if (!strcmp(k, "netns") || !strcmp(k, "clearenv") || !strcmp(k, "userns-root")) {
    if (op->nfields != 1) refuse(policy, op, "takes no fields");
    return true;
  }
  if (!strcmp(k, "chdir")) {
    const char *d = op->nfields == 2 ? op->fields[1] : "";
    if (d[0] != '/' || strstr(d, "/../") || strstr(d, "//") || (strlen(d) >= 3 && !strcmp(d + strlen(d) - 3, "/..")))
      refuse(policy, op, "chdir needs one absolute, normalized path");
    return true;
  }
  return false; /* a mount op: the caller checks its target, then build_mount_ok */
}

static void build_mount_ok(const char *policy, const record_t *op, const allowed_t *allowed, const build_paths_t *build)
{
  const char *k = op->fields[0];
  size_t hint = 0;
  if (!strcmp(k, "overlay-rw")) {
    /* Only the CLI's staging dirs become writable, never a layer: /usr's
     * pair, and for a state build /etc's pair, each at its own target. */
    bool usr = op->nfields >= 5 && !strcmp(op->fields[1], "/usr") && !strcmp(op->fields[2], build->upper) && !strcmp(op->fields[3], build->work);
    bool etc = op->nfields >= 5 && build->etc_upper && !strcmp(op->fields[1], "/etc") && !strcmp(op->fields[2], build->etc_upper) &&
               !strcmp(op->fields[3], build->etc_work);
    if (!usr && !etc)
      refuse(policy, op, "upper and work must be the build's staging dirs for that target, with at least one lower layer");
    if (op->nfields - 4 > FHS_MAX_LAYERS)
      die(FHS_EXIT_PLAN, "build needs %zu layers; OverlayFS allows at most %d", op->nfields - 4, FHS_MAX_LAYERS);
    for (size_t f = 4; f < op->nfields; f++)
      if (!layer_source_ok(allowed, op->fields[f], &hint)) refuse(policy, op, "a lower layer is not one of the build's layers");
  } else if (!strcmp(k, "bind-rw")) {
    bool scratch = op->nfields == 3 && !strcmp(op->fields[2], build->dir);
    bool var = op->nfields == 3 && build->var && !strcmp(op->fields[1], "/var") && !strcmp(op->fields[2], build->var);
    if (!scratch && !var) refuse(policy, op, "the source must be the build's scratch dir (or, at /var, its staged /var)");
  } else if (!strcmp(k, "tmpfs")) {
    if (op->nfields != 2) refuse(policy, op, "tmpfs takes only a target");
  } else if (!strcmp(k, "dev")) {
    if (op->nfields != 2 || strcmp(op->fields[1], "/dev")) refuse(policy, op, "dev takes only the target /dev");
  }
}

void validate_plan(const char *policy, const records_t *plan, const records_t *in, const allowed_t *allowed,
                   const build_paths_t *build)
{
  const char *seen[64];
  size_t nseen = 0;
  /* etc-link ops wait for the /etc overlay over the host's /etc they go on top of. */
  size_t pending_links = 0, links = 0;
  bool has_host_etc = false;
  bool var_bound = false, var_lib_done = false;
  size_t hint = 0; /* layer_source_ok's */
  for (size_t i = 1; i < plan->n; i++) {
    const record_t *op = &plan->recs[i];
    const char *k = op->fields[0];
    if (!strcmp(k, "etc-link")) {
      /* A link in /etc into the view's read-only copy of the host's /etc: it
       * shows a host file at its own path and makes nothing writable. */
      if (op->nfields != 2 || !rel_path_ok(op->fields[1])) refuse(policy, op, "etc-link needs one normalized relative path");
      if (!allowed->host_etc) refuse(policy, op, "only a launch over the host's /etc may link to it");
      pending_links++;
      links++;
      continue;
    }
    if (!strcmp(k, "host-etc")) {
      if (op->nfields != 2 || !host_etc_ok(allowed, in, op->fields[1]) || has_host_etc)
        refuse(policy, op, "the source must be the host's /etc, kept once");
      has_host_etc = true;
      continue;
    }
    if (!strcmp(k, "setenv")) {
      if (op->nfields != 3 || strchr(op->fields[1], '=')) refuse(policy, op, "setenv needs KEY VALUE, and KEY has no '='");
      continue;
    }
    if (!strcmp(k, "view-id") || !strcmp(k, "view")) continue; /* marker contents; checked when read */
    if (!strcmp(k, "bind-file") || !strcmp(k, "ldcache-union")) {
      /* One file, one place: the view's own ld.so.cache, read-only. */
      if (op->nfields != 3 || strcmp(op->fields[1], "/etc/ld.so.cache") || !allowed->ldcache || strcmp(op->fields[2], allowed->ldcache))
        refuse(policy, op, "only the manifest's ld.so.cache may be bound, at /etc/ld.so.cache");
      continue;
    }
    if (!strcmp(k, "var-lib")) {
      /* Generated state layers' var/lib, read-only over the host's /var/lib,
       * which the host /var bound earlier brings: nothing becomes writable,
       * only layer sources are shown. Once, and never in a build. */
      if (build) refuse(policy, op, "a build has no host /var");
      if (op->nfields < 2 || op->nfields - 1 > FHS_MAX_LAYERS) refuse(policy, op, "var-lib needs 1 to 500 layer sources");
      if (!var_bound || var_lib_done) refuse(policy, op, "var-lib needs the host's /var bound before it, and comes once");
      for (size_t f = 1; f < op->nfields; f++) {
        size_t l = strlen(op->fields[f]);
        if (l < 8 || strcmp(op->fields[f] + l - 8, "/var/lib") || !layer_source_ok(allowed, op->fields[f], &hint))
          refuse(policy, op, "a source is not a layer's var/lib");
      }
      var_lib_done = true;
      continue;
    }
    if (build_op_ok(policy, op, build)) continue;
    bool build_mount = !strcmp(k, "tmpfs") || !strcmp(k, "dev") || !strcmp(k, "overlay-rw") || !strcmp(k, "bind-rw");
    if (op->nfields < (build_mount ? 2u : 3u)) refuse(policy, op, "too few fields");
    const char *target = op->fields[1];
    if (!target_ok(target)) refuse(policy, op, "the target must be a top-level path in the new root, other than /.fhs");
    for (size_t s = 0; s < nseen; s++)
      if (!strcmp(seen[s], target)) refuse(policy, op, "the target is already used by an earlier op");
    if (nseen == sizeof seen / sizeof seen[0]) refuse(policy, op, "too many top-level entries");
    seen[nseen++] = target;
    if (build_mount) {
      build_mount_ok(policy, op, allowed, build);
    } else if (!strcmp(k, "overlay")) {
      if (op->nfields < 4) refuse(policy, op, "an overlay needs at least two lower layers");
      if (op->nfields - 2 > FHS_MAX_LAYERS)
        die(FHS_EXIT_PLAN, "view needs %zu layers; OverlayFS allows at most %d", op->nfields - 2, FHS_MAX_LAYERS);
      /* /etc may have the host's /etc as its lowest lower: the layers'
       * defaults over the machine's own files, all read-only. */
      size_t last = op->nfields - 1;
      bool over_host = !strcmp(target, "/etc") && host_etc_ok(allowed, in, op->fields[last]);
      for (size_t f = 2; f < op->nfields; f++)
        if (!(over_host && f == last) && !layer_source_ok(allowed, op->fields[f], &hint))
          refuse(policy, op, "a lower layer is not one of the manifest's or the current view's layers");
      if (pending_links && !over_host) refuse(policy, op, "etc-link ops must precede the /etc overlay over the host's /etc");
      pending_links = 0;
    } else if (!strcmp(k, "bind-ro")) {
      if (op->nfields != 3 || !layer_source_ok(allowed, op->fields[2], &hint)) refuse(policy, op, "the source is not one of the manifest's or the current view's layers");
    } else if (!strcmp(k, "rbind")) {
      /* Host dirs are bound as they are: nothing becomes writable that the
       * caller could not already write. */
      bool host_etc = !strcmp(op->fields[1], "/etc") && op->nfields == 3 && host_etc_ok(allowed, in, op->fields[2]);
      if (!host_etc && (op->nfields != 3 || !host_dir_ok(in, op->fields[2]) || strcmp(op->fields[1], op->fields[2])))
        refuse(policy, op, "the source must be the host top-level directory of the same name");
      if (!strcmp(op->fields[1], "/var")) var_bound = true;
    } else if (!strcmp(k, "symlink")) {
      if (op->nfields != 3) refuse(policy, op, "symlink needs TARGET VALUE");
    } else {
      refuse(policy, op, "unknown op");
    }
  }
  if (pending_links) die(FHS_EXIT_PLAN, "policy %s: plan refused: etc-link ops without the /etc overlay over the host's /etc", policy);
  /* The links point into the kept copy of the host's /etc. */
  if (links && !has_host_etc) die(FHS_EXIT_PLAN, "policy %s: plan refused: etc-link ops without host-etc", policy);
}

/* ---------------------------------------------------------------- execute */

static void xmkdir(const char *path)
{
  if (mkdir(path, 0755) < 0 && errno != EEXIST) die_errno(FHS_EXIT_SETUP, "create mount point %s", path);
}

/* Layer and host paths are absolute in the caller's root, which sits at
 * /oldroot during setup; relative to cwd=/oldroot, they need no copying and
 * keep legacy mount options short. */
static const char *rel(const char *abs) { return abs[0] == '/' ? abs + 1 : abs; }

/* A minimal /dev for builds: a tmpfs holding the harmless character devices
 * bound from the host's (a user namespace cannot create device nodes), and
 * the usual links into /proc. */
static void make_dev(void)
{
  const char *target = "/newroot/dev";
  if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0) die_errno(FHS_EXIT_SETUP, "mount tmpfs at /dev");
  static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
  char path[64], src[64];
  for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
    snprintf(path, sizeof path, "/newroot/dev/%s", nodes[i]);
    snprintf(src, sizeof src, "dev/%s", nodes[i]);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) die_errno(FHS_EXIT_SETUP, "create /dev/%s", nodes[i]);
    close(fd);
    if (bind_mount(src, path, false, false) < 0) die_errno(FHS_EXIT_SETUP, "bind /dev/%s", nodes[i]);
  }
  static const char *const links[][2] = {{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}};
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
    snprintf(path, sizeof path, "/newroot/dev/%s", links[i][0]);
    if (symlink(links[i][1], path) < 0) die_errno(FHS_EXIT_SETUP, "symlink /dev/%s", links[i][0]);
  }
  if (mkdir("/newroot/dev/shm", 01777) < 0 || chmod("/newroot/dev/shm", 01777) < 0) die_errno(FHS_EXIT_SETUP, "create /dev/shm");
}

/* Where the /etc links are made during setup, in the scratch root: a lower
 * of the /etc overlay, so it lives on (held by the overlay) after the scratch
 * root is detached. */
#define ETC_LINKS "/etc-links"

/* One etc-link: REL in the links dir shows the host's REL in the view. A
 * host symlink is copied as it is (readlink of /etc/localtime still names
 * the zone); anything else becomes a link into the view's read-only copy of
 * the host's /etc, which follows the host's file even when it is replaced. */
static bool make_etc_link(const char *host_etc, const char *relpath)
{
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", relpath) >= (int)sizeof buf) die(FHS_EXIT_SETUP, "etc-link %s: path too long", relpath);
  char host_path[PATH_MAX];
  if (snprintf(host_path, sizeof host_path, "%s/%s", rel(host_etc), relpath) >= (int)sizeof host_path)
    die(FHS_EXIT_SETUP, "etc-link %s: path too long", relpath);
  struct stat st;
  if (lstat(host_path, &st) < 0) return false; /* gone since the policy was asked */
  char value[PATH_MAX];
  if (S_ISLNK(st.st_mode)) {
    ssize_t n = readlink(host_path, value, sizeof value - 1);
    if (n < 0) die_errno(FHS_EXIT_SETUP, "etc-link: read the host's /etc/%s", relpath);
    value[n] = 0;
  } else if (snprintf(value, sizeof value, HOST_ETC_IN_VIEW "/%s", relpath) >= (int)sizeof value) {
    die(FHS_EXIT_SETUP, "etc-link %s: path too long", relpath);
  }
  /* Parent dirs one component at a time, never through a symlink (an earlier
   * link of a shorter path): the links dir holds nothing else. */
  int dir = open(ETC_LINKS, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) die_errno(FHS_EXIT_SETUP, "open %s", ETC_LINKS);
  char *name = buf;
  for (char *slash; (slash = strchr(name, '/')); name = slash + 1) {
    *slash = 0;
    if (mkdirat(dir, name, 0755) < 0 && errno != EEXIST) die_errno(FHS_EXIT_SETUP, "etc-link %s: create %s", relpath, name);
    int sub = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) die_errno(FHS_EXIT_SETUP, "etc-link %s: open %s", relpath, name);
    close(dir);
    dir = sub;
  }
  int r = symlinkat(value, dir, name);
  int err = errno;
  close(dir);
  if (r < 0 && err != EEXIST) {
    errno = err;
    die_errno(FHS_EXIT_SETUP, "etc-link %s", relpath);
  }
  return true;
}

/* A layer of the plan, opened once as the manifest names it, from the
 * caller's root (the cwd, /oldroot, during setup), following no symlink
 * (resolve.c); the mount is made from this fd. Exits 125 naming the layer. */
static void open_layer_ref(const char *path, dirref_t *d)
{
  const char *why = NULL;
  d->fd = open_layer(AT_FDCWD, path, &why);
  if (d->fd < 0) die(FHS_EXIT_SETUP, "layer %s: %s", path, why);
}

/* A build's staging dir (upper, work): the CLI's own, opened as its path
 * says; by fd, so no path reaches mount(2)'s option string. */
static void open_staging_ref(const char *path, dirref_t *d)
{
  d->fd = open(rel(path), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (d->fd < 0) die_errno(FHS_EXIT_SETUP, "build staging dir %s", path);
}

static void close_refs(dirref_t *d, size_t n)
{
  for (size_t i = 0; i < n; i++) close(d[i].fd);
  free(d);
}

/* Why no user namespace could be made, with the remedy: a host that forbids
 * them (a sysctl, an AppArmor or seccomp policy: EPERM), one that allows none
 * (user.max_user_namespaces = 0: ENOSPC), or the kernel's nesting cap. */
NORETURN static void user_ns_failed(void)
{
  int err = errno;
  if (err == EPERM || err == EACCES)
    die(FHS_EXIT_SETUP, "cannot create a user namespace: this host does not let unprivileged users (%s); allow them: "
        "sysctl kernel.unprivileged_userns_clone=1 (Debian), kernel.apparmor_restrict_unprivileged_userns=0 (Ubuntu), "
        "or a container's seccomp profile that permits unshare(CLONE_NEWUSER)", strerror(err));
  if (err == ENOSPC || err == EUSERS) {
    size_t len = 0;
    cleanup_free uint8_t *max = read_file("/proc/sys/user/max_user_namespaces", 64, &len);
    if (max && len > 0 && max[0] == '0' && (len == 1 || max[1] == '\n'))
      die(FHS_EXIT_SETUP, "cannot create a user namespace: user namespaces are disabled here (user.max_user_namespaces is 0); "
          "enable them: sysctl -w user.max_user_namespaces=15000");
    die(FHS_EXIT_SETUP, "cannot create a user namespace: the kernel's nesting limit (32 levels) is reached");
  }
  errno = err;
  die_errno(FHS_EXIT_SETUP, "cannot create a user + mount namespace");
}

void build_view(const records_t *plan)
{
  uid_t uid = getuid();
  gid_t gid = getgid();
  int extra = 0;
  bool root = false;
  for (size_t i = 1; i < plan->n; i++) {
    if (!strcmp(plan->recs[i].fields[0], "netns")) extra = CLONE_NEWNET;
    if (!strcmp(plan->recs[i].fields[0], "userns-root")) root = true;
  }
  if (enter_user_mount_ns(uid, gid, root, extra) < 0) user_ns_failed();
  if (extra && loopback_up() < 0) die_errno(FHS_EXIT_SETUP, "bring up the loopback interface of the build's network namespace");

  /* As bubblewrap does: a scratch tmpfs on /tmp becomes the root, with the
   * caller's root at /oldroot. Pivoting detaches the tmpfs from /tmp, so
   * /oldroot/tmp is the caller's /tmp again. */
  if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0) die_errno(FHS_EXIT_SETUP, "mount scratch tmpfs");
  if (chdir("/tmp") < 0) die_errno(FHS_EXIT_SETUP, "chdir scratch");
  xmkdir("newroot");
  xmkdir("oldroot");
  if (syscall(SYS_pivot_root, "/tmp", "/tmp/oldroot") < 0) die_errno(FHS_EXIT_SETUP, "pivot_root into scratch");
  if (chdir("/newroot") < 0) die_errno(FHS_EXIT_SETUP, "chdir /newroot");
  if (mount("tmpfs", "/newroot", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0) die_errno(FHS_EXIT_SETUP, "mount view root tmpfs");
  if (chdir("/oldroot") < 0) die_errno(FHS_EXIT_SETUP, "chdir /oldroot");
  /* The caller's /proc, for /proc/self/fd paths of the layers' fds. */
  mounts_set_proc("proc");
  resolve_force_fallback(legacy_mount_api());

  recbuf_t marker = {0};
  char target[PATH_MAX];
  /* The host's /etc (the host-etc op's source; the validator requires one
   * when there are etc-links), and whether a link was made. */
  const char *host_etc = NULL;
  for (size_t i = 1; i < plan->n; i++)
    if (!strcmp(plan->recs[i].fields[0], "host-etc")) host_etc = plan->recs[i].fields[1];
  bool etc_links = false;
  for (size_t i = 1; i < plan->n; i++) {
    const record_t *op = &plan->recs[i];
    const char *k = op->fields[0];
    if (!strcmp(k, "etc-link")) {
      if (!host_etc) die(FHS_EXIT_SETUP, "etc-link %s: no host-etc", op->fields[1]);
      if (mkdir(ETC_LINKS, 0755) < 0 && errno != EEXIST) die_errno(FHS_EXIT_SETUP, "create %s", ETC_LINKS);
      if (make_etc_link(host_etc, op->fields[1])) etc_links = true;
      continue;
    }
    if (!strcmp(k, "host-etc")) {
      /* Kept for nested launches, read-only at every level; the marker says so. */
      xmkdir("/newroot/.fhs");
      xmkdir("/newroot" HOST_ETC_IN_VIEW);
      dirref_t src;
      open_layer_ref(op->fields[1], &src);
      if (bind_mount_ro_tree(&src, "/newroot" HOST_ETC_IN_VIEW) < 0)
        die_errno(FHS_EXIT_SETUP, "bind the host's %s read-only at %s", op->fields[1], HOST_ETC_IN_VIEW);
      close(src.fd);
      recbuf_record(&marker, "host-etc", HOST_ETC_IN_VIEW, NULL);
      continue;
    }
    if (!strcmp(k, "view-id") || !strcmp(k, "view")) {
      for (size_t f = 0; f < op->nfields; f++) recbuf_field(&marker, op->fields[f]);
      recbuf_end(&marker);
      continue;
    }
    if (!strcmp(k, "setenv") || !strcmp(k, "netns") || !strcmp(k, "chdir") || !strcmp(k, "clearenv") || !strcmp(k, "userns-root")) continue;
    if (!strcmp(k, "var-lib")) {
      /* Over the host's /var/lib, inside the bound host /var (validated: bound
       * before this op). The mount point must be the host's own directory:
       * nothing is created in a host filesystem. */
      struct stat st;
      if (lstat("/newroot/var/lib", &st) < 0 || !S_ISDIR(st.st_mode))
        die(FHS_EXIT_SETUP, "/var/lib: the host has no /var/lib directory to show the install-time state over");
      size_t n = op->nfields;
      dirref_t *lowers = xmalloc(n * sizeof *lowers);
      for (size_t f = 1; f < n; f++) open_layer_ref(op->fields[f], &lowers[f - 1]);
      open_layer_ref("/var/lib", &lowers[n - 1]);
      if (mount_overlay_ro("/newroot/var/lib", lowers, n) < 0) die_errno(FHS_EXIT_SETUP, "overlay /var/lib of %zu state layers over the host's", n - 1);
      close_refs(lowers, n);
      continue;
    }
    snprintf(target, sizeof target, "/newroot%s", op->fields[1]);
    if (!strcmp(k, "bind-file") || !strcmp(k, "ldcache-union")) {
      /* After /etc is in place: over the host's cache, in this namespace only. */
      const char *src = !strcmp(k, "ldcache-union") && union_ldcache[0] ? union_ldcache : op->fields[2];
      if (bind_mount(rel(src), target, false, true) < 0) die_errno(FHS_EXIT_SETUP, "bind the view's ld.so.cache %s", src);
      continue;
    }
    if (!strcmp(k, "symlink")) {
      if (symlink(op->fields[2], target) < 0) die_errno(FHS_EXIT_SETUP, "symlink %s", op->fields[1]);
      continue;
    }
    xmkdir(target);
    if (!strcmp(k, "overlay")) {
      /* The /etc links, if any, go on top of the /etc overlay (the validator
       * let them through only before the one over the host's /etc). The
       * links dir is the launcher's own, in its scratch root. */
      size_t top = !strcmp(op->fields[1], "/etc") && etc_links ? 1 : 0;
      size_t n = op->nfields - 2 + top;
      dirref_t *lowers = xmalloc(n * sizeof *lowers);
      if (top && (lowers[0].fd = open(ETC_LINKS, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        die_errno(FHS_EXIT_SETUP, "open %s", ETC_LINKS);
      for (size_t f = top; f < n; f++) open_layer_ref(op->fields[2 + f - top], &lowers[f]);
      if (mount_overlay_ro(target, lowers, n) < 0) {
        if (errno == E2BIG)
          die(FHS_EXIT_SETUP, "overlay %s: %zu layers do not fit in mount(2)'s one page of options; this kernel lacks fsconfig lowerdir+ (Linux >= 6.8)", op->fields[1], n);
        if (errno == EPERM)
          die(FHS_EXIT_SETUP, "overlay %s of %zu layers: this kernel does not let an unprivileged user mount overlayfs in a user namespace (Operation not permitted); Linux >= 5.11 does: upgrade the kernel, or check with 'fhs doctor'", op->fields[1], n);
        die_errno(FHS_EXIT_SETUP, "overlay %s of %zu layers", op->fields[1], n);
      }
      close_refs(lowers, n);
    } else if (!strcmp(k, "bind-ro")) {
      dirref_t src;
      open_layer_ref(op->fields[2], &src);
      if (bind_mount_ro_tree(&src, target) < 0) die_errno(FHS_EXIT_SETUP, "bind %s read-only at %s", op->fields[2], op->fields[1]);
      close(src.fd);
    } else if (!strcmp(k, "rbind")) {
      if (bind_mount(rel(op->fields[2]), target, true, false) < 0) die_errno(FHS_EXIT_SETUP, "bind host %s", op->fields[2]);
    } else if (!strcmp(k, "overlay-rw")) {
      size_t n = op->nfields - 4;
      dirref_t *lowers = xmalloc(n * sizeof *lowers);
      for (size_t f = 0; f < n; f++) open_layer_ref(op->fields[4 + f], &lowers[f]);
      dirref_t upper, work;
      open_staging_ref(op->fields[2], &upper);
      open_staging_ref(op->fields[3], &work);
      if (mount_overlay_rw(target, lowers, n, &upper, &work) < 0) {
        if (errno == E2BIG)
          die(FHS_EXIT_SETUP, "writable overlay %s: %zu layers do not fit in mount(2)'s one page of options; this kernel lacks fsconfig lowerdir+ (Linux >= 6.8)", op->fields[1], n);
        die_errno(FHS_EXIT_SETUP, "writable overlay %s of %zu layers", op->fields[1], n);
      }
      close_refs(lowers, n);
      close(upper.fd);
      close(work.fd);
    } else if (!strcmp(k, "bind-rw")) {
      if (bind_mount(rel(op->fields[2]), target, true, false) < 0) die_errno(FHS_EXIT_SETUP, "bind %s at %s", op->fields[2], op->fields[1]);
    } else if (!strcmp(k, "tmpfs")) {
      if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0) die_errno(FHS_EXIT_SETUP, "mount tmpfs at %s", op->fields[1]);
    } else if (!strcmp(k, "dev")) {
      make_dev(); /* validated: the target is /dev */
    }
  }

  /* The marker: what a nested launch reads to compose on top of this view. */
  xmkdir("/newroot/.fhs");
  int mfd = open("/newroot" MARKER, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (mfd < 0 || write_all(mfd, marker.buf, marker.len) < 0) die_errno(FHS_EXIT_SETUP, "write the view marker");
  /* Closed before the remount: a file open for writing keeps it busy. */
  if (close(mfd) < 0) die_errno(FHS_EXIT_SETUP, "write the view marker");
  free(marker.buf);

  /* Read-only root: writes to / or /usr fail with EROFS; bound host dirs keep
   * their own writability. */
  if (remount_readonly("/newroot") < 0) die_errno(FHS_EXIT_SETUP, "make the view root read-only");

  /* pivot_root(".", ".") stacks the old root on the new one; detaching it
   * then removes the scratch tmpfs and the caller's tree in one step. */
  if (chdir("/newroot") < 0) die_errno(FHS_EXIT_SETUP, "chdir /newroot");
  if (syscall(SYS_pivot_root, ".", ".") < 0) die_errno(FHS_EXIT_SETUP, "pivot_root into the view");
  if (umount2(".", MNT_DETACH) < 0) die_errno(FHS_EXIT_SETUP, "detach the old root");
}

/* The bare syscall floor for benchmarks: carries out a saved plan with no
 * manifest, no policy and no validation, so the difference to a real launch
 * is exactly what the manifest, hash check, policy and checks cost. */
int replay_plan(const char *plan_file, char **argv)
{
  size_t len = 0;
  uint8_t *bytes = read_file(plan_file, 64 << 20, &len);
  if (!bytes) die_errno(FHS_EXIT_SETUP, "plan %s: cannot read", plan_file);
  records_t plan;
  if (records_parse(bytes, len, &plan) < 0 || plan.n == 0) die(FHS_EXIT_SETUP, "plan %s: not a record stream", plan_file);
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) cwd_failed();
  if (!strcmp(plan.recs[0].fields[1], "view")) {
    build_view(&plan);
    if (chdir(cwd) < 0) die_errno(FHS_EXIT_SETUP, "the working directory %s does not exist in the view", cwd);
  }
  for (size_t i = 1; i < plan.n; i++)
    if (!strcmp(plan.recs[i].fields[0], "setenv")) setenv(plan.recs[i].fields[1], plan.recs[i].fields[2], 1);
  execve(argv[0], argv, environ);
  die_errno(errno == ENOENT ? FHS_EXIT_NOENT : FHS_EXIT_NOEXEC, "exec %s", argv[0]);
}

void parse_plan(const char *policy, const policy_result_t *res, const char *what, records_t *plan)
{
  if (records_parse(res->bytes, res->len, plan) < 0 || plan->n == 0)
    die(FHS_EXIT_POLICY, "policy %s: the result is not a record stream", policy);
  if (res->status != 0) {
    const record_t *e = &plan->recs[0];
    die(FHS_EXIT_POLICY, "policy %s refused the %s: %s", policy, what, e->nfields > 1 ? e->fields[1] : e->fields[0]);
  }
  if (plan->recs[0].nfields != 2 || strcmp(plan->recs[0].fields[0], "plan"))
    die(FHS_EXIT_POLICY, "policy %s: the result does not start with a 'plan KIND' record", policy);
}

/* The `policy PATH SHA256` record of `recs`; exits 125 when there is none. */
static void policy_record(const records_t *recs, const char *what, const char **path, const char **want)
{
  *path = *want = NULL;
  for (size_t i = 0; i < recs->n; i++)
    if (!strcmp(recs->recs[i].fields[0], "policy") && recs->recs[i].nfields == 3) {
      *path = recs->recs[i].fields[1];
      *want = recs->recs[i].fields[2];
    }
  if (!*path) die(FHS_EXIT_SETUP, "%s names no policy", what);
}

uint8_t *read_verified_policy(const records_t *recs, const char *what, const char **path_out, size_t *len_out,
                              const char **sha_out)
{
  const char *path, *want;
  policy_record(recs, what, &path, &want);
  uint8_t *wasm = read_file(path, FHS_MODULE_SIZE_CAP, len_out);
  if (!wasm) die(FHS_EXIT_POLICY, "policy %s: cannot read: %s", path, read_error(errno, FHS_MODULE_SIZE_CAP));
  char sha[65];
  sha256_hex(wasm, *len_out, sha);
  if (strcmp(sha, want))
    die(FHS_EXIT_POLICY, "policy %s: sha256 %s does not match the manifest's %s: the module changed after wrap", path, sha, want);
  *path_out = path;
  if (sha_out) *sha_out = want;
  return wasm;
}

/* ------------------------------------------------------------------ main */

/* Set by launch_env: the manifest to read instead of a package's. */
static const char *env_manifest;

int launch_env(const char *manifest, char **argv)
{
  env_manifest = manifest;
  return launch(manifest, NULL, argv);
}

/* The plan cache. The policy is a pure function of its module and its input,
 * so its plan for the same bytes is the same plan: a launch whose input was
 * seen before skips wasm3 (load, compile, run: most of a launch's cost) and
 * reads the plan it produced then. The plan is validated exactly as a fresh
 * one, so an entry can never do what a policy's answer could not.
 *
 * Entries live in a directory only the caller owns (mode 0700, checked):
 * $XDG_RUNTIME_DIR/fhs-plans, else /tmp/fhs-plans-UID. The key is the
 * sha256 of the module's sha256, the module file's identity (device, inode,
 * size, mtime, ctime) and the input; on a hit the module is neither read nor
 * hashed (a warm launch's largest user-space cost was hashing it). A module
 * changed since has another identity, so it misses and is checked as ever.
 * FHS_PLAN_CACHE=off disables it.
 * Failures to read or write the cache are not errors: the policy runs. */
static bool cache_dir(char *dir, size_t n)
{
  const char *off = getenv("FHS_PLAN_CACHE");
  if (off && !strcmp(off, "off")) return false;
  uid_t uid = getuid();
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  int m = xdg && xdg[0] == '/' ? snprintf(dir, n, "%s/fhs-plans", xdg) : snprintf(dir, n, "/tmp/fhs-plans-%u", uid);
  if (m < 0 || (size_t)m >= n) return false;
  if (mkdir(dir, 0700) < 0 && errno != EEXIST) return false;
  struct stat st;
  /* Someone else's directory, or one others may write to, is not ours to trust. */
  return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid && !(st.st_mode & 022);
}

/* The module file as the kernel knows it: a write, a replacement or a
 * chmod changes its ctime or inode, so a module changed since its plan was
 * cached misses the cache and is hashed (and refused) as before. */
static bool module_identity(const char *path, char *out, size_t n)
{
  struct stat st;
  if (stat(path, &st) < 0) return false;
  int m = snprintf(out, n, "%llx:%llx:%llx:%lld.%ld:%lld.%ld", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                   (unsigned long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec,
                   st.st_ctim.tv_nsec);
  return m > 0 && (size_t)m < n;
}

static bool plan_cache_path(const char *module_sha, const char *module_id, const uint8_t *in, size_t inlen, char *out, size_t n)
{
  char dir[PATH_MAX];
  if (!cache_dir(dir, sizeof dir)) return false;
  char key[65];
  size_t idlen = strlen(module_id);
  uint8_t *keyed = xmalloc(64 + idlen + 1 + inlen);
  memcpy(keyed, module_sha, 64);
  memcpy(keyed + 64, module_id, idlen + 1);
  memcpy(keyed + 64 + idlen + 1, in, inlen);
  sha256_hex(keyed, 64 + idlen + 1 + inlen, key);
  free(keyed);
  int m = snprintf(out, n, "%s/%s", dir, key);
  return m > 0 && (size_t)m < n;
}

static bool plan_cache_lookup(const char *module_sha, const char *module_id, const uint8_t *in, size_t inlen, char *file,
                              size_t n, policy_result_t *res)
{
  file[0] = 0;
  if (!module_id || !plan_cache_path(module_sha, module_id, in, inlen, file, n)) {
    file[0] = 0;
    return false;
  }
  size_t len = 0;
  uint8_t *bytes = read_file_flags(file, O_NOFOLLOW, 16 << 20, &len);
  if (!bytes) return false;
  res->status = 0;
  res->bytes = bytes;
  res->len = len;
  return true;
}

static void plan_cache_store(const char *file, const policy_result_t *res)
{
  if (!file[0]) return;
  char tmp[PATH_MAX + 32];
  snprintf(tmp, sizeof tmp, "%s.tmp-%d", file, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return;
  bool ok = write_all(fd, res->bytes, res->len) == 0;
  if (close(fd) < 0) ok = false;
  /* Written whole, then renamed: a reader never sees half a plan. */
  if (!ok || rename(tmp, file) < 0) unlink(tmp);
}

/* A nested view's ld.so.cache: the package's entries, then the current
 * view's (/etc/ld.so.cache here), made once per layer list and kept by the
 * view's id next to the plan cache. When it cannot be had, the package's own
 * cache is bound: its libraries are on top, and the loader's default
 * directories still find the rest. */
static void prepare_union_ldcache(const records_t *plan)
{
  const char *pkg_cache = NULL, *id = NULL;
  for (size_t i = 1; i < plan->n; i++) {
    if (!strcmp(plan->recs[i].fields[0], "ldcache-union")) pkg_cache = plan->recs[i].fields[2];
    if (!strcmp(plan->recs[i].fields[0], "view-id")) id = plan->recs[i].fields[1];
  }
  if (!pkg_cache || !id) return;
  char dir[PATH_MAX];
  if (!cache_dir(dir, sizeof dir)) return;
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/%s.ld.so.cache", dir, id) >= (int)sizeof path) return;
  if (access(path, R_OK) == 0) {
    strcpy(union_ldcache, path);
    return;
  }
  size_t top_len = 0, below_len = 0;
  cleanup_free uint8_t *top = read_file(pkg_cache, 64 << 20, &top_len);
  cleanup_free uint8_t *below = read_file("/etc/ld.so.cache", 64 << 20, &below_len);
  if (top && below && ldcache_union(top, top_len, below, below_len, path) == 0) strcpy(union_ldcache, path);
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

/* Inside a view that may already hold the package: is /usr/<rel> there the
 * package's own program (its .fhs/raw/<rel>), or does a layer above shadow it?
 * Only then may a launch skip making a view. Overlayfs reports a lower
 * file's inode, size and times as they are. */
static bool program_shadowed(const char *pkg, const char *relprog)
{
  char in_view[PATH_MAX], raw[PATH_MAX];
  struct stat a, b;
  if (snprintf(in_view, sizeof in_view, "/usr/%s", relprog) >= (int)sizeof in_view ||
      snprintf(raw, sizeof raw, "%s/.fhs/raw/%s", pkg, relprog) >= (int)sizeof raw)
    return true;
  if (lstat(in_view, &a) < 0 || lstat(raw, &b) < 0) return true;
  return a.st_ino != b.st_ino || a.st_mode != b.st_mode || a.st_size != b.st_size || a.st_mtim.tv_sec != b.st_mtim.tv_sec ||
         a.st_mtim.tv_nsec != b.st_mtim.tv_nsec;
}

int launch(const char *pkg, const char *relprog, char **argv)
{
  /* FHS_DEBUG=plan prints the plan's bytes; FHS_DEBUG=timing the time spent
   * in the policy and in the whole launch (benchmarks read it). */
  const char *debug = getenv("FHS_DEBUG");
  bool timing = debug && !strcmp(debug, "timing");
  long long t_start = timing ? now_ns() : 0;
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) cwd_failed();

  char *mpath = env_manifest ? xstrdup(env_manifest) : xasprintf("%s/.fhs/manifest.bin", pkg);
  size_t mlen = 0;
  uint8_t *mbytes = read_file(mpath, FHS_MANIFEST_SIZE_CAP, &mlen);
  if (!mbytes) die(FHS_EXIT_SETUP, "package %s: cannot read its manifest %s: %s", pkg, mpath, read_error(errno, FHS_MANIFEST_SIZE_CAP));
  records_t manifest;
  errno = 0;
  if (records_parse_max(mbytes, mlen, FHS_MANIFEST_RECORDS_CAP, &manifest) < 0 && errno == E2BIG)
    die(FHS_EXIT_SETUP, "package %s: its manifest %s holds more than %d records, the cap", pkg, mpath, FHS_MANIFEST_RECORDS_CAP);
  if (manifest.n < 2 || strcmp(manifest.recs[0].fields[0], "fhs-manifest"))
    die(FHS_EXIT_SETUP, "package %s: %s is not a compiled fhs manifest", pkg, mpath);
  /* Another format's records may mean other things: refused, not guessed at. */
  if (manifest.recs[0].nfields != 2 || strcmp(manifest.recs[0].fields[1], FHS_MANIFEST_VERSION))
    die(FHS_EXIT_SETUP, "package %s: %s is manifest format %s; this launcher reads format %s: wrap the package again", pkg,
        mpath, manifest.recs[0].nfields > 1 ? manifest.recs[0].fields[1] : "(none)", FHS_MANIFEST_VERSION);
  /* Before the policy sees them: a layer is one directory, named one way. */
  allowed_t allowed = {0};
  allow_layers(&allowed, &manifest, "layer");

  /* The module is read and hashed only when the policy must run: a cached
   * plan is what the verified module with this hash, unchanged since (its
   * identity is part of the key), produced for this very input. */
  const char *policy_path = NULL;
  const char *policy_sha = NULL;
  policy_record(&manifest, mpath, &policy_path, &policy_sha);
  char module_id[128];
  bool have_module_id = module_identity(policy_path, module_id, sizeof module_id);

  /* Input: the request, the manifest's layers and config, the view we are
   * in (if any) and the host's top-level entries. */
  recbuf_t in = {0};
  recbuf_record(&in, "req", "launch", NULL);
  add_manifest_facts(&in, &manifest);
  const char *env_marker = getenv("IN_NIX_FHS");
  size_t vlen = 0;
  uint8_t *view = NULL;
  records_t viewrecs = {0};
  bool shadowed = true; /* outside a view nothing is installed at /usr yet */
  if (env_marker && *env_marker) {
    recbuf_record(&in, "env-marker", env_marker, NULL);
    view = read_marker(&vlen);
    if (view && records_parse(view, vlen, &viewrecs) == 0) {
      recbuf_record(&in, "marker-root", "ok", NULL);
      recbuf_bytes(&in, view, vlen);
      shadowed = relprog && program_shadowed(pkg, relprog);
      if (shadowed) recbuf_record(&in, "shadowed", relprog, NULL);
    }
  }
  add_host_entries(&in);
  /* Whether the view's /etc (the host's) has a cache to bind the view's over. */
  if (access("/etc/ld.so.cache", F_OK) == 0) recbuf_record(&in, "host-file", "etc/ld.so.cache", NULL);
  /* Which of the machine's own files the config names (etc-host) the host's
   * /etc holds: the current root's, or the copy the current view kept. */
  bool in_view_host_etc = view_keeps_host_etc(&viewrecs);
  add_host_etc_files(&in, &manifest, in_view_host_etc ? HOST_ETC_IN_VIEW : "/etc");

  policy_result_t res;
  long long t_policy = timing ? now_ns() : 0;
  char cache_file[PATH_MAX];
  bool cached = plan_cache_lookup(policy_sha, have_module_id ? module_id : NULL, in.buf, in.len, cache_file, sizeof cache_file, &res);
  if (!cached) {
    size_t wlen = 0;
    uint8_t *wasm = read_verified_policy(&manifest, mpath, &policy_path, &wlen, &policy_sha);
    policy_eval(policy_path, wasm, wlen, in.buf, in.len, &res);
    if (res.status == 0) plan_cache_store(cache_file, &res);
  }
  if (timing) t_policy = now_ns() - t_policy;
  records_t plan;
  parse_plan(policy_path, &res, "launch", &plan);

  if (debug && !strcmp(debug, "plan")) {
    /* The exact bytes, so tests can compare them with `fhs plan`. */
    (void)!write_all(STDERR_FILENO, res.bytes, res.len);
  }

  records_t inrecs;
  if (records_parse(in.buf, in.len, &inrecs) < 0) die(FHS_EXIT_SETUP, "internal: malformed policy input");
  allow_layers(&allowed, &viewrecs, "view");
  allowed.host_etc = true;
  allowed.host_etc_in_view = in_view_host_etc;
  for (size_t i = 0; i < manifest.n; i++)
    if (!strcmp(manifest.recs[i].fields[0], "ldcache") && manifest.recs[i].nfields == 2) allowed.ldcache = manifest.recs[i].fields[1];
  validate_plan(policy_path, &plan, &inrecs, &allowed, NULL);

  if (!strcmp(plan.recs[0].fields[1], "view")) {
    prepare_union_ldcache(&plan);
    build_view(&plan);
    if (chdir(cwd) < 0) die_errno(FHS_EXIT_SETUP, "the working directory %s does not exist in the view", cwd);
  } else if (strcmp(plan.recs[0].fields[1], "fast")) {
    die(FHS_EXIT_POLICY, "policy %s: unknown plan kind '%s'", policy_path, plan.recs[0].fields[1]);
  } else if (relprog && shadowed) {
    /* A fast plan execs /usr/<rel> of the current view: refused unless that
     * is the package's own program (never outside a view). */
    die(FHS_EXIT_PLAN, "policy %s: plan fast refused: /usr/%s in the current view is not package %s's program", policy_path,
        relprog, pkg);
  }

  for (size_t i = 1; i < plan.n; i++)
    if (!strcmp(plan.recs[i].fields[0], "setenv") && setenv(plan.recs[i].fields[1], plan.recs[i].fields[2], 1) < 0)
      die_errno(FHS_EXIT_SETUP, "setenv %s", plan.recs[i].fields[1]);

  if (env_manifest) {
    /* fhs env: the command is looked up by PATH, inside the view. */
    execvp(argv[0], argv);
    die_exec(argv[0], errno, " in the view");
  }
  /* In its view the program is installed at /usr (docs/ARCHITECTURE.md, "What
   * a program sees of itself"): exec'd by its /usr path, so /proc/self/exe
   * and realpath(argv[0]) land in the view's merged /usr, all layers
   * together, never in the package's own directory on the host. */
  char *prog = xasprintf("/usr/%s", relprog);
  char *argv0 = argv[0] ? in_view_argv0(argv[0], relprog) : NULL;
  if (argv0) argv[0] = argv0;
  rewrite_path(pkg);
  if (timing) {
    char line[128];
    int n = snprintf(line, sizeof line, "fhs-timing policy_ns=%lld launch_ns=%lld plan_cache=%s\n", t_policy,
                     now_ns() - t_start, cached ? "hit" : "miss");
    if (n > 0) (void)!write(STDERR_FILENO, line, (size_t)n);
  }
  execve(prog, argv, environ);
  die_exec(prog, errno, "");
}
