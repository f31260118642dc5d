"""Bound functions and globals: the declaration model (:mod:`cx.cread`) made callable through ctypes.

Every function is bound as an instance of its own subclass of ``ctypes._CFuncPtr``, the base
``CFUNCTYPE`` prototypes share (made directly, not through ``CFUNCTYPE``, whose cache would keep every
module alive: see :func:`bind_function`). It has ``argtypes``/``restype`` and can be cast and passed
as a function pointer; calling it goes through cx's own call slot (:mod:`cx.bind.callslot`,
``_call.c``), which converts the arguments in C, releases the GIL, enters the crash guard and calls
the C function, handing what it does not cover to ctypes. The subclass carries the C prototype as
``__doc__`` and an :class:`inspect.Signature`, for ``help()`` and Jupyter's tooltips. Pointer
parameters convert buffers (numpy arrays, bytes, bytearray, array.array) zero-copy through
``cx._speedups.PointerArg``, which checks the element type. ``f.info`` (a :class:`FunctionInfo`)
describes the function to tools and tests.

The binding knows declarations and addresses, not where the code came from.
"""
from __future__ import annotations

import ctypes
import inspect
import weakref

from .. import _speedups
from ..build import cache
from ..errors import ClosedError, CxError, PicklingError
from ..runtime import guard as _guard
from . import abi, callslot, scalars
from .types import BindingError, CString, Pointer, _identity, _unqualified, data_pointer, function_pointer

__all__ = ["bind_function", "trap_function", "FunctionInfo", "GlobalVariable", "disassemble_with"]


def _describe(fn, index, param):
    pname = param.name or f"#{index + 1}"
    return f"argument '{pname}' of {fn.name}()"


_BYREF = type(ctypes.byref(ctypes.c_int()))
_POINTER_LIKE = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_wchar_p, ctypes._Pointer, ctypes._CFuncPtr)


