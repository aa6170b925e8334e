/* fhs build's two launcher commands.
 *
 * build: runs COMMAND in the pure view the policy's `req build` plans. The
 * input file is written by the CLI (src/build.ts): the policy module and its
 * sha256, the dependency layers, config records and the staging paths it
 * prepared. The launcher checks the module's hash, asks the policy, holds the
 * plan to the same invariants as a launch (plus: only the staging dirs may
 * be written), builds the view and runs COMMAND in a new PID namespace (see
 * run_build below) so that every process of the build dies with it. The CLI
 * waits for this process, which ends as COMMAND ended, then inspects the
 * upper directory.
 *
 * overlay-clean: after the build, lists what overlay left in the upper
 * directory that would change a dependency's files (whiteouts, opaque dirs)
 * and strips overlay's own xattrs, so that OUT is a plain tree. Node has no
 * xattr API; this keeps the CLI free of getfattr/setfattr.
 *
 * overlay-check: the same eyes on layers, changing nothing. A layer holding
 * overlay's metadata (a 0/0 character device, an overlay.* xattr) would hide
 * or redirect the files of the layers below it in every view; fhs wrap, env
 * and build refuse it (docs/LAYERS.md). */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "abi.h"
#include "exec.h"
#include "facts.h"
#include "launch.h"
#include "plan.h"
#include "policy.h"
#include "records.h"
#include "util.h"
#include "validate.h"
#include "view.h"

extern char **environ;

/* ------------------------------------------------------- the build's processes
 *
 * A build's processes must die with it: a build interrupted by SIGINT or
 * SIGTERM, or whose CLI is killed outright, must leave nothing running (a
 * `make -j` child, a test server, a `sleep` in a script) and nothing writing
 * into a staging dir the next build will clean. The kernel gives that
 * guarantee for a PID namespace: when its init exits, every process left in
 * it is killed. So:
 *
 *   CLI ── this process (in the build's user + mount namespace; dies with
 *          │ the CLI by PR_SET_PDEATHSIG; forwards signals; exits as
 *          │ COMMAND did)
 *          └─ init, PID 1 of a new PID namespace (dies with this process
 *             by PR_SET_PDEATHSIG; forwards signals to every process in
 *             the namespace; reaps orphans; exits
 *             when COMMAND exits, which kills whatever COMMAND left)
 *             └─ COMMAND
 *
 * COMMAND is not PID 1 itself: PID 1 ignores signals it has no handler for
 * (a shell's SIGTERM would do nothing) and must reap orphans it knows
 * nothing of. SIGKILL of the CLI kills this process, which kills init,
 * which kills the namespace. */

static volatile pid_t forward_to;

static void forward_signal(int sig)
{
  if (forward_to != 0) kill(forward_to, sig);
}

/* The signals a build forwards: what a terminal, a CI runner or a user sends. */
static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

static void forward_signals_to(pid_t pid)
{
  forward_to = pid;
  struct sigaction sa = {0};
  sa.sa_handler = forward_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
    if (sigaction(forwarded[i], &sa, NULL) < 0) die_errno(FHS_EXIT_SETUP, "sigaction");
}

/* Ends this process the way `status` (a wait status) says COMMAND ended: the
 * same exit code, or death by the same signal, so the CLI reports it truly. */
static NORETURN void end_like(int status)
{
  if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
  int sig = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
  /* A build that dumped core did so already; this process must not. */
  struct rlimit none = {0, 0};
  (void)setrlimit(RLIMIT_CORE, &none);
  signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  raise(sig);
  _exit(128 + sig);
}

/* PID 1 of the build's PID namespace. */
static NORETURN void build_init(char **cmd, int status_fd, int alive_fd, int report_fd, const sigset_t *mask)
{
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) die_errno(FHS_EXIT_SETUP, "prctl(PR_SET_PDEATHSIG) for the build's init");
  /* The parent may have died before the line above: then the pipe it holds
   * open is closed, and nothing would kill this namespace later. */
  struct pollfd p = {.fd = alive_fd, .events = POLLIN};
  if (poll(&p, 1, 0) != 0) _exit(FHS_EXIT_SETUP);

  pid_t child = fork();
  if (child < 0) die_errno(FHS_EXIT_SETUP, "fork the build command");
  if (child == 0) {
    sigprocmask(SIG_SETMASK, mask, NULL);
    if (status_fd >= 0 && write_all(status_fd, "x", 1) < 0) die_errno(FHS_EXIT_SETUP, "status fd");
    execvp(cmd[0], cmd);
    die_exec(cmd[0], errno, " in the build view");
  }
  if (status_fd >= 0) close(status_fd);
  /* To every process of the build, as a terminal's Ctrl-C reaches a whole
   * foreground job: a shell waiting for its child acts on SIGINT only when
   * the child dies of it too. kill(-1) from init spares init itself. */
  forward_signals_to(-1);
  sigprocmask(SIG_SETMASK, mask, NULL);
  for (;;) {
    int st;
    pid_t pid = waitpid(-1, &st, 0);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) die_errno(FHS_EXIT_SETUP, "wait for the build command");
    if (pid != child) continue; /* an orphan, reaped */
    /* COMMAND is done: say how, then exit, which kills what it left running. */
    if (write_all(report_fd, &st, sizeof st) < 0) die_errno(FHS_EXIT_SETUP, "report the build's status");
    _exit(0);
  }
}

