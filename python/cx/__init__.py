"""cx: in-memory C for notebooks.

Write C, compile it in memory with an embedded TinyCC, and call it from Python at once::

    >>> import cx
    >>> lib = cx.compile("int add(int a, int b) { return a + b; }")
    >>> lib.add(2, 3)
    5

Every call releases the GIL while C runs. In IPython or Jupyter, ``%load_ext cx`` adds the
``%%cx`` cell magic.
"""
from .errors import (BoundsError, ClosedError, CompileError, CrashError, CxError, Diagnostic, OptionError,
                     PicklingError)
from .binding import BindingError, CString, Pointer
from .files import install_import_hook, load, uninstall_import_hook
from .module import Module, compile
from .layouts import layout
from .ctimeit import timeit
from ._version import __version__

__all__ = ["compile", "Module", "Pointer", "CString", "CxError", "CompileError", "Diagnostic", "ClosedError",
           "CrashError", "BoundsError", "OptionError", "BindingError", "PicklingError", "load", "layout", "timeit",
           "install_import_hook", "uninstall_import_hook", "load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython):
    """``%load_ext cx``: register the ``%%cx`` magic (see :mod:`cx.magics`)."""
    from .magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython):
    """``%unload_ext cx``."""
    from .magics import unload_ipython_extension as unload

    unload(ipython)
