"""The header prefix cache: a cell's ``#include`` lines preprocessed once per process.

Most of the time TinyCC spends on a notebook cell is reading the same system headers again. A
source whose first lines are only preprocessor lines (its *prefix*: ``#include``, ``#define``,
``#if``..., comments, blank lines) is compiled in two parts:

1. the first time, the prefix and the body are preprocessed in one pass, cut apart at a sentinel
   line; the prefix's text is kept for a key (its text, the include directories, defines,
   options and working directory) with the files it read (their modification times and sizes,
   checked at every use: an edited header is read again), and the whole prefix is compiled;
2. a later source with that prefix: its *body* (the rest) is preprocessed after the prefix's
   macros that it uses (their last ``#define``, or ``#undef``), under ``#line`` so its lines
   stay the cell's;
3. and the compiler is handed the declarations of the prefix the body needs
   (:class:`cx.cread.select.Index`, made at the prefix's second use) and the user's own headers
   whole, at their files, lines and columns, then the body.

Whenever anything could differ from compiling the whole source, :func:`prepare` returns None and
the source is compiled whole (:func:`cx.build.steps.prepare`): a body that includes a header or
uses ``__COUNTER__``, a prefix with ``#pragma``, a word of the body the index cannot place, an
error anywhere (the whole compile reports it). ``CX_PREFIX_CACHE_MB`` caps the memory kept
(default 64; 0 turns the cache off); the least recently used prefixes are dropped first.
"""
from __future__ import annotations

import functools
import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from ..cread import select, view as cview
from ..errors import SOURCE_NAME, CompileError
from . import api as _api
from . import constants

__all__ = ["prepare", "Composed", "CACHE", "split"]

