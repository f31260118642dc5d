/*
 * runtime.h -- layer 8 of libjit (see the Makefile): the helpers libjit
 * hands to every compiled module under "__cx_" names (runtime.c), among
 * them thread-local storage (tls.c).
 */
#ifndef CX_JIT_RUNTIME_H
#define CX_JIT_RUNTIME_H

#include <stddef.h>

#include "guard.h"

/* A thread-local variable's key, one word in the compiled module's memory
 * (0 until first use). cx's prelude (python/cx/tls.py) declares the same
 * struct for compiled code; the loader checks its size (jit_layout). */
struct __cx_tls_key {
    unsigned long index;
};

/* __cx_tls_get: the calling thread's copy of the variable of key k (size
 * bytes aligned to align, initialised from init -- or zeroed, init NULL --
 * on the thread's first access). NULL only when out of memory. */
void *jit__tls_get(struct __cx_tls_key *k, const void *init, size_t size,
                   size_t align);
/* __cx_tls_release: forget n keys, freeing every thread's copy of them. */
void jit__tls_release(struct __cx_tls_key *keys, size_t n);

/* Call fn for every runtime helper (name, address). */
void jit__runtime_each(void (*fn)(void *ctx, const char *name, const void *addr), void *ctx);
/* Whether name is one of the runtime helpers (never listed by jit_list). */
int jit__is_runtime_symbol(const char *name);

#endif /* CX_JIT_RUNTIME_H */
