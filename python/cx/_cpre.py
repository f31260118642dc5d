"""From a cell's text to text pycparser reads, for :mod:`cx.decls` (private).

:func:`clean` turns a notebook cell into text that pycparser reads quickly,
without running a C preprocessor and without reading any header:

1. line continuations are spliced (the removed newlines are put back after
   the logical line, so every later line keeps its number);
2. comments become blanks (their newlines are kept);
3. directive lines are blanked; object-like ``#define`` macros are collected;
   ``#if``/``#ifdef``/``#ifndef``/``#elif``/``#else`` are followed when the
   condition depends only on literals and macros the cell itself defines or
   undefines, otherwise the first branch is kept and later branches dropped;
4. GNU and C11 spellings pycparser does not know are blanked or mapped
   (``__attribute__((...))``, ``__asm__(...)``, ``__restrict``, ``__thread``...);
5. function bodies become ``{}`` (only their newlines are kept), found by
   top-level brace matching that skips string and character literals;
6. object-like macros are expanded in what is left.

Every step keeps the number of lines, so pycparser's line numbers are the
cell's line numbers.

:func:`cx._cfront.read` then parses the text.
"""

import functools
import re

#: ``re.compile``, cached: patterns compile on first use, not at import.
rx = functools.lru_cache(maxsize=None)(re.compile)

_LITERAL = r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\''
_COMMENT_OR_LITERAL = r"(?s://[^\n]*|/\*.*?(?:\*/|\Z))|" + _LITERAL
_IDENT_OR_LITERAL = _LITERAL + r"|[A-Za-z_]\w*"
_TOP = _LITERAL + r"|[{}();=]"
_BRACES = _LITERAL + r"|[{}]"
_PARENS = _LITERAL + r"|[()]"
_NESTING = _LITERAL + r"|[()\[\]{}=,;]"
_TOKEN = _LITERAL + r"|[A-Za-z_]\w*|\d[\w.]*|\S"
_DEFINED = r"\bdefined\s*(?:\(\s*([A-Za-z_]\w*)\s*\)|([A-Za-z_]\w*))"
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
_LAYOUT_ATTRIBUTE = r"\b(?:__)?(packed|aligned)(?:__)?\b"

#: C keywords (and pycparser's extras): never an unknown type name.
KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for"
    " goto if inline int long register restrict return short signed sizeof static"
    " struct switch typedef union unsigned void volatile while _Bool _Complex _Noreturn"
    " _Thread_local _Static_assert _Atomic _Alignof _Alignas __int128 offsetof".split()
)
#: What conditionals may rely on: this is C (never C++) on LP64 Linux.
_PREDEFINED = {"__STDC__": "1", "__linux__": "1", "__LP64__": "1"}
_UNDEFINED = frozenset(("__cplusplus",))
_QUALIFIERS = frozenset(("const", "volatile", "_Atomic"))
_TAG_KEYWORDS = frozenset(("struct", "union", "enum"))


def _line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def _blank(text):
    """Spaces in place of ``text``, newlines kept."""
    return " " + "\n" * text.count("\n")


def splice(text):
    """Join backslash-continued lines, keeping the line count."""
    text = text.replace("\r\n", "\n")
    if "\\\n" not in text:
        return text
    out, pending, carry = [], 0, ""
    for line in text.split("\n"):
        if line.endswith("\\"):
            carry += line[:-1]
            pending += 1
            continue
        out.append(carry + line)
        out.extend([""] * pending)
        carry, pending = "", 0
    if pending:
        out.append(carry)
        out.extend([""] * (pending - 1))
    return "\n".join(out)


def strip_comments(text):
    """Blank out comments; string and character literals are left alone."""
    if "/" not in text:
        return text
    return rx(_COMMENT_OR_LITERAL).sub(
        lambda m: _blank(m.group()) if m.group()[0] == "/" else m.group(), text)


def expand(text, macros, _active=frozenset()):
    """Expand object-like ``macros`` (name -> replacement text) in ``text``."""
    if not macros:
        return text

    def one(m):
        word = m.group()
        value = macros.get(word)
        if value is None or word in _active:
            return word
        return expand(value, macros, _active | {word})

    return rx(_IDENT_OR_LITERAL).sub(one, text)


