"""``_Thread_local`` for TinyCC, which has none: a source rewrite backed by libjit's TLS (libjit/tls.c).

TinyCC reports "_Thread_local is not implemented" (and ``__thread`` is a syntax error). cx rewrites
every thread-local variable of a cell before compiling it, the way glibc makes ``errno`` thread-local
(``#define errno (*__errno_location())``)::

    static _Thread_local char buf[1024] = "x";        /* what the user wrote */
    ... buf[i] ...

    static __cx_thread_local char __cx_tls_buf[1024] = "x";      /* the template: initial value */
    #define __CX_TLS_buf_0 __CX_TLS(&__cx_tls_keys[0], __cx_tls_buf)
    #line 2
    ... __CX_TLS_buf_0[i] ...

Under TinyCC ``__cx_thread_local`` is empty and ``__CX_TLS(key, template)`` is
``(*(T *)__cx_tls_get(key, &template, sizeof template, _Alignof(T)))``: the calling thread's own copy,
made from the template on the thread's first access, freed when the thread exits or the module is
freed. Under any other compiler (the ``cc`` backend) the same text means a native ``_Thread_local``.

- Every use keeps its meaning: ``buf[i]``, ``buf`` decaying to ``char *``, ``&buf``, ``sizeof buf``,
  ``s.field`` of a struct, assignment, ``++``. Each use costs a call (about 1.2 ns; hoist
  ``char *b = buf;`` out of a hot loop).
- Only the uses the scanner attributes to the variable are replaced: not a member name (``p->buf``,
  ``.buf =``, a field declaration), not a parameter or local of the same name (from its declaration
  to the end of its block), not a label. ``#define`` bodies are rewritten too, and so are
  declarations spelled with a macro the cell defines as a specifier (``#define TLS _Thread_local``).
- Each variable's uses go through a macro of its own, defined as the plain name at the top of the
  unit and redefined right after the declaration: a declaration that ``#if`` leaves out leaves the
  uses meaning whatever else the name means there.
- Block-scope ``static _Thread_local`` variables are supported (each function's own); a block-scope
  ``_Thread_local`` without ``static``/``extern`` is a compile error, as in C.
- Lines never move: uses are replaced within their line, and the directives inserted after a
  declaration are followed by ``#line``, so compiler messages keep the cell's line numbers.
- A non-static file-scope variable ``v`` gets a named key and an accessor ``__cx_tls_addr_v`` so that
  Python (``lib.v``: the calling thread's copy) and later modules (``extern _Thread_local``, ``link=``)
  reach it.
"""
from __future__ import annotations

import bisect
import ctypes
import re

from . import libjit as _libjit
from ..errors import CxError

__all__ = ["PRELUDE", "SPECIFIERS", "rewrite", "address", "link_names"]

#: The storage-class spellings of thread-local: C11, GNU, and <threads.h>'s (C23's) macro.
SPECIFIERS = ("_Thread_local", "__thread", "thread_local")


def _has_word(text, word):
    """Whether ``word`` occurs in ``text`` as a whole identifier (str.find: fast on megabytes)."""
    at = text.find(word)
    while at >= 0:
        end = at + len(word)
        if (at == 0 or not (text[at - 1].isalnum() or text[at - 1] == "_")) and \
                (end == len(text) or not (text[end].isalnum() or text[end] == "_")):
            return True
        at = text.find(word, end)
    return False

#: Definitions the rewritten text relies on (part of :data:`cx.build.unit.PRELUDE`). The key struct is
#: libjit's (declared once, in :mod:`cx.build.libjit`, and checked against libjit's when it loads).
PRELUDE = _libjit.TLS_KEY_DECL + r"""
#ifdef __TINYC__
void *__cx_tls_get(struct __cx_tls_key *, const void *, unsigned long, unsigned long);
void __cx_tls_release(struct __cx_tls_key *, unsigned long);
#define __cx_thread_local
#define __CX_TLS(key, var) \
    (*(__typeof__(var) *)__cx_tls_get(key, &(var), sizeof(var), _Alignof(__typeof__(var))))
#else
#define __cx_thread_local _Thread_local
#define __CX_TLS(key, var) (var)
#endif
"""

