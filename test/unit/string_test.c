/* Unit tests of launcher/string.c, the static launcher's memcpy, memmove and
 * memcmp: linked into this program in place of the libc's (with musl-gcc
 * when the build has it, as the launcher is). Each is checked against a byte
 * loop of this file's own: every size from 0 to 600 and a few large ones, at
 * every source and destination alignment to 16; memmove at every overlap
 * both ways; memcmp with the first difference at every position, and its
 * sign for bytes above 0x7f. The bytes around each destination must stay as
 * they were. Built and run by `make -C launcher unit`; test/unit.test.ts
 * runs it. TAP output. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

/* The reference: byte loops the compiler may not turn into library calls
 * (volatile), used for every expected value and every check. */
static void ref_move(volatile unsigned char *d, const volatile unsigned char *s, size_t len)
{
  if (d < s)
    for (size_t i = 0; i < len; i++) d[i] = s[i];
  else
    for (size_t i = len; i-- > 0;) d[i] = s[i];
}

static int sign(int x) { return (x > 0) - (x < 0); }

static int ref_cmp(const volatile unsigned char *a, const volatile unsigned char *b, size_t len)
{
  for (size_t i = 0; i < len; i++)
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

static void pattern(unsigned char *p, size_t len, unsigned seed)
{
  for (size_t i = 0; i < len; i++) p[i] = (unsigned char)((seed + i) * 2654435761u >> 13);
}

#define MAXLEN 70000
#define PAD 64
static unsigned char src[MAXLEN + 2 * PAD], dst[MAXLEN + 2 * PAD], want[MAXLEN + 2 * PAD], buf[3 * MAXLEN], ref[3 * MAXLEN];

/* Sizes: every one to 600, then a few around the strategies' edges and large. */
static size_t sizes[700];
static size_t nsizes;

static void copies(void)
{
  char detail[160] = "";
  int ok = 1;
  for (size_t z = 0; z < nsizes && ok; z++) {
    size_t len = sizes[z];
    for (size_t sa = 0; sa < 16 && ok; sa++)
      for (size_t da = 0; da < 16 && ok; da++) {
        if (len > 4096 && (sa % 5 || da % 7)) continue;
        pattern(src, sizeof src, (unsigned)(len + sa));
        pattern(dst, sizeof dst, (unsigned)(len * 3 + da + 1));
        ref_move(want, dst, sizeof dst);
        ref_move(want + PAD + da, src + PAD + sa, len);
        void *r = memcpy(dst + PAD + da, src + PAD + sa, len);
        if (r != dst + PAD + da || ref_cmp(dst, want, sizeof dst) != 0) {
          ok = 0;
          snprintf(detail, sizeof detail, "memcpy of %zu bytes, source +%zu, destination +%zu", len, sa, da);
        }
      }
  }
  report(ok, "memcpy: every size to 600 and large ones, every alignment, nothing around the destination touched", detail);
}

static void moves(void)
{
  char detail[160] = "";
  int ok = 1;
  for (size_t z = 0; z < nsizes && ok; z++) {
    size_t len = sizes[z];
    if (len > MAXLEN) continue;
    for (long shift = -70; shift <= 70 && ok; shift++) {
      if (len > 4096 && shift % 9) continue;
      size_t from = MAXLEN, to = (size_t)((long)MAXLEN + shift);
      pattern(buf, sizeof buf, (unsigned)(len + (size_t)(shift + 100)));
      ref_move(ref, buf, sizeof buf);
      ref_move(ref + to, ref + from, len);
      void *r = memmove(buf + to, buf + from, len);
      if (r != buf + to || ref_cmp(buf, ref, sizeof buf) != 0) {
        ok = 0;
        snprintf(detail, sizeof detail, "memmove of %zu bytes by %ld", len, shift);
      }
    }
    /* Far apart, as memcpy. */
    pattern(buf, sizeof buf, (unsigned)len);
    ref_move(ref, buf, sizeof buf);
    ref_move(ref + 1, ref + MAXLEN + 3, len);
    memmove(buf + 1, buf + MAXLEN + 3, len);
    if (ref_cmp(buf, ref, sizeof buf) != 0) {
      ok = 0;
      snprintf(detail, sizeof detail, "memmove of %zu bytes, not overlapping", len);
    }
  }
  report(ok, "memmove: every overlap of -70 to 70 bytes both ways, every size to 600 and large ones", detail);
}

static void compares(void)
{
  char detail[160] = "";
  int ok = 1;
  for (size_t z = 0; z < nsizes && ok; z++) {
    size_t len = sizes[z];
    if (len > 4096) continue;
    for (size_t a = 0; a < 8 && ok; a++) {
      pattern(src, sizeof src, (unsigned)len);
      ref_move(dst + a, src, len);
      if (memcmp(src, dst + a, len) != 0) {
        ok = 0;
        snprintf(detail, sizeof detail, "equal %zu bytes (+%zu) compared unequal", len, a);
      }
      for (size_t at = 0; at < len && ok; at++) {
        unsigned char keep = dst[a + at];
        /* Above and below, across 0x80: memcmp orders bytes as unsigned. */
        for (int delta = -200; delta <= 200 && ok; delta += 100) {
          dst[a + at] = (unsigned char)(keep + delta);
          if (dst[a + at] == keep) continue;
          int want_sign = ref_cmp(src, dst + a, len), got = sign(memcmp(src, dst + a, len));
          if (got != want_sign) {
            ok = 0;
            snprintf(detail, sizeof detail, "%zu bytes (+%zu), first difference at %zu (%#x vs %#x): %d, want %d", len, a, at, src[at],
                     dst[a + at], got, want_sign);
          }
        }
        dst[a + at] = keep;
        if (len > 300 && at > 64) at += 37;
      }
    }
  }
  report(ok, "memcmp: the first difference at every position, bytes above 0x7f as unsigned", detail);
}

int main(void)
{
  for (size_t i = 0; i <= 600; i++) sizes[nsizes++] = i;
  const size_t more[] = {1023, 1024, 2047, 2048, 2049, 4095, 4096, 4097, 8191, 30000, 65536, MAXLEN};
  for (size_t i = 0; i < sizeof more / sizeof *more; i++) sizes[nsizes++] = more[i];
  printf("1..3\n");
  copies();
  moves();
  compares();
  return tap_failed != 0;
}