def _pointer_fallback(fn, index, param, types, accepts_str):
    """from_param for non-buffer objects passed to a pointer parameter: text for ``const char *``,
    cx pointers of the right type, ``ctypes.byref(x)`` and ``ctypes.pointer(x)`` of the right
    type (out-parameters), ctypes structs and arrays."""
    target = param.type.target
    what = _describe(fn, index, param)
    spelling = param.type.spelling
    target_ctype = None
    if target.kind not in ("void", "opaque", "function"):
        try:
            target_ctype = types.ctype(target)
        except BindingError:
            target_ctype = None
    anything = target.kind == "void"
    chars = target.kind == "scalar" and target.name in ("char", "signed char", "unsigned char")

    def refuse(detail):
        raise TypeError(f"{what} ({spelling}): {detail}")

    def fits(obj):
        """Whether the ctypes object ``obj`` is an object of the pointee's type."""
        if anything or target.kind == "opaque":
            return True
        if target_ctype is None:
            return False
        if isinstance(obj, ctypes.Array):
            if target.kind == "pointer":  # char **argv: an array of any pointer type
                return issubclass(obj._type_, _POINTER_LIKE)
            return issubclass(obj._type_, target_ctype) or (chars and ctypes.sizeof(obj._type_) == 1)
        if target.kind == "pointer":  # T **: any pointer-sized pointer object
            return isinstance(obj, _POINTER_LIKE)
        return isinstance(obj, target_ctype) or (chars and type(obj) in (ctypes.c_char, ctypes.c_byte,
                                                                         ctypes.c_ubyte))

    def fallback(obj):
        if isinstance(obj, CString):
            if chars or anything:
                return obj.pointer
            refuse(f"got the text of a char * result; this parameter takes {spelling}")
        if accepts_str and isinstance(obj, str):
            return ctypes.c_char_p(obj.encode("utf-8"))
        if isinstance(obj, Pointer):
            mine = obj._cx_target
            if anything or mine is None or mine.kind == "void" or _identity(mine) == _identity(target):
                return obj
            refuse(f"got a pointer to {_unqualified(mine).spelling}, expected one to "
                   f"{_unqualified(target).spelling}")
        if isinstance(obj, _BYREF):
            if fits(obj._obj):
                return obj
            refuse(f"got ctypes.byref() of a {type(obj._obj).__name__}; pass byref() of a "
                   f"{_ctype_name(target_ctype)} (e.g. x = {_ctype_name(target_ctype)}(); "
                   f"f(..., ctypes.byref(x)); then x.value)")
        if isinstance(obj, ctypes._Pointer):
            if anything or target.kind == "opaque" or (target_ctype is not None and (
                    issubclass(obj._type_, target_ctype) or (target.kind == "pointer" and fits(obj.contents
                    if obj else ctypes.c_void_p())))) or (target_ctype is None and _is_struct(obj._type_, target)):
                return obj
            refuse(f"got a pointer to {obj._type_.__name__}, expected one to "
                   f"{_ctype_name(target_ctype) if target_ctype is not None else _unqualified(target).spelling}")
        if isinstance(obj, ctypes.Array):
            if fits(obj):
                return obj
            refuse(f"got an array of {obj._type_.__name__}, expected {_ctype_name(target_ctype)} elements")
        if isinstance(obj, ctypes.c_void_p):
            return obj  # an address the caller vouches for
        if isinstance(obj, ctypes.c_char_p):  # a char * held in ctypes (an out-parameter's value)
            if chars or anything:
                return obj
            refuse(f"got a ctypes.c_char_p, expected a pointer to {_unqualified(target).spelling}")
        if isinstance(obj, (ctypes.Structure, ctypes.Union)):
            if target_ctype is not None and not isinstance(obj, target_ctype):
                refuse(f"expected {target_ctype.__name__}, got {type(obj).__name__}")
            return ctypes.byref(obj)
        if isinstance(obj, ctypes._SimpleCData):
            if fits(obj):
                return ctypes.byref(obj)
            refuse(f"got a {type(obj).__name__}, expected a {_ctype_name(target_ctype)}")
        if isinstance(obj, (list, tuple)) and target.const and target_ctype is not None:
            try:
                return (target_ctype * len(obj))(*obj)
            except TypeError as exc:
                refuse(str(exc))
        if isinstance(obj, int) and not isinstance(obj, bool):
            refuse("got an int; an address is passed as ctypes.c_void_p(address), a pointer a C "
                   "function returned as it is")
        hint = "a numpy array, bytes/bytearray, a pointer a cx function returned, or a ctypes object"
        if accepts_str:
            hint = "str, bytes, " + hint
        if target.kind in ("scalar", "pointer", "struct", "union", "enum") and target_ctype is not None:
            hint += f" (for an out-parameter: ctypes.byref({_ctype_name(target_ctype)}()))"
        if isinstance(obj, (list, tuple)):
            hint += " (a list is accepted only for const pointers, since C could not write back to it)"
        refuse(f"expected {hint}, got {type(obj).__name__}")

    return fallback


def _is_struct(cls, target):
    """Whether ``cls`` is the cx class of the struct or union ``target`` names (a struct this
    module only declares, which another module defines: a pointer to it passes as a handle)."""
    decl = cls.__dict__.get("_cx_struct")
    if decl is None or target.kind not in ("struct", "union") or decl.union != (target.kind == "union"):
        return False
    return decl.tag == target.tag if target.tag else decl.name == target.name


def _ctype_name(ctype):
    if ctype is None:
        return "ctypes object"
    name = ctype.__name__
    return f"ctypes.{name}" if getattr(ctypes, name, None) is ctype else name


