/* Opening a layer exactly as its manifest names it (resolve.c). */
#pragma once
#include <stdbool.h>

/* True when `path` is absolute and has no empty, "." or ".." component: the
 * only form a manifest may name a layer in. */
bool path_normalized(const char *path);

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
void open_layer_shared_done(void);
