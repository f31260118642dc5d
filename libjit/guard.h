/*
 * guard.h -- what guard.c (frames, crashes, reports) and interrupt.c
 * (SIGINT) share: a thread's guard state. Private to those two files.
 */
#ifndef CX_JIT_GUARD_H
#define CX_JIT_GUARD_H

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "internal.h"

struct frame {
    jmp_buf jb;           /* first: the wrapper calls _setjmp(frame) */
    struct frame *prev;   /* the enclosing guarded call of this thread */
    const char *function; /* the guarded function (the module's string) */
    unsigned long serial; /* this call's number in its thread */
    int flags;            /* JIT_GUARD_HOST_API */
};

_Static_assert(offsetof(struct frame, jb) == 0, "jmp_buf first");
_Static_assert(sizeof(struct frame) <= sizeof(jit_guard_frame),
               "JIT_GUARD_FRAME_SIZE too small for this libc's jmp_buf");

#define NCALLERS 8 /* return addresses into compiled code kept per crash */

struct thread {
    struct frame *volatile top; /* innermost frame; NULL: none or suspended */
    unsigned long serial;       /* guarded calls entered */

    /* written by a handler (or exit) before it jumps, read by recover */
    volatile int sig, code, in_code, stack_overflow;
    void *volatile address;
    void *volatile pc;
    uintptr_t callers[NCALLERS];
    volatile int ncallers;

    /* the bounds checker's last message, for the call numbered msg_serial */
    char message[512];
    char msg_file[128], msg_where[128];
    int msg_line;
    unsigned long msg_serial;

    jit_guard_report report; /* the last abandoned call */
    int have_report;

    /* stopping a call that is not in compiled code right now: pending
     * until it is; chained once the interrupt's previous handler ran */
    volatile sig_atomic_t stop_pending, stop_chained;
    volatile int suspended; /* jit_guard_suspend depth */
    timer_t timer;
    int have_timer;

    int compiling;  /* inside tcc_compile_string */
    void *altstack; /* ours (freed at exit), or NULL */
    size_t altstack_size;
    int is_main;
};

/* The calling thread's state (NULL before its first guarded call).
 * initial-exec: a plain %fs-relative load, also in a signal handler (the
 * default model may allocate on a thread's first access). 8 bytes of
 * glibc's static TLS reserve for dlopen()ed libraries. */
extern __thread struct thread *jit__guard_self __attribute__((tls_model("initial-exec")));

/* The calling thread's state, created if needed (normal context); NULL
 * when out of memory. */
struct thread *jit__guard_thread(void);

/* Serialises installing handlers. */
extern pthread_mutex_t jit__guard_install_lock;

/* In a handler: the interrupted pc and stack pointer (0 if unknown). */
void jit__guard_registers(void *uc, uintptr_t *pc, uintptr_t *sp);
/* In a handler: pop frame f (the thread's innermost) and longjmp to its
 * wrapper, unblocking sig first (0: none). */
void jit__guard_jump_out(struct thread *t, struct frame *f, int sig);
/* Do what the handler prev would have done with the signal. */
void jit__guard_chain(int sig, siginfo_t *si, void *uc, const struct sigaction *prev);

/* interrupt.c: install the SIGINT handler over a function handler that is
 * not libjit's (force: over SIG_IGN/SIG_DFL too); install lock held. */
void jit__guard_install_interrupt(int force);
/* interrupt.c: the guarded call of t ends with a stop pending: cancel it
 * (and run SIGINT's previous handler if it has not run). */
void jit__guard_settle_stop(struct thread *t);
/* interrupt.c: the per-thread retry timer, created if needed (1: ok). */
int jit__guard_ensure_timer(struct thread *t);
/* interrupt.c: after fork, in the child (timers are not inherited). */
void jit__guard_interrupt_forked(struct thread *t);

#endif /* CX_JIT_GUARD_H */
