"""The compiler's view of a source, cut down to what its exports need (private, for :mod:`cx.cread.reader`).

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
from .text import KEYWORDS, rx

__all__ = ["View", "Scan", "Chunk", "user_file_rule", "markers"]

_IDENT = r"[A-Za-z_]\w*"
_TAGGED = r"\b(struct|union|enum)\s+([A-Za-z_]\w*)\s*(\{)"
# compiled with the module (not at a first cell): the patterns of every compile's index
_TAGGED_RX, _IDENT_RX = rx(_TAGGED), rx(_IDENT)
_TYPEDEF_WORD, _ANONYMOUS_ENUM = rx(r"\btypedef\b"), rx(r"\benum\s*\{")
_STATIC, _FUNCTION_NAME = rx(r"(?:__extension__\s+)?static\b"), rx(r"([A-Za-z_]\w*)\s*\(")
_PLAIN_TYPEDEF = rx(r"(?:__extension__\s+)?typedef\s+(?:(?:struct|union|enum)\s+)?[A-Za-z_][\w\s]*?\b"
                    r"([A-Za-z_]\w*)\s*;\s*$")
_MARKER_LINE = rx(r"(?m)^#[^\n]*")
_EXTERN = rx(r"\bextern\b")
_MENTION = rx(r"\b(?:(struct|union|enum)\s+)?([A-Za-z_]\w*)")
_GNU_GROUP = r"\b(?:__attribute__|__attribute|__declspec|__asm__|__asm|asm|__typeof__|typeof|_Alignas|__alignof__|_Alignof)\s*\("
_GNU_GROUP_RX, _INLINE = rx(_GNU_GROUP), rx(r"\b(?:inline|__inline|__inline__)\b")
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
    name : str or None
        A function definition's name (read by the scanner).
    static : bool
        A function definition that says ``static``.
    """

    __slots__ = ("start", "end", "body", "file", "segment", "user", "index", "name", "static", "line")

    def __init__(self, start, end, body, file, segment, user, index, name=None, static=False):
        self.start, self.end, self.body = start, end, body
        self.file, self.segment, self.user, self.index = file, segment, user, index
        self.name, self.static = name, static
        self.line = None  # see View.line


class _Chunks:
    """``view.chunks``: the :class:`Chunk` of each index, made on first use from the scanner's
    tuple (a source of 10,000 functions is indexed without making 10,000 objects)."""

    __slots__ = ("_view", "_made")

    def __init__(self, view):
        self._view, self._made = view, [None] * len(view._raw)

    def __len__(self):
        return len(self._made)

    def __getitem__(self, index):
        chunk = self._made[index]
        if chunk is None:
            view = self._view
            start, end, opening, close, name, static, user, _ = view._raw[index]
            segment = bisect.bisect_right(view._offsets, start) - 1
            file = view._segments[segment][1] if segment >= 0 else "<unknown>"
            body = None if opening < 0 else (opening, close)
            chunk = self._made[index] = Chunk(start, end, body, file, segment, bool(user), index, name,
                                              bool(static))
        return chunk

    def __iter__(self):
        return (self[i] for i in range(len(self._made)))


def _unescape(written):
    """A file name as a line marker writes it (``\\"`` and ``\\\\`` escaped), as the file system names it."""
    return written.replace('\\"', '"').replace("\\\\", "\\") if "\\" in written else written


def markers(text):
    """The ``# N "file"`` line markers of preprocessed text, as ``(offset after the marker's line,
    N, the file as the file system names it)``; found in C (``_cscan.markers``)."""
    return [(after, line, _unescape(written)) for after, line, written in _cscan.markers(text)]


def user_file_rule(source_files, system_dirs=(), api_files=()):
    """``user(file) -> bool`` for a file as line markers write it: the source itself, a file
    outside the system directories, or an API header (``cx.include``, :mod:`cx.build.api`)."""
    prefixes = tuple(os.path.join(os.path.abspath(d), "") for d in system_dirs if d)
    api = frozenset(os.path.abspath(f) for f in api_files if f)

    known = {}  # written -> answer: a prefix's index asks once per directive and chunk

    def user(written):
        answer = known.get(written)
        if answer is None:
            name = _unescape(written)
            if name in source_files:
                answer = True
            elif name.startswith("<"):
                answer = False
            else:  # an absolute path without . or .. parts or // is its own abspath (most are)
                path = name if name[:1] == "/" and "/." not in name and "//" not in name else os.path.abspath(name)
                answer = not path.startswith(prefixes) or path in api
            known[written] = answer
        return answer
    return user


