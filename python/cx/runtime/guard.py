"""Crash and interrupt guard: C that crashes or never ends raises in Python, the kernel survives.

Every call of a bound function of a guarded module enters a guard frame: cx's call slot
(``bind/_call.c`` in ``cx._speedups``) sets the jump point with ``_setjmp`` and calls libjit's
``jit_guard_enter``/``jit_guard_leave`` around the C function (or around ctypes' own call, for
signatures the slot hands to ctypes), in C, with no generated wrapper per function. The unit only
gets an end marker (:data:`cx.build.unit.END_SYMBOL`).

libjit owns the signal handlers (``libjit/guard.c`` above ``interrupt.c``, ``frames.c`` and
``where.c``; the API is documented in ``jit.h``). On SIGSEGV, SIGBUS,
SIGFPE, SIGILL or SIGABRT inside a guarded call it jumps back to the call slot, which returns zero;
``jit_guard_recover`` then calls back into Python, which sets an asynchronous exception on the
calling thread (``PyThreadState_SetAsyncExc``): the interpreter raises it as soon as the call
returns, at the call site. The callback is a ctypes function pointer wrapped as a ctypes callback,
so no Python bytecode runs on the crash path (where a pending signal could otherwise be swallowed).
Per call this costs a ``_setjmp`` and two calls into libjit (a few nanoseconds).

SIGINT (Jupyter's interrupt button) is handled by libjit too: Python's own handler runs (it only
sets a flag), the guarded call returns early, and the interpreter raises ``KeyboardInterrupt`` when
it looks at the flag, right after the call. The call returns at once when it runs compiled code or
waits in a system call; inside other library code (``malloc`` may hold a lock) libjit retries every
0.2 ms until it is back in compiled code. A Python callback (see :func:`callback`) sees the
interrupt at once, and the C call that called it stops when the callback has returned. Only the
thread that receives SIGINT -- the main thread -- is interrupted. Python's ``signal.signal`` (which ipykernel calls
before every cell) replaces libjit's handler, so :func:`install` puts it back: at every
``cx.compile``, and before every IPython cell (a ``pre_run_cell`` hook registered when IPython is
running).

Functions are bound to the C function's own address, which :meth:`cx.Module.exports` hands out
too: C calling C across modules pays nothing.
"""
from __future__ import annotations

import ctypes
import re
import signal as _signal
import sys
import threading
import weakref

from .. import _speedups
from ..build import libjit as _libjit
from ..build.libjit import add_code, remove_code
from ..errors import BoundsError, CrashError

__all__ = ["install", "share_api", "last_report", "Report", "describe", "callback",
           "add_code", "remove_code", "FRAME_SIZE"]

#: JIT_GUARD_FRAME_SIZE of libjit/jit.h: a guard frame, on the call slot's stack (checked at load).
FRAME_SIZE = _libjit.GUARD_FRAME_SIZE



Report = _libjit.GuardReport
_NOTIFY = _libjit.guard_notify


def _api():
    """libjit's guard functions by name (declared in :mod:`cx.build.libjit`)."""
    lib = _libjit.lib()
    return {name: getattr(lib, name) for name in _libjit.GUARD_FUNCTIONS}


# ---- raising in Python ----------------------------------------------------------------------

class _Pending(CrashError):
    """What the interpreter instantiates (with no arguments) for the asynchronous exception.

    It reads the calling thread's report from libjit and becomes a :class:`CrashError` (or
    :class:`BoundsError`) describing it.
    """

    def __init__(self):
        report = last_report()
        kind = BoundsError if report is not None and report.message else CrashError
        args, kwargs = _exception_args(report)
        kind.__init__(self, *args, **kwargs)
        self.__class__ = kind


def _async_raiser():
    """A ctypes function pointer to ``PyThreadState_SetAsyncExc`` of our own (not pythonapi's)."""
    fn = ctypes.pythonapi._FuncPtr(("PyThreadState_SetAsyncExc", ctypes.pythonapi))
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_ulong, ctypes.py_object]
    return fn


_lock = threading.Lock()
_notify = _NOTIFY(_async_raiser())  # kept alive: libjit calls it (made with the module: 0.2 ms)
_notify_set = False
_hooked_shells = weakref.WeakSet()
_sigint_handler = []  # the handler made by cx._speedups (once), see _name_interrupts


def share_api():
    """Hand libjit's guard functions to cx's own C (``cx._speedups``: the call slot, the capture
    writer and the timing loop call them directly). Cheap, idempotent."""
    if not _speedups.guard_api_set():
        lib = _libjit.lib()
        address = lambda f: ctypes.cast(f, ctypes.c_void_p).value  # noqa: E731
        _speedups.set_guard_api(*(address(getattr(lib, n)) for n in (
            "jit_guard_enter", "jit_guard_leave", "jit_guard_recover", "jit_guard_suspend", "jit_guard_resume")))


