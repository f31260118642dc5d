"""Sets up cx's own call slot (``bind/_call.c`` in ``cx._speedups``) for a bound function.

A bound function is an instance of its own subclass of ``ctypes._CFuncPtr``. :func:`prepare_class`
gives that class the call slot (before any instance exists); :func:`attach` describes the
function's parameters and result to it. Calls then convert arguments in C, release the GIL, enter
the crash guard and call the C function directly; whatever that path does not handle goes to
ctypes' own call, inside the same guard (see ``_call.c``).

Assigning ``errcheck``, ``argtypes`` or ``restype`` on a bound function sends its later calls to
ctypes (still guarded), so ctypes' documented behaviour keeps working.
"""
from __future__ import annotations

import ctypes

from .. import _speedups
from ..runtime import guard
from . import scalars

__all__ = ["prepare_class", "attach", "detach", "signature", "count_error"]


def _detaching(name):
    base = getattr(ctypes._CFuncPtr, name)

    def set_(self, value):
        base.__set__(self, value)
        detach(self)

    def del_(self):
        base.__delete__(self)
        detach(self)

    return property(lambda self: base.__get__(self, type(self)), set_, del_, base.__doc__)


#: Class attributes of every bound function's class: ctypes' own, but changing them detaches.
CLASS_ATTRIBUTES = {name: _detaching(name) for name in ("errcheck", "argtypes", "restype")}


def prepare_class(cls):
    """Give ``cls`` (a new ``ctypes._CFuncPtr`` subclass, no instances yet) cx's call slot."""
    _speedups.fast_class(cls)


def signature(fn) -> str:
    """How argument errors name a C function: ``total(a: const double *, n: long)``."""
    params = (f"{p.name or f'arg{i}'}: {p.type.spelling}" for i, p in enumerate(fn.params))
    return f"{fn.name}({', '.join(params)})"


def count_error(fn, given: int) -> TypeError:
    """The error of a call of ``fn`` with ``given`` arguments, worded as the call slot words it."""
    n = len(fn.params)
    takes = "no arguments" if n == 0 else f"{n} argument{'' if n == 1 else 's'}"
    return TypeError(f"{fn.name}() takes {takes} ({given} given): {signature(fn)}")


def _param(conv, ctype):
    """(kind, bits, writable, converter) of one parameter for ``CallSpec``."""
    scalar = scalars.by_ctype(ctype)
    slot = scalar.slot if scalar is not None else None
    if isinstance(conv, _speedups.IntArg) and slot in ("i", "u"):
        return slot, scalar.size * 8, False, conv
    if isinstance(conv, _speedups.FloatArg) and slot in ("d", "f"):
        return slot, 0, False, conv
    if conv is ctypes.py_object:
        return "O", 0, False, conv
    if conv is ctypes.c_bool:
        return "b", 8, False, conv
    return "x", 0, False, conv


def _result(restype):
    if restype is None:
        return "v", 0
    scalar = scalars.by_ctype(restype) if isinstance(restype, type) else None
    slot = scalar.slot if scalar is not None else None
    if slot in ("i", "u"):
        return slot, scalar.size * 8
    if slot in ("d", "f"):
        return slot, 0
    if slot == "b":
        return "?", 8
    if restype is ctypes.c_void_p:
        return "p", 0
    if restype is ctypes.py_object:
        return "O", 0
    return "x", 0


def attach(bound, fn, address, param_ctypes, writable, *, guarded, hold_gil, pointer_result=False, variadic=None,
           enum_result=None):
    """Describe ``bound`` (of a :func:`prepare_class` class) to the call slot.

    Parameters
    ----------
    bound : ctypes function object
    fn : cx.cread.Function
    address : int
        The C function itself.
    param_ctypes : list
        The ctypes type of each parameter (None where it has none, e.g. a pointer).
    writable : list of bool
        For pointer parameters: the pointee is not const (buffers must be writable).
    guarded, hold_gil : bool
    pointer_result : bool
        The result is a pointer type whose errcheck only turns NULL into None (and does nothing
        else): the call slot does the same, without ctypes.
    enum_result : enum class, optional
        The result is an ``int`` made a member of this enum (its errcheck does only that): the
        call slot does the same, without ctypes.
    variadic : callable, optional
        For a function ending in ``...``: converts a call's arguments (the extra ones as C's
        default promotions pass them); its calls go to ctypes, which passes them as C does.
    """
    if guarded:
        guard.share_api()
    params = []
    for conv, ctype, w in zip(bound._argtypes_, param_ctypes, writable):
        if isinstance(conv, _speedups.PointerArg):
            params.append(("p", 0, w, conv))
        else:
            params.append(_param(conv, ctype))
    # an enum result: made a member in C when the enum is an int (one wider goes through the errcheck)
    enum_fast = enum_result is not None and bound._restype_ is ctypes.c_int
    result = ("H", 0, bound._restype_) if pointer_result else ("E", 32, enum_result) if enum_fast \
        else _result(bound._restype_)
    spec = _speedups.CallSpec(address, fn.name.encode(), params, result, guarded, hold_gil,
                              None if fn.variadic else signature(fn), variadic)  # a variadic one: ctypes counts
    _speedups.attach(bound, spec)
    if ctypes._CFuncPtr.errcheck.__get__(bound) is not None and not pointer_result and not enum_fast:
        detach(bound)
    return spec


def detach(bound):
    """Send every later call of ``bound`` to ctypes' own call (still inside the crash guard)."""
    _speedups.detach(bound)
