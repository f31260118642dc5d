"""Installed libraries, for the functions an API header declares (``cx.include``).

A header such as ``zlib.h`` declares functions that a shared library defines. :func:`load` opens
the libraries named as ``-l`` names (``"z"``: ``libz.so.1``), from the ``-L`` directories first,
then where the dynamic loader finds them, and :class:`Libraries` answers where each declared name
is, or why it is not there (``"not found in libz.so.1"``).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import glob
import os

from ..errors import OptionError

__all__ = ["load", "Libraries"]


def _find(name, library_dirs):
    for directory in library_dirs:
        for candidate in sorted(glob.glob(os.path.join(directory, f"lib{name}.so*"))):
            return candidate
    return ctypes.util.find_library(name)


class _DlInfo(ctypes.Structure):
    """glibc's ``Dl_info`` (dladdr): which loaded object an address is in."""

    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p), ("dli_sname", ctypes.c_char_p),
                ("dli_saddr", ctypes.c_void_p)]


@functools.lru_cache(maxsize=1)
def _dladdr():
    dladdr = ctypes.CDLL(None).dladdr
    dladdr.argtypes, dladdr.restype = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)], ctypes.c_int
    return dladdr


def _object_of(address):
    """The file name of the loaded object that holds ``address`` (dladdr), or None."""
    dladdr = _dladdr()
    info = _DlInfo()
    if not dladdr(address, ctypes.byref(info)) or not info.dli_fname:
        return None
    return os.fsdecode(info.dli_fname)


class Libraries:
    """Opened shared libraries (kept open as long as this object lives)."""

    def __init__(self, opened):
        self._opened = opened  # [(shown name, ctypes.CDLL)]

    @property
    def names(self) -> list:
        """The libraries' file names (``["libz.so.1"]``)."""
        return [shown for shown, _ in self._opened]

    def address(self, symbol: str):
        """The address of ``symbol`` in the first library that defines it itself, or None (a
        symbol a library only reaches through its own dependencies, libc's ``read`` through
        libz, is not that library's)."""
        for shown, dll in self._opened:
            try:
                address = ctypes.cast(getattr(dll, symbol), ctypes.c_void_p).value
            except AttributeError:
                continue
            owner = _object_of(address)
            if owner is not None and os.path.basename(owner) == shown:
                return address
        return None

    def missing(self, symbol: str) -> str:
        """Why ``symbol`` has no address: ``"not found in libz.so.1"``."""
        return f"not found in {', '.join(self.names) or 'any library (pass libraries=[...])'}"


def load(libraries, library_dirs=()) -> Libraries:
    """Open the libraries of ``-l`` names ``libraries``, globally (so compiled code resolves them).

    Raises
    ------
    cx.OptionError
        A library is not installed.
    """
    opened = []
    for name in libraries:
        path = _find(name, library_dirs)
        if path is None:
            where = f" in {', '.join(library_dirs)} or" if library_dirs else ""
            raise OptionError(f"library {name!r} not found{where} where the dynamic loader looks "
                              f"(is lib{name} installed? e.g. apt-get install lib{name}-dev)")
        try:
            dll = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError as exc:
            raise OptionError(f"library {name!r} ({path}) cannot be loaded: {exc}") from None
        opened.append((os.path.basename(path), dll))
    return Libraries(opened)
