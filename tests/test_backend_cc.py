"""backend="cc": the system C compiler, a shared object, the on-disk cache, and gcc's messages."""
import gc
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import threading
import time
import weakref

import numpy as np
import pytest

import cx
from cx.build.backends import cc
from cx.errors import parse_diagnostics

HAVE_CC = any(shutil.which(c) for c in ("cc", "gcc", "clang"))
needs_cc = pytest.mark.skipif(not HAVE_CC, reason="no system C compiler (apt-get install gcc)")

SOURCE = r"""
#include <math.h>
#include <string.h>
typedef struct { double x, y; } Point;
int add(int a, int b) { return a + b; }
double norm(const double *v, long n) { double s = 0; for (long i = 0; i < n; i++) s += v[i] * v[i]; return sqrt(s); }
double length2(Point p) { return p.x * p.x + p.y * p.y; }
void scale(double *v, long n, double k) { for (long i = 0; i < n; i++) v[i] *= k; }
size_t length(const char *s) { return strlen(s); }
int counter = 5;
int bump(void) { return ++counter; }
"""


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Every test gets its own empty cache directory."""
    path = tmp_path / "cache"
    monkeypatch.setenv("CX_CACHE_DIR", str(path))
    return path


@pytest.fixture
def compiles(monkeypatch):
    """Counts the compiler runs of backend cc."""
    runs = []
    real = cc._run

    def counting(argv, cwd):
        runs.append(argv)
        return real(argv, cwd)

    monkeypatch.setattr(cc, "_run", counting)
    return runs


# -- the same behaviour as the TinyCC backend ----------------------------------------------------

@needs_cc
def test_binds_like_tinycc():
    lib = cx.compile(SOURCE, backend="cc")
    assert isinstance(lib._code, cc.CcCode)
    assert lib.add(2, 3) == 5
    assert lib.norm(np.array([3.0, 4.0]), 2) == 5.0
    assert lib.length2(lib.Point(3, 4)) == 25.0
    v = np.arange(3.0)
    lib.scale(v, 3, 2.0)
    assert v.tolist() == [0.0, 2.0, 4.0]
    assert lib.length("héllo") == 6
    assert lib.counter == 5 and lib.bump() == 6
    lib.counter = 41
    assert lib.bump() == 42
    assert "double norm(const double *v, long n)" in lib.norm.__doc__


@needs_cc
def test_constants_and_enums_like_tinycc():
    source = ("#include <stdio.h>\n#define LIMIT 42\n#define NAME \"cx\"\n#define MASK (1u << 3 | LIMIT)\n"
              "enum color { RED, GREEN = 5 };\nenum color pick(int i) { return i ? GREEN : RED; }\n")
    lib, tiny = cx.compile(source, backend="cc"), cx.compile(source)
    assert lib.constants == tiny.constants == {"RED": 0, "GREEN": 5, "LIMIT": 42, "NAME": "cx", "MASK": 42}
    assert lib.pick(1) is lib.color.GREEN and lib.color is tiny.color  # one class per definition
    assert "EOF" not in lib.constants  # <stdio.h>'s are not the cell's


@needs_cc
def test_compile_error_has_cell_lines_and_no_gcc_noise():
    src = "int ok(void) { return 1; }\n\nint bad(void) {\n    return undefined_name;\n}\n"
    with pytest.raises(cx.CompileError) as info:
        cx.compile(src, backend="cc")
    err = info.value
    assert err.summary == "C compile failed"
    assert [(d.line, d.column, d.file) for d in err.errors] == [(4, 12, "<cell>")]
    assert err.errors[0].message.startswith("'undefined_name' undeclared")
    assert all(d.line is not None for d in err.diagnostics)  # no "In function" pseudo-messages
    text = str(err)
    assert "<cell>:4: error: 'undefined_name' undeclared" in text
    assert "        return undefined_name;\n               ^" in text


@needs_cc
def test_warnings_are_kept_and_come_back_from_the_cache():
    src = "int f(void) { int j; return j; }"
    first = cx.compile(src, backend="cc", options="-Wall")
    assert "<cell>:1:" in first.warnings and "uninitialized" in first.warnings
    again = cx.compile(src, backend="cc", options="-Wall")
    assert again.warnings == first.warnings


@needs_cc
def test_undefined_symbol_is_a_link_error_naming_it(cache):
    with pytest.raises(cx.CompileError, match="no_such_function") as info:
        cx.compile("int no_such_function(int); int f(void) { return no_such_function(1); }", backend="cc")
    assert info.value.summary.startswith("C link failed")
    assert not [p for p in os.listdir(cache) if p.endswith(".so")]  # nothing broken left cached


@needs_cc
def test_missing_library_is_a_link_error():
    with pytest.raises(cx.CompileError, match="cannot find -lno_such_lib_cx") as info:
        cx.compile("int f(void) { return 1; }", backend="cc", libraries=["no_such_lib_cx"])
    assert info.value.summary == "C link failed"
    assert info.value.errors[0].file == "ld"


@needs_cc
def test_closed_module_refuses_calls_and_code_is_unloaded_when_unreferenced():
    lib = cx.compile("int seven(void) { return 7; }", backend="cc")
    seven = lib.seven
    lib.close()
    assert lib.closed
    with pytest.raises(cx.ClosedError):
        seven()
    lib = cx.compile("int eight(void) { return 8; }", backend="cc")
    code = weakref.ref(lib._code)
    f = lib.eight
    del lib
    gc.collect()
    assert f() == 8  # the bound function keeps the object loaded
    del f
    gc.collect()
    assert code() is None


WAIT_FOR_ANSWER = r"""
#include <time.h>
/* flags[0] = 1 says "I am in C"; then wait up to max_ms for flags[1], the answer of another thread */
int wait_for_answer(volatile int *flags, long max_ms) {
    struct timespec t = {0, 1000000L};
    flags[0] = 1;
    for (long i = 0; i < max_ms; i++) {
        if (flags[1]) return 1;
        nanosleep(&t, 0);
    }
    return 0;
}
"""


def answered(lib, max_ms):
    """Whether a Python thread could answer a call waiting in C (a rendezvous: it needs the GIL)."""
    flags, result = np.zeros(2, dtype=np.int32), []
    worker = threading.Thread(target=lambda: result.append(lib.wait_for_answer(flags, max_ms)))
    worker.start()
    while not flags[0]:
        time.sleep(0.001)
    flags[1] = 1  # Python code: runs only once the GIL is free
    worker.join()
    return result == [1]


@needs_cc
def test_calls_release_the_gil():
    """(How long calls in threads take is measured by ``python -m cx.bench``, runtime section.)"""
    assert answered(cx.compile(WAIT_FOR_ANSWER, backend="cc"), max_ms=60_000)


@needs_cc
def test_the_gil_detector_fails_for_a_call_that_holds_it():
    assert not answered(cx.compile(WAIT_FOR_ANSWER, backend="cc", hold_gil=["wait_for_answer"]), max_ms=300)


@needs_cc
def test_include_dirs_defines_libraries_and_local_headers(tmp_path, monkeypatch):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "answer.h").write_text("#define ANSWER 42\n")
    (tmp_path / "local.h").write_text("#define LOCAL 1\n")
    monkeypatch.chdir(tmp_path)
    lib = cx.compile('#include "answer.h"\n#include "local.h"\n#include <math.h>\n'
                     "double f(double x) { return ANSWER + LOCAL + SCALE * cbrt(x); }",
                     backend="cc", include_dirs=["inc"], defines={"SCALE": 2}, libraries=["m"])
    assert lib.f(27.0) == 49.0


# -- options and the compiler ---------------------------------------------------------------------

@pytest.mark.parametrize("option", ["-o", "-c", "-S", "-E", "-x", "-shared", "-static", "-Wl,-rpath,/tmp",
                                    "-Wa,-x", "-B/tmp", "@file", "-save-temps", "-fplugin=x.so", "-m32",
                                    "-fdiagnostics-format=json", "--sysroot=/", "-b", "-bt", "-run"])
def test_refused_options(option):
    with pytest.raises(cx.OptionError, match="backend 'cc'"):
        cc.check_options([option])


def test_allowed_options_and_relative_dirs_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    opts = ["-O3", "-march=native", "-ffast-math", "-Wall", "-Werror", "-g", "-std=c11", "-DX=1", "-UY",
            "-Iinc", "-lm", "-pthread", "-fopenmp", "-mavx2", "-Ofast", "-w"]
    checked = cc.check_options(opts)
    assert checked[opts.index("-Iinc")] == "-I" + str(tmp_path / "inc")


@needs_cc
def test_user_options_reach_the_compiler(compiles):
    lib = cx.compile("int f(void) { return X; }\n#ifndef __OPTIMIZE__\n#error not optimised\n#endif",
                     backend="cc", options="-O3 -DX=4")
    assert lib.f() == 4
    argv = compiles[0]
    assert argv.index("-O3") > argv.index("-O2")  # the user's -O wins


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang is not installed (apt-get install clang)")
def test_clang_compiles_and_reports_cell_lines():
    lib = cx.compile(SOURCE, backend="cc", compiler="clang", options="-O3")
    assert lib.norm(np.array([3.0, 4.0]), 2) == 5.0
    with pytest.raises(cx.CompileError) as info:
        cx.compile("int f(void) {\n  return x;\n}\n", backend="cc", compiler="clang")
    assert [(d.line, d.column) for d in info.value.errors] == [(2, 10)]
    assert info.value.errors[0].message == "use of undeclared identifier 'x'"


def test_unknown_compiler_is_an_option_error():
    with pytest.raises(cx.OptionError, match="no-such-cc-here"):
        cx.compile("int f(void) { return 1; }", backend="cc", compiler="no-such-cc-here")


def test_compiler_without_backend_cc_is_an_option_error():
    with pytest.raises(cx.OptionError, match="backend='cc'"):
        cx.compile("int f(void) { return 1; }", compiler="gcc")


def test_no_compiler_installed_says_how_to_get_one(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CC", raising=False)
    with pytest.raises(cx.CxError, match="apt-get install gcc"):
        cx.compile("int f(void) { return 1; }", backend="cc")


@needs_cc
def test_cc_environment_variable_names_the_compiler(monkeypatch, compiles):
    monkeypatch.setenv("CC", "gcc" if shutil.which("gcc") else "cc")
    assert cx.compile("int f(void) { return 3; }", backend="cc").f() == 3
    assert os.path.basename(compiles[0][0]).startswith(("gcc", "x86_64", "aarch64", "cc"))


# -- the cache --------------------------------------------------------------------------------------

@needs_cc
def test_cache_hit_compiles_nothing(compiles, cache):
    first = cx.compile(SOURCE, backend="cc")
    assert len(compiles) == 1
    second = cx.compile(SOURCE, backend="cc")
    assert len(compiles) == 1
    assert second.add(1, 2) == 3 and second._code.path == first._code.path
    cx.compile(SOURCE, backend="cc", options="-O1")  # another setting, another entry
    cx.compile(SOURCE + "\n", backend="cc")  # another source
    assert len(compiles) == 3
    names = sorted(os.listdir(cache))
    assert len([n for n in names if n.endswith(".json")]) == 3
    assert not [n for n in names if n.startswith("build-")]  # temporary build directories are gone


@needs_cc
def test_cache_survives_a_new_process(cache):
    cx.compile(SOURCE, backend="cc")
    script = textwrap.dedent(f"""
        import cx
        from cx.build.backends import cc
        def refuse(argv, cwd):
            raise AssertionError("compiled again: " + " ".join(argv))
        cc._run = refuse
        print(cx.compile({SOURCE!r}, backend="cc").add(20, 22))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=dict(os.environ, CX_CACHE_DIR=str(cache)), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "42"


