"""Real C binds: libraries with headers, export macros, #ifdefs, handles and out-parameters.

The libraries under tests/clib/ are written for these tests the way real C libraries are written:
kv (a public header with export macros and platform #ifdefs, an opaque handle, out-parameters,
allocated strings, a callback, two implementation files and an internal header) and vec (a
header-only library in the stb style). The declarations cx binds are the compiler's: what the
preprocessor made of every header and macro, and what the compiler compiled.
"""
import ctypes
import io
import sys
from pathlib import Path

import numpy as np
import pytest

import cx
from cx.runtime import capture

CLIB = Path(__file__).resolve().parent / "clib"
KV = CLIB / "kv"
KV_DIRS = [str(KV / "include"), str(KV / "src")]
KV_CELL = '#include "hash.c"\n#include "kv.c"\n'
KV_API = {"kv_open", "kv_close", "kv_put", "kv_get", "kv_count", "kv_stats_of", "kv_dump", "kv_name",
          "kv_each", "kv_load", "kv_free", "kv_version"}


@pytest.fixture(scope="module")
def kv():
    return cx.compile(KV_CELL, include_dirs=KV_DIRS)


# ---- what is exported --------------------------------------------------------------------------

def test_every_non_static_function_of_included_c_files_is_exported_and_nothing_else(kv):
    # hash.c's helpers are non-static too; find() is static; nothing of <stdio.h> or <stdlib.h>
    assert set(kv.functions) == KV_API | {"kv__hash", "kv__strdup"}
    assert kv.unbound == {}
    assert not hasattr(kv, "find") and not hasattr(kv, "printf") and not hasattr(kv, "malloc")


def test_prototypes_are_the_compilers_after_macros_and_typedefs(kv):
    assert kv.kv_count.__doc__.startswith("kv_count_t kv_count(const kv_store *store);")
    assert kv.kv_get.__doc__.startswith("kv_status kv_get(const kv_store *store, const char *key, char **value_out);")
    assert kv.kv_count.restype is ctypes.c_ulong  # uint64_t on LP64 Linux
    assert kv.declarations.functions["kv_open"].file.endswith("kv.c")


def test_ifdef_branches_follow_the_defines():
    small = cx.compile(KV_CELL, include_dirs=KV_DIRS, defines={"KV_SMALL": None, "KV_NO_FLOAT": None})
    assert small.kv_count.restype is ctypes.c_ushort  # typedef uint16_t kv_count_t
    assert small.kv_load.__doc__.startswith("kv_real kv_load(")
    assert small.kv_load.restype is ctypes.c_long  # typedef long kv_real
    s = small.kv_open(b"s")
    small.kv_put(s, "a", "1")
    assert small.kv_count(s) == 1 and small.kv_load(s) == 0
    small.kv_close(s)


def test_header_only_implementation_included_by_a_cell():
    lib = cx.compile('#define VEC_IMPLEMENTATION\n#include "vec.h"\n'
                     "float norm2(vec3 v) { return vec3_dot(v, v); }\n", include_dirs=[str(CLIB / "vec")])
    assert set(lib.functions) == {"vec3_make", "vec3_add", "vec3_dot", "vec_push", "vec_release", "vec_sum_x",
                                  "norm2"}
    v = lib.vec3_add(lib.vec3_make(1, 2, 3), lib.vec3(1, 1, 1))
    assert (v.x, v.y, v.z) == (2.0, 3.0, 4.0) and lib.norm2(v) == 29.0
    buf = lib.vec_buffer()
    for i in range(5):
        assert lib.vec_push(ctypes.byref(buf), lib.vec3(i, 0, 0)) == i + 1
    assert buf.len == 5 and buf.items[4].x == 4.0
    lib.vec_release(buf)
    assert buf.len == 0 and not buf.items
    assert lib.vec_sum_x(np.arange(6, dtype=np.float32), 2) == 3.0


def test_header_only_library_made_static_exports_only_the_cells_own_functions():
    lib = cx.compile('#define VEC_STATIC\n#define VEC_IMPLEMENTATION\n#include "vec.h"\n'
                     "float dot(vec3 a, vec3 b) { return vec3_dot(a, b); }\n", include_dirs=[str(CLIB / "vec")])
    assert set(lib.functions) == {"dot"}


def test_header_declarations_alone_export_nothing():
    lib = cx.compile('#include "vec.h"\nint answer(void) { return 42; }\n', include_dirs=[str(CLIB / "vec")])
    assert set(lib.functions) == {"answer"} and lib.answer() == 42
    assert "vec3" in lib.declarations.structs  # its types are still there for the cell to use


