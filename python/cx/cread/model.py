"""The declaration model: what a translation unit declares, as plain data (no ctypes, no parsing).

:class:`CType`, :class:`Function`, :class:`Struct`, :class:`Global` and the rest are frozen
dataclasses; :mod:`cx.cread.reader` builds them from the compiler's preprocessed text, and the
binding, the tools and the docstrings read them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["Declarations", "Function", "Param", "Struct", "Field", "Global", "CType"]

_COMPOUND = ("pointer", "array", "function")


@dataclass(frozen=True, repr=False)
class CType:
    """A C type.

    Attributes
    ----------
    kind : str
        ``"void"``, ``"scalar"``, ``"pointer"``, ``"array"``, ``"struct"``, ``"union"``,
        ``"enum"``, ``"function"`` or ``"opaque"``.
    name : str or None
        Scalars: the canonical C name (``"unsigned long"``...). Structs, unions, enums: the key
        in :attr:`Declarations.structs` (typedef name if any, else the tag). Opaque: the type
        name as written (``"FILE"``).
    alias : str or None
        The typedef name the type was spelled with (``"size_t"``, ``"Point"``, ``"fn_t"``).
    tag : str or None
        The struct/union/enum tag, if any.
    const, volatile, atomic : bool
        Qualifiers on this level (``atomic`` also for ``atomic_int``-style typedefs).
    target : CType or None
        Pointee of a pointer, element of an array.
    length : int or None
        Array length (None when unknown or unspecified).
    result, params, variadic
        Function types: result type, tuple of :class:`Param`, and whether ``...`` ends it.
    """

    kind: str
    name: "str | None" = None
    alias: "str | None" = None
    tag: "str | None" = None
    const: bool = False
    volatile: bool = False
    atomic: bool = False
    target: "CType | None" = None
    length: "int | None" = None
    result: "CType | None" = None
    params: "tuple | None" = None
    variadic: bool = False

    @property
    def spelling(self):
        """C text of the type, e.g. ``"const double *"`` or ``"double (*)(double)"``."""
        return _declare(self, "")

    def declaration(self, name):
        """C text declaring ``name`` with this type, e.g. ``"double (*f)(double)"``."""
        return _declare(self, name)

    def __str__(self):
        return self.spelling

    def __repr__(self):
        return f"CType({self.kind!r}, {self.spelling!r})"


@dataclass(frozen=True)
class Param:
    """A function parameter: ``name`` (None if unnamed) and ``type`` (a :class:`CType`)."""

    name: "str | None"
    type: CType


@dataclass(frozen=True)
class Field:
    """A struct or union member: ``name`` (None for an anonymous member), ``type``, ``bits``
    (bit-field width or None)."""

    name: "str | None"
    type: CType
    bits: "int | None" = None


@dataclass(frozen=True)
class Struct:
    """A struct or union with a body: ``name`` (typedef name if any, else tag), ``tag``,
    ``union``, ``fields`` (tuple of :class:`Field`), ``line``, ``file`` (where it is defined:
    ``"<cell>"``, a header's path) and ``user`` (False for a system header's)."""

    name: str
    tag: "str | None"
    union: bool
    fields: tuple
    line: int
    file: str = "<cell>"
    user: bool = True


@dataclass(frozen=True)
class Global:
    """A file-scope variable: ``name``, ``type``, ``static``, ``extern``, ``const`` (the object
    itself is read-only), ``thread_local``, ``line``, ``file``."""

    name: str
    type: CType
    static: bool = False
    extern: bool = False
    const: bool = False
    thread_local: bool = False
    line: int = 0
    file: str = "<cell>"


@dataclass(frozen=True)
class Function:
    """A function declared or defined at file scope.

    Attributes
    ----------
    name : str
    result : CType
    params : tuple of Param
        Arrays and functions already decayed to pointers; ``f(void)`` and ``f()`` have none.
    variadic : bool
    defined : bool
        The cell gives its body.
    static, inline : bool
    line : int
        1-based line of the name (of the definition, if there is one) in ``file``.
    file : str
        ``"<cell>"`` for the source itself, else the user's header or ``.c`` file it comes from.
    """

    name: str
    result: CType
    params: tuple
    variadic: bool = False
    defined: bool = False
    static: bool = False
    inline: bool = False
    line: int = 0
    file: str = "<cell>"

    @property
    def type(self):
        """The function's :class:`CType` (kind ``"function"``)."""
        return CType("function", result=self.result, params=self.params, variadic=self.variadic)

    @property
    def prototype(self):
        """The C prototype as written, without storage class, attributes or ``;``:
        ``"double norm(const double *v, long n)"``."""
        return self.type.declaration(self.name)

    def c_declaration(self, name=None, param_names=None):
        """C text declaring a function with this signature, every parameter named.

        Parameters
        ----------
        name : str, optional
            Function name (default: this function's).
        param_names : sequence of str, optional
            Parameter names (default: as written, ``argN`` for unnamed ones).

        Returns
        -------
        str
            E.g. ``"int __cx_wrap_add(int arg0, int arg1)"``; no storage class, no ``;``.

        Examples
        --------
        >>> import cx
        >>> cx.compile("int add(int, int);").declarations.function("add").c_declaration("w")
        'int w(int arg0, int arg1)'
        """
        if param_names is None:
            taken = {p.name for p in self.params}
            param_names = []
            for i, p in enumerate(self.params):
                generated = f"arg{i}"
                while p.name is None and generated in taken:
                    generated += "_"
                param_names.append(p.name or generated)
        if len(param_names) != len(self.params):
            raise ValueError(f"c_declaration: {self.name} takes {len(self.params)} parameters,"
                             f" got {len(param_names)} names")
        params = tuple(Param(n, p.type) for n, p in zip(param_names, self.params))
        return dataclasses.replace(self.type, params=params).declaration(name or self.name)


