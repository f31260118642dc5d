"""cx functions in process pools: multiprocessing (fork, spawn, forkserver), ProcessPoolExecutor, joblib."""
import concurrent.futures
import contextlib
import io
import multiprocessing
import signal

import numpy as np
import pytest

import cx

SRC = r"""
#include <stdio.h>
double dot(const double *a, const double *b, long n) {
    double s = 0; for (long i = 0; i < n; i++) s += a[i] * b[i]; return s;
}
void scale(double *a, long n, double k) { for (long i = 0; i < n; i++) a[i] *= k; }
long square(long x) { return x * x; }
int shout(int x) { printf("C says %d\n", x); return x; }
int crash(void) { return *(volatile int *)0; }
"""

METHODS = [m for m in ("fork", "spawn", "forkserver") if m in multiprocessing.get_all_start_methods()]


@pytest.fixture(scope="module")
def lib():
    return cx.compile(SRC, name="pool_kernels")


@pytest.mark.parametrize("method", METHODS)
def test_multiprocessing_pool_maps_a_cx_function(lib, method):
    with multiprocessing.get_context(method).Pool(2) as pool:
        assert pool.map(lib.square, range(10)) == [x * x for x in range(10)]
        a = np.arange(1000.0)
        assert pool.apply(lib.dot, (a, a, a.size)) == float(a @ a)


@pytest.mark.parametrize("method", METHODS)
def test_process_pool_executor_maps_a_cx_function(lib, method):
    ctx = multiprocessing.get_context(method)
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as ex:
        assert list(ex.map(lib.square, [3, 4, 5])) == [9, 16, 25]
        chunks = np.array_split(np.linspace(0, 1, 10_001), 4)
        parts = list(ex.map(lib.dot, chunks, chunks, [c.size for c in chunks]))
    assert sum(parts) == pytest.approx(sum(float(c @ c) for c in chunks))


def test_process_pool_executor_default_context(lib):
    with concurrent.futures.ProcessPoolExecutor(1) as ex:
        assert ex.submit(lib.square, 12).result(timeout=60) == 144


def _in_forked_child(lib):
    """Run in a fork child: calls, a crash caught by the guard, C output captured."""
    from cx.runtime import capture

    out = {"square": lib.square(9)}
    try:
        lib.crash()
    except cx.CrashError as exc:
        out["crash"] = (exc.signal, exc.function)
    buf = io.StringIO()
    with capture.captured(), contextlib.redirect_stdout(buf):
        lib.shout(5)
    out["captured"] = buf.getvalue()
    out["square after"] = lib.square(3)
    return out


def test_fork_after_compile_keeps_guard_and_capture_working(lib):
    lib.square(1)  # bound before the fork
    ctx = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as ex:
        out = ex.submit(_in_forked_child, lib).result(timeout=60)
    assert out == {"square": 81, "crash": (signal.SIGSEGV, "crash"), "captured": "C says 5\n",
                   "square after": 9}


def _print_in_child(module):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        module.shout(7)
        from cx.runtime import capture

        capture.flush()
    return buf.getvalue()


def test_capture_installed_before_the_fork_works_in_the_child(lib):
    from cx.runtime import capture

    with capture.captured():  # as in a notebook: the magic installs it
        ctx = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as ex:
            assert ex.submit(_print_in_child, lib).result(timeout=60) == "C says 7\n"


def test_fork_child_uses_the_parents_module_without_compiling(lib):
    from cx import recipe

    before = recipe.cache_info()["builds"]  # the child starts with the parent's count
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        builds = pool.apply(_builds_after, (lib,))
    assert builds == before


def _builds_after(module):
    from cx import recipe

    module.square(2)
    return recipe.cache_info()["builds"]


def test_a_spawned_worker_rebuilds_a_module_once_for_many_tasks():
    lib = cx.compile("long cube(long x) { return x * x * x; }")
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.map(lib.cube, range(200), chunksize=1) == [x ** 3 for x in range(200)]
        assert pool.apply(_builds) == 1


def _builds():
    from cx import recipe

    return recipe.cache_info()["builds"]


def test_numpy_chunks_reach_c_without_a_copy_in_the_worker(lib):
    # a worker writes through the pointer into its own array and sends the result back
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.apply(_scaled, (lib, 4)) == [0.0, 2.5, 5.0, 7.5]


def _scaled(module, n):
    a = np.arange(float(n))
    module.scale(a, n, 2.5)
    return a.tolist()


def test_joblib_runs_cx_functions(lib):
    joblib = pytest.importorskip("joblib")
    out = joblib.Parallel(n_jobs=2, timeout=120)(joblib.delayed(lib.square)(i) for i in range(6))
    assert out == [0, 1, 4, 9, 16, 25]


def test_unshippable_module_fails_on_the_sending_side():
    lib = cx.compile("#include <Python.h>\nPyObject *ident(PyObject *o) { Py_INCREF(o); return o; }",
                     hold_gil=["ident"])
    with concurrent.futures.ProcessPoolExecutor(1) as ex:
        future = ex.submit(lib.ident, 3)
        with pytest.raises(cx.PicklingError, match=r"^cannot pickle ident\(\): its code uses Python's C API"):
            future.result(timeout=60)
