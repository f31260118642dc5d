"""``python -m cx.bench --quick``: runs end to end and writes every section (timings are not judged)."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

SECTIONS = ("meta", "sizes", "compile_small", "compile_large", "compile_large_sources", "compile_profile", "calls",
            "kernels", "threads", "targets")


@pytest.mark.skipif(not any(shutil.which(c) for c in ("cc", "gcc", "clang")),
                    reason="no system C compiler (apt-get install gcc)")
def test_quick_run_writes_every_section_and_the_plot(tmp_path):
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "cx.bench", "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, CX_CACHE_DIR=str(tmp_path / "cache")))
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((out / "bench.json").read_text())
    assert set(SECTIONS) <= set(res)
    names = {r["name"] for r in res["compile_small"]}
    for peer in ("libtcc alone (floor)", "cx.compile (TinyCC)", "cx backend='cc' (cold)",
                 "cffi API mode (ffi.compile)", "Cython (cythonize + build + import)",
                 "numba (first call of each function)"):
        assert peer in names  # measured, or a row saying "skipped (not installed)"
    for r in res["compile_small"] + res["compile_large"] + res["calls"]["scalar"]:
        assert r["status"] == "ok" and r["median_s"] > 0 or r["status"].startswith("skipped")
    assert {r["name"] for r in res["calls"]["scalar"]} >= {"cx", "raw ctypes CFUNCTYPE (same address)",
                                                            "Python function"}
    assert len(res["kernels"]) == 3
    assert all(len(rows) == 3 for rows in res["kernels"].values())
    assert [r["threads"] for r in res["threads"]["rows"]] == [1, 2, 4]
    assert {r["name"] for r in res["calls"]["mixed"]} >= {"cx: scale(1.5, 2.0, 3, 4)", "cffi API mode"}
    assert "cx, hold_gil" in {r["name"] for r in res["calls"]["scalar"]}
    names = [t["target"] for t in res["targets"]]
    assert {"two-array call <= 1.5x a scalar call", "hold_gil call <= 1x a default call"} <= set(names)
    for peer, target in (("cffi", "scalar call <= 0.8x cffi API mode"), ("numba", "scalar call <= 0.8x numba njit"),
                         ("cffi", "mixed 4-argument call <= 0.9x cffi API mode")):
        assert (target in names) == (importlib.util.find_spec(peer) is not None)
    assert all(isinstance(t["pass"], bool) for t in res["targets"])
    assert sorted(res["compile_large_sources"]) == ["200 small functions", "real-world-shaped source (20 parts)",
                                                    "source with 0.1 MB of table initialisers"]
    installed = [h for h in ("zlib.h", "sqlite3.h", "math.h") if os.path.isfile(f"/usr/include/{h}")]
    assert sorted(res["compile_installed_headers"]) == sorted(installed)  # .ci/run installs zlib's and SQLite's
    for header in installed:
        assert f"cx.include of {header} <= 3x libtcc alone" in names
    assert "== targets" in proc.stdout and ("PASS" in proc.stdout or "MISS" in proc.stdout)
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dask_rows_run_quick(tmp_path):
    """``python -m cx.bench.dask --quick``: pickling rows, then a real LocalCluster's rows."""
    pytest.importorskip("distributed")
    proc = subprocess.run([sys.executable, "-m", "cx.bench.dask", "--quick"], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, CX_CACHE_DIR=str(tmp_path / "cache")))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1,000 unpickles of one function" in proc.stdout and "(1 compile," in proc.stdout
    assert "LocalCluster, 2 processes" in proc.stdout and "compiles per worker: [1, 1]" in proc.stdout


def test_the_runtime_never_loads_the_benchmarks():
    """cx.bench ships for ``python -m cx.bench``, but compiling, calling and the magic never import it."""
    code = ("import sys, cx, cx.magics\n"
            "lib = cx.compile('int f(void) { return 7; }', backend='tcc')\n"
            "assert lib.f() == 7\n"
            "print(sorted(m for m in sys.modules if m.startswith('cx.bench')))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "[]"