class Scan:
    """What a :class:`View` starts from, done in C but for the segments: the text's line-marker
    segments, ``(offset, file, line at offset, user)``, and the scanner's top-level chunks (only
    the user's, and the system's that declare types: see ``_cscan.split_top``). Made apart from
    the view when the static inline functions of the user's headers are wanted before the view
    (:meth:`header_inline`: the code can then be compiled while the view is made); the parameters
    are the view's."""

    def __init__(self, text, source_files, source_name, system_dirs=(), api_files=()):
        is_user = user_file_rule(source_files, system_dirs, api_files)
        users = {}  # file name as written -> (shown name, from the user's files)
        self.segments = []  # (offset, file, line at offset, user)
        for offset, line, written in _cscan.markers(text):
            known = users.get(written)
            if known is None:
                name = _unescape(written)
                known = users[written] = (source_name if name in source_files else name, is_user(written))
            self.segments.append((offset, known[0], line, known[1]))
        self.text, self.source_name = text, source_name
        self.offsets = offsets = [s[0] for s in self.segments]
        ranges = [(start, offsets[i + 1] if i + 1 < len(offsets) else len(text))
                  for i, (start, _, _, user) in enumerate(self.segments) if user]
        if not self.segments:
            ranges = [(0, len(text))]
        # (start, end, body open, body close, name, static, in the user's files, outline), as the
        # scanner found them; a Chunk is made when one is asked for (most never are)
        self.raw = _cscan.split_top(text, ranges)

    def user_enumerators(self) -> list:
        """The enumeration constants the user's files declare, in order: :meth:`View.user_enumerators`'s
        names, read from the user's chunks alone (a system header cannot declare one of them too:
        C allows one declaration of an enumerator)."""
        names, text = [], self.text
        for start, end, opening, _, name, _, user, outline in self.raw:
            if not user or (name is not None and text.find("{", start, opening) < 0):
                continue  # a system header's, or a function definition (as View._index skips them)
            head = outline if outline is not None else text[start:end if opening < 0 else opening]
            if "{" not in head or "enum" not in head:
                continue
            for brace in _bodies(head)[1]:
                names += _enumerator_names(text, end, start + brace)
        return list(dict.fromkeys(names))

    def header_inline(self) -> list:
        """The names of the static inline functions the user's headers define (not the source
        itself), in order: :attr:`View.header_inline`'s, read from the chunks alone."""
        names, text, segments, offsets = [], self.text, self.segments, self.offsets
        for start, _, opening, _, name, is_static, user, _ in self.raw:
            if name is None or not is_static or not user or opening < 0:
                continue
            at = bisect.bisect_right(offsets, start) - 1
            if at >= 0 and segments[at][1] == self.source_name:
                continue
            head = text[start:opening]
            if _INLINE.search(_MARKER_LINE.sub("", head) if "\n#" in head else head):
                names.append(name)
        return list(dict.fromkeys(names))


def _bodies(head):
    """What a chunk's head declares with a body: ``[(kind, tag, brace)]`` of its tagged struct,
    union and enum bodies (``struct __attribute__((packed)) P {`` too), and the braces opening its
    enum bodies, tagged then anonymous; braces as offsets in the head."""
    spelled = _without_gnu(head) if "__attribute" in head or "__declspec" in head else head
    tagged = [(m.group(1), m.group(2), m.end() - 1) for m in _TAGGED_RX.finditer(spelled)]
    enums = [brace for kind, _, brace in tagged if kind == "enum"]
    if "enum" in head:
        enums += [m.end() - 1 for m in _ANONYMOUS_ENUM.finditer(spelled)]
    return tagged, enums


