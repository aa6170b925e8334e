/* fhs-launcher manifest OUT NAME POLICY CONFIG LAYER...: writes the compiled
 * manifest of a view of LAYER... (docs/ABI.md), the file `fhs-launcher env`
 * reads. It exists for Nix: a Nix string cannot hold the NUL bytes that
 * records are made of, and inside a build sandbox the static launcher may be
 * the only program there is, so the first view of a Nix build (the one that
 * runs the CLI) has its manifest written by the launcher. Every other
 * manifest is written by the CLI (src/manifest.ts); the records, the layer
 * inspection and their order are the same, and a test compares the bytes.
 *
 * CONFIG is the policy config compiled to records (`fhs policy config`,
 * build/config.bin); it is checked to be a record stream and copied.
 *
 * A LAYER that is a wrapped package (it holds .fhs/manifest.bin) stands for
 * its own layer list, as in `fhs env --layer` (src/manifest.ts,
 * wrappedPackageLayers): its programs, its state, itself, its dependencies;
 * a layer named twice is kept at its first place. Read here, at build time,
 * because Nix cannot read a package's manifest while it evaluates. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launch.h"
#include "facts.h"
#include "abi.h"
#include "records.h"
#include "sha256.h"
#include "util.h"



/* A directory entry of the layer that is a directory itself (a symlink is not). */
static bool has_dir(int layer_fd, const char *name)
{
  struct stat st;
  return fstatat(layer_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* Appends LAYER's `layer PATH LAYOUT DIRS` record, inspected as
 * src/layers.ts inspectLayer does: a layer with a usr/ directory is an FHS
 * layer (usr, and etc and opt when they are directories), anything else is a
 * Nix output (its top is a /usr). */
/* The layer paths added so far: the first place of each is kept. */
typedef struct {
  const char *paths[FHS_MAX_LAYERS];
  size_t n;
} seen_t;

/* False when PATH is already in the list; else counts it (at most FHS_MAX_LAYERS). */
static bool first_time(seen_t *seen, const char *path, const char *out_path)
{
  for (size_t i = 0; i < seen->n; i++)
    if (!strcmp(seen->paths[i], path)) return false;
  if (seen->n == FHS_MAX_LAYERS) die(FHS_EXIT_SETUP, "manifest %s: more than %d layers", out_path, FHS_MAX_LAYERS);
  seen->paths[seen->n++] = path;
  return true;
}

/* A wrapped package's `layer` records, in its manifest's order. False when
 * PATH is not a wrapped package. The package must be where it was wrapped:
 * a moved one's list names another directory's files. */
static bool add_wrapped(recbuf_t *out, seen_t *seen, const char *path, const char *out_path)
{
  cleanup_free char *mpath = xasprintf("%s/" FHS_MANIFEST_BIN, path);
  struct stat st;
  if (lstat(mpath, &st) < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false; /* a plain layer, or not one: add_layer says */
    die_errno(FHS_EXIT_SETUP, "package %s: %s", path, mpath);
  }
  records_t m; /* kept until exit: seen points into it */
  load_manifest(path, mpath, &m);
  const char *pkg = manifest_value(&m, FHS_REC_PKG);
  if (!pkg || strcmp(pkg, path)) die(FHS_EXIT_SETUP, "package %s: its manifest was written for %s; wrap it again where it is", path, pkg ? pkg : "(none)");
  for (size_t i = 0; i < m.n; i++) {
    const record_t *r = &m.recs[i];
    if (strcmp(r->fields[0], FHS_REC_LAYER)) continue;
    if (r->nfields != 4 || r->fields[1][0] != '/') die(FHS_EXIT_SETUP, "package %s: %s holds a malformed layer record", path, mpath);
    if (first_time(seen, r->fields[1], out_path)) recbuf_record(out, FHS_REC_LAYER, r->fields[1], r->fields[2], r->fields[3], NULL);
  }
  return true;
}

static void add_layer(recbuf_t *out, const char *path)
{
  if (path[0] != '/') die(FHS_EXIT_SETUP, "layer %s: not an absolute path", path);
  /* The launcher opens layers following no symlink in any component, so the
   * path the manifest records must be the real one. */
  cleanup_free char *real = realpath(path, NULL);
  if (!real) die_errno(FHS_EXIT_SETUP, "layer %s", path);
  if (strcmp(real, path)) die(FHS_EXIT_SETUP, "layer %s: not its real path (%s); give that", path, real);
  cleanup_fd int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) die_errno(FHS_EXIT_SETUP, "layer %s", path);
  struct stat st;
  if (fstatat(fd, "usr", &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno != ENOENT) die_errno(FHS_EXIT_SETUP, "layer %s: usr", path);
    recbuf_record(out, FHS_REC_LAYER, path, "nix", "usr", NULL);
    return;
  }
  if (!S_ISDIR(st.st_mode)) die(FHS_EXIT_SETUP, "layer %s: usr is not a directory", path);
  static const char *const unmerged[] = {"bin", "sbin", "lib", "lib64"};
  for (size_t i = 0; i < sizeof unmerged / sizeof *unmerged; i++) {
    if (fstatat(fd, unmerged[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISLNK(st.st_mode))
      die(FHS_EXIT_SETUP, "layer %s: has a top-level %s/ beside usr/; merge it into usr/%s (fhs layer import does this)", path,
          unmerged[i], unmerged[i]);
  }
  const char *dirs = has_dir(fd, "etc") ? (has_dir(fd, "opt") ? "usr,etc,opt" : "usr,etc") : (has_dir(fd, "opt") ? "usr,opt" : "usr");
  recbuf_record(out, FHS_REC_LAYER, path, "fhs", dirs, NULL);
}

int manifest_main(int argc, char **argv)
{
  if (argc < 7) die(FHS_EXIT_SETUP, "usage: fhs-launcher manifest OUT NAME POLICY.wasm CONFIG.bin LAYER...");
  const char *out_path = argv[2], *name = argv[3], *policy = argv[4], *config = argv[5];
  if (argc - 6 > FHS_MAX_LAYERS) die(FHS_EXIT_SETUP, "manifest %s: %d layers, more than %d", out_path, argc - 6, FHS_MAX_LAYERS);
  if (policy[0] != '/') die(FHS_EXIT_SETUP, "policy %s: not an absolute path", policy);

  size_t plen = 0, clen = 0;
  cleanup_free uint8_t *wasm = read_file(policy, FHS_MODULE_SIZE_CAP, &plen);
  if (!wasm) die(FHS_EXIT_POLICY, "policy %s: cannot read: %s", policy, read_error(errno, FHS_MODULE_SIZE_CAP));
  char sha[65];
  sha256_hex(wasm, plen, sha);

  cleanup_free uint8_t *conf = read_file(config, FHS_MANIFEST_SIZE_CAP, &clen);
  if (!conf) die(FHS_EXIT_SETUP, "config %s: cannot read: %s", config, read_error(errno, FHS_MANIFEST_SIZE_CAP));
  records_t recs;
  if (records_parse_max(conf, clen, FHS_MANIFEST_RECORDS_CAP, &recs) < 0)
    die(FHS_EXIT_SETUP, "config %s: not compiled config records (fhs policy config writes them)", config);
  for (size_t i = 0; i < recs.n; i++) {
    const char *k = recs.recs[i].fields[0];
    /* Only config: the manifest's own records come from the arguments. */
    if (!strcmp(k, FHS_REC_FHS_MANIFEST) || !strcmp(k, FHS_REC_PKG) || !strcmp(k, FHS_REC_POLICY) || !strcmp(k, FHS_REC_LAYER) ||
        !strcmp(k, FHS_REC_PROGRAM) || !strcmp(k, FHS_REC_LDCACHE) || !strcmp(k, FHS_REC_END)) {
      records_free(&recs);
      die(FHS_EXIT_SETUP, "config %s: holds a %s record, which is not config", config, k);
    }
  }
  records_free(&recs);

  recbuf_t out = {0};
  recbuf_record(&out, FHS_REC_FHS_MANIFEST, FHS_MANIFEST_FORMAT, NULL);
  recbuf_record(&out, FHS_REC_PKG, name, NULL);
  recbuf_record(&out, FHS_REC_POLICY, policy, sha, NULL);
  static seen_t seen;
  for (int i = 6; i < argc; i++) {
    if (argv[i][0] == '/' && add_wrapped(&out, &seen, argv[i], out_path)) continue;
    if (first_time(&seen, argv[i], out_path)) add_layer(&out, argv[i]);
  }
  recbuf_bytes(&out, conf, clen);
  recbuf_record(&out, FHS_REC_END, NULL);

  /* O_EXCL: never over an existing file (in a Nix build, OUT is $out). */
  cleanup_fd int fd = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
  if (fd < 0) die_errno(FHS_EXIT_SETUP, "manifest %s", out_path);
  if (write_all(fd, out.buf, out.len) < 0 || fsync(fd) < 0) {
    /* Never a partial manifest left behind: one cut at a record boundary
     * would read as a complete one with fewer layers. */
    int e = errno;
    unlink(out_path);
    errno = e;
    die_errno(FHS_EXIT_SETUP, "manifest %s: write", out_path);
  }
  free(out.buf);
  return 0;
}
