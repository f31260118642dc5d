"""What a translation unit declares: functions, structs, globals, enums and typedefs.

This is the one declaration model of cx: binding, docstrings and the backends read it. It is built
by :func:`from_preprocessed` from the text the compiler's own preprocessor wrote (every header
included, every macro expanded, every ``#if`` decided), so it is what the compiler compiles:

- :mod:`cx.cread._cscan` (C) cuts the text into top-level declarations and reads its line markers;
  :class:`cx.cview.View` indexes them by the names they declare;
- a :class:`Reader` parses a declaration (with the types it mentions) when it is first asked
  for: simple prototypes with a strict tokenizer, the rest with pycparser
  (:mod:`cx.cread.front`);
- header typedefs of scalars (``size_t``, ``int64_t``, ``bool``...) become scalars with
  canonical names and keep their spelling in :attr:`CType.alias`;
- a declaration that cannot be read is left out with a warning naming its line.

Example
-------
>>> import cx
>>> d = cx.compile("#include <stddef.h>\\nlong sum(const long *v, size_t n) { return 0; }").declarations
>>> d.function("sum").prototype
'long sum(const long *v, size_t n)'
>>> d.function("sum").params[1].type.name, d.function("sum").line
('unsigned long', 2)
"""

import dataclasses
import functools
import threading
from collections.abc import Mapping

from types import MappingProxyType

from . import front, text as ctext, view as cview
from .model import CType, Declarations, Field, Function, Global, Param, Struct

__all__ = ["from_preprocessed", "scan", "Reader"]

def scan(text, *, source_files=("<cell>",), system_dirs=(), api_files=()):
    """The first step of reading ``text`` (:class:`cx.cread.view.Scan`; the parameters are
    :func:`from_preprocessed`'s), which tells the static inline functions of the user's headers
    before the declarations are read; hand it to :func:`from_preprocessed`."""
    return cview.Scan(text, source_files, "<cell>", system_dirs, api_files)


def from_preprocessed(text, *, source_files=("<cell>",), system_dirs=(), api_files=(), fast=True, scan=None):
    """The declarations of a translation unit, from its preprocessed text, read on demand.

    This is how :func:`cx.compile` reads a source: the compiler's preprocessor has already
    included every header, resolved every ``#if`` and expanded every macro, so what is read is
    what the compiler compiles. Only what the user's own files declare is part of the result
    (``functions`` and ``globals`` from the source and the local headers and ``.c`` files it
    includes; never a system header's), together with every typedef, struct, union and enum
    they use, from any header.

    Parameters
    ----------
    text : str
        Preprocessed C with ``# N "file"`` line markers (:func:`cx.build.backends.tcc.preprocess`).
    source_files : iterable of str
        The preprocessor's names for the source itself (its lines are the cell's lines, reported
        in the file ``"<cell>"``).
    system_dirs : iterable of str
        Directories of system headers.
    api_files : iterable of str
        Headers bound on purpose (``cx.include``; :mod:`cx.build.api` picks them): read as the
        user's, in a system directory or not.

    scan : cx.cread.view.Scan, optional
        The text's scan, when it was made first (:func:`scan`).

    Returns
    -------
    Reader
        The names are known at once; a prototype or a struct is read when it is asked for
        (``reader.function("f")``); its ``functions``, ``structs``... read everything, like
        :class:`Declarations`.
    """
    return Reader(cview.View(text, source_files, "<cell>", system_dirs, api_files, scan=scan), fast)


_ANONYMOUS_BODY = ctext.rx(r"\b(?:struct|union|enum)\s*\{")

#: Held while a Reader parses: threads binding their first functions at once read in turn.
_READING = threading.RLock()