_TEMPLATE = "__cx_tls_{}"  # the renamed variable: holds the initial value of every thread's copy
_KEY = "__cx_tls_key_{}"  # the key of a variable with external linkage (shared across modules)
_ADDRESS = "__cx_tls_addr_{}"  # void *(void): the calling thread's copy (for Python)
_KEYS = "__cx_tls_keys"  # the keys of static and block-scope variables: an array

_LEX = re.compile(r"""
    (?P<nl>\n)
  | (?P<ws>(?:[ \t\r\f\v]|\\\r?\n)+)
  | (?P<comment>//(?:\\\r?\n|[^\n])*|/\*.*?(?:\*/|\Z))
  | (?P<lit>(?:u8|[uUL])?(?:"(?:\\.|[^"\\\n])*"?|'(?:\\.|[^'\\\n])*'?))
  | (?P<ident>[A-Za-z_$][\w$]*)
  | (?P<num>\.?[0-9](?:[eEpP][+-]|[\w.])*)
  | (?P<punct>->|\.\.\.|\#\#|<<=|>>=|[-+*/%&|^<>=!]=|&&|\|\||\+\+|--|<<|>>|\S)
""", re.S | re.X)

_STORAGE = frozenset("typedef extern static auto register".split())
_QUALIFIERS = frozenset("const volatile restrict __restrict __restrict__ __const __const__ __volatile"
                        " __volatile__ _Nonnull _Nullable".split())
_FUNCTION_SPECIFIERS = frozenset("inline __inline __inline__ _Noreturn noreturn __extension__".split())
_TYPE_WORDS = frozenset("void char short int long float double signed unsigned _Bool _Complex __int128"
                        " __signed __signed__".split())
_GROUPED = frozenset("__attribute__ __attribute __declspec _Alignas alignas __asm__ __asm asm".split())
_TYPEOF = frozenset("typeof __typeof__ __typeof typeof_unqual".split())
_TAGS = frozenset(("struct", "union", "enum"))
_STATEMENT_WORDS = frozenset("return sizeof case default goto break continue if else while do for switch"
                             " _Alignof alignof __alignof__ _Generic _Static_assert static_assert"
                             " __builtin_offsetof offsetof".split())
_NOT_A_NAME = (_STORAGE | _QUALIFIERS | _FUNCTION_SPECIFIERS | _TYPE_WORDS | _GROUPED | _TYPEOF | _TAGS
               | _STATEMENT_WORDS | frozenset(SPECIFIERS) | {"_Atomic"})


class _Token:
    __slots__ = ("kind", "text", "start", "end")

    def __init__(self, kind, text, start, end):
        self.kind, self.text, self.start, self.end = kind, text, start, end

    def __repr__(self):
        return f"{self.text!r}@{self.start}"


def _lex(source):
    """Code tokens and directives (each a list of tokens, ``#`` first) of ``source``."""
    code, directives, current, line_start = [], [], None, True
    for m in _LEX.finditer(source):
        kind = m.lastgroup
        if kind == "nl":
            current, line_start = None, True
            continue
        if kind in ("ws", "comment"):
            if kind == "comment" and "\n" in m.group() and current is None:
                line_start = m.group().startswith("//")
            continue
        token = _Token(kind, m.group(), m.start(), m.end())
        if current is not None:
            current.append(token)
        elif line_start and token.text == "#":
            current = [token]
            directives.append(current)
        else:
            code.append(token)
        line_start = False
    return code, directives


