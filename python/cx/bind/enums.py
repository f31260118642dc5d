"""C enumerations as :class:`enum.IntEnum` classes, one class per definition for the whole process.

A named enumeration of the source or its own headers (a tag, ``enum color {...}``, or the typedef
of an unnamed one, ``typedef enum {...} status;``) is an ``IntEnum`` whose members are its
enumeration constants, valued by the compiler (:mod:`cx.build.constants`). As a struct is
(:mod:`cx.bind.types`), a definition is one class in every module and cell of the process: the
same name with the same members and values is the same class, so a member one module's function
returns is a member of another module's class (``a.color.GREEN is b.color.GREEN``). Modules
linked together are one program: two definitions of one name that differ there are refused
(:func:`differing`, asked by :func:`cx.module.build_module`).

Pickling: a member travels as its definition and its value, so another process gets a member of
the class of that definition there (made if no module of that process defines it): a function's
result sent back from a process pool is a member, not an int. A class travels as its definition
too (its metaclass is registered with :mod:`copyreg`).
"""
from __future__ import annotations

import copyreg
import ctypes
import enum
import re
import threading
import weakref

__all__ = ["EnumTable", "shared", "names", "definition", "differing", "underlying"]

# (name, ((member, value), ...)) -> the IntEnum class; a class lives as long as a module uses it
_SHARED = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()

_BODY = re.compile(r"\benum\b[^;{]*\{")


def chunk_of(view, n):
    """The index of the chunk defining the named enumeration ``n`` (its tag, or a typedef of an
    enumeration with a body) in the user's files, or None."""
    index = view.tags.get(("enum", n))
    if index is None:
        index = view.typedefs.get(n)
        if index is None:
            return None
        head = view.head(view.chunks[index])
        if not _BODY.search(head) or re.search(rf"\*[\s\w]*\b{n}\b|\b{n}\s*[\[(]", head[head.rfind("}") + 1:]):
            return None  # typedef enum {...} e, *e_ptr, e_pair[2]: only e is the enumeration
    return index if view.chunks[index].user else None


def names(view) -> list:
    """The named enumerations the user's files define, in order."""
    found = [tag for (kind, tag), i in view.tags.items() if kind == "enum" and view.chunks[i].user]
    found += [n for n, i in view.typedefs.items() if view.chunks[i].user and chunk_of(view, n) is not None]
    return list(dict.fromkeys(found))


def definition(view, n):
    """``(text, file, line)`` of the named enumeration ``n``: its body as the compiler saw it
    (macros expanded, whitespace made one space), and where it is. None when there is none."""
    index = chunk_of(view, n)
    if index is None:
        return None
    chunk = view.chunks[index]
    head = view.head(chunk)
    body = _BODY.search(head)
    text = head[body.start():head.rindex("}") + 1] if body else head  # not the declarators after it
    raw = view.text[chunk.start:chunk.end]
    line = view.line(chunk) + raw.count("\n", 0, len(raw) - len(raw.lstrip()))  # its first word's line
    return " ".join(text.split()), chunk.file, line


def differing(view, other):
    """The first named enumeration both views define otherwise, as ``(name, here, there)`` with
    each place ``(file, line)``; None when every one both define is alike."""
    theirs = set(names(other))
    for n in names(view):
        if n in theirs:
            here, there = definition(view, n), definition(other, n)
            if here[0] != there[0]:
                return n, here[1:], there[1:]
    return None


class EnumTable:
    """The named enumerations of one module, each an :class:`enum.IntEnum` made when first asked
    for (shared with every module defining it alike).

    Parameters
    ----------
    view : cx.cread.view.View
        The module's view of its source (which chunks are the user's, their enumerators).
    constants : cx.build.constants.Constants
        The module's constants, whose values are the members'.
    """

    def __init__(self, view, constants):
        self._view, self._constants = view, constants
        self._made = {}
        self._lock = threading.Lock()

    def all(self) -> dict:
        """name -> class, of every named enumeration of the user's files that has members."""
        out = {}
        for n in names(self._view):
            cls = self.get(n)
            if cls is not None:
                out[n] = cls
        return out

    def ctype(self, n):
        """The ctypes type of the named enumeration ``n`` (:func:`underlying`), or None when it is
        not one of the user's files (a system header's is taken as ``int``)."""
        cls = self.get(n)
        return None if cls is None else underlying([m.value for m in cls])

    def get(self, n):
        """The class of the named enumeration ``n``, or None (not one, or no member valued)."""
        cls = self._made.get(n)
        if cls is not None:
            return cls
        index = chunk_of(self._view, n)
        if index is None:
            return None
        mine = [m for m, i in self._view.user_enumerators().items() if i == index]
        values = self._constants.enumerators(mine)
        members = tuple((m, values[m]) for m in mine if m in values)
        if not members:
            return None
        cls = shared(n, members)
        with self._lock:
            return self._made.setdefault(n, cls)


def underlying(values):
    """The ctypes type of an enumeration whose constants have ``values``: ``int`` when they fit it,
    else ``unsigned int``, ``long long`` or ``unsigned long long``, as GCC and TinyCC choose
    (``enum { A = 1u << 31 }`` is unsigned, 4 bytes; ``enum { B = -1, C = 1u << 31 }`` 8 bytes)."""
    low, high = min(values, default=0), max(values, default=0)
    if -2 ** 31 <= low and high < 2 ** 31:
        return ctypes.c_int
    if low >= 0 and high < 2 ** 32:
        return ctypes.c_uint
    if -2 ** 63 <= low and high < 2 ** 63:
        return ctypes.c_longlong
    return ctypes.c_ulonglong


def shared(n, members):
    """The :class:`enum.IntEnum` of the enumeration ``n`` with ``members`` (``((name, value),
    ...)``) for this process: the one every module defining it alike shares."""
    key = (n, tuple(members))
    with _SHARED_LOCK:
        cls = _SHARED.get(key)
        if cls is None:
            cls = _CxEnum(n, list(key[1]), module="cx")
            cls.__doc__ = f"C enum {n}"
            cls._cx_members = key[1]
            cls.__reduce_ex__ = _reduce_member
            _SHARED[key] = cls
        return cls


class _EnumType(type(enum.IntEnum)):
    """The metaclass of cx's enum classes: pickle (:mod:`copyreg`) sends such a class as its
    definition, which another process makes (or finds) again."""


class _CxEnum(enum.IntEnum, metaclass=_EnumType):
    """The base of cx's enum classes (no members: an ``IntEnum`` made of it by :func:`shared`)."""


def _reduce_class(cls):
    members = getattr(cls, "_cx_members", None)
    if members is None:  # _CxEnum itself: importable by name
        return cls.__qualname__
    return shared, (cls.__name__, members)


copyreg.pickle(_EnumType, _reduce_class)


def _reduce_member(member, protocol):
    cls = type(member)
    return _member, (cls.__name__, cls._cx_members, int(member))


def _member(n, members, value):
    """Unpickling a member: the member of ``value`` of that definition's class in this process."""
    return shared(n, members)(value)
