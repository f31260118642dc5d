"""The one table of C scalar kinds: for each scalar, its ctypes type and how cx passes it.

Every part of cx that needs to know about a C scalar asks here: the binding (argument converters,
the element type a pointer parameter accepts), the call slot (which register class, how many
bits), the layout tools (a bit-field's storage unit) and the timing loop (the C spelling and the
register class of an argument).

Each :class:`Scalar` has an ``element`` letter, the one alphabet of kinds: ``"i"`` signed
integer, ``"u"`` unsigned integer, ``"f"`` floating point, ``"c"`` a character (``char`` and its
signed and unsigned forms, a byte of text), ``"?"`` ``_Bool``. The call slot's letters follow from
it (:attr:`Scalar.slot`).
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Optional

__all__ = ["Scalar", "SCALARS", "by_name", "by_ctype"]


@dataclass(frozen=True)
class Scalar:
    """One C scalar type.

    Attributes
    ----------
    name : str
        The canonical C name (``"unsigned long"``), as :class:`cx.cread.CType` names scalars.
    ctype : type
        Its ctypes type.
    element : str
        Its kind: ``"i"``, ``"u"``, ``"f"``, ``"c"`` or ``"?"`` (see the module docstring).
    integer : bool
        An integer passed by value as a range-checked Python int (not ``char``, ``_Bool``).
    """

    name: str
    ctype: type
    element: str
    integer: bool = False

    @property
    def size(self) -> int:
        """``sizeof`` the type."""
        return ctypes.sizeof(self.ctype)

    @property
    def signed(self) -> bool:
        """A signed integer type."""
        return self.element == "i"

    @property
    def slot(self) -> Optional[str]:
        """The call slot's letter for a parameter or result of this type (``_call.c``): ``"i"``/``"u"``
        integers, ``"d"``/``"f"`` double and float, ``"b"`` ``_Bool``; None when the slot hands it
        to ctypes (``char``, ``long double``)."""
        if self.integer:
            return self.element
        if self.element == "f" and self.size in (4, 8):
            return "f" if self.size == 4 else "d"
        if self.element == "?":
            return "b"
        return None


SCALARS = (
    Scalar("char", ctypes.c_char, "c"),
    Scalar("signed char", ctypes.c_byte, "i", True),
    Scalar("unsigned char", ctypes.c_ubyte, "u", True),
    Scalar("short", ctypes.c_short, "i", True),
    Scalar("unsigned short", ctypes.c_ushort, "u", True),
    Scalar("int", ctypes.c_int, "i", True),
    Scalar("unsigned int", ctypes.c_uint, "u", True),
    Scalar("long", ctypes.c_long, "i", True),
    Scalar("unsigned long", ctypes.c_ulong, "u", True),
    Scalar("long long", ctypes.c_longlong, "i", True),
    Scalar("unsigned long long", ctypes.c_ulonglong, "u", True),
    Scalar("float", ctypes.c_float, "f"),
    Scalar("double", ctypes.c_double, "f"),
    Scalar("long double", ctypes.c_longdouble, "f"),
    Scalar("_Bool", ctypes.c_bool, "?"),
)

_BY_NAME = {s.name: s for s in SCALARS}
# ctypes makes some names aliases of others (c_longlong is c_long on LP64): the first name wins,
# so a ctypes type is spelled as its canonical C name.
_BY_CTYPE = {}
for _s in SCALARS:
    _BY_CTYPE.setdefault(_s.ctype, _s)
del _s


def by_name(name: str) -> Scalar:
    """The scalar of the canonical C name ``name`` (KeyError for a name that is none)."""
    return _BY_NAME[name]


def by_ctype(ctype) -> Optional[Scalar]:
    """The scalar whose ctypes type is ``ctype``, or None."""
    return _BY_CTYPE.get(ctype)
