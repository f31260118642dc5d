"""The %%cx magic end to end: notebooks executed by nbclient on a real ipykernel kernel.

One kernel serves the module (cells appended to one notebook and run one by one); two tests that
need a fresh kernel (Run All stopping at an error, the hang detector) start their own.
"""
import os
import re
import subprocess
import sys
import time

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
kernelspec = pytest.importorskip("ipykernel.kernelspec")
from nbclient.exceptions import CellExecutionError, CellTimeoutError  # noqa: E402

HELLO = """%%cx
#include <stdio.h>
long fib(int n) { long a = 0, b = 1; while (n--) { long t = a + b; a = b; b = t; } return a; }
void hello(const char *who) { printf("hello, %s\\n", who); }
"""

FIVE_MB = r"""
#include <stdio.h>
#include <string.h>
void megabytes(int n) {
    static char block[1 << 20];
    memset(block, 'x', sizeof block);
    for (int i = 0; i < n; i++) fwrite(block, 1, sizeof block, stdout);
    fflush(stdout);
}
"""


@pytest.fixture(scope="module")
def jupyter_dir(tmp_path_factory):
    """A kernelspec "python3" that runs this interpreter (the one with cx), in a private JUPYTER_PATH."""
    root = tmp_path_factory.mktemp("jupyter")
    kernelspec.install(prefix=str(root), kernel_name="python3")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(root / "share" / "jupyter"))
        mp.setenv("JUPYTER_RUNTIME_DIR", str(root / "runtime"))
        mp.setenv("IPYTHONDIR", str(root / "ipython"))
        yield root


# Jupyter's limit, 3 MB, over an hour instead of 3 s: the same cut however slowly a busy machine prints
# (a flood slower than 1 MB/s is never cut by the default, whose numbers tests/test_flood.py checks)
HOUR_LIMIT = "capture.limit_rate(3_000_000 / 3600, 3600)"
HOUR = "from cx.runtime import capture\n" + HOUR_LIMIT


def new_client(nb, root, **kwargs):
    kwargs.setdefault("timeout", 60)
    kwargs.setdefault("shutdown_kernel", "immediate")
    return nbclient.NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(root)}},
                                   **kwargs)


