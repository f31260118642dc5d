/*
 * guard.c -- crash and interrupt recovery for calls into compiled code
 * (the guard API of jit.h). Runtime helpers handed to compiled code are
 * listed in jit__guard_symbols (see runtime.c).
 *
 * Per thread, a chain of frames: each lives on the stack of a generated
 * wrapper, starts with the jmp_buf the wrapper filled with _setjmp, and is
 * pushed only after that (so a signal never finds a frame that cannot be
 * jumped to). The thread's state is reached through one initial-exec
 * __thread pointer: no allocation, lock or system call in a signal
 * handler, and two loads and a few stores per guarded call.
 *
 * Signal handlers run on an alternate stack (so a stack overflow is
 * recoverable), allocated on a thread's first guarded call unless the
 * thread already has one (Python's faulthandler gives the main thread
 * one), and freed by a pthread key destructor when the thread exits.
 *
 * The registry of compiled code ranges is read by signal handlers: an
 * array of atomic (start, end) pairs, grown by copying; old arrays are
 * never freed, so a handler never reads freed memory (the total is at most
 * twice the largest array).
 */
#define _GNU_SOURCE /* REG_RIP, dladdr, sigev_notify_thread_id, SYS_gettid */

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <unwind.h>

#include "internal.h"

/* ---- frames and threads ---------------------------------------------- */

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

    /* a line lookup in progress (jit__guard_backtrace answers it) */
    int looking;
    char found_file[128], found_where[128];
    int found_line;

    /* stopping a call that is not in compiled code right now: pending
     * until it is; chained once the interrupt's previous handler ran */
    volatile sig_atomic_t stop_pending, stop_chained;
    volatile int suspended; /* jit_guard_suspend depth */
    timer_t timer;
    int have_timer;

    void *altstack; /* ours (freed at exit), or NULL */
    size_t altstack_size;
    int is_main;
};

/* initial-exec: a plain %fs-relative load, also in a signal handler (the
 * default model may allocate on a thread's first access). 8 bytes of
 * glibc's static TLS reserve for dlopen()ed libraries. */
static __thread struct thread *self __attribute__((tls_model("initial-exec")));

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key;
static int key_ok;

static jit_guard_notify_fn *volatile notify_fn;
static void *volatile notify_ctx;

/* A tag in the sigevent of our retry timers, so the SIGINT handler tells
 * them from real interrupts. */
static int timer_tag;

