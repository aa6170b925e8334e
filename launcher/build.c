/* fhs build's two launcher commands.
 *
 * build: runs COMMAND in the pure view the policy's `req build` plans. The
 * input file is written by the CLI (src/build.ts): the policy module and its
 * sha256, the dependency layers, config records and the staging paths it
 * prepared. The launcher checks the module's hash, asks the policy, holds the
 * plan to the same invariants as a launch (plus: only the staging dirs may
 * be written), builds the view and execs COMMAND. No fork: the CLI waits for
 * COMMAND itself, then inspects the upper directory.
 *
 * overlay-clean: after the build, lists what overlay left in the upper
 * directory that would change a dependency's files (whiteouts, opaque dirs)
 * and strips overlay's own xattrs, so that OUT is a plain tree. Node has no
 * xattr API; this keeps the CLI free of getfattr/setfattr. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "launch.h"
#include "limits.h"
#include "policy.h"
#include "records.h"
#include "util.h"

extern char **environ;

static const char *input_value(const records_t *r, const char *key)
{
  for (size_t i = 0; i < r->n; i++)
    if (r->recs[i].nfields == 2 && !strcmp(r->recs[i].fields[0], key)) return r->recs[i].fields[1];
  return NULL;
}

int build_main(int argc, char **argv)
{
  int status_fd = -1;
  int a = 3;
  if (argc > 4 && !strcmp(argv[3], "--status-fd")) {
    status_fd = atoi(argv[4]);
    a = 5;
  }
  if (argc < a + 2 || strcmp(argv[a], "--"))
    die(FHS_EXIT_SETUP, "usage: fhs-launcher build INPUT [--status-fd N] -- COMMAND [ARGS...]");
  char **cmd = argv + a + 1;
  const char *input_path = argv[2];
  /* The CLI learns that COMMAND ran (rather than the setup failing) when a
   * byte arrives before this fd closes on exec. */
  if (status_fd >= 0 && fcntl(status_fd, F_SETFD, FD_CLOEXEC) < 0) die_errno(FHS_EXIT_SETUP, "status fd %d", status_fd);

  size_t ilen = 0;
  uint8_t *ibytes = read_file(input_path, 64 << 20, &ilen);
  if (!ibytes) die_errno(FHS_EXIT_SETUP, "build input %s: cannot read", input_path);
  records_t input;
  if (records_parse(ibytes, ilen, &input) < 0 || input.n < 2 || strcmp(input.recs[0].fields[0], "fhs-build"))
    die(FHS_EXIT_SETUP, "build input %s: not a compiled fhs build input", input_path);

  const char *policy_path = NULL;
  size_t wlen = 0;
  uint8_t *wasm = read_verified_policy(&input, input_path, &policy_path, &wlen, NULL);

  build_paths_t paths = {input_value(&input, "build-upper"), input_value(&input, "build-work"), input_value(&input, "build-dir"),
                         input_value(&input, "build-etc-upper"), input_value(&input, "build-etc-work"), input_value(&input, "build-var")};
  if (!paths.upper || !paths.work || !paths.dir) die(FHS_EXIT_SETUP, "build input %s: lacks the staging paths", input_path);
  if (!paths.etc_upper != !paths.etc_work) die(FHS_EXIT_SETUP, "build input %s: build-etc-upper and build-etc-work go together", input_path);

  recbuf_t in = {0};
  recbuf_record(&in, "req", "build", NULL);
  for (size_t i = 0; i < input.n; i++) {
    const char *k = input.recs[i].fields[0];
    if (!strcmp(k, "fhs-build") || !strcmp(k, "policy")) continue;
    for (size_t f = 0; f < input.recs[i].nfields; f++) recbuf_field(&in, input.recs[i].fields[f]);
    recbuf_end(&in);
  }
  add_host_entries(&in);

  policy_result_t res;
  policy_eval(policy_path, wasm, wlen, in.buf, in.len, &res);
  records_t plan;
  parse_plan(policy_path, &res, "build", &plan);
  if (strcmp(plan.recs[0].fields[1], "build"))
    die(FHS_EXIT_POLICY, "policy %s: the result does not start with 'plan build'", policy_path);
  const char *debug = getenv("FHS_DEBUG");
  if (debug && !strcmp(debug, "plan")) (void)!write_all(STDERR_FILENO, res.bytes, res.len);

  records_t inrecs;
  if (records_parse(in.buf, in.len, &inrecs) < 0) die(FHS_EXIT_SETUP, "internal: malformed policy input");
  allowed_t allowed = {0};
  allow_layers(&allowed, &input, "layer");
  validate_plan(policy_path, &plan, &inrecs, &allowed, &paths);

  build_view(&plan);

  /* File modes must not depend on the caller's umask: OUT is compared bit
   * for bit between runs. */
  umask(022);
  for (size_t i = 1; i < plan.n; i++) {
    const record_t *op = &plan.recs[i];
    if (!strcmp(op->fields[0], "chdir") && chdir(op->fields[1]) < 0) die_errno(FHS_EXIT_SETUP, "chdir %s in the build view", op->fields[1]);
    if (!strcmp(op->fields[0], "clearenv") && clearenv() != 0) die(FHS_EXIT_SETUP, "clearenv failed");
    if (!strcmp(op->fields[0], "setenv") && setenv(op->fields[1], op->fields[2], 1) < 0) die_errno(FHS_EXIT_SETUP, "setenv %s", op->fields[1]);
  }
  if (status_fd >= 0 && write_all(status_fd, "x", 1) < 0) die_errno(FHS_EXIT_SETUP, "status fd");
  execvp(cmd[0], cmd);
  die_errno(errno == ENOENT ? FHS_EXIT_NOENT : FHS_EXIT_NOEXEC, "exec %s in the build view", cmd[0]);
}

/* ------------------------------------------------------------ overlay-clean */

static recbuf_t found;
static size_t root_len;

static int clean_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
  (void)type;
  (void)ftw;
  const char *rel = path[root_len] ? path + root_len + 1 : ".";
  if (S_ISCHR(st->st_mode) && major(st->st_rdev) == 0 && minor(st->st_rdev) == 0) {
    recbuf_record(&found, "whiteout", rel, NULL);
    return 0;
  }
  if (S_ISLNK(st->st_mode)) return 0; /* no user.* xattrs on symlinks */
  char names[8192];
  ssize_t n = llistxattr(path, names, sizeof names);
  if (n < 0) {
    if (errno == ENOTSUP) return 0;
    die_errno(FHS_EXIT_SETUP, "list xattrs of %s", path);
  }
  for (char *name = names; name < names + n; name += strlen(name) + 1) {
    if (strncmp(name, "user.overlay.", 13)) continue;
    if (!strcmp(name + 13, "opaque")) recbuf_record(&found, "opaque", rel, NULL);
    else if (!strcmp(name + 13, "whiteout")) recbuf_record(&found, "whiteout", rel, NULL);
    if (lremovexattr(path, name) < 0) die_errno(FHS_EXIT_SETUP, "remove xattr %s of %s", name, path);
  }
  return 0;
}

int overlay_clean_main(int argc, char **argv)
{
  if (argc != 3) die(FHS_EXIT_SETUP, "usage: fhs-launcher overlay-clean DIR");
  root_len = strlen(argv[2]);
  if (nftw(argv[2], clean_one, 64, FTW_PHYS) < 0) die_errno(FHS_EXIT_SETUP, "walk %s", argv[2]);
  if (found.len && write_all(STDOUT_FILENO, found.buf, found.len) < 0) die_errno(FHS_EXIT_SETUP, "write stdout");
  return 0;
}
