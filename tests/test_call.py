"""cx's own call slot (``python/cx/_call.c``, :mod:`cx._fastcall`): values, errors, fallbacks, guard.

Every test checks exact results or messages; which path a call takes is visible as
``fn.info.fast`` (the per-function decision), and the per-argument fallbacks are exercised
by passing objects only ctypes' converters understand.
"""
import ctypes
import inspect
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import cx
from cx import _speedups

SRC = r"""
#include <stdint.h>
int add(int a, int b) { return a + b; }
double scale(double x, float f, long n, unsigned char c) { return x * f + n + c; }
long long widths(signed char a, short b, int c, long long d, unsigned char e, unsigned short f)
    { return (long long)a + b + c + d + e + f; }
unsigned long long umax(unsigned long long x) { return x; }
unsigned int uint_id(unsigned int x) { return x; }
signed char schar_id(signed char x) { return x; }
short short_id(short x) { return x; }
float halve(float x) { return x / 2; }
_Bool positive(int x) { return x > 0; }
int from_bool(_Bool b, int x) { return b ? x : -x; }
void nothing(void) {}
void *ptr_id(void *p) { return p; }
int *first(int *v) { return v; }
const char *label(int k) { return k ? "one" : "zero"; }
/* every register: 6 integers and 8 doubles, interleaved */
double regs(int a, double b, long c, double d, short e, double f, unsigned g, double h, long i,
            double j, long k, double l, double m, double n)
    { return a + 10*b + 100*c + 1e3*d + 1e4*e + 1e5*f + 1e6*g + 1e7*h + 1e8*i + 1e9*j
             + 1e10*k + 1e11*l + 1e12*m + 1e13*n; }
long seven(long a, long b, long c, long d, long e, long f, long g) { return a+2*b+3*c+4*d+5*e+6*f+7*g; }
double nine(double a, double b, double c, double d, double e, double f, double g, double h, double i)
    { return a+2*b+3*c+4*d+5*e+6*f+7*g+8*h+9*i; }
double dot(const double *a, const double *b, long n) { double s = 0; for (long i = 0; i < n; i++) s += a[i] * b[i]; return s; }
void fill(double *v, long n, double x) { for (long i = 0; i < n; i++) v[i] = x; }
long length(const char *s) { long n = 0; while (s[n]) n++; return n; }
int deref(int *p) { return *p; }
typedef struct { double x, y; } Point;
double norm1(Point p) { return p.x + p.y; }
int apply(int (*f)(int), int x) { return f(x); }
long double ld(long double x) { return x * 2; }
int spin_until(volatile int *flag, long limit) { for (long i = 0; i < limit; i++) if (*flag) return 1; return 0; }
"""


@pytest.fixture(scope="module")
def lib():
    m = cx.compile(SRC)
    yield m
    m.close()


def test_bound_functions_stay_ctypes_function_objects(lib):
    f = lib.add
    assert isinstance(f, ctypes._CFuncPtr) and f.restype is ctypes.c_int and len(f.argtypes) == 2
    assert ctypes.cast(f, ctypes.c_void_p).value == lib.exports()["add"]
    as_proto = ctypes.cast(f, ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_int))
    assert as_proto(2, 3) == 5
    assert f.__doc__ == "int add(int a, int b);" and str(inspect.signature(f)) == "(a: int, b: int, /) -> int"  # the C types (issue 10)


def test_which_signatures_take_the_fast_path(lib):
    fast = ["add", "from_bool", "scale", "widths", "umax", "halve", "positive", "nothing", "ptr_id", "first",
            "regs", "dot", "fill", "length", "deref", "spin_until"]
    slow = ["nine", "norm1", "apply", "ld", "label"]  # stack arguments, struct, callback,
    # long double, a char * result (text, through the errcheck)
    (fast if _speedups.TRAMPOLINE_INT_REGS >= 7 else slow).append("seven")  # AArch64 has 8 integer registers
    assert {n: getattr(lib, n).info.fast for n in fast + slow} == {n: n in fast for n in fast + slow}


