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

* The write function is a few lines of C, built with cx (``runtime/_native.c`` in ``cx._speedups``),
  that takes the GIL with ``PyGILState_Ensure``, so a ``printf`` from a thread Python never created
  works too.
* Ctrl-C is not lost: a KeyboardInterrupt pending when C prints is taken out before the Python side
  runs and re-armed after, so it is raised when the C function returns (a ctypes callback would
  report it as "Exception ignored" and drop it).
* Ctrl-C never hangs the process: the write function is not compiled code the crash guard knows
  (:mod:`cx.runtime.guard`), and it suspends the guard for its whole body. Else an interrupt could
  abandon the printing call while the writer holds the GIL (in compiled code, where the guard stops
  calls at once) or waits for it in a system call; ctypes would then wait forever for the GIL its
  own thread holds. So the interrupt is taken when the thread is back in the user's code, with
  the stream's lock released.
* A flood of output (a loop of ``printf``) in a notebook: :func:`limit_rate` shows its start up to
  Jupyter's own limit (over which Jupyter drops every output of the kernel), keeps the rest in a
  file (:mod:`cx.runtime.spill`) and shows a line naming it, then the flood's last lines, when the
  call that printed returns (the call slot calls back, ``cx_output_settle``), the flood slows down,
  or the cell ends. A Ctrl-C arriving while this Python code runs is deferred until it is done.