def _enumerator_names(text, end, brace):
    """The enumerators of the enum body opening at ``brace`` (its chunk ending at ``end``)."""
    close = text.find("}", brace, end)
    return [m.group() for m in map(_IDENT_RX.match, (item.strip() for item in
                                                      text[brace + 1:close if close >= 0 else end].split(","))) if m]


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
    api_files : iterable of str
        Headers that are an API the source binds on purpose (``cx.include``): they count as the
        user's, in a system directory or not.
    scan : Scan, optional
        The text's :class:`Scan`, when it was made before the view.
    """

    def __init__(self, text, source_files, source_name, system_dirs=(), api_files=(), scan=None):
        self.source_name = source_name
        if scan is None:
            scan = Scan(text, source_files, source_name, system_dirs, api_files)
        self.text = text
        self._segments, self._offsets, self._raw = scan.segments, scan.offsets, scan.raw
        self.chunks = _Chunks(self)
        self.typedefs = {}     # name -> chunk index
        self.tags = {}         # (kind, tag) -> chunk index of the body
        self.enumerators = {}  # name -> chunk index
        self.names = {}        # function or variable name -> chunk indexes (user files)
        self.static_functions = set()  # names in `names` that a static declaration made internal
        self._lined = []  # indexes of the chunks whose line is known, ascending (see line)
        self.static_definitions = set()  # functions the user's files define static (never in `names`)
        self.header_inline = {}  # static inline functions of the user's headers: name -> chunk index
        self._declarations = {}  # chunk index -> what _declaration read
        self._index()

    # -- positions --------------------------------------------------------------------------
    def line(self, chunk):
        """The line of a chunk's first character in its file."""
        if chunk.line is None:
            # count from the nearest earlier chunk whose line is known, in the same segment:
            # counting from the segment's start each time made reading every function of a
            # large source quadratic
            lined = self._lined
            i = bisect.bisect_left(lined, chunk.index)
            before = self.chunks[lined[i - 1]] if i else None
            if before is not None and before.segment == chunk.segment:
                at, line = before.start, before.line
            elif chunk.segment < 0:
                at, line = 0, 1
            else:
                at, _, line, _ = self._segments[chunk.segment]
            chunk.line = line + self.text.count("\n", at, chunk.start)
            lined.insert(i, chunk.index)
        return chunk.line

    def head(self, chunk):
        """A chunk's text without its function body (``{}`` in its place) nor line markers."""
        if chunk.body is None:
            text = self.text[chunk.start:chunk.end]
        else:
            text = self.text[chunk.start:chunk.body[0]] + "{}"
        return _MARKER_LINE.sub("", text) if "\n#" in text else text

    # -- the index --------------------------------------------------------------------------
    def _index(self):
        """Index every chunk by the typedef names, tags and enumerators it declares, and the
        user's non-static chunks by the functions and variables they declare.

        A declaration with braced initializers is read in its outline (``= {}``, made by the
        scanner): the names it declares are all outside them, and the data inside (megabytes of
        tables in a Unicode library) is never scanned in Python."""
        text = self.text
        typedef_word = _TYPEDEF_WORD
        static, function_name, plain = _STATIC, _FUNCTION_NAME, _PLAIN_TYPEDEF
        find, names, typedefs = text.find, self.names, self.typedefs
        # the scanner's tuples, not Chunk objects: a large source has tens of thousands of chunks
        for index, (start, end, opening, _, name, is_static, user, outline) in enumerate(self._raw):
            if name is not None and find("{", start, opening) < 0:
                if user:  # a function definition, named by the scanner (most chunks)
                    if is_static:
                        self.static_functions.add(name)
                        self.static_definitions.add(name)
                        if find("inline", start, opening) >= 0:
                            self._note_inline(index, name)
                    elif name in names:
                        names[name].append(index)
                    else:
                        names[name] = [index]
                continue
            head = outline if outline is not None else text[start:end if opening < 0 else opening]
            if "{" in head:
                bodies, enums = _bodies(head)
                for kind, tag, _ in bodies:
                    self.tags.setdefault((kind, tag), index)
                for brace in enums:
                    self._enumerators(index, end, start + brace)
            if opening < 0 and "typedef" in head and typedef_word.search(head):
                simple = plain.match(head)  # typedef unsigned long size_t; (most of them)
                if simple:  # the first definition: a later one (C11 allows it, as does each unit of a
                    typedefs.setdefault(simple.group(1), index)  # module) must not move it
                    continue
                # in source order: in `T x` T must already be known as a type
                for declared in _declarator_names(_outside_braces(head), typedefs):
                    typedefs.setdefault(declared, index)
                continue
            if not user:
                continue
            if name is not None:  # a function definition, named by the scanner
                if is_static:
                    self.static_functions.add(name)
                    self.static_definitions.add(name)
                    self._note_inline(index, name)
                elif name in names:
                    names[name].append(index)
                else:
                    names[name] = [index]
            elif not static.match(head):
                for declared in _declarator_names(_outside_braces(head), typedefs):
                    if declared in names:
                        names[declared].append(index)
                    else:
                        names[declared] = [index]
            elif "(" in head:  # a static function: its later definitions are internal too
                called = function_name.search(_without_gnu(head) if "__" in head else head)
                if called:
                    self.static_functions.add(called.group(1))
        self.static_functions &= self.names.keys()

    def _note_inline(self, index, name):
        """A static function the user's files define: a ``static inline`` one of a header (not the
        source itself, whose statics stay private) is part of the header's API."""
        chunk = self.chunks[index]
        if chunk.file != self.source_name and _INLINE.search(self.head(chunk)):
            self.header_inline[name] = index

    def _enumerators(self, index, end, brace):
        """Index the enumerators of the enum body opening at ``brace`` in chunk ``index`` (ending at ``end``)."""
        for name in _enumerator_names(self.text, end, brace):
            self.enumerators.setdefault(name, index)

    # -- selection --------------------------------------------------------------------------
    def exported(self):
        """Indexes of the chunks to read: for each non-static function or variable of the user's
        files its definition (else its declarations), and every type the source itself
        declares. (Types of the user's headers and included ``.c`` files are read when something
        uses them: see :meth:`closure`.)"""
        picked = self.cell_types()
        for name in self.names:
            picked |= self.chunks_of(name)
        return picked

    def defined_split(self):
        """Names the user's files define, not static (a static declaration earlier makes a
        definition internal too), as (functions, variables); and the names they declare without
        defining (prototypes, ``extern`` variables). One pass over the index."""
        functions, variables, undefined = [], [], []
        raw, static = self._raw, self.static_functions
        for n, indexes in self.names.items():
            if raw[indexes[-1]][2] >= 0:  # a function definition (most names)
                if n not in static:
                    functions.append(n)
            elif any(raw[i][2] >= 0 or self._declaration(i)[2] for i in indexes):
                if n not in static:
                    (functions if self.is_function(n) else variables).append(n)
            else:
                undefined.append(n)
        return functions, variables, undefined

    def chunks_of(self, name):
        """The chunks to read for the function or variable ``name``: its definition, or else
        every declaration."""
        indexes = self.names.get(name, ())
        if not indexes and name in self.header_inline:
            return {self.header_inline[name]}
        defining = [i for i in indexes if self.chunks[i].body is not None or self._defines(i)]
        return set(defining[-1:] or indexes)

    def is_function(self, name):
        """Whether the user's ``name`` is a function (defined with a body, or declared with a
        parameter list) rather than a variable."""
        indexes, raw = self.names.get(name, ()), self._raw
        if indexes and raw[indexes[-1]][2] >= 0:
            return True
        for i in indexes:
            if raw[i][2] >= 0:  # a body
                return True
            if _cscan.use_of(self._declaration(i)[1], name) == 1:  # `name(`, never `(*name`
                return True
        return False

    def _declaration(self, index):
        """``(declared names, text outside braces before any =, defines)`` of a declaration chunk:
        what :meth:`is_function` and :meth:`_defines` ask, read once per chunk (no pattern per
        name: that was the cost of binding a library's few hundred prototypes)."""
        known = self._declarations.get(index)
        if known is None:
            start, end = self._raw[index][:2]  # a declaration: no body
            head = self.text[start:end]
            if "\n#" in head:  # a line marker inside it
                head = _MARKER_LINE.sub("", head)
            outer = _outside_braces(head).split("=", 1)[0]
            names = _declarator_names(outer, self.typedefs)
            if not names or _cscan.use_of(outer, names[0]) & 1:
                defines = False  # a function's prototype
            else:  # (outer: not the initializer's data)
                defines = not _EXTERN.search(outer) or "=" in head
            known = self._declarations[index] = (names, outer, defines)
        return known

    def cell_struct_names(self):
        """Keys of the structs and unions the user's files (the source and its own headers)
        declare with a body: the typedef name of an untagged one, else the tag (as
        :mod:`cx.cread.reader` keys them), unread."""
        names = []
        typedef_chunks = set(self.typedefs.values())
        for (kind, tag), i in self.tags.items():
            if kind != "enum" and self.chunks[i].user and i not in typedef_chunks:
                names.append(tag)
        for name, i in self.typedefs.items():
            head = self.head(self.chunks[i])
            if self.chunks[i].user and rx(r"\b(?:struct|union)\b[^;{]*\{").search(head):
                names.append(name)
        return list(dict.fromkeys(names))

    def user_at(self, offset):
        """Whether ``offset`` of the text is in one of the user's files (not a system header)."""
        segment = bisect.bisect_right(self._offsets, offset) - 1
        return self._segments[segment][3] if segment >= 0 else not self._segments

    def user_enumerators(self):
        """The enumeration constants the user's files declare, name -> chunk index, in order."""
        raw = self._raw
        return {n: i for n, i in self.enumerators.items() if raw[i][6]}

    def user_types(self):
        """Chunks of every type and enumerator the user's files declare, with the types they use."""
        return self.closure({i for i in (*self.typedefs.values(), *self.tags.values(), *self.enumerators.values())
                             if self.chunks[i].user})

    def cell_types(self):
        """Chunks of the types and enumerators the source itself (not a header) declares."""
        return {i for i in (*self.typedefs.values(), *self.tags.values(), *self.enumerators.values())
                if self.chunks[i].file == self.source_name}

    def _defines(self, index):
        """Whether a declaration chunk defines its variable (not ``extern``, or initialised), not a
        function's prototype: ``int (*hash)(int) = f;`` and ``op table[2];`` define variables."""
        return self._declaration(index)[2]

    def closure(self, picked, known=frozenset()):
        """``picked`` plus every chunk declaring a type or enumerator they mention, repeatedly
        (not looking into ``known`` chunks, whose closure was taken before)."""
        picked = set(picked)
        todo = [i for i in picked if i not in known]
        while todo:
            chunk = self.chunks[todo.pop()]
            text = self.head(chunk)
            for m in _MENTION.finditer(text):
                kind, name = m.group(1), m.group(2)
                found = [self.tags.get((kind, name))] if kind else \
                    [self.typedefs.get(name), self.enumerators.get(name)]
                for index in found:
                    if index is not None and index not in picked and index not in known:
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

        return "\n".join(parts), _Origins(self, starts, origins)


