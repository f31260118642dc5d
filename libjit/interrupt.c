/*
 * interrupt.c -- SIGINT for guarded calls (layer 6, interrupt.h; the
 * behaviour is described in jit.h): the previous handler (Python's sets a
 * flag) runs, and the guarded call returns early, as soon as that is
 * safe: at once when the thread runs compiled code or waits in a system
 * call of libc called from it, else when a retry (a per-thread POSIX timer
 * that sends the thread SIGINT, tagged, every 0.2 ms) finds it there.
 * While the thread runs a suspended callback (Python code), the previous
 * handler runs at once, so the callback sees the interrupt; the call
 * itself stops when the callback has returned.
 */
#define _GNU_SOURCE /* SIGEV_THREAD_ID, SYS_gettid, SI_TKILL */

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "interrupt.h"

#define self jit__guard_self

/* A tag in the sigevent of our retry timers, so the SIGINT handler tells
 * them from real interrupts. */
static int timer_tag;

/* A timer that sends SIGINT to this thread (tagged), for stop retries. */
int jit__guard_ensure_timer(struct thread *t)
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

/* SIGINT's previous handler: two slots, so a re-install never rewrites the
 * one a running handler may be reading. */
static struct sigaction prev_int[2];
static _Atomic int prev_int_slot = -1;

static void on_interrupt(int sig, siginfo_t *si, void *uc);
static void chain_interrupt(siginfo_t *si, void *uc);

/* The call ends (or ended) without being stopped: drop the pending stop,
 * and if an interrupt's handler has not run yet, run it now (Python then
 * raises KeyboardInterrupt as soon as the call returns). */
void jit__guard_settle_stop(struct thread *t)
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
    pthread_mutex_lock(&jit__guard_install_lock);
    jit__guard_install_interrupt(1);
    pthread_mutex_unlock(&jit__guard_install_lock);
    if (!jit__guard_ensure_timer(t))
        return JIT_ENOMEM;
    t->stop_chained = 1; /* no handler to run: the caller knows */
    t->stop_pending = 1;
    arm_retry(t);
    return JIT_OK;
}

/* Run SIGINT's previous handler (Python's sets a flag that makes the
 * interpreter raise KeyboardInterrupt). */
static void chain_interrupt(siginfo_t *si, void *uc)
{
    int slot = atomic_load(&prev_int_slot);

    if (slot >= 0)
        jit__guard_chain(SIGINT, si, uc, &prev_int[slot]);
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

/* SIGINT, from outside or from a thread's retry timer. In a guarded call,
 * the previous handler runs when the call can stop: at once if the thread
 * is in compiled code or waits in a system call (then the call returns),
 * else when a retry finds it there (retried every 0.2 ms), when it runs a suspended callback
 * (the callback is Python: let it see the interrupt), or when the call
 * returns by itself (jit_guard_leave). */
static void on_interrupt(int sig, siginfo_t *si, void *uc)
{
    int saved_errno = errno;
    struct thread *t = self;
    uintptr_t pc, sp;

    (void)sig;
    if (si->si_code == SI_TIMER && si->si_value.sival_ptr == &timer_tag) {
        if (!t || !t->stop_pending)
            goto out; /* a retry that lost the race with the call's end */
    } else if (!t || (!t->top && !t->suspended) || interrupt_is_plain()
               || (si->si_code == SI_TKILL && si->si_pid == getpid())) {
        /* not in a guarded call, or raise(SIGINT) by the code itself (it
         * wants the handler to run, and to go on) */
        chain_interrupt(si, uc);
        goto out;
    } else if (!t->stop_pending) {
        t->stop_pending = 1;
        t->stop_chained = 0;
    }
    if (t->top) {
        jit__guard_registers(uc, &pc, &sp);
        if (jit__in_code(pc) || (!(t->top->flags & JIT_GUARD_HOST_API) && jit__in_libc_syscall(pc))) {
            struct frame *f = t->top;

            if (!t->stop_chained)
                chain_interrupt(si, uc);
            t->stop_pending = 0;
            t->sig = SIGINT;
            t->code = si->si_code;
            t->address = NULL;
            t->pc = (void *)pc;
            t->in_code = jit__in_code(pc);
            t->stack_overflow = 0;
            /* in a system call: where compiled code called the library */
            t->ncallers = t->in_code ? 0 : jit__code_callers(t->callers, NCALLERS);
            jit__guard_jump_out(t, f, SIGINT);
        }
    } else if (t->suspended && !t->stop_chained) {
        t->stop_chained = 1; /* a callback runs: it sees the interrupt */
        chain_interrupt(si, uc);
    } else if (!t->suspended) {
        t->stop_pending = 0; /* the call has ended */
        goto out;
    }
    arm_retry(t); /* in a library, or in a callback: try again soon */
out:
    errno = saved_errno;
}

/* Install our SIGINT handler over a function handler that is not ours
 * (with force, over SIG_IGN and SIG_DFL too). install_lock held. */
void jit__guard_install_interrupt(int force)
{
    struct sigaction cur, act;
    int slot;

    if (sigaction(SIGINT, NULL, &cur) != 0 || ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_interrupt))
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

void jit__guard_interrupt_forked(struct thread *t)
{
    t->have_timer = 0;
}
