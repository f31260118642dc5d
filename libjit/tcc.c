/*
 * tcc.c -- TinyCC, for the rest of libjit: the only file that includes
 * libtcc.h (layer 2, tcc.h). Everything that depends on which libtcc
 * libjit is built with is here, chosen at build time:
 *
 *   - tcc_relocate(s) takes one argument since Feb 2024; before, a second
 *     one (TCC_RELOCATE_AUTO, a macro that disappeared with it). That
 *     macro is the only compile-time witness of an older libtcc, so the
 *     other differences below are keyed to it as well.
 *   - tcc_set_options returns int since Apr 2023 (void before, e.g. in
 *     Debian's 2020 snapshot): with an older libtcc the result is not read.
 *   - tcc_set_backtrace_func exists since 2024: before it, the bounds
 *     checker's messages go to stderr and there are no line lookups.
 *   - TinyCC's internal error function (which ends a compile with a
 *     longjmp) is tcc_error before 2024, _tcc_error since.
 *   - TCC_OUTPUT_MEMORY is 1 in both; tcc_list_symbols exists since 2019.
 *   - The in-memory symbol table of code linked with -b/-bt is found
 *     through the first fields of TinyCC's "__rt_info" block
 *     (jit__tcc_elf_symbols); with a TinyCC that has no such block,
 *     jit_function_code falls back to the distance to the next symbol.
 *   - No version has a setter for the preprocessor's output: tcc_new sets
 *     the state's ppfp field to the value of stdout at that moment (see
 *     jit__tcc_new_preprocessor).
 *
 * libtcc.a is linked statically, so two of TinyCC's internals are reached
 * directly: its global compile state (tcc_state, non-NULL inside a
 * compile) and its error function. And states linked with -b or -bt carry
 * TinyCC's line lookup, _tcc_backtrace, which maps a pc to file:line
 * through every such state's line tables; jit__tcc_line_of calls it.
 */
#define _GNU_SOURCE /* open_memstream, malloc_usable_size */

#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcc.h"
#include "libtcc.h"

/* ---- the lock ------------------------------------------------------- */

static pthread_mutex_t tcc_lock = PTHREAD_MUTEX_INITIALIZER;

void jit__lock(void)
{
    pthread_mutex_lock(&tcc_lock);
}

void jit__unlock(void)
{
    pthread_mutex_unlock(&tcc_lock);
}

/* ---- one state, call by call ---------------------------------------- */

TCCState *jit__tcc_new(void)
{
    return tcc_new();
}

void jit__tcc_delete(TCCState *s)
{
    if (s)
        tcc_delete(s);
}

void jit__tcc_on_message(TCCState *s, void *opaque, jit__tcc_message_fn *fn)
{
    tcc_set_error_func(s, opaque, fn);
}

void jit__tcc_set_lib_path(TCCState *s, const char *dir)
{
    tcc_set_lib_path(s, dir);
}

int jit__tcc_set_options(TCCState *s, const char *options)
{
#ifdef TCC_RELOCATE_AUTO
    tcc_set_options(s, options); /* may return void: cannot tell */
    return 0;
#else
    return tcc_set_options(s, options);
#endif
}

void jit__tcc_add_include_path(TCCState *s, const char *dir)
{
    tcc_add_include_path(s, dir);
}

void jit__tcc_add_sysinclude_path(TCCState *s, const char *dir)
{
    tcc_add_sysinclude_path(s, dir);
}

void jit__tcc_add_library_path(TCCState *s, const char *dir)
{
    tcc_add_library_path(s, dir);
}

void jit__tcc_define(TCCState *s, const char *name, const char *value)
{
    tcc_define_symbol(s, name, value);
}

void jit__tcc_undefine(TCCState *s, const char *name)
{
    tcc_undefine_symbol(s, name);
}

int jit__tcc_set_output(TCCState *s, int preprocess)
{
    return tcc_set_output_type(s, preprocess ? TCC_OUTPUT_PREPROCESS
                                             : TCC_OUTPUT_MEMORY);
}

