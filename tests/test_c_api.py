"""A library's whole C API from Python with no wrapper cell: constants and enums, static inline
functions, variadic calls, installed libraries bound from their headers, one class per struct.

The library is tests/clib/evq (a public header with export macros, #define flags, enums, inline
accessors and a printf-style logger; two .c files), compiled by cx and, for ``cx.include``, built
as a shared library by the system compiler. Real installed libraries: zlib, SQLite and libm.
"""
import ctypes
import enum
import math
import pathlib
import shutil
import sqlite3
import subprocess
import zlib

import pytest

import cx

EVQ = pathlib.Path(__file__).parent / "clib" / "evq"
INCLUDE, SRC = str(EVQ / "include"), str(EVQ / "src")
UNITY = '#include "queue.c"\n#include "log.c"\n'  # the library's two files, compiled as one cell

needs_cc = pytest.mark.skipif(not shutil.which("cc"), reason="no system C compiler (apt-get install gcc)")


def _installed(header):
    return any(pathlib.Path(d, header).exists() for d in ("/usr/include", "/usr/local/include"))


# .ci/run installs both; a chroot made for the call tests (.ci/chroot-tests) has neither
needs_zlib = pytest.mark.skipif(not _installed("zlib.h"), reason="zlib's header is not installed (zlib1g-dev)")
needs_sqlite = pytest.mark.skipif(not _installed("sqlite3.h"), reason="SQLite's header is not installed "
                                                                       "(libsqlite3-dev)")


@pytest.fixture(scope="module")
def lib():
    return cx.compile(UNITY, include_dirs=[SRC, INCLUDE])


@pytest.fixture(scope="module")
def libevq(tmp_path_factory):
    """libevq.so built by the system compiler, as a package would install it."""
    out = tmp_path_factory.mktemp("evq")
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", f"-I{INCLUDE}", f"{SRC}/queue.c", f"{SRC}/log.c",
                    "-o", str(out / "libevq.so")], check=True)
    subprocess.run(["cc", "-shared", "-fPIC", f"-I{INCLUDE}", f"{SRC}/queue.c", "-o", str(out / "libevqcore.so")],
                   check=True)
    return out


# ---- constants and enums -------------------------------------------------------------------------

def test_define_constants_are_attributes_valued_by_the_compiler(lib):
    assert lib.EVQ_VERSION == "2.1.0"
    assert lib.EVQ_VERSION_NUMBER == 0x020100
    assert lib.EVQ_F_DEFAULT == 17 and lib.EVQ_F_KEEP == 16  # (1u << 0 | 1u << 4), through another macro
    assert lib.EVQ_MAX_TEXT == 64 and lib.EVQ_LOAD_LIMIT == 0.75
    assert isinstance(lib.EVQ_F_DEFAULT, int) and isinstance(lib.EVQ_LOAD_LIMIT, float)


def test_macros_that_are_not_constants_are_not_attributes(lib):
    with pytest.raises(AttributeError, match="EVQ_LAST_ERROR is not a constant"):
        lib.EVQ_LAST_ERROR  # a call
    assert "EVQ_UNUSED" not in lib.constants and "EVQ_API" not in lib.constants  # function-like; an attribute
    assert "EOF" not in lib.constants and "BUFSIZ" not in lib.constants  # <stdio.h>'s are not the library's


def test_enumeration_constants_and_named_enums(lib):
    assert (lib.EVQ_OK, lib.EVQ_FULL, lib.EVQ_BADARG) == (0, -1, -3)
    level = lib.evq_level
    assert issubclass(level, enum.IntEnum) and level.EVQ_WARN == 30 and level(40) is level.EVQ_ERROR
    assert [m.name for m in level] == ["EVQ_DEBUG", "EVQ_INFO", "EVQ_WARN", "EVQ_ERROR"]
    assert set(lib.enums) == {"evq_level", "evq_status"}  # evq_status: an unnamed enum, named by its typedef
    assert lib.constants["EVQ_EMPTY"] == -2


def test_a_function_returning_a_named_enum_returns_its_member(lib):
    q = lib.evq_new(1)
    try:
        assert repr(lib.evq_push(q, 1, 0, "a")) == "<evq_status.EVQ_OK: 0>"
        full = lib.evq_push(q, 1, 0, "b")
        assert full is lib.evq_status.EVQ_FULL and full == -1 and lib.evq_push.info.fast  # still cx's call slot
    finally:
        lib.evq_free(q)
    m = cx.compile("typedef enum { A = 1 } e;\ne value(int x) { return (e)x; }")
    assert m.value(1) is m.e.A and type(m.value(7)) is int and m.value(7) == 7  # C allows any int


