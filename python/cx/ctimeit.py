"""What does my C cost without Python's call overhead? Time a call in a loop that runs in C.

``cx.timeit(lib.f, a, b, n)`` (``%cxtimeit f(a, b, n)`` in a notebook) converts the arguments once,
exactly as a call from Python would, then runs a timing loop compiled by TinyCC for ``f``'s
prototype: it calls ``f`` through a function pointer ``loops`` times between two
``clock_gettime(CLOCK_MONOTONIC)`` readings, for each of ``repeat`` runs. The result reads like
IPython's ``%timeit`` (mean ± std. dev. of R runs, L loops each), with the cost of the same call
made from Python beside it::

    2.13 ns ± 0.04 ns per loop (mean ± std. dev. of 7 runs, 100,000,000 loops each), in C
    from Python: 151 ns per call (the call from Python adds 149 ns)

What is timed is ``f`` itself (not the crash-guard wrapper the binding calls) plus the loop around
it, about a nanosecond: a C caller pays the same. The whole timing run is crash-guarded and
interruptible like any cx call. Functions bound with ``hold_gil`` (they use Python objects) and
Python callables passed as function pointers are refused: time those with ``%timeit``.
"""
from __future__ import annotations

import copy
import ctypes
import functools
import math
import statistics
import timeit as _pytimeit
from dataclasses import dataclass, field

from .errors import ClosedError, CrashError, CxError

__all__ = ["timeit", "TimeitResult"]

#: Like IPython's %timeit: loops are chosen so that one run takes at least this long (seconds).
MIN_RUN_SECONDS = 0.2

_C_SCALARS = {
    ctypes.c_bool: "_Bool", ctypes.c_char: "char", ctypes.c_byte: "signed char",
    ctypes.c_ubyte: "unsigned char", ctypes.c_short: "short", ctypes.c_ushort: "unsigned short",
    ctypes.c_int: "int", ctypes.c_uint: "unsigned int", ctypes.c_long: "long",
    ctypes.c_ulong: "unsigned long", ctypes.c_longlong: "long long",
    ctypes.c_ulonglong: "unsigned long long", ctypes.c_float: "float", ctypes.c_double: "double",
    ctypes.c_longdouble: "long double",
}


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


# ---- argument types as C sees them -----------------------------------------------------------

class _Spelling:
    """C spellings for ctypes types, with the struct definitions they need."""

    def __init__(self):
        self.definitions = []
        self._names = {}

    def c(self, ctype) -> str:
        if ctype is None:
            return "void"
        if ctype in _C_SCALARS:
            return _C_SCALARS[ctype]
        if issubclass(ctype, (ctypes._Pointer, ctypes._CFuncPtr)) or ctype in (ctypes.c_void_p, ctypes.c_char_p,
                                                                               ctypes.c_wchar_p):
            return "void *"
        if issubclass(ctype, (ctypes.Structure, ctypes.Union)):
            return self._aggregate(ctype)
        raise CxError(f"cx.timeit cannot pass a {ctype.__name__} from a C loop")

    def _aggregate(self, ctype) -> str:
        name = self._names.get(ctype)
        if name is not None:
            return name
        kind = "union" if issubclass(ctype, ctypes.Union) else "struct"
        name = f"{kind} __cx_t{len(self._names)}"
        self._names[ctype] = name
        members = []
        for j, entry in enumerate(ctype._fields_):
            member = entry[1]
            dims = ""
            while issubclass(member, ctypes.Array):
                dims += f"[{member._length_}]"
                member = member._type_
            bits = f" : {entry[2]}" if len(entry) == 3 else ""
            members.append(f"    {self.c(member)} m{j}{dims}{bits};")
        packed = " __attribute__((packed))" if getattr(ctype, "_pack_", 0) == 1 else ""
        self.definitions.append(f"{name} {{\n" + "\n".join(members) + f"\n}}{packed};")
        return name


def _param_ctype(function, index):
    t = function._cx_decl.params[index].type
    if t.kind == "pointer":
        if t.target.kind == "function":
            return "callback"
        return ctypes.c_void_p
    if t.kind == "enum":
        return ctypes.c_int
    if t.kind == "scalar":
        from .binding import _SCALARS

        return _SCALARS[t.name]
    return function._argtypes_[index]  # a struct or union passed by value: its ctypes class


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


# ---- the timing loop, compiled once per prototype ----------------------------------------------

