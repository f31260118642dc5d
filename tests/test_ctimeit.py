"""cx.timeit and %cxtimeit: a call timed in a loop that runs in C (no timing asserted: see cx.bench)."""
import ctypes
import platform
import shutil

import numpy as np
import pytest

import cx
from cx.tools.ctimeit import TimeitResult, _format_time

KERNELS = r"""
#include <time.h>
int add(int a, int b) { return a + b; }
double work(long n) {               /* a known-cost loop */
    double s = 0;
    for (long i = 0; i < n; i++) s += i * 0.5;
    return s;
}
double dot(const double *a, const double *b, long n) { double s = 0; for (long i = 0; i < n; i++) s += a[i] * b[i]; return s; }
typedef struct { double re, im; } Complex;
Complex cmul(Complex a, Complex b) { Complex r = { a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re }; return r; }
static long calls;
void count(void) { calls++; }
long counted(void) { return calls; }
void scale(double *v, long n, double k) { for (long i = 0; i < n; i++) v[i] *= k; }
int crash(int *p) { return *p; }
static double seen;
void mixed(char c, _Bool b, long double x, unsigned short u, float f) { seen = c + b + (double)x + u + f; }
double last_seen(void) { return seen; }
"""


@pytest.fixture(scope="module")
def lib():
    return cx.compile(KERNELS)


def test_loop_calls_the_function_exactly_loops_times_repeat(lib):
    before = lib.counted()
    result = cx.timeit(lib.count, repeat=3, number=1000, python=False)
    assert lib.counted() - before == 3000
    assert (result.loops, result.repeat, len(result.timings), result.python_call) == (1000, 3, 3, None)


def test_arguments_are_converted_once_and_reach_c(lib):
    v = np.ones(4)
    cx.timeit(lib.scale, v, 4, 2.0, repeat=2, number=5, python=False)
    assert v.tolist() == [2.0 ** 10] * 4  # the buffer itself, scaled 10 times
    cx.timeit(lib.cmul, lib.Complex(1, 2), lib.Complex(3, 4), repeat=1, number=10, python=False)
    x = np.arange(1000.0)
    assert cx.timeit(lib.dot, x, x, len(x), repeat=1, number=10).python_call > 0


ABI = r"""  /* x86-64 System V classes: tests/test_ctimeit.py checks each is passed as C passes it */
typedef struct { long a, b, c; } Big;        /* over 16 bytes: passed and returned in memory */
typedef struct { int x; float y; } Mix;      /* one eightbyte, integer class */
typedef struct { double d; long l; } DL;     /* an SSE eightbyte, then an integer one */
typedef struct { float f, g; } Two;          /* one SSE eightbyte */
static double got;
Big many(Big b, long i1, long i2, long i3, long i4, long i5, long i6, long i7,
         double d1, double d2, double d3, double d4, double d5, double d6, double d7, double d8, double d9,
         Mix m, DL dl, Two t, long double x, char c, short s) {
    got = b.a + 10 * b.b + 100 * b.c + i1 + 2 * i2 + 3 * i3 + 4 * i4 + 5 * i5 + 6 * i6 + 7 * i7
        + d1 + 2 * d2 + 3 * d3 + 4 * d4 + 5 * d5 + 6 * d6 + 7 * d7 + 8 * d8 + 9 * d9
        + 1000 * m.x + m.y + dl.d + 10000 * dl.l + t.f + 2 * t.g + (double)x + c + s;
    Big r = { b.a, b.b, b.c };
    return r;
}
long double ld(long double x) { got = (double)x; return x * 2; }
DL small(Mix m, DL dl, Two t) { got = 1000 * m.x + m.y + dl.d + 10000 * dl.l + t.f + 2 * t.g; return dl; }
double last(void) { return got; }
"""


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="structs by value: x86-64 only")
@pytest.mark.parametrize("backend", ["tcc", pytest.param("cc", marks=pytest.mark.skipif(
    not shutil.which("cc"), reason="no system C compiler"))])
def test_every_argument_reaches_c_where_the_calling_convention_puts_it(backend, tmp_path, monkeypatch):
    # integer and floating-point registers filled, the rest in stack words; structs by value in
    # registers of their classes or in memory; a struct result in memory; long double (x87)
    monkeypatch.setenv("CX_CACHE_DIR", str(tmp_path))
    lib = cx.compile(ABI, backend=backend)
    args = (lib.Big(1, 2, 3), *range(1, 8), *(float(k) / 4 for k in range(1, 10)),
            lib.Mix(4, 0.5), lib.DL(0.25, 8), lib.Two(0.125, 0.375), 0.0625, b"A", -3)
    expected = 1 + 20 + 300 + sum(k * k for k in range(1, 8)) + sum(k * k / 4 for k in range(1, 10)) \
        + 4000.5 + 0.25 + 80000 + 0.125 + 0.75 + 0.0625 + 65 - 3
    cx.timeit(lib.many, *args, repeat=1, number=3, python=False)
    assert lib.last() == expected
    small = (lib.Mix(4, 0.5), lib.DL(0.25, 8), lib.Two(0.125, 0.375))  # each struct in registers of its class
    cx.timeit(lib.small, *small, repeat=1, number=3, python=False)
    assert lib.last() == 4000.5 + 0.25 + 80000 + 0.125 + 0.75
    cx.timeit(lib.ld, 1.5, repeat=2, number=1000, python=False)  # the x87 stack stays balanced
    assert lib.last() == 1.5 and lib.ld(2.5) == 5.0


