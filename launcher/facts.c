/* The one fact gatherer: everything the policy is told about the world is
 * read here, by the launcher, for a launch and for `fhs plan` alike
 * (`fhs-launcher plan`), so the two cannot differ. docs/ABI.md lists the
 * records and where each comes from. */
#include "facts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/stat.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "abi.h"
#include "sha256.h"
#include "util.h"
#include "validate.h"

/* ---------------------------------------------------------------- identity */

/* The real name of the directory DIR (a wrapper's), allocated; NULL when it
 * has none. Usually the directory is reached by its own name: its last
 * component is a directory, not a link, so that is its real name (one
 * lstat). Else (~/pbin, /proc/self/cwd, a trailing . or ..) its real path
 * says (realpath: a readlink per component), its buffer in a frame of its
 * own (real_dir_name): find_wrapper runs on every launch, and each stack
 * page it writes is a page fault. */
__attribute__((noinline)) static char *real_dir_name(const char *dir)
{
  char real[PATH_MAX];
  if (!realpath(dir, real)) return NULL;
  const char *dname = base_name(real);
  return *dname ? xstrdup(dname) : NULL;
}

static char *wrapper_dir_name(const char *dir)
{
  const char *dname = base_name(dir);
  struct stat st;
  if (!*dname || !strcmp(dname, ".") || !strcmp(dname, "..") || lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) return real_dir_name(dir);
  return xstrdup(dname);
}

bool find_wrapper(const char *start, char **pkg, char **rel)
{
  if (!start || !*start) return false;
  char cur[PATH_MAX];
  if (start[0] == '/') {
    if (strlen(start) >= sizeof cur) return false;
    strcpy(cur, start);
  } else {
    /* ./hello: the wrapper's directory name must be known, so go absolute. */
    if (!getcwd(cur, sizeof cur)) return false;
    size_t l = strlen(cur);
    if (l + 1 + strlen(start) >= sizeof cur) return false;
    cur[l] = '/';
    strcpy(cur + l + 1, start);
  }
  /* Each hop is one readlink. The hop whose target is a package's launcher,
   * <pkg>/.fhs/.fhs-launcher, is the wrapper: usr/<dir>/<name>. Usually
   * that is the first hop; a user's own symlinks come before it. */
  for (int hops = 0; hops < 40; hops++) {
    char target[PATH_MAX];
    ssize_t n = readlink(cur, target, sizeof target - 1);
    if (n < 0) return false;
    target[n] = 0;
    if (!strcmp(base_name(target), FHS_LAUNCHER_NAME)) {
      /* target = <pkg>/.fhs/.fhs-launcher */
      size_t suffix = strlen(FHS_LAUNCHER_SUFFIX);
      if ((size_t)n <= suffix || target[0] != '/' || strcmp(target + n - suffix, FHS_LAUNCHER_SUFFIX)) return false;
      *pkg = strndup(target, (size_t)n - suffix);
      /* rel = <dir>/<name> of the wrapper: wrappers are direct children of
       * <pkg>/usr/<dir>. The directory is named by its real path, not by the
       * path the caller used: ~/pbin -> pkg/usr/bin, ./hello, or
       * /proc/self/cwd/hello all name usr/bin. */
      const char *name = base_name(cur);
      size_t dirlen = (size_t)(name - cur);
      if (dirlen < 2 || !*name) return false;
      /* cur is cut at the slash before the name while the directory is
       * looked at: the directory's path, with no copy of it on the stack. */
      cur[dirlen - 1] = 0;
      char *dname = wrapper_dir_name(cur);
      cur[dirlen - 1] = '/';
      if (!dname) return false;
      *rel = path_cat(dname, name); /* not xasprintf: no printf on the fast path */
      free(dname);
      return *pkg != NULL;
    }
    if (target[0] == '/') {
      strcpy(cur, target);
    } else {
      char *slash = strrchr(cur, '/');
      size_t dirlen = slash ? (size_t)(slash - cur) + 1 : 0;
      if (dirlen + (size_t)n >= sizeof cur) return false;
      memcpy(cur + dirlen, target, (size_t)n + 1);
    }
  }
  return false;
}

