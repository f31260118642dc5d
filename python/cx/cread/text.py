"""Text helpers for reading preprocessed C with pycparser, for :mod:`cx.cread.reader` (private).

The text is the compiler preprocessor's output (directives resolved, macros expanded, comments
gone: :func:`cx.build.steps.prepare`); what is left for Python is what pycparser does not read:

- :func:`gnu` blanks or maps GNU and C11 spellings (``__attribute__((...))``, ``__asm__(...)``,
  ``__restrict``, ``__thread``...), keeping every newline so line numbers stay right;
- :func:`split_top`, :func:`declared_name`, :func:`strip_initializers` and
  :func:`guess_type_names` let :mod:`cx.cread.front` retry a text pycparser refuses, declaration by
  declaration;
- :data:`KEYWORDS` and :func:`rx` (cached regular expressions) are shared with :mod:`cx.cread.view`.

cx has no preprocessor of its own: the compiler's is the only one.
"""

import functools
import re

#: ``re.compile``, cached: patterns compile on first use, not at import.
rx = functools.lru_cache(maxsize=None)(re.compile)

_LITERAL = r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\''
_TOP = _LITERAL + r"|[{}();=]"
_BRACES = _LITERAL + r"|[{}]"
_PARENS = _LITERAL + r"|[()]"
_NESTING = _LITERAL + r"|[()\[\]{}=,;]"
_TOKEN = _LITERAL + r"|[A-Za-z_]\w*|\d[\w.]*|\S"
_GNU = (
    r"\b(__attribute__|__attribute|__declspec|__asm__|__asm|asm|_Alignas|alignas"
    r"|_Static_assert|static_assert|__extension__|__restrict__|__restrict|restrict"
    r"|__inline__|__inline|__thread|thread_local|__const__|__const|__volatile__"
    r"|__volatile|__signed__|__signed|noreturn|alignof|__alignof__)\b"
)
_GNU_MAP = {
    "__extension__": "", "__restrict__": "", "__restrict": "", "restrict": "",
    "__inline__": "inline", "__inline": "inline", "__thread": "_Thread_local",
    "thread_local": "_Thread_local", "__const__": "const", "__const": "const",
    "__volatile__": "volatile", "__volatile": "volatile", "__signed__": "signed",
    "__signed": "signed", "noreturn": "_Noreturn", "alignof": "_Alignof",
    "__alignof__": "_Alignof",
}

#: C keywords (and pycparser's extras): never an unknown type name.
KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for"
    " goto if inline int long register restrict return short signed sizeof static"
    " struct switch typedef union unsigned void volatile while _Bool _Complex _Noreturn"
    " _Thread_local _Static_assert _Atomic _Alignof _Alignas __int128 offsetof".split()
)
# compiled with the module, not at a first cell: rx() finds them in its cache
for _pattern in (_TOP, _BRACES, _PARENS, _NESTING, _TOKEN, _GNU, r"\s*\(", r"\s*;"):
    rx(_pattern)

#: What conditionals may rely on: this is C (never C++) on LP64 Linux.
_QUALIFIERS = frozenset(("const", "volatile", "_Atomic"))
_TAG_KEYWORDS = frozenset(("struct", "union", "enum"))


def _line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def _blank(text):
    """Spaces in place of ``text``, newlines kept."""
    return " " + "\n" * text.count("\n")


def _close_paren(text, pos):
    """Index just past the parenthesis group opening at ``pos``."""
    depth = 0
    for m in rx(_PARENS).finditer(text, pos):
        c = m.group()
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return m.end()
    return len(text)


def gnu(text):
    """Blank or map GNU/C11 spellings pycparser does not read (``__attribute__((...))``,
    ``__asm__(...)``, ``__restrict``, ``_Alignas(...)``...), keeping every newline. Layout
    attributes do not matter here: struct classes are checked against the compiler's own layout
    (:func:`cx.bind.check.checker`)."""
    out, pos = [], 0
    while True:
        m = rx(_GNU).search(text, pos)
        if m is None:
            break
        word = m.group()
        out.append(text[pos:m.start()])
        pos = m.end()
        if word in _GNU_MAP:
            out.append(_GNU_MAP[word])
            continue
        end = pos
        if word.startswith(("asm", "__asm")):
            qualifiers = rx(r"\s*(?:volatile|__volatile__|goto|inline)\b")
            while qualifiers.match(text, end):
                end = qualifiers.match(text, end).end()
        opening = rx(r"\s*\(").match(text, end)
        if opening is None:
            out.append(" ")  # e.g. a lone `asm` identifier: leave a gap
            continue
        end = _close_paren(text, opening.end() - 1)
        removed = text[m.start():end]
        if "static_assert" in word.lower():
            semicolon = rx(r"\s*;").match(text, end)
            end = semicolon.end() if semicolon else end
            removed = text[m.start():end]
        out.append(_blank(removed))
        pos = end
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def _match_brace(text, pos):
    """Index of the ``}`` closing the ``{`` at ``pos`` (len(text) if none)."""
    depth = 0
    for m in rx(_BRACES).finditer(text, pos):
        c = m.group()
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return m.start()
    return len(text)