def install():
    """Install (or put back) libjit's signal handlers; cheap, idempotent.

    Called by every ``cx.compile``. In IPython/Jupyter it also registers a ``pre_run_cell`` hook
    that calls it again before every cell, because ipykernel replaces the SIGINT handler with
    Python's for each cell it runs.
    """
    global _notify_set
    api = _api()
    share_api()
    with _lock:
        if not _notify_set:
            api["jit_guard_set_notify"](_notify, _Pending)
            _notify_set = True
        in_ipython = _hook_ipython()
    if in_ipython:
        _name_interrupts()
    if api["jit_guard_install"]() != _libjit.JIT_OK:
        raise MemoryError("libjit could not set up the crash guard for this thread")


def _rearm(*_info):
    _name_interrupts()
    _api()["jit_guard_install"]()


# ---- KeyboardInterrupt that says where C was stopped -------------------------------------------

_interrupt_seen = [0]  # the serial of the last SIGINT report a KeyboardInterrupt has described


def interrupt_message():
    """The text of the KeyboardInterrupt now being raised in the main thread: where the guarded C
    call it stopped was (``"fib() was interrupted at line 4 (in fib())."``), or None when it did not
    stop one (or that call was described already)."""
    report = last_report()
    if report is not None and report.signal == _signal.SIGINT and report.serial != _interrupt_seen[0]:
        _interrupt_seen[0] = report.serial
        return describe(report)
    return None


def forget_interrupt():
    """The last stopped call was reported another way (a callback's KeyboardInterrupt): do not
    describe it in a later, unrelated KeyboardInterrupt."""
    report = last_report()
    if report is not None:
        _interrupt_seen[0] = report.serial


def _name_interrupts():
    # In IPython (and Jupyter), Python's own handler is replaced by one that names the C function
    # (plain scripts keep theirs: asyncio.run, for one, looks for it); any other handler the
    # program set is left alone. Main thread only.
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
            if not _sigint_handler:  # C: it adds no frame of its own to the traceback
                _sigint_handler.append(_speedups.sigint_handler(interrupt_message))
            _signal.signal(_signal.SIGINT, _sigint_handler[0])
    except ValueError:  # not the main interpreter
        pass


def _hook_ipython():
    # Only when IPython is already running: cx does not import it.
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if get is not None else None
    if shell is None:
        return False
    if shell in _hooked_shells:
        return True
    events = getattr(shell, "events", None)
    if events is not None:
        events.register("pre_run_cell", _rearm)
        _hooked_shells.add(shell)
    return True


def callback(obj, errors, result):
    """Wrap the Python callable ``obj`` for C code to call back during a (guarded) call.

    While ``obj`` runs, the thread's guard is suspended: a crash in Python is not the C call's,
    and an interrupt raises KeyboardInterrupt in ``obj``, which also stops the C call as soon as
    it runs C again. Exceptions are appended to ``errors`` (re-raised when the C call returns) and
    ``result`` is returned instead.
    """
    api = _api()
    current, suspend, resume, stop = (api["jit_guard_current"], api["jit_guard_suspend"],
                                      api["jit_guard_resume"], api["jit_guard_stop"])

    def trampoline(*args):
        # `try` first, and the token before anything changes: an interrupt can surface after any
        # call (the interpreter checks for it there), and resume must run iff suspend did.
        try:
            if errors and isinstance(errors[-1], KeyboardInterrupt):
                return result  # the call is being stopped: let its C run to where it can stop
            token = current()
            try:
                suspend()
                return obj(*args)
            finally:
                resume(token)
        except BaseException as exc:  # re-raised in the caller's frame after the C call returns
            errors.append(exc)
            if isinstance(exc, KeyboardInterrupt):
                stop()  # the C call ends too, as soon as it runs C again
            return result

    return trampoline


def last_report():
    """This thread's last abandoned call (a :class:`Report`), or None."""
    report = Report()
    return report if _api()["jit_guard_last"](ctypes.byref(report)) else None


# ---- messages -------------------------------------------------------------------------------

_SIGNAL_TEXT = {
    _signal.SIGSEGV: "segmentation fault",
    _signal.SIGBUS: "bus error",
    _signal.SIGFPE: "arithmetic error",
    _signal.SIGILL: "illegal instruction",
    _signal.SIGABRT: "abort() was called",
    _signal.SIGINT: "interrupted",
}
_FPE_INTDIV, _FPE_INTOVF = 1, 2  # si_code values (Linux)
_SEGV_ACCERR = 2


