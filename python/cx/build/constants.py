"""The constants of a source: enumeration constants and object-like macros, valued by the compiler.

The preprocessor keeps every ``#define`` and ``#undef`` in its text, on the line where it was
(libjit's ``jit_preprocess``, like ``tcc -E -dD``). :func:`split_directives` takes them out of the
text the declarations are read from, and keeps them in order. A :class:`Constants` then knows,
without compiling anything, which names are candidates: the enumeration constants of the user's
files, and the object-like macros the user's files define (the source, its own headers, ``-I``
directories: never a system header's). Their values are asked of the compiler once, when the first
one is wanted, in one small translation unit: the user's types, the ``#define`` and ``#undef`` lines
replayed in order, and for each candidate its kind and value::

    _Generic((NAME), char *: string, float/double: real, unsigned: unsigned, default: integer)
    __builtin_constant_p(NAME)     (a macro that is not a constant, such as errno, is left out)

Python reads names and structure here, never values: ``#define MASK (1u << 3 | FLAG)`` is
``9`` because TinyCC says so. A macro whose text is no expression at all (``#define API
__attribute__((visibility("default")))``) is not asked about; one that fails to compile is left
out and the rest asked again.
"""
from __future__ import annotations

import ctypes
import functools
import re
import threading
from collections.abc import Sequence
from typing import NamedTuple

from ..errors import CompileError, CxError

__all__ = ["split_directives", "Directive", "Directives", "Constants", "replay"]

_DIRECTIVE = re.compile(r"\n#(define|undef)[ \t]+([A-Za-z_]\w*)(\()?([^\n]*)")  # a literal start: found fast

#: Words that start no constant expression: a macro whose text starts with one is not asked about.
_NOT_AN_EXPRESSION = frozenset(
    "typedef extern static auto register const volatile restrict inline _Noreturn void char short int long "
    "float double signed unsigned _Bool _Complex struct union enum __attribute__ __attribute __declspec "
    "__asm__ __asm asm __extension__ __inline __inline__ __restrict __restrict__ _Alignas _Thread_local "
    "__thread do if else for while switch return goto break continue case default".split())

_QUERY_FILE = "<cx-constants>"
_WORD = re.compile(r"[A-Za-z_]\w*")
_RESERVED = re.compile(r"_[_A-Z]")
_MAX_ATTEMPTS = 24  # compiles of the query before the candidates still failing are given up


class Directive(NamedTuple):
    """A ``#define`` or ``#undef`` of the preprocessed text: ``offset`` (where its line was, in the
    text without directives), ``define`` (False: ``#undef``), ``name``, ``function_like``, ``body``
    (the replacement text, as the preprocessor wrote it) and ``line`` (the whole directive).
    A tuple: a text has hundreds (every macro of the system headers), made in one pass."""

    offset: int
    define: bool
    name: str
    function_like: bool
    body: str
    line: str
    user: object = None  # whether a user's file has it, when known apart from a view (cx.build.prefix)

    def for_user(self, user: bool) -> "Directive":
        """The same directive, known to be in a user's file or not."""
        return self._replace(user=user)

    def shifted(self, by: int) -> "Directive":
        """The same directive, its offset moved by ``by``."""
        return self._replace(offset=self.offset + by)


# the lines _DIRECTIVE reads, after their newline (a literal start: found fast, unlike ^ with re.M)
_DIRECTIVE_LINE = re.compile(r"\n#(?:define|undef)[ \t]+[A-Za-z_][^\n]*")


class Directives(Sequence):
    """The ``#define``/``#undef`` lines of a text, in order, read when first asked for (most
    compiles never ask: the constants are valued lazily). ``Directives(make)``: ``make()`` gives
    the list; ``a + b`` is another lazy list."""

    def __init__(self, make):
        self._make, self._list = make, None

    def _items(self):
        if self._list is None:
            self._list, self._make = list(self._make()), None
        return self._list

    def __getitem__(self, i):
        return self._items()[i]

    def __len__(self):
        return len(self._items())

    def __add__(self, other):
        return Directives(lambda: [*self, *other])

    def shifted(self, by: int, user=None) -> "Directives":
        """The same directives, their offsets moved by ``by`` (and ``user`` set, when given)."""
        return Directives(lambda: [d.shifted(by) if user is None else d.for_user(user).shifted(by) for d in self])


def split_directives(text: str):
    """``(text without its #define/#undef lines, Directives)``; each directive's line is left
    empty, so every other line keeps its number and the markers stay right."""
    if "#define" not in text and "#undef" not in text:
        return text, Directives(list)
    return _DIRECTIVE_LINE.sub("\n", "\n" + text)[1:], Directives(lambda: _read_directives(text))


