/*
 * where.c -- where compiled code is, and where in it a crash happened
 * (layer 4, where.h): the registry of code ranges (jit_guard_add_code),
 * libc's code range, walks of an interrupted stack, and source lines
 * through TinyCC's line tables (jit__tcc_line_of, under TinyCC's lock).
 *
 * The registry is read by signal handlers: an array of atomic (start, end)
 * pairs, grown by copying; old arrays are never freed, so a handler never
 * reads freed memory (the total is at most twice the largest array).
 *
 * Stack walks use the unwinder (libgcc's, which reads CFI): libc keeps no
 * frame pointer chain, and only the CFI of its functions can walk them.
 * Used from signal handlers (only to find the compiled caller of a library
 * that crashed or was interrupted), where it is not async-signal-safe in
 * theory (it takes the dynamic loader's lock to find CFI): the thread in
 * question is known to run library code called from compiled code.
 */
#define _GNU_SOURCE /* dladdr, dl_iterate_phdr */

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <unwind.h>

#include "where.h"

/* ---- the registry of compiled code ------------------------------------ */

struct range {
    _Atomic uintptr_t start, end;
};

struct ranges {
    size_t n;
    struct range r[];
};

static pthread_mutex_t ranges_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ranges *_Atomic ranges;

int jit__in_code(uintptr_t pc)
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

/* ---- libc, and walks of an interrupted stack --------------------------- */

static uintptr_t libc_start, libc_end;
static pthread_once_t libc_once = PTHREAD_ONCE_INIT;

static int find_libc(struct dl_phdr_info *info, size_t size, void *base)
{
    int i;

    (void)size;
    if ((void *)info->dlpi_addr != base)
        return 0;
    for (i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            libc_start = info->dlpi_addr + ph->p_vaddr;
            libc_end = libc_start + ph->p_memsz;
        }
    }
    return 1;
}

static void locate_libc(void)
{
    Dl_info info;

    if (dladdr((void *)&syscall, &info) && info.dli_fbase)
        dl_iterate_phdr(find_libc, info.dli_fbase);
}

void jit__where_init(void)
{
    pthread_once(&libc_once, locate_libc);
}

/* From a signal handler: frames after the handler's own, from the
 * interrupted one (the unwinder marks it "before the instruction"). */
struct walk {
    int started;
    uintptr_t *callers; /* callers mode: collect up to max */
    int n, max;
    int libc_only; /* syscall mode: every frame before compiled code is libc's */
};

static _Unwind_Reason_Code collect_step(struct _Unwind_Context *ctx, void *arg)
{
    struct walk *w = arg;
    int before = 0;
    uintptr_t ip = _Unwind_GetIPInfo(ctx, &before);

    if (!w->started) {
        w->started = before;
        return _URC_NO_REASON;
    }
    if (w->callers) {
        if (!before && jit__in_code(ip)) {
            w->callers[w->n++] = ip;
            if (w->n == w->max)
                return _URC_END_OF_STACK;
        }
        return _URC_NO_REASON;
    }
    if (jit__in_code(ip))
        return _URC_END_OF_STACK; /* reached compiled code through libc only */
    if (!(ip >= libc_start && ip < libc_end)) {
        w->libc_only = 0; /* e.g. Python, waiting for its GIL in a callback */
        return _URC_END_OF_STACK;
    }
    return _URC_NO_REASON;
}

int jit__code_callers(uintptr_t *out, int max)
{
    struct walk w = { 0, out, 0, max, 1 };

    if (max > 0)
        _Unwind_Backtrace(collect_step, &w);
    return w.n;
}

int jit__in_libc_syscall(uintptr_t pc)
{
    struct walk w = { 0, NULL, 0, 0, 1 };

    if (!(pc >= libc_start && pc < libc_end))
        return 0;
#if defined(__x86_64__)
    {
        const unsigned char *p = (const unsigned char *)pc; /* syscall: 0f 05 */

        if (!((p[-2] == 0x0f && p[-1] == 0x05) || (p[0] == 0x0f && p[1] == 0x05)))
            return 0;
    }
#elif defined(__aarch64__)
    {
        const uint32_t *p = (const uint32_t *)pc; /* svc #0 */

        if (pc % 4 != 0 || !(p[-1] == 0xd4000001 || p[0] == 0xd4000001))
            return 0;
    }
#else
    return 0;
#endif
    _Unwind_Backtrace(collect_step, &w);
    return w.started && w.libc_only;
}

void jit__library_of(const void *pc, char *out, size_t size)
{
    Dl_info info;
    const char *base;

    out[0] = '\0';
    if (pc && dladdr(pc, &info) && info.dli_fname) {
        base = strrchr(info.dli_fname, '/');
        jit__copy(out, size, base ? base + 1 : info.dli_fname);
    }
}

/* ---- source lines -------------------------------------------------------- */

int jit__source_line(uintptr_t pc, char *file, size_t file_size,
                     char *func, size_t func_size)
{
    int line = 0;

    if (!pc)
        return 0;
    jit__lock(); /* no state is freed meanwhile, and TinyCC's lists are quiet */
    if (jit__in_code(pc)) /* else TinyCC would print "???" to stderr */
        line = jit__tcc_line_of(pc, file, file_size, func, func_size);
    jit__unlock();
    return line;
}
