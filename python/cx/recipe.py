"""Pickling by recipe: a :class:`cx.Module`, its functions and its struct values travel as what rebuilds them.

Machine code cannot leave the process that compiled it, but the call that made it can. Every
module compiled by :func:`cx.compile` (or :func:`cx.load`) remembers its :class:`Recipe`: the
source text and the ``cx.compile`` keyword arguments, the recipes of the modules it was linked to
(``link=``), and for a file the path it was read from. Pickling sends the recipe and a name::

    cx.Module              -> (recipe,)
    bound function lib.f   -> (recipe, "f")
    struct value lib.P(..) -> (recipe, "P", the value's bytes)
    struct class lib.P     -> (recipe, "P")

Unpickling calls ``cx.compile`` again with the same arguments (milliseconds with TinyCC; a
``backend="cc"`` build comes from the on-disk cache) and keeps the module for the life of the
process, keyed by a hash of the recipe: receiving the same function a thousand times compiles it
once. In the process that compiled the module, unpickling gives back that very module.

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

import copyreg
import ctypes
import dataclasses
import functools
import hashlib
import os
import threading
import weakref
from typing import Mapping, Optional

from .errors import CompileError, PicklingError

__all__ = ["Recipe", "of", "module_for", "cache_info", "clear_cache", "recorded"]

#: Part of every key: bumped when what a recipe means changes.
_FORMAT = 1

# cx.compile's keyword arguments that take an iterable (kept as tuples in a recipe).
_SEQUENCES = ("include_dirs", "library_dirs", "libraries", "options", "hold_gil")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """What rebuilds a module: ``cx.compile(source, link=[...], **arguments)``.

    Attributes
    ----------
    source : str
        The C source (for :func:`cx.load`, the file's text as it was read).
    arguments : tuple of (str, object)
        The other keyword arguments of ``cx.compile``, sorted by name (``link`` excluded).
    links : tuple of Recipe or None
        The recipes of the modules passed as ``link=``; None for a module cx cannot rebuild.
    file : str or None
        The absolute path of the file :func:`cx.load` read, or None. Names the file in compile
        errors on the receiving side; its directory is on the include path.
    """

    source: str
    arguments: tuple = ()
    links: tuple = ()
    file: Optional[str] = None

    @functools.cached_property
    def key(self) -> str:
        """A hash of everything in the recipe: equal recipes build equal modules."""
        h = hashlib.sha256()
        h.update(repr((_FORMAT, self.arguments, self.file)).encode())
        h.update(b"\0" + self.source.encode("utf-8", "surrogatepass"))
        for link in self.links:
            h.update(b"\0" + (link.key if link is not None else "-").encode())
        return h.hexdigest()

    def __getstate__(self):
        # The key travels too: a receiver need not hash a large source again for every unpickle.
        return (self.source, self.arguments, self.links, self.file, self.key)

    def __setstate__(self, state):
        for name, value in zip(("source", "arguments", "links", "file"), state):
            object.__setattr__(self, name, value)
        if len(state) > 4:
            self.__dict__["key"] = state[4]

    def options(self) -> dict:
        """The keyword arguments of ``cx.compile`` (without ``link``)."""
        return dict(self.arguments)


def _freeze(name, value):
    """A recipe's form of one keyword argument: tuples for iterables, a dict for defines."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, Mapping):
        return dict(sorted((str(k), v) for k, v in value.items()))
    return tuple(value)


def recorded(compile_function):
    """Wrap ``cx.compile`` so every module it returns remembers its :class:`Recipe`."""

    @functools.wraps(compile_function)
    def compile(source, **arguments):
        arguments = {n: _freeze(n, v) if n in _SEQUENCES or n == "defines" else v for n, v in arguments.items()}
        if "link" in arguments:
            arguments["link"] = tuple(arguments["link"])
        module = compile_function(source, **arguments)
        links = tuple(getattr(m, "__dict__", {}).get("_recipe") for m in arguments.pop("link", ()))
        if isinstance(source, str):
            attach(module, Recipe(source, tuple(sorted(arguments.items())), links))
        return module

    return compile


def attach(module, recipe: Recipe) -> None:
    """Make ``recipe`` the recipe of ``module`` (and of its struct types)."""
    module.__dict__["_recipe"] = recipe
    module._types.recipe = recipe
    module._types.module = weakref.ref(module)


def of(obj) -> Recipe:
    """The recipe of a module, bound function, struct class or struct value.

    Raises
    ------
    PicklingError
        ``obj`` has no recipe, or cannot be shipped (see the module's docstring).
    """
    from .module import Module

    if isinstance(obj, Module):
        return _shippable(obj)
    if isinstance(obj, ctypes._CFuncPtr) and hasattr(obj, "_cx_decl"):
        name = obj._cx_decl.name
        if getattr(obj, "_cx_closed", False):
            raise PicklingError(f"cannot pickle {name}(): its module is closed")
        recipe = getattr(obj, "_cx_recipe", None)
        if recipe is None:
            raise PicklingError(f"cannot pickle {name}(): cx does not know how its module was built")
        if name in dict(recipe.arguments).get("hold_gil", ()):
            _refuse_python_api(recipe, f"{name}()")
        _check_links(recipe, f"{name}()")
        return recipe
    cls = obj if isinstance(obj, type) else type(obj)
    types = cls.__dict__.get("_cx_types")
    recipe = getattr(types, "recipe", None)
    if recipe is None:
        raise PicklingError(f"cannot pickle {cls.__name__}: cx does not know how its module was built")
    return recipe


def _shippable(module) -> Recipe:
    recipe = module.__dict__.get("_recipe")
    if module.closed:
        raise PicklingError(f"cannot pickle module '{module.name}': it is closed")
    if recipe is None:
        raise PicklingError(f"cannot pickle module '{module.name}': cx does not know how it was built")
    if module._hold_gil:
        _refuse_python_api(recipe, f"module '{module.name}'")
    _check_links(recipe, f"module '{module.name}'")
    return recipe


def _refuse_python_api(recipe, what):
    options = recipe.options()
    uses_api = "Python.h" in recipe.source or "PyObject" in recipe.source
    if options.get("hold_gil") and uses_api:
        raise PicklingError(
            f"cannot pickle {what}: its code uses Python's C API (hold_gil={list(options['hold_gil'])}, "
            "PyObject *), which belongs to this process's interpreter; compile it in the worker instead "
            "(call cx.compile inside the task)")


def _check_links(recipe, what):
    for link in recipe.links:
        if link is None:
            raise PicklingError(f"cannot pickle {what}: it is linked to a module cx cannot rebuild")
        _refuse_python_api(link, f"{what} (through the module it links to)")
        _check_links(link, what)


# ---- the per-process cache --------------------------------------------------------------------

_lock = threading.RLock()  # one rebuild at a time (links rebuild inside it)
_built = {}  # key -> Module rebuilt in this process from a recipe
_local = weakref.WeakValueDictionary()  # key -> Module compiled here by the user (seen at pickling)
_stats = {"builds": 0, "hits": 0}


def _after_fork_in_child():
    global _lock
    _lock = threading.RLock()  # another thread of the parent may have held it at the fork


os.register_at_fork(after_in_child=_after_fork_in_child)


def _remember(module, recipe):
    if module is not None and recipe.key not in _built:
        _local[recipe.key] = module


def module_for(recipe: Recipe):
    """The module ``recipe`` builds: from this process's cache, else compiled now (and cached).

    Raises
    ------
    CompileError
        The recipe does not compile here (a header missing on this machine, another compiler).
    """
    key = recipe.key
    module = _built.get(key) or _local.get(key)
    if module is not None and not module.closed:
        _stats["hits"] += 1
        return module
    with _lock:
        module = _built.get(key)
        if module is not None and not module.closed:
            _stats["hits"] += 1
            return module
        module = _build(recipe)
        _built[key] = module
        _stats["builds"] += 1
        return module


def _build(recipe):
    from .module import compile

    links = [module_for(link) for link in recipe.links]
    options = recipe.options()
    try:
        module = compile(recipe.source, link=links, **options) if links else compile(recipe.source, **options)
    except CompileError as exc:
        if recipe.file is not None:
            from .files import _name_file

            _name_file(exc, recipe.file)
        exc.summary = f"{exc.summary} (rebuilding a pickled cx module in this process)"
        raise
    attach(module, recipe)
    return module


def cache_info() -> dict:
    """This process's rebuilt modules: ``{"builds": compiles, "hits": reuses, "modules": kept}``."""
    return {"builds": _stats["builds"], "hits": _stats["hits"], "modules": len(_built)}


def clear_cache() -> None:
    """Forget the modules rebuilt in this process (functions already unpickled keep working)."""
    with _lock:
        _built.clear()
        _stats.update(builds=0, hits=0)


# ---- reduce and rebuild ----------------------------------------------------------------------

def reduce_module(module):
    """``Module.__reduce__``."""
    recipe = _shippable(module)
    _remember(module, recipe)
    return _module, (recipe,)


def reduce_function(fn):
    """``__reduce__`` of a bound function."""
    recipe = of(fn)
    owner = getattr(fn, "_cx_module", None)
    _remember(owner() if owner is not None else None, recipe)
    return _function, (recipe, fn._cx_decl.name)


def reduce_struct_value(value):
    """``__reduce__`` of a struct or union value."""
    cls = type(value)
    if getattr(cls.__dict__["_cx_types"], "recipe", None) is None:  # a Module not made by cx.compile
        return ctypes.Structure.__reduce__(value) if isinstance(value, ctypes.Structure) \
            else ctypes.Union.__reduce__(value)  # (copy.deepcopy still works)
    recipe = _struct_recipe(cls)
    if _has_pointers(cls):
        raise PicklingError(f"cannot pickle a {cls.__name__} value: it holds pointers, which mean nothing "
                            "in another process")
    return _struct_value, (recipe, cls.__name__, bytes(memoryview(value).cast("B")))


def _reduce_struct_class(cls):
    if "_cx_types" not in cls.__dict__:
        return cls.__qualname__  # any other ctypes struct: pickled by reference, as always
    return _struct_class, (_struct_recipe(cls), cls.__name__)


def _struct_recipe(cls):
    recipe = of(cls)
    owner = getattr(cls.__dict__["_cx_types"], "module", None)
    _remember(owner() if owner is not None else None, recipe)
    return recipe


def reduce_types(types):
    """A module's type table is never pickled: only cloudpickle tries, when it copies a struct class."""
    names = ", ".join(sorted(types._structs)) or "a struct type"
    raise PicklingError(f"cannot pickle the cx struct type {names} by value (cloudpickle does that for a "
                        "struct class that is a global of a function it ships); refer to it through its "
                        "module instead (lib.Point, not Point = lib.Point), or pickle it with pickle")


def _has_pointers(ctype):
    if issubclass(ctype, (ctypes._Pointer, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_wchar_p, ctypes._CFuncPtr)):
        return True
    if issubclass(ctype, ctypes.Array):
        return _has_pointers(ctype._type_)
    if issubclass(ctype, (ctypes.Structure, ctypes.Union)):
        return any(_has_pointers(f[1]) for f in ctype._fields_)
    return False


def _module(recipe):
    return module_for(recipe)


def _function(recipe, name):
    try:
        return module_for(recipe)[name]
    except CompileError as exc:
        return _Unbuilt(recipe, name, exc)


class _Unbuilt:
    """Stands for a function whose module failed to rebuild here; calling it raises the error.

    Raised at the call, not at unpickling: a task that fails to unpickle is lost by
    ``multiprocessing.Pool`` (the pool then waits forever), while an exception from the call
    reaches the caller.
    """

    def __init__(self, recipe, name, error):
        self._recipe, self.__name__, self._error = recipe, name, error

    def __call__(self, *args, **kwargs):
        raise self._error.with_traceback(None)

    def __reduce__(self):
        return _function, (self._recipe, self.__name__)

    def __repr__(self):
        return f"<cx function {self.__name__}() that could not be rebuilt here: {self._error.summary}>"


def _struct_class(recipe, name):
    return module_for(recipe)._types.struct(name)


def _struct_value(recipe, name, data):
    return _struct_class(recipe, name).from_buffer_copy(data)


from .layouts import StructType, UnionType  # noqa: E402 (cx's struct classes' metaclasses)

for _meta in (type(ctypes.Structure), type(ctypes.Union), StructType, UnionType):
    copyreg.pickle(_meta, _reduce_struct_class)
del _meta