class _Origins:
    """Where a line of a :meth:`View.text_of` selection came from. Called with a line,
    ``(file, line, user)``; :meth:`before` gives the original text of that line up to a column
    (chunks read apart are put at the start of a line of their selection, so two declarations on
    one line of the source would otherwise look alike)."""

    def __init__(self, view, starts, origins):
        self._view, self._starts, self._origins = view, starts, origins

    def _chunk(self, at):
        i = bisect.bisect_right(self._starts, at) - 1
        return (None, 0) if i < 0 else (self._origins[i], self._starts[i])

    def __call__(self, at):
        chunk, start = self._chunk(at)
        if chunk is None:
            return self._view.source_name, at, True
        return chunk.file, self._view.line(chunk) + at - start, chunk.user

    def before(self, at, column):
        """The original text of line ``at`` of the selection, up to ``column`` (1-based)."""
        chunk, start = self._chunk(at)
        if chunk is None:
            return ""
        text = self._view.text
        if at == start:  # the chunk's first line may start in the middle of its source line
            line_start = text.rfind("\n", 0, chunk.start) + 1
            return text[line_start:chunk.start + column - 1]
        pos = chunk.start  # a later line of a chunk starts where its source line starts
        for _ in range(at - start):
            pos = text.index("\n", pos) + 1
        return text[pos:pos + column - 1]


