"""The compiler's view of a source, cut down to what its exports need (private, for :mod:`cx.decls`).

The input is the text the compiler's preprocessor made of the whole translation unit (every header
included, ``#if`` resolved, macros expanded), with ``# N "file"`` line markers. :class:`View` cuts
it into top-level declarations, each with its file and line, and indexes them by the names they
declare. :meth:`View.text` then selects the declarations the source *exports* (what the user's own
files define or declare, never what system headers declare) and, transitively, every typedef,
struct, union and enum they mention, from any header. Only that selection is parsed: a source that
includes ``<stdio.h>`` parses the few header types its prototypes use, not the header.

Nothing here guesses at the preprocessor: the text is the compiler's own.
"""
from __future__ import annotations

import bisect
import os

from . import _cscan
from ._cpre import KEYWORDS, rx

__all__ = ["View", "Chunk"]

_MARKER = r'(?m)^# (\d+) "((?:[^"\\]|\\.)*)"(?: [0-9 ]+)?[ \t]*$'
_IDENT = r"[A-Za-z_]\w*"
_TAGGED = r"\b(struct|union|enum)\s+([A-Za-z_]\w*)\s*(\{)?"
_GNU_GROUP = r"\b(?:__attribute__|__attribute|__declspec|__asm__|__asm|asm|__typeof__|typeof|_Alignas|__alignof__|_Alignof)\s*\("
_SPECIFIER_WORDS = frozenset(
    "auto char const double enum extern float inline int long register restrict short signed"
    " static struct union unsigned void volatile _Bool _Complex _Noreturn _Thread_local _Atomic"
    " __extension__ __inline __inline__ __restrict __restrict__ __const __const__ __volatile__"
    " __signed __signed__ __thread thread_local noreturn typedef".split())


class Chunk:
    """One top-level declaration or definition of the preprocessed text.

    Attributes
    ----------
    start, end : int
        Its span in the text (a function body is not part of ``end``'s meaning: see ``body``).
    body : tuple or None
        ``(open, close)`` of a function definition's body braces.
    file : str
        The file it comes from, as the preprocessor names it (``"<cell>"`` for the source itself).
    line : int
        The line of its first character in that file.
    user : bool
        From the user's own files (the source, local headers and ``.c`` files it includes), not a
        system header.
    """

    __slots__ = ("start", "end", "body", "file", "line", "user", "index")

    def __init__(self, start, end, body, file, line, user, index):
        self.start, self.end, self.body = start, end, body
        self.file, self.line, self.user, self.index = file, line, user, index


