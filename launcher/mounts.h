/* Mount primitives. Each does one thing and reports failure through errno, so
 * the caller names the object in its message. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* unshare(CLONE_NEWUSER | CLONE_NEWNS | extra) and map uid and gid to the
 * caller's own: inside, the program is who it was outside, never root (unless
 * it already was). Then makes every mount private, so nothing this process
 * mounts propagates back to the caller's namespace. */
int enter_user_mount_ns(uid_t uid, gid_t gid, bool as_root, int extra_flags);

/* True when the kernel has the new mount API with overlay's "lowerdir+". */
bool have_lowerdir_plus(void);

/* A read-only overlay of `n` (>= 2) lower directories at target, first
 * lower on top. Uses fsopen/fsconfig("lowerdir+") when available (one layer
 * per call, up to the kernel's 500), else legacy mount(2) with the options in
 * one page. Lower paths are resolved relative to the cwd. */
int mount_overlay_ro(const char *target, const char *const *lowers, size_t n);

/* A writable overlay with an upper and work dir (builds). */
int mount_overlay_rw(const char *target, const char *const *lowers, size_t n,
                     const char *upper, const char *work);

int bind_mount(const char *source, const char *target, bool recursive, bool readonly);
int remount_readonly(const char *target);

/* Brings up "lo" in a fresh network namespace (no `ip` binary needed). */
int loopback_up(void);

/* A recursive bind of source at target, read-only at every level (open_tree,
 * mount_setattr, move_mount; a top-level read-only bind before Linux 5.12). */
int bind_tree_readonly(const char *source, const char *target);