def _matches(tokens):
    """index of an opening ( [ { -> index of its closing partner (len(tokens) if unclosed)."""
    pairs, stack = {}, []
    closing = {")": "(", "]": "[", "}": "{"}
    for i, t in enumerate(tokens):
        if t.text in "([{" and t.kind == "punct":
            stack.append(i)
        elif t.text in closing and t.kind == "punct":
            while stack and tokens[stack[-1]].text != closing[t.text]:
                pairs[stack.pop()] = i  # unbalanced: close what is open
            if stack:
                pairs[stack.pop()] = i
    for i in stack:
        pairs[i] = len(tokens)
    return pairs


class _Variable:
    """One thread-local variable of the cell.

    Its uses become the macro :attr:`use`, defined as the plain name at the top of the unit and
    redefined as the accessor right after the declaration: so if a conditional (``#ifdef``)
    leaves the declaration out, the uses mean whatever else the name means there.
    """

    def __init__(self, number, name, key, linkage):
        self.number = number
        self.name = name
        self.key = key  # C expression: the key's address
        self.linkage = linkage  # "static", "external" (defined here) or "extern" (defined elsewhere)
        self.use = f"__CX_TLS_{name}_{number}"
        self.release = f"__CX_TLS_RELEASE_{number}"  # what the module's destructor runs for it
        self.defined = f"__CX_TLS_DEFINED_{number}"

    def directives(self):
        """What follows the declaration: the uses' meaning, and what the destructor must free."""
        lines = [f"#undef {self.use}",
                 f"#define {self.use} __CX_TLS({self.key}, {_TEMPLATE.format(self.name)})"]
        if self.linkage == "external":
            lines += [f"#undef {self.release}", f"#define {self.release} __cx_tls_release({self.key}, 1);",
                      f"#define {self.defined} 1"]
        return lines


