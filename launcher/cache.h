/* What the launcher keeps between launches (cache.c): the plan cache and the
 * union ld.so.caches of nested views. Each entry is its whole input's (a
 * plan's key is kept in it and compared, a union is named by the sha256 of
 * both caches), so an entry can only ever be what its input would make. */
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
/* An entry's name in the cache dir: PREFIX and 16 hex digits of a fast
 * 64-bit hash of its key, mixed in parts (cache_key_mix, from 0). The key
 * must be kept in the entry and compared on use: the name alone proves
 * nothing. */
#define CACHE_NAME_MAX 32
uint64_t cache_key_mix(uint64_t h, const void *bytes, size_t n);
void cache_key_name(const char *prefix, uint64_t h, char out[CACHE_NAME_MAX]);

/* A plan cache key, and the entry it names ("" when the cache is off or
 * unusable). */
typedef struct {
  const char *module_sha, *module_id;
  const uint8_t *in;
  size_t inlen;
  char file[PATH_MAX];
} plan_key_t;
/* The cached plan of module `module_sha`, whose file has identity
 * `module_id` (NULL: no lookup), for this input: true with *res filled when
 * there is one. On a hit the module is neither read nor hashed: the key
 * holds the identity the file had when its hash was checked and the plan
 * made. `key` receives the key, for plan_cache_store; it points into the
 * arguments, which must outlive it. */
bool plan_cache_lookup(const char *module_sha, const char *module_id, const uint8_t *in, size_t inlen, plan_key_t *key,
                       policy_result_t *res);
void plan_cache_store(const plan_key_t *key, const policy_result_t *res);

/* For a plan with an ldcache-union op: the union of the package's cache and
 * the current view's /etc/ld.so.cache, made once per pair of contents.
 * `out` receives its path, or "" when it cannot be had (the op then binds
 * the package's own cache). */
void prepare_union_ldcache(const plan_t *plan, char out[PATH_MAX]);

/* Content-addressed read-only directories in the same cache dir (the
 * in-place view's marker layer, view.c). Each is made once, in a fresh
 * temporary directory beside it, made read-only (files 0444, dirs 0555) and
 * renamed into place; never changed after. Every failure returns -1 and
 * the caller makes its layer another way: the cache is never a reason for a
 * launch to fail. */

/* The cache dir as an O_PATH fd, owned by the caller and not writable by
 * others (checked on the fd), or -1 (FHS_PLAN_CACHE=off, none usable).
 * `path` receives its path (for mkdtemp). */
int cache_dir_open(char path[PATH_MAX]);
/* Entry `name` of the cache dir `cdir`, opened O_PATH without following any
 * symlink (openat2 RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH): a directory owned
 * by the caller with no write bit for anyone (a finished entry is 0555).
 * -1 with errno ENOENT when there is none, EPERM when there is one that is
 * not that (tampered, or not ours: not used, not replaced). */
int cache_entry_open(int cdir, const char *name);
/* A fresh temporary directory in the cache dir (mkdtemp, 0700), opened
 * O_RDONLY|O_DIRECTORY to fill; `tmp` receives its name in cdir. -1 on failure. */
int cache_entry_begin(int cdir, const char *dirpath, char tmp[64]);
/* Makes the filled temporary read-only (every dir 0555, every regular file
 * 0444) and renames it to `name`, never over an existing entry: 0 when
 * `name` now exists (ours, or an identical one that won the race, ours
 * then removed), -1 on failure (ours removed). Closes tmpfd. */
int cache_entry_publish(int cdir, const char *tmp, int tmpfd, const char *name);
/* Removes a temporary left unfinished (and closes tmpfd). */
void cache_entry_discard(int cdir, const char *tmp, int tmpfd);