class Reader:
    """The declarations of a preprocessed translation unit, read when they are asked for.

    A source of 10,000 functions costs nothing here until its functions are used: the names
    come from an index of the text (:class:`cx.cview.View`), and each prototype, with the types
    it mentions, is parsed on first use. The attributes of :class:`Declarations`
    (``functions``, ``structs``, ``globals``, ``enums``, ``typedefs``, ``warnings``) read all of
    it.
    """

    def __init__(self, view, fast=True):
        self._view = view
        self._fast = fast
        self._builder = _Builder()
        self._builder.static_functions = view.static_functions
        self._read = set()  # chunk indexes parsed
        self._all = None
        self._typedef_set = None
        self._no_thread_local = None  # the text never says _Thread_local (see thread_local)
        functions, variables, undefined = view.defined_split()
        self.defined_functions, self.defined_variables = tuple(functions), tuple(variables)
        #: Names of the functions defined ``static`` in the user's files (internal: never exported).
        self.static_functions = tuple(sorted(view.static_definitions | view.static_functions))
        #: Names declared without a definition (prototypes, ``extern`` variables).
        self.undefined = tuple(undefined)
        #: The ``static inline`` functions the user's headers define (part of their API: bound too).
        self.inline_functions = tuple(view.header_inline)

    @property
    def view(self):
        """The compiler's view of the source (:class:`cx.cread.view.View`): its declarations
        indexed by name, each with its file and line."""
        return self._view

    # -- on demand ------------------------------------------------------------------------
    def function(self, name):
        """The :class:`Function` called ``name`` (None if the source does not declare it)."""
        self._read_chunks(self._view.chunks_of(name))
        return self._builder.functions.get(name)

    def variable(self, name):
        """The :class:`Global` called ``name`` (None if the source does not declare it)."""
        self._read_chunks(self._view.chunks_of(name))
        return self._builder.globals.get(name)

    def struct(self, name):
        """The :class:`Struct` whose key is ``name`` (its typedef name, else its tag), or None."""
        found = self._builder.structs.get(name)
        if found is None:
            view = self._view
            chunks = {i for i in (view.typedefs.get(name), view.tags.get(("struct", name)),
                                  view.tags.get(("union", name))) if i is not None}
            self._read_chunks(chunks)
            found = self._builder.structs.get(name)
        if found is None:  # a tag whose struct is keyed by its typedef name
            builder = self._builder
            key = builder.tag_registered.get(("Struct", name)) or builder.tag_registered.get(("Union", name))
            found = builder.structs.get(key) if key else None
        if found is None:  # a typedef name of a struct read (and keyed by its tag) before the typedef
            t = self._builder.typedefs.get(name)
            if t is not None and t.kind in ("struct", "union"):
                found = self._builder.structs.get(t.name)
        return found

    def thread_local(self, name):
        """Whether the variable ``name`` is ``_Thread_local`` (read only when its text says so)."""
        if self._no_thread_local is None:  # asked of every undefined name: one look at the text
            self._no_thread_local = "_Thread_local" not in self._view.text
        if self._no_thread_local or not any("_Thread_local" in self._view.head(self._view.chunks[i])
                   for i in self._view.chunks_of(name)):
            return False
        g = self.variable(name)
        return bool(g and g.thread_local)

    def struct_names(self):
        """The structs and unions the source itself declares (keys), without reading them."""
        return self._view.cell_struct_names()

    def _struct_chunks(self, st):
        view = self._view
        found = {view.typedefs.get(st.name), view.tags.get(("union" if st.union else "struct", st.tag))}
        return {i for i in found if i is not None}

    def definition_text(self, name):
        """The text that defines the struct ``name`` as the compiler saw it, whitespace folded
        (what makes two definitions one C type: fields, attributes, packing)."""
        st = self.struct(name)
        if not st:
            return ""
        view = self._view
        return " ".join(" ".join(view.head(view.chunks[i]).split()) for i in sorted(self._struct_chunks(st)))

    def packed(self, name):
        """Whether the struct ``name`` is declared ``__attribute__((packed))``."""
        st = self.struct(name)
        return bool(st) and any("packed" in self._view.head(self._view.chunks[i]) for i in self._struct_chunks(st))

    def type_source(self, structs):
        """C text declaring the :class:`Struct` s ``structs`` and every type they use, as the
        compiler saw it (to ask the compiler for their layout)."""
        roots = set()
        for st in structs:
            roots |= self._struct_chunks(st)
        return self._view.text_of(self._view.closure(roots))[0]

    def _read_chunks(self, roots):
        with _READING:  # _read says "parsed" only once the builder has the result
            self._read_chunks_locked(roots)

    def _read_chunks_locked(self, roots):
        view = self._view
        todo = view.closure(roots, known=self._read) - self._read
        if not todo:
            return
        self._read |= todo
        selected, where = view.text_of(todo)
        warnings = []
        nodes = self._one_simple_function(selected, todo) if len(todo) == 1 and self._fast else None
        if nodes is None:
            nodes = front.read(ctext.gnu(selected), warnings, self._typedef_names(), self._fast)
        builder = self._builder
        builder.where = where
        for w in warnings:  # the reader's "line N: ..." are lines of the selection
            number = ctext.rx(r"^line (\d+): ").match(w)
            if number:
                builder.warn(int(number.group(1)), w[number.end():])
            else:
                builder.warnings.append(w)
        builder.add(nodes)
        self._all = None

    def _typedef_names(self):
        if self._typedef_set is None:
            self._typedef_set = frozenset(self._view.typedefs)
        return self._typedef_set

    def _one_simple_function(self, text, todo):
        """The node of a lone simple prototype (the common case of binding one function), read
        without the general reader's machinery; None when it is not that simple."""
        chunk = self._view.chunks[next(iter(todo))]
        if chunk.body is None and not text.rstrip().endswith(";"):
            return None
        body = (len(text) - 2, len(text) - 1) if chunk.body is not None else None
        got = front.fast_function(text, 0, len(text), body, 1, self._typedef_names())
        return None if got is None else [got[0]]

    # -- everything, as Declarations --------------------------------------------------------
    def declarations(self):
        """Everything the source exports and declares, read now (a :class:`Declarations`)."""
        if self._all is None:
            self._read_chunks(self._view.exported())
            self._all = self._builder.snapshot()
        return self._all

    functions = property(lambda self: self.declarations().functions, doc=Declarations.__doc__)
    structs = property(lambda self: _LazyStructs(self))
    globals = property(lambda self: self.declarations().globals)
    enums = property(lambda self: self.declarations().enums)
    typedefs = property(lambda self: self.declarations().typedefs)
    warnings = property(lambda self: self.declarations().warnings)


