"""Installed libraries, for the functions an API header declares (``cx.include``).

A header such as ``zlib.h`` declares functions that a shared library defines. :func:`load` opens
the libraries named as ``-l`` names (``"z"``: ``libz.so.1``), from the ``-L`` directories first,
then where the dynamic loader finds them, and :class:`Libraries` answers where each declared name
is, or why it is not there (``"not found in libz.so.1"``).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os

from .. import _speedups
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
        return self.addresses((symbol,)).get(symbol)

    def addresses(self, symbols) -> dict:
        """``{symbol: address}`` for each of ``symbols`` some library defines itself (the first
        that does), all at once (``_speedups.own_symbols``, in C: a header declares hundreds)."""
        found = {}
        for shown, dll in self._opened:
            for name, address in _speedups.own_symbols(dll._handle, shown, [n for n in symbols
                                                                           if n not in found]).items():
                found[name] = address
        return found

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
        dll = _open_linked(name) if not library_dirs else None
        if dll is None:
            path = _find(name, library_dirs)
            if path is None:
                where = f" in {', '.join(library_dirs)} or" if library_dirs else ""
                raise OptionError(f"library {name!r} not found{where} where the dynamic loader looks "
                                  f"(is lib{name} installed? e.g. apt-get install lib{name}-dev)")
            try:
                dll = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            except OSError as exc:
                raise OptionError(f"library {name!r} ({path}) cannot be loaded: {exc}") from None
        opened.append((_speedups.soname(dll._handle) or os.path.basename(dll._name), dll))
    return Libraries(opened)


def _open_linked(name):
    """``lib<name>.so`` opened as the linker finds it for ``-l<name>`` (the development package's
    link, which TinyCC links against too), or None (then ldconfig is asked: 1.5 ms, a process)."""
    try:
        return ctypes.CDLL(f"lib{name}.so", mode=ctypes.RTLD_GLOBAL)
    except OSError:  # not installed, or a linker script (Debian's libm.so)
        return None