def _pointer_converter(fn, index, param, types):
    target = param.type.target
    what = _describe(fn, index, param)
    spelling = param.type.spelling
    writable = not target.const
    if target.kind == "scalar":
        scalar = scalars.by_name(target.name)
        kind, itemsize = scalar.element, scalar.size
    elif target.kind == "enum":  # its ctype: int, or wider when its values need it
        underlying = types.ctype(target)
        kind, itemsize = "i" if underlying in (ctypes.c_int, ctypes.c_longlong) else "u", ctypes.sizeof(underlying)
    elif target.kind in ("struct", "union") and types._laid_out(target.name):
        kind, itemsize = "s", ctypes.sizeof(types.struct(target.name))
    elif target.kind == "pointer":
        kind, itemsize = "u", ctypes.sizeof(ctypes.c_void_p)
    else:
        kind, itemsize = "v", 0
    accepts_str = target.kind == "scalar" and target.name == "char" and target.const
    fallback = _pointer_fallback(fn, index, param, types, accepts_str)
    return _speedups.PointerArg(kind, itemsize, writable, what, spelling, _dtype_hint(kind, itemsize), fallback)


def _dtype_hint(kind, itemsize):
    """The numpy dtype matching a pointee, for error messages."""
    bits = itemsize * 8
    if kind == "f":
        return {4: "numpy.float32", 8: "numpy.float64"}.get(itemsize, "numpy.longdouble")
    if kind in ("i", "u"):
        return f"numpy.{'u' if kind == 'u' else ''}int{bits}"
    if kind == "c":
        return "numpy.uint8"
    if kind == "?":
        return "numpy.bool_"
    return "<the matching dtype>"


def _scalar_converter(fn, index, param, ctype):
    """The argtype for a by-value parameter: range-checked integers and real numbers through
    :mod:`cx._speedups`; ctypes' own type for the rest (char, _Bool, long double, structs)."""
    what, spelling = _describe(fn, index, param), param.type.spelling
    scalar = scalars.by_ctype(ctype)
    if scalar is not None and scalar.integer:
        return _speedups.IntArg(ctype, scalar.signed, what, spelling)
    if scalar is not None and scalar.slot in ("d", "f"):
        return _speedups.FloatArg(ctype, what, spelling)
    return ctype


def _tinycc_substitute(types, ctype):
    """For a struct by value of a TinyCC module that TinyCC passes otherwise than the ABI ctypes
    follows, the class ctypes passes instead (:func:`cx.bind.abi.tinycc_substitute`); else None."""
    if types.backend != "tcc" or not (isinstance(ctype, type) and issubclass(ctype, (ctypes.Structure, ctypes.Union))):
        return None
    return abi.tinycc_substitute(ctype)


class _AsTinyCC:
    """from_param for a struct by value that TinyCC passes in integer registers where the ABI
    (and ctypes) would use an SSE one: the same bytes, as a struct of integer words."""

    def __init__(self, real, substitute, what):
        self.real, self.substitute, self.what = real, substitute, what

    def from_param(self, obj):
        if not isinstance(obj, self.real):
            raise TypeError(f"{self.what}: expected a {self.real.__name__}, got {type(obj).__name__}")
        data = bytes(memoryview(obj).cast("B"))
        return self.substitute.from_buffer_copy(data + bytes(ctypes.sizeof(self.substitute) - len(data)))


class _CallbackArg:
    """from_param for a function-pointer parameter: wraps Python callables in a ctypes callback.

    The callback object lives for the duration of the call only; C code must not keep the
    function pointer. An exception raised by the Python callable is recorded and re-raised when
    the C function returns (see ``_raise_callback_error``).
    """

    def __init__(self, functype, what, errors):
        self.functype = functype
        self.what = what
        self.errors = errors

    def from_param(self, obj):
        if obj is None or isinstance(obj, ctypes._CFuncPtr):  # a C function, or the user's own callback
            return obj
        if not callable(obj):
            raise TypeError(f"{self.what}: expected a Python callable or a C function, got {type(obj).__name__}")
        result = 0 if self.functype._restype_ is not None else None
        return self.functype(_guard.callback(obj, self.errors, result))


class _CallbackErrors(list):
    """Exceptions raised by Python callbacks during one bound call (per function object)."""


