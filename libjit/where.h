/*
 * where.h -- layer 4 of libjit (see the Makefile): where compiled code is,
 * and where in it something happened. where.c keeps the registry of code
 * ranges (jit_guard_add_code / jit_guard_remove_code of jit.h), finds
 * libc's code, walks an interrupted stack, and turns a pc into a source
 * line through TinyCC (tcc.h).
 */
#ifndef CX_JIT_WHERE_H
#define CX_JIT_WHERE_H

#include <stddef.h>
#include <stdint.h>

#include "tcc.h"

/* Whether pc is in registered compiled code. Async-signal-safe. */
int jit__in_code(uintptr_t pc);
/* Find libc's code (once; jit_guard_install calls it). */
void jit__where_init(void);
/* In a signal handler: whether the thread was interrupted at a system call
 * of libc called straight from compiled code (only libc frames between). */
int jit__in_libc_syscall(uintptr_t pc);
/* In a signal handler: the return addresses into compiled code on the
 * interrupted stack, innermost first; at most max. Returns the count. */
int jit__code_callers(uintptr_t *out, int max);
/* The source line of pc in registered code, 0 if unknown (needs -b/-bt);
 * file and func get its file and function. Takes jit__lock (not for
 * signal handlers). */
int jit__source_line(uintptr_t pc, char *file, size_t file_size,
                     char *func, size_t func_size);
/* The file name (without directory) of the shared object holding pc. */
void jit__library_of(const void *pc, char *out, size_t size);

#endif /* CX_JIT_WHERE_H */
