#include "plan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "records.h"
#include "util.h"

const struct fhs_op_spec fhs_op_specs[FHS_OP_COUNT] = {FHS_OP_SPECS};

enum fhs_op plan_op_lookup(const char *name)
{
  /* The first byte first: a plan may hold a few hundred ops (a link per
   * /etc file), each looked up in a table of ~20 names. */
  for (int i = 0; i < FHS_OP_COUNT; i++)
    if (fhs_op_specs[i].name[0] == name[0] && !strcmp(fhs_op_specs[i].name, name)) return (enum fhs_op)i;
  return FHS_OP_COUNT;
}

bool verdict(verdict_t *v, int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(v->msg, sizeof v->msg, fmt, ap);
  va_end(ap);
  v->code = code;
  return false;
}

bool refuse_op(verdict_t *v, const char *policy, const plan_op_t *op, const char *why)
{
  return verdict(v, FHS_EXIT_PLAN, "policy %s: plan op '%s %s' refused: %s", policy, plan_op_name(op->op),
                 op->nargs > 0 ? op->args[0] : "", why);
}

void plan_free(plan_t *plan)
{
  free(plan->ops);
  free(plan->field_store);
  memset(plan, 0, sizeof *plan);
}

/* The parsed records of a policy result as a typed plan. */
static bool plan_type(const char *policy, int status, const records_t *recs, bool build, plan_t *plan, verdict_t *v)
{
  size_t nhead = recs->recs[0].nfields;
  const char **head = recs->recs[0].fields;
  const char *what = build ? "build" : "launch";
  if (status != 0)
    return verdict(v, FHS_EXIT_POLICY, "policy %s refused the %s: %s", policy, what, nhead > 1 ? head[1] : head[0]);
  if (nhead != 2 || strcmp(head[0], FHS_REC_PLAN))
    return verdict(v, FHS_EXIT_POLICY, "policy %s: the result does not start with a 'plan KIND' record", policy);
  if (build) {
    if (strcmp(head[1], "build")) return verdict(v, FHS_EXIT_POLICY, "policy %s: the result does not start with 'plan build'", policy);
    plan->kind = PLAN_BUILD;
  } else if (!strcmp(head[1], "view")) {
    plan->kind = PLAN_VIEW;
  } else if (!strcmp(head[1], "inplace")) {
    plan->kind = PLAN_INPLACE;
  } else if (!strcmp(head[1], "fast")) {
    plan->kind = PLAN_FAST;
  } else if (!strcmp(head[1], "facts")) {
    plan->kind = PLAN_FACTS;
  } else {
    return verdict(v, FHS_EXIT_POLICY, "policy %s: unknown plan kind '%s'", policy, head[1]);
  }
  for (size_t r = 1; r < recs->n; r++) {
    const char **f = recs->recs[r].fields;
    size_t n = recs->recs[r].nfields;
    plan_op_t *op = &plan->ops[plan->n++];
    op->args = f + 1;
    op->nargs = n - 1;
    op->op = plan_op_lookup(f[0]);
    if (op->op == FHS_OP_COUNT)
      return verdict(v, FHS_EXIT_PLAN, "policy %s: plan op '%s %s' refused: unknown op", policy, f[0], n > 1 ? f[1] : "");
    const struct fhs_op_spec *s = &fhs_op_specs[op->op];
    if ((int)op->nargs < s->min || (s->max >= 0 && (int)op->nargs > s->max)) {
      char why[160];
      if (s->max < 0) snprintf(why, sizeof why, "%s takes at least %d fields: %s", s->name, s->min, s->usage);
      else if (s->min == s->max && s->min == 0) snprintf(why, sizeof why, "%s takes no fields", s->name);
      else if (s->min == s->max) snprintf(why, sizeof why, "%s takes %d field%s: %s", s->name, s->min, s->min == 1 ? "" : "s", s->usage);
      else snprintf(why, sizeof why, "%s takes %d to %d fields: %s", s->name, s->min, s->max, s->usage);
      return refuse_op(v, policy, op, why);
    }
    /* Ops that write, or change what the program sees beyond the view's
     * mounts, belong to a build's view alone. */
    if (s->build && !build) return refuse_op(v, policy, op, "only a build plan may hold this op");
  }
  return true;
}

bool plan_parse(const char *policy, const policy_result_t *res, bool build, plan_t *plan, verdict_t *v)
{
  memset(plan, 0, sizeof *plan);
  /* Parsed as any record stream (its fields found a block at a time, not
   * by a strlen each: a 300-layer overlay op is 300 fields), then typed. */
  records_t recs;
  if (records_parse(res->bytes, res->len, &recs) < 0 || recs.n == 0)
    return verdict(v, FHS_EXIT_POLICY, "policy %s: the result is not a record stream", policy);
  plan->field_store = recs.field_store;
  plan->ops = xmalloc((recs.n - 1 ? recs.n - 1 : 1) * sizeof *plan->ops);
  bool ok = plan_type(policy, res->status, &recs, build, plan, v);
  free(recs.recs);
  return ok;
}
