/* The wasm3 host for policy modules. Same ABI and limits as the Node host
 * (src/policy/host.ts); see docs/ABI.md. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct policy_result {
  int status;       /* 0: result, 1: the policy refused the input, POLICY_TRAPPED */
  uint8_t *bytes;   /* result records, owned by the caller (free) */
  size_t len;
} policy_result_t;

/* Evaluates input with the module. Every failure (bad module, trap, deadline,
 * result out of bounds) ends the process with FHS_EXIT_POLICY and one line
 * naming the policy: a launch fails closed, before anything is mounted.
 * At most twice per launch (its two stages, launch.c): each evaluation's wasm3
 * memory is left for the exec or exit that follows, not freed. */
/* fhs_eval trapped, when policy_trap_is_status(true) asked for it as a
 * status (no bytes): a stage-1 input's trap is asked again with every fact
 * (launch.c). Otherwise a trap ends the process as every failure does. */
#define POLICY_TRAPPED 2
void policy_trap_is_status(bool on);

void policy_eval(const char *name, const uint8_t *wasm, size_t wasm_len,
                 const uint8_t *input, size_t input_len, policy_result_t *out);
