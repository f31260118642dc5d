"""Shared fixtures and the --run-slow flag for long stress and benchmark runs."""
import pytest


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run tests marked slow (stress, sanitizers, benchmarks)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def shell(tmp_path, monkeypatch):
    """A fresh in-process IPython shell with cx loaded (throwaway IPYTHONDIR); unloaded and
    discarded afterwards."""
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    import cx.magics

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    InteractiveShell.clear_instance()
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    sh = InteractiveShell.instance(config=config)
    sh.run_cell("%load_ext cx").raise_error()
    yield sh
    cx.magics.unload_ipython_extension(sh)
    InteractiveShell.clear_instance()