#: Placed on the line before the body: where the body's text starts in the preprocessor's output.
_SENTINEL = "__cx_prefix_cache_body_follows__"
#: What a body may not hold for the cache to serve it (state the prefix's macros do not carry):
#: an #include line, or one of these words (looked for as substrings: a body may be megabytes).
_BODY_INCLUDES = re.compile(r"^[ \t]*#[ \t]*(?:include|include_next|import)\b", re.M)
_BODY_REFUSES = ("__COUNTER__", "__INCLUDE_LEVEL__", "push_macro", "pop_macro", "__has_include", _SENTINEL)
_DIRECTIVE_WORD = re.compile(r"#\s*(\w*)")
_COMMENT_OR_LITERAL = re.compile(r'/\*|//|"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'')


def _refused(body: str) -> bool:
    """Whether the body holds what the cache cannot serve (see _BODY_INCLUDES, _BODY_REFUSES)."""
    if any(word in body for word in _BODY_REFUSES):
        return True
    return ("include" in body or "import" in body) and _BODY_INCLUDES.search(body) is not None


_RACY_NS = 2_000_000_000  # a file changed this close to its reading may change again unseen


def split(source: str):
    """``(prefix, body, body_line)``: the leading preprocessor lines of ``source`` (with every
    ``#if`` closed) and the rest, whose first line is ``body_line``; None when there is no
    prefix with an ``#include`` to keep."""
    lines = source.split("\n")
    depth, in_comment, end, i, has_include = 0, False, 0, 0, False
    while i < len(lines):
        line = lines[i]
        while line.endswith("\\") and i + 1 < len(lines):  # a continued line is one line
            i += 1
            line = line[:-1] + lines[i]
        code, in_comment = _without_comments(line, in_comment)
        code = code.strip()
        i += 1
        if not code:
            if depth == 0 and not in_comment:
                end = i
            continue
        if not code.startswith("#"):
            break
        word = _DIRECTIVE_WORD.match(code).group(1)
        if word in ("if", "ifdef", "ifndef"):
            depth += 1
        elif word == "endif":
            depth -= 1
        elif word in ("include", "include_next", "import"):
            has_include = True
        if depth < 0:
            return None
        if depth == 0 and not in_comment:
            end = i
    if not has_include or end == 0:
        return None
    return "\n".join(lines[:end]), "\n".join(lines[end:]), end + 1


def _without_comments(line, in_comment):
    """A line's text outside comments, and whether a block comment is still open after it."""
    out, pos = [], 0
    while pos < len(line):
        if in_comment:
            close = line.find("*/", pos)
            if close < 0:
                return "".join(out), True
            pos, in_comment = close + 2, False
            out.append(" ")
            continue
        m = _COMMENT_OR_LITERAL.search(line, pos)
        if not m:
            out.append(line[pos:])
            break
        out.append(line[pos:m.start()])
        if m.group() == "//":
            break
        if m.group() == "/*":
            in_comment, pos = True, m.end()
        else:
            out.append(m.group())
            pos = m.end()
    return "".join(out), in_comment


class _Entry:
    """One preprocessed prefix: its text (directives out), its directives, the files it read."""

    def __init__(self, text, directives, files, api_files, sources=()):
        self.text, self.directives, self.files, self.api_files = text, directives, files, api_files
        self.sources = tuple(sources)  # every file the prefix read (files: their stat, None when racy)
        self.lock = threading.Lock()
        self._prepared = None
        self.size = len(text) * 3

    @functools.cached_property
    def macros(self) -> dict:
        """The macros as the prefix leaves them: name -> its last directive."""
        return {d.name: d for d in self.directives}

    def fresh(self) -> bool:
        """Whether every file the prefix read is as it was."""
        for path, seen in self.files.items():
            try:
                st = os.stat(path)
            except OSError:
                return False
            if (st.st_mtime_ns, st.st_size) != seen:
                return False
        return True

    def prepared(self, back):
        """``(index, directives, words)``, made once: the :class:`cx.cread.select.Index` of the
        text, the directives knowing whether a user's file has them, and the words of the user's
        macros (the declarations they name are selected too: the constants query needs them)."""
        with self.lock:
            if self._prepared is None:
                user = cview.user_file_rule((back.STRING_FILE, SOURCE_NAME), back.system_dirs(), self.api_files)
                index = select.Index(self.text, user)
                directives, words = [], set()
                for d in self.directives:
                    mine = user(index.file_at(d.offset))
                    directives.append(d.for_user(mine))
                    if mine and d.define:
                        words |= select.words(d.body)
                self._prepared = (index, directives, frozenset(words))
                self.size += index.size
            return self._prepared


class Cache:
    """The prefixes of this process, least recently used first, within a byte budget."""

    def __init__(self):
        self._entries = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @property
    def max_bytes(self) -> int:
        """The budget: ``CX_PREFIX_CACHE_MB`` megabytes (default 64; 0 turns the cache off)."""
        try:
            return int(float(os.environ.get("CX_PREFIX_CACHE_MB", "64")) * 1024 * 1024)
        except ValueError:
            return 64 * 1024 * 1024

    def get(self, key):
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is not None and not entry.fresh():
            with self._lock:
                if self._entries.get(key) is entry:
                    del self._entries[key]
            entry = None
        with self._lock:
            if entry is None:
                self.misses += 1
            else:
                self.hits += 1
        return entry

    def put(self, key, entry):
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            self.trim()

    def trim(self):
        """Drop the least recently used prefixes until the rest fits the budget (lock held)."""
        budget = self.max_bytes
        while self._entries and sum(e.size for e in self._entries.values()) > budget:
            self._entries.popitem(last=False)

    def fit(self):
        """Keep within the budget after an entry grew (its index was made)."""
        with self._lock:
            self.trim()

    def clear(self):
        """Forget every prefix."""
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0

    def __len__(self):
        return len(self._entries)

    def bytes(self) -> int:
        """About how much memory the kept prefixes take."""
        with self._lock:
            return sum(e.size for e in self._entries.values())


#: The process's prefix cache.
CACHE = Cache()


@dataclass
class Composed:
    """What :func:`prepare` makes of a source: the text to read and compile, its directives
    (with ``user`` already known for those of a prefix used before) and the API's files."""

    text: str
    directives: constants.Directives
    api_files: tuple
    files: tuple  # the files the prefix came from (the body's are the source's)


def prepare(source, settings, back, api=()):
    """The source as :func:`cx.build.steps.prepare` would read and compile it, from the prefix
    cache; None when the cache cannot serve it (the source is then compiled whole)."""
    if CACHE.max_bytes <= 0:
        return None
    parts = split(source)
    if parts is None:
        return None
    prefix, body, body_line = parts
    if _refused(body):
        return None
    key = (prefix, tuple(map(str, settings.include_dirs)), tuple(sorted(settings.defines.items())),
           tuple(settings.options), tuple(api), os.getcwd(), back.__name__)
    entry = CACHE.get(key)
    if entry is None:  # the prefix and this body in one pass; the whole prefix compiled (its index is
        made = _preprocess_prefix(prefix, settings, back, api, body, body_line)  # made at its next use)
        if made is None:
            return None
        entry, body_text = made
        if entry.files is not None:
            CACHE.put(key, entry)
        plain, body_directives = constants.split_directives(body_text)
        shift = len(entry.text) + 1
        return Composed(entry.text + "\n" + plain, entry.directives + body_directives.shifted(shift),
                        entry.api_files, entry.sources)
    index, known, directive_words = entry.prepared(back)
    CACHE.fit()
    body_text = _preprocess_body(body, body_line, settings, back, _replay(entry, body))
    if body_text is None:
        return None
    plain, body_directives = constants.split_directives(body_text)
    picked = index.needed(select.words(plain), directive_words)
    head = entry.text if picked is None else index.compose(picked)
    shift = len(head) + 1
    directives = constants.Directives(lambda: known) + body_directives.shifted(shift, user=True)
    return Composed(head + "\n" + plain, directives, entry.api_files, entry.sources)


def _preprocess_prefix(prefix, settings, back, api, body, body_line):
    """``(entry, body's text)`` from one pass of the preprocessor over the prefix, then the body
    after the sentinel; None on an error (the whole compile reports it)."""
    started = time.time_ns()
    try:
        out = back.preprocess(f'#line 1 "{SOURCE_NAME}"\n' + prefix
                              + f'\n#line {body_line - 1} "{SOURCE_NAME}"\n{_SENTINEL}\n' + body, settings)
    except CompileError:
        return None
    at = out.find(_SENTINEL)
    if at < 0 or out.find(_SENTINEL, at + 1) >= 0:
        return None
    text = out[:at]
    body_text = f'# {body_line} "{back.STRING_FILE}"\n' + out[at + len(_SENTINEL) + 1:]
    plain, directives = constants.split_directives(text)
    files, racy, sources = {}, False, select.files(plain)
    for name in sources:
        try:
            st = os.stat(name)
        except OSError:
            racy = True
            continue
        files[name] = (st.st_mtime_ns, st.st_size)
        racy = racy or st.st_mtime_ns >= started - _RACY_NS
    return _Entry(plain, directives, None if racy else files, _api.files(plain, api, back.system_dirs()),
                  sources), body_text


def _replay(entry, body):
    """The prefix's macros the body uses (through other macros too), as ``#define``/``#undef`` lines."""
    return constants.replay(entry.macros, select.words(body))


def _preprocess_body(body, body_line, settings, back, replay):
    """The body's preprocessed text, after the ``replay`` lines; None on an error."""
    source = replay + f'\n#line {body_line - 1} "{SOURCE_NAME}"\n{_SENTINEL}\n' + body
    try:
        out = back.preprocess(source, settings)
    except CompileError:
        return None
    at = out.find(_SENTINEL)
    if at < 0 or out.find(_SENTINEL, at + 1) >= 0:
        return None
    return f'# {body_line} "{back.STRING_FILE}"\n' + out[at + len(_SENTINEL) + 1:]
