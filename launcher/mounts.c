#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

static int write_proc(const char *path, const char *text)
{
  cleanup_fd int fd = open(path, O_WRONLY | O_CLOEXEC);
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

static int overlay_newapi(const char *target, const char *const *lowers, size_t n,
                          const char *upper, const char *work)
{
  cleanup_fd int fs = sys_fsopen("overlay", FSOPEN_CLOEXEC);
  if (fs < 0) return -1;
  for (size_t i = 0; i < n; i++)
    if (sys_fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", lowers[i], 0) < 0) return -1;
  if (upper) {
    if (sys_fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0) return -1;
    if (sys_fsconfig(fs, FSCONFIG_SET_STRING, "workdir", work, 0) < 0) return -1;
    /* In a user namespace, overlay keeps its metadata in user.* xattrs. */
    if (sys_fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0) return -1;
  }
  if (sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) return -1;
  cleanup_fd int mnt = sys_fsmount(fs, FSMOUNT_CLOEXEC, upper ? 0 : MOUNT_ATTR_RDONLY);
  if (mnt < 0) return -1;
  return sys_move_mount(mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
}

static int overlay_legacy(const char *target, const char *const *lowers, size_t n,
                          const char *upper, const char *work)
{
  /* All options must fit one page; past it the kernel cuts the string. */
  char opts[4096];
  size_t o = 0;
  o += (size_t)snprintf(opts, sizeof opts, "lowerdir=");
  for (size_t i = 0; i < n; i++) {
    /* These characters separate options; the old API has no escaping. */
    if (strpbrk(lowers[i], ":,\\")) { errno = EINVAL; return -1; }
    size_t l = strlen(lowers[i]);
    /* Past one page the kernel would cut the string: refuse instead. */
    if (o + l + 2 >= sizeof opts) { errno = E2BIG; return -1; }
    if (i) opts[o++] = ':';
    memcpy(opts + o, lowers[i], l);
    o += l;
  }
  opts[o] = 0;
  if (upper) {
    int m = snprintf(opts + o, sizeof opts - o, ",upperdir=%s,workdir=%s,userxattr", upper, work);
    if (m < 0 || (size_t)m >= sizeof opts - o) { errno = E2BIG; return -1; }
  }
  return mount("overlay", target, "overlay", upper ? 0 : MS_RDONLY, opts);
}

static int overlay(const char *target, const char *const *lowers, size_t n, const char *upper, const char *work)
{
  if (have_lowerdir_plus()) return overlay_newapi(target, lowers, n, upper, work);
  return overlay_legacy(target, lowers, n, upper, work);
}

int mount_overlay_ro(const char *target, const char *const *lowers, size_t n)
{
  if (n < 2) { errno = EINVAL; return -1; }
  return overlay(target, lowers, n, NULL, NULL);
}

int mount_overlay_rw(const char *target, const char *const *lowers, size_t n, const char *upper, const char *work)
{
  return overlay(target, lowers, n, upper, work);
}

int bind_mount(const char *source, const char *target, bool recursive, bool readonly)
{
  if (mount(source, target, NULL, MS_BIND | (recursive ? MS_REC : 0), NULL) < 0) return -1;
  if (!readonly) return 0;
  return remount_readonly(target);
}

int remount_readonly(const char *target)
{
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

static int sys_open_tree(int dfd, const char *path, unsigned flags) { return (int)syscall(SYS_open_tree, dfd, path, flags); }
static int sys_mount_setattr(int dfd, const char *path, unsigned flags, struct mount_attr *attr)
{
  return (int)syscall(SYS_mount_setattr, dfd, path, flags, attr, sizeof *attr);
}

int bind_tree_readonly(const char *source, const char *target)
{
  /* The copy is made read-only as a whole, submounts included, before it
   * is attached: a file bound somewhere below the source (as a container
   * runtime binds /etc/resolv.conf) must not stay writable through it. */
  cleanup_fd int tree = sys_open_tree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (tree < 0) {
    /* Linux < 5.12 lacks these calls: the old way, read-only at the top. */
    if (errno == ENOSYS) return bind_mount(source, target, true, true);
    return -1;
  }
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
  if (sys_mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr) < 0) {
    if (errno == ENOSYS) return bind_mount(source, target, true, true);
    return -1;
  }
  return sys_move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
}