def _later(path):
    """Give ``path`` an mtime one second after its current one (whatever the clock's resolution)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


@needs_cc
def test_a_changed_header_is_compiled_again(tmp_path, compiles):
    header = tmp_path / "k.h"
    header.write_text("#define K 1\n")
    src = '#include "k.h"\nint k(void) { return K; }'

    def k():
        return cx.compile(src, backend="cc", include_dirs=[str(tmp_path)]).k()

    assert (k(), k(), len(compiles)) == (1, 1, 1)  # unchanged: the second comes from the cache
    size = header.stat().st_size
    header.write_text("#define K 2\n")  # the same size: only the mtime tells
    _later(header)
    assert header.stat().st_size == size
    assert (k(), len(compiles)) == (2, 2)
    _later(header)  # touched, the text unchanged: the mtime alone is a change
    assert (k(), len(compiles)) == (2, 3)
    assert (k(), len(compiles)) == (2, 3)


@needs_cc
def test_cache_key_holds_the_compiler_version_and_cx_version(monkeypatch, compiles):
    src = "int f(void) { return 5; }"
    real_identify, real_version = cc.identify, cc.__version__

    def f():
        return cx.compile(src, backend="cc").f()

    assert (f(), f(), len(compiles)) == (5, 5, 1)
    monkeypatch.setattr(cc, "identify", lambda argv0: real_identify(argv0) + "\n(another build of it)")
    assert (f(), len(compiles)) == (5, 2)  # the same compiler binary, another --version text
    monkeypatch.setattr(cc, "__version__", real_version + ".post1")
    assert (f(), len(compiles)) == (5, 3)  # another cx
    monkeypatch.setattr(cc, "identify", real_identify)
    monkeypatch.setattr(cc, "__version__", real_version)
    assert (f(), len(compiles)) == (5, 3)  # back as it was: the first entry again


def test_cache_directory_is_created_private(cache):
    path = cc.cache_dir()
    assert path == str(cache)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700


def test_cache_directory_open_to_others_is_repaired(cache):
    cache.mkdir(mode=0o777)
    os.chmod(cache, 0o777)
    cc.cache_dir()
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700


def test_shared_sticky_directory_like_tmp_is_refused_not_chmodded(cache):
    cache.mkdir()
    os.chmod(cache, 0o1777)
    with pytest.raises(cx.CxError, match="shared directory"):
        cc.cache_dir()
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o1777


def test_cache_directory_readable_by_others_is_left_alone(cache):
    cache.mkdir()
    os.chmod(cache, 0o755)  # e.g. CX_CACHE_DIR pointed at a project directory: not ours to lock
    cc.cache_dir()
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o755


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory to another user")
def test_cache_directory_of_another_user_is_refused(cache):
    cache.mkdir(mode=0o700)
    os.chown(cache, 65534, 65534)
    with pytest.raises(cx.CxError, match="belongs to user id 65534"):
        cc.cache_dir()


def test_cache_directory_default_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("CX_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cc.cache_dir() == str(tmp_path / "xdg" / "cx")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cc.cache_dir() == str(tmp_path / "home" / ".cache" / "cx")


@needs_cc
def test_cache_record_and_clear_cache(cache):
    cx.compile("int f(void) { return 1; }", backend="cc")
    (record,) = [n for n in os.listdir(cache) if n.endswith(".json")]
    data = json.loads((cache / record).read_text())
    assert (cache / data["so"]).is_file() and data["so"].startswith(record[:-5])
    assert cc.clear_cache() == 2
    assert os.listdir(cache) == []


# -- linking across modules -------------------------------------------------------------------------

@needs_cc
def test_link_to_tinycc_module_and_back():
    first = cx.compile("long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); } int base = 10;")
    second = cx.compile("long fib(int n); extern int base;\n"
                        "long fib_plus(int n) { return fib(n) + base; }\n"
                        "int bump(void) { return ++base; }", backend="cc", link=[first])
    assert second.fib_plus(10) == 65
    assert second.bump() == 11 and first.base == 11  # the same variable, not a copy
    third = cx.compile("long fib_plus(int n); long twice(int n) { return 2 * fib_plus(n); }", link=[second])
    assert third.twice(10) == 132
    fourth = cx.compile("long twice(int n); long quad(int n) { return 2 * twice(n); }",
                        backend="cc", link=[third])
    assert fourth.quad(10) == 264
    first.close()  # linked modules keep its code alive
    assert fourth.quad(10) == 264


# -- gcc's message format (no compiler needed) --------------------------------------------------------

GCC_OUTPUT = """\
<cell>: In function 'f':
<cell>:3:9: error: 'x' undeclared (first use in this function)
    3 |         return x;
      |                ^