def test_an_enum_whose_values_need_more_than_an_int_is_passed_as_the_compiler_lays_it_out():
    np = pytest.importorskip("numpy")
    m = cx.compile("typedef enum { OFF, ON = 1u << 31 } mode;\n"  # unsigned int, as GCC and TinyCC make it
                   "mode flip(mode m) { return m == ON ? OFF : ON; }\n"
                   "enum wide { W1 = -1, W2 = 0x100000000LL };\n"  # 8 bytes, signed
                   "enum wide next(enum wide w) { return w == W1 ? W2 : W1; }\n"
                   "int size(void) { return sizeof(enum wide) * 10 + sizeof(mode); }\n"
                   "long long total(const enum wide *w, int n) { long long s = 0; while (n--) s += w[n]; return s; }\n")
    assert m.flip(m.mode.OFF) is m.mode.ON and m.mode.ON == 2 ** 31 and m.flip(m.mode.ON) is m.mode.OFF
    assert m.next(m.wide.W1) is m.wide.W2 and m.next(m.wide.W2) is m.wide.W1 and m.size() == 84
    assert m.total(np.array([-1, 2 ** 32], dtype=np.int64), 2) == 2 ** 32 - 1
    with pytest.raises(ctypes.ArgumentError, match="int32 .4 bytes.*int64"):  # 4-byte ints are no enum wide
        m.total(np.array([1, 2], dtype=np.int32), 2)


def test_an_enum_is_valued_with_the_modules_code_or_asked_for_alone(monkeypatch):
    from cx.build import steps
    asked = []
    real = steps.layout_build
    monkeypatch.setattr(steps, "layout_build", lambda text: asked.append(text) or real(text))
    # a small cell: its code is compiled after its declarations are read, with its enumerators' values
    small = cx.compile("enum color { RED, GREEN = 5, BLUE = GREEN * 2 };\n#define LIMIT 42\n"
                       "enum color pick(int i) { return i ? BLUE : RED; }\n")
    assert small.pick(1) is small.color.BLUE and small.color.BLUE == 10 and not asked
    assert small.LIMIT == 42 and len(asked) == 1  # a macro's value: asked of the compiler when first wanted
    assert small.constants == {"RED": 0, "GREEN": 5, "BLUE": 10, "LIMIT": 42} and len(asked) == 1
    # a large one is compiled while its declarations are read: its enumerators, found by the scanner
    # first, are valued with its code too
    large = cx.compile("#include <stdio.h>\n#include <stdlib.h>\n#define LIMIT 42\n"
                       "typedef enum { OFF, ON = 1 << 20 } mode;\nmode flip(mode m) { return m == ON ? OFF : ON; }\n")
    assert large.flip(large.mode.OFF) is large.mode.ON and large.mode.ON == 2 ** 20 and len(asked) == 1
    assert large.constants == {"OFF": 0, "ON": 2 ** 20, "LIMIT": 42} and len(asked) == 2
    # were the scanner's names ever not the view's, the values are asked for when wanted (enum alone)
    from cx.cread import view
    monkeypatch.setattr(view.Scan, "user_enumerators", lambda self: ["RIGHT"])
    made = cx.compile("#include <stdio.h>\n#include <stdlib.h>\n#define ENUM(n, a, b) typedef enum { a, b } n\n"
                      "#define LIMIT 42\nENUM(side, LEFT, RIGHT);\nside other(side s) { return s == LEFT ? RIGHT : LEFT; }\n")
    assert made.other(made.side.LEFT) is made.side.RIGHT and len(asked) == 3 and "LIMIT" not in asked[-1]
    assert made.constants == {"LEFT": 0, "RIGHT": 1, "LIMIT": 42}


def test_structs_of_the_sources_own_headers_are_listed(lib):
    assert "evq_event" in lib.structs and "evq_event" in dir(lib)


# ---- inline functions ----------------------------------------------------------------------------

def test_static_inline_functions_of_the_header_are_bound(lib):
    assert lib.evq_is_urgent(lib.EVQ_F_DEFAULT) == 1 and lib.evq_is_urgent(lib.EVQ_F_SILENT) == 0
    q = lib.evq_new(4)
    try:
        lib.evq_push(q, 1, 0, "a")
        lib.evq_push(q, 2, 0, "b")
        assert lib.evq_load(q) == 0.5 and lib.evq_full(q) == 0
    finally:
        lib.evq_free(q)


