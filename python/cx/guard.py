"""Crash and interrupt guard: C that crashes or never ends raises in Python, the kernel survives.

Every exported function ``f`` of a guarded module gets a C wrapper ``__cx_guard_f`` with the same
prototype, compiled in the same translation unit (:func:`generate`, registered in
:data:`cx.unit.GENERATORS`), and the Module binds the wrapper instead of ``f``::

    int __cx_guard_add(int __cx_a0, int __cx_a1) {
        __cx_guard_frame __cx_fr; int __cx_r;
        if (__cx_setjmp(&__cx_fr)) { __cx_guard_recover(&__cx_fr); { static int __cx_z; return __cx_z; } }
        __cx_guard_enter(&__cx_fr, "add", 0);
        __cx_r = add(__cx_a0, __cx_a1);
        __cx_guard_leave(&__cx_fr);
        return __cx_r;
    }

libjit owns the signal handlers (``libjit/guard.c``, ``interrupt.c``, ``where.c``; the API is
documented in ``jit.h``). On SIGSEGV, SIGBUS,
SIGFPE, SIGILL or SIGABRT inside a guarded call it jumps back to the wrapper, which returns zero;
``jit_guard_recover`` then calls back into Python, which sets an asynchronous exception on the
calling thread (``PyThreadState_SetAsyncExc``): the interpreter raises it as soon as the ctypes call
returns, at the call site. The callback is a ctypes function pointer wrapped as a ctypes callback,
so no Python bytecode runs on the crash path (where a pending signal could otherwise be swallowed).
Nothing of this costs anything per call: the wrapper's frame bookkeeping is a ``_setjmp`` and two
calls into libjit.

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

Functions are bound to the wrapper's address; :meth:`cx.Module.exports` still hands out ``f``
itself, so C calling C across modules pays nothing.
"""
from __future__ import annotations

import ctypes
import re
import signal as _signal
import sys
import threading
import weakref

from . import _libjit, unit
from .errors import BoundsError, CrashError

__all__ = ["install", "generate", "wrapper_name", "last_report", "Report", "describe", "callback",
           "add_code", "remove_code", "FRAME_SIZE"]

#: JIT_GUARD_FRAME_SIZE of libjit/jit.h: the wrapper's frame, on its stack.
FRAME_SIZE = 512

_PREFIX = "__cx_guard_"
#: Defined last by the wrappers: marks the end of the cell's code for libjit (jit.h).
END_SYMBOL = "__cx_code_end"
_GENERATED_FILE = "<cx-generated>"


def wrapper_name(function: str) -> str:
    """The C name of the guard wrapper of ``function``."""
    return _PREFIX + function


Report = _libjit.GuardReport
_NOTIFY = _libjit.guard_notify


def _api():
    """libjit's guard functions by name (declared in :mod:`cx._libjit`)."""
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
_notify = None  # kept alive: libjit calls it
_hooked_shells = weakref.WeakSet()


def install():
    """Install (or put back) libjit's signal handlers; cheap, idempotent.

    Called by every ``cx.compile``. In IPython/Jupyter it also registers a ``pre_run_cell`` hook
    that calls it again before every cell, because ipykernel replaces the SIGINT handler with
    Python's for each cell it runs.
    """
    global _notify
    api = _api()
    with _lock:
        if _notify is None:
            _notify = _NOTIFY(_async_raiser())
            api["jit_guard_set_notify"](_notify, _Pending)
        _hook_ipython()
    if api["jit_guard_install"]() != _libjit.JIT_OK:
        raise MemoryError("libjit could not set up the crash guard for this thread")


def _rearm(*_info):
    _api()["jit_guard_install"]()


def _hook_ipython():
    # Only when IPython is already running: cx does not import it.
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if get is not None else None
    if shell is None or shell in _hooked_shells:
        return
    events = getattr(shell, "events", None)
    if events is not None:
        events.register("pre_run_cell", _rearm)
        _hooked_shells.add(shell)


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


def add_code(start: int, end: int):
    """Register ``[start, end)`` as compiled code (for backends other than TinyCC, whose code
    libjit registers itself): SIGINT stops a guarded call only while it runs registered code."""
    if _api()["jit_guard_add_code"](start, end) != _libjit.JIT_OK:
        raise ValueError(f"bad code range [{start:#x}, {end:#x})")