@dataclass(frozen=True)
class Declarations:
    """Everything a cell declares at file scope (read-only mappings, in source order).

    Attributes
    ----------
    functions : mapping of str to Function
    structs : mapping of str to Struct
        Keyed by typedef name if any, else tag; anonymous ones used by a member or variable
        get a key like ``"<anonymous struct at line 3>"``.
    globals : mapping of str to Global
    enums : mapping of str to int
        Enumerator constants.
    typedefs : mapping of str to CType
        The cell's typedefs, resolved (``alias`` is the typedef name).
    warnings : tuple of str
        What could not be read, each starting ``"line N: "``.
    """

    functions: MappingProxyType
    structs: MappingProxyType
    globals: MappingProxyType
    enums: MappingProxyType
    typedefs: MappingProxyType
    warnings: tuple

    #: The ``static inline`` functions of the user's headers (bound too); a snapshot reads none.
    inline_functions = ()

    # The questions a Module asks, as a :class:`Reader` answers them (here all read already).
    @property
    def defined_functions(self):
        """Names of the functions defined, not static."""
        return tuple(n for n, f in self.functions.items() if f.defined and not f.static)

    @property
    def static_functions(self):
        """Names of the functions defined ``static`` (internal: never exported)."""
        return tuple(n for n, f in self.functions.items() if f.defined and f.static)

    @property
    def defined_variables(self):
        """Names of the file-scope variables defined, not static."""
        return tuple(n for n, g in self.globals.items() if not g.static and not g.extern)

    @property
    def undefined(self):
        """Names declared without a definition (prototypes, ``extern`` variables)."""
        return tuple([n for n, f in self.functions.items() if not f.defined]
                     + [n for n, g in self.globals.items() if g.extern])

    def function(self, name):
        """The :class:`Function` ``name``, or None."""
        return self.functions.get(name)

    def variable(self, name):
        """The :class:`Global` ``name``, or None."""
        return self.globals.get(name)

    def struct(self, name):
        """The :class:`Struct` keyed ``name``, or None."""
        return self.structs.get(name)

    def thread_local(self, name):
        """Whether the variable ``name`` is ``_Thread_local``."""
        g = self.globals.get(name)
        return bool(g and g.thread_local)

    def struct_names(self):
        """Keys of the structs and unions the user's source defines."""
        return [n for n, st in self.structs.items() if st.user]


# ----------------------------------------------------------------------------------------------
# C text from the model

def _quals(t):
    words = [w for w, on in (("const", t.const), ("volatile", t.volatile)) if on]
    if t.atomic and t.alias is None:
        words.append("_Atomic")
    return words


def _declare(t, inner):
    while t.alias is None and t.kind in _COMPOUND:
        if t.kind == "pointer":
            quals = " ".join(_quals(t))
            inner = "*" + quals + (" " if quals and inner else "") + inner
            if t.target.alias is None and t.target.kind in ("array", "function"):
                inner = f"({inner})"
            t = t.target
        elif t.kind == "array":
            inner += f"[{'' if t.length is None else t.length}]"
            t = t.target
        else:
            params = [p.type.declaration(p.name or "") for p in t.params]
            if t.variadic:
                params.append("...")
            inner += f"({', '.join(params) or 'void'})"
            t = t.result
    if t.alias is not None:
        base = t.alias
    elif t.kind in ("struct", "union", "enum"):
        base = f"{t.kind} {t.tag}" if t.tag else (t.name or "int")
    else:
        base = t.name or t.kind
    text = " ".join(_quals(t) + [base])
    return f"{text} {inner}" if inner else text
