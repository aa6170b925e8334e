/* The bare syscall floor for benchmarks (test/bench/launch.ts): carries out
 * a saved plan with no manifest, no policy and no validation, through the
 * launcher's own view code, so the difference to a real launch is exactly
 * what the manifest, hash check, policy and checks cost. Built from the
 * launcher's sources by `make -C launcher replay`; never part of the product:
 * it runs plans nothing has validated.
 *
 *   fhs-replay PLAN PROGRAM [ARGS...] */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abi.h"
#include "plan.h"
#include "policy.h"
#include "util.h"
#include "view.h"

extern char **environ;

int main(int argc, char **argv)
{
  if (argc < 3) die(FHS_EXIT_SETUP, "usage: fhs-replay PLAN PROGRAM [ARGS...]");
  policy_result_t res = {0};
  res.bytes = read_file(argv[1], 64 << 20, &res.len);
  if (!res.bytes) die_errno(FHS_EXIT_SETUP, "plan %s: cannot read", argv[1]);
  plan_t plan;
  verdict_t v;
  if (!plan_parse(argv[1], &res, false, &plan, &v)) die(v.code, "%s", v.msg);
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) die_errno(FHS_EXIT_SETUP, "the working directory");
  if (plan.kind == PLAN_VIEW) {
    build_view(&plan, NULL);
    if (chdir(cwd) < 0) die_errno(FHS_EXIT_SETUP, "the working directory %s does not exist in the view", cwd);
  }
  for (size_t i = 0; i < plan.n; i++)
    if (plan.ops[i].op == FHS_OP_SETENV) setenv(plan.ops[i].args[0], plan.ops[i].args[1], 1);
  execve(argv[2], argv + 2, environ);
  die_errno(errno == ENOENT ? FHS_EXIT_NOENT : FHS_EXIT_NOEXEC, "exec %s", argv[2]);
}
