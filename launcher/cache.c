#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "abi.h"
#include "ldcache.h"
#include "sha256.h"
#include "util.h"

/* The plan cache. The policy is a pure function of its module and its input,
 * so its plan for the same bytes is the same plan: a launch whose input was
 * seen before skips wasm3 (load, compile, run: most of a launch's cost) and
 * reads the plan it produced then. The plan is validated exactly as a fresh
 * one, so an entry can never do what a policy's answer could not.
 *
 * Entries live in a directory only the caller owns (mode 0700, checked):
 * $XDG_RUNTIME_DIR/fhs-plans, else /tmp/fhs-plans-UID. The key is the
 * module's sha256, the module file's identity (module_identity) and the
 * input, kept in the entry and compared whole (its hash only names it); on a
 * hit the module is neither read nor hashed.
 * FHS_PLAN_CACHE=off disables it.
 * Failures to read or write the cache are not errors: the policy runs. */
static bool cache_dir(char *dir, size_t n)
{
  const char *off = getenv("FHS_PLAN_CACHE");
  if (off && !strcmp(off, "off")) return false;
  uid_t uid = getuid();
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  if (xdg && xdg[0] == '/') {
    if (!path_join(dir, n, xdg, "fhs-plans")) return false;
  } else {
    int m = snprintf(dir, n, "/tmp/fhs-plans-%u", uid);
    if (m < 0 || (size_t)m >= n) return false;
  }
  struct stat st;
  /* Made once: a launch finds it (one lstat, not a failing mkdir and then
   * the lstat). Someone else's directory, or one others may write to, is
   * not ours to trust. */
  if (lstat(dir, &st) < 0) {
    if (errno != ENOENT || (mkdir(dir, 0700) < 0 && errno != EEXIST) || lstat(dir, &st) < 0) return false;
  }
  return S_ISDIR(st.st_mode) && st.st_uid == uid && !(st.st_mode & 022);
}

/* Appends ":" and `v` in hex to out[*at], if it fits (one byte kept for the NUL). */
static bool put_hex(char *out, size_t n, size_t *at, unsigned long long v)
{
  char tmp[17];
  size_t k = sizeof tmp;
  do tmp[--k] = "0123456789abcdef"[v & 15]; while (v >>= 4);
  size_t len = sizeof tmp - k;
  if (*at + 1 + len >= n) return false;
  out[(*at)++] = ':';
  memcpy(out + *at, tmp + k, len);
  *at += len;
  out[*at] = 0;
  return true;
}

/* The module file as the kernel knows it: a write, a replacement or a
 * chmod changes its ctime or inode (and a user cannot set a ctime), so a
 * module changed since its plan was cached misses the cache and is read,
 * hashed and refused as ever. Device, inode, size, mtime and ctime (seconds
 * and nanoseconds), in hex, each after a ':'; written by hand, not by
 * snprintf: every launch makes it, the fast path's included. */
bool module_identity(const char *path, char *out, size_t n)
{
  struct stat st;
  if (stat(path, &st) < 0 || n == 0) return false;
  size_t at = 0;
  out[0] = 0;
  return put_hex(out, n, &at, (unsigned long long)st.st_dev) && put_hex(out, n, &at, (unsigned long long)st.st_ino) &&
         put_hex(out, n, &at, (unsigned long long)st.st_size) && put_hex(out, n, &at, (unsigned long long)st.st_mtim.tv_sec) &&
         put_hex(out, n, &at, (unsigned long long)st.st_mtim.tv_nsec) && put_hex(out, n, &at, (unsigned long long)st.st_ctim.tv_sec) &&
         put_hex(out, n, &at, (unsigned long long)st.st_ctim.tv_nsec);
}

/* Entries' names: a 64-bit hash of their key, not a sha256. The hash only
 * spreads keys over names; what makes an entry its key's is the key itself,
 * kept in the entry and compared byte for byte on every use, so two keys
 * that share a name are misses, never a wrong entry. A sha256 here (of ~5 KB
 * for 10 layers, 30 KB for 300) cost a launch ~14 us, most of it the
 * `cpuid` that finds the SHA extensions (it traps to the hypervisor in a
 * VM); this loop takes well under one. Multiply-rotate per 8-byte word,
 * each part's length folded in, then a murmur3 finalizer. */
