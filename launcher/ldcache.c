/* The union of two ld.so.cache files.
 *
 * A nested view's libraries are the package's layers on top of the current
 * view's, so its cache is the package's entries followed by the view's. The
 * format is glibc's ("glibc-ld.so.cache1.1", written by ldconfig since 2.32):
 * a 48-byte header, `nlibs` 24-byte entries sorted so that the loader's binary
 * search works (descending by _dl_cache_libcmp), and a string table; string
 * offsets count from the start of the file. Among entries with the same name
 * the loader takes the first that fits, so the merge is stable: the
 * package's come first. Entries that point into the optional glibc-hwcaps
 * extension are left out (the loader then uses the plain library).
 *
 * Written here rather than by running ldconfig because a launch must not run
 * another program, and the view has no ldconfig of its own to run. */
#include "ldcache.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define MAGIC "glibc-ld.so.cache1.1"
#define HEADER_SIZE 48
#define ENTRY_SIZE 24
/* DL_CACHE_HWCAP_EXTENSION: the entry names a glibc-hwcaps subdirectory. */
#define HWCAP_EXTENSION (1ull << 62)

typedef struct {
  int32_t flags;
  uint32_t osversion;
  uint64_t hwcap;
  const char *key, *value;
  size_t order; /* input position: keeps the sort stable */
} entry_t;

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* A NUL-terminated string at `off` inside the file, or NULL. */
static const char *string_at(const uint8_t *buf, size_t len, uint32_t off)
{
  if (off >= len) return NULL;
  return memchr(buf + off, 0, len - off) ? (const char *)buf + off : NULL;
}

