/*
 * compile.c -- jit_compile's work (layer 9, compile.h): one fresh TinyCC
 * state, driven through the only call order libtcc survives, under one
 * process-wide lock (tcc.h names the libtcc calls behind each jit__tcc_*).
 *
 *   tcc_new, error callback, tcc_set_lib_path   (before the output type:
 *                                     it expands {B} in the default paths)
 *   option tokens                    (-b/-bt after the output type make
 *                                     the compile segfault)
 *   user include/sysinclude/library dirs and defines, in call order
 *                                    (before the defaults, so searched first)
 *   tcc_set_output_type(MEMORY)      (compile or add_symbol before it
 *                                     segfault)
 *   system multiarch dirs (paths.c), symbols
 *   compile the source, after a padding (stop on failure: relocating
 *                                     after a failed compile segfaults)
 *   record the names the source defines (for jit_list)
 *   libraries                        (after the source, as on a command
 *                                     line: static archives then resolve
 *                                     its references)
 *   tcc_relocate, once, with the host's fatal-signal handlers saved and
 *                                    restored (-b/-bt install TinyCC's own)
 *   unlock, run the constructors     (relocation does not: they are user
 *                                     code and may take a while)
 * and jit_delete runs the destructors before tcc_delete frees the code.
 *
 * jit_list's names: tcc_list_symbols lists every global, default-
 * visibility symbol with a non-zero value. After relocation that includes
 * much the source did not define: functions resolved from the process or
 * libraries (printf), libtcc1.a helpers (__atomic_*, __fixdfdi, alloca),
 * the bounds checker with -b (malloc, free, signal, __bound_*), linker
 * markers (_etext, _end, __init_array_start, __start_<sec>, __stop_<sec>,
 * _GLOBAL_OFFSET_TABLE_), "name@plt" entries and jit_add_symbol names.
 * Before relocation (after the source compiled, before any library or
 * runtime is loaded) the value is a section offset and only the source's
 * own definitions are non-zero -- except one symbol at offset 0 of each
 * section. A padding unit, compiled before the source and jit_add_unit's
 * units, takes offset 0 of .text, .data, .bss and read-only data with
 * static (local, unlisted) objects, so the
 * pre-relocation list is exactly the source's global definitions, minus
 * the jit_add_symbol names (also listed then), which are dropped. Left
 * out: weak and hidden symbols, and a definition at offset 0 of a section
 * the padding does not know (__attribute__((section("x")))).
 */
#define _POSIX_C_SOURCE 200809L /* sigaction */

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"

extern char **environ;

/* Unregister and free a compiled state's code, under the lock: a line
 * lookup (which walks every state's line tables) never sees it half gone. */
void jit__compile_free(struct TCCState *s)
{
    if (!s)
        return;
    jit__lock();
    jit_guard_remove_code(jit__tcc_get_symbol(s, "__jit_pad_text"));
    jit__tcc_delete(s);
    jit__unlock();
}

/* Put before the source: takes offset 0 of every section a plain source
 * uses (see above); "#line 1" gives the source its own line numbers. A
 * prefix costs nothing measurable, a separate unit ~0.1 ms (TinyCC
 * re-reads its predefined macros for every unit). The text padding is a
 * hidden global (never listed, but found by tcc_get_symbol): it marks the
 * start of the source's code for the guard's code registry. */
static const char padding[] =
    "__attribute__((visibility(\"hidden\"))) void __jit_pad_text(void) {}\n"
    "static char __jit_pad_data = 1;\n"
    "static char __jit_pad_bss;\n"
    "static const char __jit_pad_rodata = 1;\n"
    "#line 1\n";

/* ---- compiler messages ---------------------------------------------- */

/* Whether a TinyCC message is an error. Its last line reads
 * "<file>:<line>: error: ...", "tcc: error: ..." or "...: warning: ...";
 * earlier lines are "In file included from ...". */
static int is_error(const char *last_line)
{
    const char *e = strstr(last_line, ": error: ");
    const char *w = strstr(last_line, ": warning: ");

    return e && (!w || e < w);
}

/* TinyCC's error callback. It runs with TinyCC's own lock held, inside
 * tcc calls: only append to this state's buffers. */
