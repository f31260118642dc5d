"""cx.compile and Module: what the README promises, from plain Python."""
import ctypes
import gc
import inspect
import weakref

import numpy as np
import pytest

import cx
from cx.build.record import Build

README_SOURCE = r"""
#include <math.h>
double norm(const double *v, long n) { double s = 0; for (long i = 0; i < n; i++) s += v[i]*v[i]; return sqrt(s); }
int add(int a, int b) { return a + b; }
"""


def test_readme_example():
    lib = cx.compile(README_SOURCE)
    assert lib.add(2, 3) == 5
    assert lib.norm(np.array([3.0, 4.0]), 2) == 5.0
    assert set(lib.functions) == {"norm", "add"}


def test_every_scalar_type_round_trips():
    types = ["char", "signed char", "unsigned char", "short", "unsigned short", "int", "unsigned int",
             "long", "unsigned long", "long long", "unsigned long long", "float", "double", "_Bool",
             "size_t", "int8_t", "uint8_t", "int16_t", "uint16_t", "int32_t", "uint32_t", "int64_t",
             "uint64_t", "bool"]
    src = "#include <stdint.h>\n#include <stddef.h>\n#include <stdbool.h>\n" + "\n".join(
        f"{t} id_{i}({t} x) {{ return x; }}" for i, t in enumerate(types))
    lib = cx.compile(src)
    samples = {"char": b"A", "signed char": -5, "unsigned char": 250, "short": -30000, "unsigned short": 65000,
               "int": -2**31, "unsigned int": 2**32 - 1, "long": -2**63, "unsigned long": 2**64 - 1,
               "long long": 2**63 - 1, "unsigned long long": 2**64 - 1, "float": 1.5, "double": 0.1,
               "_Bool": True, "size_t": 2**64 - 1, "int8_t": -128, "uint8_t": 255, "int16_t": -32768,
               "uint16_t": 65535, "int32_t": 2**31 - 1, "uint32_t": 2**32 - 1, "int64_t": -2**63,
               "uint64_t": 2**64 - 1, "bool": False}
    for i, t in enumerate(types):
        assert lib.functions[f"id_{i}"](samples[t]) == samples[t], t


def test_void_function_and_no_arguments():
    lib = cx.compile("static int n; void bump(void) { n++; } int get(void) { return n; }")
    assert lib.bump() is None
    lib.bump()
    assert lib.get() == 2


def test_const_char_pointer_accepts_str_and_bytes_and_returns_str():
    lib = cx.compile(r"""
        #include <string.h>
        size_t length(const char *s) { return strlen(s); }
        const char *greeting(int polite) { return polite ? "good day" : "h\xc3\xa9"; }
        const char *nothing(void) { return 0; }
    """)
    assert lib.length("héllo") == 6  # UTF-8 bytes
    assert lib.length(b"abc") == 3
    assert lib.greeting(1) == "good day"
    assert lib.greeting(0) == "hé"
    assert lib.nothing() is None


def test_numpy_arrays_are_passed_zero_copy_and_written_in_place():
    lib = cx.compile("void scale(double *v, long n, double k) { for (long i = 0; i < n; i++) v[i] *= k; }")
    v = np.arange(5.0)
    lib.scale(v, len(v), 2.0)
    assert v.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]


def test_other_buffers_work_for_pointer_parameters():
    lib = cx.compile("int total(const unsigned char *p, int n) { int s = 0; while (n--) s += p[n]; return s; }"
                     "void fill(unsigned char *p, int n) { while (n--) p[n] = 7; }")
    assert lib.total(b"\x01\x02\x03", 3) == 6
    buf = bytearray(4)
    lib.fill(buf, 4)
    assert buf == bytearray(b"\x07" * 4)
    import array
    assert lib.total(array.array("B", [5, 5]), 2) == 10


