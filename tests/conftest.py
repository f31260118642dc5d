"""Shared fixtures and the --run-slow flag for long stress and benchmark runs."""
import signal

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


@pytest.fixture
def sigint_arrives():
    """For a test that interrupts its own process: skip at once where SIGINT is ignored (pytest
    started as a shell's background job, ``pytest &``, inherits SIG_IGN), where the interrupt
    would never arrive and the call it should stop would run forever."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        pytest.skip("SIGINT is ignored in this process (started as a background job?): "
                    "the interrupt this test sends itself would never arrive")
