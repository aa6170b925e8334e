/* Unit tests of launcher/alloc.c, the static launcher's malloc: linked into
 * this program in place of the libc's (with musl-gcc when the build has it,
 * as the launcher is), so every allocation here, printf's included, is its.
 * Each block is filled with a pattern of its own and checked after the
 * others are made, grown, shrunk and freed: arena blocks (the cases that
 * need a fresh arena first), the arena's last
 * block reused in place, blocks of 64 KiB and more in their own mappings,
 * the arena exhausted, aligned blocks, calloc on reused memory, wasm3's
 * realloc. Built and
 * run by `make -C launcher unit` (no sanitizer: ASan brings its own malloc);
 * test/unit.test.ts runs it. TAP output. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* wasm3's realloc as the launcher's link routes it (launcher/alloc.c). */
void *__wrap_m3_Realloc_Impl(void *p, size_t n, size_t old);

#include "tap.h"

static void fill(unsigned char *p, size_t len, unsigned tag)
{
  for (size_t i = 0; i < len; i++) p[i] = (unsigned char)(tag * 131 + i * 7);
}

/* Writes that the compiler may not drop as dead before a free. */
static void dirty(unsigned char *p, size_t len, unsigned char v)
{
  volatile unsigned char *q = p;
  for (size_t i = 0; i < len; i++) q[i] = v;
}

/* A block of DIRTY bytes dirtied and freed (the arena's last), then
 * calloc(M, N): the same address, all M * N bytes zero. */
static int calloc_over_dirty(size_t dirty_len, size_t m, size_t n)
{
  unsigned char *a = malloc(dirty_len);
  dirty(a, dirty_len, 0xAB);
  free(a);
  unsigned char *z = calloc(m, n);
  int ok = z == a;
  for (size_t i = 0; i < m * n && ok; i++) ok = z[i] == 0;
  free(z);
  return ok;
}

static int check(const unsigned char *p, size_t len, unsigned tag)
{
  for (size_t i = 0; i < len; i++)
    if (p[i] != (unsigned char)(tag * 131 + i * 7)) return 0;
  return 1;
}

static unsigned long long seed = 0x2545f4914f6cdd1dULL;
static size_t rnd(size_t below)
{
  seed ^= seed << 13;
  seed ^= seed >> 7;
  seed ^= seed << 17;
  return (size_t)(seed % below);
}

#define SLOTS 64

