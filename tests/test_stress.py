"""Robustness: garbage sources, many compile/close cycles, many threads at once.

Default runs take a few seconds; ``--run-slow`` runs the long variants. Whatever could kill or
hang the interpreter runs in a child process with a timeout, and each detector (the child's
watchdog, the resident-memory bound) is first shown to fail on purpose.
"""
import json
import os
import random
import subprocess
import sys
import textwrap
import threading

import pytest

import cx

# ---- a child interpreter with a watchdog ----------------------------------------------------


def _child(code, timeout, stdin=""):
    """Run ``code`` in a fresh interpreter; TimeoutExpired if it hangs."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], input=stdin, capture_output=True,
                          text=True, timeout=timeout)


def test_the_watchdog_catches_a_hang():
    with pytest.raises(subprocess.TimeoutExpired):
        _child("while True: pass", timeout=1)


# ---- garbage in -----------------------------------------------------------------------------

CORPUS = [
    "int add(int a, int b) { return a + b; }\n",
    "#include <math.h>\ndouble norm(const double *v, long n) {\n    double s = 0;\n"
    "    for (long i = 0; i < n; i++) s += v[i] * v[i];\n    return sqrt(s);\n}\n",
    "typedef struct { double x, y; } Point;\nPoint mid(Point a, Point b) {\n"
    "    Point m = { (a.x + b.x) / 2, (a.y + b.y) / 2 };\n    return m;\n}\n",
    "#include <stdio.h>\n#include <string.h>\nint greet(char *out, const char *name) {\n"
    "    return sprintf(out, \"hello %s\", name) + (int)strlen(name);\n}\n",
    "static int counter;\nint bump(void) { return ++counter; }\nint get(void) { return counter; }\n",
    "enum color { RED, GREEN = 5, BLUE };\nint value(enum color c) {\n    switch (c) {\n"
    "    case RED: return 1;\n    case GREEN: return 2;\n    default: return 3;\n    }\n}\n",
    "#define SQUARE(x) ((x) * (x))\nlong sum_squares(int n) {\n    long s = 0;\n"
    "    while (n > 0) { s += SQUARE(n); n--; }\n    return s;\n}\n",
    "int apply(int (*f)(int), int x) { return f(x) + 1; }\nunion u { int i; float f; };\n"
    "float bits(int i) { union u v; v.i = i; return v.f; }\n",
    "#include <stdlib.h>\nint *make(int n) { int *p = calloc(n, sizeof *p);\n"
    "    for (int i = 0; i < n; i++) p[i] = i * i;\n    return p;\n}\nvoid drop(int *p) { free(p); }\n",
    "const char *names[] = { \"a\", \"b\", \"c\" };\nconst char *name(int i) { return names[i % 3]; }\n"
    "int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }\n",
]

_TOKENS = ["{", "}", "(", ")", ";", ",", "*", "&", "\"", "'", "/*", "*/", "//", "#", "#include", "#if 0",
           "#endif", "#define X(", "\\", "int", "struct", "typedef", "return", "...", "[", "]", "0x",
           "1e999", "'\\", "__attribute__((", "_Generic(", "asm(\"", "\n", "\x00", "é", "\t"]


def mutate(source, rng):
    """One deterministic mutation (or truncation) of ``source``."""
    n = len(source)
    kind = rng.randrange(7)
    i, j = sorted((rng.randrange(n + 1), rng.randrange(n + 1)))
    if kind == 0:
        return source[:i]  # truncated
    if kind == 1:
        return source[:i] + source[j:]  # a span deleted
    if kind == 2:
        return source[:i] + source[i:j] * 2 + source[j:]  # a span repeated
    if kind == 3:
        return source[:i] + rng.choice(_TOKENS) + source[i:]  # a token inserted
    if kind == 4:
        lines = source.split("\n")
        rng.shuffle(lines)
        return "\n".join(lines)  # lines shuffled
    if kind == 5:
        chars = list(source)
        for _ in range(rng.randrange(1, 6)):
            if chars:
                chars[rng.randrange(len(chars))] = rng.choice("{}()[];,*&\"'#/\\x0 \n")
        return "".join(chars)  # characters replaced
    return mutate(mutate(source, rng), rng)  # two at once


def garbage(count, seed=5):
    rng = random.Random(seed)
    return [mutate(rng.choice(CORPUS), rng) for _ in range(count)]


_COMPILE_ALL = r"""
import json, sys, cx
sources = json.load(sys.stdin)
for i, source in enumerate(sources):
    print("start", i, flush=True)
    try:
        m = cx.compile(source)
    except cx.CompileError:
        print("error", i, flush=True)
    except BaseException as exc:
        print("unexpected", i, type(exc).__name__, str(exc).replace("\n", " ")[:200], flush=True)
    else:
        try:
            m.functions  # binds every function
            print("ok", i, flush=True)
        except cx.CxError:  # e.g. a variadic function: compiled, but not callable from Python
            print("unbound", i, flush=True)
        m.close()
