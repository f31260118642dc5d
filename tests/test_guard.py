"""The crash and interrupt guard (cx/guard.py, libjit/guard.c).

Crashes are recovered in this process. What could end a process (a crash outside guarded code,
interrupts, faulthandler) runs in a child Python with a timeout, so a regression fails a test
instead of killing or hanging pytest.
"""
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import cx
from cx.build import unit
from cx.runtime import guard

CRASHY = r"""
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include <sys/mman.h>
int add(int a, int b) { return a + b; }
int deref(int *p) {
    return *p;
}
int divide(int a, int b) { return a / b; }
int recurse(int n) { volatile char pad[200]; pad[0] = (char)n; return recurse(n + 1) + pad[0]; }
void copy(char *dst) { memcpy(dst, "hello", 6); }
int check(int x) { assert(x > 0); return x; }
int at(long address) { return *(volatile int *)address; }
void ro(void) { char *p = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); p[1] = 0; }
"""


@pytest.fixture(scope="module")
def crashy():
    lib = cx.compile(CRASHY)
    yield lib
    lib.close()


def _raises(fn, *args):
    with pytest.raises(cx.CrashError) as info:
        fn(*args)
    return info.value


def test_null_dereference_raises_crash_error_naming_function_and_line(crashy):
    e = _raises(crashy.deref, None)
    assert type(e) is cx.CrashError and isinstance(e, RuntimeError) and isinstance(e, cx.CxError)
    assert str(e) == "deref() dereferenced a NULL pointer (SIGSEGV at address 0x0), at line 8 (in deref())."
    assert (e.signal, e.function, e.line, e.where, e.address, e.library, e.check) == (
        signal.SIGSEGV, "deref", 8, "deref", None, None, None)
    assert crashy.add(2, 3) == 5  # the next call works
    assert crashy.deref(ctypes.c_int(42)) == 42


def test_each_kind_of_crash_is_described(crashy):
    e = _raises(crashy.divide, 1, 0)
    assert e.signal == signal.SIGFPE and e.line == 10 and "divided an integer by zero" in str(e)
    e = _raises(crashy.recurse, 0)
    assert e.signal == signal.SIGSEGV and e.line == 11 and "overflowed the stack" in str(e)
    e = _raises(crashy.at, 0x1234)
    assert e.address == 0x1234 and "accessed invalid memory (SIGSEGV at address 0x1234)" in str(e)
    e = _raises(crashy.ro)
    assert "wrote to read-only memory or ran data as code" in str(e) and e.line == 15


def test_sigbus_and_sigill_name_the_signal_the_function_and_the_line(tmp_path):
    lib = cx.compile(r"""
        #include <fcntl.h>
        #include <sys/mman.h>
        #include <unistd.h>
        /* Maps a file, cuts the file short under the mapping, reads it: SIGBUS. */
        int bus(const char *path, long *where) {
            int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
            if (fd < 0 || ftruncate(fd, 4096) != 0) return -1;
            volatile char *p = mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0);
            if (p == MAP_FAILED || ftruncate(fd, 0) != 0) return -1;
            close(fd);
            *where = (long)(p + 100);
            return p[100];
        }
        void illegal(void) {
        #if defined(__x86_64__)
            __asm__("ud2");
        #endif
        }
        int next_call(int x) { return x + 1; }
    """)
    where = np.zeros(1, dtype=np.int64)
    e = _raises(lib.bus, str(tmp_path / "mapped"), where)
    assert (e.signal, e.function, e.where, e.line, e.address) == (signal.SIGBUS, "bus", "bus", 13, where[0])
    assert str(e) == f"bus() accessed invalid memory (SIGBUS at address {where[0]:#x}), at line 13 (in bus())."
    if __import__("platform").machine() in ("x86_64", "AMD64"):
        e = _raises(lib.illegal)
        assert (e.signal, e.function, e.line) == (signal.SIGILL, "illegal", 17)
        assert str(e) == "illegal() crashed with SIGILL, at line 17 (in illegal())."
    assert lib.next_call(1) == 2


def test_crash_inside_libc_names_the_library_and_the_calling_line(crashy):
    e = _raises(crashy.copy, None)
    assert e.library.startswith("libc.so") and e.line == 12 and e.where == "copy"
    assert str(e).startswith("copy() dereferenced a NULL pointer (SIGSEGV at address 0x0) inside libc.so")
    e = _raises(crashy.check, 0)  # assert() -> abort()
    assert e.signal == signal.SIGABRT and e.line == 13 and "called abort()" in str(e)
    assert crashy.check(3) == 3