def test_memoryviews_and_ctypes_arrays_are_pointer_arguments_zero_copy():
    import array

    lib = cx.compile("double total(const double *v, long n) { double s = 0; while (n--) s += v[n]; return s; }\n"
                     "void fill(double *v, long n, double x) { while (n--) v[n] = x; }\n"
                     "long byte_sum(const void *p, long n) { const unsigned char *b = p; long s = 0;"
                     " while (n--) s += b[n]; return s; }")
    parent = np.zeros(6)
    lib.fill(memoryview(parent)[2:4], 2, 7.0)  # C writes into the memory the view shows
    assert parent.tolist() == [0, 0, 7, 7, 0, 0]
    raw = bytearray(16)
    lib.fill(memoryview(raw).cast("d"), 2, 1.0)
    assert raw == bytearray(b"\0\0\0\0\0\0\xf0?" * 2)
    assert lib.total(memoryview(array.array("d", [1.5, 2.5])), 2) == 4.0
    read_only = memoryview(bytes(16)).cast("d")
    assert lib.total(read_only, 2) == 0.0  # const: a read-only view is fine
    c = (ctypes.c_double * 3)(1, 2, 3)
    assert lib.total(c, 3) == 6.0
    lib.fill(c, 3, 5.0)
    assert list(c) == [5.0, 5.0, 5.0]
    assert lib.byte_sum(memoryview(b"\x01\x02\x03"), 3) == 6 and lib.byte_sum((ctypes.c_ubyte * 2)(4, 5), 2) == 9
    refused = {
        "element type": (lambda: lib.fill(memoryview(array.array("f", [1.0])), 1, 0.0),
                         "argument 'v' of fill() (double *): got elements of type float32"),
        "unsigned bytes": (lambda: lib.fill(memoryview(bytearray(16)), 2, 0.0), "got elements of type uint8"),
        "read-only": (lambda: lib.fill(read_only, 2, 0.0), "the memoryview is read-only, but the C parameter is not const"),
        "strided": (lambda: lib.total(memoryview(np.arange(8.0))[::2], 4), "the memoryview is not C-contiguous"),
        "ctypes element": (lambda: lib.fill((ctypes.c_float * 2)(), 2, 0.0),
                           "got an array of c_float, expected ctypes.c_double elements"),
    }
    for what, (call, message) in refused.items():
        with pytest.raises(ctypes.ArgumentError) as info:
            call()
        assert message in str(info.value), what
    assert raw == bytearray(b"\0\0\0\0\0\0\xf0?" * 2)


def test_wrong_dtype_raises_type_error_naming_the_argument():
    lib = cx.compile("double first(const double *v) { return v[0]; }")
    with pytest.raises((TypeError, ctypes.ArgumentError), match="argument 'v' of first"):
        lib.first(np.arange(3, dtype=np.int64))
    with pytest.raises((TypeError, ctypes.ArgumentError), match="float32|element|bytes"):
        lib.first(np.zeros(3, dtype=np.float32))


def test_read_only_array_to_non_const_pointer_is_refused():
    lib = cx.compile("void zero(double *v) { v[0] = 0; }")
    v = np.ones(3)
    v.flags.writeable = False
    with pytest.raises((TypeError, ctypes.ArgumentError), match="read-only"):
        lib.zero(v)
    assert v[0] == 1.0


def test_non_contiguous_array_is_refused():
    lib = cx.compile("double first(const double *v) { return v[0]; }")
    with pytest.raises((TypeError, ctypes.ArgumentError), match="contiguous"):
        lib.first(np.arange(10.0)[::2])


def test_wrong_argument_count_and_type_raise():
    lib = cx.compile("int add(int a, int b) { return a + b; }")
    with pytest.raises(TypeError, match="2 arguments"):
        lib.add(1)
    with pytest.raises(ctypes.ArgumentError, match="argument 2"):
        lib.add(1, "x")


def test_structs_by_value_and_by_pointer():
    lib = cx.compile("""
        typedef struct { double x, y; } Point;
        double length2(Point p) { return p.x * p.x + p.y * p.y; }
        void move(Point *p, double dx) { p->x += dx; }
        Point make(double x, double y) { Point p = {x, y}; return p; }
    """)
    p = lib.Point(3, 4)
    assert lib.length2(p) == 25.0
    lib.move(p, 1.0)
    assert p.x == 4.0
    q = lib.make(1.0, 2.0)
    assert (q.x, q.y) == (1.0, 2.0)
    assert isinstance(q, lib.Point)


def test_function_pointer_parameter_accepts_python_callable():
    lib = cx.compile("""
        double integrate(double (*f)(double), double a, double b, int n) {
            double h = (b - a) / n, s = 0;
            for (int i = 0; i < n; i++) s += f(a + (i + 0.5) * h) * h;
            return s;
        }
    """)
    assert lib.integrate(lambda x: x * x, 0.0, 1.0, 1000) == pytest.approx(1 / 3, rel=1e-5)