# ---- pointers as C libraries use them ------------------------------------------------------------

def test_opaque_handle_round_trip_and_null(kv):
    store = kv.kv_open("demo")
    # kv.c includes internal.h, so the compiler knows the struct: a ctypes pointer to it
    assert isinstance(store, ctypes._Pointer) and store.contents.name == b"demo"
    assert kv.kv_put(store, "alpha", "1") == 0 and kv.kv_put(store, "beta", "22") == 0
    assert kv.kv_count(store) == 2
    assert kv.kv_name(store) == "demo"
    assert kv.kv_count(None) == 0 and kv.kv_name(None) is None  # None is NULL both ways
    kv.kv_close(store)


def test_a_handle_of_another_type_is_refused(kv):
    store = kv.kv_open("x")
    other = cx.compile("typedef struct other other; other *make(void) { return (other *)16; }").make()
    with pytest.raises(ctypes.ArgumentError, match=r"argument 'store' of kv_count\(\).*pointer to other, expected"):
        kv.kv_count(other)
    with pytest.raises(ctypes.ArgumentError, match="got an int"):
        kv.kv_count(12345)
    assert kv.kv_count(ctypes.c_void_p(ctypes.addressof(store.contents))) == 0  # the caller's word
    kv.kv_close(store)


def test_opaque_handle_is_a_typed_pointer():
    lib = cx.compile("#include <stdlib.h>\ntypedef struct counter counter;\n"
                     "counter *counter_new(void) { return calloc(1, 64); }\n"
                     "int counter_bump(counter *c) { return ++*(int *)c; }\n"
                     "void counter_free(counter *c) { free(c); }\nvoid *anything(void) { return 0; }\n")
    c = lib.counter_new()
    assert isinstance(c, cx.Pointer) and type(c).__name__ == "counter *" and c.value
    assert repr(c).startswith("<cx pointer (counter *) 0x")
    assert lib.counter_bump(ctypes.cast(c, ctypes.c_void_p)) == 1  # ctypes.cast gives a plain c_void_p
    assert [lib.counter_bump(c) for _ in range(3)] == [2, 3, 4]
    assert lib.anything() is None  # NULL
    lib.counter_free(c)


def test_out_parameters_take_byref_and_pointer(kv):
    major, minor = ctypes.c_int(), ctypes.c_int()
    assert kv.kv_version(ctypes.byref(major), ctypes.pointer(minor)) == 104
    assert (major.value, minor.value) == (1, 4)
    assert kv.kv_version(None, None) == 104
    with pytest.raises(ctypes.ArgumentError, match=r"byref\(\) of a c_double; pass byref\(\) of a ctypes.c_int"):
        kv.kv_version(ctypes.byref(ctypes.c_double()), None)


def test_allocated_string_out_parameter(kv):
    store = kv.kv_open("s")
    kv.kv_put(store, "k", "välue")
    out = ctypes.c_char_p()
    assert kv.kv_get(store, "k", ctypes.byref(out)) == 0
    assert out.value.decode() == "välue"
    kv.kv_free(out)  # the pointer C allocated goes back to C
    missing = ctypes.c_void_p()
    assert kv.kv_get(store, "nope", ctypes.byref(missing)) == -1 and missing.value is None
    kv.kv_close(store)


def test_char_pointer_result_is_text_that_keeps_its_pointer(kv):
    store = kv.kv_open("d")
    kv.kv_put(store, "a", "1")
    dump = kv.kv_dump(store)
    assert dump == "{a=1}" and isinstance(dump, str) and isinstance(dump, cx.CString)
    assert ctypes.string_at(dump.pointer) == b"{a=1}"
    kv.kv_free(dump)  # passes dump.pointer: no leak
    kv.kv_close(store)


def test_struct_out_parameter_and_layout(kv):
    store = kv.kv_open("st")
    for i in range(3):
        kv.kv_put(store, f"k{i}", "xy")
    stats = kv.kv_stats()
    assert kv.kv_stats_of(store, ctypes.byref(stats)) == 0
    assert (stats.entries, stats.bytes, stats.load, stats.flags) == (3, 6, 3 / 64, 1 | (8 << 1))
    assert ctypes.sizeof(kv.kv_stats) == 32
    kv.kv_close(store)


def test_callback_sees_every_entry(kv):
    store = kv.kv_open("cb")
    kv.kv_put(store, "a", "1")
    kv.kv_put(store, "b", "2")
    seen = {}
    assert kv.kv_each(store, lambda k, v, ctx: seen.__setitem__(cx.string_at(k).decode(), cx.string_at(v).decode()) or 0, None) == 2
    assert seen == {"a": "1", "b": "2"}
    kv.kv_close(store)