int jit__tcc_add_symbol(TCCState *s, const char *name, const void *addr)
{
    return tcc_add_symbol(s, name, addr) < 0 ? -1 : 0;
}

int jit__tcc_compile_string(TCCState *s, const char *source)
{
    return tcc_compile_string(s, source);
}

int jit__tcc_add_library(TCCState *s, const char *name)
{
    return tcc_add_library(s, name) < 0 ? -1 : 0;
}

static void note_line_lookup(TCCState *s);

int jit__tcc_relocate(TCCState *s)
{
#ifdef TCC_RELOCATE_AUTO
    int rc = tcc_relocate(s, TCC_RELOCATE_AUTO);
#else
    int rc = tcc_relocate(s);
#endif
    if (rc == 0)
        note_line_lookup(s);
    return rc;
}

void *jit__tcc_get_symbol(TCCState *s, const char *name)
{
    return tcc_get_symbol(s, name);
}

void jit__tcc_list_symbols(TCCState *s, void *ctx,
                           void (*fn)(void *ctx, const char *name, const void *val))
{
    tcc_list_symbols(s, ctx, fn);
}

/* ---- the preprocessor's output ------------------------------------ */

/* libtcc writes TCC_OUTPUT_PREPROCESS text to the state's ppfp, which
 * tcc_new sets to stdout's value and nothing lets a host change. Two ways:
 *   - the field's offset, found once: the only pointer-sized word of a new
 *     state (its malloc'd size bounds the scan) equal to stdout, confirmed
 *     by preprocessing a probe through it. The offset is then written
 *     directly; nothing process-wide changes.
 *   - otherwise (no unique word, or a probe that does not come through):
 *     stdout is swapped for the length of tcc_new, under the lock. A thread
 *     printing in that instant would write into the preprocessor's output;
 *     only used when the first way is unavailable. */
static long ppfp_offset = -2; /* -2: not looked for yet; -1: not found */

static void ignore_diagnostic(void *opaque, const char *msg)
{
    (void)opaque;
    (void)msg;
}

static int probe_offset(long offset)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    TCCState *s = tcc_new();
    int ok = 0;

    if (out && s) {
        *(FILE **)((char *)s + offset) = out;
        tcc_set_error_func(s, NULL, ignore_diagnostic);
        if (jit__tcc_set_options(s, "-nostdinc") == 0
            && tcc_set_output_type(s, TCC_OUTPUT_PREPROCESS) == 0
            && tcc_compile_string(s, "#define JIT_P(x) x##_ok\nJIT_P(jit_probe)\n") == 0) {
            fflush(out);
            ok = text && strstr(text, "jit_probe_ok") != NULL;
        }
    }
    if (s)
        tcc_delete(s);
    if (out)
        fclose(out);
    free(text);
    return ok;
}

static long find_ppfp_offset(void)
{
    TCCState *s = tcc_new();
    size_t words, i;
    long found = -1;
    int matches = 0;

    if (!s)
        return -1;
    words = malloc_usable_size(s) / sizeof(void *);
    for (i = 0; i < words; i++)
        if (((FILE **)s)[i] == stdout) {
            found = (long)(i * sizeof(void *));
            matches++;
        }
    tcc_delete(s);
    if (matches != 1 || !probe_offset(found))
        return -1;
    return found;
}

TCCState *jit__tcc_new_preprocessor(FILE *out)
{
    TCCState *s;
    FILE *saved;

    if (ppfp_offset == -2)
        ppfp_offset = find_ppfp_offset();
    if (ppfp_offset >= 0) {
        s = tcc_new();
        if (s)
            *(FILE **)((char *)s + ppfp_offset) = out;
        return s;
    }
    saved = stdout;
    stdout = out;
    s = tcc_new();
    stdout = saved;
    return s;
}

/* ---- the symbol table of code linked with -b or -bt ------------------ */

