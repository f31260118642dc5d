"""What the ``%%cx`` magic tells the person besides its results.

- Compiler warnings, shown as warnings (an amber note), not in the red box of errors.
- The diagnostics of a cell (errors and warnings: line, column, message) as display data of the
  MIME type :data:`DIAGNOSTICS_MIME`, which the ``cx-highlight`` JupyterLab extension reads to mark
  them in the cell's editor; nothing renders it otherwise.
- A name a cell binds that replaces a Python built-in or an object that is not cx's.
- Names that a cell which failed to compile would have defined, so that a ``NameError`` for one
  of them says where it comes from (:class:`FailedCells`).

Free of IPython: the magic displays and registers what this module builds.
"""
from __future__ import annotations

import builtins
import html
import re

from cx.errors import SOURCE_NAME, caret_column, render_diagnostics
from cx.tools import frame

__all__ = ["DIAGNOSTICS_MIME", "diagnostics_bundle", "warnings_bundle", "replaced", "FailedCells"]

#: The MIME type of a cell's diagnostics: ``{"diagnostics": [{"line", "column", "severity",
#: "message"}]}``, lines and columns 1-based as the editor counts them (column may be null).
DIAGNOSTICS_MIME = "application/vnd.cx.diagnostics+json"


def diagnostics_bundle(diagnostics, source: str) -> dict:
    """Display data carrying the diagnostics about lines of ``source`` (for the editor), or {}."""
    items = []
    for d in diagnostics:
        if d.file != SOURCE_NAME or d.line is None:
            continue
        col = caret_column(d, source)
        items.append({"line": d.line, "column": None if col is None else col + 1, "severity": d.severity,
                      "message": d.message})
    return {DIAGNOSTICS_MIME: {"diagnostics": items}} if items else {}


def warnings_bundle(diagnostics, source: str) -> dict:
    """Display data of compiler warnings: text, an amber note in HTML, and the diagnostics."""
    text = render_diagnostics(diagnostics, source)
    note = (f'<pre style="margin:0;padding:2px 8px;white-space:pre-wrap;border-left:3px solid #e0a400;'
            f'background:rgba(224,164,0,0.12);color:inherit">{html.escape(text)}</pre>')
    return {"text/plain": text, "text/html": frame.wrap("warnings", note), **diagnostics_bundle(diagnostics, source)}


def replaced(name: str, old, new, ours: bool) -> str | None:
    """The one line that says binding ``new`` to ``name`` replaces something of the user's, or None.

    ``old`` is what the namespace holds now (the ``builtins`` module when it holds nothing: then
    Python's built-in of that name, if any, is what the name means); ``ours`` tells whether cx put
    it there (replacing cx's own bindings says nothing).
    """
    kind = "struct" if isinstance(new, type) else "module" if not callable(new) else "function"
    if old is builtins:
        if not hasattr(builtins, name):
            return None
        return (f"cx: {name} is now the C {kind}; it hides Python's built-in {name} in this namespace "
                f"(del {name} brings the built-in back)")
    if ours:
        return None
    return f"cx: {name} is now the C {kind}; it replaces the {type(old).__name__} that had this name"


_DEFINED = re.compile(r"^[ \t]*(?:[A-Za-z_][\w \t\*]*?[\s\*])?([A-Za-z_]\w*)\s*\([^;{}]*\)\s*\{", re.M)
_TAGGED = re.compile(r"\b(?:struct|union)\s+([A-Za-z_]\w*)\s*\{")
_TYPEDEF = re.compile(r"\}\s*([A-Za-z_]\w*)\s*;")
_KEYWORDS = frozenset("if while for switch return sizeof do else".split())


class FailedCells:
    """Names that cells which did not compile would have defined, and where those cells are."""

    def __init__(self):
        self._where = {}  # name -> "In [7] did not compile: line 3: ..."

    def failed(self, source: str, error, where: str) -> None:
        """Remember the names ``source`` spells a definition of (read from the text: the cell did
        not compile), with ``where`` (e.g. ``"In [7]"``) and the first error."""
        first = next((d for d in error.diagnostics if d.severity == "error"), None)
        if first is not None and first.file == SOURCE_NAME and first.line is not None:
            where += f" did not compile: line {first.line}: {first.message.splitlines()[0]}"
        elif first is not None:
            where += f" did not compile: {str(first).splitlines()[0]}"
        else:
            where += " did not compile"
        names = {m.group(1) for m in _DEFINED.finditer(source)} - _KEYWORDS
        names |= {m.group(1) for m in _TAGGED.finditer(source)} | {m.group(1) for m in _TYPEDEF.finditer(source)}
        for name in names:
            self._where[name] = where

    def bound(self, names) -> None:
        """These names are bound now: a NameError for them is no longer about a failed cell."""
        for name in names:
            self._where.pop(name, None)

    def explain(self, name: str) -> str | None:
        """What to add to ``NameError: name 'NAME' is not defined``, or None."""
        where = self._where.get(name)
        if where is None:
            return None
        return f"its %%cx cell {where}"