def _make_signature(fn, types):
    # annotated with the C types: IPython's "Signature: fib(n: int, /) -> long"
    params = [inspect.Parameter(p.name or f"arg{i}", inspect.Parameter.POSITIONAL_ONLY,
                                annotation=_CType(p.type.spelling))
              for i, p in enumerate(fn.params)]
    return inspect.Signature(params, return_annotation=_CType(fn.result.spelling))


def _is_pyobject(t):
    """``PyObject *`` (``<Python.h>``'s ``typedef struct _object PyObject``)."""
    return t.kind == "pointer" and (t.target.alias == "PyObject" or t.target.name == "PyObject"
                                    or (t.target.kind == "struct" and t.target.tag == "_object"))


_ENUM_CTYPES = (ctypes.c_int, ctypes.c_uint, ctypes.c_longlong, ctypes.c_ulonglong)  # (bind.enums.underlying)


def bind_function(fn, address, owner, types, *, hold_gil=False, guarded=False, module=None, record=None,
                  enum=None):
    """Bind the C function ``fn`` (a :class:`cx.cread.Function`) found at ``address``.

    Parameters
    ----------
    fn : cx.cread.Function
    address : int
        Where the C function is.
    owner : object
        Kept alive by the returned callable: the object that owns the machine code.
    types : TypeTable
    hold_gil : bool
        Bind with ``PYFUNCTYPE`` so the GIL is held during the call (for C that calls Python's
        C API). The default releases it. ``PyObject *`` parameters then take any Python object
        (borrowed), and a ``PyObject *`` result is a new reference (NULL with an exception set
        raises it).
    guarded : bool
        Call it inside libjit's crash guard (:mod:`cx.runtime.guard`): a crash raises
        :class:`cx.CrashError`, SIGINT ``KeyboardInterrupt``.
    module : cx.Module, optional
        The module it belongs to (held weakly).
    record : cx.build.Build, optional
        How that module was built: the function pickles as this record and its name.
    enum : enum class, optional
        The :class:`enum.IntEnum` of a named enum result: a value that is a member comes back as it.

    Returns
    -------
    callable
        A ctypes function object whose ``__doc__`` is the C prototype.
    """
    argtypes = []
    errcheck = None
    callback_errors = None
    for i, p in enumerate(fn.params):
        t = p.type  # array parameters arrive decayed to pointers (cx.cread)
        if hold_gil and _is_pyobject(t):
            argtypes.append(ctypes.py_object)
        elif t.kind == "pointer" and t.target.kind == "function":
            if callback_errors is None:
                callback_errors = _CallbackErrors()
            argtypes.append(_CallbackArg(types.function_type(t.target), _describe(fn, i, p), callback_errors))
        elif t.kind == "pointer":
            argtypes.append(_pointer_converter(fn, i, p, types))
        elif t.kind == "opaque":
            raise BindingError(f"{_describe(fn, i, p)} has type '{t.spelling}' by value, a type Python cannot "
                               "build (its definition is the compiler's own or unknown); pass a pointer instead")
        else:
            ctype = types.ctype(t)
            substitute = _tinycc_substitute(types, ctype)
            argtypes.append(_AsTinyCC(ctype, substitute, _describe(fn, i, p)) if substitute is not None
                            else _scalar_converter(fn, i, p, ctype))
    restype = ctypes.py_object if hold_gil and _is_pyobject(fn.result) else types.restype(fn.result)
    c_restype = _tinycc_substitute(types, restype) or restype  # what ctypes reads the result as
    if fn.result.kind == "opaque":
        raise BindingError(f"{fn.name}() returns '{fn.result.spelling}' by value, a type Python cannot build "
                           "(its definition is the compiler's own or unknown); return a pointer instead")
    result = None  # how the result is converted (see _make_errcheck)
    if restype is ctypes.c_char_p:
        result = "text"
    elif isinstance(restype, type) and issubclass(restype, Pointer):
        result = "owned text" if restype._cx_target.kind == "scalar" and restype._cx_target.name == "char" \
            else "pointer"
    elif isinstance(restype, type) and issubclass(restype, ctypes._Pointer):
        result = "pointer"
    if c_restype is not restype:
        result = restype  # a struct TinyCC returns otherwise than the ABI: made from the words read
    enum_result = enum if fn.result.kind == "enum" and restype in _ENUM_CTYPES and callback_errors is None else None
    if enum_result is not None:
        result = enum_result
    if callback_errors is not None or result:
        errcheck = _make_errcheck(callback_errors, result)
    # The class is made directly from ctypes' function-pointer base, not with CFUNCTYPE, whose
    # global cache would keep every function's converters (and so every module) alive forever.
    flags = ctypes._FUNCFLAG_CDECL | (ctypes._FUNCFLAG_PYTHONAPI if hold_gil else 0)
    doc = fn.prototype + ";" + ("\n\n(holds the GIL while running)" if hold_gil else "")
    # Named "function", with __get__ (returns itself, as a plain ctypes function stored on a class
    # does): IPython's "Type" and jedi's completion type (a method descriptor) then say function.
    cls = type("function", (ctypes._CFuncPtr,), {
        "_flags_": flags, "_argtypes_": tuple(argtypes), "_restype_": c_restype,
        "__doc__": doc, "__signature__": _make_signature(fn, types), "__module__": "cx",
        "__qualname__": "function", "__repr__": _function_repr, "__get__": _itself,
        "__reduce__": _reduce_function, **callslot.CLASS_ATTRIBUTES,
        "disassemble": _disassemble,
    })
    callslot.prepare_class(cls)  # calls go through cx's own call slot (_call.c)
    bound = cls(address)
    bound.__name__ = fn.name  # as ctypes gives CDLL functions
    bound.__qualname__ = fn.name
    bound.__call__ = _CallSlot(bound)  # see _CallSlot
    if errcheck is not None:
        bound.errcheck = errcheck
    spec = callslot.attach(bound, fn, address,
                           [types.ctype(p.type) if p.type.kind in ("scalar", "enum") else None for p in fn.params],
                           [p.type.kind == "pointer" and not p.type.target.const for p in fn.params],
                           guarded=guarded, hold_gil=hold_gil,
                           pointer_result=result == "pointer" and callback_errors is None,
                           variadic=_variadic_arguments(fn) if fn.variadic else None, enum_result=enum_result)
    bound.info = FunctionInfo(fn, address, owner, types, tuple(argtypes), restype, hold_gil, guarded, spec,
                              None if module is None else weakref.ref(module), record)
    return bound