def describe(report) -> str:
    """A one-paragraph description of ``report`` for the person in the notebook."""
    fn = report.function.decode(errors="replace") or "?"
    sig = report.signal
    message = report.message.decode(errors="replace")
    if message:  # the bounds checker spoke first (its fault or exit() followed)
        text = f"{fn}() failed the bounds check: {bounds_in_words(message)}"
        where = _location(report)
        return text + (f", {where}" if where else "") + "."
    if sig == 0:
        what = f"called exit({report.code})"
    elif report.stack_overflow:
        what = "overflowed the stack (runaway recursion, or a very large local array)"
    elif sig == _signal.SIGFPE:
        what = ("divided an integer by zero" if report.code in (_FPE_INTDIV, _FPE_INTOVF)
                else "raised a floating-point exception (SIGFPE)")
    elif sig in (_signal.SIGSEGV, _signal.SIGBUS):
        addr = report.address or 0
        name = "SIGSEGV" if sig == _signal.SIGSEGV else "SIGBUS"
        if addr < 4096:
            what = f"dereferenced a NULL pointer ({name} at address {addr:#x})"
        elif sig == _signal.SIGSEGV and report.code == _SEGV_ACCERR:
            what = f"wrote to read-only memory or ran data as code ({name} at address {addr:#x})"
        else:
            what = f"accessed invalid memory ({name} at address {addr:#x})"
    elif sig == _signal.SIGABRT:
        what = "called abort() (a failed assert(), or the C library found a corrupted heap)"
    elif sig == _signal.SIGINT:
        what = "was interrupted"
    else:
        what = f"crashed with {_signal.Signals(sig).name}" if sig in _SIGNAL_TEXT else f"crashed (signal {sig})"
    text = f"{fn}() {what}"
    library = report.library.decode(errors="replace")
    if library and not report.in_code and sig in (_signal.SIGSEGV, _signal.SIGBUS, _signal.SIGFPE,
                                                   _signal.SIGILL, _signal.SIGINT):
        text += f" inside {library}"  # e.g. memcpy given a bad pointer: the line is the call's
    where = _location(report)
    if where:
        text += f" {where}" if sig == _signal.SIGINT else f", {where}"
    return text + "."


_OUTSIDE = re.compile(r"(?:BCHECK: )?0x(?P<addr>[0-9a-fA-F]+) \(size (?P<n>\d+)\) is outside of the region "
                      r"\(0x(?P<start>[0-9a-fA-F]+)\.\.0x(?P<last>[0-9a-fA-F]+)\)$")


def bounds_in_words(message: str) -> str:
    """TinyCC's bounds-checker message in words: the object (its size and address), the offset
    accessed, and where that is relative to the object. Other messages are returned as they are.

    >>> bounds_in_words("BCHECK: 0x1010 (size 4) is outside of the region (0x1000..0x100f)")
    'accessed 4 bytes at offset 16 of a 16-byte object (at 0x1000), just past its end'
    """
    m = _OUTSIDE.match(message.strip())
    if not m:
        return message.removeprefix("BCHECK: ")
    addr, n, start, last = (int(m.group(k), 16) if k != "n" else int(m.group(k)) for k in ("addr", "n", "start", "last"))
    size, offset = last - start + 1, addr - start
    what = f"accessed {n} byte{'s' if n != 1 else ''} at offset {offset} of a {size}-byte object (at {start:#x})"
    if offset >= size:
        past = offset - size
        return what + (", just past its end" if past == 0 else f", {past} bytes past its end")
    if offset < 0:
        return what + f", {-offset} bytes before its start"
    if offset + n > size:
        return what + ", running past its end"
    return what + ", which is no longer valid (freed, or a local variable of a function that returned)"


def _location(report) -> str:
    if report.line <= 0:
        return ""
    file = report.file.decode(errors="replace")
    where = report.where.decode(errors="replace")
    place = f"at line {report.line}" if file in ("<cell>", "") else f"at {file}:{report.line}"
    return f"{place} (in {where}())" if where else place


_sources = weakref.WeakValueDictionary()  # C function name -> the Module that last defined it


def remember_source(module):
    """Let a crash in ``module``'s functions show the line of its source (the ``%%cx`` magic calls
    this for every cell it compiles; later definitions of a name win)."""
    declarations = module.declarations  # names only: no prototype is parsed for this
    for name in (*declarations.defined_functions, *declarations.static_functions):
        _sources[name] = module


def source_line(function, line):
    """The text of ``line`` in the remembered source defining C ``function``, or None."""
    module = _sources.get(function) if function else None
    lines = getattr(module, "source", "").splitlines()
    return lines[line - 1] if module is not None and 1 <= line <= len(lines) else None


def _with_source_line(text, report):
    # the crashing line under the message, with a caret, as compile errors show theirs
    where = report.where.decode(errors="replace")
    if report.line <= 0 or report.file.decode(errors="replace") not in ("<cell>", ""):
        return text
    shown = source_line(where, report.line)
    if shown is None or not shown.strip():
        return text
    shown = shown.expandtabs(4)
    indent = len(shown) - len(shown.lstrip())
    return f"{text}\n    {shown}\n    {' ' * indent}^"


def _exception_args(report):
    """(args, kwargs) of the CrashError for ``report``."""
    if report is None:
        return ("compiled C code crashed",), {}
    text = lambda b: b.decode(errors="replace")  # noqa: E731
    line = report.line if report.line > 0 and text(report.file) == "<cell>" else None
    return (_with_source_line(describe(report), report),), dict(
        signal=report.signal, function=text(report.function), line=line, address=report.address,
        where=text(report.where) or None, library=text(report.library) or None,
        check=text(report.message) or None)
