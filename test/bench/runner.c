/* Benchmark runner: execs a command N times, one after another, and prints
 * each run's wall time and CPU time (user + system of the command and every
 * descendant it waited for) in nanoseconds, then the peak RSS (KiB) of any
 * run. CPU time is what a busy machine perturbs least: it leaves out waiting
 * for a CPU (and for RCU grace periods), which wall time counts.
 * In C so that the measuring side adds no noise of its own:
 *   runner N PROGRAM [ARGS...]  */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: runner N PROGRAM [ARGS...]\n");
    return 2;
  }
  int n = atoi(argv[1]);
  for (int i = 0; i < n; i++) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 2; }
    if (pid == 0) {
      execve(argv[2], argv + 2, environ);
      perror(argv[2]);
      _exit(127);
    }
    int st;
    struct rusage ru;
    while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {}
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      fprintf(stderr, "runner: %s failed (status %d)\n", argv[2], st);
      return 1;
    }
    long long cpu = ((long long)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
    printf("%lld %lld\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec), cpu);
  }
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  printf("rss %ld\n", ru.ru_maxrss);
  return 0;
}
