/* Union of two ld.so.cache files, for nested views (docs/ARCHITECTURE.md,
 * "Libraries"). */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Writes to `out` a cache holding the entries of `top` (the package's, whose
 * layers are on top) and then those of `below` (the current view's), in the
 * order the dynamic loader searches. Returns 0, or -1 when an input is not a
 * glibc ld.so.cache in the new format (errno EINVAL) or writing fails. */
int ldcache_union(const uint8_t *top, size_t top_len, const uint8_t *below, size_t below_len, const char *out);

/* The same union in memory: *out (malloc'd, *out_len bytes) on success.
 * No file is touched (the fuzzer drives this). */
int ldcache_merge(const uint8_t *top, size_t top_len, const uint8_t *below, size_t below_len, uint8_t **out, size_t *out_len);
