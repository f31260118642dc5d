/*
 * tls.c -- thread-local storage for compiled code (TinyCC has no _Thread_local).
 * (Runtime helpers are listed in jit__tls_symbols; see runtime.c.)
 */
#include "internal.h"

const struct jit_runtime_symbol jit__tls_symbols[] = {
    { NULL, NULL }
};
