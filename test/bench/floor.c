/* The kernel's floor for a view, a benchmark baseline (docs/BENCHMARKS.md):
 * the least a program can do to run another in a pure /usr of its layers on
 * a merged-/usr host. A new user + mount namespace, the uid/gid maps, one
 * read-only overlay of the layers mounted in place at /usr (fsopen, one
 * lowerdir+ per layer, fsmount, move_mount; a read-only bind for a single
 * layer, which overlayfs refuses), exec. No tmpfs root, no binds, no
 * pivot_root, no manifest, no policy, no checks beyond each call's result.
 *   floor USRDIR... -- PROGRAM [ARGS...]
 * Static, so a nested level needs nothing from the view it runs in. */
#include "floor.h" /* first: it defines _GNU_SOURCE */

int main(int argc, char **argv)
{
  int sep = 1;
  while (sep < argc && strcmp(argv[sep], "--")) sep++;
  int nlayers = sep - 1;
  if (nlayers < 1 || sep + 1 >= argc) {
    fprintf(stderr, "usage: floor USRDIR... -- PROGRAM [ARGS...]\n");
    return 2;
  }
  enter_user_mount_ns();

  int mnt;
  if (nlayers == 1) {
    mnt = (int)syscall(SYS_open_tree, AT_FDCWD, argv[1], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (mnt < 0) die("open_tree");
    struct attr a = { .set = MOUNT_ATTR_RDONLY };
    if (syscall(SYS_mount_setattr, mnt, "", AT_EMPTY_PATH, &a, sizeof a) < 0) die("mount_setattr");
  } else {
    int fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
    if (fs < 0) die("fsopen");
    for (int i = 1; i < sep; i++)
      if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir+", argv[i], 0) < 0) die(argv[i]);
    if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) die("fsconfig create");
    mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY);
    if (mnt < 0) die("fsmount");
  }
  if (syscall(SYS_move_mount, mnt, "", AT_FDCWD, "/usr", MOVE_MOUNT_F_EMPTY_PATH) < 0) die("move_mount /usr");
  extern char **environ;
  execve(argv[sep + 1], argv + sep + 1, environ);
  perror(argv[sep + 1]);
  return 127;
}