/* -------------------------------------------------------------- manifest */

void load_manifest(const char *pkg, const char *mpath, records_t *manifest)
{
  size_t mlen = 0;
  uint8_t *mbytes = read_file(mpath, FHS_MANIFEST_SIZE_CAP, &mlen);
  if (!mbytes) die(FHS_EXIT_SETUP, "package %s: cannot read its manifest %s: %s", pkg, mpath, read_error(errno, FHS_MANIFEST_SIZE_CAP));
  errno = 0;
  if (records_parse_max(mbytes, mlen, FHS_MANIFEST_RECORDS_CAP, manifest) < 0 && errno == E2BIG)
    die(FHS_EXIT_SETUP, "package %s: its manifest %s holds more than %d records, the cap", pkg, mpath, FHS_MANIFEST_RECORDS_CAP);
  if (manifest->n < 2 || strcmp(manifest->recs[0].fields[0], FHS_REC_FHS_MANIFEST))
    die(FHS_EXIT_SETUP, "package %s: %s is not a compiled fhs manifest", pkg, mpath);
  /* Another format's records may mean other things: refused, not guessed at. */
  if (manifest->recs[0].nfields != 2 || strcmp(manifest->recs[0].fields[1], FHS_MANIFEST_FORMAT))
    die(FHS_EXIT_SETUP, "package %s: %s is manifest format %s; this launcher reads format %s: wrap the package again", pkg,
        mpath, manifest->recs[0].nfields > 1 ? manifest->recs[0].fields[1] : "(none)", FHS_MANIFEST_FORMAT);
  /* The last record, and only it, is `end`: a manifest cut exactly at a
   * record boundary is still a well-formed record stream, and would read as
   * a complete one without the records after the cut (layers, config). It
   * is dropped here, so nothing after this sees it. */
  const record_t *last = &manifest->recs[manifest->n - 1];
  if (strcmp(last->fields[0], FHS_REC_END) || last->nfields != 1)
    die(FHS_EXIT_SETUP, "package %s: %s does not end with its end record: it was cut short; wrap the package again", pkg, mpath);
  for (size_t i = 1; i + 1 < manifest->n; i++)
    if (!strcmp(manifest->recs[i].fields[0], FHS_REC_END))
      die(FHS_EXIT_SETUP, "package %s: %s holds records after its end record; wrap the package again", pkg, mpath);
  manifest->n--;
}

const char *manifest_value(const records_t *recs, const char *kind)
{
  for (size_t i = 0; i < recs->n; i++)
    if (recs->recs[i].nfields == 2 && !strcmp(recs->recs[i].fields[0], kind)) return recs->recs[i].fields[1];
  return NULL;
}

void policy_record(const records_t *recs, const char *what, const char **path, const char **want)
{
  *path = *want = NULL;
  for (size_t i = 0; i < recs->n; i++)
    if (!strcmp(recs->recs[i].fields[0], FHS_REC_POLICY) && recs->recs[i].nfields == 3) {
      *path = recs->recs[i].fields[1];
      *want = recs->recs[i].fields[2];
    }
  if (!*path) die(FHS_EXIT_SETUP, "%s names no policy", what);
}

uint8_t *read_verified_policy(const records_t *recs, const char *what, const char **path_out, size_t *len_out,
                              const char **sha_out)
{
  const char *path, *want;
  policy_record(recs, what, &path, &want);
  uint8_t *wasm = read_file(path, FHS_MODULE_SIZE_CAP, len_out);
  if (!wasm) die(FHS_EXIT_POLICY, "policy %s: cannot read: %s", path, read_error(errno, FHS_MODULE_SIZE_CAP));
  char sha[65];
  sha256_hex(wasm, *len_out, sha);
  if (strcmp(sha, want))
    die(FHS_EXIT_POLICY, "policy %s: sha256 %s does not match the manifest's %s: the module changed after wrap", path, sha, want);
  *path_out = path;
  if (sha_out) *sha_out = want;
  return wasm;
}

/* statx by its system call: musl (the static launcher's libc) has no wrapper. */
static int sys_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *sx)
{
  return (int)syscall(SYS_statx, dirfd, path, flags, mask, sx);
}

