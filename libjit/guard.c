/*
 * guard.c -- crash and interrupt recovery for calls into compiled code.
 * (Runtime helpers are listed in jit__guard_symbols; see runtime.c.)
 */
#include "internal.h"

const struct jit_runtime_symbol jit__guard_symbols[] = {
    { NULL, NULL }
};