static void on_message(void *opaque, const char *msg)
{
    jit_state *j = opaque;
    const char *last = strrchr(msg, '\n');

    jit__buf_append(&j->diagnostics, msg, strlen(msg));
    jit__buf_append(&j->diagnostics, "\n", 1);
    last = last ? last + 1 : msg;
    if (!j->have_first_error && is_error(last)) {
        jit__buf_clear(&j->message);
        if (jit__buf_append(&j->message, last, strlen(last)) == JIT_OK)
            j->have_first_error = 1;
    }
}

/* Fail jit_compile with the first compiler error, or fallback. */
static int fail_with_first_error(jit_state *j, int code, const char *fallback)
{
    if (j->have_first_error)
        return jit__fail_message(j, code);
    return jit__fail(j, code, "%s", fallback);
}

/* ---- names the source defines --------------------------------------- */

struct name_filter {
    jit_state *j;
    const char **added; /* sorted jit_add_symbol names */
    size_t nadded;
};

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void collect_name(void *ctx, const char *name, const void *value)
{
    struct name_filter *f = ctx;

    (void)value;
    if (jit__is_runtime_symbol(name))
        return;
    if (f->nadded && bsearch(&name, f->added, f->nadded, sizeof *f->added,
                             compare_names))
        return;
    jit__buf_append(&f->j->names, name, strlen(name) + 1);
}

/* Before relocation: record the global names the source defines. */
static int record_names(jit_state *j, struct TCCState *s)
{
    struct name_filter f = { j, NULL, 0 };
    size_t i;

    for (i = 0; i < j->ops.count; i++)
        f.nadded += j->ops.items[i].kind == JIT_OP_SYMBOL;
    if (f.nadded) {
        f.added = malloc(f.nadded * sizeof *f.added);
        if (!f.added)
            return JIT_ENOMEM;
        f.nadded = 0;
        for (i = 0; i < j->ops.count; i++)
            if (j->ops.items[i].kind == JIT_OP_SYMBOL)
                f.added[f.nadded++] = j->ops.items[i].name;
        qsort(f.added, f.nadded, sizeof *f.added, compare_names);
    }
    jit__tcc_list_symbols(s, &f, collect_name);
    free(f.added);
    return j->names.truncated ? JIT_ENOMEM : JIT_OK;
}

/* ---- relocation and constructors ------------------------------------ */

/* -b/-bt replace the fatal signals' handlers while relocating (theirs
 * print a backtrace and exit(255)): put the host's back. */
static int relocate_keeping_handlers(struct TCCState *s)
{
    struct sigaction saved[JIT_NFATAL];
    size_t i;
    int rc;

    for (i = 0; i < JIT_NFATAL; i++)
        sigaction(jit__fatal_signals[i], NULL, &saved[i]);
    rc = jit__tcc_relocate(s);
    for (i = 0; i < JIT_NFATAL; i++)
        sigaction(jit__fatal_signals[i], &saved[i], NULL);
    return rc;
}

/* glibc calls .init_array entries with (argc, argv, envp); TinyCC's own
 * bounds checker has such a constructor, so do the same. */
typedef void init_fn(int argc, char **argv, char **envp);

static void run_constructors(struct TCCState *s)
{
    init_fn **p = jit__tcc_get_symbol(s, "__init_array_start");
    init_fn **end = jit__tcc_get_symbol(s, "__init_array_end");

    if (!p || !end)
        return;
    for (; p < end; p++)
        if (*p)
            (*p)(0, NULL, environ);
}

/* .fini_array, last entry first (as glibc does at dlclose). Without this
 * the bounds checker (-b) would leak its tables with every state. */
void jit__run_destructors(struct TCCState *s)
{
    void (**start)(void) = jit__tcc_get_symbol(s, "__fini_array_start");
    void (**p)(void) = jit__tcc_get_symbol(s, "__fini_array_end");

    if (!start || !p)
        return;
    while (p > start)
        if (*--p)
            (*p)();
}

/* ---- the driver ----------------------------------------------------- */

/* Apply, in call order, the records that belong before the output type is
 * set (before_output_type) or after it (symbols). */
