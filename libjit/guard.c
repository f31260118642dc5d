/*
 * guard.c -- crash recovery for calls into compiled code (layer 7,
 * guard.h): the guard API of jit.h, the fatal-signal handler, the bounds
 * checker's exit() and messages, and the reports. Below it: interrupt.c
 * (SIGINT), frames.c (the thread's state, jumping out of a handler),
 * where.c (where code is, and where a crash happened).
 *
 * Per thread, a chain of frames: each lives on the stack of a generated
 * wrapper, starts with the jmp_buf the wrapper filled with _setjmp, and is
 * pushed only after that (so a signal never finds a frame that cannot be
 * jumped to). Two loads and a few stores per guarded call.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"

#define self jit__guard_self

static jit_guard_notify_fn *volatile notify_fn;
static void *volatile notify_ctx;

/* ---- threads ---------------------------------------------------------- */

/* The calling thread's state, created on its first guarded call; the main
 * thread's gets its SIGINT retry timer at once (SIGINT lands there). */
static struct thread *this_thread(void)
{
    struct thread *t = self;

    if (t)
        return t;
    t = jit__guard_thread();
    if (t && t->is_main)
        jit__guard_ensure_timer(t);
    return t;
}

static void after_fork_in_child(void)
{
    struct thread *t = self;

    if (t) {
        jit__guard_interrupt_forked(t);
        t->is_main = 1; /* the forking thread is the child's only one */
    }
}

/* ---- calls ------------------------------------------------------------ */

JIT_API void jit_guard_enter(jit_guard_frame *frame, const char *function, int flags)
{
    struct frame *f = (struct frame *)frame;
    struct thread *t = self;

    if (__builtin_expect(t == NULL, 0) && !(t = this_thread())) {
        f->prev = f; /* not pushed: out of memory, the call runs unguarded */
        return;
    }
    f->prev = t->top;
    f->function = function;
    f->flags = flags;
    f->serial = ++t->serial;
    atomic_signal_fence(memory_order_seq_cst);
    t->top = f;
}

JIT_API void jit_guard_leave(jit_guard_frame *frame)
{
    struct frame *f = (struct frame *)frame;
    struct thread *t = self;

    if (t && t->top == f) {
        t->top = f->prev;
        if (__builtin_expect(t->stop_pending, 0))
            jit__guard_settle_stop(t);
    }
}

JIT_API void *jit_guard_current(void)
{
    struct thread *t = self;

    return t ? t->top : NULL;
}

JIT_API void *jit_guard_suspend(void)
{
    struct thread *t = self;
    void *token;

    if (!t)
        return NULL;
    token = t->top;
    t->suspended++;
    atomic_signal_fence(memory_order_seq_cst);
    t->top = NULL;
    return token;
}

JIT_API void jit_guard_resume(void *token)
{
    struct thread *t = self;

    if (t) {
        t->top = token;
        atomic_signal_fence(memory_order_seq_cst);
        if (t->suspended > 0)
            t->suspended--;
    }
}

JIT_API void jit_guard_set_notify(jit_guard_notify_fn *fn, void *ctx)
{
    notify_ctx = ctx;
    notify_fn = fn;
}

/* ---- the fatal-signal handler ----------------------------------------- */

static int fatal_installed;
static struct sigaction prev_fatal[JIT_NFATAL];

/* What the handler knows about a fault, before jumping. */
static void record(struct thread *t, int sig, const siginfo_t *si, void *uc)
{
    uintptr_t pc, sp, addr = (uintptr_t)si->si_addr;

    jit__guard_registers(uc, &pc, &sp);
    t->sig = sig;
    t->code = si->si_code;
    t->address = si->si_addr;
    t->pc = (void *)pc;
    t->in_code = jit__in_code(pc);
    /* a fault just below (or at) the stack pointer: the stack ran out */
    t->stack_overflow = (sig == SIGSEGV || sig == SIGBUS) && sp && si->si_code > 0
                        && (addr < sp ? sp - addr < 65536 : addr - sp < 4096);
    /* in a library: find where compiled code called it */
    t->ncallers = !t->in_code && pc ? jit__code_callers(t->callers, NCALLERS) : 0;
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
    int saved_errno = errno;
    struct thread *t = self;
    struct frame *f = t ? t->top : NULL;
    size_t i;

    if (t && t->escape) { /* a crash of TinyCC's, in this thread's compile */
        static const char *const messages[] = {
            "the compiler crashed (SIGSEGV) on this source, a bug of TinyCC's",
            "the compiler crashed (SIGBUS) on this source, a bug of TinyCC's",
            "the compiler crashed (SIGFPE) on this source, a bug of TinyCC's",
            "the compiler crashed (SIGILL) on this source, a bug of TinyCC's",
            "the compiler aborted on this source, a bug of TinyCC's",
        };
        jit__escape_fn *escape = t->escape;
        sigset_t set;

        for (i = 0; i < JIT_NFATAL && jit__fatal_signals[i] != sig; i++)
            ;
        t->escape = NULL; /* once: a crash while reporting it is fatal */
        jit__guard_unblock(sig);
        escape(messages[i < JIT_NFATAL ? i : 0]); /* returns only if not compiling */
        sigemptyset(&set);
        sigaddset(&set, sig);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
    }

    if (f) {
        record(t, sig, si, uc);
        jit__guard_jump_out(t, f, sig);
    }
    for (i = 0; i < JIT_NFATAL; i++)
        if (jit__fatal_signals[i] == sig)
            jit__guard_chain(sig, si, uc, &prev_fatal[i]);
    errno = saved_errno;
}

