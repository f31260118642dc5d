"""Pickling by recipe: a :class:`cx.Module`, its functions and its struct values travel as what rebuilds them.

Machine code cannot leave the process that compiled it, but the call that made it can. Every
module compiled by :func:`cx.compile` (or :func:`cx.load`) keeps its build record, its
:class:`Recipe` (:class:`cx.build.record.Build`): the source text and the ``cx.compile`` options,
the recipes of the modules it was linked to (``link=``), and for a file the path it was read from.
Functions and struct classes pickle through the module that owns them: pickling sends the
recipe and a name::

    cx.Module              -> (recipe,)
    bound function lib.f   -> (recipe, "f")
    struct value lib.P(..) -> (recipe, "P", the value's bytes)
    struct class lib.P     -> (recipe, "P")

Unpickling calls ``cx.compile`` again with the same arguments (milliseconds with TinyCC; a
``backend="cc"`` build comes from the on-disk cache) and keeps the module for the life of the
process, keyed by a hash of the recipe: receiving the same function a thousand times compiles it
once (:mod:`cx.build.cache`). In the process that compiled the module, unpickling gives back that
very module.

What travels is code, never state: a rebuilt module's C globals start at their initial values.
Local headers a source includes are not carried: they are read again, by path, on the receiving
machine (the same path works on one machine, in process pools and on a local Dask cluster).

A function whose module fails to rebuild on the receiving side (a header missing there) unpickles
as a stand-in that raises the :class:`cx.CompileError` when called. What cannot be shipped raises :class:`cx.PicklingError` when pickled, on the sending side: a
closed module, a module whose code uses Python's C API (``hold_gil`` functions taking or
returning ``PyObject *``, or a source that includes ``<Python.h>``), a struct value holding
pointers.
"""
from __future__ import annotations

from .bind import FunctionInfo, functions, types
from .build import cache
from .build.record import Build as Recipe
from .module import Module

__all__ = ["Recipe", "of", "cache_info", "clear_cache"]

cache_info = cache.cache_info
clear_cache = cache.clear_cache


def of(obj) -> Recipe:
    """The recipe of a module, bound function, struct class or struct value.

    Raises
    ------
    PicklingError
        ``obj`` has no recipe, or cannot be shipped (see the module's docstring).

    Examples
    --------
    >>> import cx
    >>> lib = cx.compile("int twice(int x) { return 2 * x; }", options="-Wall")
    >>> cx.recipe.of(lib.twice).options()["options"]
    ('-Wall',)
    """
    if isinstance(obj, Module):
        return obj._shippable(f"module '{obj.name}'")
    info = getattr(obj, "info", None)
    if isinstance(info, FunctionInfo):
        return functions.shipped_record(info)
    return types.shipped_record(obj if isinstance(obj, type) else type(obj))