def remove_code(start: int):
    """Forget the range registered at ``start``."""
    _api()["jit_guard_remove_code"](start)


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
        text = f"{fn}() failed the bounds check: {message.removeprefix('BCHECK: ')}"
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
    else:
        what = f"crashed with {_signal.Signals(sig).name}" if sig in _SIGNAL_TEXT else f"crashed (signal {sig})"
    text = f"{fn}() {what}"
    library = report.library.decode(errors="replace")
    if library and not report.in_code and sig in (_signal.SIGSEGV, _signal.SIGBUS, _signal.SIGFPE,
                                                   _signal.SIGILL):
        text += f" inside {library}"  # e.g. memcpy given a bad pointer: the line is the call's
    where = _location(report)
    if where:
        text += f", {where}"
    return text + "."


def _location(report) -> str:
    if report.line <= 0:
        return ""
    file = report.file.decode(errors="replace")
    where = report.where.decode(errors="replace")
    place = f"at line {report.line}" if file in ("<cell>", "") else f"at {file}:{report.line}"
    return f"{place} (in {where}())" if where else place


def _exception_args(report):
    """(args, kwargs) of the CrashError for ``report``."""
    if report is None:
        return ("compiled C code crashed",), {}
    text = lambda b: b.decode(errors="replace")  # noqa: E731
    line = report.line if report.line > 0 and text(report.file) == "<cell>" else None
    return (describe(report),), dict(
        signal=report.signal, function=text(report.function), line=line, address=report.address,
        where=text(report.where) or None, library=text(report.library) or None,
        check=text(report.message) or None)


# ---- the wrappers ---------------------------------------------------------------------------

_HEADER = f"""\
/* cx's crash guard: one wrapper per exported function (cx/guard.py, libjit/jit.h) */
typedef union {{ unsigned char __cx_b[{FRAME_SIZE}]; long double __cx_a; }} __cx_guard_frame;
#ifndef __TINYC__
#define __cx_guard_enter jit_guard_enter
#define __cx_guard_leave jit_guard_leave
#define __cx_guard_recover jit_guard_recover
__attribute__((returns_twice))
#endif
int __cx_setjmp(void *) __asm__("_setjmp");
void __cx_guard_enter(__cx_guard_frame *, const char *, int);
void __cx_guard_leave(__cx_guard_frame *);
void __cx_guard_recover(__cx_guard_frame *);
"""


_C_WORDS = frozenset(
    "auto char const double enum extern float inline int long register restrict short signed"
    " sizeof static struct union unsigned void volatile _Bool _Complex _Atomic".split())


def _wrapper(fn, flags=0) -> str:
    names = [f"__cx_a{i}" for i in range(len(fn.params))]
    head = fn.c_declaration(wrapper_name(fn.name), names)
    call = f"({fn.name})({', '.join(names)})"  # (f): never a function-like macro of the source
    void = fn.result.kind == "void"
    zero = "return;" if void else f"{{ static {fn.result.declaration('__cx_z')}; return __cx_z; }}"
    # After the source, whose macros may still be defined (backends that compile the source
    # itself): the names the wrapper uses mean what the declarations say, never a macro.
    used = sorted({w for w in re.findall(r"[A-Za-z_]\w*", head + fn.result.spelling)
                   if w not in _C_WORDS and not w.startswith("__cx_")})
    lines = [f"#undef {w}" for w in used] + [f"{head} {{", "    __cx_guard_frame __cx_fr;"]
    if not void:
        lines.append(f"    {fn.result.declaration('__cx_r')};")
    lines += [
        f"    if (__cx_setjmp(&__cx_fr)) {{ __cx_guard_recover(&__cx_fr); {zero} }}",
        f'    __cx_guard_enter(&__cx_fr, "{fn.name}", {flags});',
        f"    {call};" if void else f"    __cx_r = {call};",
        "    __cx_guard_leave(&__cx_fr);",
        "    return;" if void else "    return __cx_r;",
        "}",
    ]
    return "\n".join(lines)


def guarded_functions(declarations):
    """The functions of ``declarations`` that get a wrapper: defined, exported, fixed arguments."""
    return [f for f in declarations.functions.values() if f.defined and not f.static and not f.variadic]


def generate(declarations, options) -> str:
    """The wrappers of a unit (a :data:`cx.unit.GENERATORS` entry); "" unless ``options["guard"]``."""
    if not options.get("guard"):
        return ""
    functions = guarded_functions(declarations)
    host_api = options.get("hold_gil", ())  # these run Python's C API (JIT_GUARD_HOST_API)
    parts = [_HEADER] + [_wrapper(f, 1 if f.name in host_api else 0) for f in functions]
    parts.append(f"void {END_SYMBOL}(void) {{}}")
    return "\n".join(parts)


def generated_code_failed(error) -> bool:
    """Whether a CompileError points into the generated wrappers (not the user's source)."""
    return any(d.file == _GENERATED_FILE for d in getattr(error, "diagnostics", ()))


unit.GENERATORS.append(generate)