def test_integer_and_real_values_round_trip(lib):
    assert lib.add(-7, 3) == -4 and lib.add(2**31 - 1, -(2**31 - 1)) == 0
    assert lib.widths(-128, -32768, -(2**31), -(2**62), 255, 65535) == -128 - 32768 - 2**31 - 2**62 + 255 + 65535
    assert lib.umax(2**64 - 1) == 2**64 - 1 and lib.uint_id(2**32 - 1) == 2**32 - 1
    assert lib.schar_id(-5) == -5 and lib.short_id(-30000) == -30000
    assert lib.scale(1.5, 2.0, 3, 4) == 10.0 and lib.scale(1, 2, 3, 4) == 9.0  # ints to reals
    assert lib.halve(3.0) == 1.5 and isinstance(lib.halve(3), float)
    assert lib.positive(5) is True and lib.positive(-5) is False
    assert (lib.from_bool(True, 3), lib.from_bool(0, 3), lib.from_bool(7, 3), lib.from_bool([], 3)) == (3, -3, 3, -3)
    assert lib.nothing() is None
    buf = bytearray(b"x")
    p = lib.ptr_id(buf)
    assert lib.ptr_id(None) is None and isinstance(p, cx.Pointer) and p.value > 0
    assert lib.ptr_id(p).value == p.value and type(lib.ptr_id(p)) is type(p)  # a handle passes back
    v = np.array([7, 8], dtype=np.intc)
    assert lib.first(v)[1] == 8 and lib.first(None) is None and lib.label(1) == "one"
    assert lib.add(True, 1) == 2


def test_every_register_lands_in_its_parameter(lib):
    args = (1, 2.0, 3, 4.0, 5, 6.0, 7, 8.0, 9, 1.0, 2, 3.0, 4.0, 5.0)
    expected = sum(a * 10.0 ** i for i, a in enumerate(args))
    assert lib.regs(*args) == expected
    assert lib.seven(1, 2, 3, 4, 5, 6, 7) == sum(i * i for i in range(1, 8))
    assert lib.nine(*[1.0] * 9) == 45.0


def _slot_functions(nint, nflt):
    """The parameter kinds ('i' long, 'f' double) of C functions that fill every register slot of
    the calling convention (``nint`` integer, ``nflt`` floating-point, interleaved), and of two that
    pass one more integer or one more double on the stack."""
    ints, floats, kinds = ["i"] * nint, ["f"] * nflt, []
    while ints or floats:
        kinds += [ints.pop()] if ints else []
        kinds += [floats.pop()] if floats else []
    return {"all_slots": kinds, "int_on_stack": ["i"] + kinds, "float_on_stack": kinds + ["f"]}


def _weighted_sum(name, kinds):
    params = ", ".join(f"{'long' if k == 'i' else 'double'} p{n}" for n, k in enumerate(kinds))
    return f"double {name}({params}) {{ return {' + '.join(f'{n + 1}.0 * p{n}' for n in range(len(kinds)))}; }}"


@pytest.mark.skipif(not _speedups.TRAMPOLINE_INT_REGS, reason="no call trampoline for this machine")
def test_every_register_slot_of_this_machine_and_the_stack_beyond():
    # x86-64 System V: 6 integer and 8 floating-point registers; AArch64: 8 and 8. Every slot is
    # filled with a distinct value; one more of either kind goes on the stack (through ctypes).
    nint, nflt = _speedups.TRAMPOLINE_INT_REGS, _speedups.TRAMPOLINE_FLOAT_REGS
    functions = _slot_functions(nint, nflt)
    lib = cx.compile("\n".join(_weighted_sum(name, kinds) for name, kinds in functions.items()))
    for name, ks in functions.items():
        args = [n + 1 if k == "i" else (n + 1) * 0.5 for n, k in enumerate(ks)]
        assert getattr(lib, name).info.fast == (name == "all_slots"), name
        assert getattr(lib, name)(*args) == sum((n + 1.0) * a for n, a in enumerate(args)), name