def split_top(text):
    """Top-level declarations of ``text``.

    Returns
    -------
    list of (start, end, body)
        ``text[start:end]`` is one declaration or definition; ``body`` is the
        ``(open, close)`` index pair of a function body's braces, else None.
        A ``{`` at file scope opens a function body when it follows ``)``
        (or ``;``, as in K&R definitions) and no ``=`` came before it.
    """
    segments, start, pos, parens, initializer = [], 0, 0, 0, False
    while True:
        m = rx(_TOP).search(text, pos)
        if m is None:
            break
        c, pos = m.group(), m.end()
        if c == "(":
            parens += 1
        elif c == ")":
            parens = max(parens - 1, 0)
        elif c == "=" and parens == 0:
            initializer = True
        elif c == ";" and parens == 0:
            segments.append((start, pos, None))
            start, initializer = pos, False
        elif c == "{":
            close = _match_brace(text, m.start())
            before = text[start:m.start()].rstrip()
            previous = before[-1:] if before else (text[:start].rstrip()[-1:] or ";")
            if not initializer and parens == 0 and previous in (")", ";", "}"):
                segments.append((start, min(close + 1, len(text)), (m.start(), close)))
                start, initializer = close + 1, False
            pos = close + 1
    if text[start:].strip():
        segments.append((start, len(text), None))
    return segments


def strip_initializers(text):
    """Drop ``= ...`` initializers at nesting depth 0 of one declaration."""
    out, pos, depth, skipping = [], 0, 0, False
    for m in rx(_NESTING).finditer(text):
        c = m.group()
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0 and c == "=" and not skipping:
            out.append(text[pos:m.start()])
            skipping = True
        elif depth == 0 and c in ",;" and skipping:
            out.append("\n" * text.count("\n", pos, m.start()))
            pos, skipping = m.start(), False
    out.append("\n" * text.count("\n", pos) if skipping else text[pos:])
    return "".join(out)


def declared_name(text, start, end):
    """Best guess at the name ``text[start:end]`` declares, and its line."""
    segment, depth, kept = text[start:end], 0, []
    for ch in segment:  # blank brace contents: fields are not the name
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        kept.append(ch if depth == 0 or ch == "\n" else " ")
    outer = "".join(kept)
    for m in re.finditer(r"([A-Za-z_]\w*)\s*[(\[=;,):]", outer):
        if m.group(1) not in KEYWORDS:
            return m.group(1), _line_of(text, start + m.start(1))
    for m in re.finditer(r"[A-Za-z_]\w*", outer):
        if m.group() not in KEYWORDS:
            return m.group(), _line_of(text, start + m.start())
    first = re.search(r"\S", segment)
    return None, _line_of(text, start + (first.start() if first else 0))


def guess_type_names(text, known):
    """Identifiers used as type names in ``text`` that ``known`` lacks.

    An identifier counts when another identifier, a qualifier or ``*``
    follows it outside expressions (initializers, array sizes, bit widths),
    and it does not follow ``struct``/``union``/``enum``.
    """
    tokens = rx(_TOKEN).findall(text)
    found, depth, expression = set(), 0, None
    for i, tok in enumerate(tokens):
        if tok in "([{":
            depth += 1
            if tok == "[" and expression is None:
                expression = depth
        elif tok in ")]}":
            depth -= 1
            if expression is not None and depth < expression:
                expression = None
        elif tok in ("=", ":") and expression is None:
            expression = depth
        elif tok in (",", ";") and expression == depth:
            expression = None
        if expression is not None or not (tok[0].isalpha() or tok[0] == "_"):
            continue
        if tok in KEYWORDS or tok in known or (i and tokens[i - 1] in _TAG_KEYWORDS):
            continue
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if following == "*" or following in _QUALIFIERS or (
                following[:1].isalpha() or following[:1] == "_") and following not in KEYWORDS:
            found.add(tok)
    return found


# ------------------------------------------------------------------------------------------
# What the headers a cell includes would declare (LP64 Linux: x86_64, aarch64)
