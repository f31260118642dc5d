"""The steps of one compile, between the user's source and the backend's code (for :func:`cx.compile`).

1. :func:`check_text`: refuse what no C compiler reads;
2. :func:`prepare`: preprocess with the backend's own preprocessor and read the declarations of
   the translation unit as the compiler sees it (:mod:`cx.cread`);
3. :func:`make_code`: the translation unit (:mod:`cx.build.unit`), compiled by the backend.
"""
from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass, field
from typing import Optional

from .. import cread
from ..cread import view as cview
from ..errors import SOURCE_NAME, CompileError, CxError, Diagnostic
from . import api as _api
from . import constants, prefix, unit
from .backends import tcc
from .record import Settings

__all__ = ["check_text", "prepare", "Prepared", "make_code", "EarlyCode", "layout_build"]

_READ = object()  # _make_code's default: the prepared source's declarations


def check_text(source: str) -> None:
    """Refuse what no C compiler reads: a NUL character (TinyCC would silently stop there)."""
    at = source.find("\x00")
    if at >= 0:
        line = source.count("\n", 0, at) + 1
        column = at - (source.rfind("\n", 0, at) + 1) + 1
        raise CompileError("C compile failed", [Diagnostic(line, "error",
                           "the source contains a NUL character (\\x00); C source cannot contain one",
                           column=column)], source, name=SOURCE_NAME)


@dataclass
class Prepared:
    """What :func:`prepare` makes of a source: the preprocessed text its declarations are read
    from (when first asked for, so that the backend can compile meanwhile: :class:`EarlyCode`),
    the text the backend compiles, and the ``#define``/``#undef`` lines of the preprocessed text
    (:mod:`cx.build.constants`)."""

    text: str
    reading: dict  # from_preprocessed's source_files, system_dirs and api_files
    compiled_text: str
    preprocessed: bool
    directives: constants.Directives = field(default_factory=lambda: constants.Directives(list))
    units: list = field(default_factory=list)  # the other files' texts, as the backend compiles them
    cached: bool = False  # from the prefix cache (cx.build.prefix): an error is reported by a whole compile
    files: Optional[tuple] = None  # the files the text came from, when known (its line markers)
    source: Optional[str] = None  # the source itself, when the text is all the source's

    @functools.cached_property
    def scan(self):
        """The first step of reading the text (:func:`cx.cread.scan`), made on its own when the
        user's headers' static inline functions are wanted before the declarations."""
        return cread.scan(self.text, **self.reading)

    @functools.cached_property
    def declarations(self) -> cread.Reader:
        """The declarations of the translation unit (:func:`cx.cread.from_preprocessed`)."""
        return cread.from_preprocessed(self.text, scan=self.__dict__.get("scan"), **self.reading)

    def early_names(self):
        """``(static inline functions of the user's headers, enumeration constants of the user's
        files)``, as the declarations will name them, known before they are read: none when no
        header of the user's is among the text's files and the source never says ``enum``
        (most cells: nothing is read for it), else from :attr:`scan`."""
        if self.files is not None and self.source is not None and "enum" not in self.source:
            user = cview.user_file_rule(self.reading["source_files"], self.reading["system_dirs"],
                                        self.reading["api_files"])
            if not any(user(f) for f in self.files if f not in self.reading["source_files"]):
                return [], []
        return self.scan.header_inline(), self.scan.user_enumerators()


