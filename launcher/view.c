/* Carrying out a validated plan: the namespaces, the scratch root, one
 * switch over the plan's ops, the marker, the pivot. Every mount happens
 * after unshare(CLONE_NEWUSER|CLONE_NEWNS), in a namespace that dies with
 * this process if anything fails. */
#include "view.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/stat.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "abi.h"
#include "cache.h"
#include "facts.h"
#include "mounts.h"
#include "records.h"
#include "resolve.h"
#include "util.h"

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
/* The top lower of a new root's /usr, also in the scratch root: an empty
 * file .fhs (see FHS_OP_OVERLAY). */
#define USR_TOP "/usr-top"
/* Where the clones /usr's layers are named beneath are attached, also in
 * the scratch root: detached with it, with the old root, in one unmount
 * (open_layer_shared_done). */
#define PARKED "/parked"

/* What an etc-link shows: a host symlink is copied as it is (readlink of
 * /etc/localtime still names the zone); anything else becomes a link into
 * the view's read-only copy of the host's /etc (kept_etc: where the view
 * keeps it), which follows the host's file even when it is replaced. false:
 * the host has no such name (gone since the policy was asked: no link). */
static bool etc_link_value(int host_etc, const char *host_etc_path, const char *kept_etc, const char *relpath, char **value)
{
  /* The type the facts saw a moment ago (the policy planned from it), else
   * a stat: one system call less per link on a launch. */
  struct stat st;
  st.st_mode = host_etc_file_type(host_etc_path, relpath);
  if (!st.st_mode && fstatat(host_etc, relpath, &st, AT_SYMLINK_NOFOLLOW) < 0) return false;
  char buf[PATH_MAX];
  ssize_t n = S_ISLNK(st.st_mode) ? readlinkat(host_etc, relpath, buf, sizeof buf - 1) : -1;
  /* Changed since the facts saw it: EINVAL, replaced by a file (the link
   * into the kept /etc shows it as well); ENOENT, gone (no link). */
  if (n < 0 && S_ISLNK(st.st_mode) && errno == ENOENT) return false;
  if (n < 0 && S_ISLNK(st.st_mode) && errno != EINVAL) die_errno(FHS_EXIT_SETUP, "etc-link: read the host's /etc/%s", relpath);
  if (n >= 0) {
    buf[n] = 0;
    *value = xstrdup(buf);
  } else {
    *value = xasprintf("%s/%s", kept_etc, relpath);
  }
  return true;
}

/* REL in the links dir `links` (a directory fd) as a symlink to VALUE. Parent
 * dirs one component at a time, never through a symlink (an earlier link of a
 * shorter path): the links dir holds nothing else. A top-level link (most
 * are: passwd, group, hosts) is made in `links` itself, no open or close;
 * a link's own parent dir gets `parent_mode` when it is not 0. -1 with errno
 * (EEXIST is not an error: the same link twice). */
static int put_link(int links, const char *rel, const char *value, mode_t parent_mode)
{
  char buf[PATH_MAX];
  size_t rl = strlen(rel);
  if (rl >= sizeof buf) return errno = ENAMETOOLONG, -1;
  memcpy(buf, rel, rl + 1);
  int at = links, err;
  char *name = buf;
  for (char *slash; (slash = strchr(name, '/')); name = slash + 1) {
    *slash = 0;
    if (mkdirat(at, name, 0755) < 0 && errno != EEXIST) goto fail;
    int sub = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) goto fail;
    if (at != links) close(at);
    at = sub;
  }
  int r = symlinkat(value, at, name);
  err = errno;
  if (at != links) {
    if (parent_mode) (void)fchmod(at, parent_mode);
    close(at);
  }
  if (r < 0 && err != EEXIST) return errno = err, -1;
  return 0;
fail:
  err = errno;
  if (at != links) close(at);
  return errno = err, -1;
}

/* One etc-link of a new root: REL in the links dir shows the host's REL in
 * the view (etc_link_value). host_etc and links are directory fds. */
static bool make_etc_link(int host_etc, const char *host_etc_path, int links, const char *kept_etc, const char *relpath)
{
  char *value;
  if (!etc_link_value(host_etc, host_etc_path, kept_etc, relpath, &value)) return false;
  if (put_link(links, relpath, value, 0) < 0) die_errno(FHS_EXIT_SETUP, "etc-link %s", relpath);
  free(value);
  return true;
}

/* A layer of the plan, opened once as the manifest names it, from the
 * caller's root (the cwd, /oldroot, during setup), following no symlink
 * (resolve.c); the mount is made from this fd. Exits 125 naming the layer. */
static void open_layer_ref(const char *path, dirref_t *d)
{
  const char *why = NULL;
  *d = (dirref_t){.fd = open_layer(AT_FDCWD, path, &why)};
  if (d->fd < 0) die(FHS_EXIT_SETUP, "layer %s: %s", path, why);
}

/* A build's staging dir (upper, work): the CLI's own, opened as its path
 * says; by fd, so no path reaches mount(2)'s option string. */
static void open_staging_ref(const char *path, dirref_t *d)
{
  *d = (dirref_t){.fd = open(rel(path), O_PATH | O_DIRECTORY | O_CLOEXEC)};
  if (d->fd < 0) die_errno(FHS_EXIT_SETUP, "build staging dir %s", path);
}

static void close_refs(dirref_t *d, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (d[i].fd >= 0) close(d[i].fd);
  free(d);
}

static bool by_name(const dirref_t *d, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (d[i].rel) return true;
  return false;
}

/* Dies naming the first layer open_layer refuses, with its reason. */
static void reopen_by_fd(int root, dirref_t *d, const char *const *paths, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    if (!d[i].rel) continue;
    const char *why = NULL;
    int fd = open_layer(root, paths[i], &why);
    if (fd < 0) die(FHS_EXIT_SETUP, "layer %s: %s", paths[i], why);
    d[i] = (dirref_t){.fd = fd};
  }
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

