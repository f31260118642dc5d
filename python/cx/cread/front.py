"""From preprocessed C text to pycparser nodes, for :mod:`cx.cread.reader` (private).

:func:`read` parses declarations the compiler's preprocessor wrote (after :func:`cx.cread.text.gnu`).
Simple function prototypes (builtin scalar types, header typedefs, pointers; nothing else) are
read by a strict tokenizer
(:func:`fast_function`) into the same pycparser nodes pycparser would build; everything else goes
to pycparser. Type names the cell uses without defining them are declared to pycparser as
typedefs first: header names the caller knows, names :func:`cx.cread.text.guess_type_names` finds, and
names found at a parse error (bounded retries). If the text still fails, each top-level
declaration is parsed alone, and those that fail are left out with a warning.
"""

import re
import threading
from collections import OrderedDict

# imported with cx, not at the first cell: 7 ms of a first compile that costs ~10 (its lexer's
# regular expressions), against ~85 ms for importing cx (numpy) anyway
from pycparser import c_ast as ast, c_parser
from pycparser.c_parser import Coord

try:  # pycparser's lexer reads `#line N` with this pattern, compiled at its first use: compile it
    from pycparser.c_lexer import _decimal_constant  # with cx (re's cache keeps it), not at a first cell
    re.compile(_decimal_constant)
except (ImportError, TypeError, re.error):  # another pycparser: nothing to do
    pass

from .text import KEYWORDS, declared_name, guess_type_names, rx, split_top, strip_initializers

#: canonical scalar -> typedef names of that type.
HEADER_SCALARS = {
    "signed char": "int8_t int_least8_t int_fast8_t",
    "short": "int16_t int_least16_t",
    "int": "int32_t int_least32_t wchar_t pid_t sig_atomic_t clockid_t key_t",
    "long": "int64_t int_least64_t int_fast16_t int_fast32_t int_fast64_t intmax_t intptr_t"
            " ssize_t ptrdiff_t off_t off64_t time_t clock_t suseconds_t",
    "unsigned char": "uint8_t uint_least8_t uint_fast8_t",
    "unsigned short": "uint16_t uint_least16_t char16_t ushort",
    "unsigned int": "uint32_t uint_least32_t char32_t wint_t uid_t gid_t mode_t id_t uint"
                    " useconds_t socklen_t",
    "unsigned long": "uint64_t uint_least64_t uint_fast16_t uint_fast32_t uint_fast64_t"
                     " uintmax_t uintptr_t size_t dev_t ino_t pthread_t thrd_t ulong",
    "float": "float_t", "double": "double_t", "_Bool": "bool",
}
#: canonical scalar -> atomic typedef names (stdatomic.h).
HEADER_ATOMICS = {
    "_Bool": "atomic_bool", "char": "atomic_char", "signed char": "atomic_schar",
    "unsigned char": "atomic_uchar", "short": "atomic_short", "unsigned short":
    "atomic_ushort atomic_char16_t", "int": "atomic_int atomic_wchar_t",
    "unsigned int": "atomic_uint atomic_char32_t", "long": "atomic_long atomic_intptr_t"
    " atomic_ptrdiff_t atomic_intmax_t", "unsigned long": "atomic_ulong atomic_uintptr_t"
    " atomic_size_t atomic_uintmax_t", "long long": "atomic_llong",
    "unsigned long long": "atomic_ullong",
}
#: header types used only through pointers or by name.
HEADER_OPAQUE = ("FILE va_list __builtin_va_list __gnuc_va_list jmp_buf sigjmp_buf fpos_t"
                 " mbstate_t div_t ldiv_t lldiv_t DIR pthread_mutex_t pthread_cond_t"
                 " pthread_attr_t pthread_rwlock_t sem_t mtx_t cnd_t once_flag sigset_t"
                 " atomic_flag max_align_t regex_t locale_t")
_ESCAPES = {"n": 10, "t": 9, "r": 13, "0": 0, "a": 7, "b": 8, "f": 12, "v": 11, "e": 27}