def prepare(source: str, settings: Settings, back, api=(), units=(), cache=True) -> Prepared:
    """Preprocess ``source`` with the backend's own preprocessor and read its declarations.

    The declarations are those of the translation unit as the compiler sees it (every header,
    every macro, every ``#if``). A backend that compiles preprocessed text (``PREPROCESSED``)
    then compiles exactly that text, so the source is preprocessed once. ``api``: the headers
    bound on purpose (``cx.include``): they and the library's own headers they include
    (:mod:`cx.build.api`) are read as the user's.
    ``units``: ``(path, text)`` of the module's other files (``cx.load`` of several files), each
    preprocessed as its own translation unit; the declarations are those of all of them (a
    function one file declares and another defines is defined). ``cache``: the prefix cache
    may serve the source (:mod:`cx.build.prefix`).
    """
    reading = {"source_files": (back.STRING_FILE, SOURCE_NAME), "system_dirs": back.system_dirs()}
    if cache and not units and getattr(back, "PREPROCESSED", False):
        composed = prefix.prepare(source, settings, back, api)
        if composed is not None:
            return Prepared(composed.text, dict(reading, api_files=composed.api_files),
                            back.compilable(composed.text), True, composed.directives, cached=True,
                            files=composed.files, source=source)
    text, directives = constants.split_directives(back.preprocess(f'#line 1 "{SOURCE_NAME}"\n' + source, settings))
    main, others = text, []
    for path, unit_text in units:  # each file its own unit: its text follows, its offsets shifted
        plain, more = constants.split_directives(back.preprocess(f'#line 1 "{path}"\n' + unit_text, settings))
        plain = back.compilable(plain, path)  # its lines are the file's, not the cell's
        shift = len(text) + 1
        directives += more.shifted(shift)
        text = text + "\n" + plain
        others.append(plain)
    reading["api_files"] = _api.files(text, api, back.system_dirs())
    if getattr(back, "PREPROCESSED", False):
        return Prepared(text, reading, back.compilable(main), True, directives, others)
    return Prepared(text, reading, source, False, directives)


def make_code(back, prepared: Prepared, settings: Settings, guard: bool):
    """The backend's code for the source, with the crash guard's end marker when ``guard``.

    The marker (:data:`cx.build.unit.END_SYMBOL`) comes after the source: when the unit fails in
    it, the source is compiled alone, which gives its own error (a missing ``}``). A source that
    compiles alone but not with the marker is cx's bug, reported as such: calls are never left
    unguarded silently. (The calls themselves enter the guard in cx's call slot, ``_call.c``.)

    The static inline functions of the user's headers are emitted (:func:`cx.build.unit.translation_unit`);
    one that calls what nothing defines here (a header whose library is not linked) is left out,
    with those that call it, and the unit compiled again: ``code.inline_left_out`` says why.
    """
    inline = list(prepared.declarations.inline_functions)
    left_out = {}
    for _ in range(4):
        try:
            code = _make_code(back, prepared, settings, guard, inline)
        except CompileError as exc:
            dropped = _inline_calling_undefined(exc, prepared.declarations.view, inline) if inline else {}
            if not dropped:
                raise
            left_out.update(dropped)
            inline = [n for n in inline if n not in dropped]
            continue
        code.inline_left_out = left_out
        return code
    return _make_code(back, prepared, settings, guard, [])


_UNDEFINED = re.compile(r"undefined (?:symbol|reference to) [`'‘\"]?([A-Za-z_]\w*)")


def _inline_calling_undefined(exc, view, inline):
    """The inline functions whose bodies name a symbol the link did not find (and those that call
    them), name -> why; {} when the error is not that."""
    missing = {m.group(1) for d in exc.diagnostics for m in _UNDEFINED.finditer(d.message)}
    missing |= {m.group(1) for m in _UNDEFINED.finditer(exc.summary)}
    if not missing:
        return {}
    dropped, changed = {}, True
    while changed:
        changed = False
        for name in inline:
            if name in dropped:
                continue
            chunk = view.chunks[view.header_inline[name]]
            words = set(re.findall(r"[A-Za-z_]\w*", view.text[chunk.start:chunk.end]))
            calls = sorted((missing | set(dropped)) & words - {name})
            if calls:
                dropped[name] = (f"static inline {name}() calls {', '.join(calls)}, which nothing defines here "
                                 "(link the library that does: libraries=[...], or the module: link=[...])")
                changed = True
    return dropped


