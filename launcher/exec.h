/* Reporting a failed exec (exec.c). */
#pragma once

/* After execve(prog) failed with `errnum`: exits 127 when the program does
 * not exist, 126 when it exists but could not be run, with one line. For
 * ENOENT on a program that exists (the kernel's word when a program's
 * interpreter is missing) it names the interpreter: the ELF's PT_INTERP or
 * the #! line's. `where` is appended to the object ("", " in the view").
 * A `prog` without a '/' is looked up in PATH for the diagnosis, as execvp
 * did. */
__attribute__((noreturn)) void die_exec(const char *prog, int errnum, const char *where);
