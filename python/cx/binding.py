"""Turns the declaration model (:mod:`cx.decls`) into ctypes: types, structs, bound functions, globals.

Every function is bound as an instance of its own subclass of ``ctypes._CFuncPtr``, the base
``CFUNCTYPE`` prototypes share (made directly, not through ``CFUNCTYPE``, whose cache would keep every
module alive: see :func:`bind_function`). It has ``argtypes``/``restype`` and can be cast and passed
as a function pointer; calling it goes through
cx's own call slot (:mod:`cx._fastcall`, ``_call.c``), which converts the arguments in C, releases the
GIL, enters the crash guard and calls the C function, handing what it does not cover to ctypes.
The subclass carries the C prototype as ``__doc__`` and an :class:`inspect.Signature`, for ``help()``
and Jupyter's tooltips. Pointer parameters convert buffers (numpy arrays, bytes, bytearray,
array.array) zero-copy through :class:`cx._speedups.PointerArg`, which checks the element type.

The binding knows declarations and addresses, not where the code came from.
"""
from __future__ import annotations

import ctypes
import dataclasses
import inspect
import weakref

from . import _fastcall, _speedups, guard as _guard, layouts as _layouts, recipe as _recipe
from .errors import ClosedError, CxError

__all__ = ["TypeTable", "bind_function", "trap_function", "GlobalVariable", "Pointer", "CString",
           "BindingError"]

_SCALARS = {
    "char": ctypes.c_char,
    "signed char": ctypes.c_byte,
    "unsigned char": ctypes.c_ubyte,
    "short": ctypes.c_short,
    "unsigned short": ctypes.c_ushort,
    "int": ctypes.c_int,
    "unsigned int": ctypes.c_uint,
    "long": ctypes.c_long,
    "unsigned long": ctypes.c_ulong,
    "long long": ctypes.c_longlong,
    "unsigned long long": ctypes.c_ulonglong,
    "float": ctypes.c_float,
    "double": ctypes.c_double,
    "long double": ctypes.c_longdouble,
    "_Bool": ctypes.c_bool,
}

# Element kind of a C scalar pointee, as PointerArg checks it against a buffer's format.
_POINTEE_KIND = {
    "char": "c", "signed char": "c", "unsigned char": "c",
    "short": "i", "int": "i", "long": "i", "long long": "i",
    "unsigned short": "u", "unsigned int": "u", "unsigned long": "u", "unsigned long long": "u",
    "float": "f", "double": "f", "long double": "f",
    "_Bool": "?",
}


class BindingError(CxError):
    """A C declaration cannot be expressed with ctypes."""