class _LazyStructs(Mapping):
    """``reader.structs``: a struct is read when it is looked up; iterating reads them all."""

    def __init__(self, reader):
        self._reader = reader

    def __getitem__(self, name):
        found = self._reader.struct(name)
        if found is None:
            raise KeyError(name)
        return found

    def __contains__(self, name):
        return self._reader.struct(name) is not None

    def __iter__(self):
        return iter(self._reader.declarations().structs)

    def __len__(self):
        return len(self._reader.declarations().structs)


# ----------------------------------------------------------------------------------------------
# Scalars on LP64 Linux, and the types of headers the cell does not define (built on first use)

_SIZES = {"char": 1, "signed char": 1, "unsigned char": 1, "_Bool": 1, "short": 2,
          "unsigned short": 2, "int": 4, "unsigned int": 4, "float": 4, "long": 8,
          "unsigned long": 8, "long long": 8, "unsigned long long": 8, "double": 8,
          "long double": 16}


@functools.lru_cache(maxsize=1)
def _header_types():
    table = {}
    for atomic, groups in ((False, front.HEADER_SCALARS), (True, front.HEADER_ATOMICS)):
        for canonical, names in groups.items():
            for name in names.split():
                table[name] = CType("scalar", canonical, alias=name, atomic=atomic)
    for name in front.HEADER_OPAQUE.split():
        table[name] = CType("opaque", name)
    return table


def _canonical(names):
    """Canonical scalar name for a list of C type keywords, or None."""
    words = set(names)
    longs = names.count("long")
    unsigned = "unsigned" in words
    if "_Complex" in words or "__int128" in words:
        return None
    for simple in ("void", "_Bool", "float"):
        if simple in words:
            return simple
    if "double" in words:
        return "long double" if longs else "double"
    if "char" in words:
        return "unsigned char" if unsigned else "signed char" if "signed" in words else "char"
    base = "short" if "short" in words else "long long" if longs > 1 else "long" if longs else "int"
    return "unsigned " + base if unsigned else base