int main(void)
{
  printf("1..10\n");
  char detail[200] = "";

  /* The arena's last block grows and shrinks in place; freed, its memory is
   * the next block's. */
  {
    char *a = malloc(100);
    char *b = realloc(a, 4000);
    char *c = realloc(b, 10);
    free(c);
    char *d = malloc(50);
    report(a == b && b == c && d == a, "the arena's last block is grown, shrunk and reused in place", "");
    free(d);
  }

  /* A block that is not the last is copied when it grows, and stays when it shrinks. */
  {
    unsigned char *a = malloc(64), *b = malloc(64);
    fill(a, 64, 1);
    fill(b, 64, 2);
    unsigned char *a2 = realloc(a, 32);
    unsigned char *a3 = realloc(a2, 1000);
    int ok = a2 == a && a3 != a && check(a3, 32, 1) && check(b, 64, 2);
    report(ok, "a block that is not the last stays when it shrinks and is copied when it grows", "");
    free(a3);
    free(b);
  }

  /* calloc zeroes memory a freed last block left dirty. */
  report(calloc_over_dirty(256, 16, 16), "calloc zeroes a reused block", "");

  /* calloc zeroes the part of a block a freed block left dirty, and leaves
   * the arena's never-used part, which is zero, untouched; wasm3's realloc
   * (routed to __wrap_m3_Realloc_Impl in the launcher's link) zeroes what a
   * block grows by in the same way, keeping what it held. */
  {
    int ok = calloc_over_dirty(256, 1, 4096);
    unsigned char *z;
    /* A last block grown in place raises the mark too: past anything used
     * so far (spacers below BIG stay in the arena). */
    void *spacer[3];
    for (int i = 0; i < 3; i++) dirty(spacer[i] = malloc(60000), 1, 1);
    unsigned char *r = malloc(16);
    r = realloc(r, 2048);
    dirty(r, 2048, 0xEE);
    free(r);
    z = calloc(1, 2048);
    for (int i = 0; i < 2048 && ok; i++) ok = z[i] == 0;
    report(ok, "calloc over a dirty block, a block grown in place, and never-used arena memory: all zero", "");
    free(z);
    for (int i = 0; i < 3; i++) free(spacer[i]);
    unsigned char *d = malloc(512);
    dirty(d, 512, 0xCD);
    free(d);
    unsigned char *b = malloc(64);
    memset(b, 0x11, 64);
    unsigned char *g = __wrap_m3_Realloc_Impl(b, 512, 64);
    ok = g == b;
    for (int i = 0; i < 512 && ok; i++) ok = g[i] == (i < 64 ? 0x11 : 0);
    size_t big = 256u << 10;
    unsigned char *m = __wrap_m3_Realloc_Impl(NULL, big, 0);
    for (size_t i = 0; i < big && ok && m; i += 4093) ok = m[i] == 0;
    if (m) memset(m, 0x22, big);
    unsigned char *m2 = m ? __wrap_m3_Realloc_Impl(m, 2 * big, big) : NULL;
    for (size_t i = 0; i < 2 * big && ok && m2; i += 4093) ok = m2[i] == (i < big ? 0x22 : 0);
    report(ok && m2, "wasm3's realloc: a block grown in the arena or as a mapping keeps its bytes, the rest zero", "");
    free(g);
    free(m2);
  }

  /* Small and large blocks, made, grown, shrunk and freed at random: every
   * live block keeps its contents and is 16-byte aligned. */
  {
    unsigned char *p[SLOTS] = {0};
    size_t len[SLOTS] = {0};
    int ok = 1;
    for (int step = 0; step < 20000 && ok; step++) {
      size_t s = rnd(SLOTS);
      size_t want = rnd(8) == 0 ? 60000 + rnd(100000) : rnd(600);
      switch (rnd(3)) {
      case 0:
        free(p[s]);
        p[s] = malloc(want);
        break;
      case 1:
        p[s] = realloc(p[s], want);
        if (p[s] && !check(p[s], len[s] < want ? len[s] : want, s)) {
          ok = 0;
          snprintf(detail, sizeof detail, "step %d: realloc of slot %zu from %zu to %zu lost its contents", step, s, len[s], want);
        }
        break;
      default:
        free(p[s]);
        p[s] = NULL;
        want = 0;
      }
      if (want && !p[s]) {
        ok = 0;
        snprintf(detail, sizeof detail, "step %d: no memory for %zu bytes", step, want);
        break;
      }
      if (p[s] && (uintptr_t)p[s] % 16) {
        ok = 0;
        snprintf(detail, sizeof detail, "step %d: %p is not 16-byte aligned", step, (void *)p[s]);
      }
      len[s] = p[s] ? want : 0;
      if (p[s]) fill(p[s], want, s);
      for (size_t t = 0; t < SLOTS && ok; t++)
        if (p[t] && !check(p[t], len[t], t)) {
          ok = 0;
          snprintf(detail, sizeof detail, "step %d: slot %zu (%zu bytes) was overwritten", step, t, len[t]);
        }
    }
    for (size_t t = 0; t < SLOTS; t++) free(p[t]);
    report(ok, "20000 random mallocs, reallocs and frees of 0-600 B and 60-160 KiB keep every block's contents", detail);
  }

  /* Large blocks: their own mapping, zeroed by calloc, grown by mremap with
   * their contents, given back by free. */
  {
    size_t big = 1 << 20;
    unsigned char *p = malloc(big);
    fill(p, big, 9);
    unsigned char *q = realloc(p, 8 * big);
    int ok = q && check(q, big, 9);
    unsigned char *r = realloc(q, 100);
    ok = ok && r && check(r, 100, 9);
    free(r);
    unsigned char *z = calloc(1, big);
    for (size_t i = 0; i < big && ok; i += 4096) ok = z[i] == 0 && z[big - 1] == 0;
    free(z);
    report(ok, "blocks of 1-8 MiB: own mappings, grown and shrunk with their contents, calloc zeroed", "");
  }

  /* The arena exhausted: small blocks still come, from mappings. */
  {
    enum { N = 3000 };
    static unsigned char *p[N];
    int ok = 1;
    for (int i = 0; i < N && ok; i++) {
      p[i] = malloc(400);
      if (!p[i]) ok = 0;
      else fill(p[i], 400, (unsigned)i);
    }
    for (int i = 0; i < N && ok; i++) ok = check(p[i], 400, (unsigned)i) && (uintptr_t)p[i] % 16 == 0;
    for (int i = N - 1; i >= 0; i--) free(p[i]);
    report(ok, "1.2 MB of 400-byte blocks (past the arena) keep their contents and alignment", "");
  }

  /* Alignments up to a page from the arena, larger from a mapping. */
  {
    int ok = 1;
    size_t aligns[] = {16, 32, 64, 256, 4096, 8192, 65536};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
      void *a = aligned_alloc(aligns[i], 100), *m = memalign(aligns[i], 70000), *pm = NULL;
      int r = posix_memalign(&pm, aligns[i], 10);
      ok = ok && a && m && r == 0 && (uintptr_t)a % aligns[i] == 0 && (uintptr_t)m % aligns[i] == 0 && (uintptr_t)pm % aligns[i] == 0;
      if (m) memset(m, 1, 70000);
      free(a), free(m), free(pm);
    }
    void *pm = NULL;
    ok = ok && posix_memalign(&pm, 24, 10) == EINVAL && aligned_alloc(3, 10) == NULL;
    report(ok, "aligned_alloc, memalign and posix_memalign align to 16 B-64 KiB; a bad alignment is refused", "");
  }

  /* Sizes no process can have fail cleanly. */
  {
    volatile size_t huge = SIZE_MAX; /* not known to the compiler, which would refuse the calls */
    errno = 0;
    void *a = malloc(huge - 8), *b = calloc(huge / 2, 4);
    void *c = malloc(10);
    void *d = realloc(c, huge - 100);
    /* A failed realloc leaves the block as it was (GCC cannot know it failed). */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif
    report(!a && !b && !d && errno == ENOMEM && malloc_usable_size(c) == 10, "impossible sizes return NULL with ENOMEM and leave the block", "");
    free(c);
  }

  if (tap_failed) printf("# %d of %d failed\n", tap_failed, tap_count);
  return tap_failed ? 1 : 0;
}