/* ------------------------------------------------------------ input facts */

/* The manifest's records the policy sees: its layers and config, not the
 * header, the policy's own record, the program list or the package path
 * (FHS_UNFORWARDED_RECORDS, from abi/abi.json). */
bool manifest_record_forwarded(const char *kind)
{
  static const char *const kept[] = FHS_UNFORWARDED_RECORDS;
  for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
    if (!strcmp(kind, kept[i])) return false;
  return true;
}

/* The bytes one parsed record spans in its buffer, its terminating empty
 * field included: records_parse points each field into the buffer, in
 * order, so a record ends one byte past its last field's NUL. */
static const char *record_end(const record_t *r)
{
  const char *last = r->fields[r->nfields - 1];
  return last + strlen(last) + 2;
}

void add_manifest_facts(recbuf_t *in, const records_t *manifest)
{
  /* Runs of forwarded records copied as the bytes they already are: one
   * copy per run, not a strlen and a copy per field (with 300 layers,
   * field by field was a tenth of a warm launch's own instructions). */
  for (size_t i = 0; i < manifest->n;) {
    if (!manifest_record_forwarded(manifest->recs[i].fields[0])) {
      i++;
      continue;
    }
    size_t j = i + 1;
    while (j < manifest->n && manifest_record_forwarded(manifest->recs[j].fields[0])) j++;
    const char *from = manifest->recs[i].fields[0], *to = record_end(&manifest->recs[j - 1]);
    recbuf_bytes(in, (const uint8_t *)from, (size_t)(to - from));
    i = j;
  }
}

/* One getdents64 into a buffer that holds a usual root (30 entries take
 * ~1 KB): not opendir, whose musl open adds an fcntl and whose 2 KiB buffer
 * a second call. */
struct fhs_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static int by_name(const void *a, const void *b)
{
  return strcmp((*(const struct fhs_dirent64 *const *)a)->d_name, (*(const struct fhs_dirent64 *const *)b)->d_name);
}

/* The root's entries as `host` records, sorted by name (bytewise): the
 * policy's plan lists them in that order whatever readdir's, and its sort
 * (assembly/launch.ts byName), interpreted by wasm3, costs a comparison an
 * entry on sorted input where readdir's order cost ~8: 880 wasm calls and
 * ~270,000 instructions fewer a cold launch (a 30-entry root), for ~8,000
 * instructions here on every launch that gathers host facts (the fast path
 * does not; callgrind counts, docs/ARCHITECTURE.md). */