static int apply_ops(jit_state *j, struct TCCState *s, int before_output_type)
{
    size_t i;

    for (i = 0; i < j->ops.count; i++) {
        const struct jit_op *op = &j->ops.items[i];

        switch (op->kind) {
        case JIT_OP_OPTION:
            if (before_output_type && jit__tcc_set_options(s, op->name) != 0)
                return fail_with_first_error(j, JIT_EOPTION,
                                             "TinyCC refused an option");
            break;
        case JIT_OP_INCLUDE:
            if (before_output_type)
                jit__tcc_add_include_path(s, op->name);
            break;
        case JIT_OP_SYSINCLUDE:
            if (before_output_type)
                jit__tcc_add_sysinclude_path(s, op->name);
            break;
        case JIT_OP_LIBRARY_DIR:
            if (before_output_type)
                jit__tcc_add_library_path(s, op->name);
            break;
        case JIT_OP_DEFINE:
            if (before_output_type)
                jit__tcc_define(s, op->name, op->value);
            break;
        case JIT_OP_UNDEFINE:
            if (before_output_type)
                jit__tcc_undefine(s, op->name);
            break;
        case JIT_OP_SYMBOL:
            if (!before_output_type && jit__tcc_add_symbol(s, op->name, op->addr) != 0)
                return fail_with_first_error(j, JIT_ELINK,
                                             "TinyCC refused a symbol");
            break;
        case JIT_OP_LIBRARY: /* after the source: see add_libraries */
        case JIT_OP_UNIT:    /* compiled by build, before the source */
            break;
        }
    }
    return JIT_OK;
}

static int add_libraries(jit_state *j, struct TCCState *s)
{
    size_t i;

    for (i = 0; i < j->ops.count; i++) {
        const struct jit_op *op = &j->ops.items[i];

        if (op->kind == JIT_OP_LIBRARY && jit__tcc_add_library(s, op->name) != 0) {
            if (j->have_first_error)
                return jit__fail_message(j, JIT_ELINK);
            return jit__fail(j, JIT_ELINK, "library '%s' not found",
                             op->name);
        }
    }
    return JIT_OK;
}

static int has_option(jit_state *j, const char *option)
{
    size_t i;

    for (i = 0; i < j->ops.count; i++)
        if (j->ops.items[i].kind == JIT_OP_OPTION
            && strcmp(j->ops.items[i].name, option) == 0)
            return 1;
    return 0;
}

/* Tell the guard where the source's code is: from the text padding to
 * __cx_code_end (which cx defines last in a guarded unit), else to the end of the
 * text section (which then includes TinyCC's runtime). */
static void register_code(struct TCCState *s)
{
    void *start = jit__tcc_get_symbol(s, "__jit_pad_text");
    void *end = jit__tcc_get_symbol(s, "__cx_code_end");

    if (!end)
        end = jit__tcc_get_symbol(s, "_etext");
    if (start && end)
        jit_guard_add_code(start, end);
}

static void add_runtime_symbol(void *ctx, const char *name, const void *addr)
{
    jit__tcc_add_symbol(ctx, name, addr);
}

/* A fresh TinyCC state configured as j records, to compile into memory
 * (ppfp NULL) or to preprocess into ppfp; called with the lock held. JIT_OK and *out,
 * or an error code (j's error set). */
static int configure(jit_state *j, FILE *ppfp,
                     struct TCCState **out)
{
    const struct jit_system_paths *sys = jit__system_paths();
    const char *const *dir;
    struct TCCState *s;
    int rc;

    *out = NULL;
    s = ppfp ? jit__tcc_new_preprocessor(ppfp) : jit__tcc_new();
    if (!s)
        return jit__fail_static(j, JIT_ENOMEM, "out of memory");
    jit__tcc_on_message(s, j, on_message);
    if (!ppfp)
        jit__tcc_catch_backtraces(s, jit__guard_checker);
    if (j->runtime_dir)
        jit__tcc_set_lib_path(s, j->runtime_dir);
    if ((rc = apply_ops(j, s, 1)) != JIT_OK)
        goto fail;
    /* the preprocessed text keeps each #define and #undef where it was (-dD):
     * what cx reads to learn the macros a source defines */
    if (ppfp && jit__tcc_set_options(s, "-dD") != 0) {
        rc = fail_with_first_error(j, JIT_ECOMPILE, "TinyCC refused -dD");
        goto fail;
    }
    if (jit__tcc_set_output(s, ppfp != NULL) != 0) {
        rc = fail_with_first_error(j, JIT_ECOMPILE, "TinyCC refused the "
                                   "output type");
        goto fail;
    }
    for (dir = sys->sysinclude; *dir; dir++)
        jit__tcc_add_sysinclude_path(s, *dir);
    if (!ppfp) {
        for (dir = sys->library; *dir; dir++)
            jit__tcc_add_library_path(s, *dir);
        jit__runtime_each(add_runtime_symbol, s);
        if ((rc = apply_ops(j, s, 0)) != JIT_OK)
            goto fail;
    }
    *out = s;
    return JIT_OK;

fail:
    jit__tcc_delete(s);
    return rc;
}