def test_stack_overflow_is_recoverable_again_and_again(crashy):
    for _ in range(3):
        assert _raises(crashy.recurse, 0).line == 11
    assert crashy.add(1, 1) == 2


def test_crashes_in_many_threads_are_each_their_own(crashy):
    errors, results = [], []

    def work(i):
        for k in range(50):
            address = 0x1000 * (i + 1) + 8 * k
            try:
                crashy.at(address)
            except cx.CrashError as e:
                errors.append((i, e.address == address, e.line))
            results.append(crashy.add(i, k) == i + k)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 8 * 50 and all(ok and line == 14 for _, ok, line in errors)
    assert len(results) == 8 * 50 and all(results)


def test_functions_are_bound_to_the_c_function_itself_and_linking_works(crashy):
    exports = crashy.exports()  # the guard is entered by the call slot: no wrapper in between
    assert exports["deref"] == ctypes.cast(crashy.deref, ctypes.c_void_p).value
    user = cx.compile("int deref(int *p);\nint twice(int *p) { return 2 * deref(p); }", link=[crashy])
    assert user.twice(ctypes.c_int(4)) == 8
    e = _raises(user.twice, None)
    assert e.function == "twice" and e.where == "deref" and e.line == 8  # line of the other cell
    user.close()


def test_guard_covers_every_kind_of_signature():
    lib = cx.compile(r"""
        typedef struct { double x, y; } Point;
        Point mid(Point a, Point b) { Point m = { (a.x + b.x) / 2, (a.y + b.y) / 2 }; return m; }
        static int twice(int x) { return 2 * x; }
        int (*pick(int k))(int) { return k ? twice : 0; }
        void nothing(void) {}
        const char *label(int k) { return k ? "one" : "zero"; }
        unsigned long long big(unsigned char c, short s, float f, long double d) { return c + s + (long)f + (long)d; }
        int crash_struct(Point *p) { return (int)p->x; }
        Point crash_point(Point *p) { return *p; }
    """)
    assert lib._guarded
    m = lib.mid(lib.Point(0, 0), lib.Point(2, 4))
    assert (m.x, m.y) == (1, 2)
    assert lib.pick(1)(21) == 42 and not lib.pick(0)
    assert lib.nothing() is None and lib.label(1) == "one"
    assert lib.big(1, 2, 3.5, 4.0) == 10
    e = _raises(lib.crash_struct, None)
    assert (e.signal, e.function, e.where, e.line) == (signal.SIGSEGV, "crash_struct", "crash_struct", 9)
    # A struct result is returned by ctypes' own call, inside the guard: the crash abandons the
    # call, no struct (nor garbage) is returned, the CrashError is raised at the call site.
    got = []
    with pytest.raises(cx.CrashError) as info:
        got.append(lib.crash_point(None))
    assert got == [] and not lib.crash_point.info.fast
    assert str(info.value) == ("crash_point() dereferenced a NULL pointer (SIGSEGV at address 0x0), "
                               "at line 10 (in crash_point()).")
    assert (info.value.function, info.value.where, info.value.line) == ("crash_point", "crash_point", 10)
    m = lib.mid(lib.Point(1, 3), lib.Point(3, 7))  # the next struct result is whole
    assert (m.x, m.y) == (2, 5)
    assert (lib.crash_point(lib.Point(4, 8)).x, lib.crash_point(lib.Point(4, 8)).y) == (4, 8)


def test_generated_text_is_only_the_end_marker():
    d = cx.compile("int add(int, int);\nint add(int a, int b) { return a + b; }\nvoid f(double *v) {}\n").declarations
    assert unit.translation_unit("int x;", d, guard=True).endswith(
        '#line 1 "<cx-generated>"\nstatic void __cx_code_tail(void) {}\nvoid __cx_code_end(void) {}\n')
    assert "<cx-generated>" not in unit.translation_unit("int x;", d)