class _Scanner:
    """Finds thread-local declarations, the uses of each, and what shadows them."""

    def __init__(self, source):
        self.source = source
        self.tokens, self.directives = _lex(source)
        self.opening = None  # ')' index -> '(' index, built on first use
        self.newlines = None  # offsets of the source's newlines, built on first use
        self.match = _matches(self.tokens)
        self.edits = []  # (start, end, text)
        self.uses = {}  # name -> [(offset, token)]
        self.scopes = {}  # name -> [(start offset, end offset, _Variable or None)]
        self.variables = {}  # (scope id, name) -> _Variable
        self.keys = 0  # entries of the keys array
        self.specifier_words = set(SPECIFIERS) | self.specifier_macros()

    # -- helpers --------------------------------------------------------------------------------
    def text(self, i):
        return self.tokens[i].text if i < len(self.tokens) else ""

    def close(self, i):
        return self.match.get(i, len(self.tokens))

    def end_offset(self, i):
        return self.tokens[i].start if i < len(self.tokens) else len(self.source)

    def specifiers(self, i, hi):
        """Skip declaration specifiers from ``i``: (next index, whether they make a declaration,
        index of the thread-local specifier or None, storage-class words). A struct, union or enum
        body among them is skipped whole: its member names are not uses."""
        typed, tls, storage = False, None, set()
        while i < hi:
            t = self.tokens[i]
            word = t.text
            if word in self.specifier_words:
                tls = i
            elif word in _STORAGE:
                storage.add(word)
            elif word in _QUALIFIERS or word in _FUNCTION_SPECIFIERS:
                pass
            elif word in _TYPE_WORDS:
                typed = True
            elif word in _GROUPED or word in _TYPEOF or word == "_Atomic":
                if self.text(i + 1) == "(":
                    typed = typed or word in _TYPEOF or word == "_Atomic"
                    i = self.close(i + 1)
            elif word in _TAGS:
                typed = True
                while self.text(i + 1) in _GROUPED and self.text(i + 2) == "(":
                    i = self.close(i + 2)
                if self.text(i + 1) not in ("{", "") and self.tokens[i + 1].kind == "ident":
                    i += 1
                if self.text(i + 1) == "{":
                    i = self.close(i + 1)
            elif t.kind == "ident" and not typed and word not in _NOT_A_NAME:
                following = self.tokens[i + 1] if i + 1 < hi else None
                if following is None or not (following.text == "*" or following.text in _QUALIFIERS or (
                        following.kind == "ident" and following.text not in _STATEMENT_WORDS)):
                    break
                typed = True  # a typedef name: `T x`, `T *p`
            else:
                break
            i += 1
        return i, typed or bool(storage) or tls is not None, tls, storage

    def declarator_name(self, lo, hi):
        """Index of the name a declarator declares (None for an abstract one)."""
        i, hi = lo, min(hi, len(self.tokens))
        while i < hi:
            t = self.tokens[i]
            if t.text in _GROUPED and self.text(i + 1) == "(":
                i = self.close(i + 1) + 1
                continue
            if t.kind == "ident" and t.text not in _NOT_A_NAME:
                return i
            if t.text in ("[", "=", ","):
                return None
            if t.text == "(" and i > lo and self.tokens[i - 1].text not in ("(", "*") \
                    and self.tokens[i - 1].text not in _QUALIFIERS:
                return None  # a parameter list before any name
            i += 1
        return None

    def split(self, lo, hi, separator=","):
        """Ranges of ``[lo, hi)`` between top-level separators."""
        hi = min(hi, len(self.tokens))
        parts, start, i = [], lo, lo
        while i < hi:
            word = self.tokens[i].text
            if word in ("(", "[", "{"):
                i = self.close(i)
            elif word == separator:
                parts.append((start, i))
                start = i + 1
            i += 1
        parts.append((start, hi))
        return parts

    def shadow(self, index, end):
        name = self.tokens[index].text
        self.scopes.setdefault(name, []).append((self.tokens[index].start, end, None))

    def record_use(self, i):
        t = self.tokens[i]
        before = self.text(i - 1) if i else ""
        if before in (".", "->", "goto") or t.text in _NOT_A_NAME:
            return
        self.uses.setdefault(t.text, []).append((t.start, t))

    # -- grammar (just enough) ------------------------------------------------------------------
    def file(self):
        i, n = 0, len(self.tokens)
        while i < n:
            i = self.statement(i, n, None, len(self.source))

    def block(self, lo, hi, scope):
        """The statements of a compound statement ``tokens[lo:hi]`` (``scope``: its '{' index)."""
        end = self.end_offset(hi)
        i = lo
        while i < hi:
            i = self.statement(i, hi, scope, end)

    def statement(self, i, hi, scope, end):
        """One statement (or declaration, at file scope) from ``i``; returns the index after it."""
        t = self.tokens[i]
        word = t.text
        if word == ";":
            return i + 1
        if word == "{":
            self.block(i + 1, self.close(i), i)
            return self.close(i) + 1
        if scope is not None:
            if t.kind == "ident" and self.text(i + 1) == ":" and word not in _NOT_A_NAME:
                return i + 2  # a label
            if word in ("case", "default"):
                j = i + 1
                while j < hi and self.text(j) != ":":
                    j = self.close(j) + 1 if self.text(j) in ("(", "[", "{") else j + 1
                self.expression(i + 1, j)
                return j + 1
            if word in ("else", "do"):
                return i + 1
            if word in ("if", "while", "switch") and self.text(i + 1) == "(":
                self.expression(i + 2, self.close(i + 1))
                return self.close(i + 1) + 1
            if word == "for" and self.text(i + 1) == "(":
                return self.for_statement(i, hi, scope, end)
        if word in ("_Static_assert", "static_assert") and self.text(i + 1) == "(":
            self.expression(i + 2, self.close(i + 1))
            return self.close(i + 1) + 1
        j, declaration, tls, storage = self.specifiers(i, hi)
        if scope is None or (declaration and (j >= hi or self.text(j) in (";", "*", "(")
                                              or self.tokens[j].kind == "ident")):
            return self.declaration(i, j, hi, scope, end, tls, storage)
        return self.expression_statement(i, hi)

    def for_statement(self, i, hi, scope, end):
        paren = i + 1
        close = self.close(paren)
        parts = self.split(paren + 1, close, ";")
        after = close + 1
        if self.text(after) == "{":
            body_end = self.close(after)
        else:
            body_end = after
            while body_end < hi and self.text(body_end) != ";":
                grouped = self.text(body_end) in ("(", "[", "{")
                body_end = self.close(body_end) + 1 if grouped else body_end + 1
        lo, first_end = parts[0]
        j, declaration, tls, storage = self.specifiers(lo, first_end)
        if declaration and j < first_end:
            self.declaration(lo, j, first_end, paren, self.end_offset(body_end), tls, storage)
        else:
            self.expression(lo, first_end)
        for a, b in parts[1:]:
            self.expression(a, b)
        return after

    def expression_statement(self, i, hi):
        j = i
        while j < hi and self.text(j) not in (";", "}"):
            if self.text(j) in ("(", "[", "{"):
                closing = self.close(j)
                self.expression(j, closing + 1)
                j = closing + 1
            else:
                self.expression(j, j + 1)
                j += 1
        return j + 1 if self.text(j) == ";" else max(j, i + 1)

    def expression(self, lo, hi):
        i, hi = lo, min(hi, len(self.tokens))
        while i < hi:
            t = self.tokens[i]
            if t.text == "{" and t.kind == "punct":
                before = self.text(i - 1) if i else ""
                if before == "(":
                    self.block(i + 1, self.close(i), i)  # a statement expression
                elif not (before in _TAGS or (i > 1 and self.text(i - 2) in _TAGS)):
                    self.expression(i + 1, self.close(i))  # an initializer list
                i = self.close(i) + 1
                continue
            if t.kind == "ident":
                self.record_use(i)
            i += 1

    def declaration(self, lo, j, hi, scope, end, tls, storage):
        """A declaration whose declarators start at ``j``; returns the index after it."""
        # its end: ';' at this level, or a function body
        k, body = j, None
        seen_equal = False
        while k < hi:
            word = self.text(k)
            if word == ";":
                break
            if word == "=":
                seen_equal = True
            if word == "{":
                if not seen_equal and k > j and self.text(k - 1) == ")":
                    body = k
                    break
                k = self.close(k)
            elif word in ("(", "["):
                k = self.close(k)
            if word == "}":
                break
            k += 1
        k = min(k, hi, len(self.tokens))
        after_text, after_lines = "", []
        for a, b in self.split(j, k):
            name = self.declarator_name(a, b)
            equal = next((x for x, _ in self.split(a, b, "=")[1:2]), None)
            stop = (equal - 1) if equal is not None else b
            for x in range(a, stop):  # array sizes are expressions
                if self.text(x) == "[":
                    self.expression(x + 1, self.close(x))
            if equal is not None:
                self.expression(equal, b)
            if name is None:
                continue
            function = self.text(name + 1) == "("
            if tls is not None and "typedef" not in storage and not function:
                text, lines = self.thread_local(name, scope, end, storage, k)
                after_text += text
                after_lines += lines
            elif scope is not None:
                self.shadow(name, end)
        if after_lines and k < len(self.tokens):
            self.after(k, after_text, after_lines)
        if tls is not None and "typedef" not in storage:
            self.edits.append((self.tokens[tls].start, self.tokens[tls].end, "__cx_thread_local"))
            if scope is not None and not storage & {"static", "extern"}:
                first = self.tokens[lo].start
                self.edits.append((first, first, '_Static_assert(0, "a _Thread_local variable in a function'
                                                 ' must be static (or extern)"); '))
        if body is not None:
            close = self.close(body)
            for a, b in self.split(self.close_of_open(body - 1) + 1, body - 1):
                jj = self.specifiers(a, b)[0]
                param = self.declarator_name(jj, b)
                if param is not None:
                    self.shadow(param, self.end_offset(close))
            self.block(body + 1, close, body)
            return close + 1
        return k + 1

    def close_of_open(self, closing):
        """Index of the '(' matched by the ')' at ``closing``."""
        if self.opening is None:
            self.opening = {c: o for o, c in self.match.items()}
        return self.opening.get(closing, closing)

    def after(self, k, text, lines):
        """Insert C ``text`` after the token ``k`` (a ';'), then directive ``lines`` on lines of
        their own, then ``#line`` so that the rest of the line keeps its number and column."""
        where = self.tokens[k].end
        if self.newlines is None:
            self.newlines = [m.start() for m in re.finditer("\n", self.source)]
            # line markers ("# 12 \"file\"", #line 12) of preprocessed text: (offset after, line)
            self.markers = [(m.end() + 1, int(m.group(1))) for m in
                            re.finditer(r'(?m)^[ \t]*#[ \t]*(?:line[ \t]+)?(\d+)\b[^\n]*$', self.source)]
            self.marker_offsets = [offset for offset, _ in self.markers]
        line = bisect.bisect_left(self.newlines, where) + 1
        i = bisect.bisect_right(self.marker_offsets, where) - 1
        if i >= 0:  # the line as the compiler counts it: from the last marker
            offset, number = self.markers[i]
            line = number + self.source.count("\n", offset, where)
        rest = self.source.find("\n", where)
        if text:
            self.edits.append((where, where, text))
        if rest >= 0 and not self.source[where:rest].strip():  # the line ends here: after it
            self.edits.append((rest + 1, rest + 1, "\n".join(lines) + f"\n#line {line + 1}\n"))
            return
        column = where - (self.source.rfind("\n", 0, where) + 1)
        self.edits.append((where, where, "\n" + "\n".join(lines) + f"\n#line {line}\n" + " " * column))

    def thread_local(self, name_index, scope, end, storage, last):
        """Record the thread-local declared at ``name_index``; returns (C text to put after the
        declaration's ';', directives to put after that)."""
        token = self.tokens[name_index]
        name = token.text
        external = scope is None and "static" not in storage or "extern" in storage
        key_id = ("file" if scope is None else scope, name)
        variable = self.variables.get(key_id)
        if variable is None:
            number = len(self.variables)
            if external:
                variable = _Variable(number, name, "&" + _KEY.format(name),
                                     "extern" if "extern" in storage else "external")
            else:
                variable = _Variable(number, name, f"&{_KEYS}[{self.keys}]", "static")
                self.keys += 1
            self.variables[key_id] = variable
        elif "extern" not in storage and variable.linkage == "extern":
            variable.linkage = "external"
        self.edits.append((token.start, token.end, _TEMPLATE.format(name)))
        start = self.tokens[last].end if last < len(self.tokens) else len(self.source)
        self.scopes.setdefault(name, []).append((start, end, variable))
        text = ""
        if external:
            text = f" {'extern ' if 'extern' in storage else ''}struct __cx_tls_key {_KEY.format(name)};"
        return text, variable.directives()

    # -- #define bodies -------------------------------------------------------------------------
    def specifier_macros(self):
        """Names the cell defines as a thread-local specifier (``#define TLS _Thread_local``)."""
        return {d[2].text for d in self.directives
                if len(d) == 4 and d[1].text == "define" and d[3].text in SPECIFIERS}

    def macro_uses(self):
        for directive in self.directives:
            if len(directive) < 3 or directive[1].text != "define":
                continue
            body = 3
            params = set()
            if len(directive) > 3 and directive[3].text == "(" and directive[3].start == directive[2].end:
                k = 4
                while k < len(directive) and directive[k].text != ")":
                    params.add(directive[k].text)
                    k += 1
                body = k + 1
            for k in range(body, len(directive)):
                t = directive[k]
                before = directive[k - 1].text
                if t.kind == "ident" and t.text not in params and before not in (".", "->", "#", "##") \
                        and (k + 1 >= len(directive) or directive[k + 1].text != "##"):
                    self.uses.setdefault(t.text, []).append((t.start, t))

    # -- results --------------------------------------------------------------------------------
    def resolve(self):
        """Replace each use by its variable's macro: the innermost scope around it decides (scopes
        nest, so one sweep with a stack finds it)."""
        fallback = {v.name: v for (scope, _), v in self.variables.items() if scope == "file"}
        directive_starts = {t.start for d in self.directives for t in d}
        for name, scopes in self.scopes.items():
            if not any(v is not None for _, _, v in scopes):
                continue
            scopes = sorted(scopes, key=lambda s: (s[0], -s[1]))
            stack, k = [], 0
            for offset, token in sorted(self.uses.get(name, ()), key=lambda u: u[0]):
                while k < len(scopes) and scopes[k][0] <= offset:
                    stack.append(scopes[k])
                    k += 1
                while stack and stack[-1][1] <= offset:
                    stack.pop()
                inner = [s for s in stack[-1:] if s[0] <= offset]
                variable = inner[0][2] if inner else (fallback.get(name) if offset in directive_starts else None)
                if variable is not None:
                    self.edits.append((token.start, token.end, variable.use))


