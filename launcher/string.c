/* memcpy, memmove and memcmp for the static (musl) launcher.
 *
 * Why our own: a launch builds its records field by field (recbuf_bytes),
 * and the policy's AssemblyScript strings reach wasm3's memory.copy: tens of
 * thousands of copies of a few to a few hundred bytes each. musl's x86_64
 * memcpy is `rep movsq` whatever the size, with byte loops around it: some
 * 30 cycles to start even for 8 bytes. Its memcmp is a byte loop, and the
 * plan cache compares a launch's whole input (30 KB with 300 layers) with
 * its entry's key. Measured with 300 layers, musl's memcpy alone was ~1.4%
 * of a warm launch (docs/ARCHITECTURE.md, "The launcher's own cost per
 * launch").
 *
 * Here a copy of up to 64 bytes is two to eight unaligned loads and stores
 * that overlap in the middle (no loop, no branch per byte); a longer one
 * moves 32 bytes a step and ends with the last 32, overlapping; from 2 KiB
 * on x86_64, `rep movsb`, which CPUs with ERMS run at full speed. memcmp
 * compares eight bytes a step and orders the first differing word by its
 * bytes in memory order. Portable C otherwise: fixed-size __builtin_memcpy
 * compiles to plain loads and stores.
 *
 * Only the static musl build links this file (launcher/Makefile), as
 * alloc.c; test/unit/string_test.c checks every size to 600 at every
 * alignment, overlaps both ways, against byte loops. */
#include <stddef.h>
#include <stdint.h>

/* The loops below must not be turned back into calls to memcpy. */
#define NO_LIBCALL __attribute__((optimize("no-tree-loop-distribute-patterns")))

typedef struct {
  uint64_t a, b;
} u128_t;

static inline uint64_t ld8(const unsigned char *p)
{
  uint64_t v;
  __builtin_memcpy(&v, p, 8);
  return v;
}
static inline void st8(unsigned char *p, uint64_t v) { __builtin_memcpy(p, &v, 8); }
static inline uint32_t ld4(const unsigned char *p)
{
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}
static inline void st4(unsigned char *p, uint32_t v) { __builtin_memcpy(p, &v, 4); }
static inline u128_t ld16(const unsigned char *p)
{
  u128_t v;
  __builtin_memcpy(&v, p, 16);
  return v;
}
static inline void st16(unsigned char *p, u128_t v) { __builtin_memcpy(p, &v, 16); }

/* Up to 64 bytes: every load before any store, so it also serves memmove. */
static inline void copy_small(unsigned char *d, const unsigned char *s, size_t n)
{
  if (n >= 32) {
    u128_t a = ld16(s), b = ld16(s + 16), c = ld16(s + n - 32), e = ld16(s + n - 16);
    st16(d, a), st16(d + 16, b), st16(d + n - 32, c), st16(d + n - 16, e);
  } else if (n >= 16) {
    u128_t a = ld16(s), b = ld16(s + n - 16);
    st16(d, a), st16(d + n - 16, b);
  } else if (n >= 8) {
    uint64_t a = ld8(s), b = ld8(s + n - 8);
    st8(d, a), st8(d + n - 8, b);
  } else if (n >= 4) {
    uint32_t a = ld4(s), b = ld4(s + n - 4);
    st4(d, a), st4(d + n - 4, b);
  } else if (n) {
    unsigned char a = s[0], b = s[n / 2], c = s[n - 1];
    d[0] = a, d[n / 2] = b, d[n - 1] = c;
  }
}

NO_LIBCALL void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
  unsigned char *d = dst;
  const unsigned char *s = src;
  if (n <= 64) {
    copy_small(d, s, n);
    return dst;
  }
#if defined(__x86_64__)
  if (n >= 2048) {
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    return dst;
  }
#endif
  u128_t ta = ld16(s + n - 32), tb = ld16(s + n - 16);
  for (size_t i = 0; i + 32 < n; i += 32) {
    u128_t a = ld16(s + i), b = ld16(s + i + 16);
    st16(d + i, a), st16(d + i + 16, b);
  }
  st16(d + n - 32, ta), st16(d + n - 16, tb);
  return dst;
}

NO_LIBCALL void *memmove(void *dst, const void *src, size_t n)
{
  unsigned char *d = dst;
  const unsigned char *s = src;
  if (n <= 64) {
    copy_small(d, s, n); /* loads first: any overlap is safe */
    return dst;
  }
  if ((uintptr_t)d - (uintptr_t)s >= n) {
    /* d below s, or no overlap: forwards, each step loaded before stored;
     * the last 32 bytes loaded first, before a step can overwrite them. */
    u128_t ta = ld16(s + n - 32), tb = ld16(s + n - 16);
    size_t i = 0;
    for (; i + 32 < n; i += 32) {
      u128_t a = ld16(s + i), b = ld16(s + i + 16);
      st16(d + i, a), st16(d + i + 16, b);
    }
    st16(d + n - 32, ta), st16(d + n - 16, tb);
  } else {
    /* d above s, overlapping: backwards, the first 32 bytes loaded first. */
    u128_t ha = ld16(s), hb = ld16(s + 16);
    size_t i = n;
    for (; i > 32; i -= 32) {
      u128_t a = ld16(s + i - 32), b = ld16(s + i - 16);
      st16(d + i - 32, a), st16(d + i - 16, b);
    }
    st16(d, ha), st16(d + 16, hb);
  }
  return dst;
}

NO_LIBCALL int memcmp(const void *pa, const void *pb, size_t n)
{
  const unsigned char *a = pa, *b = pb;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x = ld8(a + i), y = ld8(b + i);
    if (x != y) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      x = __builtin_bswap64(x), y = __builtin_bswap64(y);
#endif
      return x < y ? -1 : 1;
    }
  }
  for (; i < n; i++)
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}
