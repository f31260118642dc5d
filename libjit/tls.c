/*
 * tls.c -- thread-local storage for compiled code (TinyCC has no _Thread_local).
 *
 * cx rewrites every _Thread_local (__thread, thread_local) variable of a
 * cell into a "template" object that holds its initial value, a key, and
 * uses of the form
 *
 *     (*(T *)__cx_tls_get(&key, &template, sizeof template, _Alignof(T)))
 *
 * (python/cx/tls.py). __cx_tls_get returns the calling thread's own copy,
 * made on the thread's first access from the template. The compiled
 * module's destructor calls __cx_tls_release on its keys, which frees every
 * thread's copies of them; a thread's copies are also freed when it exits.
 * (Layer 8, runtime.h; runtime.c hands these helpers to every compile.)
 *
 * How:
 *   - a key is one word in the compiled module's memory: 0 until first
 *     use, then an index >= 1 that no other live key has;
 *   - each thread has a table of copies indexed by key (a real __thread:
 *     libjit is built by gcc), so the fast path is a load of the index, a
 *     bounds check and a load of the slot;
 *   - the slow path (a thread's first access to a key) runs under one
 *     mutex: it assigns the index (reusing released ones), registers the
 *     thread (a pthread key whose destructor frees its copies at exit),
 *     grows the thread's table and copies the template.
 *
 * Threading rules: __cx_tls_get may run in any number of threads at once.
 * __cx_tls_release must not race with uses of the keys it releases (it runs
 * when the module's code is freed, after which nothing may use it anyway).
 * Only a thread itself grows its own table; other threads write single
 * slots of it (release), both under the mutex.
 */
#define _POSIX_C_SOURCE 200809L /* posix_memalign */

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

/* One thread's copies. Lives in the thread's own TLS block; linked into
 * `threads` from the thread's first slow path until it exits. */
struct table {
    void **slot;     /* slot[i]: this thread's copy for key index i, or NULL */
    size_t n;        /* slots allocated */
    int registered;  /* linked and known to the exit destructor */
    struct table *prev, *next;
};

/* initial-exec: libjit is dlopen()ed by ctypes, where the default model
 * calls __tls_get_addr on every access (2.6 ns per access of a cell's
 * thread-local variable; 1.2 ns with this). It costs 40 bytes of glibc's
 * static TLS reserve for dlopen()ed libraries (512 bytes or more). */
static __thread struct table self __attribute__((tls_model("initial-exec")));

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct table *threads;     /* every registered thread's table */
static unsigned long next_index = 1;
static unsigned long *free_indices; /* released indices, reused first */
static size_t free_count, free_cap;
static unsigned long live_copies;   /* for jit_tls_live */
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static int exit_key_ok;

/* Free every copy of table t. Called with the lock held. */
static void free_table(struct table *t)
{
    size_t i;

    for (i = 0; i < t->n; i++)
        if (t->slot[i]) {
            free(t->slot[i]);
            live_copies--;
        }
    free(t->slot);
    t->slot = NULL;
    t->n = 0;
}

/* pthread key destructor: the thread is exiting. */
static void on_thread_exit(void *arg)
{
    struct table *t = arg;

    pthread_mutex_lock(&lock);
    if (t->registered) {
        if (t->prev)
            t->prev->next = t->next;
        else
            threads = t->next;
        if (t->next)
            t->next->prev = t->prev;
        t->prev = t->next = NULL;
        t->registered = 0;
    }
    free_table(t);
    pthread_mutex_unlock(&lock);
}

static void create_exit_key(void)
{
    exit_key_ok = pthread_key_create(&exit_key, on_thread_exit) == 0;
}

/* The index of k, assigned now if it has none. Lock held. 0: no memory. */
static unsigned long key_index(struct __cx_tls_key *k)
{
    unsigned long i = k->index;

    if (i)
        return i;
    i = free_count ? free_indices[--free_count] : next_index++;
    __atomic_store_n(&k->index, i, __ATOMIC_RELEASE);
    return i;
}

/* Link this thread's table and arrange for its copies to be freed when the
 * thread exits. Lock held. */
static void register_thread(struct table *t)
{
    if (t->registered)
        return;
    pthread_once(&exit_once, create_exit_key);
    /* Without the key, copies of this thread are freed only with the
     * module (or never): a leak, not an error. */
    if (exit_key_ok)
        pthread_setspecific(exit_key, t);
    t->next = threads;
    t->prev = NULL;
    if (threads)
        threads->prev = t;
    threads = t;
    t->registered = 1;
}

static __attribute__((noinline)) void *
slow_get(struct __cx_tls_key *k, const void *init, size_t size, size_t align)
{
    struct table *t = &self;
    unsigned long i;
    void *copy = NULL;

    if (align < 64)
        align = 64; /* a cache line: copies of two threads never share one */
    while (align & (align - 1))
        align &= align - 1; /* _Alignof is a power of two; be safe anyway */

    pthread_mutex_lock(&lock);
    i = key_index(k);
    register_thread(t);
    if (i >= t->n) {
        size_t n = t->n ? t->n : 8;
        void **grown;

        while (n <= i)
            n *= 2;
        grown = realloc(t->slot, n * sizeof *grown);
        if (!grown)
            goto out;
        memset(grown + t->n, 0, (n - t->n) * sizeof *grown);
        t->slot = grown;
        t->n = n;
    }
    copy = t->slot[i];
    if (!copy && posix_memalign(&copy, align, size ? size : 1) == 0) {
        if (init)
            memcpy(copy, init, size);
        else
            memset(copy, 0, size);
        t->slot[i] = copy;
        live_copies++;
    }
out:
    pthread_mutex_unlock(&lock);
    return copy; /* NULL only when out of memory */
}

/* The calling thread's copy of the variable of key k: size bytes aligned to
 * align, initialised from init on the thread's first access. NULL only when
 * out of memory. */
void *jit__tls_get(struct __cx_tls_key *k, const void *init, size_t size,
                     size_t align)
{
    unsigned long i = __atomic_load_n(&k->index, __ATOMIC_ACQUIRE);
    struct table *t = &self;

    if (i < t->n) {
        void *p = t->slot[i];
        if (p)
            return p;
    }
    return slow_get(k, init, size, align);
}

/* Forget n keys: free every thread's copy of them and recycle their
 * indices. Keys never used are skipped. */
void jit__tls_release(struct __cx_tls_key *keys, size_t n)
{
    size_t k;

    pthread_mutex_lock(&lock);
    for (k = 0; k < n; k++) {
        unsigned long i = keys[k].index;
        struct table *t;

        if (!i)
            continue;
        for (t = threads; t; t = t->next)
            if (i < t->n && t->slot[i]) {
                free(t->slot[i]);
                __atomic_store_n(&t->slot[i], NULL, __ATOMIC_RELAXED);
                live_copies--;
            }
        if (free_count == free_cap) {
            size_t cap = free_cap ? 2 * free_cap : 16;
            unsigned long *grown = realloc(free_indices, cap * sizeof *grown);
            if (grown) {
                free_indices = grown;
                free_cap = cap;
            }
        }
        if (free_count < free_cap)
            free_indices[free_count++] = i; /* else the index is not reused */
        keys[k].index = 0;
    }
    pthread_mutex_unlock(&lock);
}

/* How many per-thread copies exist now, in all threads (for tests). */
JIT_API unsigned long jit_tls_live(void)
{
    unsigned long n;

    pthread_mutex_lock(&lock);
    n = live_copies;
    pthread_mutex_unlock(&lock);
    return n;
}