def test_pointer_results_work_with_ctypes():
    lib = cx.compile("unsigned char *bytes(void) { static unsigned char b[] = {1, 2, 3, 255}; return b; }\n"
                     "void *raw(void) { static int x = 7; return &x; }\n"
                     "double *slot(void) { static double d = 2.5; return &d; }\n")
    assert ctypes.string_at(lib.bytes(), 4) == b"\x01\x02\x03\xff"
    assert ctypes.cast(lib.raw(), ctypes.POINTER(ctypes.c_int)).contents.value == 7
    assert lib.slot().contents.value == 2.5


# ---- the reproducers, each ----------------------------------------------------------------

OMIT_FP = """#ifdef OMIT_FP
# define double long long
#endif
double half(double x) { return x / 2; }
"""


def test_regression_macro_in_a_branch_defines_the_type():
    assert cx.compile(OMIT_FP).half(3.0) == 1.5
    lib = cx.compile(OMIT_FP, defines={"OMIT_FP": None})
    assert lib.half.__doc__.startswith("long long half(long long x);") and lib.half(7) == 3


def test_regression_api_macro_and_header_typedef(tmp_path):
    (tmp_path / "lib.h").write_text("typedef unsigned long my_ulong;\n#define API(t) t\n")
    lib = cx.compile('#include "lib.h"\nAPI(int) add(int a, int b) { return a + b; }\n'
                     "my_ulong twice(my_ulong x) { return 2 * x; }\n", include_dirs=[str(tmp_path)])
    assert lib.add(2, 3) == 5 and lib.twice(2**63 - 1) == 2**64 - 2


def test_regression_handles_strdup_and_divmod():
    lib = cx.compile("#include <stdlib.h>\n#include <string.h>\n"
                     "typedef struct handle handle;\nstruct handle { int v; };\n"
                     "handle *h_new(void) { handle *h = malloc(sizeof *h); h->v = 5; return h; }\n"
                     "int h_get(handle *h) { return h->v; }\nvoid h_free(handle *h) { free(h); }\n"
                     'char *mk(void) { return strdup("x"); }\nvoid release(void *p) { free(p); }\n'
                     "int divmod(int a, int b, int *q, int *r) { *q = a / b; *r = a % b; return 0; }\n")
    h = lib.h_new()
    assert lib.h_get(h) == 5
    lib.h_free(h)
    s = lib.mk()
    assert s == "x"
    lib.release(s)
    q, r = ctypes.c_int(), ctypes.c_int()
    assert lib.divmod(7, 2, ctypes.byref(q), ctypes.byref(r)) == 0 and (q.value, r.value) == (3, 1)


def test_regression_nul_byte_is_a_clear_error():
    with pytest.raises(cx.CompileError) as info:
        cx.compile("int f(void){return 1;}\n int g(void)\x00 { return 2; }")
    error = info.value.errors[0]
    assert (error.line, error.column) == (2, 13) and "NUL character" in error.message


def test_regression_functions_skip_and_report_what_cannot_be_bound():
    lib = cx.compile("#include <stdarg.h>\nint vsum(int n, va_list ap) { return n; }\nint one(void) { return 1; }\n")
    assert list(lib.functions) == ["one"]
    assert "'va_list' by value" in lib.unbound["vsum"]


def test_regression_structs_that_refer_to_each_other():
    lib = cx.compile("struct X { struct Y *y; int a; };\nstruct Y { struct X x; int b; };\n"
                     "long sizes(void) { return sizeof(struct X) * 100 + sizeof(struct Y); }\n"
                     "int second(struct Y *y) { return y->x.a + y->b; }\n")
    assert ctypes.sizeof(lib.X) * 100 + ctypes.sizeof(lib.Y) == lib.sizes() == 1624
    y = lib.Y(lib.X(None, 40), 2)
    assert lib.second(ctypes.byref(y)) == 42


SQLITE_STYLE = """#ifdef SQLITE_INT64_TYPE
  typedef SQLITE_INT64_TYPE sqlite_int64;
#elif defined(_MSC_VER) || defined(__BORLANDC__)
  typedef __int64 sqlite_int64;
#else
  typedef long long int sqlite_int64;
#endif
typedef sqlite_int64 sqlite3_int64;
#ifdef SQLITE_OMIT_FLOATING_POINT
# define double sqlite3_int64
#endif
double column_double(int i) { return i / 4.0; }
sqlite3_int64 column_int64(int i) { return (sqlite3_int64)i << 40; }
"""