def test_exception_in_callback_propagates_to_the_caller():
    lib = cx.compile("int call(int (*f)(int), int x) { return f(x); }")

    def boom(x):
        raise ValueError("from the callback")

    with pytest.raises(ValueError, match="from the callback"):
        lib.call(boom, 1)
    assert lib.call(lambda x: x + 1, 41) == 42


def test_globals_are_readable_and_writable():
    lib = cx.compile("int counter = 5; double scale = 1.5; int bump(void) { return ++counter; }")
    assert lib.counter == 5
    assert lib.bump() == 6
    lib.counter = 100
    assert lib.bump() == 101
    assert lib.scale == 1.5


def test_static_functions_are_not_exported():
    lib = cx.compile("static int helper(int x) { return x * 2; } int api(int x) { return helper(x); }")
    assert "helper" not in lib.functions
    with pytest.raises(AttributeError):
        lib.helper


def test_doc_and_signature_show_the_prototype():
    lib = cx.compile("double norm(const double *v, long n) { return 0; }")
    assert "double norm(const double *v, long n)" in lib.norm.__doc__
    assert list(inspect.signature(lib.norm).parameters) == ["v", "n"]


def test_compile_error_has_line_numbers_and_source():
    src = "int ok(void) { return 1; }\n\nint bad(void) { return undefined_name; }\n"
    with pytest.raises(cx.CompileError) as info:
        cx.compile(src)
    err = info.value
    assert isinstance(err, cx.CxError)
    assert err.source == src
    assert [d.line for d in err.errors] == [3]
    assert err.errors[0].severity == "error"
    assert "undefined_name" in err.errors[0].message
    text = str(err)
    assert "<cell>:3: error:" in text
    assert "int bad(void) { return undefined_name; }" in text
    assert "^" in text


def test_warnings_are_kept_on_success():
    lib = cx.compile("int f(void) { int *p = 0; long x = (long)p; return 1; }\nint g(void) { char *s = 1; return 0; }\n")
    assert lib.f() == 1
    assert "warning" in lib.warnings
    (warning,) = lib.diagnostics  # the same warning, as a Diagnostic on the cell's line
    assert (warning.line, warning.severity, warning.file) == (2, "warning", "<cell>")
    assert warning.message in lib.warnings
    assert cx.compile("int h(void) { return 0; }").diagnostics == ()


def test_undefined_symbol_is_a_compile_error_naming_it():
    with pytest.raises(cx.CompileError, match="no_such_function"):
        cx.compile("int no_such_function(int); int f(void) { return no_such_function(1); }")


def test_closed_module_refuses_calls():
    lib = cx.compile("int one(void) { return 1; }")
    one = lib.one
    assert one() == 1
    lib.close()
    assert lib.closed
    with pytest.raises(cx.ClosedError, match="closed"):
        one()
    with pytest.raises(cx.ClosedError):
        lib.one
    lib.close()  # twice is harmless


def test_context_manager_closes():
    with cx.compile("int one(void) { return 1; }") as lib:
        f = lib.one
        assert f() == 1
    with pytest.raises(cx.ClosedError):
        f()


def test_bound_function_keeps_code_alive_after_module_is_dropped():
    lib = cx.compile("int seven(void) { return 7; }")
    f = lib.seven
    ref = weakref.ref(lib)
    del lib
    gc.collect()
    assert ref() is None
    assert f() == 7


def test_code_is_freed_when_unreferenced():
    lib = cx.compile("int seven(void) { return 7; }")
    code_ref = weakref.ref(lib._code)
    f = lib.seven
    del lib, f
    gc.collect()
    assert code_ref() is None


def test_options_whitelist_refuses_dangerous_options():
    with pytest.raises(cx.OptionError, match="dumpversion"):
        cx.compile("int f(void) { return 1; }", options="-dumpversion")
    lib = cx.compile("int f(void) { return X; }", options="-Wall -DX=4")
    assert lib.f() == 4


def test_defines_include_dirs_and_libraries(tmp_path):
    (tmp_path / "answer.h").write_text("#define ANSWER 42\n")
    lib = cx.compile('#include "answer.h"\n#include <math.h>\ndouble f(double x) { return ANSWER + SCALE * cbrt(x); }',
                     include_dirs=[str(tmp_path)], defines={"SCALE": 2}, libraries=["m"])
    assert lib.f(27.0) == 48.0