def _outside_braces(text):
    """``text`` with the inside of each outermost ``{...}`` left out (``{}`` stays), string and
    character literals skipped: what is left names the declared things (done in C, as a
    declaration's initializer may be megabytes of data)."""
    return _cscan.outside_braces(text) if "{" in text else text


def _without_gnu(text):
    """``text`` with ``__attribute__((...))``, ``asm(...)`` and similar groups blanked."""
    if "__" not in text and "asm" not in text and "_Al" not in text and "typeof" not in text:
        return text
    out, pos = [], 0
    for m in _GNU_GROUP_RX.finditer(text):
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


def _declarator_names(outer, typedefs=None):
    """Names a declaration (function bodies and struct bodies blanked) declares.

    A declarator's name is the first identifier (not a keyword, not a tag) that a declarator
    punctuation mark follows: ``)``, ``[``, ``(``, ``;``, ``,``, ``=``, ``:``. In ``T x`` or ``T *x``
    ``T`` is followed by a name or ``*``, so it is a type, known or not (``__builtin_va_list``).
    Initializers and parameter lists are skipped. Done in C (``_cscan.declarator_names``): a
    library's header has thousands of declarations.
    """
    return _cscan.declarator_names(outer, typedefs or {}, _NEVER_NAMES, _TYPE_WORDS)


_TYPE_WORDS = frozenset("void char short int long float double signed unsigned _Bool _Complex"
                        " __signed __signed__".split())

_NEVER_NAMES = _SPECIFIER_WORDS | KEYWORDS  # words that are never a declarator's name