static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

uint64_t cache_key_mix(uint64_t h, const void *bytes, size_t n)
{
  const uint64_t k = 0x9e3779b97f4a7c15ull;
  const uint8_t *p = bytes;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = (rotl64(h, 23) ^ w) * k;
  }
  uint64_t w = 0;
  memcpy(&w, p, n);
  return (rotl64(h, 23) ^ w ^ ((uint64_t)n << 56)) * k;
}

void cache_key_name(const char *prefix, uint64_t h, char out[CACHE_NAME_MAX])
{
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  static const char hex[] = "0123456789abcdef";
  size_t n = strlen(prefix);
  memcpy(out, prefix, n);
  for (int i = 0; i < 16; i++) out[n + i] = hex[(h >> (60 - 4 * i)) & 15];
  out[n + 16] = 0;
}

/* An entry: PLAN_ENTRY_MAGIC, the key's length (8 bytes, the machine's order),
 * the key (the module's sha256 in hex, its identity and a NUL, the input),
 * then the plan's records. */
#define PLAN_ENTRY_MAGIC "fhsplan1"
#define PLAN_ENTRY_HEAD 16
/* The most a plan may be: the cap the entry was read under before. */
#define PLAN_ENTRY_PLAN_CAP (16u << 20)

static size_t key_len(const plan_key_t *key) { return 64 + strlen(key->module_id) + 1 + key->inlen; }