def test_a_cells_own_static_functions_stay_private():
    m = cx.compile('#include "evq.h"\nstatic int helper(void) { return 1; }\nint api(void) { return helper(); }',
                   include_dirs=[INCLUDE])
    assert "helper" not in m.functions and "evq_is_urgent" in m.functions
    with pytest.raises(AttributeError):
        m.helper


def test_an_inline_function_calling_what_nothing_defines_is_left_out_with_the_reason():
    # the header alone: evq_load() calls evq_size() of the library, which this cell does not link
    m = cx.compile('#include "evq.h"\n', include_dirs=[INCLUDE])
    assert m.evq_is_urgent(1) == 1
    assert m.unbound["evq_load"].startswith("static inline evq_load() calls evq_capacity, evq_size, which "
                                            "nothing defines here")
    assert "calls evq_load" in m.unbound["evq_full"]  # through the one left out


# ---- variadic calls ------------------------------------------------------------------------------

def test_a_printf_style_logger_takes_its_arguments(lib):
    q = lib.evq_new(4)
    try:
        assert lib.evq_log(q, lib.EVQ_WARN, "%s=%d %.2f %c", "load", 3, ctypes.c_float(0.25), b"x"[0]) == 0
        event = lib.evq_event()
        assert lib.evq_pop(q, ctypes.byref(event)) == 0
        assert (event.kind, event.flags, event.text) == (30, lib.EVQ_F_URGENT, b"load=3 0.25 x")
    finally:
        lib.evq_free(q)


def test_variadic_results_and_wrong_arguments(lib):
    text = lib.evq_format("%ld items, %s", ctypes.c_long(1 << 40), "ok")
    assert text == f"{1 << 40} items, ok"
    lib.evq_release(text)  # the allocated char * goes back to C
    with pytest.raises(OverflowError, match=r"argument 2 of evq_format\(\) \(in its '...'\): .* C int"):
        lib.evq_format("%d", 1 << 40)
    with pytest.raises(TypeError, match="cannot pass a 'object' object"):
        lib.evq_format("%p", object())


VARIADIC = r"""
#include <stdarg.h>
#include <string.h>
/* each extra argument weighted by its place: a wrong register or stack slot changes the sum */
double mix(int n, const char *kinds, ...) {
    va_list ap;
    double s = 0;
    va_start(ap, kinds);
    for (int i = 0; i < n; i++) {
        double w = i + 1;
        switch (kinds[i]) {
        case 'i': s += w * va_arg(ap, int); break;
        case 'l': s += w * (double)va_arg(ap, long long); break;
        case 'd': s += w * va_arg(ap, double); break;
        case 's': s += w * (double)strlen(va_arg(ap, const char *)); break;
        }
    }
    va_end(ap);
    return s;
}
int sum(int n, ...) { va_list ap; int s = 0; va_start(ap, n); while (n--) s += va_arg(ap, int); va_end(ap); return s; }
"""


@pytest.mark.parametrize("backend", ["tcc", pytest.param("cc", marks=needs_cc)])
def test_variadic_arguments_fill_every_register_and_the_stack(backend):
    # 24 extra arguments: past the 6 (x86-64) or 8 (AArch64) integer and 8 floating-point
    # registers, onto the stack, integers and doubles interleaved, with the promotions
    lib = cx.compile(VARIADIC, backend=backend)
    assert lib.sum(3, 1, 2, 3) == 6 and lib.sum(0) == 0
    assert lib.sum(12, *range(1, 13)) == 78
    args = [(i, "i") if i % 4 == 0 else (i + 0.5, "d") if i % 4 == 1 else (ctypes.c_longlong(1 << 40 | i), "l")
            if i % 4 == 2 else ("x" * i, "s") for i in range(24)]
    args[5] = (ctypes.c_float(5.5), "d")  # a float goes as double
    args[8] = (ctypes.c_short(-8), "i")   # a short as int
    kinds = "".join(k for _, k in args)
    values = [a.value if isinstance(a, ctypes._SimpleCData) else len(a) if isinstance(a, str) else a for a, _ in args]
    expected = sum((i + 1) * v for i, v in enumerate(values))
    assert lib.mix(len(args), kinds, *(a for a, _ in args)) == expected


# ---- one class per struct ------------------------------------------------------------------------

def test_a_struct_of_one_header_is_one_class_in_every_module(lib):
    other = cx.compile('#include "evq.h"\nint kind_of(const evq_event *e) { return e->kind; }\n'
                       "evq_event make(int kind) { evq_event e = { kind, 0, \"made\" }; return e; }",
                       include_dirs=[INCLUDE])
    assert other.evq_event is lib.evq_event
    assert other.kind_of(lib.evq_event(7, 0, b"x")) == 7
    q = lib.evq_new(2)
    try:
        event = other.make(9)
        assert lib.evq_push(q, event.kind, 0, event.text) == 0 and lib.evq_size(q) == 1
    finally:
        lib.evq_free(q)