def test_regression_first_ifdef_branch_is_not_taken_blindly():
    lib = cx.compile(SQLITE_STYLE)
    assert lib.column_double(1) == 0.25 and lib.column_int64(1) == 1 << 40
    omit = cx.compile(SQLITE_STYLE, defines={"SQLITE_OMIT_FLOATING_POINT": None})
    assert omit.column_double.__doc__.startswith("sqlite3_int64 column_double(int i)")


def test_regression_calls_stay_guarded_whatever_the_source_defines():
    # a macro named like a function, and one named like a type, defined after their use
    lib = cx.compile("typedef long word;\nword twice(word x) { return 2 * x; }\n"
                     "#define twice(x) broken\n#define word char\nint deref(int *p) { return *p; }\n")
    assert lib._guarded and lib.twice(2**40) == 2**41
    with pytest.raises(cx.CrashError):
        lib.deref(None)


# ---- tests2-style programs (TinyCC's test suite format: a main() and its expected output) ----------

PROGRAMS = {
    "typedef chains and enums": (r"""
#include <stdio.h>
typedef unsigned char byte;
typedef byte octet;
typedef enum { RED = 1, GREEN = RED << 2, BLUE } colour;
typedef struct { octet r, g, b; colour c; } pixel;
int main(void) {
    pixel p = { 1, 2, 3, BLUE };
    printf("%d %d %d %d %zu\n", p.r, p.g, p.b, p.c, sizeof(pixel));
    return 0;
}""", "1 2 3 5 8\n"),
    "unions, bit-fields and arrays of structs": (r"""
#include <stdio.h>
#include <string.h>
struct flags { unsigned a : 3, b : 5; unsigned c : 1; };
union word { unsigned int u; unsigned char bytes[4]; };
struct entry { const char *name; int value; } table[] = { { "one", 1 }, { "two", 2 }, { "three", 3 } };
int main(void) {
    struct flags f = { 5, 17, 1 };
    union word w;
    w.u = 0x01020304;
    int total = 0;
    for (unsigned i = 0; i < sizeof table / sizeof table[0]; i++) total += table[i].value * (int)strlen(table[i].name);
    printf("%u %u %u %d %d\n", f.a, f.b, f.c, w.bytes[0], total);
    return 0;
}""", "5 17 1 4 24\n"),
    "function pointers and recursion": (r"""
#include <stdio.h>
typedef int (*binop)(int, int);
static int add(int a, int b) { return a + b; }
static int mul(int a, int b) { return a * b; }
static int fold(binop f, const int *v, int n, int acc) { return n ? fold(f, v + 1, n - 1, f(acc, *v)) : acc; }
int main(void) {
    int v[] = { 1, 2, 3, 4, 5 };
    binop ops[] = { add, mul };
    printf("%d %d\n", fold(ops[0], v, 5, 0), fold(ops[1], v, 5, 1));
    return 0;
}""", "15 120\n"),
}


@pytest.mark.skipif(not capture.supported(), reason="needs fopencookie")
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_tests2_style_program(name, monkeypatch):
    source, expected = PROGRAMS[name]
    lib = cx.compile(source)
    assert set(lib.functions) == {"main"} | {n for n in ("table",) if n in lib.functions}
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    with capture.captured():
        assert lib.main() == 0
    assert out.getvalue() == expected


# ---- layouts: the compiler's, or none ----------------------------------------------------------

LAYOUTS = r"""
#include <stdint.h>
struct __attribute__((packed)) wire { char tag; int32_t length; short crc; };
struct __attribute__((aligned(16))) slot { char c; };
typedef struct { char c; double d; struct { short s; char t[3]; } inner; } mixed;
int wire_size(void) { return sizeof(struct wire); }
long mixed_layout(void) { return sizeof(mixed) * 10000 + __builtin_offsetof(mixed, inner) * 100 + __builtin_offsetof(mixed, d); }
struct slot *slot_new(void) { static struct slot s = { 7 }; return &s; }
int slot_get(struct slot *s) { return s->c; }
int slot_by_value(struct slot s) { return s.c; }
"""


