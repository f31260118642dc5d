/*
 * runtime.c -- helpers that libjit hands to every compiled module.
 *
 * Code compiled by TinyCC cannot see libjit's own functions (ctypes loads
 * libjit RTLD_LOCAL and everything here is hidden), so each helper is given
 * to every compile with tcc_add_symbol, under its name. Each feature keeps
 * its own NULL-terminated table (guard.c, tls.c); this file only joins them.
 * jit_list never lists these names.
 */
#include <string.h>

#include "internal.h"

static const struct jit_runtime_symbol *const tables[] = {
    jit__guard_symbols,
    jit__tls_symbols,
};

void jit__runtime_each(void (*fn)(void *ctx, const char *name, const void *addr), void *ctx)
{
    size_t t;
    const struct jit_runtime_symbol *r;

    for (t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (r = tables[t]; r->name; r++)
            fn(ctx, r->name, r->addr);
}

int jit__is_runtime_symbol(const char *name)
{
    size_t t;
    const struct jit_runtime_symbol *r;

    if (strncmp(name, "__cx_", 5) != 0)
        return 0;
    for (t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (r = tables[t]; r->name; r++)
            if (strcmp(r->name, name) == 0)
                return 1;
    return 0;
}