# Two threads calling a long C function run in parallel: tests/test_threads.py
# (test_long_c_calls_run_in_parallel), with the seed's other thread promises.

def test_constructors_run_once_after_a_libc_header():
    lib = cx.compile("""
        #include <stdio.h>
        static int runs;
        __attribute__((constructor)) static void setup(void) { runs++; }
        int count(void) { return runs; }
    """)
    assert lib.count() == 1


def test_constructors_run_on_the_compiling_thread_even_when_tinycc_compiles_on_its_own(monkeypatch):
    # a cell with headers is compiled on a thread of libjit's own (cx.build.steps.EarlyCode); its
    # constructors still run on the thread that called cx.compile, once, and its thread-local too
    from cx.build import steps
    kept = []
    real = steps.EarlyCode.take
    monkeypatch.setattr(steps.EarlyCode, "take", lambda self, d: kept.append(real(self, d)) or kept[-1])
    lib = cx.compile("""
        #include <stdio.h>
        #include <stdlib.h>
        #include <pthread.h>
        _Thread_local int tls; static pthread_t who; static int runs;
        __attribute__((constructor)) static void setup(void) { tls = 5; who = pthread_self(); runs++; }
        int get(void) { return tls; }
        int count(void) { return runs; }
        int same_thread(void) { return pthread_equal(who, pthread_self()); }
    """, hold_gil=["same_thread"])
    assert kept and kept[0] is not None  # the code made on libjit's thread was kept
    assert lib.count() == 1 and lib.get() == 5 and lib.same_thread()


def test_attributes_survive_libc_headers():
    lib = cx.compile("""
        #include <stdlib.h>
        struct __attribute__((packed)) P { char c; int i; };
        int size(void) { return sizeof(struct P); }
    """)
    assert lib.size() == 5


def test_link_calls_functions_of_an_earlier_module():
    first = cx.compile("long fib(int n) { long a = 0, b = 1; while (n--) { long t = a + b; a = b; b = t; } return a; }"
                       "int base = 10;")
    second = cx.compile("long fib(int n); extern int base; long fib_plus(int n) { return fib(n) + base; }",
                        link=[first])
    assert second.fib_plus(10) == 65
    first.close()  # the second module keeps the first one's code alive
    assert second.fib_plus(10) == 65


def test_unknown_backend_is_an_option_error():
    with pytest.raises(cx.OptionError, match="unknown backend"):
        cx.compile("int f(void) { return 1; }", backend="nope")


def test_regression_stray_braces_are_a_compile_error_not_a_parser_crash():
    with pytest.raises(cx.CompileError):
        cx.compile("}}}")


def test_python_h_is_found_without_include_dirs():
    lib = cx.compile("#include <Python.h>\nPyObject *twice(long x) { return PyLong_FromLong(2 * x); }",
                     hold_gil=["twice"])
    assert lib.twice(21) == 42


def test_regression_python_h_fails_on_python_3_13_under_c99():
    # Since 3.13 <Python.h> includes pyatomic.h, which needs GCC's builtins or C11's <stdatomic.h>:
    # TinyCC compiles a source that includes it as C11, on every Python version.
    source = "#include <Python.h>\nlong std(void) { return __STDC_VERSION__; }\nPyObject *none(void) { Py_RETURN_NONE; }"
    lib = cx.compile(source, hold_gil=["none"])
    assert lib.std() == 201112 and lib.none() is None
    assert cx.compile(source, hold_gil=["none"], options="-std=gnu11").std() == 201112
    assert cx.compile("long std(void) { return __STDC_VERSION__; }").std() == 199901  # without <Python.h>: C99
    assert Build.of(source, options="-std=gnu99").settings().options == ("-std=gnu99",)  # the user's choice stays
    assert Build.of(source, backend="cc").settings().options == ()


def test_regression_functions_with_parameters_do_not_keep_their_module_alive():
    # ctypes' CFUNCTYPE caches prototypes forever, keyed by the argtypes: with cx's per-function
    # converters that kept every module's code alive (found by the compile/close memory test).
    lib = cx.compile("long add(long a, long b) { return a + b; } double first(const double *v) { return v[0]; }")
    assert lib.add(1, 2) == 3 and lib.first(np.ones(1)) == 1.0
    code_ref = weakref.ref(lib._code)
    del lib
    gc.collect()
    assert code_ref() is None