def test_struct_layouts_match_the_compiler_or_are_refused():
    lib = cx.compile(LAYOUTS)
    assert ctypes.sizeof(lib.wire) == lib.wire_size() == 7  # __attribute__((packed)) honoured
    assert lib.wire.length.offset == 1
    m = lib.mixed_layout()
    assert (ctypes.sizeof(lib.mixed), lib.mixed.inner.offset, lib.mixed.d.offset) == (m // 10000, m // 100 % 100, m % 100)
    # ctypes cannot express aligned(16): the struct is refused by name, never laid out wrong ...
    assert "ctypes cannot lay it out as the compiler does (16 bytes, ctypes makes it 1)" in lib.unbound["slot"]
    assert "slot_by_value" in lib.unbound
    # ... and a pointer to it is still a typed pointer
    s = lib.slot_new()
    assert isinstance(s, cx.Pointer) and lib.slot_get(s) == 7


BIT_FIELDS = r"""
#include <stdint.h>
struct mix { uint8_t a; uint64_t b : 40; uint16_t c : 12; };
int mix_size(void) { return sizeof(struct mix); }
long mix_sum(const struct mix *m) { return m->a + (long)m->b + m->c; }
"""


def test_bit_fields_of_mixed_types_are_bound_where_ctypes_lays_them_out_as_gcc():
    # before 3.14 ctypes starts a new storage unit where GCC packs into the current one (16 bytes
    # against 8): the struct is refused; 3.14's _layout_ = "gcc-sysv" lays it out as the compiler does
    lib = cx.compile(BIT_FIELDS)
    assert lib.mix_size() == 8
    if sys.version_info >= (3, 14):
        m = lib.mix(1, 2**40 - 1, 4095)
        assert ctypes.sizeof(m) == 8 and lib.mix_sum(ctypes.byref(m)) == 1 + 2**40 - 1 + 4095
    else:
        assert "ctypes cannot lay it out as the compiler does (8 bytes, ctypes makes it 16)" in lib.unbound["mix"]


@pytest.mark.skipif(not __import__("shutil").which("cc"), reason="no system C compiler")
def test_kv_binds_the_same_with_the_system_compiler(tmp_path, monkeypatch):
    monkeypatch.setenv("CX_CACHE_DIR", str(tmp_path))
    lib = cx.compile(KV_CELL, include_dirs=KV_DIRS, backend="cc")
    assert set(lib.functions) == KV_API | {"kv__hash", "kv__strdup"}
    store = lib.kv_open("cc")
    lib.kv_put(store, "a", "1")
    dump = lib.kv_dump(store)
    assert dump == "{a=1}" and lib.kv_count(store) == 1
    lib.kv_free(dump)
    lib.kv_close(store)


def test_argv_style_arrays_anonymous_members_flexible_arrays_and_tags():
    lib = cx.compile(r"""
#include <string.h>
struct point { int x, y; };
typedef struct point point_t;                      /* keyed by its typedef, asked for by its tag */
struct shape { int kind; union { struct point p; double r; }; };   /* an anonymous member */
struct blob { int n; unsigned char data[]; };                       /* a flexible array member */
long total(int argc, char **argv) { long n = 0; for (int i = 0; i < argc; i++) n += strlen(argv[i]); return n; }
int kind_x(struct shape *s) { return s->kind * 100 + s->p.x; }
long blob_size(void) { return sizeof(struct blob); }
""")
    argv = (ctypes.c_char_p * 3)(b"ab", b"cde", None)
    assert lib.total(2, argv) == 5
    assert lib.point is lib.point_t
    s = lib.shape(kind=3)
    s.p.x = 7  # the anonymous union's member reads through
    assert lib.kind_x(ctypes.byref(s)) == 307
    assert ctypes.sizeof(lib.blob) == lib.blob_size() == 4


def test_pickling_a_result_gives_the_text_and_refuses_an_address():
    import pickle

    lib = cx.compile('#include <string.h>\nchar *mk(void) { return strdup("hi"); }\n'
                     "void *where(void) { return (void *)64; }\n")
    assert pickle.loads(pickle.dumps(lib.mk())) == "hi"
    with pytest.raises(cx.PicklingError, match=r"a C pointer \(void \*\) is an address in this process"):
        pickle.dumps(lib.where())


def test_an_array_length_written_as_sizeof_a_struct_is_the_compilers():
    # xxHash's XXH128_canonical_t: the reader cannot work out sizeof(a struct); the compiler says
    # it (the struct was refused: "16 bytes, ctypes makes it 0"). A flexible array member stays one.
    lib = cx.compile("""
typedef struct { unsigned long long low64, high64; } hash128;
typedef struct { unsigned char digest[sizeof(hash128)]; } canonical;
struct samples { int n; double v[]; };
int canonical_size(void) { return sizeof(canonical); }
int last_byte(const canonical *c) { return c->digest[sizeof(hash128) - 1]; }
""")
    assert "canonical" not in lib.unbound
    c = lib.canonical()
    assert len(c.digest) == ctypes.sizeof(c) == lib.canonical_size() == 16
    c.digest[15] = 9
    assert lib.last_byte(c) == 9
    assert ctypes.sizeof(lib.samples) == 8 and lib.samples.v.size == 0