#if defined(__x86_64__)
#define FHS_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define FHS_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "the build view's ownership filter needs this architecture's AUDIT_ARCH"
#endif

/* userns-root: the build's user namespace maps its root alone, so giving a
 * file to any other user or group fails with EINVAL: adduser's chown of a
 * system user's home (it then removes the user again), pwconv's root:shadow,
 * `install -o`, dpkg-statoverride. Ownership is not what a build or an
 * install-time state keeps (every file it writes belongs to the caller, and
 * the CLI keeps no owner), so in such a view the chown family succeeds
 * without effect: a seccomp filter answers those calls with 0, for this
 * process and everything it starts. It can only take an effect away, never
 * grant one; no_new_privs, which an unprivileged filter needs, is what a
 * build view wants anyway (nothing in it may gain privileges by exec). */
static void ownership_changes_as_noops(void)
{
  static const unsigned int calls[] = {
#ifdef SYS_chown
      SYS_chown,
#endif
#ifdef SYS_lchown
      SYS_lchown,
#endif
      SYS_fchown, SYS_fchownat,
  };
  enum { NCALLS = sizeof calls / sizeof calls[0] };
  struct sock_filter f[4 + 2 * NCALLS + 1];
  size_t n = 0;
  /* Another ABI's numbers mean other calls: allowed as they are. */
  f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FHS_AUDIT_ARCH, 1, 0);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  for (size_t i = 0; i < NCALLS; i++) {
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, calls[i], 0, 1);
    /* SECCOMP_RET_ERRNO with errno 0: the call returns 0, not run. */
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 0);
  }
  f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die_errno(FHS_EXIT_SETUP, "prctl(PR_SET_NO_NEW_PRIVS) for the build view");
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) die_errno(FHS_EXIT_SETUP, "seccomp filter making ownership changes no-ops in the build view");
}

/* Runs COMMAND as described above; returns only by ending like COMMAND. */
static NORETURN void run_build(char **cmd, int status_fd, pid_t cli)
{
  /* Set after the user namespace is made: a credential change may clear it. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) die_errno(FHS_EXIT_SETUP, "prctl(PR_SET_PDEATHSIG)");
  if (getppid() != cli) die(FHS_EXIT_SETUP, "build: the process that started it is gone");
  if (unshare(CLONE_NEWPID) < 0) die_errno(FHS_EXIT_SETUP, "cannot create the build's PID namespace");
  int alive[2], report[2];
  if (pipe2(alive, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0) die_errno(FHS_EXIT_SETUP, "pipe");

  /* No signal handled between fork and knowing whom to forward it to. */
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t init = fork();
  if (init < 0) die_errno(FHS_EXIT_SETUP, "fork the build's init");
  if (init == 0) {
    close(alive[1]);
    close(report[0]);
    build_init(cmd, status_fd, alive[0], report[1], &old);
  }
  close(alive[0]);
  close(report[1]);
  if (status_fd >= 0) close(status_fd);
  forward_signals_to(init);
  sigprocmask(SIG_SETMASK, &old, NULL);

  int st;
  while (waitpid(init, &st, 0) < 0)
    if (errno != EINTR) die_errno(FHS_EXIT_SETUP, "wait for the build's init");
  /* init reports COMMAND's status before it exits; without a report, init
   * itself died (killed from outside), and so did the build. */
  int cmd_status;
  ssize_t n;
  do n = read(report[0], &cmd_status, sizeof cmd_status);
  while (n < 0 && errno == EINTR);
  end_like(n == (ssize_t)sizeof cmd_status ? cmd_status : st);
}