def _variadic_arguments(fn):
    """The converter of a variadic function's call arguments: the fixed ones are left to their
    converters; each extra one becomes the ctypes object C's default argument promotions pass
    (ctypes alone would pass a str as ``wchar_t *`` and a ``c_float`` unpromoted)."""
    fixed = len(fn.params)

    def convert(args):
        extra = tuple(_promoted(a, f"argument {fixed + i + 1} of {fn.name}() (in its '...')")
                      for i, a in enumerate(args[fixed:]))
        return args[:fixed] + extra

    return convert


_INT_RANGE = (-(1 << (8 * ctypes.sizeof(ctypes.c_int) - 1)), 1 << (8 * ctypes.sizeof(ctypes.c_int) - 1))


def _promoted(obj, what):
    """One extra argument of a variadic call as a ctypes object: a ctypes instance as its type
    (``c_float`` as double, integers narrower than int as int: C's default promotions), an int as
    C int when it fits, a float as double, bytes and str (UTF-8) as ``char *``, None as NULL, a
    buffer (a numpy array, bytearray) as a pointer to its data."""
    if isinstance(obj, CString):
        return ctypes.c_void_p(obj.pointer.value if obj.pointer is not None else None)
    if isinstance(obj, bool):
        return ctypes.c_int(obj)
    if isinstance(obj, int):
        if not _INT_RANGE[0] <= obj < _INT_RANGE[1]:
            raise OverflowError(f"{what}: {obj} does not fit in a C int, which is how C passes an int in '...'; "
                                "pass it as the C type the function reads, e.g. ctypes.c_long(...) or "
                                "ctypes.c_longlong(...)")
        return ctypes.c_int(obj)
    if isinstance(obj, float):
        return ctypes.c_double(obj)
    if isinstance(obj, str):
        return ctypes.c_char_p(obj.encode("utf-8"))
    if isinstance(obj, bytes):
        return ctypes.c_char_p(obj)
    if obj is None:
        return ctypes.c_void_p(None)
    if isinstance(obj, ctypes._SimpleCData):
        scalar = scalars.by_ctype(type(obj))
        if scalar is not None and scalar.element == "f" and scalar.size < ctypes.sizeof(ctypes.c_double):
            return ctypes.c_double(obj.value)  # float promotes to double
        if scalar is not None and scalar.size < ctypes.sizeof(ctypes.c_int):
            value = obj.value
            return ctypes.c_int(ord(value) if isinstance(value, bytes) else int(value))  # char, short, _Bool
        return obj
    if isinstance(obj, (ctypes._Pointer, ctypes._CFuncPtr, ctypes.Structure, ctypes.Union, ctypes.Array)):
        return obj
    try:
        view = memoryview(obj)
    except TypeError:
        raise TypeError(f"{what}: cannot pass a {type(obj).__name__!r} object through '...'; pass an int, a float, "
                        "str or bytes (char *), None, a buffer (its data's address) or a ctypes object "
                        "of the C type the function reads") from None
    if not view.c_contiguous:
        raise TypeError(f"{what}: the buffer is not contiguous")
    if view.readonly or not view.nbytes:
        return _readonly_address(obj, what)
    return ctypes.c_void_p(ctypes.addressof(ctypes.c_char.from_buffer(view)))