def test_a_named_enum_of_one_header_is_one_class_in_every_module(lib):
    other = cx.compile('#include "evq.h"\n'
                       "evq_level worst(evq_level a, evq_level b) { return a > b ? a : b; }\n"
                       "evq_status check(int ok) { return ok ? EVQ_OK : EVQ_BADARG; }", include_dirs=[INCLUDE])
    assert other.evq_level is lib.evq_level and other.evq_status is lib.evq_status and other.enums == lib.enums
    assert other.worst(lib.evq_level.EVQ_WARN, lib.EVQ_ERROR) is lib.evq_level.EVQ_ERROR
    assert other.check(0) is lib.evq_status.EVQ_BADARG  # the typedef of an unnamed enum too
    linked = cx.compile('#include "evq.h"\nevq_status drain(evq *q) { evq_event e; return evq_pop(q, &e); }',
                        include_dirs=[INCLUDE], link=[lib])
    q = lib.evq_new(2)
    try:
        assert linked.drain(q) is lib.evq_status.EVQ_EMPTY  # module B's function, module A's class
        assert lib.evq_log(q, other.evq_level.EVQ_INFO, "%d", 1) == 0 and linked.drain(q) is other.evq_status.EVQ_OK
    finally:
        lib.evq_free(q)


def test_two_cells_defining_one_enum_share_its_class_and_a_different_one_is_another():
    a = cx.compile("enum color { RED, GREEN = 5 };\nenum color pick(int g) { return g ? GREEN : RED; }")
    b = cx.compile("enum color { RED, GREEN = 5 };\nint is_green(enum color c) { return c == GREEN; }")
    assert a.color is b.color and a.color.GREEN is b.color.GREEN and b.is_green(a.pick(1)) == 1
    c = cx.compile("enum color { RED, BLUE };\nenum color first(void) { return RED; }")
    assert c.color is not a.color and [m.name for m in c.color] == ["RED", "BLUE"]
    d = cx.compile("typedef enum { ON, OFF } power, *power_ptr, powers[2];")  # only power is the enum
    assert set(d.enums) == {"power"}


def test_an_enum_member_pickles_as_its_definition_and_value():
    import pickle
    import sys

    m = cx.compile("enum color { RED, GREEN = 5 };\nenum color pick(int g) { return g ? GREEN : RED; }")
    assert pickle.loads(pickle.dumps(m.pick(1))) is m.color.GREEN
    shown = subprocess.run([sys.executable, "-c", "import pickle, sys; v = pickle.loads(sys.stdin.buffer.read()); "
                            "print(repr(v), int(v))"], input=pickle.dumps(m.pick(1)), capture_output=True, check=True)
    assert shown.stdout.decode().split() == ["<color.GREEN:", "5>", "5"]  # a process that never compiled it


def test_an_enum_class_pickles_as_its_definition():
    import pickle
    import sys

    m = cx.compile("enum color { RED, GREEN = 5 };\nenum color pick(int g) { return g ? GREEN : RED; }")
    assert pickle.loads(pickle.dumps(m.color)) is m.color and issubclass(m.color, enum.IntEnum)
    shown = subprocess.run([sys.executable, "-c", "import pickle, sys; c, v = pickle.loads(sys.stdin.buffer.read()); "
                            "print([(x.name, int(x)) for x in c], v is c.GREEN)"],
                           input=pickle.dumps((m.color, m.pick(1))), capture_output=True, check=True)
    assert shown.stdout.decode().strip() == "[('RED', 0), ('GREEN', 5)] True"
    assert pickle.loads(pickle.dumps(enum.IntEnum)) is enum.IntEnum  # other enums pickle as before


def test_two_definitions_of_one_enum_in_modules_linked_together_are_refused():
    a = cx.compile("enum mode { FAST, SLOW };\nint speed(enum mode m) { return m == FAST ? 2 : 1; }", name="modes")
    b = cx.compile("enum mode { FAST, SLOW };\nint speed(enum mode m);\nint twice(enum mode m) { return 2 * speed(m); }",
                   link=[a])
    assert b.twice(a.mode.FAST) == 4 and b.mode is a.mode
    with pytest.raises(cx.CompileError, match=r"enum mode is defined here \(<cell>:2\) otherwise than in module "
                                              r"'modes' \(<cell>:1\)") as info:
        cx.compile("int unrelated;\nenum mode { SLOW, FAST };\nint speed(enum mode m);\n"
                   "int cx_(void) { return speed(FAST); }", link=[a])
    assert info.value.diagnostics[0].line == 2


