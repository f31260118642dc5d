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

__all__ = ["prepare_class", "attach", "detach"]


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
    result = ("H", 0, bound._restype_) if pointer_result else ("E", 32, enum_result) if enum_result is not None \
        else _result(bound._restype_)
    spec = _speedups.CallSpec(address, fn.name.encode(), params, result, guarded, hold_gil, variadic)
    _speedups.attach(bound, spec)
    if ctypes._CFuncPtr.errcheck.__get__(bound) is not None and not pointer_result and enum_result is None:
        detach(bound)
    return spec


def detach(bound):
    """Send every later call of ``bound`` to ctypes' own call (still inside the crash guard)."""
    _speedups.detach(bound)
