/* The static (musl) launcher's allocator: malloc and friends for a process
 * that lives for one exec.
 *
 * Why our own: every wrapped program's launch, and every exec inside a view
 * (the fast path), runs this binary once, allocates a few tens of KB and
 * execs. musl's mallocng costs such a process page faults on its metadata
 * and slots and an mmap/munmap per size class it touches, over half of a
 * warm launch's page faults. Here a launch bumps through one static arena
 * in .bss: only the pages it touches cost, no system call, no metadata.
 *
 *   - Every block has a 16-byte header (its size, and where its mapping
 *     starts when it has one) and is 16-byte aligned, as malloc's are.
 *   - free and realloc of the arena's last block reuse it in place (the
 *     record buffers grow by realloc; wasm3 frees what it just made); any
 *     other arena block is not reused: the process is short-lived.
 *   - Blocks of BIG bytes or more, and any block once the arena is full, get
 *     their own mmap, given back by munmap on free and grown by mremap: wasm3's
 *     cold path (compiling the policy, its linear memory) allocates and frees
 *     far more than it keeps, and the launcher's peak RSS must stay small.
 *
 * Only the static musl build links this file (launcher/Makefile): the glibc
 * build, the sanitizer build and the test harnesses keep their libc's
 * allocator (ASan must see every allocation). The launcher is single-
 * threaded (wasm3 starts no threads), so there is no lock. Every entry
 * point musl's static libc has is defined here, so the link takes none of
 * mallocng (launcher/Makefile checks the binary with nm). Unit-tested by
 * test/unit/alloc_test.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mremap */
#endif
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ALIGN 16
#define HDR 16
/* 512 KiB: a warm launch uses a few tens of KB, a cold one's small blocks
 * fit too; untouched pages of .bss cost nothing. */
#define ARENA_SIZE (512u << 10)
#define BIG (64u << 10)
#define PAGE 4096u

typedef struct {
  size_t size; /* what the caller asked for */
  size_t map;  /* 0: in the arena; else the offset of the payload in its own mapping */
} hdr_t;

/* The allocator's state and its arena share their first page, and
 * arena_touch writes that page before anything reads it: a page of .bss
 * first read is mapped to the zero page and faults again when written, so
 * state on a page of its own cost three faults (read, arena, write) where
 * this costs one (~1.7 us each on a VM). */
static struct {
  size_t top; /* the arena's first free byte */
  /* The most the arena has ever handed out: every byte from here on is as
   * .bss started, zero, and need not be zeroed again. */
  size_t hwm;
  void *last; /* the payload of the arena's last block, or NULL */
  unsigned char arena[ARENA_SIZE] __attribute__((aligned(ALIGN)));
} A __attribute__((aligned(PAGE)));

__attribute__((constructor)) static void arena_touch(void) { *(volatile size_t *)&A.top = 0; }

static inline hdr_t *hdr_of(void *p) { return (hdr_t *)((unsigned char *)p - HDR); }
static inline size_t round_up(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }
static inline size_t map_len(const hdr_t *h) { return round_up(h->map + h->size, PAGE); }

static void *map_block(size_t n, size_t align)
{
  /* A page-aligned mapping serves any alignment up to a page; a larger
   * one is mapped long enough to hold an aligned payload, the tail unmapped. */
  size_t extra = align > PAGE ? align : 0;
  if (n > SIZE_MAX - HDR - extra - 2 * PAGE) { errno = ENOMEM; return NULL; }
  size_t len = round_up(round_up(HDR, align) + extra + n, PAGE);
  unsigned char *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) { errno = ENOMEM; return NULL; }
  unsigned char *p = (unsigned char *)round_up((uintptr_t)base + HDR, align);
  hdr_t *h = hdr_of(p);
  h->size = n;
  h->map = (size_t)(p - base);
  size_t used = map_len(h);
  if (used < len) munmap(base + used, len - used);
  return p;
}

/* align: a power of two, at least ALIGN (the arena serves up to a page). */
static void *alloc(size_t n, size_t align)
{
  if (n < BIG && align <= PAGE) {
    size_t at = round_up(A.top + HDR, align);
    if (at <= ARENA_SIZE && ARENA_SIZE - at >= n) {
      hdr_t *h = (hdr_t *)(A.arena + at - HDR);
      h->size = n;
      h->map = 0;
      A.top = round_up(at + n, ALIGN);
      if (A.top > A.hwm) A.hwm = A.top;
      return A.last = A.arena + at;
    }
  }
  return map_block(n, align);
}

