"""ctypes types for the C types of a module: scalars, structs and unions, and typed pointers.

A :class:`TypeTable` belongs to one module and makes, on first use, a ``ctypes.Structure`` or
``Union`` class for each struct the module's declarations define (laid out as the compiler lays it
out, checked against the compiler when the module can ask it: :mod:`cx.bind.check`), and a
:class:`Pointer` subclass for each pointee Python cannot look into. Struct classes are instances
of :class:`StructType`/:class:`UnionType`, which show their layout in Jupyter (drawn by
:mod:`cx.tools.layouts`, which registers itself with :func:`show_layouts_with`).

Pickling: a struct class, or a value of one, travels as the build record of the module that owns
it and its name (:mod:`cx.build.cache` rebuilds it); the type table itself never travels.
"""
from __future__ import annotations

import copyreg
import ctypes
import dataclasses
import sys
import threading
import weakref

from ..build import cache
from ..errors import CxError, PicklingError
from . import scalars

__all__ = ["TypeTable", "Pointer", "CString", "BindingError", "StructType", "UnionType", "show_layouts_with",
           "string_at"]

_html_view = [None]  # the function that draws a struct class's layout (cx.tools.layouts)

# One Python class per C struct definition, for the whole process: a struct of a header that two
# modules (or two cells) include is one class in both, so values pass between them as they do
# between C files. Keyed by TypeTable._definition; a class lives as long as a module uses it.
_SHARED = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()
# Likewise one handle class (a Pointer subclass) per pointee type: keyed by the pointee without
# qualifiers or typedef names, and, for a struct the module defines, its definition.
_SHARED_HANDLES = weakref.WeakValueDictionary()


def show_layouts_with(view) -> None:
    """Let struct classes show themselves in Jupyter as ``view(cls)`` draws them (HTML, or None
    for the plain repr). :mod:`cx.tools.layouts` registers its picture here when it is imported."""
    _html_view[0] = view


class _ShowsLayout:
    def _repr_html_(cls):
        """A struct class displayed in Jupyter: its layout picture."""
        view = _html_view[0]
        return None if view is None else view(cls)


#: How a struct class is told its layout. Python 3.14's ctypes lays a struct out as the ABI named by
#: ``_layout_``: "gcc-sysv", as the compilers cx uses do (and, unlike ctypes before it, bit-fields
#: of mixed types too), or "ms", the only one that takes ``_pack_``; a packed struct without
#: ``_layout_`` warns there (and is to become an error). MSVC's packing places whole fields as
#: ``__attribute__((packed))`` does; whatever it places otherwise (bit-fields) is refused by the
#: check against the compiler, on every version. Before 3.14 ``_layout_`` means nothing to ctypes.
if sys.version_info >= (3, 14):
    _PACKED, _UNPACKED = {"_pack_": 1, "_layout_": "ms"}, {"_layout_": "gcc-sysv"}
else:
    _PACKED, _UNPACKED = {"_pack_": 1}, {}


class StructType(_ShowsLayout, type(ctypes.Structure)):
    """Metaclass of cx's struct classes: ``ctypes.Structure``'s, plus the layout picture."""


class UnionType(_ShowsLayout, type(ctypes.Union)):
    """Metaclass of cx's union classes: ``ctypes.Union``'s, plus the layout picture."""


class BindingError(CxError):
    """A C declaration cannot be expressed with ctypes."""