class View:
    """The top-level declarations of a preprocessed translation unit, indexed by name.

    Parameters
    ----------
    text : str
        Preprocessed C with ``# N "file"`` markers.
    source_files : iterable of str
        The preprocessor's names for the source itself (its lines are the user's lines).
    source_name : str
        The name to report for it (``"<cell>"``).
    system_dirs : iterable of str
        Directories whose headers are the system's: what they declare is never exported.
    """

    def __init__(self, text, source_files, source_name, system_dirs=()):
        self.source_name = source_name
        prefixes = tuple(os.path.join(os.path.abspath(d), "") for d in system_dirs if d)
        self._segments = []  # (offset, file, line at offset, user)
        pieces, pos = [], 0
        for m in rx(_MARKER).finditer(text):
            name = m.group(2).replace('\\"', '"').replace("\\\\", "\\")
            line = int(m.group(1))
            if name in source_files:
                user, shown = True, source_name
            else:
                shown = name
                user = not name.startswith("<") and not os.path.abspath(name).startswith(prefixes)
            self._segments.append((m.end() + 1, shown, line, user))
            pieces += (text[pos:m.start()], " " * (m.end() - m.start()))
            pos = m.end()
        pieces.append(text[pos:])
        self.text = text = "".join(pieces)  # markers blanked: offsets and lines unchanged
        self._offsets = [s[0] for s in self._segments]
        self.chunks = []
        space = rx(r"\s*")
        for start, end, opening, close in _cscan.split_top(text):
            start = space.match(text, start).end()
            body = None if opening < 0 else (opening, close)
            file, line, user = self._where(start)
            self.chunks.append(Chunk(start, end, body, file, line, user, len(self.chunks)))
        self._starts = [c.start for c in self.chunks]
        self.typedefs = {}     # name -> chunk index
        self.tags = {}         # (kind, tag) -> chunk index of the body
        self.enumerators = {}  # name -> chunk index
        self.names = {}        # function or variable name -> chunk indexes (user files)
        self._index()

    # -- positions --------------------------------------------------------------------------
    def _where(self, offset):
        i = bisect.bisect_right(self._offsets, offset) - 1
        if i < 0:
            return "<unknown>", 1, False
        start, file, line, user = self._segments[i]
        return file, line + self.text.count("\n", start, offset), user

    def _chunk_at(self, offset):
        i = bisect.bisect_right(self._starts, offset) - 1
        return self.chunks[i] if i >= 0 else None

    def head(self, chunk):
        """A chunk's text without its function body (``{}`` in its place)."""
        if chunk.body is None:
            return self.text[chunk.start:chunk.end]
        return self.text[chunk.start:chunk.body[0]] + "{}"

    # -- the index --------------------------------------------------------------------------
    def _index(self):
        text = self.text
        typedef_chunks = []
        for m in rx(r"\btypedef\b").finditer(text):
            chunk = self._chunk_at(m.start())
            if chunk is not None and chunk.body is None and (not typedef_chunks or typedef_chunks[-1] is not chunk):
                typedef_chunks.append(chunk)
        typedef_at = {c.index for c in typedef_chunks}
        for m in rx(_TAGGED).finditer(text):
            if m.group(3):
                chunk = self._chunk_at(m.start())
                if chunk is not None and (chunk.body is None or m.start() < chunk.body[0]):
                    self.tags.setdefault((m.group(1), m.group(2)), chunk.index)
                    if m.group(1) == "enum":
                        self._enumerators(chunk, m.end() - 1)
        for m in rx(r"\benum\s*\{").finditer(text):
            chunk = self._chunk_at(m.start())
            if chunk is not None and (chunk.body is None or m.start() < chunk.body[0]):
                self._enumerators(chunk, m.end() - 1)
        # typedef names in source order: in `T x`, T must already be known as a type
        for chunk in [self.chunks[i] for i in sorted(typedef_at)]:
            for name in _declarator_names(_outside_braces(self.head(chunk)), self.typedefs):
                self.typedefs[name] = chunk.index
        for chunk in self.chunks:
            if not chunk.user or chunk.index in typedef_at:
                continue
            head = self.head(chunk)
            if rx(r"\s*(?:__extension__\s+)?static\b").match(head):
                continue
            for name in _declarator_names(_outside_braces(head), self.typedefs):
                self.names.setdefault(name, []).append(chunk.index)

    def _enumerators(self, chunk, brace):
        close = self.text.find("}", brace, chunk.end)
        for item in self.text[brace + 1:close if close >= 0 else chunk.end].split(","):
            name = rx(_IDENT).match(item.strip())
            if name:
                self.enumerators.setdefault(name.group(), chunk.index)

    # -- selection --------------------------------------------------------------------------
    def exported(self):
        """Indexes of the user's chunks that declare or define non-static functions and
        variables, and the user's own type declarations."""
        picked = set()
        for indexes in self.names.values():
            picked.update(indexes)
        for index in list(self.typedefs.values()) + list(self.tags.values()):
            if self.chunks[index].user:
                picked.add(index)
        return picked

    def closure(self, picked):
        """``picked`` plus every chunk declaring a type or enumerator they mention, repeatedly."""
        picked = set(picked)
        todo = list(picked)
        while todo:
            chunk = self.chunks[todo.pop()]
            text = self.head(chunk)
            for m in rx(r"\b(?:(struct|union|enum)\s+)?([A-Za-z_]\w*)").finditer(text):
                kind, name = m.group(1), m.group(2)
                found = [self.tags.get((kind, name))] if kind else \
                    [self.typedefs.get(name), self.enumerators.get(name)]
                for index in found:
                    if index is not None and index not in picked:
                        picked.add(index)
                        todo.append(index)
        return picked

    def text_of(self, indexes):
        """The selected chunks in source order, one per line group, and a line map.

        Returns
        -------
        (str, callable)
            The text, and ``where(line) -> (file, line, user)`` mapping a line of that text back
            to the file and line it came from.
        """
        parts, starts, origins, line = [], [], [], 1
        for index in sorted(indexes):
            chunk = self.chunks[index]
            head = self.head(chunk)
            parts.append(head)
            starts.append(line)
            origins.append(chunk)
            line += head.count("\n") + 1

        def where(at):
            i = bisect.bisect_right(starts, at) - 1
            if i < 0:
                return self.source_name, at, True
            chunk = origins[i]
            return chunk.file, chunk.line + at - starts[i], chunk.user

        return "\n".join(parts), where