# ----------------------------------------------------------------------------------------------
# Model from pycparser's AST

def _divide(a, b):
    """C integer division (truncates toward zero)."""
    quotient = abs(a) // abs(b)
    return quotient if (a < 0) == (b < 0) else -quotient


_BINARY = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": _divide, "%": lambda a, b: a - b * _divide(a, b),
    "<<": lambda a, b: a << b if b < 128 else None, ">>": lambda a, b: a >> b,
    "&": lambda a, b: a & b, "|": lambda a, b: a | b, "^": lambda a, b: a ^ b,
    "&&": lambda a, b: int(bool(a and b)), "||": lambda a, b: int(bool(a or b)),
    "==": lambda a, b: int(a == b), "!=": lambda a, b: int(a != b),
    "<": lambda a, b: int(a < b), ">": lambda a, b: int(a > b),
    "<=": lambda a, b: int(a <= b), ">=": lambda a, b: int(a >= b),
}
_UNARY = {"-": lambda a: -a, "+": lambda a: a, "~": lambda a: ~a, "!": lambda a: int(not a)}
_CHARS = r"(?s:\\(?:x[0-9a-fA-F]+|[0-7]{1,3}|.)|.)"


def _qualified(t, quals):
    if not quals:
        return t
    return dataclasses.replace(t, const=t.const or "const" in quals,
                               volatile=t.volatile or "volatile" in quals,
                               atomic=t.atomic or "_Atomic" in quals)


def _read_only(t):
    while t.kind == "array":
        t = t.target
    return t.const


