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

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static bool force_fallback;

void resolve_force_fallback(bool on) { force_fallback = on; }

bool path_normalized(const char *path)
{
  /* One pass, byte by byte: it runs for every layer of a launch, several
   * times (the validator's allowed list, the open). */
  if (path[0] != '/' || !path[1]) return false;
  const char *c = path + 1; /* start of the current component */
  for (const char *p = c;; p++) {
    if (*p != '/' && *p) continue;
    size_t l = (size_t)(p - c);
    if (l == 0 || (l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.')) return false;
    if (!*p) return true;
    c = p + 1;
  }
}

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
 * per-layer cost). */
#define PARENTS_MAX 8
static struct {
  char *dir; /* the parent's path, e.g. /nix/store */
  size_t len;
  int fd;
} parents[PARENTS_MAX];
static size_t nparents;

static int openat2_dir(int at, const char *rel)
{
  struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH};
  return (int)syscall(SYS_openat2, at, rel, &how, sizeof how);
}

int open_layer_shared(int root, const char *path, const char **why)
{
  if (force_fallback || !path_normalized(path)) return open_layer(root, path, why);
  /* The parent: the path without its last two components (<store>/<name>/usr). */
  const char *last = strrchr(path, '/');
  const char *split = last;
  while (split > path && split[-1] != '/') split--;
  if (split <= path + 1) return open_layer(root, path, why);
  size_t plen = (size_t)(split - 1 - path); /* "/var/cache/layers" of "/var/cache/layers/x/usr" */
  /* A parent is opened the second time it is seen: one layer alone under
   * its parent costs no more than from the root. */
  size_t i = 0;
  while (i < nparents && !(parents[i].len == plen && !memcmp(parents[i].dir, path, plen))) i++;
  if (i == nparents) {
    if (nparents < PARENTS_MAX && (parents[i].dir = strndup(path, plen))) {
      parents[i].len = plen;
      parents[i].fd = -1;
      nparents++;
    }
    return open_layer(root, path, why);
  }
  if (parents[i].fd == -1) {
    char dir[4096];
    if (plen >= sizeof dir) return open_layer(root, path, why);
    memcpy(dir, path + 1, plen - 1);
    dir[plen - 1] = 0;
    /* -2: tried and refused (no openat2, or the parent is no plain
     * directory): its layers go the long way, and it is not asked again. */
    int fd = openat2_dir(root, dir);
    parents[i].fd = fd >= 0 ? fd : -2;
  }
  int pfd = parents[i].fd;
  if (pfd < 0) return open_layer(root, path, why);
  int fd = openat2_dir(pfd, split);
  /* On failure, from the root again, to name the component at fault. */
  return fd >= 0 ? fd : open_layer(root, path, why);
}

void open_layer_shared_done(void)
{
  for (size_t i = 0; i < nparents; i++) {
    if (parents[i].fd >= 0) close(parents[i].fd);
    free(parents[i].dir);
  }
  nparents = 0;
}
