"""The steps of one compile, between the user's source and the backend's code (for :func:`cx.compile`).

1. :func:`check_text`: refuse what no C compiler reads;
2. :func:`prepare`: preprocess with the backend's own preprocessor and read the declarations of
   the translation unit as the compiler sees it (:mod:`cx.cread`);
3. :func:`make_code`: the translation unit (:mod:`cx.build.unit`), compiled by the backend.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import cread
from ..errors import SOURCE_NAME, CompileError, CxError, Diagnostic
from . import unit
from .backends import tcc
from .record import Settings

__all__ = ["check_text", "prepare", "Prepared", "make_code", "layout_build"]


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
    """What :func:`prepare` makes of a source: its declarations, and the text the backend compiles."""

    declarations: cread.Reader
    compiled_text: str
    preprocessed: bool


def prepare(source: str, settings: Settings, back) -> Prepared:
    """Preprocess ``source`` with the backend's own preprocessor and read its declarations.

    The declarations are those of the translation unit as the compiler sees it (every header,
    every macro, every ``#if``). A backend that compiles preprocessed text (``PREPROCESSED``)
    then compiles exactly that text, so the source is preprocessed once.
    """
    text = back.preprocess(f'#line 1 "{SOURCE_NAME}"\n' + source, settings)
    declarations = cread.from_preprocessed(text, source_files=(back.STRING_FILE, SOURCE_NAME),
                                           system_dirs=back.system_dirs())
    if getattr(back, "PREPROCESSED", False):
        return Prepared(declarations, back.compilable(text), True)
    return Prepared(declarations, source, False)


def make_code(back, prepared: Prepared, settings: Settings, guard: bool):
    """The backend's code for the source, with the crash guard's end marker when ``guard``.

    The marker (:data:`cx.build.unit.END_SYMBOL`) comes after the source: when the unit fails in
    it, the source is compiled alone, which gives its own error (a missing ``}``). A source that
    compiles alone but not with the marker is cx's bug, reported as such: calls are never left
    unguarded silently. (The calls themselves enter the guard in cx's call slot, ``_call.c``.)
    """
    text = unit.translation_unit(prepared.compiled_text, prepared.declarations, guard=guard,
                                 preprocessed=prepared.preprocessed)
    try:
        code = back.build(text, settings)
    except CompileError as exc:
        if not (guard and unit.generated_code_failed(exc)):
            raise
        back.build(unit.translation_unit(prepared.compiled_text, prepared.declarations, guard=False,
                                         preprocessed=prepared.preprocessed), settings).close()
        raise CxError("cx could not guard the calls of this source: the crash guard's end marker did not "
                      f"compile ({next((str(d) for d in exc.errors), exc.summary)}); this is a bug in cx, "
                      "please report it with the source") from None
    if guard and not code.sym(unit.END_SYMBOL):
        code.close()
        raise CxError("cx could not guard the calls of this source (its end marker is missing from the "
                      "compiled code); this is a bug in cx, please report it with the source")
    return code


def layout_build(text: str):
    """TinyCC's code for a layout query's text (:mod:`cx.bind.check`), whatever the module's
    backend: the question is about the declarations' text, which TinyCC compiled or a C
    compiler's preprocessor wrote."""
    return tcc.build(text, Settings(user_source=text))
