/* `fhs-launcher probe`: the kernel features fhs needs, each tried for real in a
 * child process that is thrown away afterwards. `fhs doctor` prints the result. */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mounts.h"
#include "util.h"

typedef const char *(*probe_fn)(const char *scratch);

static const char *errtext(const char *what)
{
  static char buf[256];
  snprintf(buf, sizeof buf, "%s: %s", what, strerror(errno));
  return buf;
}

static const char *probe_userns(const char *scratch)
{
  (void)scratch;
  if (enter_user_mount_ns(getuid(), getgid(), false, 0) < 0) return errtext("unshare(CLONE_NEWUSER|CLONE_NEWNS)");
  return NULL;
}

static const char *make_lowers(const char *scratch, char *a, char *b, char *t)
{
  snprintf(a, 512, "%s/a", scratch);
  snprintf(b, 512, "%s/b", scratch);
  snprintf(t, 512, "%s/t", scratch);
  if (enter_user_mount_ns(getuid(), getgid(), false, 0) < 0) return errtext("unshare");
  return NULL;
}

static const char *check_merged(const char *t)
{
  char p[600];
  struct stat st;
  snprintf(p, sizeof p, "%s/from-a", t);
  if (stat(p, &st) < 0) return "overlay mounted, but a lower layer's file is missing";
  snprintf(p, sizeof p, "%s/from-b", t);
  if (stat(p, &st) < 0) return "overlay mounted, but a lower layer's file is missing";
  return NULL;
}

static const char *probe_overlay(const char *scratch)
{
  char a[512], b[512], t[512];
  const char *e = make_lowers(scratch, a, b, t);
  if (e) return e;
  char opts[1200];
  snprintf(opts, sizeof opts, "lowerdir=%s:%s", a, b);
  if (mount("overlay", t, "overlay", MS_RDONLY, opts) < 0) return errtext("mount overlay");
  return check_merged(t);
}

static const char *probe_lowerdir_plus(const char *scratch)
{
  char a[512], b[512], t[512];
  const char *e = make_lowers(scratch, a, b, t);
  if (e) return e;
  if (!have_lowerdir_plus()) return "fsconfig(\"lowerdir+\") is not supported (needs Linux >= 6.8)";
  dirref_t lowers[] = {{.fd = open(a, O_PATH | O_DIRECTORY | O_CLOEXEC)}, {.fd = open(b, O_PATH | O_DIRECTORY | O_CLOEXEC)}};
  if (lowers[0].fd < 0 || lowers[1].fd < 0) return errtext("open the probe's layers");
  if (mount_overlay_ro(t, lowers, 2, false) < 0) return errtext("fsopen/fsconfig lowerdir+/fsmount/move_mount");
  return check_merged(t);
}

static const char *probe_pivot_root(const char *scratch)
{
  char t[512], old[600];
  snprintf(t, sizeof t, "%s/t", scratch);
  if (enter_user_mount_ns(getuid(), getgid(), false, 0) < 0) return errtext("unshare");
  if (mount("tmpfs", t, "tmpfs", 0, "mode=0755,size=64k") < 0) return errtext("mount tmpfs");
  snprintf(old, sizeof old, "%s/old", t);
  if (mkdir(old, 0755) < 0) return errtext("mkdir in tmpfs");
  if (syscall(SYS_pivot_root, t, old) < 0) return errtext("pivot_root");
  if (chdir("/") < 0 || umount2("/old", MNT_DETACH) < 0) return errtext("detach old root");
  return NULL;
}

static const struct { const char *name; probe_fn fn; } probes[] = {
  {"userns", probe_userns},
  {"overlay-in-userns", probe_overlay},
  {"lowerdir-plus", probe_lowerdir_plus},
  {"pivot-root-tmpfs", probe_pivot_root},
};

static int touch(const char *dir, const char *sub, const char *file)
{
  char p[600];
  snprintf(p, sizeof p, "%s/%s", dir, sub);
  if (mkdir(p, 0755) < 0) return -1;
  if (!file) return 0;
  snprintf(p, sizeof p, "%s/%s/%s", dir, sub, file);
  FILE *f = fopen(p, "we");
  if (!f) return -1;
  return fclose(f);
}

int probe_main(void)
{
  char scratch[] = "/tmp/fhs-probe.XXXXXX";
  if (!mkdtemp(scratch)) die_errno(125, "mkdtemp %s", scratch);
  if (touch(scratch, "a", "from-a") < 0 || touch(scratch, "b", "from-b") < 0 || touch(scratch, "t", NULL) < 0)
    die_errno(125, "prepare probe directory %s", scratch);

  int failed = 0;
  for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) die_errno(125, "pipe");
    pid_t pid = fork();
    if (pid < 0) die_errno(125, "fork");
    if (pid == 0) {
      close(pipefd[0]);
      const char *err = probes[i].fn(scratch);
      if (err) (void)!write(pipefd[1], err, strlen(err));
      _exit(err ? 1 : 0);
    }
    close(pipefd[1]);
    char msg[512] = {0};
    ssize_t n = read(pipefd[0], msg, sizeof msg - 1);
    close(pipefd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok) failed++;
    printf("%s\t%s\t%s\n", probes[i].name, ok ? "ok" : "fail", n > 0 ? msg : (ok ? "" : "probe crashed"));
  }
  char cmd[600];
  snprintf(cmd, sizeof cmd, "%s/a/from-a", scratch); unlink(cmd);
  snprintf(cmd, sizeof cmd, "%s/b/from-b", scratch); unlink(cmd);
  snprintf(cmd, sizeof cmd, "%s/a", scratch); rmdir(cmd);
  snprintf(cmd, sizeof cmd, "%s/b", scratch); rmdir(cmd);
  snprintf(cmd, sizeof cmd, "%s/t", scratch); rmdir(cmd);
  rmdir(scratch);
  return failed ? 1 : 0;
}
