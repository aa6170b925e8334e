/* Layers are opened without following symlinks.
 *
 * A manifest names each layer by an absolute, symlink-free path (fhs wrap
 * resolves them). At launch the layer must still be that directory: a layer
 * the caller replaced by a symlink (to "../../../..", the host's root), or
 * whose usr/ became a symlink to the host's /usr, would put the host's files
 * into a view that promises to hold only the layers. Following no symlink at
 * all is the simplest rule that makes "the manifest's path" mean one
 * directory. The fd opened here is what gets mounted, so nothing can be
 * swapped between the check and the mount. */
#include "resolve.h"
#include "abi.h"

#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static bool force_fallback;

void resolve_force_fallback(bool on) { force_fallback = on; }

/* Whether the component after the '/' at path[i] is one: not empty, not
 * "." or "..". n is the path's length. */
static inline bool component_ok(const char *path, size_t i, size_t n)
{
  const char *c = path + i + 1;
  size_t rest = n - i - 1;
  if (rest == 0 || c[0] == '/') return false;
  if (c[0] != '.') return true;
  if (rest == 1 || c[1] == '/') return false;
  if (c[1] != '.') return true;
  return rest > 2 && c[2] != '/';
}

size_t path_normalized_len(const char *path)
{
  /* It runs for every layer of a launch, twice (the validator's allowed
   * list, the by-name mount): the '/'s are found eight bytes at a time, and
   * only the bytes after each one are looked at. A byte loop over every
   * byte was a fifth of a 300-layer launch's own instructions. */
  size_t n = strlen(path);
  if (n < 2 || path[0] != '/') return 0;
  const uint64_t ones = 0x0101010101010101ULL, low7 = 0x7f7f7f7f7f7f7f7fULL;
  size_t i = 0;
  for (; n - i >= 8; i += 8) {
    uint64_t w;
    memcpy(&w, path + i, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w); /* the lowest address in the lowest byte */
#endif
    uint64_t x = w ^ (ones * '/');
    /* Exact: 0x80 in a byte iff it was '/' (no borrow from a byte below). */
    uint64_t t = ~(((x & low7) + low7) | x | low7);
    for (; t; t &= t - 1)
      if (!component_ok(path, i + ((size_t)__builtin_ctzll(t) >> 3), n)) return 0;
  }
  for (; i < n; i++)
    if (path[i] == '/' && !component_ok(path, i, n)) return 0;
  return n;
}

bool path_normalized(const char *path) { return path_normalized_len(path) != 0; }

static char why_buf[4200];

/* One component at a time, never following a link: an O_PATH|O_NOFOLLOW open
 * of a symlink with O_DIRECTORY fails, and fstatat says why. Also used to
 * name the component at fault when openat2 refused. */
