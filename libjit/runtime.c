/*
 * runtime.c -- the helpers libjit hands to every compiled module (layer 8,
 * runtime.h).
 *
 * Code compiled by TinyCC cannot see libjit's own functions (ctypes loads
 * libjit RTLD_LOCAL and everything here is hidden), so each helper is given
 * to every compile with tcc_add_symbol, under its name. jit_list never
 * lists these names.
 */
#include <string.h>

#include "runtime.h"

struct helper {
    const char *name;
    const void *addr;
};

static const struct helper helpers[] = {
    /* for code cx runs inside a guarded call on its own behalf (the capture
     * writer of cx/capture.py): it must never be abandoned halfway */
    { "__cx_guard_suspend", (const void *)jit_guard_suspend },
    { "__cx_guard_resume", (const void *)jit_guard_resume },
    /* thread-local storage (tls.c) */
    { "__cx_tls_get", (const void *)jit__tls_get },
    { "__cx_tls_release", (const void *)jit__tls_release },
};
#define NHELPERS (sizeof helpers / sizeof helpers[0])

void jit__runtime_each(void (*fn)(void *ctx, const char *name, const void *addr), void *ctx)
{
    size_t i;

    for (i = 0; i < NHELPERS; i++)
        fn(ctx, helpers[i].name, helpers[i].addr);
}

int jit__is_runtime_symbol(const char *name)
{
    size_t i;

    if (strncmp(name, "__cx_", 5) != 0)
        return 0;
    for (i = 0; i < NHELPERS; i++)
        if (strcmp(helpers[i].name, name) == 0)
            return 1;
    return 0;
}