def kernel_options():
    """Start the kernel as Jupyter does. ipykernel turns off its capture of fd 1 and 2 when it sees
    PYTEST_CURRENT_TEST, which would hide both the bug (ipykernel#752) and C output's usual path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    return {"env": env, "stdout": subprocess.DEVNULL}


class Kernel:
    """A running kernel: ``run(source)`` appends a cell, executes it and returns it."""

    def __init__(self, client, nb):
        self.client = client
        self.nb = nb

    def run(self, source):
        cell = nbformat.v4.new_code_cell(source)
        self.nb.cells.append(cell)
        return self.client.execute_cell(cell, len(self.nb.cells) - 1)


@pytest.fixture(scope="module")
def kernel(jupyter_dir):
    nb = nbformat.v4.new_notebook()
    client = new_client(nb, jupyter_dir)
    with client.setup_kernel(**kernel_options()):
        k = Kernel(client, nb)
        k.run("%load_ext cx")
        k.run(HOUR)
        yield k


def stream(cell, name="stdout"):
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == name)


def result(cell):
    return [o.data["text/plain"] for o in cell.outputs if o.output_type == "execute_result"]


def test_kernel_runs_the_python_that_has_cx(kernel):
    cell = kernel.run("import sys, cx\nprint(sys.executable)")
    assert stream(cell) == sys.executable + "\n"


def test_issue_example_prints_in_the_calling_cell_in_order(kernel):
    defining = kernel.run(HELLO)
    assert defining.outputs == []
    assert result(kernel.run("fib(90)")) == ["2880067194370816120"]
    cell = kernel.run('print("before")\nhello("notebook")\nprint("after")')
    assert stream(cell) == "before\nhello, notebook\nafter\n"


def test_line_without_newline_and_stderr(kernel):
    kernel.run('%%cx\n#include <stdio.h>\nvoid tail(void) { printf("no newline"); }\n'
               'void warn(void) { fprintf(stderr, "on stderr\\n"); }')
    assert stream(kernel.run("tail()")) == "no newline"
    cell = kernel.run('warn()\nprint("python")')
    assert (stream(cell, "stderr"), stream(cell)) == ("on stderr\n", "python\n")


def test_output_of_a_c_thread_lands_in_the_cell(kernel):
    kernel.run("%%cx -l pthread\n#include <pthread.h>\n#include <stdio.h>\n"
               'static void *work(void *arg) { printf("from a C thread\\n"); return arg; }\n'
               "void spawn(void) { pthread_t t; pthread_create(&t, 0, work, 0); pthread_join(t, 0); }")
    assert stream(kernel.run("spawn()")) == "from a C thread\n"


def test_compile_error_fails_the_cell_with_line_and_caret_only(kernel):
    with pytest.raises(CellExecutionError) as info:
        kernel.run("%%cx\nint fine(void) { return 1; }\nint bad(void) {\n    return nope;\n}")
    err = info.value
    assert err.ename == "CompileError"
    assert "<cell>:4: error: 'nope' undeclared\n        return nope;\n               ^" in err.traceback
    assert "Traceback" not in err.traceback and "File " not in err.traceback
    (output,) = [o for o in kernel.nb.cells[-1].outputs if o.output_type == "error"]
    assert len("".join(output.traceback).splitlines()) == 4  # summary, message, line, caret


def test_warning_is_shown_as_a_warning_and_cell_succeeds(kernel):
    cell = kernel.run("%%cx\nint pointer_from_int(void) {\n    char *p = 3;\n    return p != 0;\n}")
    shown = [o.data for o in cell.outputs if o.output_type == "display_data"]
    assert len(shown) == 1 and not stream(cell, "stderr")  # not the red box of errors
    assert "<cell>:3: warning: assignment makes pointer from integer without a cast" in shown[0]["text/plain"]
    assert "cx-warnings" in shown[0]["text/html"]
    assert shown[0]["application/vnd.cx.diagnostics+json"]["diagnostics"][0]["line"] == 3  # for the editor
    assert result(kernel.run("pointer_from_int()")) == ["1"]


def test_cross_cell_call_and_redefinition(kernel):
    kernel.run("%%cx\nint base(void) { return 10; }")
    kernel.run("%%cx\nint base(void);\nint first_user(void) { return base() + 1; }")
    kernel.run("%%cx\nint base(void) { return 20; }")
    kernel.run("%%cx\nint base(void);\nint second_user(void) { return base() + 1; }")
    assert result(kernel.run("base(), first_user(), second_user()")) == ["(20, 11, 21)"]


def test_rerun_reuses_unchanged_and_rebinds_edited(kernel):
    same = "%%cx -v\nint version(void) { return 1; }"
    assert "cx: compiled" in stream(kernel.run(same))
    assert "is unchanged: reused the compiled code" in stream(kernel.run(same))
    kernel.run("%%cx\nint version(void) { return 2; }")
    assert result(kernel.run("version()")) == ["2"]


KEPT = re.compile(r"\[cx: ([\d,]+) more lines? \(([\d,]+) bytes\) of C output are kept in (\S+); "
                  r"the last (\d+|line):\]\n")


def shown_and_kept(kernel, text):
    """The text a cell showed, without cx's summary lines, and the bytes of the files they name."""
    kept = b""
    for m in KEPT.finditer(text):
        kept += kernel_file(kernel, m.group(3))
        assert len(kept) and m.group(2).replace(",", "") == str(len(kernel_file(kernel, m.group(3))))
    return re.sub("\n?" + KEPT.pattern, "", text), kept  # a line cut in two is ended before the summary


def kernel_file(kernel, path):
    """The bytes of a file of the kernel (the kernel reads it: its temporary directory is its own)."""
    return eval(result(kernel.run(f"open({path!r}, 'rb').read()"))[0])


LINES = r"""%%cx
#include <stdio.h>
void count_lines(int n) { for (int i = 0; i < n; i++) printf("line %d of the output of a C loop\n", i); printf("done\n"); }
"""


def test_twenty_thousand_lines_are_shown_whole(kernel):
    kernel.run(LINES)
    text = stream(kernel.run("count_lines(20_000)"))  # about 900 kB: under Jupyter's own limit
    assert text == "".join(f"line {i} of the output of a C loop\n" for i in range(20_000)) + "done\n"