/* n bytes from fd, all of them (a short read is a changed or cut entry). */
static bool read_exact(int fd, uint8_t *buf, size_t n)
{
  while (n) {
    ssize_t r = read(fd, buf, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    buf += r;
    n -= (size_t)r;
  }
  return true;
}

bool plan_cache_lookup(const char *module_sha, const char *module_id, const uint8_t *in, size_t inlen, plan_key_t *key,
                       policy_result_t *res)
{
  *key = (plan_key_t){.module_sha = module_sha, .module_id = module_id, .in = in, .inlen = inlen};
  /* The dir is written where the entry's path goes, then the name after
   * it: no second PATH_MAX buffer on the stack (a page fault). */
  if (!module_id || !cache_dir(key->file, sizeof key->file)) {
    key->file[0] = 0;
    return false;
  }
  char name[CACHE_NAME_MAX];
  uint64_t h = cache_key_mix(0, module_sha, 64);
  h = cache_key_mix(h, module_id, strlen(module_id) + 1);
  cache_key_name("plan-", cache_key_mix(h, in, inlen), name);
  size_t dl = strlen(key->file), nl = strlen(name);
  if (dl + 1 + nl + 1 > sizeof key->file) {
    key->file[0] = 0;
    return false;
  }
  key->file[dl] = '/';
  memcpy(key->file + dl + 1, name, nl + 1);
  size_t klen = key_len(key), idlen = klen - 64 - 1 - inlen;
  cleanup_fd int fd = openat(AT_FDCWD, key->file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
  if (fd < 0) return false;
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < PLAN_ENTRY_HEAD + klen ||
      (uint64_t)st.st_size - PLAN_ENTRY_HEAD - klen > PLAN_ENTRY_PLAN_CAP)
    return false;
  /* The key is compared as it is read, a buffer at a time, through the
   * buffer the plan is then read into: the entry is never held whole (with
   * 300 layers its key, the input, is 30 KB: eight pages more to fault in,
   * and a move of the plan down over it). */
  size_t plen = (size_t)st.st_size - PLAN_ENTRY_HEAD - klen, cap = plen > 4096 ? plen : 4096;
  uint8_t *buf = xmalloc(cap + 1);
  uint8_t head[PLAN_ENTRY_HEAD];
  memcpy(head, PLAN_ENTRY_MAGIC, 8);
  uint64_t stored = klen;
  memcpy(head + 8, &stored, 8);
  const struct { const uint8_t *p; size_t n; } want[] = {{head, sizeof head}, {(const uint8_t *)module_sha, 64}, {(const uint8_t *)module_id, idlen + 1}, {in, inlen}};
  /* A read takes up to a buffer's worth of the key, across its parts: a
   * small entry's key is one read, as the whole entry was. */
  bool same = true;
  size_t w = 0, at = 0; /* the part, and the offset in it, compared next */
  for (size_t left = PLAN_ENTRY_HEAD + klen; same && left;) {
    size_t n = left < cap ? left : cap;
    same = read_exact(fd, buf, n);
    for (size_t done = 0; same && done < n;) {
      size_t k = want[w].n - at < n - done ? want[w].n - at : n - done;
      same = !memcmp(buf + done, want[w].p + at, k);
      done += k, at += k;
      if (at == want[w].n) w++, at = 0;
    }
    left -= n;
  }
  /* The plan, then nothing: an entry that grew since fstat is no entry. */
  if (!same || !read_exact(fd, buf, plen) || read(fd, buf + plen, 1) != 0) {
    free(buf);
    return false; /* another key's entry, or not an entry: a miss, stored over */
  }
  res->status = 0;
  res->len = plen;
  res->bytes = buf;
  return true;
}

void plan_cache_store(const plan_key_t *key, const policy_result_t *res)
{
  if (!key->file[0]) return;
  char tmp[PATH_MAX + 32];
  snprintf(tmp, sizeof tmp, "%s.tmp-%d", key->file, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return;
  uint8_t head[PLAN_ENTRY_HEAD];
  uint64_t klen = key_len(key);
  memcpy(head, PLAN_ENTRY_MAGIC, 8);
  memcpy(head + 8, &klen, 8);
  bool ok = write_all(fd, head, sizeof head) == 0 && write_all(fd, key->module_sha, 64) == 0 &&
            write_all(fd, key->module_id, strlen(key->module_id) + 1) == 0 && write_all(fd, key->in, key->inlen) == 0 &&
            write_all(fd, res->bytes, res->len) == 0;
  if (close(fd) < 0) ok = false;
  /* Written whole, then renamed: a reader never sees half a plan. */
  if (!ok || rename(tmp, key->file) < 0) unlink(tmp);
}

/* A nested view's ld.so.cache: the package's entries, then the current
 * view's (/etc/ld.so.cache here), kept next to the plan cache under the
 * sha256 of both inputs, as the plan cache keys its entries: a package
 * wrapped again (its cache's path unchanged, its contents not) or a view of
 * other contents gets its own union, never a stale one. Reading both costs
 * a nested launch two small reads; a launch outside a view has no union.
 * When it cannot be had, the package's own cache is bound: its libraries
 * are on top, and the loader's default directories still find the rest. */
void prepare_union_ldcache(const plan_t *plan, char out[PATH_MAX])
{
  out[0] = 0;
  const char *pkg_cache = NULL;
  for (size_t i = 0; i < plan->n; i++)
    if (plan->ops[i].op == FHS_OP_LDCACHE_UNION) pkg_cache = plan->ops[i].args[1];
  if (!pkg_cache) return;
  char dir[PATH_MAX];
  if (!cache_dir(dir, sizeof dir)) return;
  size_t top_len = 0, below_len = 0;
  cleanup_free uint8_t *top = read_file(pkg_cache, 64 << 20, &top_len);
  cleanup_free uint8_t *below = read_file(FHS_LDSO_CACHE, 64 << 20, &below_len);
  if (!top || !below) return;
  /* The key: both inputs, the first's length first, so no two pairs hash alike. */
  uint8_t *keyed = xmalloc(8 + top_len + below_len);
  uint64_t tl = top_len;
  memcpy(keyed, &tl, 8);
  memcpy(keyed + 8, top, top_len);
  memcpy(keyed + 8 + top_len, below, below_len);
  char key[65];
  sha256_hex(keyed, 8 + top_len + below_len, key);
  free(keyed);
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/%s.ld.so.cache", dir, key) >= (int)sizeof path) return;
  if (access(path, R_OK) == 0 || ldcache_union(top, top_len, below, below_len, path) == 0) strcpy(out, path);
}

/* ------------------------------------------- content-addressed directories */

int cache_dir_open(char path[PATH_MAX])
{
  if (!cache_dir(path, PATH_MAX)) return -1;
  /* Checked again on what was opened: cache_dir's lstat names a path, the
   * fd is what every later *at call goes through. */
  int fd = openat(AT_FDCWD, path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 022)) {
    close(fd);
    return -1;
  }
  return fd;
}

int cache_entry_open(int cdir, const char *name)
{
  struct open_how how = {
      .flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
      .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH,
  };
  int fd = (int)syscall(SYS_openat2, cdir, name, &how, sizeof how);
  if (fd < 0) {
    /* A symlink (ELOOP) or anything but a directory in its place is an
     * entry that is there but not ours to use. */
    if (errno == ELOOP || errno == ENOTDIR) errno = EPERM;
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 0222)) {
    close(fd);
    errno = EPERM;
    return -1;
  }
  return fd;
}