class TypeTable:
    """ctypes types for the C types of one module: scalars, and the module's own structs and unions.

    Parameters
    ----------
    decls : cx.decls.Declarations
        The module's declarations; its structs become ``ctypes.Structure``/``Union`` classes on
        first use, with fields laid out as the C compiler lays them out.
    """

    def __init__(self, decls, layout=None, layout_source=None):
        self._decls = decls
        self._layout = layout  # structs -> {name: (size, {field: offset})}, as the compiler lays them out
        self._structs = {}
        self._layout_source = layout_source  # how the module was compiled: cx.layout asks that compiler
        self._incomplete = []  # classes made, fields not yet set (see struct)
        self._made = []  # classes made by the outermost struct() call under way
        self._handles = {}
        self.recipe = None  # what rebuilds the module in another process (cx.recipe)

    def __reduce__(self):
        return _recipe.reduce_types(self)

    def struct(self, name):
        """The ctypes class of the struct or union called ``name`` (typedef name or tag).

        Classes are made first and given their fields afterwards, members by value before the
        struct that holds them, so structs that point to each other are laid out as C lays them
        out (``struct X { struct Y *y; }; struct Y { struct X x; };``).
        """
        cls = self._structs.get(name)
        if cls is not None:
            return cls
        decl = self._decls.structs.get(name)
        if decl is None:
            raise BindingError(f"struct '{name}' is used by value but its fields are not in the cell")
        if decl.name != name:  # asked by tag, keyed by typedef name: one class for both
            cls = self._structs[name] = self.struct(decl.name)
            return cls
        base = ctypes.Union if decl.union else ctypes.Structure
        body = {"__doc__": f"C {'union' if decl.union else 'struct'} {name}", "__module__": "cx",
                "__repr__": _struct_repr, "__reduce__": _recipe.reduce_struct_value, "_cx_types": self}
        if getattr(self._decls, "packed", None) and self._decls.packed(name):
            body["_pack_"] = 1  # __attribute__((packed))
        cls = _layouts.struct_class(name, base, body, decl, self._layout_source)  # cx.layout
        self._structs[name] = cls
        self._incomplete.append(name)
        self._made.append(name)
        if len(self._incomplete) == 1:  # the outermost call completes every class it made
            made, self._made = self._made, []
            try:
                while self._incomplete:
                    self._complete(self._incomplete[-1])
                self._check_layouts(made)
            except BaseException:
                for n in self._incomplete + made:
                    self._structs.pop(n, None)
                self._incomplete.clear()
                raise
        return cls

    def _check_layouts(self, names):
        """Compare the classes made with the compiler's own layout: a struct ctypes lays out
        otherwise (``aligned(16)``, an unusual bit-field) is refused, never used wrong."""
        structs = [self._decls.structs[n] for n in names]
        found = self._layout(structs) if self._layout is not None else None
        for n in names:
            if not found or n not in found:
                continue
            size, offsets = found[n]
            cls = self._structs[n]
            mine = {f[0]: getattr(cls, f[0]).offset for f in cls._fields_ if f[0] and len(f) == 2}
            wrong = [f for f, off in offsets.items() if mine.get(f, off) != off]
            if ctypes.sizeof(cls) != size or wrong:
                what = f"field '{wrong[0]}' at offset {offsets[wrong[0]]}, ctypes puts it at {mine[wrong[0]]}" \
                    if wrong else f"{size} bytes, ctypes makes it {ctypes.sizeof(cls)}"
                raise BindingError(f"struct {n}: ctypes cannot lay it out as the compiler does ({what}); "
                                   "it is used only through pointers")

    def _complete(self, name):
        """Set the fields of the class of ``name`` (made by :meth:`struct`)."""
        decl, cls = self._decls.structs[name], self._structs[name]
        fields, anonymous = [], []
        for f in decl.fields:
            inner = f.type
            while inner.kind == "array":
                inner = inner.target
            if inner.kind in ("struct", "union") and inner.name != name and inner.name in self._decls.structs:
                self.struct(inner.name)
                if inner.name in self._incomplete:
                    self._complete(inner.name)  # a member by value must be laid out first
            if f.type.kind == "array" and f.type.length is None:  # a flexible array member
                ctype = self.ctype(f.type.target) * 0
            else:
                ctype = self.ctype(f.type)
            if ctype is None:
                raise BindingError(f"field '{f.name}' of struct {name} has type void")
            field = f.name
            if field is None:  # unnamed: padding bits, or a struct/union member whose fields read through
                field = f"_unnamed{len(fields)}"
                if f.bits is None and f.type.kind in ("struct", "union"):
                    anonymous.append(field)
            fields.append((field, ctype, f.bits) if f.bits is not None else (field, ctype))
        if name in self._incomplete:
            self._incomplete.remove(name)
            try:
                if anonymous:
                    cls._anonymous_ = anonymous
                cls._fields_ = fields
            except (TypeError, ValueError, AttributeError) as exc:
                raise BindingError(f"struct {name}: ctypes cannot make it ({exc})") from None

    def handle(self, target):
        """The ctypes type of a pointer to ``target`` that Python cannot look into: a subclass of
        ``c_void_p`` (:class:`Pointer`) that remembers its C type, so a function's result passes
        back to the parameters that take it, and nowhere else."""
        key = _identity(target)
        cls = self._handles.get(key)
        if cls is None:
            spelled = _unqualified(target).spelling
            cls = type(f"{spelled} *", (Pointer,), {"__module__": "cx", "_cx_target": target,
                                                  "__doc__": f"A C pointer: {spelled} *"})
            self._handles[key] = cls
        return cls

    def ctype(self, t):
        """The ctypes type of a C type (``None`` for void)."""
        kind = t.kind
        if kind == "void":
            return None
        if kind == "scalar":
            return _SCALARS[t.name]
        if kind == "enum":
            return ctypes.c_int
        if kind in ("struct", "union"):
            return self.struct(t.name)
        if kind == "array":
            elem = self.ctype(t.target)
            if t.length is None:
                return ctypes.POINTER(elem)
            return elem * t.length
        if kind == "pointer":
            target = t.target
            if target.kind == "function":
                return self.function_type(target)
            if target.kind in ("void", "opaque") or (target.kind == "scalar" and target.name == "char"):
                return ctypes.c_void_p
            if target.kind in ("struct", "union") and target.name not in self._decls.structs:
                return ctypes.c_void_p  # pointer to a struct the cell does not define: opaque
            if target.kind in ("struct", "union"):
                try:
                    return ctypes.POINTER(self.struct(target.name))
                except BindingError:
                    return ctypes.c_void_p  # a struct ctypes cannot lay out: an address
            return ctypes.POINTER(self.ctype(target) or ctypes.c_void_p)
        if kind == "function":
            return self.function_type(t)
        raise BindingError(f"type '{t.spelling}' cannot be used by value from Python")

    def function_type(self, t):
        """A ``CFUNCTYPE`` for a C function type (used for function-pointer parameters); a
        ``char *`` parameter reaches the Python callable as bytes."""
        args = [ctypes.c_char_p if _is_text(p.type) else self.ctype(p.type) for p in t.params]
        return ctypes.CFUNCTYPE(self.restype(t.result), *args)

    def restype(self, t):
        """The ctypes restype for a result of C type ``t``: ``const char *`` is text, any other
        pointer to something Python cannot look into (``void *``, ``char *``, an opaque or
        undefined struct) a :meth:`handle`."""
        if t.kind == "pointer":
            target = t.target
            if target.kind == "scalar" and target.name == "char" and target.const:
                return ctypes.c_char_p
            if target.kind in ("void", "opaque") or (target.kind == "scalar" and target.name == "char") \
                    or (target.kind in ("struct", "union") and not self._laid_out(target.name)):
                return self.handle(target)
        return self.ctype(t)

    def _laid_out(self, name):
        """Whether the struct ``name`` has a ctypes class (its body is known and ctypes lays it
        out as the compiler does)."""
        if name not in self._decls.structs:
            return False
        try:
            self.struct(name)
        except BindingError:
            return False
        return True


