/* The view floor, a benchmark series beside the kernel's floor (floor.c;
 * docs/BENCHMARKS.md): the kernel's cost of exactly the mounts an in-place
 * fhs view makes (docs/ARCHITECTURE.md, "Two ways to make a view"), with
 * none of the launcher's logic: no manifest, no policy, no plan, no cache
 * lookup, no validation, no checks beyond each call's result. fhs minus this
 * is the launcher's own work; this minus the floor is what the mounts fhs's
 * guarantees need cost. Not a floor: fhs's view replayed.
 *   floor-view [--hide DIR]... [--ldcache FILE] [--no-etc] MARKER ETCDIR...
 *              -- USRDIR... -- PROGRAM [ARGS...]
 * MARKER is a marker layer made beforehand, as the launcher's cached one:
 * usr/.fhs/view, an empty usr/.fhs/host-etc/, etc/ (the /etc links and the
 * view's ld.so.cache), empty/. In order, as the launcher: the host's /etc
 * cloned read-only all the way down; /usr, one read-only overlay of
 * MARKER/usr then the USRDIRs; the clone attached at /usr/.fhs/host-etc;
 * /etc, one read-only overlay of MARKER/etc, the ETCDIRs, then the host's
 * /etc (none with --no-etc: a plan without one); FILE bound read-only over
 * /etc/ld.so.cache (--ldcache: a plan that binds its cache); a read-only
 * clone of MARKER/empty over each DIR (the plan's `hide`); exec. Mounts
 * from path strings: the launcher's opening by fd is its own work.
 * Static, like floor.c.
 *   floor-view --mark-opaque DIR   (once, when the marker layer is made) */
#include "floor.h" /* first: it defines _GNU_SOURCE */

#include <sys/xattr.h>

/* A detached read-only copy of PATH's mount; recursive (every submount read-only too) for the host's /etc. */
static int clone_ro(const char *path, int recursive)
{
  int mnt = (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
  if (mnt < 0) die(path);
  struct attr a = { .set = MOUNT_ATTR_RDONLY };
  if (syscall(SYS_mount_setattr, mnt, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof a) < 0) die("mount_setattr");
  return mnt;
}

static void attach(int mnt, const char *target)
{
  if (syscall(SYS_move_mount, mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0) die(target);
  close(mnt);
}

/* One read-only overlay of TOP then the n lowers, then LAST if not NULL;
 * userxattr for /usr, as the launcher mounts it (its marker layer's
 * usr/.fhs is opaque: --mark-opaque). */
static void overlay(const char *target, const char *top, char **lowers, int n, const char *last, int userxattr)
{
  int fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
  if (fs < 0) die("fsopen");
  if (userxattr && syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0) die("userxattr");
  if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir+", top, 0) < 0) die(top);
  for (int i = 0; i < n; i++)
    if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir+", lowers[i], 0) < 0) die(lowers[i]);
  if (last && syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir+", last, 0) < 0) die(last);
  if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) die("fsconfig create");
  int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY);
  if (mnt < 0) die("fsmount");
  close(fs);
  attach(mnt, target);
}

static char *path_in(const char *dir, const char *rel)
{
  char *p;
  if (asprintf(&p, "%s/%s", dir, rel) < 0) die("asprintf");
  return p;
}

int main(int argc, char **argv)
{
  /* Once, when the benchmark makes the marker layer: its usr/.fhs opaque,
   * as the launcher marks its own (launcher/view.c, mark_opaque). */
  if (argc == 3 && !strcmp(argv[1], "--mark-opaque")) {
    if (setxattr(argv[2], "user.overlay.opaque", "y", 1, 0) < 0) die(argv[2]);
    return 0;
  }
  char **hide = calloc((size_t)argc, sizeof *hide);
  if (!hide) die("calloc");
  int nhide = 0, etc = 1, i = 1;
  const char *ldcache = NULL;
  for (; i + 1 < argc; i++) {
    if (!strcmp(argv[i], "--hide")) hide[nhide++] = argv[++i];
    else if (!strcmp(argv[i], "--ldcache")) ldcache = argv[++i];
    else if (!strcmp(argv[i], "--no-etc")) etc = 0;
    else break;
  }
  int marker = i, sep1 = marker + 1;
  while (sep1 < argc && strcmp(argv[sep1], "--")) sep1++;
  int sep2 = sep1 + 1;
  while (sep2 < argc && strcmp(argv[sep2], "--")) sep2++;
  if (marker >= argc || sep2 - sep1 < 2 || sep2 + 1 >= argc || (!etc && sep1 > marker + 1)) {
    fprintf(stderr, "usage: floor-view [--hide DIR]... [--ldcache FILE] [--no-etc] MARKER ETCDIR... -- USRDIR... -- PROGRAM [ARGS...]\n");
    return 2;
  }
  const char *m = argv[marker];
  enter_user_mount_ns();
  /* fhs makes every mount private (the caller's later mounts must not reach
   * a running view): a mount its guarantees need, so it is counted here. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die("make / private");

  /* Cloned before /usr is mounted, as the launcher opens every source first. */
  int host_etc = clone_ro("/etc", 1);
  overlay("/usr", path_in(m, "usr"), argv + sep1 + 1, sep2 - sep1 - 1, NULL, 1);
  attach(host_etc, "/usr/.fhs/host-etc");
  if (etc) overlay("/etc", path_in(m, "etc"), argv + marker + 1, sep1 - marker - 1, "/etc", 0);
  if (ldcache) attach(clone_ro(ldcache, 0), "/etc/ld.so.cache");
  for (int h = 0; h < nhide; h++) attach(clone_ro(path_in(m, "empty"), 0), hide[h]);

  extern char **environ;
  execve(argv[sep2 + 1], argv + sep2 + 1, environ);
  perror(argv[sep2 + 1]);
  return 127;
}
