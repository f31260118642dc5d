"""A cell whose headers an earlier cell read compiles from the prefix cache, with the same result.

``cx.build.prefix`` keeps a cell's ``#include`` lines preprocessed, and hands TinyCC only the
header declarations the rest of the cell needs. Everything a user can see must be what compiling
the whole source gives: the diagnostics (file, line, column, message), the bound functions, types,
constants and enums, and what the code does. Every source below is compiled both ways (the cache
turned off with ``CX_PREFIX_CACHE_MB=0``; on, after a first compile of the same headers) and the
two compared: the test libraries, the tests2-style programs and every ``%%cx`` cell of the
notebooks.
"""
import contextlib
import ctypes
import io
import json
import os
import pathlib
import sys
import time

import pytest

import cx
from cx.build import prefix, steps
from cx.runtime import capture

ROOT = pathlib.Path(__file__).parent.parent
CLIB = ROOT / "tests" / "clib"
sys.path.insert(0, str(ROOT / "tests"))
from test_real_c import PROGRAMS  # noqa: E402  (the tests2-style programs: one corpus)


def fingerprint(compile_it):
    """Everything a user sees of a compile: its error, or its module's names, types and values."""
    try:
        lib = compile_it()
    except cx.CompileError as exc:
        return {"error": exc.summary,
                "diagnostics": [(d.file, d.line, d.column, d.severity, d.message) for d in exc.diagnostics]}
    functions = {n: (f.info.declaration.prototype, f.info.declaration.line) for n, f in lib.functions.items()}
    structs = {n: (ctypes.sizeof(c), [(f[0], str(f[1]), getattr(c, f[0]).offset) for f in c._fields_])
               for n, c in lib.structs.items()}
    return {"warnings": [(d.file, d.line, d.column, d.severity, d.message) for d in lib.diagnostics],
            "functions": functions, "structs": structs, "unbound": lib.unbound,
            "globals": sorted(lib.globals), "constants": lib.constants,
            "enums": {n: [(m.name, m.value) for m in e] for n, e in lib.enums.items()},
            "undefined": sorted(lib.undefined)}


def both_ways(monkeypatch, compile_it):
    """(whole, cached, hit): the fingerprint with the cache off, each step in turn (TinyCC
    compiling after the declarations are read, not meanwhile: cx.build.steps.EarlyCode), then
    with the cache on and warm (the first compile with it on, which fills it, and whose code is
    compiled while its declarations are read, must give the same too)."""
    monkeypatch.setenv("CX_PREFIX_CACHE_MB", "0")
    with monkeypatch.context() as m:
        m.setattr(steps.EarlyCode, "MIN_TEXT", float("inf"))
        whole = fingerprint(compile_it)
    monkeypatch.setenv("CX_PREFIX_CACHE_MB", "64")
    first = fingerprint(compile_it)  # the first compile of these headers fills the cache
    assert first == whole
    hits = prefix.CACHE.hits
    cached = fingerprint(compile_it)  # served from it, with only the declarations the cell needs
    return whole, cached, prefix.CACHE.hits > hits


def notebook_cells():
    """Every %%cx cell of the notebooks: (notebook, index, body)."""
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        for i, cell in enumerate(cells):
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if cell["cell_type"] == "code" and text.startswith("%%cx"):
                yield path.name, i, text.split("\n", 1)[1] if "\n" in text else ""


CELLS = list(notebook_cells())