def _is_text(t):
    return t.kind == "pointer" and t.target.kind == "scalar" and t.target.name == "char"


def _identity(t):
    """What makes two pointee types the same type: no qualifiers, typedefs looked through."""
    return dataclasses.replace(t, alias=None, const=False, volatile=False, atomic=False).spelling


def _unqualified(t):
    return dataclasses.replace(t, const=False, volatile=False) if t.const or t.volatile else t


class Pointer(ctypes.c_void_p):
    """A C pointer returned by a cx function: pass it back to C, or give it to ctypes
    (``ctypes.string_at(p, n)``, ``ctypes.cast(p, ...)``). ``None`` is the NULL pointer.

    Each pointee type has its own subclass (``type(p).__name__`` is its C type, e.g.
    ``"struct handle *"``); a parameter refuses a pointer to another type, as a C compiler would
    (``void *`` goes anywhere).
    """

    _cx_target = None

    def __repr__(self):
        value = self.value
        return f"<cx pointer ({type(self).__name__}) {'NULL' if value is None else hex(value)}>"

    def __reduce__(self):
        from .errors import PicklingError

        raise PicklingError(f"a C pointer ({type(self).__name__}) is an address in this process and "
                            "means nothing in another; send the data it points to instead")


class CString(str):
    """The text of a ``char *`` result, and the pointer itself (``.pointer``), so that C can free
    it: passing a CString back to a ``char *`` or ``void *`` parameter passes that pointer."""

    __slots__ = ("pointer",)

    def __new__(cls, text, pointer):
        self = super().__new__(cls, text)
        self.pointer = pointer
        return self

    def __reduce__(self):  # another process gets the text (the pointer is this process's)
        return str, (str(self),)