/* Everything from tcc_new to tcc_relocate; called with the lock held. On
 * success *out is the linked image. */
static int build(jit_state *j, const char *source, struct TCCState **out)
{
    struct TCCState *s;
    int rc;

    *out = NULL;
    if ((rc = configure(j, NULL, &s)) != JIT_OK)
        return rc;
    /* the padding first (it must take offset 0 of every section: see above), then jit_add_unit's
     * units in order, then the source; each its own translation unit */
    for (size_t i = 0; i <= j->ops.count + 1; i++) {
        const char *unit = i == 0 ? padding : i <= j->ops.count ? j->ops.items[i - 1].name : source;
        if (i > 0 && i <= j->ops.count && j->ops.items[i - 1].kind != JIT_OP_UNIT)
            continue;
        jit__guard_compiling(jit__tcc_escape);
        rc = jit__tcc_compile_string(s, unit);
        jit__guard_compiling(NULL);
        if (rc != 0) {
            rc = fail_with_first_error(j, JIT_ECOMPILE, "compilation failed");
            goto fail;
        }
    }
    if ((rc = record_names(j, s)) != JIT_OK) {
        rc = jit__fail_static(j, JIT_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = add_libraries(j, s)) != JIT_OK)
        goto fail;
    if (has_option(j, "-b")) /* the bounds checker's exit() ends the call */
        jit__tcc_add_symbol(s, "exit", (const void *)jit__guard_exit);
    if (relocate_keeping_handlers(s) != 0) {
        rc = fail_with_first_error(j, JIT_ELINK, "linking failed");
        goto fail;
    }
    register_code(s);
    *out = s;
    return JIT_OK;

fail:
    jit__tcc_delete(s);
    return rc;
}

int jit__preprocess(jit_state *j, const char *source, char **text,
                    size_t *len)
{
    char *padded = strdup(source);
    FILE *out;
    struct TCCState *s;
    int rc;

    *text = NULL;
    *len = 0;
    jit__succeed(j);
    jit__buf_clear(&j->diagnostics);
    j->have_first_error = 0;
    if (!padded)
        return jit__fail_static(j, JIT_ENOMEM, "out of memory");
    out = open_memstream(text, len);
    if (!out) {
        free(padded);
        return jit__fail_static(j, JIT_ENOMEM, "out of memory");
    }
    /* TinyCC writes a token at a time: no lock per write (only this
     * thread sees the stream). */
    __fsetlocking(out, FSETLOCKING_BYCALLER);
    jit__lock();
    rc = configure(j, out, &s);
    if (rc == JIT_OK) {
        jit__guard_compiling(jit__tcc_escape);
        if (jit__tcc_compile_string(s, padded) != 0)
            rc = fail_with_first_error(j, JIT_ECOMPILE, "preprocessing failed");
        jit__guard_compiling(NULL);
        jit__tcc_delete(s);
    }
    jit__unlock();
    free(padded);
    if (fclose(out) != 0 && rc == JIT_OK)
        rc = jit__fail_static(j, JIT_ENOMEM, "out of memory");
    if (rc != JIT_OK) {
        free(*text);
        *text = NULL;
        *len = 0;
    }
    return rc;
}

void jit__run_constructors(struct TCCState *s)
{
    run_constructors(s);
}

int jit__compile(jit_state *j, const char *source, int constructors)
{
    struct TCCState *s;
    int rc;

    /* error may point into message, which on_message rewrites. */
    jit__succeed(j);
    jit__buf_clear(&j->diagnostics);
    jit__buf_clear(&j->names);
    j->have_first_error = 0;

    jit__lock();
    rc = build(j, source, &s);
    jit__unlock();
    if (rc != JIT_OK) {
        jit__buf_free(&j->names);
        j->phase = JIT_PHASE_FAILED;
        return rc;
    }
    j->tcc = s;
    j->phase = JIT_PHASE_COMPILED;
    if (constructors) {
        j->constructed = 1;
        run_constructors(s);
    }
    return JIT_OK;
}
