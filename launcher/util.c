#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "abi.h"

static void vmessage(const char *fmt, va_list ap, int errnum)
{
  char buf[1024];
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof buf) n = sizeof buf - 1;
  char line[1200];
  int m = errnum ? snprintf(line, sizeof line, "fhs: %s: %s\n", buf, strerror(errnum))
                 : snprintf(line, sizeof line, "fhs: %s\n", buf);
  if (m > 0) (void)!write(STDERR_FILENO, line, (size_t)m < sizeof line ? (size_t)m : sizeof line - 1);
}

void die(int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vmessage(fmt, ap, 0);
  va_end(ap);
  _exit(code);
}

void die_errno(int code, const char *fmt, ...)
{
  int errnum = errno;
  va_list ap;
  va_start(ap, fmt);
  vmessage(fmt, ap, errnum);
  va_end(ap);
  _exit(code);
}

void *xmalloc(size_t n)
{
  void *p = malloc(n ? n : 1);
  if (!p) die(FHS_EXIT_SETUP, "out of memory allocating %zu bytes", n);
  return p;
}

void *xrealloc(void *p, size_t n)
{
  void *q = realloc(p, n ? n : 1);
  if (!q) die(FHS_EXIT_SETUP, "out of memory allocating %zu bytes", n);
  return q;
}

char *xstrdup(const char *s)
{
  size_t n = strlen(s) + 1;
  return memcpy(xmalloc(n), s, n);
}

char *xasprintf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char *out = NULL;
  int n = vasprintf(&out, fmt, ap);
  va_end(ap);
  if (n < 0) die(FHS_EXIT_SETUP, "out of memory formatting a string");
  return out;
}

uint8_t *read_file(const char *path, size_t max, size_t *len_out)
{
  return read_file_flags(path, 0, max, len_out);
}

uint8_t *read_file_flags(const char *path, int flags, size_t max, size_t *len_out)
{
  /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer
   * forever. A regular file, the only kind accepted, ignores the flag. */
  /* openat, not open: musl's open follows an O_CLOEXEC open with an
   * fcntl(F_SETFD) for kernels older than 2.6.23, one more system call on
   * every launch's manifest, marker and plan-cache reads; openat passes the
   * flag to the kernel alone, which applies it atomically. */
  cleanup_fd int fd = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | flags);
  if (fd < 0) return NULL;
  return read_fd(fd, max, len_out);
}

uint8_t *read_fd(int fd, size_t max, size_t *len_out)
{
  struct stat st;
  if (fstat(fd, &st) < 0) return NULL;
  if (!S_ISREG(st.st_mode)) { errno = ENOTREG; return NULL; }
  if ((size_t)st.st_size > max) { errno = EFBIG; return NULL; }
  size_t cap = (size_t)st.st_size + 1, len = 0;
  uint8_t *buf = xmalloc(cap);
  for (;;) {
    if (len == cap) {
      if (cap > max) { free(buf); errno = EFBIG; return NULL; }
      cap *= 2;
      buf = xrealloc(buf, cap);
    }
    ssize_t r = read(fd, buf + len, cap - len);
    if (r < 0) {
      if (errno == EINTR) continue;
      int e = errno; free(buf); errno = e; return NULL;
    }
    if (r == 0) break;
    len += (size_t)r;
  }
  *len_out = len;
  return buf;
}

const char *read_error(int errnum, size_t max)
{
  static char buf[128];
  if (errnum == ENOTREG) return "not a regular file";
  if (errnum == EFBIG) {
    snprintf(buf, sizeof buf, "larger than the cap of %zu bytes", max);
    return buf;
  }
  return strerror(errnum);
}

int write_all(int fd, const void *buf, size_t len)
{
  const uint8_t *p = buf;
  while (len) {
    ssize_t w = write(fd, p, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

bool path_join(char *out, size_t n, const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b);
  if (la >= n || lb >= n - la - 1) return false;
  memcpy(out, a, la);
  out[la] = '/';
  memcpy(out + la + 1, b, lb + 1);
  return true;
}

char *path_cat(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b);
  char *out = xmalloc(la + lb + 2);
  memcpy(out, a, la);
  out[la] = '/';
  memcpy(out + la + 1, b, lb + 1);
  return out;
}

const char *base_name(const char *p)
{
  const char *slash = strrchr(p, '/');
  return slash ? slash + 1 : p;
}

uint8_t *read_stdin(const char *what, size_t max, size_t *len)
{
  size_t cap = 4096, n = 0;
  uint8_t *buf = xmalloc(cap);
  for (;;) {
    if (n == cap) buf = xrealloc(buf, cap *= 2);
    ssize_t r = read(STDIN_FILENO, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die_errno(FHS_EXIT_SETUP, "%s on stdin", what);
    if (r == 0) break;
    n += (size_t)r;
    /* The same cap as a manifest's: a stream that keeps going is refused,
     * never buffered without bound. */
    if (n > max) die(FHS_EXIT_SETUP, "%s on stdin: larger than %zu bytes", what, max);
  }
  *len = n;
  return buf;
}
