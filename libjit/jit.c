/*
 * jit.c -- the jit_state life-cycle (layer 10, the public API of jit.h):
 * constructor, configuration calls, the call-order state machine,
 * lookups, error and diagnostics strings.
 *
 * Configuration functions only record what to do (struct jit_ops); the
 * TinyCC state is created and driven by jit_compile alone (compile.c), so
 * no libtcc call can ever happen in an order that crashes it.
 */
#define _POSIX_C_SOURCE 200809L /* strdup */

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"

/* ---- call order ---------------------------------------------------- */

/* Common prologue of the configuration functions. */
static int check_configuring(jit_state *j, const char *fn_too_late,
                             const char *fn_failed)
{
    if (j->phase == JIT_PHASE_COMPILED)
        return jit__fail_static(j, JIT_ESTATE, fn_too_late);
    if (j->phase == JIT_PHASE_FAILED)
        return jit__fail_static(j, JIT_ESTATE, fn_failed);
    return JIT_OK;
}

#define CHECK_CONFIGURING(j, fn)                                            \
    check_configuring((j), fn ": too late, the state is already compiled",  \
                      fn ": the state's jit_compile failed; create a new "  \
                      "state")

/* ---- life-cycle ----------------------------------------------------- */

JIT_API jit_state *jit_new(const char *runtime_dir)
{
    jit_state *j = calloc(1, sizeof *j);

    if (!j)
        return NULL;
    j->phase = JIT_PHASE_CONFIGURING;
    j->error = "";
    if (runtime_dir) {
        j->runtime_dir = strdup(runtime_dir);
        if (!j->runtime_dir) {
            free(j);
            return NULL;
        }
    }
    return j;
}

JIT_API void jit_delete(jit_state *j)
{
    if (!j)
        return;
    if (j->compiling)
        jit_compile_wait(j);
    if (j->phase == JIT_PHASE_COMPILED && j->constructed)
        jit__run_destructors(j->tcc);
    jit__compile_free(j->tcc);
    jit__ops_free(&j->ops);
    jit__buf_free(&j->names);
    jit__buf_free(&j->diagnostics);
    jit__errors_free(j);
    free(j->preprocessed);
    free(j->runtime_dir);
    free(j);
}

/* ---- configuration -------------------------------------------------- */

/* Directories are passed to TinyCC, which splits them at ':'. */
static int add_dir(jit_state *j, enum jit_op_kind kind, const char *fn,
                   const char *dir)
{
    if (!dir)
        return jit__fail(j, JIT_EARG, "%s: dir is NULL", fn);
    if (!*dir)
        return jit__fail(j, JIT_EARG, "%s: dir is empty", fn);
    if (strchr(dir, ':'))
        return jit__fail(j, JIT_EARG,
                         "%s: '%s' contains ':' (TinyCC would split it); "
                         "add one directory per call", fn, dir);
    if (jit__ops_push(&j->ops, kind, dir, NULL, NULL) != JIT_OK)
        return jit__fail_static(j, JIT_ENOMEM, "out of memory");
    return jit__succeed(j);
}

JIT_API int jit_add_include_dir(jit_state *j, const char *dir)
{
    int rc;

    if (!j)
        return JIT_EARG;
    if ((rc = CHECK_CONFIGURING(j, "jit_add_include_dir")) != JIT_OK)
        return rc;
    return add_dir(j, JIT_OP_INCLUDE, "jit_add_include_dir", dir);
}

JIT_API int jit_add_sysinclude_dir(jit_state *j, const char *dir)
{
    int rc;

    if (!j)
        return JIT_EARG;
    if ((rc = CHECK_CONFIGURING(j, "jit_add_sysinclude_dir")) != JIT_OK)
        return rc;
    return add_dir(j, JIT_OP_SYSINCLUDE, "jit_add_sysinclude_dir", dir);
}

JIT_API int jit_add_library_dir(jit_state *j, const char *dir)
{
    int rc;

    if (!j)
        return JIT_EARG;
    if ((rc = CHECK_CONFIGURING(j, "jit_add_library_dir")) != JIT_OK)
        return rc;
    return add_dir(j, JIT_OP_LIBRARY_DIR, "jit_add_library_dir", dir);
}

JIT_API int jit_add_library(jit_state *j, const char *name)
{
    int rc;

    if (!j)
        return JIT_EARG;
    if ((rc = CHECK_CONFIGURING(j, "jit_add_library")) != JIT_OK)
        return rc;
    if (!name)
        return jit__fail_static(j, JIT_EARG, "jit_add_library: name is NULL");
    if (!*name || strpbrk(name, "/: \t\n"))
        return jit__fail(j, JIT_EARG,
                         "jit_add_library: '%s' is not a library name "
                         "(give it as for -l, e.g. \"m\" for libm)", name);
    if (jit__ops_push(&j->ops, JIT_OP_LIBRARY, name, NULL, NULL) != JIT_OK)
        return jit__fail_static(j, JIT_ENOMEM, "out of memory");
    return jit__succeed(j);
}

