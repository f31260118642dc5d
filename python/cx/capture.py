"""Route C stdio into Python's ``sys.stdout`` and ``sys.stderr``.

Compiled C writes with ``printf``, ``puts`` and ``fprintf(stderr, ...)`` to libc's ``stdout`` and
``stderr`` streams, which normally end at file descriptors 1 and 2, out of Python's sight. While
capture is installed, those two libc variables point at streams made with glibc's ``fopencookie``
whose write function hands the bytes, decoded as UTF-8, to whatever ``sys.stdout``/``sys.stderr``
is at that moment: an ipykernel stream (so the text lands in the output of the cell running), the
terminal, pytest's ``capsys``, or ``contextlib.redirect_stdout``. The write is synchronous, so C and
Python output come out in the order they were made; C's ``stdout`` is line buffered, its
``stderr`` unbuffered, and :func:`flush` pushes out a last line without a newline.

Nothing here imports IPython; ``%load_ext cx`` calls :func:`install` and flushes after each cell.

Hazards, and what this module does about them:

* The write function is a ctypes callback, which takes the GIL itself, so a ``printf`` from a thread
  Python never created works. UTF-8 split across two writes is decoded with an incremental decoder
  (invalid bytes become U+FFFD).
* Output never waits on a pipe: the bytes go straight into the Python stream object, so many
  megabytes printed in one call cannot fill a pipe while the GIL is held (ipykernel#752).
* If writing to the Python stream fails (closed, ``None``) or re-enters this module (a
  ``sys.stdout`` whose ``write`` calls C stdio), the bytes go to the original file descriptor instead.
  A Ctrl-C that arrives while the callback runs Python code is re-raised in the main thread.
* Deadlock, the one case not handled: a C function bound with the GIL *held* (``hold_gil=``) that
  prints while another thread is inside ``printf`` on the same stream. That thread holds the
  stream's lock and waits for the GIL; the first holds the GIL and waits for the lock. Functions
  bound the default way release the GIL and are not affected.
* ``fileno(stdout)`` is -1 while capture is installed, so C code that writes to the descriptor
  itself (``write(1, ...)``) bypasses it; C++ iostreams keep the original streams.

Examples
--------
>>> import contextlib, io, cx
>>> from cx import capture
>>> lib = cx.compile('#include <stdio.h>\\nvoid hi(void) { printf("hi from C\\\\n"); }')
>>> buf = io.StringIO()
>>> with capture.captured(), contextlib.redirect_stdout(buf):
...     lib.hi()
>>> buf.getvalue()
'hi from C\\n'
"""
from __future__ import annotations

import atexit
import codecs
import contextlib
import ctypes
import os
import sys
import threading
import _thread

from .errors import CxError

__all__ = ["install", "uninstall", "installed", "flush", "captured", "supported"]

_IOFBF, _IOLBF, _IONBF = 0, 1, 2  # glibc's setvbuf modes
_BUFSIZE = 8192

_WRITE = ctypes.CFUNCTYPE(ctypes.c_ssize_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)


class _IoFunctions(ctypes.Structure):
    """glibc's ``cookie_io_functions_t``: read, write, seek, close (NULL ones are not supported)."""

    _fields_ = [("read", ctypes.c_void_p), ("write", _WRITE), ("seek", ctypes.c_void_p),
                ("close", ctypes.c_void_p)]


class _Stream:
    """One C stream (stdout or stderr) whose bytes go to a Python text stream."""

    def __init__(self, name: str, fd: int):
        self.name = name  # "stdout" or "stderr": the attribute of sys and the libc variable
        self.fd = fd  # where bytes go when the Python stream cannot take them
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.fp = None  # the cookie FILE*, made once and never closed (C code may have kept it)
        self.saved = None  # libc's own FILE* while capture is installed

    def deliver(self, data: bytes) -> None:
        text = self.decoder.decode(data)
        if not text:
            return
        target = getattr(sys, self.name, None)
        if target is None:
            os.write(self.fd, data)
            return
        target.write(text)


class _State:
    def __init__(self):
        self.lock = threading.Lock()
        self.count = 0  # install() calls not yet undone
        self.libc = None
        self.streams = {}  # cookie number -> _Stream
        self.local = threading.local()  # .busy: this thread is inside the write callback
        self.callback = None  # the ctypes callback, kept alive for as long as the process lives
        self.atexit_registered = False


_state = _State()


@_WRITE
def _write(cookie, buf, size):
    """The cookie stream's write function: called by libc with the stream's lock held."""
    stream = _state.streams[cookie]
    data = ctypes.string_at(buf, size)
    local = _state.local
    if getattr(local, "busy", False):  # sys.stdout itself wrote to C stdio: don't loop
        return _write_fd(stream.fd, data)
    local.busy = True
    try:
        stream.deliver(data)
    except KeyboardInterrupt:
        # Ctrl-C arrived while this callback ran Python code; ctypes would swallow it.
        _thread.interrupt_main()
    except (OSError, ValueError, TypeError, AttributeError):
        # The Python stream is closed or broken: the bytes still go somewhere visible.
        return _write_fd(stream.fd, data)
    finally:
        local.busy = False
    return size


