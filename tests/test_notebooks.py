"""Every example notebook under notebooks/ runs top to bottom on a real Jupyter kernel, and shows
what its saved copy shows where that is certain.

The notebooks check their own results (``assert`` lines comparing with numpy or plain Python).
Cells tagged ``raises-exception`` (a compile error or a crash shown on purpose) must fail, with
the exception and message saved in the notebook; any other error fails the test. Cells tagged
``same-output`` must print and display what the saved notebook shows (C's printf output, error
messages, results), memory addresses aside. Notebooks whose metadata says ``"cx": {"slow": true}``
(long benchmarks) run only with --run-slow.
"""
import pathlib
import re

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
_ADDRESS = re.compile(r"0x[0-9a-f]{6,}")


def shown(cell):
    """What a code cell showed, in order: (kind, text) for its streams (consecutive writes to one
    stream joined), results (their text form) and errors, addresses masked."""
    parts = []
    for o in cell.outputs:
        if o.output_type == "stream":
            if parts and parts[-1][0] == o.name:
                parts[-1] = (o.name, parts[-1][1] + o.text)
            else:
                parts.append((o.name, o.text))
        elif o.output_type in ("execute_result", "display_data"):
            parts.append(("result", o.data.get("text/plain", "")))
        elif o.output_type == "error":
            parts.append(("error", f"{o.ename}: {o.evalue}"))
    return [(kind, _ADDRESS.sub("0x...", text)) for kind, text in parts]


def test_shown_joins_stream_writes_and_masks_addresses():
    cell = nbformat.v4.new_code_cell("f()", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="a\n"),
        nbformat.v4.new_output("stream", name="stdout", text="b at 0x7ffc30085ae4\n"),
        nbformat.v4.new_output("stream", name="stderr", text="warning\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": "40"}, execution_count=1),
        nbformat.v4.new_output("error", ename="CrashError", evalue="f() crashed", traceback=[])])
    assert shown(cell) == [("stdout", "a\nb at 0x...\n"), ("stderr", "warning\n"), ("result", "40"),
                           ("error", "CrashError: f() crashed")]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, request, tmp_path, monkeypatch):
    # ipykernel turns its fd-level output capture off when it sees this (inherited) variable;
    # the notebooks should run the way they run for a user.
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    nb = nbformat.read(path, as_version=4)
    if nb.metadata.get("cx", {}).get("slow") and not request.config.getoption("--run-slow"):
        pytest.skip("slow notebook: run with --run-slow")
    saved = {i: shown(cell) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"}
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        errors = [o for o in cell.outputs if o.output_type == "error"]
        expected = "raises-exception" in tags
        assert bool(errors) == expected, f"cell {cell.source[:60]!r}: errors={[(e.ename, e.evalue) for e in errors]}"
        if expected:
            assert [p for p in shown(cell) if p[0] == "error"] == [p for p in saved[i] if p[0] == "error"], \
                f"cell {cell.source[:60]!r}"
        if "same-output" in tags:
            assert shown(cell) == saved[i], f"cell {cell.source[:60]!r}"