def test_integers_out_of_range_are_refused_not_wrapped():
    lib = cx.compile("#include <stdint.h>\nint add(int a, int b) { return a + b; }\n"
                     "unsigned char low(unsigned char x) { return x; }\nuint64_t big(uint64_t x) { return x; }")
    with pytest.raises(ctypes.ArgumentError, match=r"argument 'a' of add\(\) \(int\): 2147483648 is out of range"):
        lib.add(2**31, 0)
    with pytest.raises(ctypes.ArgumentError, match=r"out of range \(0\.\.255\)"):
        lib.low(256)
    with pytest.raises(ctypes.ArgumentError, match="out of range"):
        lib.big(-1)
    assert lib.big(2**64 - 1) == 2**64 - 1
    assert lib.add(-2**31, 2**31 - 1) == -1


def test_integer_parameters_take_numpy_integers_and_refuse_floats():
    lib = cx.compile("long twice(long x) { return 2 * x; }")
    assert lib.twice(np.int32(21)) == 42
    with pytest.raises(ctypes.ArgumentError, match="got a float"):
        lib.twice(2.5)


def test_float_parameters_take_ints_and_numpy_floats():
    lib = cx.compile("double half(double x) { return x / 2; } float f(float x) { return x; }")
    assert lib.half(3) == 1.5
    assert lib.half(np.float32(1.0)) == 0.5
    assert lib.f(0.5) == 0.5
    with pytest.raises(ctypes.ArgumentError, match="expected a number, got str"):
        lib.half("1")


@pytest.mark.parametrize("guard", [True, False])
def test_regression_a_struct_asked_by_tag_then_by_typedef_name_is_one_class(guard):
    # Found when the guard stopped generating wrappers, whose text read every prototype first.
    lib = cx.compile("struct point { int x, y; };\ntypedef struct point point_t;\n"
                     "int get_x(point_t *p) { return p->x; }", guard=guard)
    assert lib.point is lib.point_t
    assert lib.get_x(ctypes.byref(lib.point_t(4, 5))) == 4


def test_anonymous_structs_sharing_a_line_keep_their_own_fields():
    """Each untagged body is its own type, whichever variable is read first (chunks are read apart)."""
    source = ("struct { int a; } p1; struct { double b; } p2; union { char c; } p3;\n"
              "double get_b(void) { return p2.b; }\n")
    for first in ("p2", "p1"):
        lib = cx.compile(source)
        getattr(lib, first)
        assert [f[0] for f in type(lib.p1)._fields_] == ["a"]
        assert [f[0] for f in type(lib.p2)._fields_] == ["b"]
        assert [type(lib.p1).__name__, type(lib.p2).__name__, type(lib.p3).__name__] == [
            "<anonymous struct at line 1>", "<anonymous struct at line 1, #2>", "<anonymous union at line 1, #3>"]
        lib.p2 = (2.5,)
        assert lib.get_b() == 2.5


def test_a_function_the_compiler_defines_but_cx_cannot_read_is_unbound_with_the_reason():
    lib = cx.compile("int ok(void) { return 1; }\nint old(a, b)\n  int a; int b;\n{ return a + b; }\n")
    assert lib.ok() == 1 and list(lib.functions) == ["ok"]
    assert list(lib.unbound) == ["old"] and "K&R-style" in lib.unbound["old"]
    with pytest.raises(AttributeError, match=r"the compiler defines 'old', but cx could not read its declaration"):
        lib.old
    assert "b" not in lib.globals  # "int b;" of the parameter list is no global


@pytest.mark.parametrize("helper", ["__cx_guard_enter", "__cx_guard_leave", "__cx_guard_recover", "__cx_tls_live"])
def test_compiled_code_is_handed_only_the_helpers_it_needs(helper):
    """libjit gives compiled code the thread-local and capture helpers cx's own rewrites call,
    nothing for tests or for entering guards (cx's call slot does that, in C)."""
    with pytest.raises(cx.CompileError, match=helper):
        cx.compile(f"void {helper}(void);\nvoid f(void) {{ {helper}(); }}")
    cx.compile("void *__cx_guard_suspend(void);\nvoid __cx_guard_resume(void *);\n"
               "void f(void) { __cx_guard_resume(__cx_guard_suspend()); }").f()