def _write_fd(fd: int, data: bytes) -> int:
    try:
        os.write(fd, data)
    except OSError:
        return -1
    return len(data)


_state.callback = _write


def supported() -> bool:
    """True when this C library can redirect its stdio (glibc or musl: it has ``fopencookie``)."""
    try:
        return hasattr(_lib(), "fopencookie")
    except OSError:
        return False


def _lib():
    """The process's global symbol namespace: where compiled code finds ``stdout`` and ``printf``.

    ``CDLL(None)`` (not ``CDLL("libc.so.6")``) matters: when the executable has a copy relocation of
    ``stdout``, libc and compiled code both use the executable's copy, which only the global lookup
    finds.
    """
    if _state.libc is None:
        libc = ctypes.CDLL(None)
        if hasattr(libc, "fopencookie"):
            libc.fopencookie.argtypes = [ctypes.c_void_p, ctypes.c_char_p, _IoFunctions]
            libc.fopencookie.restype = ctypes.c_void_p
        libc.setvbuf.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t]
        libc.setvbuf.restype = ctypes.c_int
        libc.fflush.argtypes = [ctypes.c_void_p]
        libc.fflush.restype = ctypes.c_int
        _state.libc = libc
    return _state.libc


def _variable(name: str) -> ctypes.c_void_p:
    """libc's global ``FILE *stdout`` (or ``stderr``) variable itself, writable."""
    return ctypes.c_void_p.in_dll(_lib(), name)


def _make_streams() -> None:
    if _state.streams:
        return
    libc = _lib()
    if not hasattr(libc, "fopencookie"):
        raise CxError("capturing C output needs fopencookie (glibc or musl); this C library has none, "
                      "so printf output goes to file descriptor 1 as usual")
    funcs = _IoFunctions(None, _state.callback, None, None)
    for cookie, (name, fd, mode) in enumerate((("stdout", 1, _IOLBF), ("stderr", 2, _IONBF)), start=1):
        stream = _Stream(name, fd)
        fp = libc.fopencookie(cookie, b"w", funcs)
        if not fp:
            raise MemoryError(f"fopencookie could not make a stream for C {name}")
        libc.setvbuf(fp, None, mode, _BUFSIZE)
        stream.fp = fp
        _state.streams[cookie] = stream


def install() -> None:
    """Send C's ``stdout``/``stderr`` to ``sys.stdout``/``sys.stderr`` until :func:`uninstall`.

    Calls nest: each :func:`install` needs one :func:`uninstall`. Output C had buffered before is
    flushed to where it was going. Restored at interpreter exit.

    Raises
    ------
    cx.CxError
        The C library has no ``fopencookie`` (see :func:`supported`).
    """
    with _state.lock:
        if _state.count == 0:
            _make_streams()
            libc = _lib()
            for stream in _state.streams.values():
                var = _variable(stream.name)
                libc.fflush(var.value)
                stream.saved = var.value
                var.value = stream.fp
            if not _state.atexit_registered:
                atexit.register(_restore_at_exit)
                _state.atexit_registered = True
        _state.count += 1


def uninstall() -> None:
    """Undo one :func:`install`; the last one flushes and gives libc its own streams back.

    Calling it more often than :func:`install` is harmless.
    """
    with _state.lock:
        if _state.count == 0:
            return
        _state.count -= 1
        if _state.count == 0:
            _restore()


def _restore() -> None:
    libc = _lib()
    for stream in _state.streams.values():
        var = _variable(stream.name)
        if var.value == stream.fp:  # someone else may have replaced it since: leave theirs
            var.value = stream.saved
        libc.fflush(stream.fp)  # releases the GIL: a thread mid-printf can finish its write
        stream.saved = None


def _restore_at_exit() -> None:
    with _state.lock:
        if _state.count:
            _state.count = 0
            _restore()


def installed() -> bool:
    """True while C output goes to ``sys.stdout``/``sys.stderr``."""
    return _state.count > 0


def flush() -> None:
    """Write out what C has buffered in ``stdout`` and ``stderr`` (a last line without a newline).

    The GIL is released while libc flushes, so it cannot deadlock with a thread that is printing.
    """
    libc = _lib()
    for name in ("stdout", "stderr"):
        libc.fflush(_variable(name).value)


@contextlib.contextmanager
def captured():
    """Context manager: :func:`install` on entry; :func:`flush` and :func:`uninstall` on exit."""
    install()
    try:
        yield
    finally:
        try:
            flush()
        finally:
            uninstall()