int cache_entry_begin(int cdir, const char *dirpath, char tmp[64])
{
  char path[PATH_MAX];
  /* A leading dot and no hex name: never taken for an entry, nor pruned as a plan. */
  if (snprintf(path, sizeof path, "%s/.new-XXXXXX", dirpath) >= (int)sizeof path || !mkdtemp(path)) return -1;
  snprintf(tmp, 64, "%s", base_name(path));
  int fd = openat(cdir, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) unlinkat(cdir, tmp, AT_REMOVEDIR);
  return fd;
}

/* Walks the tree at dirfd (ours: the temporary being filled or discarded),
 * post-order. remove: empties it (each dir made writable first); else makes
 * every dir below it 0555 and every regular file 0444. */
static int walk_tree(int dirfd, bool remove)
{
  if (remove && fchmod(dirfd, 0700) < 0) return -1;
  int dup = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup < 0) return -1;
  DIR *d = fdopendir(dup);
  if (!d) {
    close(dup);
    return -1;
  }
  int rc = 0;
  for (struct dirent *e; rc == 0 && (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    struct stat st;
    if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      rc = -1;
      break;
    }
    if (S_ISDIR(st.st_mode)) {
      int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0 || walk_tree(sub, remove) < 0) rc = -1;
      else if (remove ? unlinkat(dirfd, e->d_name, AT_REMOVEDIR) < 0 : fchmod(sub, 0555) < 0) rc = -1;
      if (sub >= 0) close(sub);
    } else if (remove) {
      if (unlinkat(dirfd, e->d_name, 0) < 0) rc = -1;
    } else if (S_ISREG(st.st_mode) && fchmodat(dirfd, e->d_name, 0444, 0) < 0) {
      rc = -1;
    }
  }
  closedir(d);
  return rc;
}

void cache_entry_discard(int cdir, const char *tmp, int tmpfd)
{
  /* Twice: a directory read while entries are removed may skip one. */
  for (int pass = 0; pass < 2; pass++) {
    (void)walk_tree(tmpfd, true);
    if (unlinkat(cdir, tmp, AT_REMOVEDIR) == 0) break;
  }
  close(tmpfd);
}

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

int cache_entry_publish(int cdir, const char *tmp, int tmpfd, const char *name)
{
  /* Read-only before it has its name: an entry is never seen unfinished. */
  if (walk_tree(tmpfd, false) < 0 || fchmod(tmpfd, 0555) < 0) {
    cache_entry_discard(cdir, tmp, tmpfd);
    return -1;
  }
  /* Never over an existing entry (a mounted overlay may have it as a lower).
   * Losing the race is fine: the winner's content is the same. */
  if (syscall(SYS_renameat2, cdir, tmp, cdir, name, RENAME_NOREPLACE) < 0) {
    int err = errno;
    cache_entry_discard(cdir, tmp, tmpfd);
    return err == EEXIST || err == ENOTEMPTY ? 0 : -1;
  }
  close(tmpfd);
  return 0;
}