def test_a_hundred_thousand_lines_show_their_start_and_end_and_keep_the_rest(kernel):
    kernel.run(LINES)
    cell = kernel.run('count_lines(100_000)\nprint("python after")')
    text = stream(cell)
    expected = "".join(f"line {i} of the output of a C loop\n" for i in range(100_000)) + "done\n"
    (m,) = KEPT.finditer(text)
    before, after = text[:m.start()], text[m.end():]
    assert expected.startswith(before) and 2_000_000 < len(before) <= 2_900_000  # Jupyter's limit, whole lines
    assert after == "".join(expected.splitlines(True)[-20:]) + "python after\n"  # the end, then Python
    assert int(m.group(1).replace(",", "")) == expected.count("\n") - before.count("\n")
    assert kernel_file(kernel, m.group(3)).decode() == expected[len(before):]  # not one byte lost


def test_five_megabytes_in_one_call_do_not_hang(kernel):
    kernel.run("%%cx\n" + FIVE_MB)
    shown, kept = shown_and_kept(kernel, stream(kernel.run("megabytes(5)")))
    assert len(shown) + len(kept) - 16384 <= 5 * 2**20 <= len(shown) + len(kept) and kept  # the end shown twice
    assert set(shown) == set(kept.decode()) == {"x"}


def test_five_megabytes_with_the_gil_held_do_not_hang(kernel):
    """ipykernel#752: the hang the detector below catches without capture."""
    cell = kernel.run(f"import cx\nheld = cx.compile({FIVE_MB!r}, hold_gil=['megabytes'])\nheld.megabytes(5)")
    shown, kept = shown_and_kept(kernel, stream(cell))
    assert len(shown) + len(kept) >= 5 * 2**20 and kept


def test_all_five_megabytes_without_the_rate_limit(kernel):
    cell = kernel.run("from cx.runtime import capture\ncapture.limit_rate(None)\ntry:\n    megabytes(5)\n"
                      "finally:\n    " + HOUR_LIMIT)
    assert len(stream(cell)) == 5 * 2**20


def test_past_the_cap_the_cell_says_what_was_discarded(kernel):
    kernel.run(LINES)
    cell = kernel.run("from cx.runtime import capture\ncapture.limit_rate(3_000_000 / 3600, 3600, keep=100_000)\n"
                      "try:\n    count_lines(200_000)\nfinally:\n    " + HOUR_LIMIT)
    text = stream(cell)
    m = re.search(r"\[cx: ([\d,]+) more lines \(([\d,]+) bytes\) of C output, too many to keep: (\S+) holds the "
                  r"first 50,000 bytes \([\d,]+ lines\) and the last 50,000 \([\d,]+ lines\); ([\d,]+) bytes "
                  r"between them were discarded \(cap: 100,000 bytes\); the last 20:\]\n", text)
    assert m, text[-3000:]
    assert text.endswith("line 199999 of the output of a C loop\ndone\n")
    kept = kernel_file(kernel, m.group(3))
    number = lambda s: int(s.replace(",", ""))  # noqa: E731
    assert len(kept) > 100_000 and number(m.group(2)) - number(m.group(4)) == 100_000
    assert kept.endswith(b"done\n") and b"of C output discarded here: over the cap of 100,000 bytes kept]" in kept


def test_kept_output_is_removed_when_the_kernel_exits(jupyter_dir):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in ("%load_ext cx", HOUR, LINES, "count_lines(100_000)")]
    new_client(nb, jupyter_dir, shutdown_kernel="graceful").execute(**kernel_options())
    (m,) = KEPT.finditer(stream(nb.cells[3]))
    assert os.path.basename(os.path.dirname(m.group(3))).startswith("cx-output-")
    assert not os.path.exists(os.path.dirname(m.group(3)))


def test_run_all_stops_at_a_failed_compile(jupyter_dir):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in
                ("%load_ext cx", "%%cx\nint broken(void) { return }", 'print("must not run")')]
    with pytest.raises(CellExecutionError):
        new_client(nb, jupyter_dir).execute(**kernel_options())
    assert nb.cells[2].outputs == [] and nb.cells[2].execution_count is None


def test_hang_detector_catches_ipykernel_752_without_capture(jupyter_dir):
    """The detector fails on purpose: without %load_ext cx, 5 MB written with the GIL held hang."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"import cx\nheld = cx.compile({FIVE_MB!r}, hold_gil=['megabytes'])"),
                nbformat.v4.new_code_cell("held.megabytes(5)")]
    with pytest.raises(CellTimeoutError):  # nbclient's own timeout: the cell hangs
        new_client(nb, jupyter_dir, timeout=5).execute(**kernel_options())
