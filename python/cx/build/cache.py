"""This process's modules by build record: what pickling rebuilds, compiled once per process.

Unpickling a module (or a function or struct of it) asks :func:`module_for` for the module its
:class:`cx.build.record.Build` describes: the one compiled here by the user (seen when it was
pickled: in the process that compiled it, unpickling gives back that very module), else one rebuilt
here earlier, else one compiled now by ``make(record)`` and kept for the life of the process.
Receiving the same function a thousand times compiles it once.
"""
from __future__ import annotations

import os
import threading
import weakref

from ..errors import CompileError

__all__ = ["module_for", "remember", "ship", "set_builder", "cache_info", "clear_cache", "rebuilt_module",
           "rebuilt_function", "rebuilt_struct", "rebuilt_struct_value"]

_lock = threading.RLock()  # one rebuild at a time (links rebuild inside it)
_built = {}  # key -> Module rebuilt in this process from a record
_local = weakref.WeakValueDictionary()  # key -> Module compiled here by the user (seen at pickling)
_stats = {"builds": 0, "hits": 0}


def _after_fork_in_child():
    global _lock
    _lock = threading.RLock()  # another thread of the parent may have held it at the fork


os.register_at_fork(after_in_child=_after_fork_in_child)


def remember(module, record) -> None:
    """``module`` (compiled here by the user) is what ``record`` builds: unpickling it in this
    process gives it back."""
    if module is not None and record.key not in _built:
        _local[record.key] = module


def module_for(record, make):
    """The module ``record`` builds: from this process's cache, else ``make(record)`` (and cached).

    Raises
    ------
    CompileError
        From ``make``: the record does not compile here (a header missing on this machine).
    """
    key = record.key
    module = _built.get(key) or _local.get(key)
    if module is not None and not module.closed:
        _stats["hits"] += 1
        return module
    with _lock:
        module = _built.get(key)
        if module is not None and not module.closed:
            _stats["hits"] += 1
            return module
        module = make(record)
        _built[key] = module
        _stats["builds"] += 1
        return module


def cache_info() -> dict:
    """This process's rebuilt modules: ``{"builds": compiles, "hits": reuses, "modules": kept}``."""
    return {"builds": _stats["builds"], "hits": _stats["hits"], "modules": len(_built)}


def clear_cache() -> None:
    """Forget the modules rebuilt in this process (functions already unpickled keep working)."""
    with _lock:
        _built.clear()
        _stats.update(builds=0, hits=0)


# ---- unpickling ---------------------------------------------------------------------------------

_builder = []  # make(record) -> Module: cx.module registers build_module's rebuild (set_builder)


def set_builder(make) -> None:
    """Use ``make(record)`` to compile a record this process has no module for (:mod:`cx.module`
    registers it when it is imported)."""
    _builder[:] = [make]


def ship(record, what, *, function=None, module=None):
    """The record to pickle for ``what`` (a module, or its ``function``), after checking that it
    can travel (:meth:`cx.build.record.Build.check_shippable`); ``module``, compiled here, is what
    unpickling it in this process gives back."""
    record.check_shippable(what, function)
    remember(module, record)
    return record


def rebuilt_module(record):
    """Unpickling a module: the one ``record`` builds in this process."""
    return module_for(record, _builder[0])


def rebuilt_function(record, name):
    """Unpickling a function: ``name`` of the module ``record`` builds, or a stand-in that raises
    the compile error when called."""
    try:
        return rebuilt_module(record)[name]
    except CompileError as exc:
        return _Unbuilt(record, name, exc)


def rebuilt_struct(record, name):
    """Unpickling a struct or union class."""
    return rebuilt_module(record)._types.struct(name)


def rebuilt_struct_value(record, name, data):
    """Unpickling a struct or union value: its class, made from the bytes."""
    return rebuilt_struct(record, name).from_buffer_copy(data)


class _Unbuilt:
    """Stands for a function whose module failed to rebuild here; calling it raises the error.

    Raised at the call, not at unpickling: a task that fails to unpickle is lost by
    ``multiprocessing.Pool`` (the pool then waits forever), while an exception from the call
    reaches the caller.
    """

    def __init__(self, record, name, error):
        self._record, self.__name__, self._error = record, name, error

    def __call__(self, *args, **kwargs):
        raise self._error.with_traceback(None)

    def __reduce__(self):
        return rebuilt_function, (self._record, self.__name__)

    def __repr__(self):
        return f"<cx function {self.__name__}() that could not be rebuilt here: {self._error.summary}>"