def test_a_handle_type_is_one_class_in_every_module(lib):
    a = cx.compile('#include "evq.h"\nevq *fake(void) { static long x; return (evq *)&x; }', include_dirs=[INCLUDE])
    b = cx.compile('#include "evq.h"\nevq *same(evq *q) { return q; }\n'
                   "struct evq *by_tag(struct evq *q) { return q; }", include_dirs=[INCLUDE])
    p = a.fake()  # struct evq is opaque to both: a handle
    assert type(b.same(p)) is type(p) and type(b.by_tag(p)) is type(p) and type(p).__name__ == "evq *"
    q = lib.evq_new(1)  # lib compiles queue.c, which defines struct evq: a pointer to its class
    try:
        assert lib.evq_size(b.same(q)) == 0 and b.by_tag(q).value == ctypes.addressof(q.contents)
    finally:
        lib.evq_free(q)


# ---- installed libraries from their headers ------------------------------------------------------

@needs_cc
def test_an_installed_library_is_bound_from_its_header(libevq):
    evq = cx.include(f"{INCLUDE}/evq.h", libraries=["evq"], library_dirs=[str(libevq)])
    assert {"evq_new", "evq_push", "evq_log", "evq_format", "evq_is_urgent", "evq_load"} <= set(evq.functions)
    assert evq.EVQ_VERSION == "2.1.0" and evq.evq_level.EVQ_INFO == 20
    q = evq.evq_new(3)
    try:
        evq.evq_log(q, evq.EVQ_INFO, "n=%d", 5)
        assert evq.evq_size(q) == 1 and evq.evq_load(q) == 1 / 3
    finally:
        evq.evq_free(q)
    assert "va_list" in evq.unbound["evq_vlog"]


@needs_cc
def test_a_function_the_library_does_not_define_is_unbound_with_the_reason(libevq):
    core = cx.include(f"{INCLUDE}/evq.h", libraries=["evqcore"], library_dirs=[str(libevq)])
    assert core.unbound["evq_log"] == "evq_log() is declared by the header but not found in libevqcore.so"
    assert core.evq_capacity(None) == 0  # the rest works


@needs_zlib
def test_zlib_from_its_header():
    z = cx.include("zlib.h", libraries=["z"])
    data = b"hello, cx" * 10
    assert z.crc32(0, data, len(data)) == zlib.crc32(data)
    assert z.zlibVersion() == z.ZLIB_VERSION == zlib.ZLIB_RUNTIME_VERSION
    assert (z.Z_OK, z.Z_BEST_COMPRESSION, z.MAX_WBITS) == (0, 9, 15)  # MAX_WBITS: zconf.h's, which zlib.h includes
    assert "read" not in z.functions  # <unistd.h>'s, which libz only reaches through libc


@needs_zlib
@needs_sqlite
def test_an_installed_header_binds_its_librarys_headers_not_the_systems_it_includes():
    z = cx.include("zlib.h", libraries=["z"])  # zlib.h includes zconf.h, which includes <unistd.h>, <limits.h>
    assert "MAX_MEM_LEVEL" in z.constants and "Z_DEFLATED" in z.constants
    assert not {"SEEK_SET", "R_OK", "F_OK", "INT_MAX", "CHAR_BIT", "PATH_MAX", "NULL"} & set(z.constants)
    assert set(z.structs) == {"z_stream", "gz_header", "gzFile_s"}  # not <sys/types.h>'s pthread_mutex_t
    m = cx.include("math.h", libraries=["m"])  # math.h and its bits/ headers (sqrt is bits/mathcalls.h's)
    assert (m.M_PI, m.HUGE_VAL, m.FP_NAN, m.MATH_ERRNO) == (math.pi, math.inf, 0, 1) and m.sqrt(4.0) == 2.0
    assert m.unbound["isinf"] == "isinf() is declared by the header but not found in libm.so.6"  # libc's
    assert not any(n.startswith("__") for n in m.unbound)  # glibc's __sqrt beside sqrt: the implementation's
    s = cx.include("sqlite3.h", libraries=["sqlite3"])  # sqlite3.h includes <stdarg.h> only
    assert s.SQLITE_ROW == 100 and s.FTS5_TOKENIZE_QUERY == 1 and "va_arg" not in s.constants
    assert all(n.startswith(("SQLITE", "FTS5_")) or n.endswith("_WITHIN") for n in s.constants)
    assert s.unbound["sqlite3_win32_set_directory"].endswith("not found in libsqlite3.so.0")