def _read_directives(text):
    text = "\n" + text  # every directive starts a line: after a newline
    directives, removed = [], 0
    for m in _DIRECTIVE.finditer(text):
        start = m.start() + 1  # the directive itself, after its newline
        directives.append(Directive(start - removed - 1, m.group(1) == "define", m.group(2), m.group(3) is not None,
                                    m.group(4).strip(), m.group(0)[1:]))
        removed += m.end() - start
    return directives


def replay(macros, words) -> str:
    """The ``#define``/``#undef`` lines that leave the macros among ``words`` as ``macros`` (name ->
    its last :class:`Directive`) has them, with the macros their bodies use, transitively: the
    state a text's macros leave, for those names only (a system header defines hundreds)."""
    wanted, todo = set(), [w for w in words if w in macros]
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.add(name)
        d = macros[name]
        if d.define:
            todo.extend(w for w in _WORD.findall(d.body) if w in macros and w not in wanted)
    return "\n".join(macros[n].line if macros[n].define else f"#undef {n}" for n in sorted(wanted))


def _asks_about(directive, typedefs) -> bool:
    """Whether a user's ``#define`` could be a constant: object-like, with an expression's text."""
    body = directive.body
    if directive.function_like or not body or "{" in body or ";" in body or "#" in body:
        return False
    first = re.match(r"[A-Za-z_]\w*", body)
    if first and (first.group(0) in _NOT_AN_EXPRESSION or (first.end() == len(body) and first.group(0) in typedefs)):
        return False
    return body != directive.name


_KIND = {1: "integer", 2: "real", 3: "string", 4: "unsigned"}