def _readonly_address(obj, what):
    """The address of a read-only buffer's data (numpy arrays tell it; others are refused)."""
    interface = getattr(obj, "__array_interface__", None)
    if interface is None:
        raise TypeError(f"{what}: a read-only {type(obj).__name__} has no address cx can pass; pass bytes "
                        "or a writable buffer")
    return ctypes.c_void_p(interface["data"][0])


class FunctionInfo:
    """What cx knows of a bound C function, for tools and tests: ``lib.f.info``.

    Attributes
    ----------
    declaration : cx.cread.Function
        The C declaration (``.name``, ``.params``, ``.result``, ``.prototype``, ``.line``).
    address : int
        Where the C function is (0 once its module is closed).
    code : object or None
        The backend's code object that owns the machine code (``sym(name)``, ``closed``); None
        once the module is closed.
    types : cx.bind.types.TypeTable
        The module's C types.
    converters : tuple
        The converter of each parameter (its ``from_param`` checks and converts an argument
        exactly as a call does).
    restype : type or None
        The ctypes type of the result.
    hold_gil, guarded : bool
        Called with the GIL held (``hold_gil=``); called inside the crash guard.
    record : cx.build.Build or None
        How its module was built (what pickling sends, with the name).
    closed : bool
        Its module is closed: calls raise :class:`cx.ClosedError`.

    Examples
    --------
    >>> import cx
    >>> info = cx.compile("int add(int a, int b) { return a + b; }").add.info
    >>> info.name, info.prototype, info.fast
    ('add', 'int add(int a, int b)', True)
    """

    __slots__ = ("declaration", "address", "code", "types", "converters", "restype", "hold_gil", "guarded",
                 "record", "closed", "_spec", "_module")

    def __init__(self, declaration, address, code, types, converters, restype, hold_gil, guarded, spec, module,
                 record=None):
        self.declaration, self.address, self.code, self.types = declaration, address, code, types
        self.converters, self.restype, self.hold_gil, self.guarded = converters, restype, hold_gil, guarded
        self.record, self.closed, self._spec, self._module = record, False, spec, module

    @property
    def name(self) -> str:
        """The C function's name."""
        return self.declaration.name

    @property
    def prototype(self) -> str:
        """The C prototype: ``"double dot(const double *a, const double *b, long n)"``."""
        return self.declaration.prototype

    @property
    def module(self):
        """The :class:`cx.Module` it belongs to, or None (gone, or bound without one)."""
        return self._module() if self._module is not None else None

    @property
    def fast(self) -> bool:
        """Whether calls take cx's own call slot all the way (False: every call goes to ctypes'
        call, still guarded; see ``_call.c``)."""
        return bool(self._spec.fast)

    def __repr__(self):
        state = ", closed" if self.closed else f", {'fast' if self.fast else 'ctypes'} call path"
        return f"<cx.FunctionInfo {self.prototype} at {self.address:#x}{state}>"


