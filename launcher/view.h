/* Carrying out a validated plan (view.c). */
#pragma once
#include "plan.h"

/* Enters the namespaces and makes the plan's root the process's root.
 * union_ldcache: the nested view's union ld.so.cache an ldcache-union op
 * binds (cache.c), or NULL/"" for the op's own PATH. Exits 125 on failure. */
void build_view(const plan_t *plan, const char *union_ldcache);