def directives(text, if_value):
    """Blank directive lines and dropped conditional branches.

    Parameters
    ----------
    text : str
        Comment-free source.
    if_value : callable
        ``if_value(expression) -> int | None`` evaluates a macro-expanded
        ``#if`` expression, None when it cannot.

    Returns
    -------
    (str, dict)
        The text and the object-like macros (name -> replacement text).
    """
    macros = {}
    if "#" not in text:
        return text, macros
    known_undefined = set(_UNDEFINED)
    lines = text.split("\n")
    stack = []  # (parent active, some branch taken)
    active = True

    def condition(kind, rest):
        visible = {**_PREDEFINED, **macros}
        if kind in ("ifdef", "ifndef"):
            name = rest.split()[0] if rest.split() else ""
            if name not in visible and name not in known_undefined:
                return None
            return (name in visible) == (kind == "ifdef")
        unknown = []

        def defined(m):
            name = m.group(1) or m.group(2)
            if name not in visible and name not in known_undefined:
                unknown.append(name)
            return "1" if name in visible else "0"

        expression = expand(rx(_DEFINED).sub(defined, rest), visible)
        if unknown or not expression.strip():
            return None
        value = if_value(expression)
        return None if value is None else bool(value)

    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if not stripped.startswith("#"):
            if not active:
                lines[i] = ""
            continue
        lines[i] = ""
        words = stripped[1:].lstrip()
        match = re.match(r"(\w*)(.*)", words)
        kind, rest = match.group(1), match.group(2).strip()
        if kind in ("if", "ifdef", "ifndef"):
            taken = active and condition(kind, rest) is not False
            stack.append((active, taken))
            active = taken
        elif kind == "elif" and stack:
            parent, taken = stack[-1]
            active = parent and not taken and condition("if", rest) is not False
            stack[-1] = (parent, taken or active)
        elif kind == "else" and stack:
            parent, taken = stack[-1]
            active = parent and not taken
            stack[-1] = (parent, True)
        elif kind == "endif" and stack:
            active = stack.pop()[0]
        elif active and kind == "define":
            m = re.match(r"([A-Za-z_]\w*)(\()?", rest)
            if m and m.group(2):
                macros.pop(m.group(1), None)  # function-like: dropped
            elif m:
                macros[m.group(1)] = rest[m.end():].strip()
                known_undefined.discard(m.group(1))
        elif active and kind == "undef" and rest:
            macros.pop(rest.split()[0], None)
            known_undefined.add(rest.split()[0])
    return "\n".join(lines), macros


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


def gnu(text, warnings):
    """Blank or map GNU/C11 spellings pycparser does not read.

    Layout attributes (``packed``, ``aligned``, ``_Alignas``) are dropped with
    a warning appended to ``warnings``.
    """
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
        layout = rx(_LAYOUT_ATTRIBUTE).search(removed) if "attribute" in word else None
        if layout or "lignas" in word:
            what = f"__attribute__(({layout.group(1)}))" if layout else "_Alignas"
            warnings.append(f"line {_line_of(text, m.start())}: {what} is ignored;"
                            " struct layouts read from this cell assume natural alignment")
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


def blank_bodies(text):
    """Replace every function body by ``{}`` plus its newlines."""
    out, pos = [], 0
    for _, _, body in split_top(text):
        if body is not None:
            opening, close = body
            out.append(text[pos:opening + 1])
            out.append("\n" * text.count("\n", opening, close) + "}")
            pos = close + 1
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


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


def clean(source, if_value):
    """Run every step on a cell.

    Parameters
    ----------
    source : str
        The cell.
    if_value : callable
        Evaluates ``#if`` expressions (see :func:`directives`).

    Returns
    -------
    (str, list of str)
        Text for pycparser (same line count as ``source``) and warnings.
    """
    warnings = []
    text = strip_comments(splice(source))
    text, macros = directives(text, if_value)
    text = blank_bodies(gnu(text, warnings))
    if macros:
        expanded = expand(text, macros)
        if expanded != text:
            text = gnu(expanded, warnings)
    return text, warnings


# ------------------------------------------------------------------------------------------
# What the headers a cell includes would declare (LP64 Linux: x86_64, aarch64)