static int walk(int root, const char *path, const char **why)
{
  int fd = openat(root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    *why = strerror(errno);
    return -1;
  }
  const char *c = path + 1;
  for (;;) {
    const char *end = strchr(c, '/');
    size_t l = end ? (size_t)(end - c) : strlen(c);
    char name[256];
    if (l >= sizeof name) {
      close(fd);
      *why = strerror(ENAMETOOLONG);
      return -1;
    }
    memcpy(name, c, l);
    name[l] = 0;
    int next = openat(fd, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
    if (next < 0) {
      int e = errno;
      struct stat st;
      int prefix = (int)(c - path) + (int)l;
      bool stat_ok = fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
      if (stat_ok && S_ISLNK(st.st_mode))
        snprintf(why_buf, sizeof why_buf, "%.*s is a symlink; a layer is opened without following symlinks", prefix, path);
      else if (e == ENOTDIR && (!stat_ok || S_ISDIR(st.st_mode)))
        /* Refused as a non-directory, yet now a directory or gone: it was
         * swapped between the open and the stat. */
        snprintf(why_buf, sizeof why_buf, "%.*s changed while it was being opened", prefix, path);
      else if (e == ENOTDIR)
        snprintf(why_buf, sizeof why_buf, "%.*s is not a directory", prefix, path);
      else
        snprintf(why_buf, sizeof why_buf, "%s", strerror(e));
      close(fd);
      *why = why_buf;
      return -1;
    }
    close(fd);
    fd = next;
    if (!end) return fd;
    c = end + 1;
  }
}

int open_layer(int root, const char *path, const char **why)
{
  if (!path_normalized(path)) {
    *why = "not a normalized absolute path (it has an empty, '.' or '..' component)";
    return -1;
  }
  if (!force_fallback) {
    struct open_how how = {
      .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
      /* BENEATH: relative to `root`, which stands for "/", nothing above it. */
      .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH,
    };
    int fd = (int)syscall(SYS_openat2, root, path + 1, &how, sizeof how);
    if (fd >= 0) return fd;
    /* Without openat2 (ENOSYS) walk instead; on any other failure walk too,
     * to name the component at fault. */
    int e = errno;
    fd = walk(root, path, why);
    if (fd >= 0 && e != ENOSYS) {
      /* openat2 refused what the walk accepted: something changed between
       * the two; fail closed. */
      close(fd);
      snprintf(why_buf, sizeof why_buf, "changed while it was being opened (%s)", strerror(e));
      *why = why_buf;
      return -1;
    }
    return fd;
  }
  return walk(root, path, why);
}

/* Layers of one view mostly share a parent (/nix/store, a layer cache):
 * that parent is opened once, the same way, and each layer below it is
 * resolved from its fd. Every component is still resolved once, without
 * following a symlink, beneath "/"; what is saved is the walk of the shared
 * prefix per layer (with 300 layers, a third of the launch's own
 * per-layer cost).
 *
 * A mount can go further (layer_ref_shared): the parent's mount tree is
 * cloned once, with no symlink followed anywhere in the clone
 * (clone_nosymfollow), and each layer is handed to the kernel as its name
 * beneath the clone, "<name>/usr", which it resolves as it mounts it. The
 * same rule (one resolution, no symlink, nothing above the parent), and no
 * file per layer: an O_PATH fd per layer cost ~1.6 µs (the open, the
 * overlay's d_path of it, the close), 0.5 ms of a 300-layer launch. */
#define PARENTS_MAX 8
static struct {
  char *dir; /* the parent's path, e.g. /nix/store */
  size_t len;
  int fd;
  int clone; /* its nosymfollow clone: -1 not made yet, -2 refused */
  size_t seen; /* layers named below it so far */
} parents[PARENTS_MAX];
static size_t nparents;

/* The clone pays for itself from about this many layers below one parent
 * (its open_tree, mount_setattr and move_mount out of the view's way,
 * open_layer_shared_done: ~8 µs, against ~1.6 µs per layer). */
#define CLONE_FROM_LAYER 4

static int openat2_dir(int at, const char *rel)
{
  struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH};
  return (int)syscall(SYS_openat2, at, rel, &how, sizeof how);
}

/* The parent `path` shares with layers before it, opened: its index, with
 * *name the rest of path ("<name>/usr"); -1 when the layer goes the long
 * way (alone under its parent so far, a path of another shape, no openat2). */
