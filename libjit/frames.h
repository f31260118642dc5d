/*
 * frames.h -- layer 5 of libjit (see the Makefile): a thread's guard
 * state, and the signal-handler mechanics both interrupt.c (SIGINT) and
 * guard.c (fatal signals, reports) build on: frames.c creates and frees
 * the per-thread state, reads the interrupted registers, jumps out of a
 * handler to a frame, and chains to a previous handler.
 */
#ifndef CX_JIT_FRAMES_H
#define CX_JIT_FRAMES_H

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "where.h"

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

/* The fatal signals the guard catches (and that TinyCC's -b/-bt replace
 * with handlers of their own while relocating: compile.c restores ours). */
#define JIT_NFATAL 5
extern const int jit__fatal_signals[JIT_NFATAL];

/* How the guard ends a compile that crashed inside TinyCC (jit__tcc_escape,
 * handed down by compile.c): called in the signal handler, with the signal
 * unblocked; does not return when it can escape, returns when it cannot. */
typedef void jit__escape_fn(const char *message);

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

    jit__escape_fn *escape; /* inside a compile: how to end it on a crash */
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
 * when out of memory. A new state has an alternate signal stack (unless
 * the thread had one) and no timer; the thread's exit frees both. */
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

/* Unblock sig in the calling thread (a handler about to jump out). */
void jit__guard_unblock(int sig);

#endif /* CX_JIT_FRAMES_H */
