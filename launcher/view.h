/* Carrying out a validated plan (view.c). */
#pragma once
#include "plan.h"

/* Enters the namespaces and makes the plan's root the process's root.
 * union_ldcache: the nested view's union ld.so.cache an ldcache-union op
 * binds (cache.c), or NULL/"" for the op's own PATH. Exits 125 on failure. */
void build_view(const plan_t *plan, const char *union_ldcache);

/* An in-place view (plan inplace): a new user + mount namespace over the
 * caller's own root, with /usr (and /etc, /opt, /var/lib as planned) mounted
 * over in place, the marker in the /usr overlay itself. Exits 125. */
void build_view_inplace(const plan_t *plan, const char *union_ldcache);