static int shared_parent(int root, const char *path, const char **name)
{
  size_t n;
  if (force_fallback || !(n = path_normalized_len(path))) return -1;
  /* The parent: the path without its last two components (<store>/<name>/usr),
   * or three for a wrapped package's programs layer (<store>/<name>/.fhs/raw):
   * so the programs layers of nested packages share their store with every
   * other layer, instead of each its own package directory. */
  const char *split = memrchr(path, '/', n);
  size_t rl = sizeof "/" FHS_RAW - 1;
  if (n > rl && !memcmp(path + n - rl, "/" FHS_RAW, rl)) split = path + n - rl;
  while (split > path && split[-1] != '/') split--;
  if (split <= path + 1) return -1;
  size_t plen = (size_t)(split - 1 - path); /* "/var/cache/layers" of "/var/cache/layers/x/usr" */
  /* A parent is opened the second time it is seen: one layer alone under
   * its parent costs no more than from the root. */
  size_t i = 0;
  while (i < nparents && !(parents[i].len == plen && !memcmp(parents[i].dir, path, plen))) i++;
  if (i == nparents) {
    if (nparents < PARENTS_MAX && (parents[i].dir = strndup(path, plen))) {
      parents[i].len = plen;
      parents[i].fd = parents[i].clone = -1;
      parents[i].seen = 1;
      nparents++;
    }
    return -1;
  }
  parents[i].seen++;
  if (parents[i].fd == -1) {
    char dir[4096];
    if (plen >= sizeof dir) return -1;
    memcpy(dir, path + 1, plen - 1);
    dir[plen - 1] = 0;
    /* -2: tried and refused (no openat2, or the parent is no plain
     * directory): its layers go the long way, and it is not asked again. */
    int fd = openat2_dir(root, dir);
    parents[i].fd = fd >= 0 ? fd : -2;
  }
  if (parents[i].fd < 0) return -1;
  *name = split;
  return (int)i;
}

int open_layer_shared(int root, const char *path, const char **why)
{
  const char *name;
  int i = shared_parent(root, path, &name);
  if (i < 0) return open_layer(root, path, why);
  int fd = openat2_dir(parents[i].fd, name);
  /* On failure, from the root again, to name the component at fault. */
  return fd >= 0 ? fd : open_layer(root, path, why);
}

int clone_nosymfollow(int dirfd)
{
  int tree = (int)syscall(SYS_open_tree, dirfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
  if (tree < 0) return -1;
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_NOSYMFOLLOW};
  if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
    int e = errno;
    close(tree);
    errno = e;
    return -1;
  }
  return tree;
}

int layer_ref_shared(int root, const char *path, dirref_t *d, const char **why)
{
  const char *name;
  int i = shared_parent(root, path, &name);
  d->rel = NULL;
  if (i >= 0 && parents[i].clone == -1 && parents[i].seen >= CLONE_FROM_LAYER) {
    int c = clone_nosymfollow(parents[i].fd);
    parents[i].clone = c >= 0 ? c : -2;
  }
  if (i >= 0 && parents[i].clone >= 0) {
    d->fd = -1;
    d->at = parents[i].clone;
    d->rel = name;
    return 0;
  }
  int fd = i < 0 ? -1 : openat2_dir(parents[i].fd, name);
  d->fd = fd >= 0 ? fd : open_layer(root, path, why);
  return d->fd >= 0 ? 0 : -1;
}

void open_layer_shared_done(const char *park)
{
  /* The clones stay open (O_CLOEXEC): the mounts resolve names beneath
   * them; the exec closes them. Closing a detached tree's last fd unmounts
   * it on its own (dissolve_on_fput), and every unmount waits for an
   * expedited RCU grace period: 25-60 us of wall time per clone on a 2-vCPU
   * VM, and more when the other vCPU is busy, where the launch's own work
   * was a few microseconds. Attached at `park` (a directory the view covers,
   * or one the view's old root takes along when it is detached), a clone is
   * torn down with the namespace's other mounts, in one such wait that
   * every launch pays anyway. Mounted in the launcher's own namespace only
   * (the root is private), beneath what the view puts on top of it: nothing
   * of it shows in the view's paths. If it cannot be attached, it stays
   * detached, as before: slower, never wrong. */
  for (size_t i = 0; i < nparents; i++) {
    if (parents[i].fd >= 0) close(parents[i].fd);
    /* By the system call, as the clone was made: this file does not link
     * mounts.c (the parsers' fuzzers and unit tests take it alone). */
    if (park && parents[i].clone >= 0) (void)syscall(SYS_move_mount, parents[i].clone, "", AT_FDCWD, park, MOVE_MOUNT_F_EMPTY_PATH);
    free(parents[i].dir);
  }
  nparents = 0;
}