* UTF-8 split across two writes is decoded with an incremental decoder; invalid bytes become U+FFFD.
* Output never waits on a pipe: the bytes go straight into the Python stream object, so megabytes
  printed in one call cannot fill a pipe while the GIL is held (ipykernel#752).
* If the Python stream fails (closed, ``None``) or re-enters this module (a ``sys.stdout`` whose
  ``write`` calls C stdio), the bytes go to the original file descriptor instead.
* Deadlock, the one case not handled: a C function bound with the GIL *held* (``hold_gil=``) that
  prints while another thread is inside ``printf`` on the same stream. That thread holds the
  stream's lock and waits for the GIL; the first holds the GIL and waits for the lock. Functions
  bound the default way release the GIL and are not affected, nor is :func:`flush`.
* ``fileno(stdout)`` is -1 while capture is installed; C that writes to the descriptor itself
  (``write(1, ...)``) bypasses capture and reaches fd 1 as before.

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

from .. import _speedups
from ..errors import CxError
from . import guard
from .flood import JUPYTER_RATE, JUPYTER_WINDOW, Flood
from .spill import DEFAULT_CAP, Spill

__all__ = ["install", "uninstall", "installed", "flush", "captured", "supported", "limit_rate"]

_IOLBF, _IONBF = 1, 2  # glibc's setvbuf modes: line buffered, unbuffered
_BUFSIZE = 8192

class _IoFunctions(ctypes.Structure):
    """glibc's ``cookie_io_functions_t``: read, write, seek, close (NULL: not supported)."""

    _fields_ = [("read", ctypes.c_void_p), ("write", ctypes.c_void_p), ("seek", ctypes.c_void_p),
                ("close", ctypes.c_void_p)]


class _Stream:
    """One C stream (stdout or stderr) whose bytes go to a Python text stream."""

    def __init__(self, name: str, fd: int):
        self.name = name  # "stdout" or "stderr": the attribute of sys and the libc variable
        self.fd = fd  # where bytes go when the Python stream cannot take them
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.local = threading.local()  # .busy: this thread is delivering already
        self.fp = None  # the cookie FILE*, made once and never closed (C code may have kept it)
        self.saved = None  # libc's own FILE* while capture is installed
        self.spill = None  # a cx.runtime.spill.Spill while a flood goes over the limit
        self.mid_line = False  # the text shown last did not end a line

    def deliver(self, data: bytes) -> None:
        """Called by the C write function, with the GIL and the C stream's lock held."""
        local = self.local
        if getattr(local, "busy", False):  # sys.stdout itself wrote to C stdio: don't loop
            _write_fd(self.fd, data)
            return
        local.busy = True
        try:
            with _state.output_lock:
                flood = _state.flood
                allowed = len(data) if flood is None else flood.admit(data)
                if allowed < len(data):  # whole lines only, unless it is one huge line
                    allowed = data.rfind(b"\n", 0, allowed) + 1 or (0 if b"\n" in data else allowed)
                if allowed and self.spill is not None:  # the flood slowed down: show how it ended
                    self.settle(force=True)
                if allowed:
                    self._show(data if allowed == len(data) else data[:allowed])
                if allowed < len(data):  # a character cut in two by the limit shows as U+FFFD
                    self._show(b"", final=True)
                    try:
                        if self.spill is None:
                            self.spill = Spill(self.name, _state.keep)
                            _speedups.output_pending(True)
                        self.spill.add(data[allowed:])
                    except OSError:  # no file can keep it (a full disk): shown rather than lost
                        if self.spill is not None and self.spill.path is None:
                            self._show(self.spill.held())  # the start of the spill, and data
                            self.spill = None
                        else:
                            self._show(data[allowed:])
        finally:
            local.busy = False

    def _show(self, data: bytes, final: bool = False) -> None:
        try:
            text = self.decoder.decode(data, final)
            target = getattr(sys, self.name, None)
            if target is None:
                _write_fd(self.fd, data)
            elif text:
                target.write(text)
                self.mid_line = not text.endswith("\n")
        except Exception:  # noqa: BLE001 -- a broken or closed Python stream: output must not vanish
            _write_fd(self.fd, data)

    def settle(self, force: bool = False) -> bool:
        """Show the end of the flood kept in ``self.spill``, after a line saying where the rest is.

        Unless ``force``, only if the limit has room for it; whether it was shown.
        """
        flood = _state.flood
        if flood is not None and not flood.take(self.spill.end(), force):
            return False
        spill, self.spill = self.spill, None
        text = spill.settle()
        if self.mid_line and text:
            text = "\n" + text
        local = self.local
        busy, local.busy = getattr(local, "busy", False), True
        try:
            target = getattr(sys, self.name, None)
            if target is None:
                _write_fd(self.fd, text.encode())
            else:
                target.write(text)
            self.mid_line = not text.endswith("\n")
        except Exception:  # noqa: BLE001 -- as in _show
            _write_fd(self.fd, text.encode())
        finally:
            local.busy = busy
        return True


def _write_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _State:
    def __init__(self):
        self.lock = threading.Lock()
        self.count = 0  # install() calls not yet undone
        self.libc = None
        self.streams = []  # the two _Stream objects, alive for as long as the process
        self.atexit_registered = False
        self.flood = None  # a cx.runtime.flood.Flood while output is rate limited (limit_rate)
        self.keep = DEFAULT_CAP  # bytes of a flood kept in its file at most (limit_rate's keep)
        self.output_lock = threading.RLock()  # deliver and settle; re-entered by a stream that prints C


_state = _State()


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
    guard.share_api()  # the writer suspends the crash guard
    funcs = _IoFunctions(None, _speedups.capture_write_address, None, None)
    streams = []
    for name, fd, mode in (("stdout", 1, _IOLBF), ("stderr", 2, _IONBF)):
        stream = _Stream(name, fd)
        stream.cookie = stream.deliver  # one bound method object, whose address is the cookie
        fp = libc.fopencookie(id(stream.cookie), b"w", funcs)
        if not fp:
            raise MemoryError(f"fopencookie could not make a stream for C {name}")
        libc.setvbuf(fp, None, mode, _BUFSIZE)
        stream.fp = fp
        streams.append(stream)
    _state.streams = streams


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
            for stream in _state.streams:
                var = _variable(stream.name)
                libc.fflush(var.value)
                stream.saved = var.value
                var.value = stream.fp
            _speedups.set_output_settle(_settle_returned)
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
    for stream in _state.streams:
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

    With a rate limit (:func:`limit_rate`), also show the end of a flood that went over it (with
    the line naming the file that keeps the rest), and let the next burst through.

    The GIL is released while libc flushes, so it cannot deadlock with a thread that is printing.
    """
    libc = _lib()
    for name in ("stdout", "stderr"):
        libc.fflush(_variable(name).value)
    with _state.output_lock:
        for stream in _state.streams:
            if stream.spill is not None:
                stream.settle(force=True)
        _speedups.output_pending(False)
        if _state.flood is not None:
            _state.flood.refill()  # the next cell's first lines are shown


def _settle_returned() -> None:
    """Called by the call slot when a bound function returns while a flood is kept: show its end.

    Only a flood this thread printed, and only if the limit has room for its end (else it is
    shown at the next return, or at :func:`flush`): a Python loop calling a C function that prints
    a line stays within the limit.
    """
    me = threading.get_ident()
    with _state.output_lock:
        pending = False
        for stream in _state.streams:
            if stream.spill is not None and not (stream.spill.thread == me and stream.settle()):
                pending = True
        _speedups.output_pending(pending)


def limit_rate(rate=JUPYTER_RATE, window=JUPYTER_WINDOW, *, keep=DEFAULT_CAP) -> None:
    """Show at most ``rate`` bytes/s of C output averaged over ``window`` seconds; keep the rest.

    The default is Jupyter's own limit (``ServerApp.iopub_data_rate_limit``, 1 MB/s over its
    ``rate_limit_window`` of 3 s), which the ``%%cx`` magic sets when it runs in a kernel: over it,
    Jupyter's server stops forwarding every output of the kernel, the error of an interrupted cell
    included. C output over the limit is not lost: it goes to a file in a temporary directory of
    the process (removed when it exits), and when the flood ends -- the C call returns or is
    interrupted, the flood slows down, or :func:`flush` runs (after each cell) -- the cell shows a
    line naming the file, with how many lines and bytes it holds, then the last lines.

    ``keep`` caps the bytes one flood keeps (default 1 GB): past it the file keeps the first and
    the last half, and says how much was discarded between them (``None``: no cap).
    ``limit_rate(None)`` shows everything.

    Examples
    --------
    >>> from cx import capture
    >>> capture.limit_rate(2_000_000)   # a server started with --ServerApp.iopub_data_rate_limit=2e6
    >>> capture.limit_rate(None)        # no limit: everything is shown
    """
    if keep is not None and keep < 2:
        raise ValueError(f"limit_rate: keep must be None or at least 2 bytes, not {keep}")
    with _state.output_lock:
        _state.keep = keep
        _state.flood = None if rate is None else Flood(rate, window)


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