def test_which_headers_are_an_apis_is_read_from_the_include_tree():
    from cx.build import api

    text = "\n".join([
        '# 1 "<cell>"', '# 1 "/usr/include/foo.h" 1',               # the API header
        '# 1 "/usr/include/fooconf.h" 1',                            # its own, beside stdio.h
        '# 1 "/usr/include/stdio.h" 1', '# 1 "/usr/include/x86_64-linux-gnu/bits/types.h" 1',
        '# 5 "/usr/include/stdio.h" 2', '# 9 "/usr/include/fooconf.h" 2',
        '# 1 "/usr/include/x86_64-linux-gnu/sys/types.h" 1 3 4', '# 10 "/usr/include/fooconf.h" 2',
        '# 4 "/usr/include/foo.h" 2',
        '# 1 "/usr/include/x86_64-linux-gnu/bits/foo-internals.h" 1',  # glibc-style bits/, by <>
        '# 5 "/usr/include/foo.h" 2', '# 1 "/usr/include/foo/time.h" 1',  # its own time.h
        '# 6 "/usr/include/foo.h" 2', '# 1 "/usr/lib/gcc/x86_64-linux-gnu/14/include/stddef.h" 1',
        '# 7 "/usr/include/foo.h" 2', '# 2 "<cell>" 2', '# 1 "/usr/include/unistd.h" 1', ''])
    assert api.files(text, ["foo.h"], ["/usr/include", "/usr/lib/gcc"]) == {
        "/usr/include/foo.h", "/usr/include/fooconf.h", "/usr/include/x86_64-linux-gnu/bits/foo-internals.h",
        "/usr/include/foo/time.h"}
    assert api.files(text, [], ["/usr/include"]) == set()
    mine = '# 1 "/home/me/evq.h" 1\n# 1 "/home/me/evq_conf.h" 1\n# 2 "/home/me/evq.h" 2\n# 1 "/usr/include/zlib.h" 1\n'
    assert api.files(mine, ["/home/me/evq.h"], ["/usr/include"]) == {"/home/me/evq.h", "/home/me/evq_conf.h"}


@needs_sqlite
def test_sqlite_from_its_header():
    s = cx.include("sqlite3.h", libraries=["sqlite3"])
    assert s.sqlite3_libversion() == s.SQLITE_VERSION == sqlite3.sqlite_version
    db = ctypes.c_void_p()
    assert s.sqlite3_open(":memory:", ctypes.byref(db)) == s.SQLITE_OK
    try:
        assert s.sqlite3_exec(db, "create table t(x); insert into t values (1), (2);", None, None, None) == 0
        assert s.sqlite3_changes(db) == 2
    finally:
        s.sqlite3_close(db)


def test_libm_from_its_header():
    m = cx.include("math.h", libraries=["m"])
    assert m.M_PI == math.pi and m.sqrt(2.0) == math.sqrt(2.0) and m.hypot(3.0, 4.0) == 5.0


@needs_zlib
def test_a_missing_library_is_a_clear_error():
    with pytest.raises(cx.OptionError, match="library 'nosuchlib' not found"):
        cx.include("zlib.h", libraries=["nosuchlib"])


@needs_zlib
def test_the_magic_binds_a_header(shell):
    shell.run_line_magic("cxinclude", "zlib.h -l z")
    ns = shell.user_ns
    assert ns["crc32"](0, b"cx", 2) == zlib.crc32(b"cx") and ns["Z_BEST_SPEED"] == 1
    assert ns["zlib"].ZLIB_VERSION == zlib.ZLIB_RUNTIME_VERSION


# ---- global function pointers and what globals hold ---------------------------------------------

POINTERS = r"""
#include <stddef.h>
typedef int (*op)(int);
static int inc(int x) { return x + 1; }
int twice(int x) { return 2 * x; }
op f;                                         /* NULL until assigned */
int (*hash)(int) = twice;                     /* no typedef */
int (*table[2])(int) = { inc, twice };        /* an array of them */
const char *label;
int call(int x) { return f ? f(x) : -1; }
int call_hash(int x) { return hash(x); }
size_t label_len(void) { size_t n = 0; while (label && label[n]) n++; return n; }
"""


