"""The declarations of a preprocessed header prefix that a piece of C needs (for :mod:`cx.build.prefix`).

A cell that includes ``<stdio.h>`` uses a handful of its ~900 declarations. :class:`Index` cuts
the preprocessed text of the headers into top-level declarations once (:mod:`cx.cread._cscan`),
and knows for each the names it declares (functions, variables, typedefs, tags, enumerators)
and the words it mentions (struct and union members name nothing by themselves). :meth:`Index.needed` then gives, for the words of a cell's
preprocessed body, every declaration declaring one of them and, repeatedly, every declaration
those mention, plus every declaration of the user's own files (their API is bound whole).

Selecting too much only costs compile time; selecting too little would change what the compiler
says, so the selection refuses (returns None) when a word of the body occurs in the headers
without any declaration the index can name for it, and :meth:`Index.selectable` is false when the
text holds what a selection would lose (``#pragma``, ``_Pragma``, top-level ``asm``).
"""
from __future__ import annotations

import bisect

from . import _cscan
from .text import KEYWORDS, rx
from .view import _declarator_names, _outside_braces, _unescape

__all__ = ["Index", "words", "files"]

_WORD = r"[A-Za-z_]\w*"
#: Words that are never a declaration's name: keywords, GNU spellings, builtins TinyCC knows.
_NOT_NAMES = KEYWORDS | frozenset(
    "__attribute__ __attribute __asm__ __asm asm __extension__ __inline __inline__ __restrict __restrict__"
    " __const __const__ __volatile__ __signed __signed__ __typeof__ typeof __thread __label__"
    " __builtin_va_list __builtin_va_start __builtin_va_end __builtin_va_arg __builtin_va_copy"
    " __builtin_expect __builtin_constant_p __builtin_offsetof __builtin_types_compatible_p"
    " __builtin_frame_address __builtin_return_address __builtin_unreachable __alignof__ __func__"
    " __FUNCTION__ _Generic _Noreturn __noreturn__ inline defined".split())


def files(text: str) -> list:
    """The files preprocessed text came from (its line markers), as the file system names them,
    once each, without the preprocessor's own (``<command line>``...)."""
    names = dict.fromkeys(written for _, _, written in _cscan.markers(text))
    return [n for n in map(_unescape, names) if not n.startswith("<")]


def words(text: str) -> set:
    """The identifiers of a piece of C (keywords included; strings and comments not told apart).
    Done in C (``_cscan.words``): a body or a header may hold megabytes of table data."""
    return _cscan.words(text)


class Index:
    """The top-level declarations of preprocessed text, by the names they declare.

    Parameters
    ----------
    text : str
        Preprocessed C with ``# N "file"`` markers (``#define`` lines already taken out).
    user : callable
        ``user(file) -> bool``: whether a file (as the markers write it) is one of the user's.
    """

    def __init__(self, text, user):
        self.text = text
        self.chunks = _cscan.split_top(text)  # (start, end, body open, body close, name, static, 1, outline)
        marks = _cscan.markers(text)
        self._offsets = [m[0] for m in marks]
        self._marks = marks
        self.user_files = {m[2] for m in marks if user(m[2])}
        self.declares = {}  # name -> [chunk index], ascending
        self.mentions = []  # chunk index -> frozenset of words (keywords left out)
        self.always = []    # chunks of the user's files: bound whole, so always selected
        self.all_words = set()
        self.members = set()  # names of struct and union members (a body's p->rem is no unknown word)
        self.selectable = "\n#pragma" not in text and "_Pragma" not in text
        for i, (start, end, opening, _, name, *_) in enumerate(self.chunks):
            chunk_text = text[start:end]
            found = words(chunk_text)
            self.all_words |= found
            self.mentions.append(frozenset(found - _NOT_NAMES))
            for declared in self._declared(chunk_text, name, opening - start if opening >= 0 else -1, found):
                self.declares.setdefault(declared, []).append(i)
            if self.file_of(i) in self.user_files:
                self.always.append(i)
        self.size = len(text) * 3 + 64 * len(self.chunks)  # what keeping it costs, about (bytes)

    def _declared(self, chunk_text, name, opening, found):
        """Names one chunk declares (tags, typedef names, enumerators, functions, variables); the
        words inside a struct or union body go to :attr:`members`."""
        if name is not None and opening >= 0:  # a function definition, named by the scanner
            return (name,)
        head = chunk_text if opening < 0 else chunk_text[:opening]
        if "{" not in head and "typedef" not in found:  # a prototype, most of a header: its name
            simple = rx(r"[^(,;={]*?\b(" + _WORD + r")\s*\(").match(head)  # before its first "("
            if simple and simple.group(1) not in _NOT_NAMES:
                return (simple.group(1),)
        if "asm" in found and rx(r"^\s*(?:__asm__|__asm|asm)\b").match(head):
            self.selectable = False  # top-level asm: nothing names it, dropping it would lose it
            return ()
        names = set()
        if "{" in head:  # members name nothing a cell can use alone; enumerators do
            self.members |= found - _NOT_NAMES
            for body in rx(r"\benum\b[^{;]*\{([^}]*)\}").findall(head):
                names |= words(body) - _NOT_NAMES
        outer = _outside_braces(head)
        names.update(_declarator_names(outer))
        for m in rx(r"\b(?:struct|union|enum)\s+(" + _WORD + ")").finditer(outer):
            names.add(m.group(1))  # a tag declared or only mentioned (struct s;): harmless to keep
        return names

    def file_of(self, index):
        """The file (as the markers write it) a chunk comes from."""
        return self.file_at(self.chunks[index][0])

    def file_at(self, offset):
        """The file (as the markers write it) of an offset of the text."""
        at = bisect.bisect_right(self._offsets, offset) - 1
        return self._marks[at][2] if at >= 0 else ""

    def place(self, index):
        """``(file, line, column)`` of a chunk's first character (the file as the markers write it)."""
        start = self.chunks[index][0]
        at = bisect.bisect_right(self._offsets, start) - 1
        offset, line, name = self._marks[at] if at >= 0 else (0, 1, "")
        line_start = self.text.rfind("\n", 0, start) + 1
        return name, line + self.text.count("\n", offset, start), start - line_start + 1

    def needed(self, body_words, extra_words=()):
        """Indexes of the chunks the body needs, in order; None when the index cannot tell."""
        wanted = (set(body_words) | set(extra_words)) - _NOT_NAMES
        unknown = [w for w in wanted if w in self.all_words and w not in self.declares and w not in self.members]
        if unknown or not self.selectable:
            return None
        picked, todo = set(self.always), list(self.always)
        for w in wanted:
            for i in self.declares.get(w, ()):
                if i not in picked:
                    picked.add(i)
                    todo.append(i)
        declares, mentions = self.declares, self.mentions
        while todo:
            for w in mentions[todo.pop()]:
                for i in declares.get(w, ()):
                    if i not in picked:
                        picked.add(i)
                        todo.append(i)
        return sorted(picked)

    def compose(self, picked) -> str:
        """The picked chunks, each after a line marker (and at its column), as preprocessed text."""
        parts, text = [], self.text
        for i in picked:
            name, line, column = self.place(i)
            start, end = self.chunks[i][0], self.chunks[i][1]
            parts.append(f'# {line} "{name}"\n' + " " * (column - 1) + text[start:end] + "\n")
        return "".join(parts)

