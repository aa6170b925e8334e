/* What the launcher keeps between launches (cache.c): the plan cache and the
 * union ld.so.caches of nested views. Both are keyed by the sha256 of their
 * whole input, so an entry can only ever be what its input would make. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plan.h"
#include "policy.h"

/* The module file's identity (device, inode, size, mtime, ctime) as text;
 * false when it cannot be stat'ed. */
bool module_identity(const char *path, char *out, size_t n);
/* The cached plan of module `module_sha`, whose file has identity
 * `module_id` (NULL: no lookup), for this input: true with *res filled when
 * there is one. On a hit the module is neither read nor hashed: the key
 * holds the identity the file had when its hash was checked and the plan
 * made. `file` receives the entry's path ("" when the cache is off or
 * unusable), for plan_cache_store. */
bool plan_cache_lookup(const char *module_sha, const char *module_id, const uint8_t *in, size_t inlen, char *file, size_t n,
                       policy_result_t *res);
void plan_cache_store(const char *file, const policy_result_t *res);

/* For a plan with an ldcache-union op: the union of the package's cache and
 * the current view's /etc/ld.so.cache, made once per pair of contents.
 * `out` receives its path, or "" when it cannot be had (the op then binds
 * the package's own cache). */
void prepare_union_ldcache(const plan_t *plan, char out[PATH_MAX]);
