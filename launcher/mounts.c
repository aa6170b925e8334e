#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sched.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "abi.h"
#include "util.h"

#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000 /* linux/fcntl.h, which clashes with glibc's */
#endif

static int write_proc(const char *path, const char *text)
{
  cleanup_fd int fd = openat(AT_FDCWD, path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  return write_all(fd, text, strlen(text));
}

int enter_user_mount_ns(uid_t uid, gid_t gid, bool as_root, int extra_flags)
{
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS | extra_flags) < 0) return -1;
  char map[64];
  /* The caller's own ids inside, or 0 mapped to them (a state build's
   * maintainer scripts): one id either way, nothing gained outside. */
  snprintf(map, sizeof map, "%u %u 1\n", as_root ? 0 : uid, uid);
  if (write_proc("/proc/self/uid_map", map) < 0) return -1;
  /* An unprivileged process may write gid_map only after denying setgroups. */
  if (write_proc("/proc/self/setgroups", "deny") < 0 && errno != ENOENT) return -1;
  snprintf(map, sizeof map, "%u %u 1\n", as_root ? 0 : gid, gid);
  if (write_proc("/proc/self/gid_map", map) < 0) return -1;
  /* Private, not slave: the caller's later mounts must not appear inside a
   * running view either, so the view stays what the plan said. */
  return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

static int sys_fsopen(const char *fs, unsigned flags) { return (int)syscall(SYS_fsopen, fs, flags); }
static int sys_fsconfig(int fd, unsigned cmd, const char *key, const void *val, int aux)
{
  return (int)syscall(SYS_fsconfig, fd, cmd, key, val, aux);
}
static int sys_fsmount(int fd, unsigned flags, unsigned attrs) { return (int)syscall(SYS_fsmount, fd, flags, attrs); }
static int sys_move_mount(int from, const char *fp, int to, const char *tp, unsigned flags)
{
  return (int)syscall(SYS_move_mount, from, fp, to, tp, flags);
}

/* FSCONFIG_SET_FD for overlay's layers came in Linux 6.13; before it, the
 * same directory goes by its /proc/self/fd path (a magic link to exactly
 * the directory the fd holds). 1 = works, 0 = not, -1 = not yet tried. */
static int set_fd_works = -1;

/* For `fhs doctor` (probe.c): launches learn it from their first mount. */
bool have_lowerdir_plus(void)
{
  static int cached = -1;
  if (cached >= 0) return cached;
  /* FHS_MOUNT_API=legacy takes the fallback a kernel without lowerdir+ would,
   * so that path is tested on kernels that have it. */
  const char *api = getenv("FHS_MOUNT_API");
  if (api && !strcmp(api, "legacy")) {
    cached = 0;
    return false;
  }
  cleanup_fd int fd = sys_fsopen("overlay", FSOPEN_CLOEXEC);
  if (fd < 0) {
    cached = 0;
    return false;
  }
  /* A kernel without lowerdir+ rejects the key with EINVAL; with it, a missing
   * path gives ENOENT. */
  int r = sys_fsconfig(fd, FSCONFIG_SET_STRING, "lowerdir+", "/proc/self/fdinfo/-1", 0);
  cached = (r == 0 || errno != EINVAL);
  return cached;
}

/* Where the caller's procfs is, as the kernel resolves it from the cwd. */
static const char *proc_dir = "/proc";

void mounts_set_proc(const char *dir) { proc_dir = dir; }

const char *dirref_path(const dirref_t *d)
{
  static char path[64];
  snprintf(path, sizeof path, "%s/self/fd/%d", proc_dir, d->fd);
  return path;
}


/* The lowers named relative to a clone (dirref_t.rel) are resolved from the
 * working directory, the only base fsconfig's strings have: the process
 * changes into the clone for them, then back to `cwd_home` (where it was,
 * kept as an O_PATH fd). `cwd_in`: the clone it is in now, -1 when home. */
static int cwd_home = -1, cwd_in = -1;