<cell>:3:9: note: each undeclared identifier is reported only once for each function it appears in
<cell>: At top level:
<cell>:5:22: warning: initialization of 'int' from 'char *' makes integer from pointer without a cast [-Wint-conversion]
In file included from /usr/include/stdio.h:27,
                 from <cell>:1:
/usr/include/x86_64-linux-gnu/bits/libc-header-start.h:33:3: warning: #warning "old" [-Wcpp]
<cell>:9:10: fatal error: nope.h: No such file or directory
compilation terminated.
/usr/bin/ld: cannot find -lnope: No such file or directory
collect2: error: ld returned 1 exit status
"""


def test_parse_diagnostics_reads_gcc_columns_and_skips_context_and_caret_lines():
    got = parse_diagnostics(GCC_OUTPUT)
    assert [(d.line, d.column, d.severity, d.file) for d in got] == [
        (3, 9, "error", "<cell>"),
        (5, 22, "warning", "<cell>"),
        (33, 3, "warning", "/usr/include/x86_64-linux-gnu/bits/libc-header-start.h"),
        (9, 10, "error", "<cell>"),
        (None, None, "error", "ld"),
    ]
    assert got[0].message == ("'x' undeclared (first use in this function)\nnote: each undeclared identifier "
                              "is reported only once for each function it appears in")
    assert got[2].message == 'In file included from /usr/include/stdio.h:27, from <cell>:1: #warning "old" [-Wcpp]'
    assert got[3].message == "nope.h: No such file or directory"
    assert got[4].message == "cannot find -lnope: No such file or directory"


def test_tinycc_messages_parse_as_before():
    got = parse_diagnostics("<cell>:3: error: 'x' undeclared\ntcc: error: undefined symbol 'nope'\n")
    assert [(d.line, d.column, d.file, d.message) for d in got] == [
        (3, None, "<cell>", "'x' undeclared"), (None, None, "tcc", "undefined symbol 'nope'")]
