"""What does my C cost without Python's call overhead? Time a call in a loop that runs in C.

``cx.timeit(lib.f, a, b, n)`` (``%cxtimeit f(a, b, n)`` in a notebook) converts the arguments once,
exactly as a call from Python would, places them where the platform's calling convention passes
them (registers, stack words), then runs cx's timing loop (``tools/_timeit.c``, built with cx): it
calls ``f`` through a function pointer ``loops`` times between two
``clock_gettime(CLOCK_MONOTONIC)`` readings, for each of ``repeat`` runs. The result reads like
IPython's ``%timeit`` (mean ± std. dev. of R runs, L loops each), with the cost of the same call
made from Python beside it::

    2.13 ns ± 0.04 ns per loop (mean ± std. dev. of 7 runs, 100,000,000 loops each), in C
    from Python: 151 ns per call (the call from Python adds 149 ns)

What is timed is ``f`` itself plus the loop around it, about a nanosecond: a C caller pays the
same. The whole timing run is crash-guarded and interruptible like any cx call. Functions bound
with ``hold_gil`` (they use Python objects) and Python callables passed as function pointers are
refused: time those with ``%timeit``. On x86-64 every prototype is timed (structs and
``long double`` by value included); on AArch64, prototypes of scalars and pointers.
"""
from __future__ import annotations

import copy
import ctypes
import math
import statistics
import timeit as _pytimeit
from dataclasses import dataclass, field

from .. import _speedups
from ..bind import FunctionInfo, abi, scalars
from ..runtime import guard as _guard
from ..errors import ClosedError, CrashError, CxError

__all__ = ["timeit", "TimeitResult"]

#: Like IPython's %timeit: loops are chosen so that one run takes at least this long (seconds).
MIN_RUN_SECONDS = 0.2

def _format_time(seconds: float) -> str:
    """``%timeit``'s format: three significant digits in s, ms, µs or ns."""
    if seconds <= 0 or not math.isfinite(seconds):
        return f"{seconds:.3g} {'ns' if seconds == 0 else 's'}"
    for unit, scale in (("s", 1.0), ("ms", 1e3), ("µs", 1e6), ("ns", 1e9)):
        if seconds * scale >= 1.0 or unit == "ns":
            return f"{seconds * scale:.3g} {unit}"
    raise AssertionError("unreachable")


@dataclass
class TimeitResult:
    """The timing of one C function called in a C loop.

    Attributes
    ----------
    function : str
    loops : int
        Calls per run.
    repeat : int
        Runs.
    timings : list of float
        Seconds per call, one per run.
    python_call : float or None
        Seconds per call of the same call made from Python (None if not measured).
    """

    function: str
    loops: int
    repeat: int
    timings: list = field(default_factory=list)
    python_call: "float | None" = None

    @property
    def average(self) -> float:
        """Mean seconds per call."""
        return statistics.fmean(self.timings)

    @property
    def stdev(self) -> float:
        """Standard deviation of the runs' seconds per call (0 for one run)."""
        return statistics.pstdev(self.timings) if len(self.timings) > 1 else 0.0

    @property
    def best(self) -> float:
        """Fastest run, seconds per call."""
        return min(self.timings)

    @property
    def worst(self) -> float:
        """Slowest run, seconds per call."""
        return max(self.timings)

    def __str__(self):
        runs = "run" if self.repeat == 1 else "runs"
        loops = "loop" if self.loops == 1 else "loops"
        text = (f"{_format_time(self.average)} ± {_format_time(self.stdev)} per loop (mean ± std. dev. of "
                f"{self.repeat} {runs}, {self.loops:,} {loops} each), in C")
        if self.python_call is not None:
            extra = self.python_call - self.average
            text += (f"\nfrom Python: {_format_time(self.python_call)} per call (the call from Python adds "
                     f"{_format_time(extra) if extra > 0 else 'nothing measurable'})")
        return text

    def __repr__(self):
        return f"<cx.TimeitResult {self.function}: {_format_time(self.average)} per call in C>"

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


# ---- arguments placed as the calling convention places them ----------------------------------

_X86_64 = abi.X86_64
_WORD = 8


def _word(data: bytes, signed: bool = False) -> int:
    """8 bytes of a register: ``data`` widened (sign-extended for a signed integer)."""
    return int.from_bytes(data, "little", signed=signed) & 0xFFFFFFFFFFFFFFFF


