/* A link in a nesting chain for benchmarks and tests: execs its arguments.
 * Static, so each package in the chain needs no layer but its own. */
#include <stdio.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
  if (argc < 2) return 0;
  execve(argv[1], argv + 1, environ);
  perror(argv[1]);
  return 127;
}