void *malloc(size_t n) { return alloc(n, ALIGN); }

void free(void *p)
{
  if (!p) return;
  hdr_t *h = hdr_of(p);
  if (h->map) {
    munmap((unsigned char *)p - h->map, map_len(h));
    return;
  }
  if (p == A.last) {
    A.top = (size_t)((unsigned char *)h - A.arena);
    A.last = NULL;
  }
}

/* Zeroes bytes [from, to) of block p where they may not be zero: a
 * mapping's (fresh, or grown by mremap) are; so are the arena's above what
 * it ever handed out before this block. Every page of a short-lived process
 * costs a page fault when first written (~3 us on a VM, docs/ARCHITECTURE.md
 * "The launcher's own cost per launch"): zeroing zeros would fault in pages
 * a caller may never use. */
static void zero(unsigned char *p, size_t from, size_t to, size_t hwm_before)
{
  size_t at = (size_t)((uintptr_t)p - (uintptr_t)A.arena);
  if (at >= ARENA_SIZE || from >= to) return; /* a mapping */
  size_t clean = hwm_before > at ? hwm_before - at : 0; /* bytes below this may be dirty */
  if (to > clean) to = clean;
  if (from < to) memset(p + from, 0, to - from);
}

void *calloc(size_t m, size_t n)
{
  if (n && m > SIZE_MAX / n) { errno = ENOMEM; return NULL; }
  size_t before = A.hwm;
  unsigned char *p = alloc(m * n, ALIGN);
  if (p) zero(p, 0, m * n, before);
  return p;
}

void *realloc(void *p, size_t n)
{
  if (!p) return malloc(n);
  hdr_t *h = hdr_of(p);
  if (h->map) {
    size_t off = h->map; /* read before the mapping moves */
    if (n > SIZE_MAX - off - PAGE) { errno = ENOMEM; return NULL; }
    size_t old = map_len(h), len = round_up(off + n, PAGE);
    if (len != old) {
      unsigned char *base = mremap((unsigned char *)p - off, old, len, MREMAP_MAYMOVE);
      if (base == MAP_FAILED) { errno = ENOMEM; return NULL; }
      p = base + off;
      h = hdr_of(p);
    }
    h->size = n;
    return p;
  }
  size_t at = (size_t)((unsigned char *)p - A.arena);
  if (p == A.last && n < BIG && ARENA_SIZE - at >= n) {
    h->size = n;
    A.top = round_up(at + n, ALIGN);
    if (A.top > A.hwm) A.hwm = A.top;
    return p;
  }
  if (n <= h->size) {
    h->size = n;
    return p;
  }
  void *q = malloc(n);
  if (!q) return NULL;
  memcpy(q, p, h->size);
  free(p);
  return q;
}

static int align_ok(size_t a) { return a && !(a & (a - 1)); }

void *aligned_alloc(size_t align, size_t n)
{
  if (!align_ok(align)) { errno = EINVAL; return NULL; }
  return alloc(n, align < ALIGN ? ALIGN : align);
}

void *memalign(size_t align, size_t n) { return aligned_alloc(align, n); }

int posix_memalign(void **out, size_t align, size_t n)
{
  if (!align_ok(align) || align % sizeof(void *)) return EINVAL;
  void *p = alloc(n, align < ALIGN ? ALIGN : align);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

size_t malloc_usable_size(void *p) { return p ? hdr_of(p)->size : 0; }

/* wasm3's realloc (m3_core.c), which zeroes what a block grows by: its
 * linear memory, 64 KiB at a cold launch of which a policy touches a part,
 * is one. The static launcher's link routes wasm3's calls here
 * (-Wl,--wrap, launcher/Makefile); the same, zeroing only what may not be
 * zero. */
void *__wrap_m3_Realloc_Impl(void *p, size_t n, size_t old)
{
  if (n == old) return p;
  size_t before = A.hwm;
  unsigned char *q = realloc(p, n);
  if (q && n > old) zero(q, old, n, before);
  return q;
}
