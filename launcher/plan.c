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
  for (int i = 0; i < FHS_OP_COUNT; i++)
    if (!strcmp(fhs_op_specs[i].name, name)) return (enum fhs_op)i;
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

/* One record's fields, in place: the bytes from `start` up to the record's
 * terminating empty field. Returns the offset after it. */
static size_t fill_record(const uint8_t *buf, size_t start, const char **store, size_t *nfields)
{
  size_t n = 0, i = start;
  while (buf[i]) {
    store[n++] = (const char *)buf + i;
    i += strlen((const char *)buf + i) + 1;
  }
  *nfields = n;
  return i + 1;
}

bool plan_parse(const char *policy, const policy_result_t *res, bool build, plan_t *plan, verdict_t *v)
{
  memset(plan, 0, sizeof *plan);
  const char *what = build ? "build" : "launch";
  size_t nrecs, nfields;
  /* Two passes and two allocations, as for any record stream. */
  if (records_count(res->bytes, res->len, FHS_RECORDS_CAP, &nrecs, &nfields) < 0 || nrecs == 0)
    return verdict(v, FHS_EXIT_POLICY, "policy %s: the result is not a record stream", policy);
  plan->field_store = xmalloc(nfields * sizeof *plan->field_store);
  plan->ops = xmalloc((nrecs - 1 ? nrecs - 1 : 1) * sizeof *plan->ops);
  size_t nhead;
  size_t at = fill_record(res->bytes, 0, plan->field_store, &nhead);
  const char **head = plan->field_store;
  if (res->status != 0)
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
  const char **store = head + nhead;
  for (size_t r = 1; r < nrecs; r++) {
    size_t n;
    at = fill_record(res->bytes, at, store, &n);
    plan_op_t *op = &plan->ops[plan->n++];
    op->args = store + 1;
    op->nargs = n - 1;
    op->op = plan_op_lookup(store[0]);
    store += n;
    if (op->op == FHS_OP_COUNT)
      return verdict(v, FHS_EXIT_PLAN, "policy %s: plan op '%s %s' refused: unknown op", policy, store[-(long)n],
                     n > 1 ? store[1 - (long)n] : "");
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
