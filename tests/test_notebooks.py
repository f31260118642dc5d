"""Every example notebook under notebooks/ runs top to bottom on a real Jupyter kernel.

Cells tagged ``raises-exception`` (a compile error shown on purpose) may fail; any other error
fails the test. Notebooks whose metadata says ``"cx": {"slow": true}`` (long benchmarks) run only
with --run-slow.
"""
import pathlib

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, request, tmp_path, monkeypatch):
    # ipykernel turns its fd-level output capture off when it sees this (inherited) variable;
    # the notebooks should run the way they run for a user.
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    nb = nbformat.read(path, as_version=4)
    if nb.metadata.get("cx", {}).get("slow") and not request.config.getoption("--run-slow"):
        pytest.skip("slow notebook: run with --run-slow")
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        expected = "raises-exception" in cell.metadata.get("tags", [])
        assert bool(errors) == expected, f"cell {cell.source[:60]!r}: errors={[(e.ename, e.evalue) for e in errors]}"