static void copy(char *dst, size_t size, const char *src)
{
    size_t n = src ? strlen(src) : 0;

    if (n >= size)
        n = size - 1;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

static void on_thread_exit(void *arg)
{
    struct thread *t = arg;
    stack_t ss;

    self = NULL;
    if (t->have_timer)
        timer_delete(t->timer);
    if (t->altstack) {
        memset(&ss, 0, sizeof ss);
        ss.ss_flags = SS_DISABLE;
        sigaltstack(&ss, NULL);
        munmap(t->altstack, t->altstack_size);
    }
    free(t);
}

static void create_key(void)
{
    key_ok = pthread_key_create(&thread_key, on_thread_exit) == 0;
}

/* Give the calling thread an alternate signal stack unless it has one. */
static void ensure_altstack(struct thread *t)
{
    stack_t old, ss;
    long page = sysconf(_SC_PAGESIZE);
    size_t size = 64 * 1024;
    char *p;

    if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
        return;
    if (page <= 0)
        page = 4096;
    if (size < (size_t)SIGSTKSZ * 4)
        size = (size_t)SIGSTKSZ * 4;
    p = mmap(NULL, size + page, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
    mprotect(p, page, PROT_NONE); /* a guard page below it */
    memset(&ss, 0, sizeof ss);
    ss.ss_sp = p + page;
    ss.ss_size = size;
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(p, size + page);
        return;
    }
    t->altstack = p;
    t->altstack_size = size + page;
}

/* A timer that sends SIGINT to this thread (tagged), for stop retries. */
static int ensure_timer(struct thread *t)
{
    struct sigevent ev;

    if (t->have_timer)
        return 1;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = SIGINT;
    ev.sigev_value.sival_ptr = &timer_tag;
    ev._sigev_un._tid = (pid_t)syscall(SYS_gettid); /* sigev_notify_thread_id */
    if (timer_create(CLOCK_MONOTONIC, &ev, &t->timer) != 0)
        return 0;
    t->have_timer = 1;
    return 1;
}

/* The calling thread's state, created on its first guarded call. */
static struct thread *thread_state(void)
{
    struct thread *t = self;

    if (t)
        return t;
    pthread_once(&key_once, create_key);
    if (!key_ok || !(t = calloc(1, sizeof *t)))
        return NULL;
    if (pthread_setspecific(thread_key, t) != 0) {
        free(t);
        return NULL;
    }
    ensure_altstack(t);
    t->is_main = syscall(SYS_gettid) == getpid();
    if (t->is_main)
        ensure_timer(t); /* SIGINT mostly lands here: retry without delay */
    self = t;
    return t;
}

static void after_fork_in_child(void)
{
    struct thread *t = self;

    if (t) {
        t->have_timer = 0; /* timers are not inherited */
        t->is_main = 1;    /* the forking thread is the child's only one */
    }
}

/* ---- the registry of compiled code ----------------------------------- */

struct range {
    _Atomic uintptr_t start, end;
};

struct ranges {
    size_t n;
    struct range r[];
};

static pthread_mutex_t ranges_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ranges *_Atomic ranges;

/* Async-signal-safe. */
static int in_code(uintptr_t pc)
{
    struct ranges *rs = atomic_load_explicit(&ranges, memory_order_acquire);
    size_t i;

    if (!rs || !pc)
        return 0;
    for (i = 0; i < rs->n; i++) {
        uintptr_t s = atomic_load_explicit(&rs->r[i].start, memory_order_acquire);

        if (s && pc >= s
            && pc < atomic_load_explicit(&rs->r[i].end, memory_order_relaxed))
            return 1;
    }
    return 0;
}

JIT_API int jit_guard_add_code(const void *start, const void *end)
{
    struct ranges *rs, *grown;
    size_t i, n;

    if (!start || (uintptr_t)end <= (uintptr_t)start)
        return JIT_EARG;
    pthread_mutex_lock(&ranges_lock);
    rs = atomic_load_explicit(&ranges, memory_order_relaxed);
    for (i = 0; rs && i < rs->n; i++)
        if (!atomic_load_explicit(&rs->r[i].start, memory_order_relaxed))
            break;
    if (!rs || i == rs->n) {
        n = rs ? rs->n * 2 : 16;
        grown = calloc(1, sizeof *grown + n * sizeof grown->r[0]);
        if (!grown) {
            pthread_mutex_unlock(&ranges_lock);
            return JIT_ENOMEM;
        }
        grown->n = n;
        for (i = 0; rs && i < rs->n; i++) {
            grown->r[i].start = atomic_load(&rs->r[i].start);
            grown->r[i].end = atomic_load(&rs->r[i].end);
        }
        i = rs ? rs->n : 0;
        /* the old array stays allocated: a handler may be reading it */
        atomic_store_explicit(&ranges, grown, memory_order_release);
        rs = grown;
    }
    atomic_store_explicit(&rs->r[i].end, (uintptr_t)end, memory_order_relaxed);
    atomic_store_explicit(&rs->r[i].start, (uintptr_t)start, memory_order_release);
    pthread_mutex_unlock(&ranges_lock);
    return JIT_OK;
}

JIT_API void jit_guard_remove_code(const void *start)
{
    struct ranges *rs;
    size_t i;

    if (!start)
        return;
    pthread_mutex_lock(&ranges_lock);
    rs = atomic_load_explicit(&ranges, memory_order_relaxed);
    for (i = 0; rs && i < rs->n; i++)
        if (atomic_load_explicit(&rs->r[i].start, memory_order_relaxed)
            == (uintptr_t)start) {
            atomic_store_explicit(&rs->r[i].start, 0, memory_order_release);
            break;
        }
    pthread_mutex_unlock(&ranges_lock);
}

/* ---- calls ------------------------------------------------------------ */

JIT_API void jit_guard_enter(jit_guard_frame *frame, const char *function, int flags)
{
    struct frame *f = (struct frame *)frame;
    struct thread *t = self;

    if (__builtin_expect(t == NULL, 0) && !(t = thread_state())) {
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

static void chain_interrupt(siginfo_t *si, void *uc);

/* The call ends (or ended) without being stopped: drop the pending stop,
 * and if an interrupt's handler has not run yet, run it now (Python then
 * raises KeyboardInterrupt as soon as the call returns). */
static void settle_stop(struct thread *t)
{
    struct itimerspec off;
    siginfo_t si;

    t->stop_pending = 0;
    if (t->have_timer) {
        memset(&off, 0, sizeof off);
        timer_settime(t->timer, 0, &off, NULL);
    }
    if (!t->stop_chained) {
        t->stop_chained = 1;
        memset(&si, 0, sizeof si);
        si.si_signo = SIGINT;
        si.si_code = SI_USER;
        chain_interrupt(&si, NULL);
    }
}

JIT_API void jit_guard_leave(jit_guard_frame *frame)
{
    struct frame *f = (struct frame *)frame;
    struct thread *t = self;

    if (t && t->top == f) {
        t->top = f->prev;
        if (__builtin_expect(t->stop_pending, 0))
            settle_stop(t);
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

static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static void install_interrupt(int force);

static void arm_retry(struct thread *t)
{
    struct itimerspec in;

    if (!t->have_timer)
        return;
    memset(&in, 0, sizeof in);
    in.it_value.tv_nsec = 200000; /* 0.2 ms: a retry costs a few microseconds */
    timer_settime(t->timer, 0, &in, NULL);
}

JIT_API int jit_guard_stop(void)
{
    struct thread *t = self;

    if (!t || !t->top)
        return JIT_ESTATE;
    /* the retries are SIGINTs to this thread: they must reach our handler */
    pthread_mutex_lock(&install_lock);
    install_interrupt(1);
    pthread_mutex_unlock(&install_lock);
    if (!ensure_timer(t))
        return JIT_ENOMEM;
    t->stop_chained = 1; /* no handler to run: the caller knows */
    t->stop_pending = 1;
    arm_retry(t);
    return JIT_OK;
}

JIT_API void jit_guard_set_notify(jit_guard_notify_fn *fn, void *ctx)
{
    notify_ctx = ctx;
    notify_fn = fn;
}

/* ---- signal handlers ------------------------------------------------- */

static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
#define NFATAL (sizeof fatal_signals / sizeof fatal_signals[0])

static int fatal_installed;
static struct sigaction prev_fatal[NFATAL];
/* SIGINT's previous handler: two slots, so a re-install never rewrites the
 * one a running handler may be reading. */
static struct sigaction prev_int[2];
static _Atomic int prev_int_slot = -1;

static void registers(void *uc, uintptr_t *pc, uintptr_t *sp)
{
    const ucontext_t *u = uc;

#if defined(__x86_64__)
    *pc = (uintptr_t)u->uc_mcontext.gregs[REG_RIP];
    *sp = (uintptr_t)u->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    *pc = (uintptr_t)u->uc_mcontext.pc;
    *sp = (uintptr_t)u->uc_mcontext.sp;
#elif defined(__i386__)
    *pc = (uintptr_t)u->uc_mcontext.gregs[REG_EIP];
    *sp = (uintptr_t)u->uc_mcontext.gregs[REG_ESP];
#else
    (void)u;
    *pc = *sp = 0;
#endif
}

static void unblock(int sig)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/* Leave the signal handler for frame f: pop it and jump to its wrapper. */
static void jump_out(struct thread *t, struct frame *f, int sig)
{
    t->top = f->prev;
    if (sig)
        unblock(sig);
    longjmp(f->jb, 1);
}

/* Collects the return addresses into compiled code of the interrupted
 * stack, for a fault inside a library (libc functions keep no frame
 * pointer chain: only the unwinder, which reads their CFI, can walk them). */
struct unwinding {
    struct thread *t;
    int n;
};

static _Unwind_Reason_Code unwind_step(struct _Unwind_Context *ctx, void *arg)
{
    struct unwinding *u = arg;
    int before = 0;
    uintptr_t ip = _Unwind_GetIPInfo(ctx, &before);

    if (ip && !before && in_code(ip)) {
        u->t->callers[u->n++] = ip;
        if (u->n == NCALLERS)
            return _URC_END_OF_STACK;
    }
    return _URC_NO_REASON;
}

/* What the handler knows about a fault, before jumping. */
static void record(struct thread *t, int sig, const siginfo_t *si, void *uc)
{
    uintptr_t pc, sp, addr = (uintptr_t)si->si_addr;
    struct unwinding u = { t, 0 };

    registers(uc, &pc, &sp);
    t->sig = sig;
    t->code = si->si_code;
    t->address = si->si_addr;
    t->pc = (void *)pc;
    t->in_code = in_code(pc);
    /* a fault just below (or at) the stack pointer: the stack ran out */
    t->stack_overflow = (sig == SIGSEGV || sig == SIGBUS) && sp && si->si_code > 0
                        && (addr < sp ? sp - addr < 65536 : addr - sp < 4096);
    t->ncallers = 0;
    if (!t->in_code && pc) { /* in a library: find where compiled code called it */
        _Unwind_Backtrace(unwind_step, &u);
        t->ncallers = u.n;
    }
}

/* Do what the previous handler would have done. */
static void chain(int sig, siginfo_t *si, void *uc, const struct sigaction *prev)
{
    struct sigaction dfl;

    if (prev->sa_flags & SA_SIGINFO) {
        prev->sa_sigaction(sig, si, uc);
        return;
    }
    if (prev->sa_handler == SIG_IGN && (sig == SIGINT || si->si_code <= 0))
        return; /* ignored (a fault cannot be: it would repeat forever) */
    if (prev->sa_handler == SIG_DFL || prev->sa_handler == SIG_IGN) {
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(sig, &dfl, NULL);
        /* A fault repeats when the handler returns, now with the default
         * action; a sent signal is sent again (blocked until we return). */
        if (si->si_code <= 0 || sig == SIGINT || sig == SIGABRT)
            raise(sig);
        return;
    }
    prev->sa_handler(sig);
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
    int saved_errno = errno;
    struct thread *t = self;
    struct frame *f = t ? t->top : NULL;
    size_t i;

    if (f) {
        record(t, sig, si, uc);
        jump_out(t, f, sig);
    }
    for (i = 0; i < NFATAL; i++)
        if (fatal_signals[i] == sig)
            chain(sig, si, uc, &prev_fatal[i]);
    errno = saved_errno;
}

/* Run SIGINT's previous handler (Python's sets a flag that makes the
 * interpreter raise KeyboardInterrupt). */
static void chain_interrupt(siginfo_t *si, void *uc)
{
    int slot = atomic_load(&prev_int_slot);

    if (slot >= 0)
        chain(SIGINT, si, uc, &prev_int[slot]);
}

/* Whether SIGINT's previous handler ignores it (then so do we) or is the
 * default action (then the process ends anyway). */
static int interrupt_is_plain(void)
{
    int slot = atomic_load(&prev_int_slot);
    const struct sigaction *p = slot >= 0 ? &prev_int[slot] : NULL;

    return !p || (!(p->sa_flags & SA_SIGINFO)
                  && (p->sa_handler == SIG_IGN || p->sa_handler == SIG_DFL));
}

/* Whether pc is at or just after a system call instruction: a thread
 * interrupted in the kernel (a blocking call, which returns EINTR), where
 * libc holds no lock of its own. */
static int in_syscall(uintptr_t pc)
{
#if defined(__x86_64__)
    const unsigned char *p = (const unsigned char *)pc;

    return pc > 2 && ((p[-2] == 0x0f && p[-1] == 0x05) || (p[0] == 0x0f && p[1] == 0x05));
#elif defined(__aarch64__)
    const uint32_t *p = (const uint32_t *)pc;

    return pc > 4 && pc % 4 == 0 && (p[-1] == 0xd4000001 || p[0] == 0xd4000001);
#else
    (void)pc;
    return 0;
#endif
}

/* SIGINT, from outside or from a thread's retry timer. In a guarded call,
 * the previous handler runs when the call can stop: at once if the thread
 * is in compiled code or waits in a system call (then the call returns),
 * else when a retry finds it there (retried every 0.2 ms), when it runs a suspended callback
 * (the callback is Python: let it see the interrupt), or when the call
 * returns by itself (jit_guard_leave). */
long dbg[16];
JIT_API long *jit_guard_dbg(void) { return dbg; }
static void on_interrupt(int sig, siginfo_t *si, void *uc)
{
    dbg[0]++;
    if (self) { dbg[1] = self->stop_pending; dbg[2] = self->stop_chained; dbg[3] = self->suspended; dbg[4] = self->top != NULL; }
    int saved_errno = errno;
    struct thread *t = self;
    uintptr_t pc, sp;

    (void)sig;
    if (si->si_code == SI_TIMER && si->si_value.sival_ptr == &timer_tag) {
        if (!t || !t->stop_pending)
            goto out; /* a retry that lost the race with the call's end */
    } else if (!t || (!t->top && !t->suspended) || interrupt_is_plain()) {
        chain_interrupt(si, uc); /* not in a guarded call */
        goto out;
    } else if (!t->stop_pending) {
        t->stop_pending = 1;
        t->stop_chained = 0;
    }
    if (t->top) {
        registers(uc, &pc, &sp);
        if (in_code(pc) || (!(t->top->flags & JIT_GUARD_HOST_API) && in_syscall(pc))) {
            struct frame *f = t->top;

            if (!t->stop_chained)
                chain_interrupt(si, uc);
            t->stop_pending = 0;
            t->sig = SIGINT;
            t->code = si->si_code;
            t->address = NULL;
            t->pc = (void *)pc;
            t->in_code = 1;
            t->stack_overflow = 0;
            t->ncallers = 0;
            jump_out(t, f, SIGINT);
        }
    } else if (t->suspended && !t->stop_chained) {
        t->stop_chained = 1; /* a callback runs: it sees the interrupt */
        chain_interrupt(si, uc);
    } else if (!t->suspended) {
        t->stop_pending = 0; /* the call has ended */
        goto out;
    }
    dbg[5]++;
    arm_retry(t); /* in a library, or in a callback: try again soon */
out:
    errno = saved_errno;
}

static int is_ours(const struct sigaction *a, void (*handler)(int, siginfo_t *, void *))
{
    return (a->sa_flags & SA_SIGINFO) && a->sa_sigaction == handler;
}

/* Install our SIGINT handler over a function handler that is not ours
 * (with force, over SIG_IGN and SIG_DFL too). install_lock held. */
static void install_interrupt(int force)
{
    struct sigaction cur, act;
    int slot;

    if (sigaction(SIGINT, NULL, &cur) != 0 || is_ours(&cur, on_interrupt))
        return;
    if (!force && !(cur.sa_flags & SA_SIGINFO)
        && (cur.sa_handler == SIG_IGN || cur.sa_handler == SIG_DFL))
        return;
    slot = atomic_load(&prev_int_slot) == 0 ? 1 : 0;
    prev_int[slot] = cur;
    atomic_store(&prev_int_slot, slot);
    memset(&act, 0, sizeof act);
    act.sa_sigaction = on_interrupt;
    act.sa_flags = SA_SIGINFO | SA_ONSTACK | (cur.sa_flags & SA_RESTART);
    act.sa_mask = cur.sa_mask;
    sigaction(SIGINT, &act, NULL);
}

JIT_API int jit_guard_install(void)
{
    struct sigaction act;
    size_t i;

    pthread_mutex_lock(&install_lock);
    if (!fatal_installed) {
        memset(&act, 0, sizeof act);
        act.sa_sigaction = on_fatal;
        act.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&act.sa_mask);
        for (i = 0; i < NFATAL; i++) {
            sigaction(fatal_signals[i], NULL, &prev_fatal[i]);
            if (is_ours(&prev_fatal[i], on_fatal)) { /* cannot happen */
                memset(&prev_fatal[i], 0, sizeof prev_fatal[i]);
                prev_fatal[i].sa_handler = SIG_DFL;
            }
            sigaction(fatal_signals[i], &act, NULL);
        }
        pthread_atfork(NULL, NULL, after_fork_in_child);
        fatal_installed = 1;
    }
    install_interrupt(0);
    pthread_mutex_unlock(&install_lock);
    return thread_state() ? JIT_OK : JIT_ENOMEM;
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
    t->in_code = in_code((uintptr_t)t->pc);
    t->stack_overflow = 0;
    t->ncallers = 0;
    jump_out(t, f, 0);
}

/* ---- line numbers and reports ------------------------------------------ */

typedef int backtrace_fn(void *frame, const char *fmt, va_list ap);
static backtrace_fn *_Atomic backtracer;

void jit__guard_set_backtracer(void *fn)
{
    if (fn)
        atomic_store(&backtracer, (backtrace_fn *)fn);
}

int jit__guard_backtrace(void *udata, void *pc, const char *file, int line,
                         const char *func, const char *msg)
{
    struct thread *t = self;

    (void)udata;
    (void)pc;
    if (t && t->looking) { /* jit_guard_recover's lookup of one pc */
        copy(t->found_file, sizeof t->found_file, file);
        copy(t->found_where, sizeof t->found_where, func);
        t->found_line = file ? line : 0;
        return 0;
    }
    if (t && t->top) { /* the bounds checker, in a guarded call */
        if (msg) {
            copy(t->message, sizeof t->message, msg);
            t->msg_serial = t->top->serial;
            t->msg_line = 0;
            t->msg_file[0] = t->msg_where[0] = '\0';
        }
        if (file && t->msg_serial == t->top->serial && !t->msg_line) {
            t->msg_line = line;
            copy(t->msg_file, sizeof t->msg_file, file);
            copy(t->msg_where, sizeof t->msg_where, func);
        }
        return t->msg_line == 0; /* on up the stack until a source line */
    }
    /* outside guarded calls: print it, as TinyCC would have */
    if (file)
        fprintf(stderr, "%s:%d: %s %s", file, line, msg ? "at" : "by", func ? func : "???");
    else
        fprintf(stderr, "%p: %s %s", pc, msg ? "at" : "by", func ? func : "???");
    fprintf(stderr, msg ? ": %s\n" : "\n", msg);
    if (t && msg) {
        copy(t->message, sizeof t->message, msg);
        t->msg_serial = 0;
    }
    return 1;
}

static int call_backtracer(backtrace_fn *bt, void *frame, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = bt(frame, fmt, ap);
    va_end(ap);
    return rc;
}

/* Source line of pc (registered code only). Under jit__lock, so that no
 * state is freed meanwhile. */
static int lookup_line(struct thread *t, uintptr_t pc, jit_guard_report *r)
{
    backtrace_fn *bt = atomic_load(&backtracer);
    struct { void *ip, *fp, *sp; } frame = { (void *)pc, NULL, NULL }; /* TinyCC's rt_frame */
    int found = 0;

    if (!bt || !pc)
        return 0;
    jit__lock();
    if (in_code(pc)) {
        t->looking = 1;
        t->found_line = 0;
        call_backtracer(bt, &frame, "%s", "");
        t->looking = 0;
        if (t->found_line > 0) {
            r->line = t->found_line;
            copy(r->file, sizeof r->file, t->found_file);
            copy(r->where, sizeof r->where, t->found_where);
            found = 1;
        }
    }
    jit__unlock();
    return found;
}

JIT_API void jit_guard_recover(jit_guard_frame *frame)
{
    struct frame *f = (struct frame *)frame;
    struct thread *t = self;
    jit_guard_report *r;
    jit_guard_notify_fn *fn;
    Dl_info info;
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
    copy(r->function, sizeof r->function, f->function);
    if (t->msg_serial == f->serial && t->message[0]) {
        copy(r->message, sizeof r->message, t->message);
        r->line = t->msg_line;
        copy(r->file, sizeof r->file, t->msg_file);
        copy(r->where, sizeof r->where, t->msg_where);
        t->message[0] = '\0';
    }
    /* the fault itself, else the last call from compiled code (a return
     * address: the call instruction ends just before it) */
    if (r->signal != SIGINT && !r->line && !(r->in_code && lookup_line(t, (uintptr_t)r->pc, r)))
        for (i = 0; i < t->ncallers; i++)
            if (lookup_line(t, t->callers[i] - 1, r))
                break;
    if (!r->in_code && r->pc && dladdr(r->pc, &info) && info.dli_fname) {
        const char *base = strrchr(info.dli_fname, '/');
        copy(r->library, sizeof r->library, base ? base + 1 : info.dli_fname);
    }
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

/* ---- helpers handed to compiled code ------------------------------------ */

const struct jit_runtime_symbol jit__guard_symbols[] = {
    { "__cx_guard_enter", (const void *)jit_guard_enter },
    { "__cx_guard_leave", (const void *)jit_guard_leave },
    { "__cx_guard_recover", (const void *)jit_guard_recover },
    { NULL, NULL }
};