def shipped_record(info):
    """The build record a bound function (described by ``info``) pickles with, checked to travel
    (:func:`cx.build.cache.ship`); :class:`cx.PicklingError` when it cannot."""
    if info.closed:
        raise PicklingError(f"cannot pickle {info.name}(): its module is closed")
    if info.record is None:
        raise PicklingError(f"cannot pickle {info.name}(): cx does not know how its module was built")
    return cache.ship(info.record, f"{info.name}()", function=info.name, module=info.module)


def _reduce_function(self):
    """``__reduce__`` of a bound function: its module's build record, and its name."""
    return cache.rebuilt_function, (shipped_record(self.info), self.info.name)


class _CType(str):
    """A C type as a signature annotation: shown bare (``n: int``), as Python's types are."""

    __slots__ = ()

    def __repr__(self):
        return str(self)


class _CallSlot:
    # ``f.__call__`` of a bound function (an instance attribute: calls still go through the type's
    # slot, at full speed). It calls f, and has f's signature: IPython shows the signature of
    # ``obj.__call__`` as a second "Call signature" when it differs (the ctypes slot's is
    # ``(*args, **kwargs)``). No docstring, none shown. Holds f weakly: no reference cycle.
    __slots__ = ("_function", "__signature__")
    __doc__ = None

    def __init__(self, function):
        self._function = weakref.ref(function)
        self.__signature__ = function.__signature__

    def __call__(self, *args):
        return self._function()(*args)


def _itself(self, instance, owner=None):
    return self


def _function_repr(self):
    info = self.info
    return f"<cx function {info.prototype}{' (closed)' if info.closed else ''}>"


_disassembler = [None]  # cx.tools.asm.disassemble, registered by it (disassemble_with)


def disassemble_with(disassemble) -> None:
    """Make ``f.disassemble()`` call ``disassemble(f, syntax=...)``; :mod:`cx.tools.asm` registers
    itself here when it is imported (as ``import cx`` does)."""
    _disassembler[0] = disassemble


def _disassemble(self, syntax="intel"):
    """The machine code of this C function, annotated with its source lines (see :func:`cx.tools.asm.disassemble`)."""
    if _disassembler[0] is None:
        raise CxError("disassembly is cx.tools.asm's: import cx (or cx.tools.asm) first")
    return _disassembler[0](self, syntax=syntax)


