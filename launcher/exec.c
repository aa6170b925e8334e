/* Why an exec failed, in words a user can act on.
 *
 * execve says ENOENT both when the program is missing and when the program
 * is there but its interpreter is not: the ELF loader its PT_INTERP names
 * (a view without the libc layer has no /lib64/ld-linux-x86-64.so.2) or the
 * #! line's. "No such file or directory" about a file the user can see is
 * the worst kind of message, so the launcher looks. */
#include "exec.h"

#include <elf.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abi.h"
#include "util.h"

static bool pread_all(int fd, void *buf, size_t len, off_t off)
{
  return pread(fd, buf, len, off) == (ssize_t)len;
}

/* PT_INTERP of an ELF file (either class, native byte order), or false. */
static bool elf_interp(int fd, char *out, size_t cap)
{
  unsigned char ident[EI_NIDENT];
  if (!pread_all(fd, ident, sizeof ident, 0) || memcmp(ident, ELFMAG, SELFMAG)) return false;
  uint64_t phoff, phnum, phentsize;
  if (ident[EI_CLASS] == ELFCLASS64) {
    Elf64_Ehdr h;
    if (!pread_all(fd, &h, sizeof h, 0)) return false;
    phoff = h.e_phoff, phnum = h.e_phnum, phentsize = h.e_phentsize;
    if (phentsize < sizeof(Elf64_Phdr)) return false;
  } else if (ident[EI_CLASS] == ELFCLASS32) {
    Elf32_Ehdr h;
    if (!pread_all(fd, &h, sizeof h, 0)) return false;
    phoff = h.e_phoff, phnum = h.e_phnum, phentsize = h.e_phentsize;
    if (phentsize < sizeof(Elf32_Phdr)) return false;
  } else {
    return false;
  }
  /* e_phnum is 16 bits and e_phentsize too: no product here can overflow. */
  for (uint64_t i = 0; i < phnum; i++) {
    uint64_t off = phoff + i * phentsize, ioff, isz;
    uint32_t type;
    if (ident[EI_CLASS] == ELFCLASS64) {
      Elf64_Phdr p;
      if (off > (uint64_t)LLONG_MAX || !pread_all(fd, &p, sizeof p, (off_t)off)) return false;
      type = p.p_type, ioff = p.p_offset, isz = p.p_filesz;
    } else {
      Elf32_Phdr p;
      if (off > (uint64_t)LLONG_MAX || !pread_all(fd, &p, sizeof p, (off_t)off)) return false;
      type = p.p_type, ioff = p.p_offset, isz = p.p_filesz;
    }
    if (type != PT_INTERP) continue;
    if (isz < 2 || isz > cap || ioff > (uint64_t)LLONG_MAX || !pread_all(fd, out, (size_t)isz, (off_t)ioff)) return false;
    if (out[isz - 1] != 0 || strlen(out) != isz - 1) return false;
    return true;
  }
  return false;
}

/* The interpreter of a #! line, as the kernel reads it (the first word). */
static bool shebang_interp(int fd, char *out, size_t cap)
{
  char buf[256];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n < 3 || buf[0] != '#' || buf[1] != '!') return false;
  buf[n] = 0;
  char *p = buf + 2;
  while (*p == ' ' || *p == '\t') p++;
  size_t l = strcspn(p, " \t\n");
  if (l == 0 || l >= cap) return false;
  memcpy(out, p, l);
  out[l] = 0;
  return true;
}

/* The file execvp would have tried first for a name without '/'. */
static const char *search_path(const char *name, char *buf, size_t cap)
{
  const char *path = getenv("PATH");
  if (!path) path = "/bin:/usr/bin";
  for (const char *p = path;;) {
    const char *end = strchr(p, ':');
    size_t l = end ? (size_t)(end - p) : strlen(p);
    int m = snprintf(buf, cap, "%.*s%s%s", (int)l, p, l ? "/" : "", name);
    if (m > 0 && (size_t)m < cap && access(buf, F_OK) == 0) return buf;
    if (!end) return NULL;
    p = end + 1;
  }
}

void die_exec(const char *prog, int errnum, const char *where)
{
  if (errnum != ENOENT) {
    errno = errnum;
    die_errno(FHS_EXIT_NOEXEC, "exec %s%s", prog, where);
  }
  char found[PATH_MAX];
  const char *file = strchr(prog, '/') ? prog : search_path(prog, found, sizeof found);
  int fd = file ? open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) : -1;
  if (fd >= 0) {
    char interp[PATH_MAX];
    bool elf = elf_interp(fd, interp, sizeof interp);
    bool script = !elf && shebang_interp(fd, interp, sizeof interp);
    close(fd);
    if ((elf || script) && access(interp, F_OK) < 0 && errno == ENOENT)
      die(FHS_EXIT_NOEXEC, "exec %s%s: its %s %s is missing%s", prog, where, elf ? "ELF interpreter" : "interpreter", interp,
          where[0] ? "" : " in the view");
  }
  errno = errnum;
  die_errno(FHS_EXIT_NOENT, "exec %s%s", prog, where);
}
