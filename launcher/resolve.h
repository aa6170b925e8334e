/* Opening a layer exactly as its manifest names it (resolve.c). */
#pragma once
#include <stdbool.h>

#include "mounts.h"

/* True when `path` is absolute and has no empty, "." or ".." component: the
 * only form a manifest may name a layer in. */
bool path_normalized(const char *path);
/* Its length when path_normalized, else 0. */
size_t path_normalized_len(const char *path);

/* Opens the directory `path` names (absolute, normalized) as an O_PATH fd,
 * resolved once from `root` (a directory fd standing for "/") without
 * following a symlink in any component: openat2(RESOLVE_NO_SYMLINKS |
 * RESOLVE_BENEATH) where the kernel has it (Linux >= 5.6), else one
 * openat(O_PATH | O_NOFOLLOW) per component. Mounting from the fd then mounts
 * exactly what was checked: a swap after the open changes nothing.
 * On failure returns -1 with *why set to a short cause naming the component
 * at fault ("/a/b is a symlink", "No such file or directory"). */
int open_layer(int root, const char *path, const char **why);

/* Tests: FHS_MOUNT_API=legacy takes the per-component fallback too. */
void resolve_force_fallback(bool on);

/* open_layer, with the layer's parent directory (the path less its last two
 * components: /nix/store of /nix/store/<name>/usr) opened once the same way
 * and kept, and the rest resolved from it: the same checks, a shorter walk
 * per layer when layers share a parent. open_layer_shared_done closes the
 * parents. */
int open_layer_shared(int root, const char *path, const char **why);
/* A detached copy of the mount tree at dirfd itself, recursive, in which no
 * symlink is followed (MOUNT_ATTR_NOSYMFOLLOW on every mount in it: a path
 * resolved beneath it that meets a symlink fails with ELOOP). -1 with errno
 * where the kernel lacks a call (Linux < 5.12). The overlay calls (mounts.c) resolve a
 * lower named beneath it from the working directory, changing into the
 * clone and back. */
int clone_nosymfollow(int dirfd);

/* open_layer_shared for a mount's lower: from the fourth layer below one
 * parent, no fd but the layer's name beneath a nosymfollow clone of the
 * parent (d->rel, d->at), resolved by the kernel as it mounts it. A name
 * that fails there is resolved again with open_layer, to say why. */
int layer_ref_shared(int root, const char *path, dirref_t *d, const char **why);
/* Closes the parents (not their clones, which the mounts still use) and,
 * given `park` (a directory the view covers or drops), attaches each clone
 * there: a detached tree is torn down by its last close, alone, each time
 * at the cost of an RCU grace period; attached, it goes with the namespace's
 * other mounts. NULL leaves the clones detached, for the exec to close. */
void open_layer_shared_done(const char *park);