def test_struct_results_and_variadic_calls_in_c():
    # a struct returned by value (ctypes' path), and C calling variadic functions (snprintf, and
    # Python's Py_BuildValue) with integer and floating-point arguments mixed
    lib = cx.compile(r"""
        #include <Python.h>
        #include <stdio.h>
        typedef struct { double x, y; } Point;
        typedef struct { long a; int b; char c; } Small;
        Point make(double x, double y) { Point p = { x, y }; return p; }
        Small small(long a, int b, char c) { Small s = { a, b, c }; return s; }
        int format(char *out, long size, int i, double d, long l, double e) {
            return snprintf(out, size, "%d %.2f %ld %.1f", i, d, l, e);
        }
        PyObject *build(int i, double d, long l) { return Py_BuildValue("(idlsd)", i, d, l, "x", d * 2); }
    """, hold_gil=["build"])
    p = lib.make(1.5, -2.0)
    assert (p.x, p.y) == (1.5, -2.0)
    s = lib.small(-(2**40), 7, b"z")
    assert (s.a, s.b, s.c) == (-(2**40), 7, b"z")
    out = bytearray(64)
    n = lib.format(out, len(out), 42, 3.14159, 2**40, -0.5)
    assert out[:n].decode() == f"42 3.14 {2**40} -0.5"
    assert lib.build(3, 0.25, -9) == (3, 0.25, -9, "x", 0.5)


def test_arrays_and_buffers(lib):
    a, b = np.arange(8.0), np.ones(8)
    assert lib.dot(a, b, 8) == 28.0 and lib.dot(a, b, 8) == 28.0  # second call: the cached dtype
    v = np.zeros(4)
    lib.fill(v, 4, 2.5)
    assert v.tolist() == [2.5] * 4
    assert lib.length(b"hello") == 5 and lib.length("héllo") == 6  # str: UTF-8 through the converter
    assert lib.dot([1.0, 2.0], (3.0, 4.0), 2) == 11.0  # lists for const pointers: ctypes' path
    assert lib.deref(ctypes.c_int(41)) == 41 and lib.deref((ctypes.c_int * 1)(7)) == 7
    assert lib.dot(np.arange(4.0)[::2].copy(), np.ones(2), 2) == 2.0


def test_array_checks_hold_after_the_dtype_is_cached(lib):
    a = np.ones(4)
    lib.fill(a, 4, 1.0)  # caches float64 for fill's first parameter
    ro = np.ones(4)
    ro.flags.writeable = False
    with pytest.raises(ctypes.ArgumentError, match="argument 'v' of fill.*read-only"):
        lib.fill(ro, 4, 1.0)
    with pytest.raises(ctypes.ArgumentError, match="not C-contiguous"):
        lib.fill(np.ones(8)[::2], 4, 1.0)
    with pytest.raises(ctypes.ArgumentError, match="float32"):
        lib.fill(np.ones(4, dtype=np.float32), 4, 1.0)
    with pytest.raises(ctypes.ArgumentError, match="do not match"):
        lib.fill(np.ones(4, dtype=">f8"), 4, 1.0)
    assert lib.dot(ro, ro, 4) == 4.0  # const: read-only is fine


def test_errors_are_ctypes_errors_naming_argument_and_function(lib):
    with pytest.raises(ctypes.ArgumentError, match=r"argument 1: OverflowError: argument 'a' of add\(\) \(int\): "
                                                   r"2147483648 is out of range"):
        lib.add(2**31, 1)
    with pytest.raises(ctypes.ArgumentError, match=r"argument 'e' of widths\(\) \(unsigned char\): 256 is out "
                                                   r"of range \(0\.\.255\)"):
        lib.widths(0, 0, 0, 0, 256, 0)
    with pytest.raises(ctypes.ArgumentError, match="got a float"):
        lib.add(1.5, 2)
    with pytest.raises(ctypes.ArgumentError, match="argument 'f' of scale.*expected a number, got str"):
        lib.scale(1.0, "2", 3, 4)
    with pytest.raises(ctypes.ArgumentError, match="out of range"):
        lib.umax(-1)



def test_wrong_argument_count_names_the_function_and_its_parameters(lib):
    """Regression: ctypes said "this function takes at least 2 arguments (1 given)", naming
    nothing, and passed extra arguments on to C."""
    with pytest.raises(TypeError) as e:
        lib.add(1)
    assert str(e.value) == "add() takes 2 arguments (1 given): add(a: int, b: int)"
    with pytest.raises(TypeError, match=re.escape("add() takes 2 arguments (3 given): add(a: int, b: int)")):
        lib.add(1, 2, 3)
    with pytest.raises(TypeError, match=re.escape("add() takes no keyword arguments")):
        lib.add(1, b=2)
    one = cx.compile("double total(const double *a, long n) { return n; }\nint none(void) { return 0; }\n"
                     "int first(int x) { return x; }")
    with pytest.raises(TypeError, match=re.escape(
            "total() takes 2 arguments (1 given): total(a: const double *, n: long)")):
        one.total(None)
    with pytest.raises(TypeError, match=re.escape("none() takes no arguments (1 given): none()")):
        one.none(1)
    with pytest.raises(TypeError, match=re.escape("first() takes 1 argument (0 given): first(x: int)")):
        one.first()
    with pytest.raises(TypeError, match=re.escape("total() takes 2 arguments (1 given): total(")):
        cx.timeit(one.total, None)


