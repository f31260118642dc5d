/*
 * interrupt.h -- layer 6 of libjit (see the Makefile): SIGINT for guarded
 * calls (interrupt.c; the behaviour is described in jit.h), built on the
 * thread state of frames.h. guard.c, above, installs it and settles a
 * stop when a call ends.
 */
#ifndef CX_JIT_INTERRUPT_H
#define CX_JIT_INTERRUPT_H

#include "frames.h"

/* Install the SIGINT handler over a function handler that is not libjit's
 * (force: over SIG_IGN/SIG_DFL too); jit__guard_install_lock held. */
void jit__guard_install_interrupt(int force);
/* The guarded call of t ends with a stop pending: cancel it (and run
 * SIGINT's previous handler if it has not run). */
void jit__guard_settle_stop(struct thread *t);
/* The per-thread retry timer, created if needed (1: ok). */
int jit__guard_ensure_timer(struct thread *t);
/* After fork, in the child (timers are not inherited). */
void jit__guard_interrupt_forked(struct thread *t);

#endif /* CX_JIT_INTERRUPT_H */