static int cwd_enter(int at)
{
  if (cwd_in == at) return 0;
  /* A working directory this user may not search cannot be kept (EACCES):
   * the mount fails here, and the caller mounts those layers by fd. */
  if (cwd_home < 0 && (cwd_home = openat(AT_FDCWD, ".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) return -1;
  if (fchdir(at) < 0) return -1;
  cwd_in = at;
  return 0;
}

/* Never left inside a clone. Home is the directory the launch started in;
 * should it have become unsearchable since, "/": the launch enters its
 * working directory again by path once the view is made (launch.c), and
 * says so if it cannot. */
static void cwd_leave(void)
{
  if (cwd_in < 0) return;
  if (fchdir(cwd_home) < 0 && chdir("/") < 0) die_errno(FHS_EXIT_SETUP, "leave the layers' parent");
  cwd_in = -1;
}

/* A lower named relative to a clone, as an fd: for mount(2), which takes
 * /proc/self/fd paths. The same resolution: beneath the clone, no symlink. */
static int dirref_open(dirref_t *d)
{
  if (!d->rel) return 0;
  struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH};
  int fd = (int)syscall(SYS_openat2, d->at, d->rel, &how, sizeof how);
  if (fd < 0) return -1;
  d->fd = fd;
  d->rel = NULL;
  return 0;
}

static int fsconfig_dir(int fs, const char *key, dirref_t *d)
{
  if (d->rel) {
    if (cwd_enter(d->at) < 0) return -1;
    return sys_fsconfig(fs, FSCONFIG_SET_STRING, key, d->rel, 0);
  }
  if (set_fd_works != 0) {
    if (sys_fsconfig(fs, FSCONFIG_SET_FD, key, NULL, d->fd) == 0) {
      set_fd_works = 1;
      return 0;
    }
    if (errno != EINVAL || set_fd_works == 1) return -1;
    set_fd_works = 0;
  }
  return sys_fsconfig(fs, FSCONFIG_SET_STRING, key, dirref_path(d), 0);
}

/* Where overlay_newapi failed: the kernel's answer there tells which
 * fallback, if any, can work. */
enum { AT_FSOPEN, AT_FIRST_LOWER, AT_LATER };

static int overlay_newapi(const char *target, dirref_t *lowers, size_t n, dirref_t *upper, dirref_t *work, bool userxattr,
                          int *stage)
{
  *stage = AT_FSOPEN;
  cleanup_fd int fs = sys_fsopen("overlay", FSOPEN_CLOEXEC);
  if (fs < 0) return -1;
  for (size_t i = 0; i < n; i++) {
    *stage = i == 0 ? AT_FIRST_LOWER : AT_LATER;
    if (fsconfig_dir(fs, "lowerdir+", &lowers[i]) < 0) {
      int e = errno;
      cwd_leave();
      errno = e;
      return -1;
    }
  }
  /* Before any other path is resolved: a relative target is the caller's. */
  cwd_leave();
  *stage = AT_LATER;
  if (upper) {
    if (fsconfig_dir(fs, "upperdir", upper) < 0) return -1;
    if (fsconfig_dir(fs, "workdir", work) < 0) return -1;
  }
  /* In a user namespace, overlay keeps its metadata in user.* xattrs. */
  if (userxattr && sys_fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0) return -1;
  if (sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) return -1;
  cleanup_fd int mnt = sys_fsmount(fs, FSMOUNT_CLOEXEC, upper ? 0 : MOUNT_ATTR_RDONLY);
  if (mnt < 0) return -1;
  return sys_move_mount(mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
}

/* Appends `s` to opts with overlay's separators (',' between options, ':'
 * between lower dirs) and '\' escaped by a backslash, as bubblewrap does;
 * the kernel unescapes them. False when it does not fit. */
static bool append_escaped(char *opts, size_t cap, size_t *o, const char *s)
{
  for (; *s; s++) {
    bool esc = *s == '\\' || *s == ',' || *s == ':';
    if (*o + (esc ? 2 : 1) >= cap) return false;
    if (esc) opts[(*o)++] = '\\';
    opts[(*o)++] = *s;
  }
  opts[*o] = 0;
  return true;
}

static bool append_raw(char *opts, size_t cap, size_t *o, const char *s)
{
  size_t l = strlen(s);
  if (*o + l >= cap) return false;
  memcpy(opts + *o, s, l + 1);
  *o += l;
  return true;
}

static int overlay_legacy(const char *target, dirref_t *lowers, size_t n, dirref_t *upper, dirref_t *work, bool userxattr)
{
  /* All options must fit one page; past it the kernel would cut the string,
   * so refuse instead (E2BIG). */
  char opts[4096];
  size_t o = 0;
  bool ok = append_raw(opts, sizeof opts, &o, "lowerdir=");
  for (size_t i = 0; ok && i < n; i++)
    ok = (!i || append_raw(opts, sizeof opts, &o, ":")) && append_escaped(opts, sizeof opts, &o, dirref_path(&lowers[i]));
  if (ok && upper)
    ok = append_raw(opts, sizeof opts, &o, ",upperdir=") && append_escaped(opts, sizeof opts, &o, dirref_path(upper)) &&
         append_raw(opts, sizeof opts, &o, ",workdir=") && append_escaped(opts, sizeof opts, &o, dirref_path(work));
  if (ok && userxattr) ok = append_raw(opts, sizeof opts, &o, ",userxattr");
  if (!ok) { errno = E2BIG; return -1; }
  return mount("overlay", target, "overlay", upper ? 0 : MS_RDONLY, opts);
}

/* mount(2) takes every lower as a path: each one named relative to a clone
 * is opened first (dirref_open). */
static int overlay_by_fds(const char *target, dirref_t *lowers, size_t n, dirref_t *upper, dirref_t *work, bool userxattr)
{
  for (size_t i = 0; i < n; i++)
    if (dirref_open(&lowers[i]) < 0) return -1;
  return overlay_legacy(target, lowers, n, upper, work, userxattr);
}

/* lowerdir+ as the kernel answered the first real mount: 1 = works, 0 = not
 * there, -1 = not yet tried. The hot path never probes: a probe cost about
 * 1.8 ms per launch (its failing path lookup), more than the mount. */
static int lowerdir_plus = -1;

static int overlay(const char *target, dirref_t *lowers, size_t n, dirref_t *upper, dirref_t *work, bool userxattr)
{
  if (legacy_mount_api()) return overlay_by_fds(target, lowers, n, upper, work, userxattr);
  const char *api = getenv("FHS_MOUNT_API");
  /* FHS_MOUNT_API=path: lowerdir+ by /proc/self/fd paths, as on 6.8-6.12. */
  if (api && !strcmp(api, "path")) set_fd_works = 0;
  if (lowerdir_plus != 0) {
    int stage;
    if (overlay_newapi(target, lowers, n, upper, work, userxattr, &stage) == 0) {
      lowerdir_plus = 1;
      return 0;
    }
    int err = errno;
    if (stage == AT_FSOPEN && err == EPERM) {
      /* The new mount API is there but overlayfs is refused to this user
       * (before Linux 5.11, in a user namespace): mount(2) would be refused
       * the same way, so no fallback is tried. */
      errno = EPERM;
      return -1;
    }
    /* No new mount API at all, or a kernel without lowerdir+ (it rejects
     * the key of the first lower with EINVAL; the probe, run only then,
     * tells that from a lower the kernel refused): the one-page mount(2). */
    bool fallback = (stage == AT_FSOPEN && err == ENOSYS) ||
                    (stage == AT_FIRST_LOWER && err == EINVAL && lowerdir_plus == -1 && !have_lowerdir_plus());
    if (!fallback) {
      errno = err;
      return -1;
    }
    lowerdir_plus = 0;
  }
  return overlay_by_fds(target, lowers, n, upper, work, userxattr);
}

int mount_overlay_ro(const char *target, dirref_t *lowers, size_t n, bool userxattr)
{
  if (n < 2) { errno = EINVAL; return -1; }
  return overlay(target, lowers, n, NULL, NULL, userxattr);
}

int mount_overlay_rw(const char *target, dirref_t *lowers, size_t n, dirref_t *upper, dirref_t *work)
{
  return overlay(target, lowers, n, upper, work, true);
}

int bind_mount(const char *source, const char *target, bool recursive, bool readonly)
{
  if (mount(source, target, NULL, MS_BIND | (recursive ? MS_REC : 0), NULL) < 0) return -1;
  if (!readonly) return 0;
  return recursive ? remount_tree_readonly(target) : remount_readonly(target);
}

bool legacy_mount_api(void)
{
  const char *api = getenv("FHS_MOUNT_API");
  return api && !strcmp(api, "legacy");
}

int bind_mount_ro_tree(dirref_t *source, const char *target)
{
  /* Linux >= 5.12: clone the tree, make every mount in it read-only in one
   * call (mount_setattr with AT_RECURSIVE), attach it. A submount of the
   * source is read-only in the view like the rest. */
  if (!legacy_mount_api()) {
    cleanup_fd int tree = (int)syscall(SYS_open_tree, source->fd, "",
                                       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
    if (tree >= 0) {
      struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
      if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) == 0)
        return sys_move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
      if (errno != ENOSYS) return -1;
    } else if (errno != ENOSYS) {
      return -1;
    }
  }
  return bind_mount(dirref_path(source), target, true, true);
}

int remount_readonly(const char *target)
{
  /* Linux >= 5.12: mount_setattr sets the one per-mount flag and leaves the
   * others as they are, so nothing needs to be read first (statvfs sums
   * ext4's per-CPU counters, measurable on every launch). */
  if (!legacy_mount_api()) {
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
    if (syscall(SYS_mount_setattr, AT_FDCWD, target, 0, &attr, sizeof attr) == 0) return 0;
    if (errno != ENOSYS) return -1;
  }
  /* MS_REMOUNT|MS_BIND changes only the per-mount flag, which is what the
   * caller of a user namespace may change. Flags the mount already has that
   * are locked in this namespace must be kept, or the kernel says EPERM. */
  unsigned long keep = 0;
  struct statvfs sv;
  if (statvfs(target, &sv) < 0) return -1;
  if (sv.f_flag & ST_NOSUID) keep |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) keep |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) keep |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) keep |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) keep |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) keep |= MS_RELATIME;
  return mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, NULL);
}

/* mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo. */
static void unescape_octal(char *s)
{
  char *o = s;
  for (; *s; s++) {
    if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
      *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
      s += 3;
    } else {
      *o++ = *s;
    }
  }
  *o = 0;
}

int remount_tree_readonly(const char *target)
{
  /* Without mount_setattr: the top mount, then every mount below it as
   * /proc/self/mountinfo lists them (paths as seen from this root). */
  if (remount_readonly(target) < 0) return -1;
  char path[64];
  snprintf(path, sizeof path, "%s/self/mountinfo", proc_dir);
  FILE *f = fopen(path, "re");
  if (!f) return -1;
  size_t tl = strlen(target);
  char *line = NULL;
  size_t cap = 0;
  int rc = 0;
  while (rc == 0 && getline(&line, &cap, f) > 0) {
    /* id parent major:minor root mountpoint ... */
    char *save = NULL, *mp = NULL;
    char *tok = strtok_r(line, " ", &save);
    for (int i = 0; tok && i < 4; i++) tok = strtok_r(NULL, " ", &save);
    mp = tok;
    if (!mp) continue;
    unescape_octal(mp);
    if (strncmp(mp, target, tl) || mp[tl] != '/') continue;
    if (remount_readonly(mp) < 0) rc = -1;
  }
  free(line);
  fclose(f);
  return rc;
}