class EarlyCode:
    """The backend's code for a prepared source, compiled on a thread of libjit's own while this
    one reads the source's declarations (TinyCC needs no GIL): a first cell pays for the longer
    of the two, not their sum.

    It is the code :func:`make_code` would make when the module links to no other module (whose
    symbols depend on the declarations) and emits the static inline functions of the user's
    headers that the declarations name (:meth:`Prepared.early_names` knows them first, from the
    scanner's chunks): :meth:`take` gives it only then, and None otherwise, or on any error (the
    caller then compiles as usual, and reports the error as usual).
    """

    def __init__(self, back, prepared: Prepared, settings: Settings, guard: bool):
        self._inline, self._enumerators = prepared.early_names()  # (most cells: none, known at once)
        text = unit.translation_unit(prepared.compiled_text, None, guard=guard, preprocessed=True,
                                     inline=self._inline, enumerators=self._enumerators)
        self._guard = guard
        try:
            self._started = back.build_start(text, dataclasses.replace(settings))
        except CxError:  # no thread to be had (a process limit): the usual compile, on this thread
            self._started = None

    #: Below this many characters of text the declarations are read in less time than a thread of
    #: libjit's own costs to start and join (a cell served by the prefix cache: a few hundred).
    MIN_TEXT = 8_000

    @staticmethod
    def possible(back, prepared: Prepared, links) -> bool:
        """Whether the code can be made before the declarations are read, and is worth it."""
        return (hasattr(back, "build_start") and prepared.preprocessed and not links and not prepared.units
                and len(prepared.compiled_text) >= EarlyCode.MIN_TEXT)

    def take(self, declarations):
        """The code, when it is what :func:`make_code` makes for ``declarations`` (else None)."""
        if self._started is None:
            return None
        try:
            code = self._started.finish()
        except CxError:
            return None
        if list(declarations.inline_functions) != self._inline or (self._guard and not code.sym(unit.END_SYMBOL)):
            code.close()  # (its constructors never ran: nothing of it happened)
            return None
        code.construct()  # kept: its constructors run now, on the compiling thread, as make_code's do
        code.inline_left_out = {}
        if list(declarations.view.user_enumerators()) == self._enumerators:  # else asked when wanted
            code.enumerator_values = unit.enumerator_values(code, self._enumerators)
        return code


def _make_code(back, prepared, settings, guard, inline, declarations=_READ, enumerators=True):
    declarations = prepared.declarations if declarations is _READ else declarations
    # the values of the user's enumeration constants come with the code (TinyCC's: another
    # backend's are asked of TinyCC when first wanted, cx.build.constants)
    enumerators = list(declarations.view.user_enumerators()) \
        if enumerators and declarations is not None and getattr(back, "PREPROCESSED", False) \
        and not prepared.units else []  # (another file's enumerators are not this unit's)
    if prepared.units:  # the module's other files: compiled first, each its own unit
        settings = dataclasses.replace(settings, units=tuple(
            unit.translation_unit(u, declarations, preprocessed=True, inline=()) for u in prepared.units))
    text = unit.translation_unit(prepared.compiled_text, declarations, guard=guard,
                                 preprocessed=prepared.preprocessed, inline=inline, enumerators=enumerators)
    try:
        code = back.build(text, settings)
    except CompileError as exc:
        if enumerators and unit.generated_code_failed(exc):  # not expected: then they are asked when wanted
            return _make_code(back, prepared, settings, guard, inline, declarations, enumerators=False)
        if not (guard and unit.generated_code_failed(exc)):
            raise
        back.build(unit.translation_unit(prepared.compiled_text, declarations, guard=False,
                                         preprocessed=prepared.preprocessed, inline=()), settings).close()
        raise CxError("cx could not guard the calls of this source: the crash guard's end marker did not "
                      f"compile ({next((str(d) for d in exc.errors), exc.summary)}); this is a bug in cx, "
                      "please report it with the source") from None
    if guard and not code.sym(unit.END_SYMBOL):
        code.close()
        raise CxError("cx could not guard the calls of this source (its end marker is missing from the "
                      "compiled code); this is a bug in cx, please report it with the source")
    code.enumerator_values = unit.enumerator_values(code, enumerators)
    return code


def layout_build(text: str):
    """TinyCC's code for a query's text (a layout, :mod:`cx.bind.check`; constants,
    :mod:`cx.build.constants`), whatever the module's backend: the question is about the
    declarations' text, which TinyCC compiled or a C compiler's preprocessor wrote."""
    return tcc.build(text, Settings(user_source=text))