def rewrite(source: str, declarations=None) -> str:
    """The cell ``source`` with every thread-local variable made to work under TinyCC.

    A source without ``_Thread_local``, ``__thread`` or ``thread_local`` is returned unchanged.
    Registered in :data:`cx.build.unit.REWRITES`; ``declarations`` is not needed.
    """
    if not any(_has_word(source, word) for word in SPECIFIERS):
        return source
    scanner = _Scanner(source)
    if not any(t.text in scanner.specifier_words for t in scanner.tokens):
        return source
    scanner.file()
    scanner.macro_uses()
    scanner.resolve()
    out, pos = [], 0
    for start, end, text in sorted(scanner.edits, key=lambda e: (e[0], e[1])):
        if start < pos:
            continue  # an overlap would be a scanner bug; keep the user's text
        out.append(source[pos:start])
        out.append(text)
        pos = end
    out.append(source[pos:])
    variables = list(scanner.variables.values())
    head = [f"#define {v.use} {v.name}" for v in variables]  # until a declaration redefines it
    head += [f"#define {v.release}" for v in variables if v.linkage != "static"]
    releases = [v.release for v in variables if v.linkage != "static"]
    if scanner.keys:
        head += ["#ifdef __TINYC__", f"static struct __cx_tls_key {_KEYS}[{scanner.keys}];", "#endif"]
        releases.insert(0, f"__cx_tls_release({_KEYS}, {scanner.keys});")
    tail = []
    if releases:
        tail += ["#ifdef __TINYC__", "__attribute((destructor)) static void __cx_tls_fini(void)",
                 "{ " + " ".join(releases) + " }", "#endif"]
    for v in variables:
        if v.linkage == "external":
            tail += [f"#ifdef {v.defined}", f"void *{_ADDRESS.format(v.name)}(void) {{ return &{v.use}; }}",
                     "#endif"]
    return "\n".join(head + ["#line 1", "".join(out)]) + '\n#line 1 "<cx-tls>"\n' + "\n".join(tail) + "\n"


def link_names(name: str) -> tuple:
    """The symbols behind the thread-local global ``name``, which a module linking to it needs."""
    return _TEMPLATE.format(name), _KEY.format(name)


def address(code, name: str) -> int:
    """Address of the calling thread's copy of the thread-local global ``name`` of compiled ``code``.

    Each Python thread that reads ``lib.name`` sees its own copy (made on first access).
    """
    accessor = code.sym(_ADDRESS.format(name))
    if not accessor:
        raise CxError(f"'{name}' is _Thread_local but its accessor is missing from the compiled code")
    return ctypes.CFUNCTYPE(ctypes.c_void_p)(accessor)()