def test_wrappers_are_immune_to_the_sources_macros():
    # backend="cc" compiles the wrappers after the source itself, macros still defined: a
    # function-like macro named like the function, an object-like macro named like a type
    src = ("typedef long word;\nword twice(word x) { return 2 * x; }\n"
           "#define twice(x) oops\n#define word char\n")
    for backend in ("tcc", "cc") if shutil.which("cc") else ("tcc",):
        lib = cx.compile(src, backend=backend)
        assert lib._guarded and lib.twice(2**40) == 2**41


def test_constants_match_jit_h():
    header = (Path(__file__).resolve().parent.parent / "libjit" / "jit.h").read_text()
    assert f"#define JIT_GUARD_FRAME_SIZE {guard.FRAME_SIZE}\n" in header
    assert "#define JIT_GUARD_HOST_API 1\n" in header
    fields = [name for name, *_ in guard.Report._fields_]
    body = header[header.index("typedef struct jit_guard_report {"):header.index("} jit_guard_report;")]
    assert re.findall(r"^\s+(?:const\s+)?\w+\s+\*?(\w+)(?:\[\d+\])?;", body, re.M) == fields


def test_guard_false_binds_the_function_itself():
    lib = cx.compile("int one(void) { return 1; }", guard=False)
    assert not lib._guarded and lib.one() == 1
    assert ctypes.cast(lib.one, ctypes.c_void_p).value == lib.exports()["one"]
    with pytest.raises(cx.OptionError, match="check=True needs the crash guard"):
        cx.compile("int one(void) { return 1; }", check=True, guard=False)


def test_source_that_does_not_end_cleanly_gets_its_own_error():
    # The wrappers come after the source: its missing brace must not be blamed on them.
    with pytest.raises(cx.CompileError) as info:
        cx.compile("int f(void) { return 1;")
    assert all(d.file == "<cell>" for d in info.value.diagnostics)


def test_truncated_initializer_that_crashes_tinycc_is_a_compile_error():
    # Found by test_stress's garbage sources: TinyCC itself segfaults on this (its own tcc too).
    with pytest.raises(cx.CompileError) as info:
        cx.compile("typedef struct { double x, y; } Point;\nPoint mid(Point a, Point b) {\n"
                   "    Point m = { (a.x + b.")
    error = info.value.errors[0]
    assert error.message == "the compiler crashed (SIGSEGV) on this source, a bug of TinyCC's"
    assert error.file == "<cell>" and error.line in (3, 4)  # where TinyCC was: the end of the source
    assert cx.compile("int f(void) { return 7; }").f() == 7


def test_tinycc_crashing_on_libjits_own_thread_is_a_compile_error_too(monkeypatch):
    # with headers the source is compiled on a thread of libjit's own while its declarations are
    # read (cx.build.steps.EarlyCode): a crash there is caught as on the calling thread
    from cx.build.backends import tcc
    started, real = [], tcc.Started.finish

    def finish(self):
        try:
            return real(self)
        except cx.CompileError as exc:
            started.append(exc)
            raise

    monkeypatch.setattr(tcc.Started, "finish", finish)
    source = ("#include <stdio.h>\n#include <stdlib.h>\ntypedef struct { double x, y; } Point;\n"
              "Point mid(Point a, Point b) {\n    Point m = { (a.x + b.")
    for _ in range(2):  # the second from the prefix cache
        with pytest.raises(cx.CompileError) as info:
            cx.compile(source)
        error = info.value.errors[0]
        assert error.message == "the compiler crashed (SIGSEGV) on this source, a bug of TinyCC's"
        assert error.file == "<cell>" and error.line in (5, 6)
    # the compile on libjit's thread failed too (TinyCC's bug reads memory it never wrote: there it
    # may crash or report "field name expected"); the error the user gets is always the above
    assert started
    assert cx.compile("#include <stdio.h>\nint f(void) { return 7; }").f() == 7


def test_hold_gil_function_is_guarded_too():
    lib = cx.compile("int deref(int *p) { return *p; }", hold_gil=["deref"])
    e = _raises(lib.deref, None)
    assert e.function == "deref" and e.line == 1


def test_crash_in_a_function_called_from_a_python_callback():
    lib = cx.compile("int apply(int (*f)(int), int x) { return f(x) + 1; }\n"
                     "int deref(int *p) { return *p; }")
    assert lib.apply(lambda x: 2 * x, 20) == 41
    with pytest.raises(cx.CrashError) as info:  # raised in the callback, re-raised by apply
        lib.apply(lambda x: lib.deref(None), 1)
    assert info.value.function == "deref"
    assert lib.apply(lambda x: x, 1) == 2


