/* fhs-launcher: builds an FHS view per exec and runs the real program in it.
 *
 * Invoked through a wrapper (a symlink to <pkg>/.fhs/.fhs-launcher),
 * it launches; see launch.c. Invoked by its own name, it offers the
 * commands the CLI and tests use:
 *
 *   fhs-launcher eval POLICY.wasm [NAME]   plan-only mode: records on stdin,
 *                                          the policy's result on stdout
 *   fhs-launcher probe                     kernel feature probes (fhs doctor)
 *   fhs-launcher plan WRAPPER|PKG [--inside]
 *                                          fhs plan: a launch's facts and the
 *                                          policy's answer, nothing mounted
 *   fhs-launcher build INPUT [--status-fd N] -- COMMAND...
 *                                          fhs build: COMMAND in a build view
 *   fhs-launcher overlay-clean DIR         fhs build: list whiteouts and opaque
 *                                          dirs, strip overlay xattrs
 *   fhs-launcher overlay-check LAYER...    fhs wrap/env/build: the first
 *                                          whiteout or overlay xattr, if any
 *   fhs-launcher manifest OUT NAME POLICY CONFIG LAYER...
 *                                          Nix: the compiled manifest of a view
 *   fhs-launcher env MANIFEST -- COMMAND...
 *                                          fhs env: COMMAND in a launch view
 *   fhs-launcher --version
 */
#include <errno.h>
#include <linux/capability.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "facts.h"
#include "launch.h"
#include "abi.h"
#include "policy.h"
#include "probe.h"
#include "util.h"
#include "wasm3.h"
#include <stdbool.h>
#include <stdint.h>

#ifndef FHS_VERSION
#define FHS_VERSION "0.0.0"
#endif

static int cmd_eval(int argc, char **argv)
{
  if (argc < 3 || argc > 4) die(FHS_EXIT_SETUP, "usage: fhs-launcher eval POLICY.wasm [NAME]");
  const char *path = argv[2];
  const char *name = argc == 4 ? argv[3] : path;
  size_t wlen = 0, ilen = 0;
  cleanup_free uint8_t *wasm = read_file(path, FHS_MODULE_SIZE_CAP, &wlen);
  if (!wasm) die(FHS_EXIT_POLICY, "policy %s: cannot read: %s", name, read_error(errno, FHS_MODULE_SIZE_CAP));
  cleanup_free uint8_t *input = read_stdin("policy input", FHS_MANIFEST_SIZE_CAP, &ilen);
  policy_result_t res;
  policy_eval(name, wasm, wlen, input, ilen, &res);
  if (write_all(STDOUT_FILENO, res.bytes, res.len) < 0) die_errno(FHS_EXIT_SETUP, "write stdout");
  free(res.bytes);
  return res.status == 0 ? 0 : 1;
}

/* The launcher is never privileged beyond its caller. Made setuid or given
 * file capabilities (a packager's mistake, a security.wrappers entry), it
 * would let any user point a wrapper symlink at it, supply a manifest and a
 * policy of their own, and run anything with its privileges; even failing,
 * it would write files owned by someone else into the caller's cache. So it
 * refuses before it reads anything the caller controls.
 *
 * What a legitimate caller has: an unprivileged user, no capabilities, or
 * only ambient ones its own parent gave it (they pass to any program it
 * execs, with or without fhs); root, every capability, with real and
 * effective ids equal. What a setuid or setcap launcher has: AT_SECURE set by
 * the kernel, an effective id other than the real one, or, for a non-root
 * caller, permitted or effective capabilities beyond its ambient set. */
/* Messages name the file to fix; /proc/self/exe is the kernel's word, not
 * the caller's. Read only for a refusal: the path walk it costs is not on
 * every launch. */
static const char *self_path(char *self, size_t n)
{
  ssize_t l = readlink("/proc/self/exe", self, n - 1);
  if (l <= 0) return "fhs-launcher";
  self[l] = 0;
  return self;
}