class _Builder:
    """Builds the model from pycparser nodes, in source order."""

    def __init__(self):
        self.warnings = []
        # the selection being read: its line -> (file, line, from the user's files), and the
        # original text before a place (a cx.cview._Origins; set by Reader._read_chunks)
        self.where = None
        self.functions, self.structs, self.globals = {}, {}, {}
        self.enums, self.typedefs = {}, {}
        self.tag_keys = {}  # ("struct", tag) -> typedef name used as key
        self.tag_registered = {}  # ("struct", tag) -> the key it was first given (kept after)
        self.anonymous = {}  # (file, line, column, original text before it) of an untagged body -> key
        self.naming = None  # (typedef name, line) for the untagged body being declared
        self.static_functions = frozenset()

    def snapshot(self):
        """The declarations read so far."""
        structs = {k: v for k, v in self.structs.items() if v is not None}
        return Declarations(*(MappingProxyType(dict(m)) for m in (
            self.functions, structs, self.globals, self.enums, self.typedefs)),
            tuple(self.warnings))

    def add(self, nodes):
        """Read more nodes (later in the source than those read before)."""
        for node in nodes:
            inner = getattr(getattr(node, "type", None), "type", None)
            if type(node).__name__ == "Typedef" and getattr(inner, "name", None) and \
                    type(inner).__name__ in ("Struct", "Union", "Enum"):
                self.tag_keys.setdefault((type(inner).__name__, inner.name), node.name)
        for node in nodes:
            kind = type(node).__name__
            if kind == "Typedef":
                inner = getattr(node.type, "type", None)
                if type(inner).__name__ in ("Struct", "Union", "Enum") and inner.name is None:
                    self.naming = (node.name, self.where(node.coord.line)[1])
                t = self.ctype(node.type)
                self.naming = None
                self.typedefs[node.name] = dataclasses.replace(t, alias=node.name)
            elif kind == "FuncDef":
                self.declare(node.decl, defined=True, kr=node.param_decls is not None)
            elif kind == "Decl":
                self.declare(node)

    def warn(self, line, message):
        file, line, user = self.where(line)
        self.warnings.append(f"line {line}: {message}" if file == "<cell>" else f"{file}:{line}: {message}")

    # -- declarations ----------------------------------------------------------------------

    def declare(self, node, defined=False, kr=False):
        name, storage = node.name, node.storage
        file, line, user = self.where(node.coord.line)
        if name is None or not user:  # a struct/union/enum declaration alone, or a system header's
            self.ctype(node.type)
            return
        if kr:
            self.warn(line, f"'{name}' has a K&R-style parameter list; it is left out (write"
                            f" a prototype such as 'int {name}(int a, int b)')")
            return
        t = self.ctype(node.type, names=True)
        if t.kind == "function":
            if type(node.type).__name__ == "FuncDecl" and node.type.args is None and not defined:
                self.warn(line, f"'{name}()' has no parameter list; it is read as '{name}(void)'")
            self.function(Function(name, t.result, t.params or (), t.variadic, defined,
                                   "static" in storage, "inline" in node.funcspec, line, file))
            return
        if t.kind == "array" and t.length is None and node.init is not None:
            length = self.initializer_length(node.init)
            if length is None:
                self.warn(line, f"could not work out the length of '{name}' from its"
                                " initializer; it is left unknown")
            t = dataclasses.replace(t, length=length)
        new = Global(name, t, "static" in storage, "extern" in storage, _read_only(t),
                     "_Thread_local" in storage, line, file)
        old = self.globals.get(name)
        if old is None or (old.extern and not new.extern):
            self.globals[name] = dataclasses.replace(
                new, static=new.static or bool(old and old.static),
                thread_local=new.thread_local or bool(old and old.thread_local))

    def function(self, new):
        if new.name in self.static_functions:  # declared static earlier (in a chunk not read)
            new = dataclasses.replace(new, static=True)
        old = self.functions.get(new.name)
        if old is not None:
            keep = new if new.defined or not old.defined else old
            new = dataclasses.replace(keep, defined=old.defined or new.defined,
                                      static=old.static or new.static,
                                      inline=old.inline or new.inline)
        self.functions[new.name] = new

    def initializer_length(self, init):
        kind = type(init).__name__
        if kind == "Constant" and init.type == "string":
            return len(ctext.rx(_CHARS).findall(init.value[init.value.index('"') + 1:-1])) + 1
        if kind != "InitList":
            return None
        index = length = 0
        for item in init.exprs:
            if type(item).__name__ == "NamedInitializer":
                designator = item.name[0]
                if type(designator).__name__ == "ArrayDesignator":  # pycparser >= 3.1 wraps it
                    designator = designator.expr
                if type(designator).__name__ in ("ID", "MemberDesignator"):
                    return None
                index = self.value(designator)
                if index is None:
                    return None
            index += 1
            length = max(length, index)
        return length

    # -- types -----------------------------------------------------------------------------

    def ctype(self, node, names=False):
        kind = type(node).__name__
        if kind in ("TypeDecl", "Typename"):
            return _qualified(self.ctype(node.type), node.quals)
        if kind == "PtrDecl":
            return _qualified(CType("pointer", target=self.ctype(node.type)), node.quals)
        if kind == "ArrayDecl":
            length = None
            if node.dim is not None:
                length = self.value(node.dim)
                if length is None:
                    self.warn(node.dim.coord.line, "an array length is not a constant cx can"
                                                   " work out (a struct field's is asked of the compiler);"
                                                   " it is left unknown")
            return CType("array", target=self.ctype(node.type), length=length)
        if kind == "FuncDecl":
            params, variadic = self.params(node.args, names)
            return CType("function", result=self.ctype(node.type), params=params,
                         variadic=variadic)
        if kind == "IdentifierType":
            return self.named(node.names)
        if kind in ("Struct", "Union"):
            return self.aggregate(node, kind.lower())
        if kind == "Enum":
            return self.enum(node)
        raise ValueError(f"unexpected {kind}")

    def named(self, names):
        if len(names) == 1 and names[0] not in ctext.KEYWORDS:
            found = self.typedefs.get(names[0]) or _header_types().get(names[0])
            return found or CType("opaque", names[0])
        canonical = _canonical(names)
        if canonical is None:
            return CType("opaque", " ".join(names))
        return CType("void") if canonical == "void" else CType("scalar", canonical)

    def params(self, args, names):
        if args is None:
            return (), False
        params, variadic = [], False
        for p in args.params:
            kind = type(p).__name__
            if kind == "EllipsisParam":
                variadic = True
                continue
            node = p.type
            if type(node).__name__ == "ArrayDecl":
                t = _qualified(CType("pointer", target=self.ctype(node.type)), node.dim_quals)
            else:
                t = self.ctype(node)
                if t.kind == "array":
                    t = CType("pointer", target=t.target)
                elif t.kind == "function":
                    t = CType("pointer", target=t)
            params.append(Param(p.name if names else None, t))
        if len(params) == 1 and params[0].type.kind == "void" and not variadic:
            return (), False
        return tuple(params), variadic

    def key(self, node, kind):
        if node.name is not None:
            tag = (type(node).__name__, node.name)
            key = self.tag_registered.setdefault(tag, self.tag_keys.get(tag, node.name))
            return key, self.where(node.coord.line)[1]
        file, line, _ = self.where(node.coord.line)
        column = node.coord.column
        before = self.where.before(node.coord.line, column)
        if (file, line, column, before) not in self.anonymous:
            place = f"line {line}" if file == "<cell>" else f"{file}:{line}"
            name = f"<anonymous {kind} at {place}>"
            # a second body on the same source line is told apart by its place on that line
            # (from the original text: chunks are read apart, in any order)
            earlier = len(_ANONYMOUS_BODY.findall(before))
            if earlier:
                name = f"<anonymous {kind} at {place}, #{earlier + 1}>"
            self.anonymous[file, line, column, before] = self.naming or (name, line)
        return self.anonymous[file, line, column, before]

    def aggregate(self, node, kind):
        if node.decls is None:
            if node.name is None:
                return CType("opaque", kind)
            return CType(kind, self.key(node, kind)[0], tag=node.name)
        key, line = self.key(node, kind)
        if self.structs.get(key, False) is False:
            self.structs[key] = None  # keeps source order when a field defines a struct
            self.naming = None
            fields = []
            for d in node.decls:
                bits = None
                if d.bitsize is not None:
                    bits = self.value(d.bitsize)
                    if bits is None:
                        self.warn(d.coord.line, f"could not work out the width of '{d.name}'")
                fields.append(Field(d.name, self.ctype(d.type), bits))
            file, _, user = self.where(node.coord.line)
            self.structs[key] = Struct(key, node.name, kind == "union", tuple(fields), line, file, user)
        return CType(kind, key, tag=node.name)

    def enum(self, node):
        key = self.key(node, "enum")[0] if node.name or self.naming else None
        if node.values is not None:
            following = 0
            for e in node.values.enumerators:
                value = following if e.value is None else self.value(e.value)
                if value is None:
                    self.warn(e.coord.line, f"could not work out the value of '{e.name}'")
                    following = None
                    continue
                self.enums[e.name] = value
                following = value + 1
        return CType("enum", key, tag=node.name)

    # -- constant expressions ----------------------------------------------------------------

    def value(self, node):
        """Integer value of a constant expression node, None if not a constant."""
        kind = type(node).__name__
        try:
            if kind == "Constant":
                return front.int_literal(node.type, node.value)
            if kind == "ID":
                return self.enums.get(node.name)
            if kind == "Cast":
                return self.value(node.expr)
            if kind == "TernaryOp":
                cond = self.value(node.cond)
                return None if cond is None else self.value(node.iftrue if cond else node.iffalse)
            if kind == "UnaryOp" and node.op == "sizeof":
                return self.size(self.ctype(node.expr)) if type(node.expr).__name__ == \
                    "Typename" else None
            if kind == "UnaryOp" and node.op in _UNARY:
                operand = self.value(node.expr)
                return None if operand is None else _UNARY[node.op](operand)
            if kind == "BinaryOp" and node.op in _BINARY:
                left, right = self.value(node.left), self.value(node.right)
                return None if left is None or right is None else _BINARY[node.op](left, right)
        except (ValueError, ArithmeticError):
            return None
        return None

    def size(self, t):
        if t.kind == "scalar":
            return _SIZES[t.name]
        if t.kind == "pointer":
            return 8
        if t.kind == "enum":
            return 4
        if t.kind == "array" and t.length is not None:
            element = self.size(t.target)
            return None if element is None else element * t.length
        return None

