"""How the calling convention passes a struct by value (x86-64 System V), and where TinyCC differs.

The System V ABI classes each eightbyte of a struct of at most 16 bytes on its own: a
``struct { double d; long l; }`` goes in one SSE and one integer register. TinyCC gives the whole
struct one class (integer, if any field is an integer), so the same struct goes in two integer
registers, as an argument and as a result. ctypes (libffi) follows the ABI: a TinyCC function
called through ctypes would read garbage, silently. :func:`tinycc_substitute` gives the class of
the same size that ctypes passes as TinyCC expects (integer words); the binding converts to and
from it. :mod:`cx.tools.ctimeit` places arguments with :func:`eightbytes`.
"""
from __future__ import annotations

import ctypes
import functools
import platform

from . import scalars

__all__ = ["X86_64", "eightbytes", "tinycc_substitute"]

X86_64 = platform.machine().lower() in ("x86_64", "amd64")
_WORD = 8


def leaves(ctype, offset=0):
    """(offset, ctypes scalar type) of every scalar inside a struct, union or array type."""
    if issubclass(ctype, ctypes.Array):
        size = ctypes.sizeof(ctype._type_)
        for i in range(ctype._length_):
            yield from leaves(ctype._type_, offset + i * size)
    elif issubclass(ctype, (ctypes.Structure, ctypes.Union)):
        for entry in ctype._fields_:
            yield from leaves(entry[1], offset + getattr(ctype, entry[0]).offset)
    else:
        yield offset, ctype


def eightbytes(ctype, tinycc=False):
    """The System V x86-64 classes (``"INTEGER"``, ``"SSE"``) of a struct's eightbytes, or None
    when it is passed in memory (over 16 bytes, a ``long double``, a field not at its alignment).
    ``tinycc``: as TinyCC passes it (one class for all its eightbytes)."""
    size = ctypes.sizeof(ctype)
    if size > 16:
        return None
    classes = ["NONE"] * ((size + _WORD - 1) // _WORD)
    for offset, leaf in leaves(ctype):
        if leaf is ctypes.c_longdouble or offset % ctypes.alignment(leaf):
            return None
        scalar = scalars.by_ctype(leaf)
        k = offset // _WORD
        sse = scalar is not None and scalar.element == "f"
        classes[k] = "INTEGER" if not sse or classes[k] == "INTEGER" else "SSE"
    classes = [c if c != "NONE" else "SSE" for c in classes]
    return ["INTEGER"] * len(classes) if tinycc and "INTEGER" in classes else classes


@functools.lru_cache(maxsize=None)
def tinycc_substitute(ctype):
    """For a struct TinyCC passes otherwise than the ABI (on x86-64: integer and SSE eightbytes
    mixed), a struct class of the same size made of integer words, which ctypes passes as TinyCC
    expects; None when the two agree."""
    if not X86_64:
        return None
    abi, tinycc = eightbytes(ctype), eightbytes(ctype, tinycc=True)
    if abi is None or abi == tinycc:
        return None
    words = (ctypes.sizeof(ctype) + _WORD - 1) // _WORD
    return type(f"{ctype.__name__} as TinyCC passes it", (ctypes.Structure,),
                {"_fields_": [(f"w{i}", ctypes.c_uint64) for i in range(words)]})