int build_main(int argc, char **argv)
{
  /* Taken first: the build must not outlive the CLI that waits for it. */
  pid_t cli = getppid();
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
  uint8_t *ibytes = read_file(input_path, FHS_MANIFEST_SIZE_CAP, &ilen);
  if (!ibytes) die(FHS_EXIT_SETUP, "build input %s: cannot read: %s", input_path, read_error(errno, FHS_MANIFEST_SIZE_CAP));
  records_t input;
  if (records_parse(ibytes, ilen, &input) < 0 || input.n < 2 || strcmp(input.recs[0].fields[0], FHS_REC_FHS_BUILD))
    die(FHS_EXIT_SETUP, "build input %s: not a compiled fhs build input", input_path);

  const char *policy_path = NULL;
  size_t wlen = 0;
  uint8_t *wasm = read_verified_policy(&input, input_path, &policy_path, &wlen, NULL);

  build_paths_t paths = {manifest_value(&input, "build-upper"), manifest_value(&input, "build-work"), manifest_value(&input, "build-dir"),
                         manifest_value(&input, "build-etc-upper"), manifest_value(&input, "build-etc-work"), manifest_value(&input, "build-var")};
  if (!paths.upper || !paths.work || !paths.dir) die(FHS_EXIT_SETUP, "build input %s: lacks the staging paths", input_path);
  if (!paths.etc_upper != !paths.etc_work) die(FHS_EXIT_SETUP, "build input %s: build-etc-upper and build-etc-work go together", input_path);

  recbuf_t in = {0};
  recbuf_record(&in, FHS_REC_REQ, "build", NULL);
  for (size_t i = 0; i < input.n; i++) {
    const char *k = input.recs[i].fields[0];
    if (!strcmp(k, FHS_REC_FHS_BUILD) || !strcmp(k, FHS_REC_POLICY)) continue;
    for (size_t f = 0; f < input.recs[i].nfields; f++) recbuf_field(&in, input.recs[i].fields[f]);
    recbuf_end(&in);
  }
  add_host_entries(&in);

  policy_result_t res;
  policy_eval(policy_path, wasm, wlen, in.buf, in.len, &res);
  const char *debug = getenv("FHS_DEBUG");
  if (debug && !strcmp(debug, "plan")) (void)!write_all(STDERR_FILENO, res.bytes, res.len);
  verdict_t v;
  plan_t plan;
  if (!plan_parse(policy_path, &res, true, &plan, &v)) die(v.code, "%s", v.msg);

  records_t inrecs;
  if (records_parse(in.buf, in.len, &inrecs) < 0) die(FHS_EXIT_SETUP, "internal: malformed policy input");
  allowed_t allowed = {0};
  if (!allow_layers(&allowed, &input, FHS_REC_LAYER, &v)) die(v.code, "%s", v.msg);
  plan_ctx_t ctx = {.policy = policy_path, .allowed = &allowed, .in = &inrecs, .build = &paths};
  if (!plan_validate(&plan, &ctx, &v)) die(v.code, "%s", v.msg);

  build_view(&plan, NULL);

  /* File modes must not depend on the caller's umask: OUT is compared bit
   * for bit between runs. */
  umask(022);
  for (size_t i = 0; i < plan.n; i++) {
    const plan_op_t *op = &plan.ops[i];
    if (op->op == FHS_OP_USERNS_ROOT) ownership_changes_as_noops();
    if (op->op == FHS_OP_CHDIR && chdir(op->args[0]) < 0) die_errno(FHS_EXIT_SETUP, "chdir %s in the build view", op->args[0]);
    if (op->op == FHS_OP_CLEARENV && clearenv() != 0) die(FHS_EXIT_SETUP, "clearenv failed");
    if (op->op == FHS_OP_SETENV && setenv(op->args[0], op->args[1], 1) < 0) die_errno(FHS_EXIT_SETUP, "setenv %s", op->args[0]);
  }
  run_build(cmd, status_fd, cli);
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

/* ------------------------------------------------------------ overlay-check */

static size_t check_root_len;
static const char *check_layer;

/* Plain nftw (no FTW_ACTIONRETVAL, a glibc extension musl lacks): a
 * non-zero return ends the walk at the first finding. */
static int check_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
  (void)type;
  const char *rel = path[check_root_len] ? path + check_root_len + 1 : ".";
  /* A layer's own metadata (.fhs/) is never part of a view. */
  if ((ftw->level == 1 && S_ISDIR(st->st_mode) && !strcmp(rel, ".fhs")) || !strncmp(rel, ".fhs/", 5)) return 0;
  if (S_ISCHR(st->st_mode) && major(st->st_rdev) == 0 && minor(st->st_rdev) == 0) {
    recbuf_record(&found, "whiteout", check_layer, rel, NULL);
    return 1;
  }
  char names[8192];
  ssize_t n = llistxattr(path, names, sizeof names);
  if (n < 0) {
    if (errno == ENOTSUP) return 0;
    die_errno(FHS_EXIT_SETUP, "list xattrs of %s", path);
  }
  /* trusted.* names are listed only to a caller with CAP_SYS_ADMIN; an
   * overlay mounted in a user namespace does not read them either. */
  for (char *name = names; name < names + n; name += strlen(name) + 1) {
    if (strncmp(name, "user.overlay.", 13) && strncmp(name, "trusted.overlay.", 16)) continue;
    recbuf_record(&found, "xattr", check_layer, rel, name, NULL);
    return 1;
  }
  return 0;
}

int overlay_check_main(int argc, char **argv)
{
  if (argc < 3) die(FHS_EXIT_SETUP, "usage: fhs-launcher overlay-check LAYER...");
  for (int i = 2; i < argc && !found.len; i++) {
    check_layer = argv[i];
    check_root_len = strlen(argv[i]);
    if (nftw(argv[i], check_one, 64, FTW_PHYS) < 0) die_errno(FHS_EXIT_SETUP, "walk %s", argv[i]);
  }
  if (found.len && write_all(STDOUT_FILENO, found.buf, found.len) < 0) die_errno(FHS_EXIT_SETUP, "write stdout");
  return 0;
}
