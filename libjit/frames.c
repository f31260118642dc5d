/*
 * frames.c -- a thread's guard state and the mechanics of leaving a signal
 * handler (layer 5, frames.h), shared by interrupt.c and guard.c.
 *
 * The thread's state is reached through one initial-exec __thread pointer:
 * no allocation, lock or system call in a signal handler's common path.
 * It is created on the thread's first guarded call, with an alternate
 * signal stack (so a stack overflow is recoverable) unless the thread
 * already has one (Python's faulthandler gives the main thread one), and
 * freed with the stack and the thread's retry timer by a pthread key
 * destructor when the thread exits.
 */
#define _GNU_SOURCE /* REG_RIP, SYS_gettid */

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "frames.h"

/* ---- threads ---------------------------------------------------------- */

__thread struct thread *jit__guard_self __attribute__((tls_model("initial-exec")));
#define self jit__guard_self

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key;
static int key_ok;

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

/* The calling thread's state, created on its first guarded call. */
struct thread *jit__guard_thread(void)
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
    self = t;
    return t;
}

/* ---- leaving a handler ------------------------------------------------- */

const int jit__fatal_signals[JIT_NFATAL] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };

pthread_mutex_t jit__guard_install_lock = PTHREAD_MUTEX_INITIALIZER;

void jit__guard_registers(void *uc, uintptr_t *pc, uintptr_t *sp)
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

void jit__guard_unblock(int sig)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/* Leave the signal handler for frame f: pop it and jump to its wrapper. */
void jit__guard_jump_out(struct thread *t, struct frame *f, int sig)
{
    t->top = f->prev;
    if (sig)
        jit__guard_unblock(sig);
    longjmp(f->jb, 1);
}

/* Do what the previous handler would have done. */
void jit__guard_chain(int sig, siginfo_t *si, void *uc, const struct sigaction *prev)
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