def int_literal(kind, text):
    """Value of a C integer or character literal (pycparser's ``Constant``), None for
    other kinds."""
    if kind == "char":
        body = text[text.index("'") + 1:-1]
        if not body.startswith("\\"):
            return ord(body[0])
        code = body[1:]
        if code[0] == "x":
            return int(code[1:], 16)
        if code[0] in "01234567":
            return int(code, 8)
        return _ESCAPES.get(code, ord(code[0]))
    if kind in ("float", "double", "long double", "string"):
        return None
    digits = text.rstrip("uUlL")
    if digits[:2] in ("0x", "0X"):
        return int(digits[2:], 16)
    if digits[:2] in ("0b", "0B"):
        return int(digits[2:], 2)
    return int(digits, 8) if len(digits) > 1 and digits[0] == "0" else int(digits)


# ------------------------------------------------------------------------------------------
# Running pycparser: unknown type names, then one declaration at a time

_MAX_RETRIES = 8
_ERROR_AT = r":(\d+):(\d+):"


def pycparser():
    """pycparser's ``c_parser`` module."""
    return c_parser


def parse_with(text, types, line=1):
    """pycparser's nodes for ``text`` (starting on ``line``), ``types`` declared first as
    typedef names."""
    prelude = "".join(f"typedef int {name};" for name in sorted(types))
    if prelude or line != 1:
        text = f"{prelude}\n#line {line}\n{text}"
    return pycparser().CParser().parse(text).ext[len(types):]


def _words(text):
    return set(re.findall(r"[A-Za-z_]\w*", text))


def _unnamed_untyped(nodes):
    """Names in parameter lists read as K&R identifier lists where none can be:
    ``void f(my_t)`` means ``my_t`` is a type. (K&R definitions are skipped.)"""
    found = set()
    stack = [n.decl if type(n).__name__ == "FuncDef" else n for n in nodes
             if getattr(n, "param_decls", None) is None]
    while stack:
        node = stack.pop()
        if type(node).__name__ == "FuncDecl" and node.args is not None:
            for p in node.args.params:
                if type(p).__name__ == "ID":
                    found.add(p.name)
                else:
                    stack.append(p)
        child = getattr(node, "type", None)
        if child is not None and not isinstance(child, str):
            stack.append(child)
        stack.extend(getattr(node, "decls", None) or ())
    return found


def _attempt(text, known, line=1):
    """Parse ``text``, learning unknown type names; returns (nodes, types) or (None, error).

    ``known`` holds type names declared before ``text`` (header and earlier typedefs).
    """
    words = _words(text)
    types = known & words
    types |= guess_type_names(text, types)
    error = None
    for _ in range(_MAX_RETRIES):
        try:
            nodes = parse_with(text, types, line)
        except (AssertionError, IndexError, RecursionError) as exc:
            # pycparser's own consistency checks on malformed input (e.g. "}}}"): the compiler
            # will report the real error; this text simply has no readable declarations.
            return None, f"line {line}: unreadable ({type(exc).__name__})"
        except pycparser().ParseError as exc:
            error = str(exc)
            new = _name_at_error(text, error, types, line)
            if not new:
                return None, error
            types |= new
            continue
        new = _unnamed_untyped(nodes) - types
        if not new:
            return nodes, types
        types |= new
    return None, error


def _name_at_error(text, error, known, first_line=1):
    """The unknown type name pycparser most likely stumbled on, as a set (maybe empty):
    the identifier just before the error (or cast there), or the one at it when a name,
    ``*`` or a qualifier follows (as in ``my_t *p``)."""
    m = rx(_ERROR_AT).search(error)
    lines = text.split("\n")
    index = int(m.group(1)) - first_line if m else -1
    if not 0 <= index < len(lines):
        return set()
    line, column = lines[index], int(m.group(2)) - 1
    before = rx(r"([A-Za-z_]\w*)\s*\)?\s*$").search(line[:column])
    at = rx(r"([A-Za-z_]\w*)\s*(?:\*|const\b|volatile\b|[A-Za-z_])").match(line[column:])
    for candidate in (before and before.group(1), at and at.group(1)):
        if candidate and candidate not in KEYWORDS and candidate not in known:
            return {candidate}
    return set()