void add_host_entries(recbuf_t *in)
{
  cleanup_fd int fd = openat(AT_FDCWD, "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) die_errno(FHS_EXIT_SETUP, "read the root directory");
  /* Every entry read first (a root larger than the static buffer grows a
   * heap copy), so they can be sorted; one entry takes at most ~280 bytes. */
  static char first[16384] __attribute__((aligned(8)));
  char *buf = first;
  size_t cap = sizeof first, len = 0;
  for (;;) {
    if (cap - len < 4096) {
      char *more = xmalloc(cap * 2);
      memcpy(more, buf, len);
      if (buf != first) free(buf);
      buf = more;
      cap *= 2;
    }
    long n = syscall(SYS_getdents64, fd, buf + len, cap - len);
    if (n < 0) die_errno(FHS_EXIT_SETUP, "read the root directory");
    if (n == 0) break;
    len += (size_t)n;
  }
  size_t count = 0;
  for (size_t off = 0; off < len; off += ((const struct fhs_dirent64 *)(buf + off))->d_reclen) count++;
  const struct fhs_dirent64 *few[64];
  const struct fhs_dirent64 **ents = count <= 64 ? few : xmalloc(count * sizeof *ents);
  count = 0;
  for (size_t off = 0; off < len; off += ((const struct fhs_dirent64 *)(buf + off))->d_reclen)
    ents[count++] = (const struct fhs_dirent64 *)(buf + off);
  qsort(ents, count, sizeof *ents, by_name);
  for (size_t i = 0; i < count; i++) {
    const char *name = ents[i]->d_name;
    if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
    unsigned char t = ents[i]->d_type;
    if (t == DT_UNKNOWN) {
      struct stat st;
      if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
      t = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
    }
    if (t == DT_LNK) {
      char target[PATH_MAX];
      ssize_t n = readlinkat(fd, name, target, sizeof target - 1);
      if (n <= 0) continue;
      target[n] = 0;
      recbuf_record(in, FHS_REC_HOST, name, "link", target, NULL);
    } else {
      recbuf_record(in, FHS_REC_HOST, name, t == DT_DIR ? "dir" : t == DT_REG ? "file" : "other", NULL);
    }
  }
  if (ents != few) free(ents);
  if (buf != first) free(buf);
}

/* The current view, if we are in one, and which proof it has; the policy
 * decides what it proves, the launcher also uses the marker's layers as
 * allowed plan sources. Innermost first: an in-place view's /usr is a
 * read-only overlay whose own files hold the marker (the same mount as
 * /usr: part of the overlay, not a mount on top of it; an overlay reports a
 * file's st_dev as its lower filesystem's, so the mount id is what tells); only a process that
 * mounted /usr in its own namespace can make that, as only a launcher makes
 * a new root's read-only tmpfs '/' holding /.fhs/view. A new root's /usr
 * never has a marker, so a view nested in place inside a new root is found
 * before its parent. */
static uint8_t *read_marker(size_t *len, bool *in_usr)
{
  struct statfs sf;
  struct statx usr, m;
  *in_usr = false;
  if (statfs("/usr", &sf) == 0 && sf.f_type == OVERLAYFS_SUPER_MAGIC && (sf.f_flags & ST_RDONLY) &&
      sys_statx(AT_FDCWD, "/usr", 0, STATX_MNT_ID, &usr) == 0 && (usr.stx_mask & STATX_MNT_ID)) {
    cleanup_fd int fd = openat(AT_FDCWD, FHS_MARKER_IN_PLACE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0 && sys_statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID | STATX_TYPE, &m) == 0 && (m.stx_mask & STATX_MNT_ID) &&
        S_ISREG(m.stx_mode) && m.stx_mnt_id == usr.stx_mnt_id) {
      /* Read from the fd just checked, not opened again by its path. */
      *in_usr = true;
      return read_fd(fd, 16 << 20, len);
    }
  }
  if (statfs("/", &sf) < 0 || sf.f_type != TMPFS_MAGIC || !(sf.f_flags & ST_RDONLY)) return NULL;
  return read_file(FHS_MARKER, 16 << 20, len);
}

/* A view that kept the host's /etc says where in its marker (host-etc):
 * under its marker's directory, /.fhs or /usr/.fhs, which only a launcher
 * writes. NULL when it kept none. */
static const char *view_kept_host_etc(const records_t *view, bool in_usr)
{
  const char *kept = in_usr ? FHS_HOST_ETC_IN_PLACE : FHS_HOST_ETC_IN_VIEW;
  for (size_t i = 0; i < view->n; i++) {
    const record_t *r = &view->recs[i];
    if (r->nfields == 2 && !strcmp(r->fields[0], FHS_REC_HOST_ETC) && !strcmp(r->fields[1], kept)) {
      struct stat st;
      return stat(kept, &st) == 0 && S_ISDIR(st.st_mode) ? kept : NULL;
    }
  }
  return NULL;
}

/* host-etc-file REL for each `etc-host REL` of the config that exists (as any
 * type, a dangling link too) in the host's /etc at `host_etc`; then
 * host-etc-mounted when one of them is on another mount than that /etc (as
 * container runtimes bind resolv.conf, hosts, hostname): the kernel refuses
 * an overlay over a directory with mounts below it that a new user namespace
 * may not uncover. */
#define ETC_TYPES_MAX 64
static struct {
  const char *rel; /* the manifest's record's field: lives as long as the process */
  unsigned type;
} etc_types[ETC_TYPES_MAX];
static size_t netc_types;
static const char *etc_types_dir;

unsigned host_etc_file_type(const char *host_etc, const char *rel)
{
  if (!etc_types_dir || strcmp(etc_types_dir, host_etc)) return 0;
  for (size_t i = 0; i < netc_types; i++)
    if (!strcmp(etc_types[i].rel, rel)) return etc_types[i].type;
  return 0;
}

