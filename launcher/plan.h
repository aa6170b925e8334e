/* The typed plan: the policy's answer parsed once into rows of {op, args},
 * each checked against its spec in abi/abi.json (a known op, its
 * number of fields, build-only ops in a build plan only). Everything after
 * the parse (validate.c, view.c, launch.c) switches on the enum; no op name
 * is compared twice.
 *
 * Parsing and validation are pure: no system call, no exit. A refusal is a
 * verdict (exit code and one line) the caller reports, so each refusal can
 * be unit-tested (test/unit/validate_test.c) and fuzzed. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "abi.h"

struct policy_result;

extern const struct fhs_op_spec fhs_op_specs[FHS_OP_COUNT];

/* PLAN_VIEW: a new root; PLAN_INPLACE: /usr (and /etc, /opt) mounted over
 * the caller's own root (docs/ARCHITECTURE.md, "Two ways to make a view").
 * PLAN_FACTS: "ask me again with every fact", an answer to a stage-1 launch
 * input (`facts partial`) alone; the validator refuses it anywhere else. */
typedef enum { PLAN_FAST, PLAN_VIEW, PLAN_INPLACE, PLAN_BUILD, PLAN_FACTS } plan_kind_t;

typedef struct {
  enum fhs_op op;
  const char **args; /* the fields after the op's name */
  size_t nargs;
} plan_op_t;

typedef struct {
  plan_kind_t kind;
  plan_op_t *ops; /* the rows after `plan KIND` */
  size_t n;
  const char **field_store;
} plan_t;

/* Why a plan (or an input) was refused: the exit code and the line. */
typedef struct {
  int code;
  char msg[1024];
} verdict_t;

/* The op named `name`, or FHS_OP_COUNT. */
enum fhs_op plan_op_lookup(const char *name);
static inline const char *plan_op_name(enum fhs_op op) { return fhs_op_specs[op].name; }

/* Parses the policy's answer to a `req launch` (`build` false: plan fast, view,
 * inplace or facts; which of them the input allows is the validator's check) or a `req build` (plan build). Fields point into res->bytes. On a
 * refusal returns false with *v set (122: the policy refused or answered no
 * plan; 123: an op breaks its spec). `policy` names the module in messages. */
bool plan_parse(const char *policy, const struct policy_result *res, bool build, plan_t *plan, verdict_t *v);
void plan_free(plan_t *plan);

/* Sets *v to code and the formatted line; returns false, for `return refuse(...)`. */
bool verdict(verdict_t *v, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "policy P: plan op 'OP ARG1' refused: WHY", exit 123. */
bool refuse_op(verdict_t *v, const char *policy, const plan_op_t *op, const char *why);
