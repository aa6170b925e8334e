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
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static bool force_fallback;

void resolve_force_fallback(bool on) { force_fallback = on; }

bool path_normalized(const char *path)
{
  if (path[0] != '/' || !path[1]) return false;
  for (const char *c = path + 1;;) {
    const char *end = strchr(c, '/');
    size_t l = end ? (size_t)(end - c) : strlen(c);
    if (l == 0 || (l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.')) return false;
    if (!end) return true;
    c = end + 1;
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