def read(text, warnings, header_types, fast=True):
    """All top-level pycparser nodes of cleaned ``text``.

    ``header_types`` are type names the cell may use without defining them. If the whole
    text cannot be read, each top-level declaration is read alone; those that fail are left
    out with a warning appended to ``warnings``.

    With ``fast``, certainly simple function declarations and definitions (see
    :func:`fast_function`) are read without pycparser's parser; the rest of the text, those
    declarations blanked, goes to pycparser, and the nodes are put back in source order. When
    the two could read a name differently (a name of the simple ones is a type name elsewhere,
    or a header type name they use is declared as something else), everything goes to
    pycparser.
    """
    header_types = frozenset(header_types)
    key = (text, header_types, fast) if len(text) <= _READ_MEMO_TEXT else None
    if key is not None:
        with _READ_LOCK:
            known = _READ_MEMO.get(key)
            if known is not None:
                _READ_MEMO.move_to_end(key)
        if known is not None:
            warnings += known[1]
            return list(known[0])
    more = []
    nodes = _read(text, more, header_types, fast)
    warnings += more
    if key is not None:
        with _READ_LOCK:
            _READ_MEMO[key] = (tuple(nodes), tuple(more))
            while len(_READ_MEMO) > _READ_MEMO_SIZE:
                _READ_MEMO.popitem(last=False)
    return nodes


#: What :func:`read` gave for a text (with its type names), for the process: the same header's
#: types read again by a later cell are not parsed again (pycparser takes 0.5 ms for ten lines).
#: The nodes are only read, never changed, by :mod:`cx.cread.reader`. Small texts only (a
#: function's prototype and the types it uses), the least recently used dropped first.
_READ_MEMO, _READ_LOCK = OrderedDict(), threading.Lock()
_READ_MEMO_SIZE, _READ_MEMO_TEXT = 512, 16_384


def _read(text, warnings, header_types, fast):
    if fast:
        got = _read_fast(text, header_types)
        if got is not None:
            nodes, more = got
            warnings += more
            return nodes
    return _read_slow(text, warnings, header_types)[0]


def _read_slow(text, warnings, header_types, segments=None, skip=()):
    """(nodes, type names, segment index of each node or None when read as a whole)."""
    nodes, types = _attempt(text, header_types)
    if nodes is not None:
        return nodes, types, None
    nodes, types, where = [], set(), []
    for index, (start, end, _) in enumerate(split_top(text) if segments is None else segments):
        if index in skip:
            continue
        line = text.count("\n", 0, start) + 1
        segment = text[start:end]
        known = types | _typedef_names(nodes) | header_types
        got, more = _attempt(segment, known, line)
        if got is None and "=" in segment:
            got, more = _attempt(strip_initializers(segment), known, line)
            if got is not None:
                name, at = declared_name(text, start, end)
                warnings.append(f"line {at}: could not read the initializer of '{name}'; it is"
                                " ignored (an array declared with [] then has no length)")
        if got is None:
            name, at = declared_name(text, start, end)
            what = f"the declaration of '{name}'" if name else "a declaration"
            reason = rx(_ERROR_AT).sub("", more or "").strip(": ")
            warnings.append(f"line {at}: could not read {what} ({reason}); it is left out")
            continue
        nodes += got
        where += [index] * len(got)
        types |= more
    return nodes, types, where


def _read_fast(text, header_types):
    """(nodes, warnings) reading simple functions without the parser, or None when the fast
    path does not apply or cannot be sure to match :func:`_read_slow`."""
    segments = split_top(text)
    fast, declared, used = {}, set(), set()
    line, counted = 1, 0
    for index, (start, end, body) in enumerate(segments):
        line += text.count("\n", counted, start)
        counted = start
        got = fast_function(text, start, end, body, line, header_types)
        if got is not None:
            fast[index] = got[0]
            declared |= got[1]
            used |= got[2]
    if not fast:
        return None
    pieces, pos = [], 0
    for index in fast:  # blank the simple ones, keeping every line and column
        start, end, _ = segments[index]
        pieces.append(text[pos:start])
        pieces.append(rx(r"[^\n]").sub(" ", text[start:end]))
        pos = end
    pieces.append(text[pos:])
    rest = "".join(pieces)
    warnings = []
    if rest.isspace() or not rest:
        slow, types, where = [], set(), []
    else:
        slow, types, where = _read_slow(rest, warnings, header_types, segments, fast)
    if declared & (set(types) | _typedef_names(slow)):
        return None
    if used & _words(rest) and used & _ordinary_names(slow):
        return None
    if where is None:
        where = _segment_indices(rest, slow, segments)
        if where is None:
            return None
    if any(index in fast for index in where):
        return None
    order = sorted([(index, 0, n) for index, n in fast.items()]
                   + [(index, k + 1, n) for k, (index, n) in enumerate(zip(where, slow))],
                   key=lambda item: item[:2])
    return [n for _, _, n in order], warnings