def _loop_source(result, params, spelling) -> str:
    args = "".join(f"    {p} a{i};\n" for i, p in enumerate(params))
    call_args = ", ".join(f"a{i}" for i in range(len(params)))
    copies = "".join(f"    {p} a{i} = in->a{i};\n" for i, p in enumerate(params))
    return ("typedef struct { long tv_sec; long tv_nsec; } __cx_timespec;\n"
            "int clock_gettime(int clock, __cx_timespec *t);\n"
            + "\n".join(spelling.definitions) + "\n"
            + f"typedef struct {{\n{args}    char end;\n}} __cx_args;\n"
            + f"typedef {result} (*__cx_fn)({', '.join(params) or 'void'});\n"
            "void cx_time(void *fp, const void *args, long loops, long runs, double *seconds) {\n"
            "    __cx_fn f = (__cx_fn)fp;\n"
            "    const __cx_args *in = args;\n"
            + copies +
            "    for (long r = 0; r < runs; r++) {\n"
            "        __cx_timespec t0, t1;\n"
            "        clock_gettime(1, &t0);  /* CLOCK_MONOTONIC */\n"
            f"        for (long i = 0; i < loops; i++) f({call_args});\n"
            "        clock_gettime(1, &t1);\n"
            "        seconds[r] = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;\n"
            "    }\n"
            "}\n")


def _offsets_source(count) -> str:
    """A function that reports where a0..a<count-1> are in the argument block, and its size."""
    return ("void cx_offsets(unsigned long *out) {\n"
            + "".join(f"    out[{i}] = __builtin_offsetof(__cx_args, a{i});\n" for i in range(count))
            + f"    out[{count}] = sizeof(__cx_args);\n}}\n")


@functools.lru_cache(maxsize=64)
def _timer(source, count):
    """The compiled loop for one prototype: (cx_time, offsets of the arguments, block size)."""
    from . import compile

    lib = compile(source + _offsets_source(count), name="cx_timeit")
    out = (ctypes.c_ulong * (count + 1))()
    lib.cx_offsets(out)
    return lib.cx_time, tuple(out[:count]), out[count]


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
    decl = getattr(function, "_cx_decl", None)
    if decl is None:
        raise TypeError(f"cx.timeit() times a function bound by cx (lib.f), not {type(function).__name__}")
    if getattr(function, "_cx_closed", False) or function._cx_owner is None or function._cx_owner.closed:
        raise ClosedError(f"{decl.name}() belongs to a closed module")
    if function._flags_ & ctypes._FUNCFLAG_PYTHONAPI:
        raise CxError(f"{decl.name}() is bound with hold_gil (it uses Python objects): time it with %timeit")
    if len(args) != len(decl.params):
        raise TypeError(f"{decl.name}() takes {len(decl.params)} argument{'s' if len(decl.params) != 1 else ''} "
                        f"({len(args)} given)")
    if repeat < 1 or number < 0:
        raise ValueError("repeat must be >= 1 and number >= 0")
    spelling = _Spelling()
    params, ctypes_of, raw, keep = [], [], [], []
    for i, arg in enumerate(args):
        what = f"argument {i + 1} of {decl.name}()"
        ctype = _param_ctype(function, i)
        if ctype == "callback":
            if callable(arg) and not isinstance(arg, ctypes._CFuncPtr):
                raise CxError(f"{what} is a Python callable: the C loop would time Python; use %timeit")
            ctype = ctypes.c_void_p
            converted = None if arg is None else ctypes.cast(arg, ctypes.c_void_p).value
        else:
            converted = function._argtypes_[i].from_param(arg)  # the call's own checks and errors
            if ctype is not ctypes.c_void_p and type(converted).__name__ == "CArgObject":
                converted = ctype(arg)  # ctypes' simple types (char, _Bool, long double) pass by value
        data, holder = _raw(converted, ctype, what)
        params.append(spelling.c(ctype))
        ctypes_of.append(ctype)
        raw.append(data)
        keep.append((arg, holder))
    result_c = "void" if decl.result.kind == "void" else spelling.c(
        ctypes.c_void_p if decl.result.kind == "pointer" else function._restype_)
    timer, offsets, size = _timer(_loop_source(result_c, params, spelling), len(params))
    block = ctypes.create_string_buffer(max(size, 1))
    for offset, data in zip(offsets, raw):
        ctypes.memmove(ctypes.addressof(block) + offset, data, len(data))
    address = function._cx_owner.sym(decl.name)  # f itself, not its guard wrapper
    if not address:
        raise CxError(f"{decl.name}() has no symbol in its module")
    seconds = (ctypes.c_double * repeat)()

    def run(loops, runs):
        try:
            timer(ctypes.c_void_p(address), block, loops, runs, seconds)
        except CrashError as e:  # name the function being timed, not the loop around it
            crash = copy.copy(e)
            crash.args = (str(e).replace("cx_time()", f"{decl.name}() (timed by cx.timeit)", 1),)
            crash.function = decl.name
            raise crash from None
        return list(seconds[:runs])

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
