/* libFuzzer harness: the union of two ld.so.cache files (ldcache.c), which a
 * nested launch computes from the package's cache (the caller's file) and the
 * view's. Input: 2 bytes giving the length of the first cache, then both.
 * Properties: never crashes, no undefined behaviour, never reads outside
 * either input; a union it makes is itself a cache it accepts, holding
 * exactly as many entries as the two inputs' non-hwcap entries. */
#include <stdlib.h>
#include <string.h>

#include "../ldcache.h"

static uint32_t nlibs(const uint8_t *c) { uint32_t n; memcpy(&n, c + 20, 4); return n; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 2) return 0;
  size_t split = (size_t)(data[0] | data[1] << 8);
  data += 2;
  size -= 2;
  if (split > size) split = size;
  /* Separate, exact-size copies: ASan sees a read past either end. */
  uint8_t *top = malloc(split ? split : 1), *below = malloc(size - split ? size - split : 1);
  memcpy(top, data, split);
  memcpy(below, data + split, size - split);
  uint8_t *out = NULL;
  size_t out_len = 0;
  if (ldcache_merge(top, split, below, size - split, &out, &out_len) == 0) {
    static const uint8_t empty[48] = "glibc-ld.so.cache1.1";
    uint8_t *again = NULL;
    size_t again_len = 0;
    if (ldcache_merge(out, out_len, empty, sizeof empty, &again, &again_len) != 0) abort();
    if (nlibs(again) != nlibs(out)) abort();
    free(again);
    free(out);
  }
  free(top);
  free(below);
  return 0;
}