static void refuse_privileges(void)
{
  char buf[512];
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0)
    die_errno(FHS_EXIT_SETUP, "launcher %s: cannot read its user and group ids", self_path(buf, sizeof buf));
  if (ruid != euid || ruid != suid)
    die(FHS_EXIT_SETUP, "launcher %s: runs setuid (uid %u, effective uid %u); it must never be setuid: remove the bit (chmod u-s)",
        self_path(buf, sizeof buf), (unsigned)ruid, (unsigned)euid);
  if (rgid != egid || rgid != sgid)
    die(FHS_EXIT_SETUP, "launcher %s: runs setgid (gid %u, effective gid %u); it must never be setgid: remove the bit (chmod g-s)",
        self_path(buf, sizeof buf), (unsigned)rgid, (unsigned)egid);
  if (getauxval(AT_SECURE))
    die(FHS_EXIT_SETUP, "launcher %s: was started with privileges its caller lacks (AT_SECURE); it must have none: remove its file capabilities (setcap -r)", self_path(buf, sizeof buf));
  if (ruid == 0) return;
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
  if (syscall(SYS_capget, &hdr, data) < 0) die_errno(FHS_EXIT_SETUP, "launcher %s: cannot read its capabilities", self_path(buf, sizeof buf));
  for (unsigned cap = 0; cap < 32 * _LINUX_CAPABILITY_U32S_3; cap++) {
    uint32_t bit = 1u << (cap % 32);
    bool held = (data[cap / 32].permitted | data[cap / 32].effective) & bit;
    /* Only when it holds any: the ambient probe is one call per capability. */
    if (held && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) != 1)
      die(FHS_EXIT_SETUP, "launcher %s: holds capability %u that its caller (uid %u) did not pass it; it must have none: remove its file capabilities (setcap -r)",
          self_path(buf, sizeof buf), cap, (unsigned)ruid);
  }
}

int main(int argc, char **argv)
{
  refuse_privileges();
  /* Through a wrapper? AT_EXECFN is the path the caller exec'd (through PATH,
   * a symlink, a relative path). A wrapper used as a #! interpreter sees the
   * script there instead, but then argv[0] is the interpreter path. */
  char *pkg = NULL, *rel = NULL;
  if (find_wrapper((const char *)getauxval(AT_EXECFN), &pkg, &rel) ||
      (argc > 0 && strchr(argv[0], '/') && find_wrapper(argv[0], &pkg, &rel)))
    return launch(pkg, rel, argv);

  const char *cmd = argc > 1 ? argv[1] : "";
  if (strcmp(cmd, "--version") == 0) {
    printf("fhs-launcher %s (wasm3 %s, policy ABI %d)\n", FHS_VERSION, M3_VERSION, FHS_ABI_VERSION);
    return 0;
  }
  if (strcmp(cmd, "eval") == 0) return cmd_eval(argc, argv);
  if (strcmp(cmd, "probe") == 0) return probe_main();
  if (strcmp(cmd, "build") == 0) return build_main(argc, argv);
  if (strcmp(cmd, "overlay-clean") == 0) return overlay_clean_main(argc, argv);
  if (strcmp(cmd, "overlay-check") == 0) return overlay_check_main(argc, argv);
  if (strcmp(cmd, "manifest") == 0) return manifest_main(argc, argv);
  if (strcmp(cmd, "env") == 0) {
    if (argc < 5 || strcmp(argv[3], "--")) die(FHS_EXIT_SETUP, "usage: fhs-launcher env MANIFEST -- COMMAND [ARGS...]");
    return launch_env(argv[2], argv + 4);
  }
  if (strcmp(cmd, "plan") == 0) return plan_main(argc, argv);
  die(FHS_EXIT_SETUP, "usage: fhs-launcher eval|plan|probe|build|env|--version (launches happen through wrappers)");
}
