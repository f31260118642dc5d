/*
 * compile.h -- layer 9 of libjit (see the Makefile): jit_compile's and
 * jit_preprocess's work (compile.c), driving TinyCC (tcc.h) for a
 * jit_state (errors.h) with the guard's help (guard.h) and the runtime
 * helpers (runtime.h).
 */
#ifndef CX_JIT_COMPILE_H
#define CX_JIT_COMPILE_H

#include <stddef.h>

#include "errors.h"
#include "runtime.h"

/* jit_compile's work on a JIT_PHASE_CONFIGURING state with a non-NULL
 * source. Sets phase, error and diagnostics. Runs the code's constructors
 * (and sets j->constructed) when constructors is non-zero; else they wait
 * for jit__run_constructors, on the thread that calls it. */
int jit__compile(jit_state *j, const char *source, int constructors);
void jit__run_constructors(struct TCCState *s);
/* Preprocess source as jit__compile would compile it; *text (malloc'd,
 * NUL-terminated) and *len on success, else an error code (j's error and
 * diagnostics set). */
int jit__preprocess(jit_state *j, const char *source, char **text,
                    size_t *len);
/* Run a linked image's destructors (no lock: user code). */
void jit__run_destructors(struct TCCState *s);
/* Unregister a linked image's code and free it (takes the lock). NULL is
 * a no-op. */
void jit__compile_free(struct TCCState *s);

#endif /* CX_JIT_COMPILE_H */