class _Placement:
    """Where the arguments of one call go: integer registers, floating-point registers, stack words."""

    def __init__(self):
        self.ints, self.floats, self.stack = [], [], []

    def integer(self, word):
        if len(self.ints) < _speedups.TIMEIT_INT_REGS:
            self.ints.append(word)
        else:
            self.stack.append(word)

    def real(self, word):
        if len(self.floats) < _speedups.TIMEIT_FLOAT_REGS:
            self.floats.append(word)
        else:
            self.stack.append(word)

    def memory(self, data: bytes, align: int):
        """An argument passed in stack words (x86-64's MEMORY class)."""
        if align > _WORD and len(self.stack) % 2:
            self.stack.append(0)
        data = data + bytes(-len(data) % _WORD)
        self.stack += [_word(data[i:i + _WORD]) for i in range(0, len(data), _WORD)]

    def aggregate(self, data: bytes, classes):
        """A struct of at most 16 bytes: its eightbytes in registers of their classes, or all of
        it on the stack when the registers left do not hold it."""
        need_int, need_sse = classes.count("INTEGER"), classes.count("SSE")
        if (len(self.ints) + need_int > _speedups.TIMEIT_INT_REGS
                or len(self.floats) + need_sse > _speedups.TIMEIT_FLOAT_REGS):
            self.memory(data, _WORD)
            return
        data = data + bytes(-len(data) % _WORD)
        for k, cls in enumerate(classes):
            word = _word(data[k * _WORD:(k + 1) * _WORD])
            (self.ints if cls == "INTEGER" else self.floats).append(word)

    def packed(self):
        """(ints, floats, stack) as bytes of 8-byte words, for ``_speedups.time_loop``."""
        pack = lambda words: b"".join(w.to_bytes(_WORD, "little") for w in words)  # noqa: E731
        if len(self.stack) > _speedups.TIMEIT_STACK_WORDS:
            raise CxError(f"cx.timeit passes at most {_speedups.TIMEIT_STACK_WORDS * _WORD} bytes of stack "
                          "arguments; time this call with %timeit")
        return pack(self.ints), pack(self.floats), pack(self.stack)


def _place(placement, ctype, data, what, tinycc):
    """Put one converted argument (``data``: its bytes as C holds it) where the callee reads it
    (``tinycc``: the callee was compiled by TinyCC)."""
    if ctype is ctypes.c_void_p:
        placement.integer(_word(data))
        return
    scalar = scalars.by_ctype(ctype)
    if scalar is not None and scalar.element != "f":
        placement.integer(_word(data, scalar.signed))
    elif scalar is not None and scalar.size <= _WORD:
        placement.real(_word(data))
    elif not _X86_64:
        raise CxError(f"{what}: cx.timeit passes a {ctype.__name__} by value on x86-64 only; time this call "
                      "with %timeit")
    elif scalar is not None:  # long double: memory, 16-byte aligned
        placement.memory(data, 16)
    else:
        classes = abi.eightbytes(ctype, tinycc)
        if classes is None:
            placement.memory(data, ctypes.alignment(ctype))
        else:
            placement.aggregate(data, classes)


def _result_kind(result, restype, placement, keep):
    """How the timing loop calls for this result: ``"i"``, ``"d"`` or ``"x"`` (x87); a struct
    returned in memory gets a buffer, its address first in the integer registers."""
    if result.kind == "void" or result.kind == "pointer" or restype is None:
        return "i"
    scalar = scalars.by_ctype(restype)
    if scalar is not None:
        if scalar.element != "f":
            return "i"
        return "x" if scalar.size > _WORD and _X86_64 else "d"
    if not _X86_64:
        raise CxError(f"{result.spelling}: cx.timeit times functions returning a struct on x86-64 only; time "
                      "this call with %timeit")
    leaves = list(abi.leaves(restype))
    if len(leaves) == 1 and leaves[0][1] is ctypes.c_longdouble:
        return "x"  # struct { long double x; } comes back in x87's st(0)
    if abi.eightbytes(restype) is None:
        buffer = ctypes.create_string_buffer(ctypes.sizeof(restype))
        keep.append(buffer)
        placement.integer(ctypes.addressof(buffer))  # the hidden pointer to the result
    return "i"


def _param_ctype(info, index):
    t = info.declaration.params[index].type
    if t.kind == "pointer":
        return "callback" if t.target.kind == "function" else ctypes.c_void_p
    if t.kind == "enum":
        return ctypes.c_int
    if t.kind == "scalar":
        return scalars.by_name(t.name).ctype
    return info.types.ctype(t)  # a struct or union passed by value: its ctypes class


def _raw(converted, ctype, what):
    """(bytes as C holds the converted value, object to keep alive)."""
    if converted is None:
        return bytes(ctypes.sizeof(ctypes.c_void_p)), None
    if isinstance(converted, int) and ctype is ctypes.c_void_p:
        return bytes(ctypes.c_void_p(converted)), None
    if type(converted).__name__ == "CArgObject":  # ctypes.byref(obj)
        return bytes(ctypes.c_void_p(ctypes.addressof(converted._obj))), converted
    if ctype is ctypes.c_void_p and isinstance(converted, (ctypes.Array, ctypes.Structure, ctypes.Union)):
        return bytes(ctypes.c_void_p(ctypes.addressof(converted))), converted
    if isinstance(converted, (ctypes._SimpleCData, ctypes._Pointer, ctypes.Structure, ctypes.Union, ctypes._CFuncPtr)):
        data = bytes(memoryview(converted).cast("B"))
        if len(data) != ctypes.sizeof(ctype):
            raise CxError(f"{what}: converted to {len(data)} bytes, but C expects {ctypes.sizeof(ctype)}")
        return data, converted
    raise CxError(f"{what}: cx.timeit cannot pass a {type(converted).__name__} from a C loop")