/* The overlay's error, with the remedy where there is one. */
NORETURN static void overlay_failed(bool rw, const char *target, size_t n)
{
  const char *what = rw ? "writable overlay" : "overlay";
  if (errno == E2BIG)
    die(FHS_EXIT_SETUP, "%s %s: %zu layers do not fit in mount(2)'s one page of options; this kernel lacks fsconfig lowerdir+ (Linux >= 6.8)", what, target, n);
  if (errno == EPERM && !rw)
    die(FHS_EXIT_SETUP, "overlay %s of %zu layers: this kernel does not let an unprivileged user mount overlayfs in a user namespace (Operation not permitted); Linux >= 5.11 does: upgrade the kernel, or check with 'fhs doctor'", target, n);
  die_errno(FHS_EXIT_SETUP, "%s %s of %zu layers", what, target, n);
}

void build_view(const plan_t *plan, const char *union_ldcache)
{
  uid_t uid = getuid();
  gid_t gid = getgid();
  int extra = 0;
  bool root = false;
  /* The host's /etc (the host-etc op's source; the validator requires one
   * when there are etc-links). */
  const char *host_etc = NULL;
  for (size_t i = 0; i < plan->n; i++) {
    if (plan->ops[i].op == FHS_OP_NETNS) extra = CLONE_NEWNET;
    if (plan->ops[i].op == FHS_OP_USERNS_ROOT) root = true;
    if (plan->ops[i].op == FHS_OP_HOST_ETC) host_etc = plan->ops[i].args[0];
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
  bool etc_links = false; /* whether an etc-link was made */
  int etc_links_fd = -1, host_etc_fd = -1; /* opened at the first etc-link */
  for (size_t i = 0; i < plan->n; i++) {
    const plan_op_t *op = &plan->ops[i];
    const char *const *a = op->args;
    if (fhs_op_specs[op->op].target) {
      snprintf(target, sizeof target, "/newroot%s", a[0]);
      if (op->op != FHS_OP_SYMLINK) xmkdir(target);
    }
    switch (op->op) {
    case FHS_OP_ETC_LINK:
      if (!host_etc) die(FHS_EXIT_SETUP, "etc-link %s: no host-etc", a[0]);
      /* The links dir and the host's /etc, opened at the first etc-link and
       * kept for the others (the loop mounts only under /newroot). */
      if (etc_links_fd < 0) {
        if (mkdir(ETC_LINKS, 0755) < 0 && errno != EEXIST) die_errno(FHS_EXIT_SETUP, "create %s", ETC_LINKS);
        etc_links_fd = open(ETC_LINKS, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        host_etc_fd = open(rel(host_etc), O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (etc_links_fd < 0 || host_etc_fd < 0) die_errno(FHS_EXIT_SETUP, "etc-link %s: open the links dir or the host's %s", a[0], host_etc);
      }
      if (make_etc_link(host_etc_fd, host_etc, etc_links_fd, FHS_HOST_ETC_IN_VIEW, a[0])) etc_links = true;
      break;
    case FHS_OP_HOST_ETC: {
      /* Kept for nested launches, read-only at every level; the marker says so. */
      xmkdir("/newroot" FHS_MARKER_DIR);
      xmkdir("/newroot" FHS_HOST_ETC_IN_VIEW);
      dirref_t src;
      open_layer_ref(a[0], &src);
      if (bind_mount_ro_tree(&src, "/newroot" FHS_HOST_ETC_IN_VIEW) < 0)
        die_errno(FHS_EXIT_SETUP, "bind the host's %s read-only at %s", a[0], FHS_HOST_ETC_IN_VIEW);
      close(src.fd);
      recbuf_record(&marker, FHS_REC_HOST_ETC, FHS_HOST_ETC_IN_VIEW, NULL);
      break;
    }
    case FHS_OP_VIEW_ID:
    case FHS_OP_VIEW:
      recbuf_field(&marker, plan_op_name(op->op));
      for (size_t f = 0; f < op->nargs; f++) recbuf_field(&marker, a[f]);
      recbuf_end(&marker);
      break;
    case FHS_OP_SETENV:
    case FHS_OP_NETNS:
    case FHS_OP_CHDIR:
    case FHS_OP_CLEARENV:
    case FHS_OP_USERNS_ROOT:
    case FHS_OP_COUNT:
      break; /* the process's, not the view's: launch.c and build.c */
    case FHS_OP_HIDE:
      break; /* validated: only in an in-place view */
    case FHS_OP_VAR_LIB: {
      /* Over the host's /var/lib, inside the bound host /var (validated: bound
       * before this op). The mount point must be the host's own directory:
       * nothing is created in a host filesystem. */
      struct stat st;
      if (lstat("/newroot/var/lib", &st) < 0 || !S_ISDIR(st.st_mode))
        die(FHS_EXIT_SETUP, "/var/lib: the host has no /var/lib directory to show the install-time state over");
      size_t n = op->nargs + 1;
      dirref_t *lowers = xmalloc(n * sizeof *lowers);
      for (size_t f = 0; f < op->nargs; f++) open_layer_ref(a[f], &lowers[f]);
      open_layer_ref("/var/lib", &lowers[n - 1]);
      if (mount_overlay_ro("/newroot/var/lib", lowers, n, false) < 0) die_errno(FHS_EXIT_SETUP, "overlay /var/lib of %zu state layers over the host's", n - 1);
      close_refs(lowers, n);
      break;
    }
    case FHS_OP_BIND_FILE:
    case FHS_OP_LDCACHE_UNION: {
      /* After /etc is in place: over the host's cache, in this namespace only. */
      snprintf(target, sizeof target, "/newroot%s", a[0]);
      const char *src = op->op == FHS_OP_LDCACHE_UNION && union_ldcache && union_ldcache[0] ? union_ldcache : a[1];
      if (bind_mount(rel(src), target, false, true) < 0) die_errno(FHS_EXIT_SETUP, "bind the view's ld.so.cache %s", src);
      break;
    }
    case FHS_OP_SYMLINK:
      if (symlink(a[1], target) < 0) die_errno(FHS_EXIT_SETUP, "symlink %s", a[0]);
      break;
    case FHS_OP_OVERLAY: {
      /* The /etc links, if any, go on top of the /etc overlay (the validator
       * let them through only before the one over the host's /etc). The
       * links dir is the launcher's own, in its scratch root. */
      bool usr = !strcmp(a[0], "/usr");
      /* /usr: the in-place proof is a regular file /usr/.fhs/view on the
       * read-only /usr overlay, so no layer's usr/.fhs may show here: a
       * layer holding usr/.fhs/view would forge it for the launches nested
       * in this view. On top of the layers, a file named .fhs ends every
       * lookup below it; with no room for one more lower, the view is
       * refused if a layer holds it. */
      bool usr_top = usr && op->nargs - 1 < FHS_MAX_LAYERS;
      size_t top = (!strcmp(a[0], "/etc") && etc_links) || usr_top ? 1 : 0;
      size_t n = op->nargs - 1 + top;
      dirref_t *lowers = xmalloc(n * sizeof *lowers);
      if (usr_top) {
        xmkdir(USR_TOP);
        int fd = open(USR_TOP "/" FHS_META_DIR, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
        if (fd < 0 || close(fd) < 0) die_errno(FHS_EXIT_SETUP, "create %s/%s", USR_TOP, FHS_META_DIR);
      }
      if (top) lowers[0] = (dirref_t){.fd = open(usr_top ? USR_TOP : ETC_LINKS, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
      if (top && lowers[0].fd < 0)
        die_errno(FHS_EXIT_SETUP, "open %s", usr_top ? USR_TOP : ETC_LINKS);
      /* /usr's layers by name beneath their parent's clone where they share
       * one, as in place (resolve.c; from the caller's root, the cwd); not
       * with FHS_MOUNT_API=legacy, which takes an old kernel's way. */
      bool named = usr && !legacy_mount_api();
      for (size_t f = top; f < n; f++) {
        if (!named) {
          open_layer_ref(a[1 + f - top], &lowers[f]);
          continue;
        }
        const char *why = NULL;
        if (layer_ref_shared(AT_FDCWD, a[1 + f - top], &lowers[f], &why) < 0) die(FHS_EXIT_SETUP, "layer %s: %s", a[1 + f - top], why);
      }
      /* Parking is for speed only: without its directory the clones stay
       * detached, as open_layer_shared_done(NULL) leaves them. */
      if (named) open_layer_shared_done(mkdir(PARKED, 0755) == 0 || errno == EEXIST ? PARKED : NULL);
      int r = mount_overlay_ro(target, lowers, n, false);
      if (r < 0 && by_name(lowers + top, n - top)) {
        reopen_by_fd(AT_FDCWD, lowers + top, a + 1, n - top);
        r = mount_overlay_ro(target, lowers, n, false);
      }
      if (r < 0) overlay_failed(false, a[0], n - usr_top);
      close_refs(lowers, n);
      struct stat st;
      if (usr && !usr_top && fstatat(AT_FDCWD, "/newroot/usr/" FHS_META_DIR, &st, AT_SYMLINK_NOFOLLOW) == 0)
        die(FHS_EXIT_SETUP, "/usr: one of the view's %zu layers holds usr/%s, which only the launcher makes (an in-place view's marker)",
            op->nargs - 1, FHS_META_DIR);
      break;
    }
    case FHS_OP_BIND_RO: {
      dirref_t src;
      open_layer_ref(a[1], &src);
      if (bind_mount_ro_tree(&src, target) < 0) die_errno(FHS_EXIT_SETUP, "bind %s read-only at %s", a[1], a[0]);
      close(src.fd);
      break;
    }
    case FHS_OP_RBIND:
      if (bind_mount(rel(a[1]), target, true, false) < 0) die_errno(FHS_EXIT_SETUP, "bind host %s", a[1]);
      break;
    case FHS_OP_OVERLAY_RW: {
      size_t n = op->nargs - 3;
      dirref_t *lowers = xmalloc(n * sizeof *lowers);
      for (size_t f = 0; f < n; f++) open_layer_ref(a[3 + f], &lowers[f]);
      dirref_t upper, work;
      open_staging_ref(a[1], &upper);
      open_staging_ref(a[2], &work);
      if (mount_overlay_rw(target, lowers, n, &upper, &work) < 0) overlay_failed(true, a[0], n);
      close_refs(lowers, n);
      close(upper.fd);
      close(work.fd);
      break;
    }
    case FHS_OP_BIND_RW:
      if (bind_mount(rel(a[1]), target, true, false) < 0) die_errno(FHS_EXIT_SETUP, "bind %s at %s", a[1], a[0]);
      break;
    case FHS_OP_TMPFS:
      if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0) die_errno(FHS_EXIT_SETUP, "mount tmpfs at %s", a[0]);
      break;
    case FHS_OP_DEV:
      make_dev(); /* validated: the target is /dev */
      break;
    }
  }
  if (etc_links_fd >= 0) close(etc_links_fd);
  if (host_etc_fd >= 0) close(host_etc_fd);

  /* The marker: what a nested launch reads to compose on top of this view. */
  xmkdir("/newroot" FHS_MARKER_DIR);
  int mfd = open("/newroot" FHS_MARKER, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
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

/* ------------------------------------------------------------- in place */

/* The marker layer (one directory tree per distinct view): usr/ is the top
 * lower of the /usr overlay and holds .fhs/view and the empty
 * .fhs/host-etc the kept host /etc is bound on; etc/ holds the /etc links,
 * the top lower of the /etc overlay; empty/ is bound over hidden dirs. Its
 * content is a pure function of the marker's records and the links' values,
 * so it is made once, in the cache (cache.c), named by a hash of that
 * content (kept beside usr/ as `key` and compared before use), and reused
 * by every launch of the same view; without a usable cache, on a tmpfs of
 * its own, beneath the /usr overlay (docs/ARCHITECTURE.md, "The marker layer"). */
#define INPLACE_USR "usr" /* &FHS_MARKER_DIR_IN_PLACE[1] is in it */
#define INPLACE_ETC "etc"
#define INPLACE_EMPTY "empty" /* what a hidden host directory shows, without the cache's */
/* The cache's one empty directory, beside its entries (shared_empty). */
#define SHARED_EMPTY "empty"
/* In the key: a change of the layout above is a new name, never an old
 * entry read as the new layout. */
#define MARKER_LAYER_FORMAT "fhs-marker-layer-3"
/* The entry's key, beside usr/, etc/, empty/: never mounted, never seen in a view. */
#define INPLACE_KEY "key"
/* The view's ld.so.cache as a file of the layer's etc/ (the top lower of
 * /etc), not a bind mount of its own: one mount less per launch and per
 * nesting level. Past the cap (no real cache comes near it), a bind. */
#define LDCACHE_NAME "ld.so.cache"
#define LDCACHE_CAP (8u << 20) /* the tmpfs fallback holds 16 MiB (mounts.c) */

/* One /etc link: NAME in etc/ is a symlink to VALUE. */
typedef struct {
  const char *name;
  char *value;
} etc_link_t;

typedef struct {
  const recbuf_t *marker; /* usr/.fhs/view's bytes */
  bool host_etc;          /* usr/.fhs/host-etc exists */
  const etc_link_t *links;
  size_t nlinks;
  int ldcache;                  /* the view's ld.so.cache, copied to etc/ld.so.cache; -1: none */
  const struct stat *ldcache_st; /* its identity, in the layer's name */
  int fd;       /* the layer's root (O_PATH), once made or found; -1 before */
  int usr, etc; /* its usr/ and etc/ (O_PATH), the overlays' top lowers; -1 once handed over */
  bool cached;  /* fd is a cache entry, not a tmpfs of this launch */
  bool hides;   /* the plan hides a directory: the cache's empty one is opened */
  int empty;    /* the cache's one empty directory (O_PATH), what hides show; -1: the layer's own empty/.
                 * Kept when the layer falls back to a tmpfs: it is a bind source, not a lower. */
  struct stat empty_st;
} marker_layer_t;

/* Opens the layer's usr/ and etc/, never through a symlink: -1 (nothing
 * left open) when either is not a directory. */
static int layer_open_dirs(marker_layer_t *l)
{
  l->usr = openat(l->fd, INPLACE_USR, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  l->etc = l->usr < 0 ? -1 : openat(l->fd, INPLACE_ETC, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (l->etc >= 0) return 0;
  int err = errno;
  if (l->usr >= 0) close(l->usr);
  l->usr = -1;
  errno = err;
  return -1;
}

/* usr/.fhs is only ever the marker layer's: marked opaque (the /usr
 * overlay is mounted with userxattr), a lookup under /usr/.fhs stops at this
 * top lower instead of asking every layer below for the name, once per view
 * and name (with 300 layers, ~0.3 ms of the launch's own bind of the kept
 * /etc); no layer's usr/.fhs can show through either. Without user xattrs
 * on the cache's filesystem it stays a plain directory: the same view,
 * looked up the slow way. Before the dir is made read-only: setting a user
 * xattr needs write permission. */
static void mark_opaque(int dir, const char *rel)
{
  int fd = openat(dir, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;
  (void)fsetxattr(fd, "user.overlay.opaque", "y", 1, 0);
  close(fd);
}

/* Fills the empty directory `dir` with the layer; every dir ends up 0555,
 * the marker 0444. -1 with errno on failure, `what` naming the step. */
static int fill_marker_layer(int dir, const marker_layer_t *l, const char **what)
{
  static const char *const dirs[] = {INPLACE_USR, &FHS_MARKER_DIR_IN_PLACE[1], INPLACE_ETC, INPLACE_EMPTY, &FHS_HOST_ETC_IN_PLACE[1]};
  size_t ndirs = sizeof dirs / sizeof dirs[0] - !l->host_etc; /* host-etc last */
  *what = "create the view marker's directories";
  for (size_t i = 0; i < ndirs; i++)
    if (mkdirat(dir, dirs[i], 0755) < 0) return -1;
  mark_opaque(dir, &FHS_MARKER_DIR_IN_PLACE[1]);
  cleanup_fd int links = openat(dir, INPLACE_ETC, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (links < 0) return -1;
  *what = "create the /etc links";
  /* The links' own parent dirs read-only too (rare: the machine's files are top-level names). */
  for (size_t i = 0; i < l->nlinks; i++)
    if (put_link(links, l->links[i].name, l->links[i].value, 0555) < 0) return -1;
  if (l->ldcache >= 0) {
    *what = "copy the view's ld.so.cache";
    size_t len = 0;
    if (lseek(l->ldcache, 0, SEEK_SET) < 0) return -1;
    uint8_t *bytes = read_fd(l->ldcache, LDCACHE_CAP, &len);
    if (!bytes) return -1;
    int cfd = openat(dir, INPLACE_ETC "/" LDCACHE_NAME, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
    int r = cfd < 0 || write_all(cfd, bytes, len) < 0 || fchmod(cfd, 0444) < 0 ? -1 : 0;
    free(bytes);
    if (cfd >= 0 && close(cfd) < 0) r = -1;
    if (r < 0) return -1;
  }
  *what = "write the view marker";
  int mfd = openat(dir, &FHS_MARKER_IN_PLACE[1], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
  if (mfd < 0) return -1;
  /* 0444 whatever the umask: the marker is read through the overlay. */
  if (write_all(mfd, l->marker->buf, l->marker->len) < 0 || fchmod(mfd, 0444) < 0) return close(mfd), -1;
  if (close(mfd) < 0) return -1;
  /* Read-only dirs, deepest first: the same modes in a cache entry and on a
   * tmpfs, so the view's /usr is the same either way. */
  *what = "make the view marker's directories read-only";
  for (size_t i = ndirs; i-- > 0;)
    if (fchmodat(dir, dirs[i], 0555, 0) < 0) return -1;
  return 0;
}

/* The layer on a tmpfs of this launch's own, written through its fd while
 * attached nowhere, made read-only, then attached at /usr, where the /usr
 * overlay covers it: no path of the view reaches it. The kernel tears it
 * down with the namespace. */
static void layer_on_tmpfs(marker_layer_t *l)
{
  l->cached = false;
  l->fd = detached_tmpfs();
  if (l->fd < 0) die_errno(FHS_EXIT_SETUP, "create the view marker's tmpfs (an in-place view needs Linux >= 5.2)");
  const char *what = NULL;
  if (fill_marker_layer(l->fd, l, &what) < 0) die_errno(FHS_EXIT_SETUP, "%s", what);
  if (set_readonly(l->fd, false) < 0) die_errno(FHS_EXIT_SETUP, "make the view marker read-only");
  if (layer_open_dirs(l) < 0) die_errno(FHS_EXIT_SETUP, "open the view marker's directories");
  /* Attached at /usr, which the /usr overlay covers next, for the reason
   * open_layer_shared_done gives (resolve.c): left detached, the exec's
   * close would unmount it alone, waiting for an RCU grace period. The
   * overlays use it through the fds just opened. Not attached: as before. */
  (void)attach_mount(l->fd, "/usr");
}

/* The layer's key in the cache: everything that defines its content, each
 * part a record (so no two contents run together alike); `name` receives
 * the entry's name, a hash of it (cache_key_name). */
static void layer_key(const marker_layer_t *l, recbuf_t *key, char name[CACHE_NAME_MAX])
{
  recbuf_record(key, MARKER_LAYER_FORMAT, l->host_etc ? "host-etc" : "no-host-etc", NULL);
  char len[32];
  snprintf(len, sizeof len, "%zu", l->marker->len);
  recbuf_field(key, "marker");
  recbuf_field(key, len);
  recbuf_bytes(key, l->marker->buf, l->marker->len);
  recbuf_end(key);
  for (size_t i = 0; i < l->nlinks; i++) recbuf_record(key, "link", l->links[i].name, l->links[i].value, NULL);
  if (l->ldcache >= 0) {
    /* By identity, not bytes (up to a few hundred KB to compare per launch):
     * any change to the file is a new ctime, which no user can set back, and
     * a replaced file is another inode. */
    const struct stat *st = l->ldcache_st;
    char id[160];
    snprintf(id, sizeof id, "%llu %llu %lld %lld.%09ld %lld.%09ld", (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
             (long long)st->st_size, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec,
             st->st_ctim.tv_nsec);
    recbuf_record(key, "ldcache", id, NULL);
  }
  cache_key_name("view-", cache_key_mix(0, key->buf, key->len), name);
}

static void recbuf_freep(recbuf_t *b) { free(b->buf); }

/* Whether the entry's `key` file holds exactly `key`: the entry is this
 * content's, not another's under the same name. */
static bool layer_key_matches(int entry, const recbuf_t *key)
{
  cleanup_fd int fd = openat(entry, INPLACE_KEY, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  /* Compared a page at a time as it is read: the key holds the marker's
   * records, a record per layer, and a copy of it whole was five pages more
   * to fault in with 300 layers. */
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != key->len) return false;
  uint8_t chunk[4096];
  for (size_t at = 0; at < key->len;) {
    size_t want = key->len - at < sizeof chunk ? key->len - at : sizeof chunk;
    ssize_t r = read(fd, chunk, want);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0 || memcmp(chunk, key->buf + at, (size_t)r)) return false;
    at += (size_t)r;
  }
  return read(fd, chunk, 1) == 0;
}

/* Writes the key into the entry being made; -1 with errno on failure. */
static int layer_key_write(int dir, const recbuf_t *key)
{
  int fd = openat(dir, INPLACE_KEY, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
  if (fd < 0) return -1;
  int r = write_all(fd, key->buf, key->len);
  if (close(fd) < 0) r = -1;
  return r;
}

/* 1: a's ctime is after b's; 0: the same; -1: before. */
static int ctime_cmp(const struct stat *a, const struct stat *b)
{
  if (a->st_ctim.tv_sec != b->st_ctim.tv_sec) return a->st_ctim.tv_sec > b->st_ctim.tv_sec ? 1 : -1;
  return a->st_ctim.tv_nsec == b->st_ctim.tv_nsec ? 0 : a->st_ctim.tv_nsec > b->st_ctim.tv_nsec ? 1 : -1;
}

/* Every name the entry was made with is there, as what it was made: the
 * marker, each /etc link, the ld.so.cache copy, host-etc/. */
static bool layer_names_present(const marker_layer_t *l)
{
  struct stat st;
  if (fstatat(l->fd, &FHS_MARKER_IN_PLACE[1], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) return false;
  if (l->host_etc && (fstatat(l->fd, &FHS_HOST_ETC_IN_PLACE[1], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))) return false;
  for (size_t i = 0; i < l->nlinks; i++)
    if (fstatat(l->etc, l->links[i].name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(st.st_mode)) return false;
  return l->ldcache < 0 || (fstatat(l->etc, LDCACHE_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode));
}

/* Whether a finished entry still holds everything it was made with. Its
 * directories were made read-only before the entry was renamed into place,
 * and a rename sets the renamed directory's ctime: so none of usr/,
 * usr/.fhs, etc/ changed after the rename if its ctime is before the
 * entry's own. Later, something (root's cleaner of old files in /tmp, which
 * DAC does not stop) removed a name in it. The same ctime proves neither:
 * a filesystem's clock can be as coarse as a scheduler tick (ramfs; ext4
 * and tmpfs before Linux 6.13), so a removal right after the rename can
 * carry the rename's own time, and an entry made within one tick (most
 * are) has every ctime the same. Then every name is looked up, and the
 * entry re-stamped (below) so that later launches need not. empty/
 * must still be a directory (hide clones it). Five stat calls, a few more
 * when the times tie. */
static bool layer_intact(const marker_layer_t *l)
{
  struct stat root, st;
  bool tie = false;
  if (fstat(l->fd, &root) < 0) return false;
  int c;
  if (fstat(l->usr, &st) < 0 || (c = ctime_cmp(&st, &root)) > 0) return false;
  tie |= c == 0;
  if (fstat(l->etc, &st) < 0 || (c = ctime_cmp(&st, &root)) > 0) return false;
  tie |= c == 0;
  if (fstatat(l->usr, &FHS_MARKER_DIR_IN_PLACE[sizeof INPLACE_USR + 1], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
      (c = ctime_cmp(&st, &root)) > 0)
    return false;
  tie |= c == 0;
  if (fstatat(l->fd, INPLACE_EMPTY, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) return false;
  if (!tie) return true;
  if (!layer_names_present(l)) return false;
  /* Re-stamped: a chmod of the entry to its own mode moves its ctime to
   * now, past its children's (with a coarse clock, from the next tick on:
   * until then the next launch looks again). Through /proc, as the entry's
   * fd is O_PATH. Then every name is looked up once more: one removed
   * between the first look and the chmod would carry a ctime before the new
   * one, and the times would never show it. No /proc, or a failed chmod:
   * the entry is whole, and its next launch looks again. */
  char proc[48];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", l->fd);
  return chmod(proc, root.st_mode & 07777) < 0 || layer_names_present(l);
}

/* The cache's one empty directory, `empty` beside the entries: every
 * in-place view of this user hides a directory under a read-only copy of
 * it, so a nested level can tell the hide of the level above (a mount of
 * this very directory) from anything else at that place, and need not
 * mount its own over it. Made 0555, once; used only while it is the
 * caller's, a directory, 0555. -1 when not: hides then show the marker
 * layer's own empty/, and every level hides again. */
static int shared_empty(int cdir, struct stat *st)
{
  int fd = openat(cdir, SHARED_EMPTY, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && (mkdirat(cdir, SHARED_EMPTY, 0555) == 0 || errno == EEXIST))
    fd = openat(cdir, SHARED_EMPTY, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  if (fstat(fd, st) < 0 || !S_ISDIR(st->st_mode) || st->st_uid != getuid() || (st->st_mode & 07777) != 0555) {
    close(fd);
    return -1;
  }
  return fd;
}

/* The layer from the cache, made there first if it is not yet: l->fd stays
 * -1 when the cache is off or unusable, when the entry cannot be made, or
 * when the name holds something else than a finished entry of ours (then
 * neither used nor replaced: the launch makes a tmpfs layer). */
static void layer_from_cache(marker_layer_t *l)
{
  l->fd = l->usr = l->etc = l->empty = -1;
  l->cached = false;
  char dirpath[PATH_MAX];
  cleanup_fd int cdir = cache_dir_open(dirpath);
  if (cdir < 0) return;
  char name[CACHE_NAME_MAX];
  __attribute__((cleanup(recbuf_freep))) recbuf_t key = {0};
  layer_key(l, &key, name);
  l->fd = cache_entry_open(cdir, name);
  if (l->fd < 0 && errno == ENOENT) {
    char tmp[64];
    int t = cache_entry_begin(cdir, dirpath, tmp);
    if (t < 0) return;
    const char *what = NULL;
    if (fill_marker_layer(t, l, &what) < 0 || layer_key_write(t, &key) < 0) {
      cache_entry_discard(cdir, tmp, t);
      return;
    }
    if (cache_entry_publish(cdir, tmp, t, name) < 0) return;
    l->fd = cache_entry_open(cdir, name);
  }
  /* An entry of another key under the same name, one whose usr/ or etc/ is
   * not a directory (not one the launcher made: its owner changed it), or
   * one something removed files from: not used either. */
  if (l->fd >= 0 && (!layer_key_matches(l->fd, &key) || layer_open_dirs(l) < 0 || !layer_intact(l))) {
    if (l->usr >= 0) close(l->usr);
    if (l->etc >= 0) close(l->etc);
    l->usr = l->etc = -1;
    close(l->fd);
    l->fd = -1;
  }
  l->cached = l->fd >= 0;
  if (l->cached && l->hides) l->empty = shared_empty(cdir, &l->empty_st);
}

/* What one in-place op mounts, opened before anything is mounted. */
typedef struct {
  dirref_t *lowers; /* overlay, var-lib: the lowers; bind-ro: one */
  size_t n;
  int tree; /* bind-ro, bind-file, ldcache-union: the detached read-only copy */
} inplace_src_t;

static int open_layer_at(int root, const char *path)
{
  const char *why = NULL;
  int fd = open_layer_shared(root, path, &why);
  if (fd < 0) die(FHS_EXIT_SETUP, "layer %s: %s", path, why);
  return fd;
}

/* Whether `target` already shows the cache's empty directory, read-only, as
 * the root of a mount: hidden by the in-place view this launch runs in (a
 * nested namespace cannot unmount it, and a mount of anything else there,
 * a caller's own included, is another inode or not read-only). Hiding it
 * again would add a mount to this level and to every level below it. */
static bool hidden_already(const marker_layer_t *l, const char *target)
{
  if (l->empty < 0) return false;
  struct statx sx;
  struct statfs sf;
  return syscall(SYS_statx, AT_FDCWD, target, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_INO, &sx) == 0 &&
         (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) &&
         S_ISDIR(sx.stx_mode) && makedev(sx.stx_dev_major, sx.stx_dev_minor) == l->empty_st.st_dev &&
         sx.stx_ino == l->empty_st.st_ino && statfs(target, &sf) == 0 && (sf.f_flags & ST_RDONLY);
}

/* The hidden name must still be the host's directory, not a link the view
 * would follow out of the hidden place. Hidden under a read-only copy of an
 * empty directory (the cache's, else the marker layer's): a clone of a
 * mount, no new tmpfs per name. */
static void hide_dir(const marker_layer_t *l, const char *target)
{
  if (hidden_already(l, target)) return;
  struct stat st;
  if (lstat(target, &st) < 0 || !S_ISDIR(st.st_mode)) die(FHS_EXIT_SETUP, "hide %s: not a directory of the host's root", target);
  cleanup_fd int mnt = l->empty >= 0 ? clone_readonly(l->empty, "", false) : clone_readonly(l->fd, INPLACE_EMPTY, false);
  if (mnt < 0 || attach_mount(mnt, target) < 0) die_errno(FHS_EXIT_SETUP, "hide %s", target);
}

void build_view_inplace(const plan_t *plan, const char *union_ldcache)
{
  if (enter_user_mount_ns(getuid(), getgid(), false, 0) < 0) user_ns_failed();

  /* Every source is opened before anything is mounted: nested, the current
   * view's layers and its kept /etc (under /usr/.fhs) are reached through
   * the paths the new mounts cover. Layers are opened from the root as the
   * manifest names them, following no symlink (resolve.c). */
  cleanup_fd int root = openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) die_errno(FHS_EXIT_SETUP, "open the root directory");
  inplace_src_t *src = xmalloc((plan->n ? plan->n : 1) * sizeof *src);
  int host_etc = -1, host_etc_tree = -1;
  const char *host_etc_path = NULL;
  bool etc_overlay = false;
  for (size_t i = 0; i < plan->n; i++)
    if (plan->ops[i].op == FHS_OP_OVERLAY && !strcmp(plan->ops[i].args[0], "/etc")) etc_overlay = true;
  int ldcache = -1;
  struct stat ldcache_st;
  for (size_t i = 0; i < plan->n; i++) {
    const plan_op_t *op = &plan->ops[i];
    const char *const *a = op->args;
    src[i] = (inplace_src_t){.lowers = NULL, .n = 0, .tree = -1};
    switch (op->op) {
    case FHS_OP_OVERLAY:
    case FHS_OP_VAR_LIB: {
      /* Overlay lowers after its target; var-lib's are all sources, then the host's /var/lib. */
      size_t first = op->op == FHS_OP_OVERLAY ? 1 : 0;
      size_t n = op->nargs - first + (op->op == FHS_OP_VAR_LIB);
      src[i].lowers = xmalloc(n * sizeof *src[i].lowers);
      src[i].n = n;
      /* /usr's layers (the many) by name beneath their parent's clone,
       * where they share one (resolve.c); the rest by fd, and every one
       * with FHS_MOUNT_API=legacy. */
      bool named = op->op == FHS_OP_OVERLAY && !strcmp(a[0], "/usr") && !legacy_mount_api();
      for (size_t f = first; f < op->nargs; f++) {
        dirref_t *d = &src[i].lowers[f - first];
        if (!named) {
          *d = (dirref_t){.fd = open_layer_at(root, a[f])};
          continue;
        }
        const char *why = NULL;
        if (layer_ref_shared(root, a[f], d, &why) < 0) die(FHS_EXIT_SETUP, "layer %s: %s", a[f], why);
      }
      if (op->op == FHS_OP_VAR_LIB) src[i].lowers[n - 1] = (dirref_t){.fd = open_layer_at(root, "/var/lib")};
      break;
    }
    case FHS_OP_BIND_RO: {
      /* /etc or /opt of one layer (validated: /usr is always an overlay). */
      cleanup_fd int fd = open_layer_at(root, a[1]);
      if ((src[i].tree = clone_readonly(fd, "", true)) < 0) die_errno(FHS_EXIT_SETUP, "bind %s read-only at %s", a[1], a[0]);
      break;
    }
    case FHS_OP_HOST_ETC:
      /* The host's /etc (or the copy the current view kept), read-only all
       * the way down, bound at /usr/.fhs/host-etc once /usr is in place. */
      host_etc = open_layer_at(root, a[0]);
      host_etc_path = a[0];
      if ((host_etc_tree = clone_readonly(host_etc, "", true)) < 0) die_errno(FHS_EXIT_SETUP, "keep the host's %s read-only", a[0]);
      break;
    case FHS_OP_BIND_FILE:
    case FHS_OP_LDCACHE_UNION: {
      const char *file = op->op == FHS_OP_LDCACHE_UNION && union_ldcache && union_ldcache[0] ? union_ldcache : a[1];
      /* Into the marker layer when /etc is an overlay it tops (validated:
       * the target is /etc/ld.so.cache): the file itself, never a link. */
      if (etc_overlay && ldcache < 0) {
        ldcache = openat(AT_FDCWD, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (ldcache >= 0 && fstat(ldcache, &ldcache_st) == 0 && S_ISREG(ldcache_st.st_mode) && ldcache_st.st_size <= LDCACHE_CAP) break;
        if (ldcache >= 0) close(ldcache);
        ldcache = -1;
      }
      if ((src[i].tree = clone_readonly(AT_FDCWD, file, false)) < 0) die_errno(FHS_EXIT_SETUP, "bind the view's ld.so.cache %s", file);
      break;
    }
    default:
      break;
    }
  }

  /* The marker layer's content: the marker's records and the /etc links'
   * values, all decided now (a host symlink's target is read now, so a
   * changed /etc/localtime is a changed layer). */
  recbuf_t marker = {0};
  etc_link_t *links = xmalloc((plan->n ? plan->n : 1) * sizeof *links);
  size_t nlinks = 0;
  for (size_t i = 0; i < plan->n; i++) {
    const plan_op_t *op = &plan->ops[i];
    if (op->op == FHS_OP_VIEW_ID || op->op == FHS_OP_VIEW) {
      recbuf_field(&marker, plan_op_name(op->op));
      for (size_t f = 0; f < op->nargs; f++) recbuf_field(&marker, op->args[f]);
      recbuf_end(&marker);
    } else if (op->op == FHS_OP_HOST_ETC) {
      recbuf_record(&marker, FHS_REC_HOST_ETC, FHS_HOST_ETC_IN_PLACE, NULL);
    } else if (op->op == FHS_OP_ETC_LINK) {
      if (host_etc < 0) die(FHS_EXIT_SETUP, "etc-link %s: no host-etc", op->args[0]);
      links[nlinks].name = op->args[0];
      if (etc_link_value(host_etc, host_etc_path, FHS_HOST_ETC_IN_PLACE, op->args[0], &links[nlinks].value)) nlinks++;
    }
  }
  if (host_etc >= 0) close(host_etc);
  /* At /usr, which the /usr overlay covers next (it is the first mount). */
  open_layer_shared_done("/usr");
  bool hides = false;
  for (size_t i = 0; i < plan->n; i++) hides |= plan->ops[i].op == FHS_OP_HIDE;
  marker_layer_t layer = {.marker = &marker, .host_etc = host_etc_tree >= 0, .links = links, .nlinks = nlinks,
                          .ldcache = ldcache, .ldcache_st = &ldcache_st, .hides = hides, .empty = -1};
  layer_from_cache(&layer);
  if (layer.fd < 0) layer_on_tmpfs(&layer);
  bool etc_top = nlinks > 0 || ldcache >= 0;

  /* Then the mounts, in plan order (validated: /usr first, so the kept /etc
   * and the /etc overlay can rely on it). */
  for (size_t i = 0; i < plan->n; i++) {
    const plan_op_t *op = &plan->ops[i];
    const char *const *a = op->args;
    switch (op->op) {
    case FHS_OP_BIND_RO:
      if (attach_mount(src[i].tree, a[0]) < 0) die_errno(FHS_EXIT_SETUP, "bind %s read-only at %s", a[1], a[0]);
      close(src[i].tree);
      break;
    case FHS_OP_OVERLAY: {
      /* The marker's usr/ on top of /usr; the /etc links, if any, on top of /etc. */
      bool usr = !strcmp(a[0], "/usr");
      bool top = usr || (!strcmp(a[0], "/etc") && etc_top);
      size_t n = src[i].n + top;
      dirref_t *lowers = xmalloc(n * sizeof *lowers);
      if (top) {
        /* Handed over: close_refs closes it with the lowers. */
        int *dir = usr ? &layer.usr : &layer.etc;
        lowers[0] = (dirref_t){.fd = *dir};
        *dir = -1;
      }
      memcpy(lowers + top, src[i].lowers, src[i].n * sizeof *lowers);
      /* Counted as the plan names them: the marker is the launcher's own. */
      int r = mount_overlay_ro(a[0], lowers, n, usr);
      if (r < 0 && usr && by_name(lowers + top, src[i].n)) {
        /* A layer the kernel refused by name (a symlink in it, gone): each
         * named one is opened from the root as before, which says what is
         * wrong with it, and the mount tried again with fds. */
        reopen_by_fd(root, lowers + top, a + 1, src[i].n);
        r = mount_overlay_ro(a[0], lowers, n, usr);
      }
      if (r < 0 && usr && layer.cached) {
        /* The cache's filesystem may be one OverlayFS refuses as a lower
         * (or stacks too deep): the /usr overlay is the first mount and
         * the layer's first use, so a tmpfs layer can still take over; if
         * that fails too, its error is the one reported. */
        close(lowers[0].fd);
        close(layer.etc);
        close(layer.fd);
        layer_on_tmpfs(&layer);
        lowers[0] = (dirref_t){.fd = layer.usr};
        layer.usr = -1;
        r = mount_overlay_ro(a[0], lowers, n, usr);
      }
      if (r < 0) overlay_failed(false, a[0], src[i].n);
      /* /usr's lowers (every layer) are left to the exec to close (O_CLOEXEC):
       * the mount holds its own references, and a close per layer was a
       * system call per layer (0.3 ms of a 300-layer launch). */
      if (usr) free(lowers);
      else close_refs(lowers, n);
      free(src[i].lowers);
      if (usr && host_etc_tree >= 0 && attach_mount(host_etc_tree, FHS_HOST_ETC_IN_PLACE) < 0)
        die_errno(FHS_EXIT_SETUP, "bind the host's /etc read-only at %s", FHS_HOST_ETC_IN_PLACE);
      break;
    }
    case FHS_OP_VAR_LIB: {
      /* The host's own /var/lib is the mount point: nothing is created on the host. */
      struct stat st;
      if (lstat("/var/lib", &st) < 0 || !S_ISDIR(st.st_mode))
        die(FHS_EXIT_SETUP, "/var/lib: the host has no /var/lib directory to show the install-time state over");
      if (mount_overlay_ro("/var/lib", src[i].lowers, src[i].n, false) < 0)
        die_errno(FHS_EXIT_SETUP, "overlay /var/lib of %zu state layers over the host's", src[i].n - 1);
      close_refs(src[i].lowers, src[i].n);
      break;
    }
    case FHS_OP_BIND_FILE:
    case FHS_OP_LDCACHE_UNION:
      if (src[i].tree < 0) break; /* in the marker layer's etc/ */
      /* After /etc is in place: over the host's cache, in this namespace only. */
      if (attach_mount(src[i].tree, a[0]) < 0) die_errno(FHS_EXIT_SETUP, "bind the view's ld.so.cache at %s", a[0]);
      close(src[i].tree);
      break;
    case FHS_OP_HIDE:
      hide_dir(&layer, a[0]);
      break;
    default:
      break; /* etc-link, host-etc, view-id, view: above; setenv: launch.c */
    }
  }
  if (host_etc_tree >= 0) close(host_etc_tree);
  if (ldcache >= 0) close(ldcache);
  if (layer.etc >= 0) close(layer.etc);
  if (layer.empty >= 0) close(layer.empty);
  close(layer.fd);
  for (size_t i = 0; i < nlinks; i++) free(links[i].value);
  free(links);
  free(marker.buf);
  free(src);
}
