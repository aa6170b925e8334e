#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))

/* Cleanup attributes, as in bubblewrap: resources are released on every path. */
static inline void cleanup_freep(void *p) { free(*(void **)p); }
static inline void cleanup_closep(int *fd) { if (*fd >= 0) close(*fd); }
#define cleanup_free __attribute__((cleanup(cleanup_freep)))
#define cleanup_fd __attribute__((cleanup(cleanup_closep)))

/* Every fatal error is one line on stderr: "fhs: <what> <object>: <cause>". */
NORETURN void die(int code, const char *fmt, ...) PRINTF_LIKE(2, 3);
NORETURN void die_errno(int code, const char *fmt, ...) PRINTF_LIKE(2, 3);

void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* Reads a whole regular file of at most `max` bytes (opened O_CLOEXEC and
 * O_NONBLOCK, so a FIFO cannot hang it). Returns NULL with errno set: ENOTREG
 * for anything but a regular file, EFBIG past max. read_file_flags adds open
 * flags (O_NOFOLLOW). */
uint8_t *read_file(const char *path, size_t max, size_t *len_out);
uint8_t *read_file_flags(const char *path, int flags, size_t max, size_t *len_out);
/* The same checks and cap, from a file already open (and checked by the caller). */
uint8_t *read_fd(int fd, size_t max, size_t *len_out);
/* ENOTREG: not an errno of Linux's own, so it cannot be confused with one. */
#define ENOTREG 4096
/* Words for a read_file failure: strerror, or what ENOTREG/EFBIG mean. */
const char *read_error(int errnum, size_t max);
/* Writes all of buf to fd, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);
/* OUT = A "/" B when it fits in N bytes (else false): paths on every
 * launch are joined by this, not by snprintf (musl's printf machinery is a
 * measurable share of a warm launch's instructions). */
bool path_join(char *out, size_t n, const char *a, const char *b);
/* A "/" B, allocated at its size. The warm path and the fast path build
 * their paths this way rather than in PATH_MAX buffers on the stack: each
 * stack page a launch writes first is a page fault (~3 us on a VM), and
 * short strings packed in the allocator's arena share its pages. */
char *path_cat(const char *a, const char *b);
/* The last component of a path ("" when it ends in '/'). */
const char *base_name(const char *p);
/* All of stdin (grown as needed), at most MAX bytes; exits 125 naming WHAT
 * on a read error or a larger stream. */
uint8_t *read_stdin(const char *what, size_t max, size_t *len);