static void add_host_etc_files(recbuf_t *in, const records_t *manifest, const char *host_etc)
{
  etc_types_dir = host_etc;
  netc_types = 0;
  /* Opened once (following symlinks, as a path naming it would), each file
   * asked beneath it: inside a view the kept /etc is /usr/.fhs/host-etc,
   * and walking those components again for each of ~17 files was a tenth
   * of a nested launch's own system time. No /etc: no file is there. */
  /* openat, not open: musl's open adds an fcntl for O_CLOEXEC. */
  int dir = openat(AT_FDCWD, host_etc, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  struct statx sx;
  bool have_etc_id = sys_statx(dir, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) == 0 && (sx.stx_mask & STATX_MNT_ID);
  uint64_t etc_id = have_etc_id ? sx.stx_mnt_id : 0;
  bool mounted = false;
  for (size_t i = 0; i < manifest->n; i++) {
    const record_t *r = &manifest->recs[i];
    if (r->nfields != 2 || strcmp(r->fields[0], FHS_REC_ETC_HOST) || !rel_path_ok(r->fields[1])) continue;
    if (sys_statx(dir, r->fields[1], AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) < 0) continue;
    recbuf_record(in, FHS_REC_HOST_ETC_FILE, r->fields[1], NULL);
    if (netc_types < ETC_TYPES_MAX && (sx.stx_mask & STATX_TYPE))
      etc_types[netc_types++] = (typeof(etc_types[0])){.rel = r->fields[1], .type = sx.stx_mode & S_IFMT};
    if (have_etc_id && (sx.stx_mask & STATX_MNT_ID) && sx.stx_mnt_id != etc_id) mounted = true;
  }
  close(dir);
  if (mounted) recbuf_record(in, FHS_REC_HOST_ETC_MOUNTED, NULL);
}

/* Inside a view that may already hold the package: is /usr/<rel> there the
 * package's own program (its .fhs/raw/<rel>), or does a layer above shadow it?
 * Only then may a launch skip making a view. Overlayfs reports a lower
 * file's inode, size and times as they are. */
static bool program_shadowed(const char *pkg, const char *relprog)
{
  /* At their size (path_cat: no PATH_MAX buffers on the fast path's stack). */
  cleanup_free char *in_view = path_cat("/usr", relprog);
  cleanup_free char *raw_dir = path_cat(pkg, FHS_RAW);
  cleanup_free char *raw = path_cat(raw_dir, relprog);
  struct stat a, b;
  if (lstat(in_view, &a) < 0 || lstat(raw, &b) < 0) return true;
  return a.st_ino != b.st_ino || a.st_mode != b.st_mode || a.st_size != b.st_size || a.st_mtim.tv_sec != b.st_mtim.tv_sec ||
         a.st_mtim.tv_nsec != b.st_mtim.tv_nsec;
}

/* Whether the view holds the package's first layer (its programs, .fhs/raw,
 * for a wrapped package): only then can /usr/<rel> be the package's own
 * program, and the view already hold every layer the package has. Without
 * it no fast path is possible, so neither the shadowing check (a lookup
 * through every layer of the view's /usr, longer at every level of
 * nesting) nor stage 1 (a plan-cache lookup that can only answer `plan
 * facts`) is worth its cost. Compared by path, as the policy's own test is. */
static bool view_holds_first_layer(const records_t *view, const records_t *manifest)
{
  const char *first = NULL;
  for (size_t i = 0; i < manifest->n && !first; i++)
    if (manifest->recs[i].nfields == 4 && !strcmp(manifest->recs[i].fields[0], FHS_REC_LAYER)) first = manifest->recs[i].fields[1];
  if (!first) return false;
  for (size_t i = 0; i < view->n; i++) {
    const record_t *r = &view->recs[i];
    if (r->nfields == 4 && !strcmp(r->fields[0], FHS_REC_VIEW) && !strcmp(r->fields[1], first)) return true;
  }
  return false;
}

void gather_launch_facts(facts_t *f, const char *pkg, const char *relprog, const records_t *manifest, const uint8_t *inside,
                         size_t inside_len, bool stage1)
{
  bool may_hold = false;
  memset(f, 0, sizeof *f);
  f->shadowed = true; /* outside a view nothing is installed at /usr yet */
  recbuf_record(&f->in, FHS_REC_REQ, "launch", NULL);
  add_manifest_facts(&f->in, manifest);
  bool in_view = false;
  if (inside) {
    /* fhs plan --inside: a view described by the caller, as its marker would
     * say; the package's program in it is its own. */
    if (records_parse(inside, inside_len, &f->viewrecs) < 0) die(FHS_EXIT_SETUP, "plan --inside: stdin is not a record stream");
    const char *id = manifest_value(&f->viewrecs, FHS_REC_VIEW_ID);
    const char *kept = manifest_value(&f->viewrecs, FHS_REC_HOST_ETC);
    recbuf_record(&f->in, FHS_REC_ENV_MARKER, id ? id : "simulated", NULL);
    /* The proof such a view would have: an in-place one keeps /etc under /usr. */
    f->marker_in_usr = kept && !strcmp(kept, FHS_HOST_ETC_IN_PLACE);
    recbuf_record(&f->in, f->marker_in_usr ? FHS_REC_MARKER_USR : FHS_REC_MARKER_ROOT, "ok", NULL);
    recbuf_bytes(&f->in, inside, inside_len);
    f->shadowed = false;
  } else {
    const char *env_marker = getenv(FHS_ENV_MARKER);
    if (env_marker && *env_marker) {
      recbuf_record(&f->in, FHS_REC_ENV_MARKER, env_marker, NULL);
      f->view = read_marker(&f->view_len, &f->marker_in_usr);
      if (f->view && records_parse(f->view, f->view_len, &f->viewrecs) == 0) {
        recbuf_record(&f->in, f->marker_in_usr ? FHS_REC_MARKER_USR : FHS_REC_MARKER_ROOT, "ok", NULL);
        recbuf_bytes(&f->in, f->view, f->view_len);
        /* Not the package's own program when its programs are no layer
         * of the view: said without looking (a hard link or bind mount of
         * it elsewhere in the view counts as shadowing it: no fast path). */
        may_hold = view_holds_first_layer(&f->viewrecs, manifest);
        f->shadowed = relprog && (!may_hold || program_shadowed(pkg, relprog));
        if (f->shadowed) recbuf_record(&f->in, FHS_REC_SHADOWED, relprog, NULL);
        in_view = true;
      }
    }
  }
  /* Stage 1 (docs/ARCHITECTURE.md, "The fast path in two stages"): only
   * where a fast path is possible at all, a view's marker found and read,
   * the package's programs among its layers. What the policy decides the
   * fast path from is all here; the host's facts (the root listing, the
   * files under /etc) are not, and the last record says so, so the policy
   * can tell "not gathered" from "absent". Anywhere else one stage: the
   * same input stage 2 would complete, asked once. */
  if (stage1 && in_view && may_hold) {
    f->partial_at = f->in.len;
    f->partial = true;
    recbuf_record(&f->in, FHS_REC_FACTS, "partial", NULL);
    return;
  }
  add_host_facts(f, manifest);
}

void add_host_facts(facts_t *f, const records_t *manifest)
{
  /* Stage 2 appends to stage 1's input without its `facts partial`: the
   * same records a one-stage gather makes, in the same order. */
  if (f->partial) f->in.len = f->partial_at;
  f->partial = false;
  f->host_at = f->in.len;
  add_host_entries(&f->in);
  /* Whether the view's /etc (the host's) has a cache to bind the view's over. */
  if (access(FHS_LDSO_CACHE, F_OK) == 0) recbuf_record(&f->in, FHS_REC_HOST_FILE, &FHS_LDSO_CACHE[1], NULL);
  /* Which of the machine's own files the config names (etc-host) the host's
   * /etc holds: the current root's, or the copy the current view kept. */
  f->host_etc_kept = view_kept_host_etc(&f->viewrecs, f->marker_in_usr);
  add_host_etc_files(&f->in, manifest, f->host_etc_kept ? f->host_etc_kept : "/etc");
}