"""


def _compile_in_child(sources, timeout):
    result = _child(_COMPILE_ALL, timeout=timeout, stdin=json.dumps(sources))
    outcomes = {}
    last = None
    for line in result.stdout.splitlines():
        word, i, *rest = line.split(" ", 2)
        if word == "start":
            last = int(i)
        else:
            outcomes[int(i)] = (word, rest)
    return result, outcomes, last


def _check_garbage(sources, timeout):
    result, outcomes, last = _compile_in_child(sources, timeout)
    assert result.returncode == 0, (f"the interpreter died (status {result.returncode}) compiling source "
                                    f"#{last}:\n{sources[last]!r}\n{result.stderr[-2000:]}")
    unexpected = {i: o for i, o in outcomes.items() if o[0] == "unexpected"}
    assert not unexpected, [(sources[i], o) for i, o in list(unexpected.items())[:5]]
    assert len(outcomes) == len(sources)
    return outcomes


def test_garbage_sources_compile_or_raise_compile_error():
    sources = garbage(300)
    outcomes = _check_garbage(sources, timeout=120)
    kinds = [o[0] for o in outcomes.values()]
    assert kinds.count("ok") > 20 and kinds.count("error") > 150  # the mutations do both


@pytest.mark.slow
def test_garbage_sources_many():
    _check_garbage(garbage(5000, seed=11), timeout=900)


def test_garbage_detector_reports_a_death():
    # The detector itself: a source that kills the child must be named, not pass silently.
    result, outcomes, last = _compile_in_child(
        ["int f(void) { return 1; }", "__attribute__((constructor)) static void die(void) "
         "{ *(volatile int *)0 = 0; }"], timeout=60)
    assert result.returncode != 0 and last == 1 and outcomes == {0: ("ok", [])}


# ---- many cycles ----------------------------------------------------------------------------

_CYCLES = r"""
import gc, os, sys, cx
PAGE = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE
def cycles(n, keep):
    for i in range(n):
        m = cx.compile(f"static int k = {i};\nint f(int x) {{ return x + k; }}\n"
                       "double g(const double *v, long n) {{ double s = 0;\n"
                       "    for (long j = 0; j < n; j++) s += v[j];\n    return s; }}\n")
        assert m.f(1) == i + 1
        (keep.append if keep is not None else lambda m: m.close())(m)
warmup, n, leak = (int(a) for a in sys.argv[1:])
kept = [] if leak else None
cycles(warmup, None)
gc.collect()
before = rss()
cycles(n, kept)
gc.collect()
print(before, rss())
"""

#: Resident memory may grow by at most this much over the measured cycles (after a warmup): the
#: measured growth is about 0.2 MiB for 2,000 or 10,000 cycles; a leaked module is about 26 KiB.
RSS_BOUND = 4 * 2**20


def _rss_growth(warmup, n, leak, timeout):
    result = subprocess.run([sys.executable, "-c", _CYCLES, str(warmup), str(n), str(int(leak))],
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr
    before, after = (int(x) for x in result.stdout.split())
    return after - before


def test_thousands_of_compile_close_cycles_keep_memory_bounded():
    growth = _rss_growth(200, 2000, leak=False, timeout=120)
    assert growth <= RSS_BOUND, f"resident memory grew by {growth / 2**20:.1f} MiB over 2000 cycles"


def test_memory_bound_detects_a_deliberate_leak():
    # The same measurement with every module kept alive must exceed the bound.
    growth = _rss_growth(200, 300, leak=True, timeout=120)
    assert growth > RSS_BOUND, f"a leak of 300 modules grew memory by only {growth / 2**20:.1f} MiB"


@pytest.mark.slow
def test_many_more_compile_close_cycles():
    growth = _rss_growth(500, 20000, leak=False, timeout=900)
    assert growth <= RSS_BOUND, f"resident memory grew by {growth / 2**20:.1f} MiB over 20000 cycles"


# ---- concurrency ----------------------------------------------------------------------------

def _hammer(threads, rounds):
    start = threading.Barrier(threads)
    failures = []

    def work(t):
        start.wait()
        try:
            for r in range(rounds):
                k = t * 1000 + r
                m = cx.compile(f"long f(long x) {{ return x * {k} + {t}; }}\n"
                               f"int deref(int *p) {{ return *p; }}\n"
                               f"long loop(long n) {{ long s = 0; for (long i = 0; i < n; i++) s += i ^ {k}; "
                               f"return s; }}\n")
                if m.f(3) != 3 * k + t:
                    failures.append(("f", t, r))
                if m.loop(1000) != sum(i ^ k for i in range(1000)):
                    failures.append(("loop", t, r))
                try:
                    m.deref(None)
                    failures.append(("no crash", t, r))
                except cx.CrashError as e:
                    if e.function != "deref" or e.line != 2:
                        failures.append(("crash", t, r, str(e)))
                m.close()
        except BaseException as exc:  # reported below, with the thread that raised it
            failures.append(("exception", t, repr(exc)))

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for p in pool:
        p.start()
    for p in pool:
        p.join()
    return failures


def test_threads_compile_call_and_crash_at_the_same_time():
    assert _hammer(threads=8, rounds=25) == []


@pytest.mark.slow
def test_threads_hammer_long():
    assert _hammer(threads=16, rounds=300) == []