# ---- checked mode ---------------------------------------------------------------------------

CHECKED = r"""
#include <stdlib.h>
int past(int i) {
    int a[4] = {1, 2, 3, 4};
    return a[i];
}
int twice(int n) { char *p = malloc(n); free(p); free(p); return n; }
int after(int n) { int *p = malloc(4 * sizeof *p); free(p); return p[n]; }
int heap(int n) { int *p = malloc(4 * sizeof *p); int v; p[n] = 7; v = p[n]; free(p); return v; }
"""


@pytest.fixture(scope="module")
def checked():
    lib = cx.compile(CHECKED, check=True)
    yield lib
    lib.close()


def test_checked_out_of_bounds_read_raises_bounds_error(checked):
    assert checked.past(3) == 4
    with pytest.raises(cx.BoundsError) as info:
        checked.past(1000)
    e = info.value
    assert isinstance(e, cx.CrashError) and e.line == 5 and e.function == "past"
    assert e.check.startswith("BCHECK: 0x") and " (size 4) is outside of the region (0x" in e.check
    assert re.fullmatch(r"past\(\) failed the bounds check: accessed 4 bytes at offset 4000 of a 16-byte object "
                        r"\(at 0x[0-9a-f]+\), 3984 bytes past its end, at line 5 \(in past\(\)\)\.", str(e)), str(e)
    assert checked.past(0) == 1


def test_checked_double_free_and_use_after_free(checked):
    with pytest.raises(cx.BoundsError) as info:  # TinyCC's checker calls exit(255) here
        checked.twice(8)
    assert info.value.signal == 0 and info.value.line == 7
    assert str(info.value) == "twice() failed the bounds check: freeing invalid region, at line 7 (in twice())."
    with pytest.raises(cx.BoundsError) as info:
        checked.after(0)
    assert info.value.line == 8
    with pytest.raises(cx.BoundsError) as info:  # a heap overflow is caught before it corrupts
        checked.heap(4)
    assert info.value.line == 9
    assert checked.heap(3) == 7 and checked.past(1) == 2


@pytest.mark.parametrize("message, words", [
    ("BCHECK: 0x1010 (size 4) is outside of the region (0x1000..0x100f)",
     "accessed 4 bytes at offset 16 of a 16-byte object (at 0x1000), just past its end"),
    ("BCHECK: 0x1014 (size 1) is outside of the region (0x1000..0x100f)",
     "accessed 1 byte at offset 20 of a 16-byte object (at 0x1000), 4 bytes past its end"),
    ("BCHECK: 0xff8 (size 8) is outside of the region (0x1000..0x100f)",
     "accessed 8 bytes at offset -8 of a 16-byte object (at 0x1000), 8 bytes before its start"),
    ("BCHECK: 0x100c (size 8) is outside of the region (0x1000..0x100f)",
     "accessed 8 bytes at offset 12 of a 16-byte object (at 0x1000), running past its end"),
    ("BCHECK: 0x1000 (size 4) is outside of the region (0x1000..0x1003)",
     "accessed 4 bytes at offset 0 of a 4-byte object (at 0x1000), which is no longer valid (freed, or a "
     "local variable of a function that returned)"),
    ("BCHECK: freeing invalid region", "freeing invalid region"),
])
def test_bounds_message_in_words(message, words):
    assert guard.bounds_in_words(message) == words


def test_checked_mode_needs_tinycc():
    with pytest.raises(cx.OptionError, match="bounds checker"):
        cx.compile("int f(void) { return 0; }", check=True, backend="cc")


# ---- the cost -------------------------------------------------------------------------------

def _per_call_ns(fn, n=100_000, repeat=7):
    import timeit

    return min(timeit.repeat(lambda: fn(2, 3), number=n, repeat=repeat)) / n * 1e9


@pytest.mark.slow
def test_guard_costs_under_ten_percent_of_a_scalar_call():
    src = "int add(int a, int b) { return a + b; }"
    guarded, plain = cx.compile(src), cx.compile(src, guard=False)
    costs = [(_per_call_ns(guarded.add), _per_call_ns(plain.add)) for _ in range(3)]
    g, p = min(c[0] for c in costs), min(c[1] for c in costs)
    assert g < 1.10 * p, f"guarded {g:.1f} ns vs unguarded {p:.1f} ns per call"