@pytest.mark.parametrize("fn, ok, bad", [
    ("schar_id", (-128, 127), (-129, 128)),
    ("short_id", (-32768, 32767), (-32769, 32768)),
    ("uint_id", (0, 2**32 - 1), (-1, 2**32)),
    ("umax", (0, 2**64 - 1), (-1, 2**64)),
    ("add", (-(2**31), 2**31 - 1), (-(2**31) - 1, 2**31)),
])
def test_regression_small_ints_are_range_checked_at_every_width(lib, fn, ok, bad):
    f = getattr(lib, fn)
    assert [f(x) if fn != "add" else f(x, 0) for x in ok] == list(ok)
    for x in bad:
        with pytest.raises(ctypes.ArgumentError, match="out of range"):
            f(x) if fn != "add" else f(x, 0)


def test_objects_only_ctypes_converts_still_work(lib):
    assert lib.add(np.int32(5), np.int64(6)) == 11
    assert lib.scale(np.float32(1.5), np.float64(2.0), np.int8(3), np.uint8(4)) == 10.0
    assert lib.add(ctypes.c_int(2), 3) == 5


def test_assigning_errcheck_restype_or_argtypes_sends_calls_to_ctypes():
    m = cx.compile("int add(int a, int b) { return a + b; }\nint other(int a, int b) { return a - b; }")
    assert m.add.info.fast
    m.add.errcheck = lambda result, func, args: result * 10
    assert not m.add.info.fast and m.add(1, 2) == 30
    m.other.restype = ctypes.c_uint
    assert m.other(1, 2) == 2**32 - 1
    m.close()


def test_closed_module_raises(lib):
    m = cx.compile("int one(void) { return 1; }")
    f = m.one
    assert f() == 1
    m.close()
    with pytest.raises(cx.ClosedError, match="one"):
        f()


def test_crashes_raise_on_both_paths(lib):
    with pytest.raises(cx.CrashError, match=r"deref\(\) dereferenced a NULL pointer") as info:
        lib.deref(None)
    assert info.value.line == SRC.count("\n", 0, SRC.index("int deref")) + 1
    crashy = cx.compile("typedef struct { double x, y; } Point;\n"
                        "double at(Point p, double *v) { return v[0] + p.x; }")
    assert not crashy.at.info.fast
    with pytest.raises(cx.CrashError, match=r"at\(\) dereferenced a NULL pointer") as info:
        crashy.at(crashy.Point(1, 2), None)
    assert info.value.line == 2
    assert lib.add(1, 2) == 3 and crashy.at(crashy.Point(1, 2), np.ones(1)) == 2.0


def test_a_callback_exception_is_raised_on_the_ctypes_path(lib):
    def bad(x):
        raise ValueError("from the callback")

    with pytest.raises(ValueError, match="from the callback"):
        lib.apply(bad, 1)
    assert lib.apply(lambda x: x + 1, 41) == 42


def test_hold_gil_objects_through_the_fast_path():
    m = cx.compile("#include <Python.h>\n"
                   "PyObject *pair(PyObject *a, long n) { return Py_BuildValue(\"(Ol)\", a, n); }\n"
                   "PyObject *fail(PyObject *a) { PyErr_SetObject(PyExc_KeyError, a); return NULL; }\n"
                   "long add(long a, long b) { return a + b; }",
                   hold_gil=["pair", "fail", "add"])
    assert m.pair.info.fast and m.add.info.fast
    key = object()
    assert m.pair(key, 3) == (key, 3) and m.add(2, 3) == 5
    with pytest.raises(KeyError):
        m.fail("k")
    m.close()


def test_the_gil_is_released_during_a_fast_call(lib):
    flag = np.zeros(1, dtype=np.intc)
    assert lib.spin_until.info.fast
    setter = threading.Timer(0.05, flag.__setitem__, (0, 1))
    setter.start()
    # If the GIL were held, the timer thread could not set the flag before the C loop gives up.
    assert lib.spin_until(flag, 20_000_000_000) == 1
    setter.join()


