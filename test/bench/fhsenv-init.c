/* buildFHSEnv's first-stage init, rebuilt for the benchmark
 * (docs/BENCHMARKS.md, "A faithful buildFHSEnv"): what nixpkgs'
 * build-fhsenv-bubblewrap/container-init.cc does inside the bwrap sandbox on
 * every launch. Static, like the original: it writes /etc/ld.so.conf (the
 * same directory list), runs /bin/ldconfig with an empty environment, waits
 * for it, and execs /init (the bash script that sources /etc/profile and
 * execs the program) with its own arguments. */
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char ld_so_conf[] =
  "/lib\n/lib/x86_64-linux-gnu\n/lib64\n/usr/lib\n/usr/lib/x86_64-linux-gnu\n/usr/lib64\n"
  "/lib/i386-linux-gnu\n/lib32\n/usr/lib/i386-linux-gnu\n/usr/lib32\n"
  "/run/opengl-driver/lib\n/run/opengl-driver-32/lib\n";

int main(int argc, char **argv)
{
  (void)argc;
  FILE *f = fopen("/etc/ld.so.conf", "w");
  if (!f || fputs(ld_so_conf, f) < 0 || fclose(f) != 0) {
    perror("Failed to generate ld.so.conf");
    return 1;
  }
  char *ldconfig_argv[] = {"/bin/ldconfig", NULL};
  char *empty_env[] = {NULL};
  pid_t pid;
  int e = posix_spawn(&pid, ldconfig_argv[0], NULL, NULL, ldconfig_argv, empty_env);
  if (e) {
    fprintf(stderr, "Failed to run ldconfig: %s\n", strerror(e));
    return 1;
  }
  int status;
  if (waitpid(pid, &status, 0) == -1) {
    perror("Failed to wait for ldconfig");
    return 1;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status)) {
    fprintf(stderr, "ldconfig failed (status %d)\n", status);
    return 1;
  }
  argv[0] = "/init";
  execv(argv[0], argv);
  perror("Failed to exec stage 2 init");
  return 1;
}
