"""``python -m cx.bench.dask``: what shipping cx functions to other processes costs, and what it buys.

Three figures, measured in one run:

- ``unpickle cold``: ``pickle.loads`` of a function whose module this process has never built
  (it compiles the recipe: :mod:`cx.recipe`), median over fresh sources;
- ``unpickle cached``: 1,000 ``pickle.loads`` of one function (compiled once, then the cache);
- ``cluster``: a CPU-bound cx kernel mapped over a dask array (``map_blocks``, then a sum) on a
  ``dask.distributed.LocalCluster`` of N worker processes, against the same kernel over the same
  array in this one process, and against dask's threaded scheduler in this process (cx releases
  the GIL, so threads run the kernel in parallel too). Needs ``pip install "cx[dask]"``.

Run ``python -m cx.bench.dask --quick`` (seconds) or ``python -m cx.bench.dask`` (about a minute).
"""
from __future__ import annotations

import argparse
import gc
import os
import pickle
import statistics
import time
import warnings

import numpy as np

import cx
from cx import recipe

KERNEL = r"""
/* A CPU-bound element-wise kernel: `rounds` steps of a logistic map per element. */
void logistic(const double *in, double *out, long n, int rounds) {
    for (long i = 0; i < n; i++) {
        double x = in[i];
        for (int r = 0; r < rounds; r++) x = 3.7 * x * (1.0 - x);
        out[i] = x;
    }
}
"""


def unpickle_cold(reps):
    """Median seconds of one ``pickle.loads`` that has to compile (a new source each time)."""
    times = []
    for i in range(reps):
        data = pickle.dumps(cx.compile(f"/* {i} {time.time_ns()} */\nint add(int a, int b) {{ return a + b; }}").add)
        gc.collect()  # the module is gone: loads must rebuild it
        t = time.perf_counter()
        pickle.loads(data)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def unpickle_cached(n=1000):
    """Seconds for ``n`` ``pickle.loads`` of one function (the first compiles), and the builds."""
    data = pickle.dumps(cx.compile(f"/* {time.time_ns()} */\nint sub(int a, int b) {{ return a - b; }}").sub)
    gc.collect()
    recipe.clear_cache()
    t = time.perf_counter()
    for _ in range(n):
        pickle.loads(data)
    return time.perf_counter() - t, recipe.cache_info()["builds"]


def _block_function(lib, rounds):
    def block(b):
        out = np.empty_like(b)
        lib.logistic(b, out, b.size, rounds)
        return out

    return block


def cluster(n, chunks, rounds, workers, reps):
    """Seconds (best of ``reps``) for one process, dask threads, and a LocalCluster of processes."""
    import dask.array as da
    import distributed

    lib = cx.compile(KERNEL, name="bench_kernel")
    block = _block_function(lib, rounds)
    made_there = da.linspace(0.1, 0.9, n, chunks=n // chunks)  # each worker makes its chunks
    data = made_there.compute(scheduler="sync")  # the same numbers here (the map is chaotic: bit for bit)
    sent = da.from_array(data, chunks=n // chunks)  # the chunks travel from this process

    def one_process():
        return float(block(data).sum())

    def graph(x=made_there):
        return x.map_blocks(block, dtype=float).sum()

    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as lc, distributed.Client(lc) as client:
        graph().compute()  # warm-up: workers compile the recipe once here
        candidates = {
            "one process": one_process,
            "dask threads, 1 process": lambda: graph().compute(scheduler="threads", num_workers=workers),
            f"LocalCluster, {workers} processes": lambda: graph().compute(),
            "  same, data sent from here": lambda: graph(sent).compute(),
        }
        times = {name: [] for name in candidates}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "Sending large graph": the point of that row
            for _ in range(reps):  # interleaved, so a busy machine slows every candidate alike
                for name, fn in candidates.items():
                    times[name].append(_timed(fn))
        out = {name: min(t) for name, t in times.items()}
        out["builds per worker"] = sorted(i["builds"] for i in client.run(recipe.cache_info).values())
    expect = one_process()
    got = graph().compute(scheduler="sync")
    if abs(got - expect) > 1e-9 * abs(expect):
        raise RuntimeError(f"the cluster's sum {got} differs from this process's {expect}")
    return out


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv=None):
    """Command line of ``python -m cx.bench.dask``."""
    p = argparse.ArgumentParser(prog="python -m cx.bench.dask", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, few repetitions")
    p.add_argument("--workers", type=int, default=2, help="worker processes of the LocalCluster (default 2)")
    args = p.parse_args(argv)
    quick = args.quick
    print(f"cx {cx.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    cold = unpickle_cold(5 if quick else 30)
    print(f"unpickle cold (compiles):       {cold * 1e3:8.2f} ms")
    total, builds = unpickle_cached(1000)
    print(f"1,000 unpickles of one function: {total * 1e3:8.2f} ms ({builds} compile, "
          f"{total / 1000 * 1e6:.1f} us each)")
    try:
        import distributed  # noqa: F401
    except ImportError:
        print("cluster: skipped (pip install \"cx[dask]\")")
        return
    n = 2_000_000 if quick else 4_000_000
    rounds = 20 if quick else 100
    reps = 1 if quick else 5
    res = cluster(n, chunks=8, rounds=rounds, workers=args.workers, reps=reps)
    base = res["one process"]
    print(f"cluster: logistic map, {n:,} doubles x {rounds} rounds, 8 chunks (best of {reps}, "
          f"load average now {os.getloadavg()[0]:.1f})")
    for name, value in res.items():
        if name == "builds per worker":
            print(f"  compiles per worker: {value}")
        else:
            print(f"  {name:28s} {value:7.3f} s   speedup {base / value:4.2f}x")


if __name__ == "__main__":
    main()