def _segment_indices(text, nodes, segments):
    """Index in ``segments`` of each node, by its coordinates; None if one has none."""
    import bisect

    line_starts = [0] + [m.end() for m in rx(r"\n").finditer(text)]
    starts = [start for start, _, _ in segments]
    where = []
    for node in nodes:
        coord = getattr(node, "coord", None)
        if coord is None or coord.column is None or not 0 < coord.line <= len(line_starts):
            return None
        offset = line_starts[coord.line - 1] + coord.column - 1
        where.append(bisect.bisect_right(starts, offset) - 1)
    if where != sorted(where) or (where and where[0] < 0):
        return None
    return where


def _ordinary_names(nodes):
    """Every name declared anywhere in ``nodes`` as an object, function or enumerator."""
    found, stack = set(), list(nodes)
    while stack:
        node = stack.pop()
        if type(node).__name__ in ("Decl", "Enumerator") and node.name:
            found.add(node.name)
        stack.extend(child for _, child in node.children())
    return found


def _typedef_names(nodes):
    return {n.name for n in nodes if type(n).__name__ == "Typedef"}


# ------------------------------------------------------------------------------------------
# Fast path: simple function declarations and definitions read without pycparser's parser

#: Words pycparser reserves besides :data:`KEYWORDS` (never a declared name).
_RESERVED = KEYWORDS | frozenset(("__builtin_va_arg", "_Generic", "_Pragma", "_Alignas",
                                  "_Alignof", "__int128", "offsetof", "_Complex"))
_SIMPLE_WORDS = frozenset("void char short int long float double signed unsigned _Bool".split())
_TAGS = ("struct", "union", "enum")


def _combinations():
    """Every valid multiset of basic type keywords, as sorted tuples."""
    spelled = ["void", "char", "signed char", "unsigned char", "float", "double",
               "long double", "_Bool"]
    for base in ("short", "long", "long long"):
        spelled += [base, f"{base} int", f"signed {base}", f"signed {base} int",
                    f"unsigned {base}", f"unsigned {base} int"]
    spelled += ["int", "signed", "signed int", "unsigned", "unsigned int"]
    return frozenset(tuple(sorted(s.split())) for s in spelled)


_VALID_WORDS = _combinations()
_SIMPLE_SEGMENT = rx(r"[ \t\nA-Za-z0-9_*(),;{}]*")  # ASCII only, as pycparser lexes
_SIMPLE_TOKEN = rx(r"[A-Za-z_]\w*|[*(),;{}]|\S")


def _specifiers(tokens, i, header_types, outer):
    """Read declaration specifiers from ``tokens[i]``: (i, names, quals, storage, funcspec),
    or None when they are not certainly simple."""
    names, quals, storage, funcspec, typedef = [], [], [], [], False
    while i < len(tokens):
        tok = tokens[i]
        if tok in _SIMPLE_WORDS:
            if typedef:
                return None
            names.append(tok)
        elif tok in ("const", "volatile"):
            quals.append(tok)
        elif outer and tok in ("static", "extern"):
            if storage:
                return None
            storage.append(tok)
        elif outer and tok == "inline":
            if funcspec:
                return None
            funcspec.append(tok)
        elif tok in header_types and tok not in _RESERVED:
            if typedef or names:
                return None
            names.append(tok)
            typedef = True
        elif tok in _TAGS and i + 1 < len(tokens) and _simple_name(tokens, i + 1, ()) is not None:
            if typedef or names:
                return None
            names += [tok, tokens[i + 1]]  # struct/union/enum TAG, without a body
            typedef = True
            i += 1
        else:
            break
        i += 1
    if not names or not typedef and tuple(sorted(names)) not in _VALID_WORDS:
        return None
    return i, names, quals, storage, funcspec


def _stars(tokens, i):
    """Pointer levels from ``tokens[i]``: (i, list of qualifier lists, innermost first)."""
    stars = []
    while i < len(tokens) and tokens[i] == "*":
        i += 1
        quals = []
        while i < len(tokens) and tokens[i] in ("const", "volatile"):
            quals.append(tokens[i])
            i += 1
        stars.append(quals)
    return i, stars