def test_global_function_pointers_are_bound_read_called_and_assigned():
    import gc

    lib = cx.compile(POINTERS)
    assert lib.unbound == {} and lib.f is None and lib.call(1) == -1
    assert lib.hash(21) == 42 and lib.table[0](1) == 2 and lib.table[1](4) == 8
    lib.f = lambda x: x + 100  # a Python callable: kept alive by cx while f holds it
    gc.collect()
    assert lib.call(41) == 141 and lib.f(1) == 101
    lib.hash = lib.twice
    assert lib.call_hash(8) == 16
    lib.f = None
    assert lib.call(5) == -1
    with pytest.raises(TypeError, match="assign a Python callable, a C function"):
        lib.f = 3


def test_a_string_assigned_to_a_pointer_global_stays_alive():
    import gc

    lib = cx.compile(POINTERS)
    lib.label = "héllo"  # UTF-8: 6 bytes
    gc.collect()
    assert lib.label_len() == 6
    lib.label = None
    assert lib.label_len() == 0


# ---- structs by value where TinyCC and the ABI differ --------------------------------------------

MIXED = r"""
typedef struct { double d; long l; } DL;           /* an SSE eightbyte, then an integer one */
typedef struct { float f; int i; short s; } FIS;   /* 12 bytes: SSE+integer, then integer */
double weigh(DL a, DL b) { return a.d + 10000 * a.l + b.d + b.l; }
DL make(void) { DL r = { 0.25, 8 }; return r; }
double fis(FIS a) { return a.f + 10 * a.i + 100 * a.s; }
FIS make_fis(void) { FIS r = { 1.5f, 2, 3 }; return r; }
"""


@pytest.mark.skipif(not __import__("cx").bind.abi.X86_64, reason="x86-64's struct classes")
@pytest.mark.parametrize("backend", ["tcc", pytest.param("cc", marks=needs_cc)])
def test_regression_a_struct_mixing_double_and_integer_fields_passes_whole(backend, tmp_path, monkeypatch):
    # TinyCC passes and returns such a struct in integer registers, where the ABI (and ctypes)
    # puts the double in an SSE one: the values were garbage, silently
    monkeypatch.setenv("CX_CACHE_DIR", str(tmp_path))
    lib = cx.compile(MIXED, backend=backend)
    assert lib.weigh(lib.DL(0.25, 8), lib.DL(0.5, 2)) == 80002.75
    made = lib.make()
    assert type(made) is lib.DL and (made.d, made.l) == (0.25, 8)
    assert lib.fis(lib.FIS(1.5, 2, 3)) == 321.5
    f = lib.make_fis()
    assert (f.f, f.i, f.s) == (1.5, 2, 3)
    cx.timeit(lib.weigh, lib.DL(0.25, 8), lib.DL(0.5, 2), repeat=1, number=2, python=False)


# ---- struct fields that point ------------------------------------------------------------------

FIELDS = r"""
typedef int (*handler)(int);
typedef struct { const char *name; unsigned char *data; char *note; handler on; int n; } rec;
int call(const rec *r) { return r->on ? r->on(r->n) : -1; }
int sum(const rec *r) { int s = 0; for (int i = 0; i < r->n; i++) s += r->data[i]; return s; }
int name_len(const rec *r) { int n = 0; while (r->name[n]) n++; return n; }
"""


def test_string_buffer_and_callback_fields_take_python_objects_and_keep_them_alive():
    import gc

    import numpy as np

    lib = cx.compile(FIELDS)
    r = lib.rec()
    r.name = "héllo"                                   # str: UTF-8, NUL-terminated
    r.data = np.array([5, 6, 7], dtype=np.uint8)       # a buffer: its own memory, written in place
    r.on = lambda x: x * 3                             # a Python callable
    r.n = 3
    gc.collect()                                       # nothing assigned may be freed
    assert (lib.name_len(ctypes.byref(r)), lib.sum(ctypes.byref(r)), lib.call(ctypes.byref(r))) == (6, 18, 9)
    assert r.name == "héllo" and isinstance(r.data, cx.Pointer) and r.on(2) == 6
    r.note = b"abc"
    assert r.note == "abc" and isinstance(r.note, cx.CString)  # char *: the text and the pointer
    r.on = None
    assert r.on is None and lib.call(ctypes.byref(r)) == -1
    with pytest.raises(TypeError, match="field 'name' .*assign str, bytes"):
        r.name = 3.5
    assert cx.layout(lib.rec).fields[0].declaration == "const char *name"  # the layout still reads


@needs_zlib
def test_a_module_with_nothing_callable_says_why():
    m = cx.compile("#include <zlib.h>\n", libraries=["z"])  # declares, defines nothing
    with pytest.raises(AttributeError, match=r"it binds no function: .*cx.include\(header, libraries"):
        m.crc32