/* TinyCC hands it to its run-time through a block it links into the code,
 * "__rt_info" (tccrun.c's rt_context). Its first six pointers have a fixed
 * order (tccelf.c's tcc_add_btstub writes them so): three for the line
 * tables, then the symbol table's start and end and its string table.
 * Only those are read, after a sanity check. */
struct rt_prefix {
    void *line_tables[3];
    const void *esym_start, *esym_end;
    const char *elf_str;
};

int jit__tcc_elf_symbols(TCCState *s, const void **start, const void **end,
                         const char **names)
{
    const struct rt_prefix *rt = tcc_get_symbol(s, "__rt_info");

    if (!rt || !rt->esym_start || !rt->elf_str
        || (uintptr_t)rt->esym_end <= (uintptr_t)rt->esym_start)
        return -1;
    *start = rt->esym_start;
    *end = rt->esym_end;
    *names = rt->elf_str;
    return 0;
}

/* ---- backtraces and line lookups ------------------------------------ */

typedef int backtrace_fn(void *frame, const char *fmt, va_list ap);
static backtrace_fn *_Atomic line_lookup; /* TinyCC's _tcc_backtrace */
static jit__tcc_report_fn *_Atomic report_handler;

/* The lookup in progress (one at a time: under the lock). */
static _Atomic int looking;
static pthread_t looking_thread;
static char found_file[128], found_func[128];
static int found_line;

static void note_line_lookup(TCCState *s)
{
    void *fn = tcc_get_symbol(s, "_tcc_backtrace");

    if (fn)
        atomic_store(&line_lookup, (backtrace_fn *)fn);
}

#ifndef TCC_RELOCATE_AUTO /* libtcc >= 2024: states take a TCCBtFunc */
static int on_backtrace(void *udata, void *pc, const char *file, int line,
                        const char *func, const char *msg)
{
    jit__tcc_report_fn *handler;

    (void)udata;
    if (atomic_load(&looking) && pthread_equal(looking_thread, pthread_self())) {
        jit__copy(found_file, sizeof found_file, file);
        jit__copy(found_func, sizeof found_func, func);
        found_line = file ? line : 0;
        return 0;
    }
    handler = atomic_load(&report_handler);
    return handler ? handler(pc, file, line, func, msg) : 1;
}
#endif

void jit__tcc_catch_backtraces(TCCState *s, jit__tcc_report_fn *handler)
{
#ifndef TCC_RELOCATE_AUTO
    atomic_store(&report_handler, handler);
    tcc_set_backtrace_func(s, NULL, on_backtrace);
#else
    (void)s;
    (void)handler;
#endif
}

static int call_line_lookup(backtrace_fn *bt, void *frame, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = bt(frame, fmt, ap);
    va_end(ap);
    return rc;
}

int jit__tcc_line_of(uintptr_t pc, char *file, size_t file_size,
                     char *func, size_t func_size)
{
    backtrace_fn *bt = atomic_load(&line_lookup);
    struct { void *ip, *fp, *sp; } frame = { (void *)pc, NULL, NULL }; /* TinyCC's rt_frame */
    int line = 0;

    if (!bt || !pc)
        return 0;
    looking_thread = pthread_self();
    found_line = 0;
    atomic_store(&looking, 1);
    call_line_lookup(bt, &frame, "%s", "");
    atomic_store(&looking, 0);
    if (found_line > 0) {
        line = found_line;
        jit__copy(file, file_size, found_file);
        jit__copy(func, func_size, found_func);
    }
    return line;
}

/* ---- ending a compile from a signal handler ------------------------- */

extern TCCState *tcc_state;
#ifdef TCC_RELOCATE_AUTO /* libtcc before 2024 */
void tcc_error(const char *fmt, ...);
#define tcc_internal_error tcc_error
#else
void _tcc_error(const char *fmt, ...);
#define tcc_internal_error _tcc_error
#endif

void jit__tcc_escape(const char *message)
{
    if (tcc_state)
        tcc_internal_error("%s", message);
}