# ---- the API -----------------------------------------------------------------------------------

def timeit(function, *args, repeat: int = 7, number: int = 0, python: bool = True) -> TimeitResult:
    """Time ``function(*args)`` called in a loop that runs in C, and the same call from Python.

    Parameters
    ----------
    function : cx function
        A function of a :class:`cx.Module` (``lib.f``, or ``f`` bound by ``%%cx``).
    *args
        Its arguments, as for a call from Python (numpy arrays, numbers, structs...). They are
        converted once, before timing.
    repeat : int
        Runs (each a mean over ``number`` calls); default 7, like ``%timeit``.
    number : int
        Calls per run; 0 (default) picks a count that makes a run last at least 0.2 s.
    python : bool
        Also time the same call made from Python (``TimeitResult.python_call``).

    Returns
    -------
    TimeitResult
        ``print(result)`` reads like ``%timeit``'s output.

    Raises
    ------
    TypeError
        ``function`` is not a cx function, or the arguments do not fit its prototype (the same
        errors as a call).
    CxError
        A prototype the C loop cannot call (``hold_gil``, a Python callback argument).
    CrashError
        The function crashed while being timed.

    Examples
    --------
    >>> import cx
    >>> lib = cx.compile("long twice(long x) { return 2 * x; }")
    >>> result = cx.timeit(lib.twice, 21, repeat=3, number=1000)
    >>> result.loops, result.repeat, len(result.timings)
    (1000, 3, 3)
    """
    info = getattr(function, "info", None)
    if not isinstance(info, FunctionInfo):
        raise TypeError(f"cx.timeit() times a function bound by cx (lib.f), not {type(function).__name__}")
    decl = info.declaration
    if info.closed or info.code is None or info.code.closed:
        raise ClosedError(f"{decl.name}() belongs to a closed module")
    if info.hold_gil:
        raise CxError(f"{decl.name}() is bound with hold_gil (it uses Python objects): time it with %timeit")
    if len(args) != len(decl.params):
        raise TypeError(f"{decl.name}() takes {len(decl.params)} argument{'s' if len(decl.params) != 1 else ''} "
                        f"({len(args)} given)")
    if repeat < 1 or number < 0:
        raise ValueError("repeat must be >= 1 and number >= 0")
    placement, keep = _Placement(), []
    ret = _result_kind(decl.result, info.restype, placement, keep)
    for i, arg in enumerate(args):
        what = f"argument {i + 1} of {decl.name}()"
        ctype = _param_ctype(info, i)
        if ctype == "callback":
            if callable(arg) and not isinstance(arg, ctypes._CFuncPtr):
                raise CxError(f"{what} is a Python callable: the C loop would time Python; use %timeit")
            ctype = ctypes.c_void_p
            converted = None if arg is None else ctypes.cast(arg, ctypes.c_void_p).value
        else:
            converted = info.converters[i].from_param(arg)  # the call's own checks and errors
            if ctype is not ctypes.c_void_p and type(converted).__name__ == "CArgObject":
                converted = ctype(arg)  # ctypes' simple types (char, _Bool, long double) pass by value
            elif issubclass(ctype, (ctypes.Structure, ctypes.Union)) and type(converted) is not ctype:
                # the words ctypes passes for TinyCC (cx.bind.abi): the struct's own bytes
                converted = ctype.from_buffer_copy(bytes(memoryview(converted).cast("B"))[:ctypes.sizeof(ctype)])
        data, holder = _raw(converted, ctype, what)
        _place(placement, ctype, data, what, info.types.backend == "tcc")
        keep.append((arg, holder))
    ints, floats, stack = placement.packed()
    address = info.address  # f itself (a header's static inline function has no symbol of its own)
    if not address:
        raise CxError(f"{decl.name}() has no symbol in its module")
    _guard.share_api()  # the loop enters the crash guard
    name = decl.name.encode()

    def run(loops, runs):
        try:
            seconds = _speedups.time_loop(address, name, ints, floats, stack, ret, loops, runs)
        except CrashError as e:  # say that it was being timed
            crash = copy.copy(e)
            crash.args = (str(e).replace(f"{decl.name}()", f"{decl.name}() (timed by cx.timeit)", 1),)
            raise crash from None
        return seconds

    loops = number
    if not loops:
        for loops in (10 ** k * m for k in range(10) for m in (1, 2, 5)):
            if run(loops, 1)[0] >= MIN_RUN_SECONDS:
                break
    timings = [s / loops for s in run(loops, repeat)]
    out = TimeitResult(decl.name, loops, repeat, timings)
    if python:
        out.python_call = _python_call(function, args)
    del keep
    return out


def _python_call(function, args) -> float:
    """Seconds per call of ``function(*args)`` made from Python (mean of 3 auto-ranged runs, as the
    C timing is a mean)."""
    names = {f"a{i}": a for i, a in enumerate(args)}
    timer = _pytimeit.Timer(f"f({', '.join(names)})", globals={"f": function, **names})
    number, _ = timer.autorange()
    return statistics.fmean(timer.repeat(repeat=3, number=number)) / number