def _struct_repr(self):
    fields = ", ".join(f"{f[0]}={getattr(self, f[0])!r}" for f in self._fields_)
    return f"{type(self).__name__}({fields})"


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
                    if obj else ctypes.c_void_p())))):
                return obj
            refuse(f"got a pointer to {obj._type_.__name__}, expected one to {_ctype_name(target_ctype)}")
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
        kind = _POINTEE_KIND[target.name]
        itemsize = ctypes.sizeof(_SCALARS[target.name])
    elif target.kind == "enum":
        kind, itemsize = "i", ctypes.sizeof(ctypes.c_int)
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


_SIGNED = {ctypes.c_byte, ctypes.c_short, ctypes.c_int, ctypes.c_long, ctypes.c_longlong}
_UNSIGNED = {ctypes.c_ubyte, ctypes.c_ushort, ctypes.c_uint, ctypes.c_ulong, ctypes.c_ulonglong}


def _scalar_converter(fn, index, param, ctype):
    """The argtype for a by-value parameter: range-checked integers and real numbers through
    :mod:`cx._speedups`; ctypes' own type for the rest (char, _Bool, long double, structs)."""
    what, spelling = _describe(fn, index, param), param.type.spelling
    if ctype in _SIGNED or ctype in _UNSIGNED:
        return _speedups.IntArg(ctype, ctype in _SIGNED, what, spelling)
    if ctype in (ctypes.c_double, ctypes.c_float):
        return _speedups.FloatArg(ctype, what, spelling)
    return ctype


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
        if obj is None or isinstance(obj, self.functype):
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


def bind_function(fn, address, owner, types, *, hold_gil=False, guarded=False):
    """Bind the C function ``fn`` (a :class:`cx.decls.Function`) found at ``address``.

    Parameters
    ----------
    fn : cx.decls.Function
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
        Call it inside libjit's crash guard (:mod:`cx.guard`): a crash raises
        :class:`cx.CrashError`, SIGINT ``KeyboardInterrupt``.

    Returns
    -------
    callable
        A ctypes function object whose ``__doc__`` is the C prototype.
    """
    if fn.variadic:
        raise BindingError(f"{fn.name}() is variadic (...): ctypes cannot call it safely; "
                           "write a fixed-argument wrapper in C")
    argtypes = []
    errcheck = None
    callback_errors = None
    for i, p in enumerate(fn.params):
        t = p.type  # array parameters arrive decayed to pointers (cx.decls)
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
            argtypes.append(_scalar_converter(fn, i, p, types.ctype(t)))
    restype = ctypes.py_object if hold_gil and _is_pyobject(fn.result) else types.restype(fn.result)
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
    if callback_errors is not None or result:
        errcheck = _make_errcheck(callback_errors, result)
    # The class is made directly from ctypes' function-pointer base, not with CFUNCTYPE, whose
    # global cache would keep every function's converters (and so every module) alive forever.
    flags = ctypes._FUNCFLAG_CDECL | (ctypes._FUNCFLAG_PYTHONAPI if hold_gil else 0)
    doc = fn.prototype + ";" + ("\n\n(holds the GIL while running)" if hold_gil else "")
    # Named "function", with __get__ (returns itself, as a plain ctypes function stored on a class
    # does): IPython's "Type" and jedi's completion type (a method descriptor) then say function.
    cls = type("function", (ctypes._CFuncPtr,), {
        "_flags_": flags, "_argtypes_": tuple(argtypes), "_restype_": restype,
        "__doc__": doc, "__signature__": _make_signature(fn, types), "__module__": "cx",
        "__qualname__": "function", "__repr__": _function_repr, "__get__": _itself,
        "__reduce__": _recipe.reduce_function, **_fastcall.CLASS_ATTRIBUTES,
        "disassemble": _disassemble,
    })
    _fastcall.prepare_class(cls)  # calls go through cx's own call slot (_call.c)
    bound = cls(address)
    bound._cx_owner = owner
    bound._cx_decl = fn
    bound.__name__ = fn.name  # as ctypes gives CDLL functions
    bound.__qualname__ = fn.name
    bound.__call__ = _CallSlot(bound)  # see _CallSlot
    if errcheck is not None:
        bound.errcheck = errcheck
    _fastcall.attach(bound, fn, address,
                     [types.ctype(p.type) if p.type.kind in ("scalar", "enum") else None for p in fn.params],
                     [p.type.kind == "pointer" and not p.type.target.const for p in fn.params],
                     guarded=guarded, hold_gil=hold_gil,
                     pointer_result=result == "pointer" and callback_errors is None)
    return bound


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
    state = " (closed)" if getattr(self, "_cx_closed", False) else ""
    return f"<cx function {self._cx_decl.prototype}{state}>"