def test_two_definitions_of_one_struct_in_modules_linked_together_are_refused():
    a = cx.compile("typedef struct { int x, y; } pt;\nint ax(const pt *p) { return p->x; }", name="points")
    b = cx.compile("typedef struct { int x, y; } pt;\nint ax(const pt *p);\nint bx(const pt *p) { return ax(p); }",
                   link=[a])
    assert b.bx(a.pt(3, 4)) == 3 and b.pt is a.pt
    with pytest.raises(cx.CompileError, match=r"struct pt is defined here \(<cell>:2\) otherwise than in module "
                                              r"'points' \(<cell>:1\)") as info:
        cx.compile("int unrelated;\ntypedef struct { long x; } pt;\nint ax(const pt *p);\n"
                   "int cx_(const pt *p) { return ax(p); }", link=[a])
    assert info.value.diagnostics[0].line == 2


# ---- several files, one module -------------------------------------------------------------------

def test_several_files_are_one_module_each_its_own_translation_unit(tmp_path):
    import pickle

    lib = cx.load([f"{SRC}/queue.c", f"{SRC}/log.c"], include_dirs=[INCLUDE])
    assert lib.name == "queue" and lib.unbound == {"evq_vlog": lib.unbound["evq_vlog"]}
    q = lib.evq_new(2)
    try:
        assert lib.evq_log(q, lib.EVQ_INFO, "n=%d", 7) == lib.EVQ_OK  # log.c calls queue.c's evq_push
        event = lib.evq_event()
        assert lib.evq_pop(q, ctypes.byref(event)) == 0 and event.text == b"n=7"
    finally:
        lib.evq_free(q)
    (tmp_path / "a.c").write_text("static int count = 1;\nint b_count(void);\nint total(void) { return count + b_count(); }\n")
    (tmp_path / "b.c").write_text("static int count = 41;\nint b_count(void) { return count; }\n")
    m = cx.load([tmp_path / "a.c", tmp_path / "b.c"])  # a static of each file stays the file's own
    assert (m.total(), m.b_count()) == (42, 41) and m.undefined == frozenset()
    assert pickle.loads(pickle.dumps(m.total))() == 42  # the record carries every file
    (tmp_path / "b.c").write_text("int b_count(void) { return nope; }\n")
    with pytest.raises(cx.CompileError) as info:
        cx.load([tmp_path / "a.c", tmp_path / "b.c"])
    error = info.value.diagnostics[0]
    assert (error.file, error.line, error.message) == (str(tmp_path / "b.c"), 1, "'nope' undeclared")


def test_the_magic_loads_several_files(shell):
    shell.run_line_magic("cxload", f"{SRC}/queue.c {SRC}/log.c -I {INCLUDE}")
    ns = shell.user_ns
    q = ns["evq_new"](2)
    try:
        assert ns["evq_log"](q, ns["EVQ_WARN"], "%d", 1) == 0 and ns["evq_size"](q) == 1
    finally:
        ns["evq_free"](q)
    assert ns["queue"].name == "queue"


def test_regression_a_struct_ctypes_cannot_lay_out_affects_no_other():
    lib = cx.compile("struct __attribute__((aligned(16))) slot { char c; };\n"
                     "struct user { struct slot *s; int n; };\nstruct other { int x; };\n"
                     "struct holder { int k; struct slot s; };\n"
                     "int use(struct user *u) { return u->n; }\nint other_x(struct other o) { return o.x; }\n")
    assert sorted(lib.structs) == ["other", "user"]  # a pointer to it, or nothing to do with it: unaffected
    assert lib.unbound["slot"].startswith("struct slot: ctypes cannot lay it out as the compiler does (16 bytes")
    assert lib.unbound["holder"].startswith("struct holder holds a struct slot")  # by value: with it
    assert lib.use(lib.user(None, 5)) == 5 and lib.other_x(lib.other(3)) == 3


def test_char_pointer_pointer_has_one_spelling_in_callbacks_and_out_parameters():
    lib = cx.compile("typedef void (*cb)(char **names, int n);\n"
                     "void each(cb f) { char *names[] = { \"a\", \"bc\" }; f(names, 2); }\n"
                     "void out(char **p) { *p = \"hello\"; }\n")
    seen = []
    lib.each(lambda names, n: seen.extend(names[i] for i in range(n)))
    value = ctypes.c_char_p()
    lib.out(ctypes.byref(value))
    assert seen == [b"a", b"bc"] and value.value == b"hello"  # c_char_p both ways