def _declarator_type(ast, names, quals, stars, declname, coord):
    if names[0] in _TAGS:
        # pycparser 3.1 added Enum's underlying_type (C23 `enum E : int`) before coord
        extra = (None,) if names[0] == "enum" and "underlying_type" in ast.Enum.__slots__ else ()
        base = getattr(ast, names[0].capitalize())(names[1], None, *extra, coord=coord)
    else:
        base = ast.IdentifierType(list(names), coord)
    node = ast.TypeDecl(declname, list(quals), None, base, coord)
    for level in stars:
        node = ast.PtrDecl(list(level), node, coord)
    return node


def _simple_name(tokens, i, header_types):
    tok = tokens[i] if i < len(tokens) else ""
    if (tok[:1].isalpha() or tok[:1] == "_") and tok not in _RESERVED \
            and tok not in header_types:
        return tok
    return None


def fast_function(text, start, end, body, line, header_types):
    """pycparser's node for a certainly simple function declaration or definition at
    ``text[start:end]`` whose text starts on ``line``, or None.

    Simple: optional ``static``/``extern``/``inline``, basic type keywords or one header type
    name, ``const``/``volatile``, pointer stars, a name, and a parameter list of the same kind
    of types (or ``void``, or empty); then ``;`` or a (blanked) body.

    Returns
    -------
    (node, names declared, header type names used) or None
    """
    segment = text[start:end]
    if not _SIMPLE_SEGMENT.fullmatch(segment):
        return None
    tokens = _SIMPLE_TOKEN.findall(segment)
    if body is not None:
        if len(tokens) < 2 or tokens[-2] != "{" or tokens[-1] != "}":
            return None
        tokens = tokens[:-2]
    elif not tokens or tokens[-1] != ";":
        return None
    else:
        tokens = tokens[:-1]
    got = _specifiers(tokens, 0, header_types, True)
    if got is None:
        return None
    i, names, quals, storage, funcspec = got
    i, stars = _stars(tokens, i)
    name = _simple_name(tokens, i, header_types)
    if name is None:
        return None
    i += 1
    if i >= len(tokens) or tokens[i] != "(":
        return None
    # only specifiers and stars come before the name, so the first "(" follows it
    coord = Coord("", line + segment.count("\n", 0, len(segment[:segment.index("(")].rstrip())))
    declared, used = {name}, {n for n in names if n not in _SIMPLE_WORDS and names[0] not in _TAGS}
    i += 1
    if i < len(tokens) and tokens[i] == ")":
        args = None
    elif i + 1 < len(tokens) and tokens[i] == "void" and tokens[i + 1] == ")":
        void = ast.TypeDecl(None, [], None, ast.IdentifierType(["void"], coord), coord)
        args = ast.ParamList([ast.Typename(None, [], None, void, coord)], coord)
        i += 1
    else:
        params = []
        while True:
            got = _specifiers(tokens, i, header_types, False)
            if got is None:
                return None
            i, p_names, p_quals, _, _ = got
            i, p_stars = _stars(tokens, i)
            if p_names == ["void"] and not p_stars:
                return None
            used.update(n for n in p_names if n not in _SIMPLE_WORDS and p_names[0] not in _TAGS)
            p_name = _simple_name(tokens, i, header_types)
            if p_name is not None:
                i += 1
                declared.add(p_name)
            p_type = _declarator_type(ast, p_names, p_quals, p_stars, p_name, coord)
            if p_name is None:
                params.append(ast.Typename(None, list(p_quals), None, p_type, coord))
            else:
                params.append(ast.Decl(p_name, list(p_quals), [], [], [], p_type, None, None,
                                       coord))
            if i < len(tokens) and tokens[i] == ",":
                i += 1
                continue
            if i < len(tokens) and tokens[i] == ")":
                break
            return None
        args = ast.ParamList(params, coord)
    if i + 1 != len(tokens) or tokens[i] != ")":
        return None
    result = _declarator_type(ast, names, quals, stars, name, coord)
    decl = ast.Decl(name, list(quals), [], storage, funcspec, ast.FuncDecl(args, result, coord),
                    None, None, coord)
    if body is not None:
        decl = ast.FuncDef(decl, None, ast.Compound(None, coord), coord)
    return decl, declared, used