def _disassemble(self, syntax="intel"):
    """The machine code of this C function, annotated with its source lines (see :func:`cx.asm.disassemble`)."""
    from .asm import disassemble

    return disassemble(self, syntax=syntax)


def _make_errcheck(callback_errors, result):
    """The errcheck that re-raises a callback's exception and converts the result: ``"text"``
    (``const char *``: str), ``"owned text"`` (``char *``: a :class:`CString`, which keeps the
    pointer for C to free), ``"pointer"`` (NULL is None)."""
    def errcheck(value, func, args):
        if callback_errors:
            exc = callback_errors.pop()
            callback_errors.clear()
            if isinstance(exc, KeyboardInterrupt):
                _guard.forget_interrupt()  # said by the callback's own KeyboardInterrupt
            raise exc
        if value is None or result is None:
            return value
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
    name = bound._cx_decl.name

    def closed(result, func, args):
        raise ClosedError(f"{name}() belongs to module '{module_name}', which is closed; "
                          "compile the code again (or re-run the cell)")

    bound.errcheck = closed  # (also sends calls to ctypes' path, which runs the errcheck)
    ctypes.c_void_p.from_address(ctypes.addressof(bound)).value = _speedups.closed_trap_address
    bound._cx_closed = True
    bound._cx_owner = None


class GlobalVariable:
    """Access to one file-scope C variable at a fixed address (owned by ``owner``)."""

    def __init__(self, decl, address, owner, types):
        self.decl = decl
        self.owner = owner
        self.ctype = types.ctype(decl.type)
        self.cell = self.ctype.from_address(address)

    @property
    def is_simple(self):
        """True when the value is a Python scalar (read and assigned by value)."""
        return issubclass(self.ctype, ctypes._SimpleCData)

    def get(self):
        """The value: a Python scalar, or a ctypes view (struct, array) sharing the C memory."""
        return self.cell.value if self.is_simple else self.cell

    def set(self, value):
        """Assign ``value`` to the C variable."""
        if self.decl.type.const:
            raise AttributeError(f"'{self.decl.name}' is const in C and cannot be assigned")
        if self.is_simple:
            if isinstance(value, float) and not issubclass(self.ctype, (ctypes.c_float, ctypes.c_double,
                                                                        ctypes.c_longdouble)):
                raise TypeError(f"'{self.decl.name}' is {self.decl.type.spelling} in C; got a float")
            self.cell.value = value
        else:
            if isinstance(value, tuple):
                value = self.ctype(*value)
            if not isinstance(value, self.ctype):
                raise TypeError(f"'{self.decl.name}' is {self.decl.type.spelling} in C; "
                                f"assign a {self.ctype.__name__} or a tuple of its fields")
            ctypes.memmove(ctypes.addressof(self.cell), ctypes.addressof(value), ctypes.sizeof(self.ctype))