def test_many_threads_calling_at_once(lib):
    errors = []

    def work(k):
        a = np.full(16, float(k))
        for i in range(2000):
            if lib.add(i, k) != i + k or lib.dot(a, a, 16) != 16.0 * k * k or lib.scale(k, 1.0, i, 0) != k + i:
                errors.append((k, i))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_unguarded_modules_use_the_fast_path_too():
    m = cx.compile("int add(int a, int b) { return a + b; }", guard=False)
    assert m.add.info.fast and m.add(2, 3) == 5
    m.close()


def test_interrupt_stops_calls_on_both_paths():
    # In a child with Python's own SIGINT handler (as a kernel has): a direct call, and calls
    # that go through ctypes (a struct by value), spinning or sleeping in a loop; and an interrupt
    # while ctypes converts a long list (Python code: never jumped out of) ends the call.
    code = textwrap.dedent(r"""
        import ctypes, os, signal, threading, time, cx
        lib = cx.compile('''
        #include <unistd.h>
        typedef struct { int a, b; } P;
        long spin(void) { volatile long x = 0; while (1) x++; return x; }
        long spin_p(P p) { volatile long x = p.a; while (1) x++; return x; }
        void nap_p(P p) { for (;;) usleep(20000); }
        double total(const double *v, long n) { double s = 0; for (long i = 0; i < n; i++) s += v[i]; return s; }
        ''')
        assert lib.spin.info.fast and not lib.spin_p.info.fast
        big = [1.0] * 3_000_000  # converted by ctypes, in Python code, inside the guard frame
        for name, args in [("spin", ()), ("spin_p", (lib.P(1, 2),)), ("nap_p", (lib.P(1, 2),)),
                           ("total", (big, len(big)))]:
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
            try:
                getattr(lib, name)(*args)
            except (KeyboardInterrupt, ctypes.ArgumentError) as e:  # ArgumentError: raised in a converter
                assert "KeyboardInterrupt" in repr(e), repr(e)
                print(name, "stopped", flush=True)  # a call never stopped is caught by the timeout below
        print("alive", lib.total(big, 10), flush=True)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, PYTHONFAULTHANDLER=""),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert result.stdout.splitlines() == ["spin stopped", "spin_p stopped", "nap_p stopped", "total stopped",
                                          "alive 10.0"], result.stdout + result.stderr


def test_handles_pass_back_directly_and_other_handle_types_stay_refused():
    m = cx.compile("#include <stdlib.h>\n"
                   "struct a; struct b;\n"
                   "struct a *make_a(void) { return (struct a *)malloc(8); }\n"
                   "struct b *make_b(void) { return (struct b *)malloc(8); }\n"
                   "long use_a(struct a *p) { return (long)p; }\n"
                   "void drop(void *p) { free(p); }\n")
    assert m.make_a.info.fast and m.use_a.info.fast
    a, b = m.make_a(), m.make_b()
    assert m.use_a(a) == a.value and m.use_a(a) == a.value  # the second: the handle type is known
    with pytest.raises(ctypes.ArgumentError, match="got a pointer to struct b, expected one to struct a"):
        m.use_a(b)
    assert m.use_a(None) == 0
    m.drop(a)
    m.drop(b)
    m.close()


def _function_class(name, base=ctypes._CFuncPtr):
    return type(name, (base,), {"_flags_": ctypes._FUNCFLAG_CDECL, "_argtypes_": (), "_restype_": ctypes.c_int})


def test_call_slot_checks_the_instance_layout_it_extends():
    # fast_class grows a new class's instances (see _call.c): on a class whose layout breaks what
    # that relies on, here one that already has a subclass of the old size, a clear error
    cls = _function_class("f")
    _function_class("g", cls)
    with pytest.raises(RuntimeError, match=r"cannot extend the ctypes function class f on Python 3\.\d+\.\d+\S*: "
                                           "it already has subclasses"):
        _speedups.fast_class(cls)
    ok = _function_class("h")
    _speedups.fast_class(ok)
    with pytest.raises(TypeError, match="already has a call slot"):
        _speedups.fast_class(ok)
    f = ok(0)
    f.attribute = [1, 2]  # the __dict__ (managed, inline values or an offset) is not where the slot is
    assert f.__dict__ == {"attribute": [1, 2]}