def _make_errcheck(callback_errors, result):
    """The errcheck that re-raises a callback's exception and converts the result: ``"text"``
    (``const char *``: str), ``"owned text"`` (``char *``: a :class:`CString`, which keeps the
    pointer for C to free), ``"pointer"`` (NULL is None), or a struct class (the result was read
    as TinyCC returns it: :func:`_tinycc_substitute`)."""
    def errcheck(value, func, args):
        if callback_errors:
            exc = callback_errors.pop()
            callback_errors.clear()
            if isinstance(exc, KeyboardInterrupt):
                _guard.forget_interrupt()  # said by the callback's own KeyboardInterrupt
            raise exc
        if value is None or result is None:
            return value
        if isinstance(result, type) and issubclass(result, int):  # an enum: its member, when it is one
            try:
                return result(value)
            except ValueError:
                return value
        if isinstance(result, type):
            return result.from_buffer_copy(bytes(memoryview(value).cast("B"))[:ctypes.sizeof(result)])
        if result == "text":
            return value.decode("utf-8", errors="surrogateescape")
        if not value:  # a NULL pointer object
            return None
        if result == "owned text":
            return CString(ctypes.string_at(value).decode("utf-8", errors="surrogateescape"), value)
        return value

    return errcheck


def trap_function(bound, module_name):
    """Make ``bound`` raise :class:`ClosedError` instead of calling into freed code.

    The errcheck is installed before the address is replaced, so a call racing with the close
    either runs the old code or raises; it never jumps into freed memory once the close returns.
    """
    info = bound.info
    name = info.name

    def closed(result, func, args):
        raise ClosedError(f"{name}() belongs to module '{module_name}', which is closed; "
                          "compile the code again (or re-run the cell)")

    bound.errcheck = closed  # (also sends calls to ctypes' path, which runs the errcheck)
    ctypes.c_void_p.from_address(ctypes.addressof(bound)).value = _speedups.closed_trap_address
    info.closed, info.code, info.address = True, None, 0


class GlobalVariable:
    """Access to one file-scope C variable at a fixed address (owned by ``owner``).

    What Python assigns to a pointer global (a Python callable or a bound function to a function
    pointer, str, bytes or a buffer to a data pointer) is kept alive here for as long as the
    global holds it: C is never left a dangling pointer.
    """

    def __init__(self, decl, address, owner, types):
        self.decl = decl
        self.owner = owner
        self.ctype = types.ctype(decl.type)
        self.cell = self.ctype.from_address(address)
        self._kept = None  # what the global points into, assigned from Python

    @property
    def is_simple(self):
        """True when the value is a Python scalar (read and assigned by value)."""
        return issubclass(self.ctype, ctypes._SimpleCData)

    def get(self):
        """The value: a Python scalar, or a ctypes view (struct, array) sharing the C memory; a
        function pointer is a callable (None when NULL)."""
        if self.decl.type.kind == "pointer" and self.decl.type.target.kind == "function":
            return self.cell if ctypes.cast(self.cell, ctypes.c_void_p).value else None
        return self.cell.value if self.is_simple else self.cell

    def set(self, value):
        """Assign ``value`` to the C variable."""
        t = self.decl.type
        if t.const:
            raise AttributeError(f"'{self.decl.name}' is const in C and cannot be assigned")
        what = f"'{self.decl.name}' is {t.spelling} in C"
        if t.kind == "pointer" and t.target.kind == "function":
            self._point(*function_pointer(value, self.ctype, what))  # ctype: the global's function type
        elif t.kind == "pointer" and self.is_simple and not isinstance(value, int):
            self._point(*data_pointer(value, what))
        elif self.is_simple:
            if isinstance(value, float) and not issubclass(self.ctype, (ctypes.c_float, ctypes.c_double,
                                                                        ctypes.c_longdouble)):
                raise TypeError(f"'{self.decl.name}' is {self.decl.type.spelling} in C; got a float")
            self.cell.value = value
            self._kept = None
        else:
            if isinstance(value, tuple):
                value = self.ctype(*value)
            if not isinstance(value, self.ctype):
                raise TypeError(f"'{self.decl.name}' is {self.decl.type.spelling} in C; "
                                f"assign a {self.ctype.__name__} or a tuple of its fields")
            ctypes.memmove(ctypes.addressof(self.cell), ctypes.addressof(value), ctypes.sizeof(self.ctype))

    def _point(self, address, keep):
        ctypes.c_void_p.from_address(ctypes.addressof(self.cell)).value = address
        self._kept = keep