CORPUS = {
    "evq unity": (lambda: cx.compile('#include "queue.c"\n#include "log.c"\n',
                                     include_dirs=[str(CLIB / "evq" / "src"), str(CLIB / "evq" / "include")])),
    "evq header, cell code": (lambda: cx.compile(
        '#include <stdio.h>\n#include "evq.h"\n\nint twice_capacity(int n) { return 2 * n + EVQ_MAX_EVENTS; }\n',
        include_dirs=[str(CLIB / "evq" / "include")])),
    "kv": (lambda: cx.compile('#include "kv.c"\n#include "hash.c"\n',
                              include_dirs=[str(CLIB / "kv" / "src"), str(CLIB / "kv" / "include")])),
    "vec": (lambda: cx.compile('#define VEC_IMPLEMENTATION\n#include "vec.h"\n', include_dirs=[str(CLIB / "vec")])),
    "stdio, math, stdlib": (lambda: cx.compile(
        "#include <stdio.h>\n#include <math.h>\n#include <stdlib.h>\n\n"
        "double hyp(double x, double y) { return sqrt(x * x + y * y); }\n"
        "int show(int n) { char b[32]; snprintf(b, sizeof b, \"%d\", n); return atoi(b); }\n")),
    "an error after the headers": (lambda: cx.compile(
        "#include <stdio.h>\n#include <string.h>\n\nint f(const char *s) {\n  return strlen(s) + ;\n}\n")),
    "a warning: implicit declaration": (lambda: cx.compile(
        "#include <stdio.h>\nint f(int x) { return undeclared_helper(x); }\n")),
    "a header's function redeclared wrongly": (lambda: cx.compile(
        "#include <stdlib.h>\ndouble abs(double x) { return x; }\n")),
    "a header's macro redefined": (lambda: cx.compile(
        "#include <stdio.h>\n#define EOF 7\nint eof(void) { return EOF; }\n")),
    "a macro that expands to a header's function": (lambda: cx.compile(
        "#include <assert.h>\n#include <ctype.h>\nint up(int c) { assert(c >= 0); return toupper(c); }\n")),
    "a missing header": (lambda: cx.compile("#include <stdio.h>\n#include <no_such_header.h>\nint f(void);\n")),
    "comments and #if in the prefix": (lambda: cx.compile(
        "/* a kernel */\n#include <stdint.h>  // fixed widths\n#ifdef __linux__\n#include <unistd.h>\n#endif\n"
        "#define N 4\n\nint64_t page(void) { return sysconf(_SC_PAGESIZE) * N; }\n")),
    "a struct of a header by value": (lambda: cx.compile(
        "#include <stdlib.h>\n#include <time.h>\n\ndiv_t halves(int n) { return div(n, 2); }\n"
        "long secs(struct timespec t) { return t.tv_sec; }\n")),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_the_corpus_compiles_alike_with_and_without_the_cache(name, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    whole, cached, hit = both_ways(monkeypatch, CORPUS[name])
    assert cached == whole
    assert hit or name == "a missing header"  # a prefix that does not preprocess is never kept


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_tests2_style_programs_compile_and_run_alike(name, monkeypatch):
    source, expected = PROGRAMS[name]
    outputs = []

    def compile_and_run():
        lib = cx.compile(source)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            if capture.supported():
                with capture.captured():
                    lib.main()
            else:
                lib.main()
        outputs.append(out.getvalue())
        return lib

    whole, cached, hit = both_ways(monkeypatch, compile_and_run)
    assert cached == whole and hit
    if capture.supported():
        assert outputs == [expected] * 3


@pytest.mark.parametrize("notebook,index,body", CELLS, ids=[f"{n}[{i}]" for n, i, _ in CELLS])
def test_every_notebook_cell_compiles_alike(notebook, index, body, monkeypatch):
    monkeypatch.chdir(ROOT / "notebooks")
    whole, cached, _ = both_ways(monkeypatch, lambda: cx.compile(body))
    assert cached == whole


def test_an_edited_header_is_read_again(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    header = tmp_path / "conf.h"
    header.write_text("#define LIMIT 10\nstatic inline int limit(void) { return LIMIT; }\n")
    old = time.time() - 60  # an old file: the cache keeps it (a file younger than 2 s is read each time)
    os.utime(header, (old, old))
    source = '#include <stdio.h>\n#include "conf.h"\nint get(void) { return limit() + LIMIT; }\n'
    assert cx.compile(source).get() == 20
    hits = prefix.CACHE.hits
    assert cx.compile(source + "\n").get() == 20
    assert prefix.CACHE.hits == hits + 1
    header.write_text("#define LIMIT 21\nstatic inline int limit(void) { return LIMIT; }\n")
    os.utime(header, (old + 1, old + 1))  # a new modification time, as an editor's save gives
    assert cx.compile(source).get() == 42


def test_a_header_being_written_is_never_kept(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fresh.h").write_text("#define K 3\n")  # modified just now: could change again unseen
    source = '#include "fresh.h"\nint k(void) { return K; }\n'
    before = len(prefix.CACHE)
    assert cx.compile(source).k() == 3
    assert len(prefix.CACHE) == before


def test_another_option_or_define_is_another_prefix(monkeypatch):
    source = "#include <stdio.h>\nint big(void) { return BIG; }\n"
    assert cx.compile(source, defines={"BIG": "1"}).big() == 1
    assert cx.compile(source, defines={"BIG": "2"}).big() == 2
    assert cx.compile(source, defines={"BIG": "2"}, options="-O1").big() == 2


def test_memory_stays_within_the_budget(monkeypatch):
    monkeypatch.setenv("CX_PREFIX_CACHE_MB", "1")
    for i in range(12):
        cx.compile(f"#include <stdio.h>\n#include <stdlib.h>\n#define VARIANT {i}\nint v(void) {{ return VARIANT; }}\n")
    assert prefix.CACHE.bytes() <= 1024 * 1024
    assert len(prefix.CACHE) >= 1
    # the newest stayed: it is served from the cache
    hits = prefix.CACHE.hits
    assert cx.compile("#include <stdio.h>\n#include <stdlib.h>\n#define VARIANT 11\n"
                      "int w(void) { return VARIANT; }\n").w() == 11
    assert prefix.CACHE.hits == hits + 1


def test_the_split_keeps_the_cell_lines():
    src = "// title\n#include <stdio.h>\n#if 1\n#include <math.h>\n#endif\n\nint f(void);\n"
    head, body, line = prefix.split(src)
    assert head.count("\n") + 1 == line - 1 and body.startswith("int f")
    assert prefix.split("int f(void);\n#include <stdio.h>\n") is None  # code first: no prefix
    assert prefix.split("#include <stdio.h>\n#ifdef X\nint f(void);\n#endif\n")[2] == 2  # an #if left open


def test_threads_compiling_cells_of_one_prefix_at_once_each_get_their_own():
    import threading

    prefix.CACHE.clear()
    results, errors = {}, []

    def cell(i):
        try:
            lib = cx.compile(f"#include <stdio.h>\n#include <string.h>\n#include <math.h>\n"
                             f"int k{i}(const char *s) {{ return (int)strlen(s) * {i} + (int)floor(0.5); }}\n")
            results[i] = getattr(lib, f"k{i}")(b"abc")
        except Exception as exc:  # noqa: BLE001 -- reported below
            errors.append(exc)

    threads = [threading.Thread(target=cell, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == {i: 3 * i for i in range(10)}
    assert len(prefix.CACHE) == 1
