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

/* FHS_MOUNT_API=legacy: take every fallback an old kernel takes (mount(2),
 * no open_tree/mount_setattr, no openat2), so those paths are tested on
 * kernels that have the new calls. */
bool legacy_mount_api(void);

/* True when the kernel has the new mount API with overlay's "lowerdir+"
 * (a probe, for fhs doctor; launches learn it from their first mount). */
bool have_lowerdir_plus(void);

/* A directory to mount from: an O_PATH fd (opened once, checked); the calls
 * that take only paths get it as <proc>/self/fd/N (dirref_path). Mounting
 * from the fd mounts exactly what was checked.
 * Or, with `rel` set (and fd -1): the directory `rel` names beneath `at`, a
 * detached clone of a layers' parent in which no symlink is followed
 * (clone_nosymfollow), resolved by the kernel when it is mounted: once,
 * following no symlink, without an fd per layer (resolve.c). */
typedef struct {
  int fd;
  int at;
  const char *rel;
} dirref_t;

/* Where the caller's procfs is as seen from the cwd ("/proc" by default;
 * the launcher, in its scratch root with the caller's root at /oldroot and
 * its cwd there, says "proc"). */
void mounts_set_proc(const char *dir);
/* <proc>/self/fd/N for d->fd, in a buffer the next call reuses: each use
 * takes it at once. Not in the struct: a 300-layer view holds two arrays of
 * these, and 64 bytes of room each was 9 pages more to fault in. */
const char *dirref_path(const dirref_t *d);

/* A read-only overlay of `n` (>= 2) lower directories at target, first
 * lower on top. Uses fsopen/fsconfig("lowerdir+") when available (one layer
 * per call, up to the kernel's 500; each by its fd with FSCONFIG_SET_FD on
 * Linux >= 6.13, else by its /proc/self/fd path; one named beneath a clone
 * by that name, from inside the clone as the working directory, which is
 * then the one it was again), else legacy mount(2) with the options,
 * escaped, in one page (E2BIG past it; a lower named beneath a clone is
 * opened first, beneath it, following no symlink). userxattr: overlay
 * reads its metadata from user.overlay.* xattrs, the only ones a user
 * namespace can set; an in-place view's marker layer marks its usr/.fhs
 * opaque with one (view.c), and layers never carry any (a build strips
 * them, build.c). */
int mount_overlay_ro(const char *target, dirref_t *lowers, size_t n, bool userxattr);

/* A writable overlay with an upper and work dir (builds). */
int mount_overlay_rw(const char *target, dirref_t *lowers, size_t n, dirref_t *upper, dirref_t *work);

/* A recursive bind of `source` at target, read-only all the way down:
 * open_tree + mount_setattr(AT_RECURSIVE) on Linux >= 5.12, else a recursive
 * bind and a remount of every mount in it (FHS_MOUNT_API=legacy takes that
 * path too). */
int bind_mount_ro_tree(dirref_t *source, const char *target);

/* readonly with recursive: every submount too (remount_tree_readonly). */
int bind_mount(const char *source, const char *target, bool recursive, bool readonly);
int remount_readonly(const char *target);
/* remount_readonly of target and of every mount below it. */
int remount_tree_readonly(const char *target);

/* The new mount API's detached mounts (in-place views, Linux >= 5.12).
 * detached_tmpfs: a small tmpfs (nosuid, nodev) attached nowhere, as a
 * mount fd to create files in with the *at calls. clone_readonly: a copy of
 * the mount tree at dirfd/path ("" for dirfd itself; a final symlink in
 * path is not followed), recursive or not,
 * read-only all the way down, attached nowhere yet. attach_mount: moves a
 * detached mount onto target. */
int detached_tmpfs(void);
int set_readonly(int mnt, bool recursive);
int clone_readonly(int dirfd, const char *path, bool recursive);
int attach_mount(int mnt, const char *target);

/* Brings up "lo" in a fresh network namespace (no `ip` binary needed). */
int loopback_up(void);