def test_simple_ctypes_types_pass_by_value(lib):
    cx.timeit(lib.mixed, b"A", True, 0.25, 7, 0.5, repeat=1, number=3, python=False)
    assert lib.last_seen() == 65 + 1 + 0.25 + 7 + 0.5


def test_the_call_from_python_is_timed_too(lib):
    """How the two compare (and how cx.timeit agrees with C's own clock) is measured by
    ``python -m cx.bench`` (runtime section), not asserted here: a busy machine changes both."""
    result = cx.timeit(lib.add, 1, 2, repeat=3, number=100_000)
    assert result.average > 0 and result.python_call > 0
    text = str(result)
    first, second = text.splitlines()
    assert first.endswith("per loop (mean ± std. dev. of 3 runs, 100,000 loops each), in C")
    assert second.startswith("from Python: ") and "the call from Python adds" in second


def test_python_overhead_is_reported_only_above_the_noise():
    """Regression: "adds 340 µs" for a 56 ms ± 2 ms call, "adds nothing measurable" when negative."""
    slow = TimeitResult("f", 1, 7, [0.054, 0.056, 0.058], python_call=0.05634, python_stdev=0.002)
    assert str(slow).splitlines()[1] == ("from Python: 56.3 ms per call (the difference from C is within "
                                         "the noise of ±5.16 ms)")
    faster = TimeitResult("f", 1, 7, [1e-6, 1e-6], python_call=0.9e-6, python_stdev=0.0)
    assert "within the noise of ±0 ns" in str(faster)
    fast = TimeitResult("f", 1000, 7, [10e-9, 11e-9, 12e-9], python_call=90e-9, python_stdev=1e-9)
    assert str(fast).splitlines()[1] == "from Python: 90 ns per call (the call from Python adds 79 ns)"


def test_automatic_loop_count_is_a_1_2_5_step(lib):
    result = cx.timeit(lib.work, 1000, repeat=1, python=False)
    assert result.loops > 1  # a run of one call of a few microseconds would be far too short
    assert str(result.loops)[0] in "125" and set(str(result.loops)[1:]) <= {"0"}


def test_bad_calls_raise_like_the_call_would(lib):
    with pytest.raises(TypeError, match=r"add\(\) takes 2 arguments \(1 given\)"):
        cx.timeit(lib.add, 1)
    with pytest.raises(OverflowError, match="argument 'a' of add"):
        cx.timeit(lib.add, 2 ** 40, 1)
    with pytest.raises(TypeError, match="do not match the C type"):
        cx.timeit(lib.dot, np.ones(3, dtype=np.int32), np.ones(3), 3)
    with pytest.raises(TypeError, match="function bound by cx"):
        cx.timeit(len, [])
    with pytest.raises(ValueError):
        cx.timeit(lib.add, 1, 2, repeat=0)


def test_crash_in_the_timed_function_is_an_exception(lib):
    with pytest.raises(cx.CrashError, match=r"^crash\(\) \(timed by cx.timeit\) dereferenced a NULL pointer") as info:
        cx.timeit(lib.crash, None, repeat=1, number=1, python=False)
    assert (info.value.function, info.value.where) == ("crash", "crash")
    assert lib.add(1, 2) == 3


def test_hold_gil_functions_are_refused():
    api = cx.compile("#include <Python.h>\nPyObject *none(void) { Py_RETURN_NONE; }", hold_gil=["none"])
    with pytest.raises(cx.CxError, match="hold_gil"):
        cx.timeit(api.none)


def test_closed_module_is_refused():
    m = cx.compile("int one(void) { return 1; }")
    fn = m.one
    m.close()
    with pytest.raises(cx.ClosedError):
        cx.timeit(fn)


def test_time_format_follows_timeit():
    assert [_format_time(s) for s in (2.5, 0.0123, 4.56e-6, 3.21e-9, 7.24e-12)] == [
        "2.5 s", "12.3 ms", "4.56 µs", "3.21 ns", "0.00724 ns"]
    r = TimeitResult("f", 1, 1, [1e-9])
    assert str(r) == "1 ns ± 0 ns per loop (mean ± std. dev. of 1 run, 1 loop each), in C"


def test_magic(shell, capsys):
    from IPython.core.error import UsageError

    shell.run_cell("%%cx\nint add(int a, int b) { return a + b; }\n").raise_error()
    shell.run_cell("x = 3").raise_error()
    capsys.readouterr()
    result = shell.run_line_magic("cxtimeit", "-n 1000 -r 2 -o add(x, -1)")
    assert isinstance(result, TimeitResult) and (result.loops, result.repeat) == (1000, 2)
    out = capsys.readouterr().out
    assert "per loop (mean ± std. dev. of 2 runs, 1,000 loops each), in C" in out
    assert shell.run_line_magic("cxtimeit", "-q -n 10 -r 1 add(*[1, 2])") is None
    assert capsys.readouterr().out == ""
    for bad, message in [("add(1)", "takes 2 arguments"), ("x + 1", "times one call"), ("add(2**40, 1)", "out of range"),
                         ("add(a=1)", "times one call"), ("len([])", "function bound by cx"),
                         ("add(", "is not a call")]:
        with pytest.raises(UsageError, match=message):
            shell.run_line_magic("cxtimeit", bad)