int loopback_up(void)
{
  cleanup_fd int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) return -1;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  return ioctl(s, SIOCSIFFLAGS, &ifr);
}


int detached_tmpfs(void)
{
  cleanup_fd int fs = sys_fsopen("tmpfs", FSOPEN_CLOEXEC);
  if (fs < 0) return -1;
  /* Room for the marker, the /etc links and the view's ld.so.cache. */
  if (sys_fsconfig(fs, FSCONFIG_SET_STRING, "size", "16m", 0) < 0 || sys_fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0 ||
      sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return -1;
  return sys_fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
}

int set_readonly(int mnt, bool recursive)
{
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
  return (int)syscall(SYS_mount_setattr, mnt, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr);
}

int clone_readonly(int dirfd, const char *path, bool recursive)
{
  int tree = (int)syscall(SYS_open_tree, dirfd, path,
                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (path[0] ? AT_SYMLINK_NOFOLLOW : AT_EMPTY_PATH) |
                              (recursive ? AT_RECURSIVE : 0));
  if (tree < 0) return -1;
  if (set_readonly(tree, recursive) < 0) {
    int e = errno;
    close(tree);
    errno = e;
    return -1;
  }
  return tree;
}

int attach_mount(int mnt, const char *target)
{
  return sys_move_mount(mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
}
