/* Benchmark runner: execs a command N times, one after another, and prints
 * each run's wall time in nanoseconds, then the peak RSS (KiB) of any run.
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
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      fprintf(stderr, "runner: %s failed (status %d)\n", argv[2], st);
      return 1;
    }
    printf("%lld\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
  }
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  printf("rss %ld\n", ru.ru_maxrss);
  return 0;
}
