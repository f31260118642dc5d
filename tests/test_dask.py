"""cx functions as tasks on a real dask.distributed LocalCluster with two worker processes."""
import numpy as np
import pytest

import cx

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

SRC = r"""
typedef struct { double lo, hi; } range;
void smooth(const double *in, double *out, long n, int rounds) {
    for (long i = 0; i < n; i++) {
        double x = in[i];
        for (int r = 0; r < rounds; r++) x = 0.5 * x + 0.25;
        out[i] = x;
    }
}
double sum(const double *a, long n) { double s = 0; for (long i = 0; i < n; i++) s += a[i]; return s; }
long square(long x) { return x * x; }
range span(const double *a, long n) {
    range r = {a[0], a[0]};
    for (long i = 1; i < n; i++) { if (a[i] < r.lo) r.lo = a[i]; if (a[i] > r.hi) r.hi = a[i]; }
    return r;
}
"""


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def lib():
    return cx.compile(SRC, name="dask_kernels")


def _worker_pids(client):
    return set(client.run(lambda: __import__("os").getpid()).values())


def test_submit_and_map_run_in_worker_processes(client, lib):
    import os

    assert client.submit(lib.square, 7).result(timeout=60) == 49
    futures = client.map(lib.square, range(20))
    assert client.gather(futures) == [x * x for x in range(20)]
    assert os.getpid() not in _worker_pids(client)


def test_map_blocks_over_a_dask_array(client, lib):
    x = da.from_array(np.linspace(0.0, 1.0, 40_000), chunks=10_000)

    def block(b):  # defined here, as in a notebook: dask ships it with cloudpickle, lib by recipe
        out = np.empty_like(b)
        lib.smooth(b, out, b.size, 3)
        return out

    got = x.map_blocks(block, dtype=float).compute(timeout=60)
    expect = np.linspace(0.0, 1.0, 40_000)
    for _ in range(3):
        expect = 0.5 * expect + 0.25
    np.testing.assert_allclose(got, expect)


def test_a_worker_compiles_a_module_once_for_many_tasks(client):
    fresh = cx.compile("long plus_one(long x) { return x + 1; }")
    client.run(cx.recipe.clear_cache)
    assert client.gather(client.map(fresh.plus_one, range(40))) == list(range(1, 41))
    builds = [info["builds"] for info in client.run(cx.recipe.cache_info).values()]
    assert max(builds) == 1 and sum(builds) >= 1


def test_struct_results_come_back(client, lib):
    a = np.array([3.0, -1.0, 8.0])
    r = client.submit(lib.span, a, a.size).result(timeout=60)
    assert type(r) is lib.range and (r.lo, r.hi) == (-1.0, 8.0)


def test_unshippable_task_fails_with_the_pickling_message(client):
    lib = cx.compile("#include <Python.h>\nPyObject *ident(PyObject *o) { Py_INCREF(o); return o; }",
                     hold_gil=["ident"], name="local_only")
    with pytest.raises(TypeError, match="Could not serialize") as info:  # dask's words, then ours
        client.submit(lib.ident, 1).result(timeout=60)
    causes = []
    exc = info.value
    while exc is not None:
        causes.append(exc)
        exc = exc.__cause__ or exc.__context__
    ours = [e for e in causes if isinstance(e, cx.PicklingError)]
    assert ours and str(ours[0]).startswith("cannot pickle ident(): its code uses Python's C API")