class TypeTable:
    """ctypes types for the C types of one module: scalars, and the module's own structs and unions.

    Parameters
    ----------
    decls : cx.cread.Reader
        The module's declarations; its structs become ``ctypes.Structure``/``Union`` classes on
        first use, with fields laid out as the C compiler lays them out.
    """

    def __init__(self, decls, layout=None, *, sizes=None, settings=None, backend="tcc", enum_ctype=None):
        self._decls = decls
        self._enum_ctype = enum_ctype  # name -> the ctypes type of the named enum (its values'), or None
        self._layout = layout  # structs -> {name: (size, {field: offset})}, as the compiler lays them out
        self._sizes = sizes  # (struct, fields) -> {field: sizeof}: array lengths the reader could not read
        self._lock = threading.RLock()  # held while classes are made (struct() calls itself)
        self._structs = {}
        self._incomplete = []  # classes made, fields not yet set (see struct)
        self._failed = {}  # structs ctypes cannot make or lays out otherwise: name -> why
        self._made = []  # classes made by the outermost struct() call under way
        self._handles = {}
        #: The declarations, and how the module was compiled (the backend's settings and name):
        #: cx.layout asks that compiler, with those options, even after the module is closed.
        self.declarations, self.settings, self.backend = decls, settings, backend
        #: The owning module (a weak reference) and how it was built, both set by it: struct
        #: classes and values pickle as that record and their name.
        self.module, self.record = None, None

    def __reduce__(self):
        names = ", ".join(sorted(self._structs)) or "a struct type"
        raise PicklingError(f"cannot pickle the cx struct type {names} by value (cloudpickle does that for a "
                            "struct class that is a global of a function it ships); refer to it through its "
                            "module instead (lib.Point, not Point = lib.Point), or pickle it with pickle")

    def struct(self, name):
        """The ctypes class of the struct or union called ``name`` (typedef name or tag).

        Classes are made first and given their fields afterwards, members by value before the
        struct that holds them, so structs that point to each other are laid out as C lays them
        out (``struct X { struct Y *y; }; struct Y { struct X x; };``).
        """
        with self._lock:  # one thread makes a module's classes at a time: another sees them whole
            return self._struct(name)

    def _struct(self, name):
        cls = self._structs.get(name)
        if cls is not None:
            return cls
        if name in self._failed:  # ctypes cannot make it: said again, never retried halfway
            raise BindingError(self._failed[name])
        decl = self._decls.structs.get(name)
        if decl is None:
            raise BindingError(f"struct '{name}' is used by value but its fields are not in the cell")
        if decl.name != name:  # asked by tag, keyed by typedef name: one class for both
            cls = self._structs[name] = self.struct(decl.name)
            return cls
        definition = self._definition(decl)
        with _SHARED_LOCK:
            shared = _SHARED.get(definition)
        if shared is not None:  # the same definition in another module: one class for both
            self._structs[name] = shared
            return shared
        base = ctypes.Union if decl.union else ctypes.Structure
        body = {"__doc__": f"C {'union' if decl.union else 'struct'} {name}", "__module__": "cx",
                "__repr__": _struct_repr, "__reduce__": _reduce_struct_value, "_cx_types": self,
                "_cx_struct": decl}
        body.update(_PACKED if self._decls.packed(name) else _UNPACKED)
        cls = (UnionType if decl.union else StructType)(name, (base,), body)
        self._structs[name] = cls
        self._incomplete.append(name)
        self._made.append(name)
        if len(self._incomplete) == 1:  # the outermost call completes every class it made
            try:
                self._complete_all()
            except BaseException:
                for n in self._incomplete + self._made:
                    self._structs.pop(n, None)
                self._incomplete.clear()
                raise
            finally:
                self._made = []
            if name in self._failed:
                raise BindingError(self._failed[name])
        return cls

    def _complete_all(self):
        """Complete every class made (those made while completing others too, through pointer
        members), check them against the compiler, and share the good ones. One that ctypes cannot
        make, or lays out otherwise, fails alone (with the structs that hold it by value): a
        struct that only points to it keeps its class, the pointer's target having no fields."""
        while self._incomplete:
            n = self._incomplete[-1]
            try:
                self._complete(n)
            except BindingError as exc:
                why = str(exc)
                self._failed.setdefault(n, why if why.startswith(f"struct {n}:") else f"struct {n} holds a {why}")
                if n in self._incomplete:
                    self._incomplete.remove(n)
        made = [n for n in self._made if n not in self._failed]
        self._failed.update(self._check_layouts(made))
        for n in self._made:
            if n in self._failed:
                self._structs.pop(n, None)
        with _SHARED_LOCK:
            for n in self._made:
                if n not in self._failed:
                    _SHARED.setdefault(self._definition(self._decls.structs[n]), self._structs[n])

    def _definition(self, decl, seen=()):
        """What makes two struct definitions one C type: kind, names, the definition's text (its
        fields and attributes, as the compiler saw them), fields, and the definitions of the
        structs held by value."""
        parts = [decl.union, decl.name, decl.tag, self._decls.definition_text(decl.name)]
        for f in decl.fields:
            inner = f.type
            while inner.kind == "array":
                inner = inner.target
            held = self._decls.structs.get(inner.name) if inner.kind in ("struct", "union") else None
            parts.append((f, self._definition(held, seen + (decl.name,)) if held is not None
                          and held.name not in seen and held.name != decl.name else None))
        return tuple(parts)

    def _check_layouts(self, names):
        """Compare the classes made with the compiler's own layout: a struct ctypes lays out
        otherwise (``aligned(16)``, an unusual bit-field) is refused, never used wrong. Returns
        ``{name: why}`` of those refused."""
        structs = [self._decls.structs[n] for n in names]
        found = self._layout(structs) if self._layout is not None and structs else None
        refused = {}
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
                refused[n] = (f"struct {n}: ctypes cannot lay it out as the compiler does ({what}); "
                              "it is used only through pointers")
        return refused

    def _complete(self, name):
        """Set the fields of the class of ``name`` (made by :meth:`struct`)."""
        decl, cls = self._decls.structs[name], self._structs[name]
        fields, anonymous = [], []
        unread = [f.name for f in decl.fields if f.name and f.bits is None and f.type.kind == "array"
                  and f.type.length is None]
        sized = self._sizes(decl, unread) if unread and self._sizes is not None and not name.startswith("<") else {}
        for f in decl.fields:
            inner = f.type
            while inner.kind == "array":
                inner = inner.target
            if inner.kind in ("struct", "union") and inner.name != name and inner.name in self._decls.structs:
                self.struct(inner.name)
                if inner.name in self._incomplete:
                    self._complete(inner.name)  # a member by value must be laid out first
            if f.type.kind == "array" and f.type.length is None:  # its length the compiler's, else flexible
                element = self.ctype(f.type.target)
                size = sized.get(f.name, 0)
                ctype = element * (size // ctypes.sizeof(element) if size and ctypes.sizeof(element) else 0)
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
                self._failed[name] = f"struct {name}: ctypes cannot make it ({exc})"
                raise BindingError(self._failed[name]) from None
            for f in decl.fields:  # pointer fields that take Python's strings, buffers and callables
                if f.name is not None and f.bits is None and f.type.kind == "pointer":
                    if _is_bytes(f.type):
                        setattr(cls, f.name, _BytesField(cls.__dict__[f.name], f, self.handle(f.type.target)))
                    elif f.type.target.kind == "function":
                        setattr(cls, f.name, _FunctionField(cls.__dict__[f.name], f, self.function_type(f.type.target)))

    def handle(self, target):
        """The ctypes type of a pointer to ``target`` that Python cannot look into: a subclass of
        ``c_void_p`` (:class:`Pointer`) that remembers its C type, so a function's result passes
        back to the parameters that take it, and nowhere else. One class per pointee type for the
        whole process (``evq *`` of every module that includes ``evq.h`` is one class; a struct
        the module defines is told apart by its definition)."""
        key = _identity(target)
        cls = self._handles.get(key)
        if cls is None:
            decl = self._decls.structs.get(target.name) if target.kind in ("struct", "union") else None
            shared = (key, self._definition(decl) if decl is not None else None)
            with _SHARED_LOCK:
                cls = _SHARED_HANDLES.get(shared)
                if cls is None:
                    spelled = _unqualified(target).spelling
                    cls = type(f"{spelled} *", (Pointer,), {"__module__": "cx", "_cx_target": target,
                                                          "__doc__": f"A C pointer: {spelled} *"})
                    _SHARED_HANDLES[shared] = cls
            self._handles[key] = cls
        return cls

    def ctype(self, t):
        """The ctypes type of a C type (``None`` for void)."""
        kind = t.kind
        if kind == "void":
            return None
        if kind == "scalar":
            return scalars.by_name(t.name).ctype
        if kind == "enum":  # int, unless its values need more (as the compiler chose: they are its)
            return (self._enum_ctype(t.name) if self._enum_ctype is not None and t.name else None) or ctypes.c_int
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
        """A ``CFUNCTYPE`` for a C function type (used for function-pointer parameters). A
        ``char *`` parameter (any char, const or not) reaches the Python callable as the
        :class:`Pointer` C passed, which reads nothing by itself: a parser that hands
        ``(text, size)`` slices to its callbacks costs O(1) a call; :func:`string_at` reads one."""
        return ctypes.CFUNCTYPE(self.restype(t.result), *(self._callback_param(p.type) for p in t.params))

    def _callback_param(self, t):
        """A callback parameter's ctypes type: ``char *`` a :class:`Pointer`; ``char **`` a pointer
        to ``c_char_p``, the spelling an out-parameter ``char **`` takes (``byref(c_char_p())``)."""
        if _is_bytes(t):
            return self.handle(t.target)
        if t.kind == "pointer" and _is_bytes(t.target):
            return ctypes.POINTER(ctypes.c_char_p)
        return self.ctype(t)

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


def _is_bytes(t):
    """``char *``, ``signed char *``, ``unsigned char *`` (const or not): bytes C points to."""
    return t.kind == "pointer" and t.target.kind == "scalar" and t.target.name in ("char", "signed char",
                                                                                   "unsigned char")


class _Field:
    """A pointer field of a cx struct class in place of ctypes' own descriptor (whose ``offset``
    and ``size`` it keeps): what Python assigns is kept alive by the struct instance while the field
    holds it."""

    def __init__(self, cfield, decl):
        self.cfield, self.decl, self.offset, self.size = cfield, decl, cfield.offset, cfield.size
        self.__doc__ = f"{decl.type.declaration(decl.name)}"

    def _slot(self, instance):
        return ctypes.c_void_p.from_address(ctypes.addressof(instance) + self.offset)

    def _keep(self, instance, value):
        kept = instance.__dict__.setdefault("_cx_kept", {})
        kept[self.decl.name] = value

    def __repr__(self):
        return f"<Field type={self.decl.type.spelling}, ofs={self.offset}, size={self.size}>"


class _BytesField(_Field):
    """A ``char *`` field (``const``, ``unsigned char *``): takes str (UTF-8), bytes, a writable
    buffer (bytearray, a numpy array) or None; reads as a function result does: ``const char *``
    as str, ``char *`` as a :class:`CString` (the text and the pointer), NULL as None."""

    def __init__(self, cfield, decl, pointer):
        super().__init__(cfield, decl)
        self.pointer = pointer  # the cx pointer class of its type

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        address = self._slot(instance).value
        if not address:
            return None
        target = self.decl.type.target
        if target.name != "char":  # unsigned char *: bytes C points to, length unknown: the pointer
            return self.pointer(address)
        text = ctypes.string_at(address).decode("utf-8", errors="surrogateescape")
        return text if target.const else CString(text, ctypes.c_void_p(address))

    def __set__(self, instance, value):
        address, keep = data_pointer(value, f"field '{self.decl.name}' ({self.decl.type.spelling})")
        self._slot(instance).value = address
        self._keep(instance, keep)


class _FunctionField(_Field):
    """A function pointer field: takes a Python callable, a C function or None; reads as a
    callable (None when NULL)."""

    def __init__(self, cfield, decl, functype):
        super().__init__(cfield, decl)
        self.functype = functype

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        address = self._slot(instance).value
        return self.functype(address) if address else None

    def __set__(self, instance, value):
        address, keep = function_pointer(value, self.functype, f"field '{self.decl.name}' ({self.decl.type.spelling})")
        self._slot(instance).value = address
        self._keep(instance, keep)


def data_pointer(value, what):
    """``(address, what keeps it alive)`` of a value assigned to a data pointer (a global, a
    field): None, a cx pointer, str (UTF-8) or bytes (a NUL-terminated copy), or a writable
    buffer (its data itself). ``what`` names the pointer in the TypeError of anything else."""
    if value is None:
        return None, None
    if isinstance(value, CString):
        return (value.pointer.value if value.pointer is not None else None), value
    if isinstance(value, ctypes.c_void_p):
        return value.value, value
    if isinstance(value, (str, bytes)):
        copy = ctypes.create_string_buffer(value.encode("utf-8") if isinstance(value, str) else value)
        return ctypes.addressof(copy), copy
    try:
        view = memoryview(value)
    except TypeError:
        raise TypeError(f"{what}: assign str, bytes, a buffer, a pointer a cx function returned, or None, "
                        f"not {type(value).__name__}") from None
    if view.readonly or not view.c_contiguous or not view.nbytes:
        raise TypeError(f"{what}: the buffer must be writable, contiguous, not empty")
    return ctypes.addressof(ctypes.c_char.from_buffer(view)), (value, view)


def function_pointer(value, functype, what):
    """``(address, what keeps it alive)`` of a value assigned to a function pointer (a global, a
    field): None, a C function (bound by cx, or any ctypes function pointer), or a Python callable
    (wrapped as a C function of ``functype``)."""
    if value is None:
        return None, None
    if isinstance(value, ctypes._CFuncPtr):
        return ctypes.cast(value, ctypes.c_void_p).value, value
    if callable(value):
        thunk = functype(value)
        return ctypes.cast(thunk, ctypes.c_void_p).value, thunk
    raise TypeError(f"{what}: assign a Python callable, a C function (lib.f) or None, not {type(value).__name__}")


def string_at(pointer, size=-1) -> bytes:
    """The bytes a C pointer points to: ``size`` of them, or up to the first NUL byte.

    Parameters
    ----------
    pointer : cx.Pointer, int or ctypes pointer
        What C passed (a ``char *`` parameter of a callback arrives as a :class:`Pointer`) or
        returned.
    size : int
        How many bytes; -1 (default): up to the first NUL, as C reads a string.

    Examples
    --------
    >>> import cx
    >>> lib = cx.compile("typedef void (*cb)(const char *, long);\n"
    ...                  "void each_word(cb f) { f(\"hello world\", 5); f(\"world\", 5); }")
    >>> words = []
    >>> lib.each_word(lambda p, n: words.append(cx.string_at(p, n)))
    >>> words
    [b'hello', b'world']
    """
    address = pointer.value if isinstance(pointer, ctypes.c_void_p) else pointer
    if not address:
        raise ValueError("cx.string_at: the pointer is NULL")
    if size is None or size < -1:
        raise ValueError(f"cx.string_at: size must be -1 (up to the NUL byte) or a byte count, not {size!r}")
    return ctypes.string_at(address, size)


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



# ---- pickling: through the owning module ------------------------------------------------------

def shipped_record(cls):
    """The build record a cx struct class (or a value of it) pickles with, checked to travel;
    :class:`cx.PicklingError` when cx does not know how its module was built."""
    types = cls.__dict__.get("_cx_types")
    if types is None or types.record is None:
        raise PicklingError(f"cannot pickle {cls.__name__}: cx does not know how its module was built")
    module = types.module() if types.module is not None else None
    return cache.ship(types.record, cls.__name__, function="", module=module)


def _reduce_struct_value(value):
    """``__reduce__`` of a struct or union value: its module's record, the class's name, the bytes."""
    cls = type(value)
    if cls.__dict__["_cx_types"].record is None:  # a table made by hand: ctypes' own (copy.deepcopy works)
        base = ctypes.Structure if isinstance(value, ctypes.Structure) else ctypes.Union
        return base.__reduce__(value)
    if has_pointers(cls):
        raise PicklingError(f"cannot pickle a {cls.__name__} value: it holds pointers, which mean nothing "
                            "in another process")
    return cache.rebuilt_struct_value, (shipped_record(cls), cls.__name__, bytes(memoryview(value).cast("B")))


def _reduce_struct_class(cls):
    if "_cx_types" not in cls.__dict__:
        return cls.__qualname__  # any other ctypes struct: pickled by reference, as always
    return cache.rebuilt_struct, (shipped_record(cls), cls.__name__)


def has_pointers(ctype) -> bool:
    """Whether values of ``ctype`` hold a pointer (which means nothing in another process)."""
    if issubclass(ctype, (ctypes._Pointer, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_wchar_p, ctypes._CFuncPtr)):
        return True
    if issubclass(ctype, ctypes.Array):
        return has_pointers(ctype._type_)
    if issubclass(ctype, (ctypes.Structure, ctypes.Union)):
        return any(has_pointers(f[1]) for f in ctype._fields_)
    return False


for _meta in (type(ctypes.Structure), type(ctypes.Union), StructType, UnionType):
    copyreg.pickle(_meta, _reduce_struct_class)
del _meta