JIT_API int jit_guard_install(void)
{
    struct sigaction act;
    size_t i;

    pthread_mutex_lock(&jit__guard_install_lock);
    if (!fatal_installed) {
        memset(&act, 0, sizeof act);
        act.sa_sigaction = on_fatal;
        act.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&act.sa_mask);
        for (i = 0; i < JIT_NFATAL; i++) {
            sigaction(jit__fatal_signals[i], NULL, &prev_fatal[i]);
            if ((prev_fatal[i].sa_flags & SA_SIGINFO)
                && prev_fatal[i].sa_sigaction == on_fatal) { /* cannot happen */
                memset(&prev_fatal[i], 0, sizeof prev_fatal[i]);
                prev_fatal[i].sa_handler = SIG_DFL;
            }
            sigaction(jit__fatal_signals[i], &act, NULL);
        }
        pthread_atfork(NULL, NULL, after_fork_in_child);
        jit__where_init();
        fatal_installed = 1;
    }
    jit__guard_install_interrupt(0);
    pthread_mutex_unlock(&jit__guard_install_lock);
    return this_thread() ? JIT_OK : JIT_ENOMEM;
}

void jit__guard_compiling(jit__escape_fn *escape)
{
    struct thread *t = escape ? this_thread() : self;

    if (t)
        t->escape = escape;
}

/* ---- exit() for checked code ------------------------------------------ */

void jit__guard_exit(int status)
{
    struct thread *t = self;
    struct frame *f = t ? t->top : NULL;

    if (!f)
        exit(status); /* not in a guarded call (the message is printed) */
    t->sig = 0;
    t->code = status;
    t->address = NULL;
    t->pc = __builtin_return_address(0);
    t->in_code = jit__in_code((uintptr_t)t->pc);
    t->stack_overflow = 0;
    t->ncallers = 0;
    jit__guard_jump_out(t, f, 0);
}

/* ---- the bounds checker's messages, and reports -------------------------- */

int jit__guard_checker(void *pc, const char *file, int line, const char *func,
                       const char *msg)
{
    struct thread *t = self;

    if (t && t->top) { /* in a guarded call: the report will carry it */
        if (msg) {
            jit__copy(t->message, sizeof t->message, msg);
            t->msg_serial = t->top->serial;
            t->msg_line = 0;
            t->msg_file[0] = t->msg_where[0] = '\0';
        }
        if (file && t->msg_serial == t->top->serial && !t->msg_line) {
            t->msg_line = line;
            jit__copy(t->msg_file, sizeof t->msg_file, file);
            jit__copy(t->msg_where, sizeof t->msg_where, func);
        }
        return t->msg_line == 0; /* on up the stack until a source line */
    }
    /* outside guarded calls: print it, as TinyCC would have */
    if (file)
        fprintf(stderr, "%s:%d: %s %s", file, line, msg ? "at" : "by", func ? func : "???");
    else
        fprintf(stderr, "%p: %s %s", pc, msg ? "at" : "by", func ? func : "???");
    fprintf(stderr, msg ? ": %s\n" : "\n", msg);
    return 1;
}

/* Fill r's line from pc (1 if found). */
static int line_of(uintptr_t pc, jit_guard_report *r)
{
    r->line = jit__source_line(pc, r->file, sizeof r->file, r->where, sizeof r->where);
    return r->line > 0;
}

JIT_API void jit_guard_recover(jit_guard_frame *frame)
{
    struct frame *f = (struct frame *)frame;
    struct thread *t = self;
    jit_guard_report *r;
    jit_guard_notify_fn *fn;
    int i;

    if (!t)
        return;
    r = &t->report;
    memset(r, 0, sizeof *r);
    r->signal = t->sig;
    r->code = t->code;
    r->address = t->address;
    r->pc = t->pc;
    r->in_code = t->in_code;
    r->stack_overflow = t->stack_overflow;
    jit__copy(r->function, sizeof r->function, f->function);
    r->serial = (long)f->serial;
    if (t->msg_serial == f->serial && t->message[0]) {
        jit__copy(r->message, sizeof r->message, t->message);
        r->line = t->msg_line;
        jit__copy(r->file, sizeof r->file, t->msg_file);
        jit__copy(r->where, sizeof r->where, t->msg_where);
        t->message[0] = '\0';
    }
    /* the fault itself, else the last call from compiled code (a return
     * address: the call instruction ends just before it). TinyCC's lookup
     * gives the first byte of a line's code to the line before (it is made
     * for return addresses): ask for the faulting instruction's second byte. */
    if (!r->line && !(r->in_code && line_of((uintptr_t)r->pc + 1, r)))
        for (i = 0; i < t->ncallers; i++)
            if (line_of(t->callers[i] - 1, r))
                break;
    if (!r->in_code)
        jit__library_of(r->pc, r->library, sizeof r->library);
    t->have_report = 1;
    fn = notify_fn;
    if (fn && r->signal != SIGINT)
        fn((unsigned long)pthread_self(), notify_ctx);
}

JIT_API int jit_guard_last(jit_guard_report *out)
{
    struct thread *t = self;

    if (!t || !t->have_report) {
        if (out)
            memset(out, 0, sizeof *out);
        return 0;
    }
    if (out)
        *out = t->report;
    return 1;
}
