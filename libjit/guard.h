/*
 * guard.h -- layer 7 of libjit (see the Makefile): crash recovery for
 * guarded calls (guard.c; the API and its behaviour are in jit.h). What
 * the layers above use besides the public jit_guard_* functions:
 */
#ifndef CX_JIT_GUARD_H
#define CX_JIT_GUARD_H

#include "interrupt.h"

/* Bracket a compile (escape: how to end it, jit__tcc_escape; NULL after
 * it): a fatal signal in this thread meanwhile (a TinyCC bug, e.g. on a
 * truncated source) becomes a compile error when the guard's handlers are
 * installed. */
void jit__guard_compiling(jit__escape_fn *escape);
/* exit() for code compiled with -b (the bounds checker calls it on some
 * errors): abandons the running guarded call, or exits if there is none. */
void jit__guard_exit(int status);
/* What the bounds checker reports, through TinyCC's backtrace (a
 * jit__tcc_report_fn): kept for the running guarded call's report,
 * printed outside one. Returns 0 to stop the walk. */
int jit__guard_checker(void *pc, const char *file, int line, const char *func,
                       const char *msg);

#endif /* CX_JIT_GUARD_H */
