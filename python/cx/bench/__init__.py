"""cx's benchmarks: ``python -m cx.bench`` (compile, calls, kernels, threads against cffi, numba,
Cython and the system compiler) and ``python -m cx.bench.dask`` (pickling and a Dask cluster).

Nothing in cx imports this package: the runtime never loads it, and its peers come from the
``bench`` extra (``pip install -e ".[bench]"``); a peer that is missing is a skipped row.

- :mod:`cx.bench.suite`: the measurements and the command line.
- :mod:`cx.bench.runtime`: C output, the GIL, an interrupt and cx.timeit's loop, timed (not tested).
- :mod:`cx.bench.report`: the PASS/MISS targets, the text table and the plot.
- :mod:`cx.bench.dask`: what shipping cx functions to other processes costs.
"""
