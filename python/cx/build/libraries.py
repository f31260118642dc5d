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
    found = _found.get(name)
    if found is None:  # ctypes asks ldconfig, a process each time: a library found is remembered
        found = ctypes.util.find_library(name)
        if found is not None:
            _found[name] = found
    return found


_found = {}  # -l name -> what the dynamic loader's cache named (a library installed later is found then)


class _DlInfo(ctypes.Structure):
    """glibc's ``Dl_info`` (dladdr): which loaded object an address is in."""

    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p), ("dli_sname", ctypes.c_char_p),
                ("dli_saddr", ctypes.c_void_p)]


@functools.lru_cache(maxsize=1)
def _dladdr():
    dladdr = ctypes.CDLL(None).dladdr
    dladdr.argtypes, dladdr.restype = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)], ctypes.c_int
    return dladdr


@functools.lru_cache(maxsize=1)
def _dlsym():
    """dlsym itself: a header declares hundreds of names, and ``getattr(dll, name)`` makes a
    function object for each."""
    dlsym = ctypes.CDLL(None).dlsym
    dlsym.argtypes, dlsym.restype = [ctypes.c_void_p, ctypes.c_char_p], ctypes.c_void_p
    return dlsym


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
        dlsym, name = _dlsym(), symbol.encode()
        for shown, dll in self._opened:
            address = dlsym(dll._handle, name)
            if not address:
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