JIT_API int jit_define(jit_state *j, const char *name, const char *value)
{
    const char *why;
    int rc;

    if (!j)
        return JIT_EARG;
    if ((rc = CHECK_CONFIGURING(j, "jit_define")) != JIT_OK)
        return rc;
    if (!name)
        return jit__fail_static(j, JIT_EARG, "jit_define: name is NULL");
    if ((why = jit__check_define_name(name)) != NULL)
        return jit__fail(j, JIT_EARG, "jit_define: name '%s' %s", name, why);
    if (value && strpbrk(value, "\r\n"))
        return jit__fail(j, JIT_EARG,
                         "jit_define: the value of '%s' contains a newline",
                         name);
    if (jit__ops_push(&j->ops, JIT_OP_DEFINE, name, value, NULL) != JIT_OK)
        return jit__fail_static(j, JIT_ENOMEM, "out of memory");
    return jit__succeed(j);
}

JIT_API int jit_set_options(jit_state *j, const char *options)
{
    struct jit_ops parsed = { 0 };
    struct jit_buf why = { 0 };
    int rc;

    if (!j)
        return JIT_EARG;
    if ((rc = CHECK_CONFIGURING(j, "jit_set_options")) != JIT_OK)
        return rc;
    if (!options)
        return jit__fail_static(j, JIT_EARG, "jit_set_options: options is NULL");
    rc = jit__parse_options(options, &parsed, &why);
    if (rc == JIT_OK && jit__ops_splice(&j->ops, &parsed) != JIT_OK)
        rc = JIT_ENOMEM;
    if (rc == JIT_OK)
        jit__succeed(j);
    else if (rc == JIT_ENOMEM)
        jit__fail_static(j, JIT_ENOMEM, "out of memory");
    else
        rc = jit__fail(j, rc, "jit_set_options: %s", jit__buf_str(&why));
    jit__ops_free(&parsed);
    jit__buf_free(&why);
    return rc;
}

JIT_API int jit_add_symbol(jit_state *j, const char *name, const void *addr)
{
    int rc;

    if (!j)
        return JIT_EARG;
    if ((rc = CHECK_CONFIGURING(j, "jit_add_symbol")) != JIT_OK)
        return rc;
    if (!name)
        return jit__fail_static(j, JIT_EARG, "jit_add_symbol: name is NULL");
    if (!*name)
        return jit__fail_static(j, JIT_EARG, "jit_add_symbol: name is empty");
    if (!addr)
        return jit__fail(j, JIT_EARG, "jit_add_symbol: the address of '%s' "
                         "is NULL", name);
    if (jit__ops_push(&j->ops, JIT_OP_SYMBOL, name, NULL, addr) != JIT_OK)
        return jit__fail_static(j, JIT_ENOMEM, "out of memory");
    return jit__succeed(j);
}

JIT_API int jit_add_unit(jit_state *j, const char *source)
{
    int rc;

    if (!j)
        return JIT_EARG;
    if ((rc = CHECK_CONFIGURING(j, "jit_add_unit")) != JIT_OK)
        return rc;
    if (!source)
        return jit__fail_static(j, JIT_EARG, "jit_add_unit: source is NULL");
    if (jit__ops_push(&j->ops, JIT_OP_UNIT, source, NULL, NULL) != JIT_OK)
        return jit__fail_static(j, JIT_ENOMEM, "out of memory");
    return jit__succeed(j);
}

/* ---- compile and lookups -------------------------------------------- */

JIT_API int jit_compile(jit_state *j, const char *source)
{
    int rc;

    if (!j)
        return JIT_EARG;
    if (j->compiling) /* (its error string is the compile's: left alone) */
        return JIT_ESTATE;
    if (j->phase == JIT_PHASE_COMPILED)
        return jit__fail_static(j, JIT_ESTATE,
                                "jit_compile: already compiled (once per state)");
    if (j->phase == JIT_PHASE_FAILED)
        return jit__fail_static(j, JIT_ESTATE,
                                "jit_compile: this state already failed to "
                                "compile; create a new state");
    if (!source)
        return jit__fail_static(j, JIT_EARG, "jit_compile: source is NULL");
    if ((rc = jit__compile(j, source, 1)) == JIT_OK)
        jit__succeed(j);
    return rc;
}

static void *compile_on_thread(void *arg)
{
    jit_state *j = arg;

    j->compile_rc = jit__compile(j, j->compile_source, 0); /* constructors: jit_run_constructors */
    if (j->compile_rc == JIT_OK)
        jit__succeed(j);
    return NULL;
}