def _outside_braces(text):
    """``text`` with everything inside ``{...}`` blanked (newlines kept)."""
    if "{" not in text:
        return text
    out, depth = [], 0
    for ch in text:
        if ch == "{":
            depth += 1
            out.append(ch)
        elif ch == "}":
            depth -= 1
            out.append(ch)
        else:
            out.append(ch if depth == 0 or ch == "\n" else " ")
    return "".join(out)


def _without_gnu(text):
    """``text`` with ``__attribute__((...))``, ``asm(...)`` and similar groups blanked."""
    if "__" not in text and "asm" not in text and "_Al" not in text and "typeof" not in text:
        return text
    out, pos = [], 0
    for m in rx(_GNU_GROUP).finditer(text):
        if m.start() < pos:
            continue
        depth, i = 0, m.end() - 1
        while i < len(text):
            c = text[i]
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        out.append(text[pos:m.start()])
        out.append(" " * (i + 1 - m.start()))
        pos = i + 1
    out.append(text[pos:])
    return "".join(out)


def _declarator_names(outer, typedefs):
    """Names a declaration (function bodies and struct bodies blanked) declares.

    ``typedefs`` holds the type names known so far: in ``T x``, ``T`` is a type and ``x`` the
    name. Initializers and parameter lists are skipped.
    """
    text = _without_gnu(outer)
    names, depth, seen_type, expecting, skip_tag, initializer = [], 0, False, True, False, False
    for tok in rx(r"[A-Za-z_]\w*|[(){}\[\],;=]|\S").findall(text):
        if tok in "([{":
            if tok == "{" and skip_tag:  # an untagged struct/union/enum body
                skip_tag, seen_type = False, True
            depth += 1
            continue
        if tok in ")]}":
            depth -= 1
            continue
        if depth == 0 and tok == "=":
            initializer = True
            continue
        if depth == 0 and tok == ",":
            expecting, initializer = True, False
            continue
        if initializer or not (tok[0].isalpha() or tok[0] == "_"):
            continue
        if skip_tag:
            skip_tag = False
            seen_type = True
            continue
        if tok in ("struct", "union", "enum"):
            skip_tag = True
            continue
        if tok in _SPECIFIER_WORDS or tok in KEYWORDS:
            if tok not in ("const", "volatile", "static", "extern", "typedef", "inline",
                           "_Thread_local", "__thread", "register", "auto", "_Noreturn",
                           "__extension__", "__inline", "__inline__", "restrict",
                           "__restrict", "__restrict__"):
                seen_type = True
            continue
        if not seen_type and tok in typedefs:
            seen_type = True
            continue
        if expecting and depth <= 1:
            names.append(tok)
            expecting = False
    return names