# ---- in a child process: what would end or hang this one ------------------------------------

def _child(code, timeout=60, args=()):
    """Run ``code`` in a fresh interpreter with SIGINT at its default (Python's handler)."""
    env = dict(os.environ, PYTHONFAULTHANDLER="")
    return subprocess.run([sys.executable, *args, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=env,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


INTERRUPTS = r"""
import os, signal, threading, time, cx
lib = cx.compile(r'''
#include <stdlib.h>
#include <unistd.h>
long spin(void) { volatile long x = 0; while (1) x++; return x; }
long churn(void) { long n = 0; for (;;) { void *p = malloc(100); free(p); n++; } return n; }
void nap(void) { for (;;) usleep(100000); }
int loop(int (*f)(int)) { int s = 0; for (;;) s += f(1); return s; }
int once(int (*f)(int)) { int s = f(1); for (;;) ; return s; }
int add(int a, int b) { return a + b; }
''')
def interrupted(fn, *args):
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
    try:
        fn(*args)
    except KeyboardInterrupt:
        return True
    return None
for name, args in [("spin", ()), ("churn", ()), ("nap", ()), ("loop", (lambda x: x,)),
                   ("once", (lambda x: time.sleep(30),))]:
    took = interrupted(getattr(lib, name), *args)
    print(name, "ok" if took is not None else "FAILED", lib.add(1, 2), flush=True)  # how fast: cx.bench
# holding the GIL, no Python thread can send it: a shell does
held = cx.compile("void spin(void) { for (;;) ; }", hold_gil=["spin"])
import subprocess
subprocess.Popen(["sh", "-c", f"sleep 0.3; kill -INT {os.getpid()}"])
try:
    held.spin()
except KeyboardInterrupt:
    print("held ok", flush=True)
"""


def test_interrupt_stops_a_runaway_loop_and_the_process_lives():
    result = _child(INTERRUPTS)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines == ["spin ok 3", "churn ok 3", "nap ok 3", "loop ok 3", "once ok 3", "held ok"], (
        result.stdout + result.stderr)


def test_interrupt_reaches_a_handler_set_later_with_signal_signal():
    result = _child(r"""
        import os, signal, threading, cx
        lib = cx.compile("void spin(void) { for (;;) ; }")
        class Stop(Exception): pass
        def handler(sig, frame): raise Stop()
        signal.signal(signal.SIGINT, handler)   # replaces cx's handler (as ipykernel does)
        cx.guard.install()                      # cx.compile and every IPython cell do this
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
        try:
            lib.spin()
        except Stop:
            print("stopped by the handler")
    """)
    assert result.stdout == "stopped by the handler\n", result.stderr


def test_faulthandler_still_reports_a_crash_outside_cx():
    crash_later = """
        import cx, ctypes, faulthandler
        lib = cx.compile("int deref(int *p) { return *p; }")
        try:
            lib.deref(None)
        except cx.CrashError:
            print("caught", flush=True)
        ctypes.string_at(0)   # a crash in Python, not in cx
    """
    for args, code in [(("-X", "faulthandler"), crash_later),
                       ((), crash_later.replace("import cx, ctypes, faulthandler",
                                                "import cx, ctypes, faulthandler; cx.guard.install(); "
                                                "faulthandler.enable()"))]:
        result = _child(code, args=args)
        assert result.returncode == -signal.SIGSEGV, (args, result.stderr)
        assert result.stdout == "caught\n"
        assert "Fatal Python error: Segmentation fault" in result.stderr
        # enabled after cx, faulthandler sees the guarded crash first (prints, then passes it on to
        # cx, which recovers the call) and is then off for SIGSEGV: enable it first (-X faulthandler)
        line = 8 if args else 5
        assert f'File "<string>", line {line} in <module>' in result.stderr


def test_crash_without_faulthandler_is_still_a_segfault():
    result = _child("""
        import cx, ctypes
        cx.compile("int f(void) { return 1; }").f()
        ctypes.string_at(0)
    """)
    assert result.returncode == -signal.SIGSEGV and result.stdout == ""


def test_crash_in_python_code_of_a_callback_is_not_caught():
    # The guard is suspended while a Python callback runs: a crash there is Python's.
    result = _child("""
        import cx, ctypes
        lib = cx.compile("int apply(int (*f)(int)) { return f(1); }")
        lib.apply(lambda x: ctypes.string_at(0) and 0)
    """)
    assert result.returncode == -signal.SIGSEGV, result.stderr


def test_unguarded_crash_ends_the_process():
    result = _child("""
        import cx
        cx.compile("int deref(int *p) { return *p; }", guard=False).deref(None)
    """)
    assert result.returncode == -signal.SIGSEGV


# ---- in a real kernel -----------------------------------------------------------------------

@pytest.fixture
def kernel():
    jupyter_client = pytest.importorskip("jupyter_client")
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3")
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _execute(kc, code, timeout=60):
    for _ in range(2):
        msg_id = kc.execute(code)
        while True:
            reply = kc.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        # ipykernel aborts a request that reaches it while it still aborts the queue after an
        # error (stop_on_error): that request never ran, so send it once more.
        if reply["content"]["status"] != "aborted":
            break
    return reply["content"]


def test_interrupt_button_stops_a_cell_and_a_crash_is_an_exception_in_a_kernel(kernel):
    km, kc = kernel
    setup = _execute(kc, 'import cx\nlib = cx.compile("void spin(void) { for (;;) ; }\\n'
                         'int deref(int *p) { return *p; }")')
    assert setup["status"] == "ok", setup
    msg_id = kc.execute("lib.spin()")
    time.sleep(1.0)
    km.interrupt_kernel()
    while True:
        reply = kc.get_shell_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    crash = _execute(kc, "lib.deref(None)")
    assert crash["status"] == "error" and crash["ename"] == "CrashError"
    assert "dereferenced a NULL pointer" in crash["evalue"]
    assert _execute(kc, "print(1 + 1)")["status"] == "ok"  # alive
    assert km.is_alive()


def bench():
    """Print the per-call cost of the guard (the README's table): ``python tests/test_guard.py``."""
    import statistics
    import timeit

    src = "int add(int a, int b) { return a + b; }"
    guarded, plain = cx.compile(src), cx.compile(src, guard=False)
    held, held_plain = cx.compile(src, hold_gil=["add"]), cx.compile(src, hold_gil=["add"], guard=False)
    raw = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_int)(plain.exports()["add"])
    fns = {"raw ctypes CFUNCTYPE": raw, "cx, guard=False": plain.add, "cx, guarded (default)": guarded.add,
           "cx, hold_gil, guard=False": held_plain.add, "cx, hold_gil, guarded": held.add}
    n, times = 200_000, {k: [] for k in fns}
    for _ in range(15):  # interleaved, so that drift hits all alike
        for k, f in fns.items():
            times[k].append(timeit.timeit("f(2, 3)", globals={"f": f}, number=n) / n * 1e9)
    for k, v in times.items():
        print(f"{k:26s} median {statistics.median(v):6.1f} ns   min {min(v):6.1f} ns")
    g, p = statistics.median(times["cx, guarded (default)"]), statistics.median(times["cx, guard=False"])
    print(f"guard: {g - p:+.1f} ns per call = {(g - p) / p * 100:+.1f}% of an unguarded scalar call")


if __name__ == "__main__":
    bench()


def test_cc_backend_calls_are_guarded_and_interruptible(tmp_path, monkeypatch, sigint_arrives):
    monkeypatch.setenv("CX_CACHE_DIR", str(tmp_path / "cache"))
    lib = cx.compile("int deref(int *p) { return *p; }\nvoid spin(volatile int *stop) { while (!*stop) ; }",
                     backend="cc")
    with pytest.raises(cx.CrashError, match="deref"):
        lib.deref(None)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        lib.spin(np.zeros(1, dtype=np.int32))
    timer.join()


@pytest.mark.skipif(__import__("platform").machine() not in ("x86_64", "AMD64"), reason="x86-64 inline asm")
def test_crash_on_the_first_instruction_of_a_line_names_that_line():
    # TinyCC's line lookup gives a line's first byte to the line before; the faulting instruction
    # here (ud2) is the first of line 3, which the report named as line 2.
    lib = cx.compile("void boom(int *q) {\n    int a = 1;\n    __asm__(\"ud2\");\n    *q = a;\n}\n")
    with pytest.raises(cx.CrashError) as info:
        lib.boom(None)
    assert (info.value.signal, info.value.line) == (signal.SIGILL, 3)