static int parse(const uint8_t *buf, size_t len, entry_t **entries, size_t *n, uint8_t *flags)
{
  if (len < HEADER_SIZE || memcmp(buf, MAGIC, strlen(MAGIC))) { errno = EINVAL; return -1; }
  uint32_t nlibs = rd32(buf + 20);
  if (nlibs > (len - HEADER_SIZE) / ENTRY_SIZE) { errno = EINVAL; return -1; }
  *flags = buf[28];
  /* nlibs <= len / 24 and *n counts entries already held, so neither sum
   * nor product can wrap for any file that fits in memory; checked anyway. */
  if (nlibs > SIZE_MAX / sizeof **entries - *n) { errno = EFBIG; return -1; }
  *entries = xrealloc(*entries, (*n + nlibs) * sizeof **entries);
  for (uint32_t i = 0; i < nlibs; i++) {
    const uint8_t *e = buf + HEADER_SIZE + (size_t)i * ENTRY_SIZE;
    uint32_t flags = rd32(e);
    entry_t x = {.osversion = rd32(e + 12), .hwcap = rd64(e + 16)};
    x.key = string_at(buf, len, rd32(e + 4));
    x.value = string_at(buf, len, rd32(e + 8));
    if (!x.key || !x.value) { errno = EINVAL; return -1; }
    memcpy(&x.flags, &flags, 4); /* the bits as they are, no conversion */
    if (x.hwcap & HWCAP_EXTENSION) continue;
    x.order = *n;
    (*entries)[(*n)++] = x;
  }
  return 0;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Compares two runs of digits as numbers of any length, without converting
 * them: a crafted cache's 30-digit version must not overflow anything. */
static int numcmp(const char **p1, const char **p2)
{
  while (**p1 == '0' && is_digit((*p1)[1])) (*p1)++;
  while (**p2 == '0' && is_digit((*p2)[1])) (*p2)++;
  const char *a = *p1, *b = *p2;
  size_t la = 0, lb = 0;
  while (is_digit(a[la])) la++;
  while (is_digit(b[lb])) lb++;
  *p1 += la;
  *p2 += lb;
  if (la != lb) return la < lb ? -1 : 1;
  int c = memcmp(a, b, la);
  return c < 0 ? -1 : c > 0;
}

/* glibc's _dl_cache_libcmp: runs of digits compare as numbers. */
static int libcmp(const char *p1, const char *p2)
{
  while (*p1) {
    if (is_digit(*p1)) {
      if (is_digit(*p2)) {
        int c = numcmp(&p1, &p2);
        if (c) return c;
      } else {
        return 1;
      }
    } else if (*p2 >= '0' && *p2 <= '9') {
      return -1;
    } else if (*p1 != *p2) {
      return (unsigned char)*p1 - (unsigned char)*p2;
    } else {
      p1++;
      p2++;
    }
  }
  return -(unsigned char)*p2;
}

/* Descending by name, as ldconfig writes it; ties keep input order. */
static int by_name_desc(const void *a, const void *b)
{
  const entry_t *x = a, *y = b;
  int c = libcmp(y->key, x->key);
  if (c) return c;
  return x->order < y->order ? -1 : x->order > y->order;
}

int ldcache_merge(const uint8_t *top, size_t top_len, const uint8_t *below, size_t below_len, uint8_t **out, size_t *out_len)
{
  entry_t *entries = NULL;
  size_t n = 0;
  uint8_t flags_top = 0, flags_below = 0;
  if (parse(top, top_len, &entries, &n, &flags_top) < 0 || parse(below, below_len, &entries, &n, &flags_below) < 0) {
    free(entries);
    return -1;
  }
  qsort(entries, n, sizeof *entries, by_name_desc);

  /* The output's offsets are 32-bit: every sum is checked against that. */
  size_t strings = 0;
  for (size_t i = 0; i < n && strings <= UINT32_MAX; i++) strings += strlen(entries[i].key) + strlen(entries[i].value) + 2;
  if (n > (UINT32_MAX - HEADER_SIZE) / ENTRY_SIZE || strings > UINT32_MAX - HEADER_SIZE - n * ENTRY_SIZE) {
    free(entries);
    errno = EFBIG;
    return -1;
  }
  size_t size = HEADER_SIZE + n * ENTRY_SIZE + strings;
  uint8_t *buf = calloc(1, size);
  if (!buf) { free(entries); return -1; }
  memcpy(buf, MAGIC, strlen(MAGIC));
  uint32_t nlibs = (uint32_t)n, len_strings = (uint32_t)strings;
  memcpy(buf + 20, &nlibs, 4);
  memcpy(buf + 24, &len_strings, 4);
  buf[28] = flags_top; /* endianness, as ldconfig recorded it */
  size_t s = HEADER_SIZE + n * ENTRY_SIZE;
  for (size_t i = 0; i < n; i++) {
    uint8_t *e = buf + HEADER_SIZE + i * ENTRY_SIZE;
    uint32_t key = (uint32_t)s, value;
    size_t kl = strlen(entries[i].key) + 1, vl = strlen(entries[i].value) + 1;
    memcpy(buf + s, entries[i].key, kl);
    s += kl;
    value = (uint32_t)s;
    memcpy(buf + s, entries[i].value, vl);
    s += vl;
    memcpy(e, &entries[i].flags, 4);
    memcpy(e + 4, &key, 4);
    memcpy(e + 8, &value, 4);
    memcpy(e + 12, &entries[i].osversion, 4);
    memcpy(e + 16, &entries[i].hwcap, 8);
  }
  free(entries);
  *out = buf;
  *out_len = size;
  return 0;
}

int ldcache_union(const uint8_t *top, size_t top_len, const uint8_t *below, size_t below_len, const char *out)
{
  uint8_t *buf = NULL;
  size_t size = 0;
  if (ldcache_merge(top, top_len, below, below_len, &buf, &size) < 0) return -1;
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp-%d", out, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  int ok = fd >= 0 && write_all(fd, buf, size) == 0;
  if (fd >= 0 && close(fd) < 0) ok = 0;
  free(buf);
  /* Whole, then renamed: a concurrent launch never reads half a cache. */
  if (!ok || rename(tmp, out) < 0) {
    int e = errno;
    unlink(tmp);
    errno = e;
    return -1;
  }
  return 0;
}