JIT_API int jit_compile_start(jit_state *j, const char *source)
{
    static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS };
    sigset_t all, before;
    pthread_attr_t attr;
    int started;

    if (!j)
        return JIT_EARG;
    if (j->compiling) /* (its error string is the compile's: left alone) */
        return JIT_ESTATE;
    if (j->phase != JIT_PHASE_CONFIGURING)
        return jit__fail_static(j, JIT_ESTATE,
                                "jit_compile_start: compiled or failed "
                                "already (once per state)");
    if (!source)
        return jit__fail_static(j, JIT_EARG, "jit_compile_start: source is NULL");
    if (!(j->compile_source = strdup(source)))
        return jit__fail_static(j, JIT_ENOMEM, "out of memory");
    /* the thread takes no signal but those a fault raises on it (the guard's): Ctrl-C and the
     * rest go to the host's threads, as if no compile were under way */
    sigfillset(&all);
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        sigdelset(&all, faults[i]);
    pthread_sigmask(SIG_SETMASK, &all, &before);
    /* TinyCC recurses on nested expressions: the stack of a main thread, not a small default */
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 8u << 20);
    started = pthread_create(&j->compiler, &attr, compile_on_thread, j);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    if (started != 0) {
        free(j->compile_source);
        j->compile_source = NULL;
        return jit__fail_static(j, JIT_ENOMEM,
                                "jit_compile_start: could not start a thread");
    }
    j->compiling = 1;
    return JIT_OK;
}

JIT_API int jit_compile_wait(jit_state *j)
{
    if (!j)
        return JIT_EARG;
    if (!j->compiling)
        return jit__fail_static(j, JIT_ESTATE,
                                "jit_compile_wait: no jit_compile_start to wait for");
    pthread_join(j->compiler, NULL);
    j->compiling = 0;
    free(j->compile_source);
    j->compile_source = NULL;
    return j->compile_rc;
}

JIT_API int jit_run_constructors(jit_state *j)
{
    if (!j)
        return JIT_EARG;
    if (j->compiling || j->phase != JIT_PHASE_COMPILED)
        return JIT_ESTATE;
    if (!j->constructed) {
        j->constructed = 1;
        jit__run_constructors(j->tcc);
    }
    return JIT_OK;
}

JIT_API const char *jit_preprocess(jit_state *j, const char *source,
                                   size_t *len)
{
    char *text;
    size_t n;
    int rc;

    if (len)
        *len = 0;
    if (!j)
        return NULL;
    if (j->phase != JIT_PHASE_CONFIGURING) {
        jit__fail_static(j, JIT_ESTATE, "jit_preprocess: call it before "
                         "jit_compile");
        return NULL;
    }
    if (!source) {
        jit__fail_static(j, JIT_EARG, "jit_preprocess: source is NULL");
        return NULL;
    }
    free(j->preprocessed);
    j->preprocessed = NULL;
    if ((rc = jit__preprocess(j, source, &text, &n)) != JIT_OK)
        return NULL;
    j->preprocessed = text;
    if (len)
        *len = n;
    jit__succeed(j);
    return text;
}

JIT_API void *jit_sym(jit_state *j, const char *name)
{
    void *addr;

    if (!j)
        return NULL;
    if (j->phase != JIT_PHASE_COMPILED) {
        jit__fail_static(j, JIT_ESTATE,
                         "jit_sym: not compiled (call jit_compile first, "
                         "and check that it succeeded)");
        return NULL;
    }
    if (!name) {
        jit__fail_static(j, JIT_EARG, "jit_sym: name is NULL");
        return NULL;
    }
    /* Read-only on the linked image: safe from several threads. */
    addr = jit__tcc_get_symbol(j->tcc, name);
    if (!addr) {
        jit__fail_note(j, JIT_EARG, "jit_sym: no such symbol '%.200s'", name);
        return NULL;
    }
    jit__succeed(j);
    return addr;
}

JIT_API int jit_list(jit_state *j, jit_symbol_cb *cb, void *ctx)
{
    const char *name, *end;

    if (!j)
        return JIT_EARG;
    if (j->phase != JIT_PHASE_COMPILED)
        return jit__fail_static(j, JIT_ESTATE,
                                "jit_list: not compiled (call jit_compile "
                                "first, and check that it succeeded)");
    if (!cb)
        return jit__fail_static(j, JIT_EARG, "jit_list: cb is NULL");
    /* names: what the source itself defines, captured by jit_compile
     * (see compile.c for what is left out and why). */
    name = j->names.data;
    end = name ? name + j->names.len : NULL;
    for (; name && name < end; name += strlen(name) + 1)
        cb(ctx, name, jit__tcc_get_symbol(j->tcc, name));
    return jit__succeed(j);
}

JIT_API const char *jit_names(jit_state *j, size_t *len)
{
    if (len)
        *len = 0;
    if (!j)
        return NULL;
    if (j->phase != JIT_PHASE_COMPILED) {
        jit__fail_static(j, JIT_ESTATE, "jit_names: not compiled (call jit_compile "
                         "first, and check that it succeeded)");
        return NULL;
    }
    if (len)
        *len = j->names.len;
    jit__succeed(j);
    return j->names.data ? j->names.data : "";
}

JIT_API const char *jit_error(jit_state *j)
{
    if (!j)
        return "jit_state is NULL (jit_new returns NULL only when out of memory)";
    return __atomic_load_n(&j->error, __ATOMIC_ACQUIRE);
}

JIT_API const char *jit_diagnostics(jit_state *j)
{
    if (!j)
        return "";
    return jit__buf_str(&j->diagnostics);
}
