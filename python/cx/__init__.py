"""cx: in-memory C for notebooks.

Write C, compile it in memory with an embedded TinyCC, and call it from Python at once::

    >>> import cx
    >>> lib = cx.compile("int add(int a, int b) { return a + b; }")
    >>> lib.add(2, 3)
    5

Every call releases the GIL while C runs. In IPython or Jupyter, ``%load_ext cx`` adds the
``%%cx`` cell magic.

The package, in layers that import only downwards: :mod:`cx.errors`; ``cx.cread`` (reading C);
``cx.build`` (build records, the unit, backends, libjit); ``cx.runtime`` (crash guard, output
capture); ``cx.bind`` (ctypes types and bound functions); :mod:`cx.module` (``compile``,
``Module``) and :mod:`cx.files`; :mod:`cx.recipe` (pickling); ``cx.tools`` (asm, layouts,
timeit); ``cx.magics`` on top. ``cx.bench`` stands outside.
"""
from ._version import __version__
from .bind import BindingError, CString, FunctionInfo, Pointer, string_at
from .errors import (BoundsError, ClosedError, CompileError, CrashError, CxError, Diagnostic, OptionError,
                     PicklingError)
from .files import include, install_import_hook, load, uninstall_import_hook
from .module import Module, compile
from .runtime import capture, guard
from .tools import asm, ctimeit, layouts
from .tools.ctimeit import timeit
from .tools.layouts import layout
from . import recipe
from .build import libjit as _libjit

_libjit.preload()  # the compiler is ready after import cx: a first cell pays only for its compile

__all__ = ["compile", "Module", "Pointer", "CString", "FunctionInfo", "CxError", "CompileError", "Diagnostic",
           "ClosedError", "CrashError", "BoundsError", "OptionError", "BindingError", "PicklingError", "load", "include", "string_at",
           "layout", "timeit", "install_import_hook", "uninstall_import_hook", "load_ipython_extension",
           "unload_ipython_extension"]


def load_ipython_extension(ipython):
    """``%load_ext cx``: register the ``%%cx`` magic (see :mod:`cx.magics`)."""
    from .magics import load_ipython_extension as load  # IPython is imported only when it asks

    load(ipython)


def unload_ipython_extension(ipython):
    """``%unload_ext cx``."""
    from .magics import unload_ipython_extension as unload

    unload(ipython)