class Constants:
    """The constants of one module: names known at once, values asked of the compiler when first
    wanted (thread-safe; asked once).

    Parameters
    ----------
    directives : list of Directive
        The text's ``#define``/``#undef`` lines, in order (:func:`split_directives`).
    view : cx.cread.view.View
        The compiler's view of the source (which file each line is in, the user's enumerators and
        types).
    build : callable
        ``build(text) -> code``: compiles the query (TinyCC, whatever the module's backend).
    reserved : bool
        Also the macros whose names C reserves for the implementation (``__x``, ``_X``): a source's
        own are asked about, an API header's (``cx.include``) are its implementation's.
    """

    def __init__(self, directives, view, build, reserved=True, enumerators=None):
        self._directives, self._view, self._build, self._reserved = directives, view, build, reserved
        self._lock = threading.Lock()
        self._values = None
        # the user's enumeration constants valued with the module's code, or asked for an enum's
        # class before every constant was
        self._enumerator_values = dict(enumerators or {})
        self._left_out = {}

    @functools.cached_property
    def _candidates(self) -> dict:
        """The candidates, found when first asked for (not at every compile), as a dict for lookups."""
        view, macros = self._view, {}
        for d in self._directives:  # the last definition of a name wins; an #undef forgets it
            if not d.define:
                macros.pop(d.name, None)
            elif (view.user_at(d.offset) if d.user is None else d.user) and _asks_about(d, view.typedefs) \
                    and (self._reserved or not _RESERVED.match(d.name)):
                macros[d.name] = d
            else:
                macros.pop(d.name, None)
        enumerators = view.user_enumerators()
        self._macro_names = frozenset(macros)
        return dict.fromkeys([*enumerators, *(n for n in macros if n not in enumerators)])

    def names(self):
        """The candidates: the user's enumeration constants and object-like macros (unvalued), in order."""
        return self._candidates.keys()

    def values(self) -> dict:
        """name -> value (int, float or str) of every candidate the compiler values as a constant."""
        with self._lock:
            if self._values is None:
                candidates = self._candidates  # (a name that is a macro too is the macro's, asked)
                known = {n: v for n, v in self._enumerator_values.items() if n not in self._macro_names}
                asked = self._ask([n for n in candidates if n not in known])
                self._values = {n: known[n] if n in known else asked[n]
                                for n in candidates if n in known or n in asked}
            return self._values

    def enumerators(self, names) -> dict:
        """name -> value of the enumeration constants ``names`` (of the user's files), for an enum's
        class: asked of the compiler without the macros (an enumerator's value is in the types'
        text), unless every constant is valued already."""
        names = [n for n in names if n in self._candidates_enumerators]
        with self._lock:
            out = {}
            if self._values is not None:  # (a name that is a macro too is the macro's there: not here)
                out = {n: self._values[n] for n in names if n in self._values and n not in self._macro_names}
            missing = [n for n in names if n not in out and n not in self._enumerator_values]
            if missing:
                self._enumerator_values.update(self._ask(missing, macros=False))
            out.update((n, self._enumerator_values[n]) for n in names if n not in out and n in self._enumerator_values)
            return {n: out[n] for n in names if n in out}

    @functools.cached_property
    def _candidates_enumerators(self):
        return self._view.user_enumerators()

    def left_out(self) -> dict:
        """Candidates the compiler did not take as a constant expression, name -> its message."""
        self.values()
        return dict(self._left_out)

    # -- asking the compiler ---------------------------------------------------------------------
    def _prefix(self, macros=True):
        # the types first: their text is the preprocessor's (macros expanded), which the replayed
        # #defines must not expand again; then the macros, as they stand at the end of the source
        # (only those the candidates use, through other macros too: a system header defines hundreds)
        view, seen, picked = self._view, set(), []
        for i in sorted(view.user_types()):  # once each: the files of a module include one header
            head = " ".join(view.head(view.chunks[i]).split())
            if head not in seen:
                seen.add(head)
                picked.append(i)
        types, _ = view.text_of(picked)
        replay = self._replay() if macros else ""
        return (types + "\n" + replay + "\n#define __CX_C(x) (__builtin_constant_p(x) ? (x) : 0)\n"
                "#define __CX_K(x) (__builtin_constant_p(x) * _Generic((x), char *: 3, const char *: 3, "
                "float: 2, double: 2, long double: 2, unsigned int: 4, unsigned long: 4, "
                "unsigned long long: 4, _Bool: 4, default: 1))\n"
                "#define __CX_N(x) _Generic((x), char *: 0, const char *: 0, default: __CX_C(x))\n"
                "#define __CX_S(x) _Generic((x), char *: __CX_C(x), const char *: __CX_C(x), default: (const char *)0)\n")

    def _replay(self):
        """The ``#define``/``#undef`` lines of the macros the candidates use, transitively (each
        name's last directive): the macros as they stand at the end of the source, for those names."""
        return replay({d.name: d for d in self._directives}, self._candidates)

    def _ask(self, names, macros=True):
        names = list(names)
        if not names:
            return {}
        prefix = self._prefix(macros)
        for _ in range(_MAX_ATTEMPTS):
            if not names:
                return {}
            tables = [("int", "__cx_kinds", "__CX_K"), ("long long", "__cx_ints", "__CX_N"),
                      ("long double", "__cx_reals", "__CX_N"), ("const char *const", "__cx_strings", "__CX_S")]
            lines, starts = [], []
            for ctype, symbol, macro in tables:
                lines.append(f"const {ctype} {symbol}[] = {{")
                starts.append(len(lines) + 1)
                lines += [f"{macro}({n})," for n in names]
                lines.append("};")
            text = prefix + f'#line 1 "{_QUERY_FILE}"\n' + "\n".join(lines) + "\n"
            try:
                code = self._build(text)
            except CompileError as exc:
                bad = self._failing(exc, starts, len(names))
                if bad is None:  # not a line of the query: nothing can be asked
                    self._left_out.update({n: exc.summary for n in names})
                    return {}
                self._left_out[names[bad]] = next((d.message for d in exc.diagnostics), exc.summary)
                del names[bad]
                continue
            try:
                return self._read(code, names)
            finally:
                code.close()
        self._left_out.update({n: "the compiler was asked too often" for n in names})
        return {}

    @staticmethod
    def _failing(exc, starts, count):
        """The index of the candidate on the query line the first error names, or None."""
        for d in exc.diagnostics:
            if d.severity == "error" and d.file == _QUERY_FILE and d.line:
                for start in starts:
                    if start <= d.line < start + count:
                        return d.line - start
        return None

    @staticmethod
    def _read(code, names):
        n = len(names)

        def table(ctype, symbol):
            address = code.sym(symbol)
            if not address:
                raise CxError(f"the constants query has no {symbol}: this is a bug in cx")
            return (ctype * n).from_address(address)

        kinds, ints = table(ctypes.c_int, "__cx_kinds"), table(ctypes.c_longlong, "__cx_ints")
        reals, strings = table(ctypes.c_longdouble, "__cx_reals"), table(ctypes.c_void_p, "__cx_strings")
        out = {}
        for i, name in enumerate(names):
            kind = _KIND.get(kinds[i])
            if kind == "integer":
                out[name] = int(ints[i])
            elif kind == "unsigned":
                out[name] = int(ints[i]) & 0xFFFFFFFFFFFFFFFF
            elif kind == "real":
                out[name] = float(reals[i])
            elif kind == "string" and strings[i]:
                out[name] = ctypes.string_at(strings[i]).decode("utf-8", errors="surrogateescape")
        return out
