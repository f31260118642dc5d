"""Builds the translation unit a backend compiles from the user's source.

The unit is, in order:

1. cx's prelude (:data:`PRELUDE`): a few definitions, no #includes, so compiles stay fast;
2. ``#line 1 "<cell>"`` and the user's source, after the source rewrites of :data:`REWRITES`
   (each keeps every line where it was, so compiler messages carry the user's line numbers);
   or, for a backend that compiles the preprocessor's output (TinyCC), that output, rewritten;
3. for a guarded module, the end marker (:data:`END_SYMBOL`): the crash guard's bound of the
   cell's code in libjit's registry (an interrupt stops a call at once while it runs registered
   code). No per-function wrapper: the call slot (``bind/_call.c``) enters the guard itself.
"""
from __future__ import annotations

import ctypes

from ..errors import SOURCE_NAME
from . import tls

#: C text placed before the user's source.
#: TinyCC predefines __STDC_NO_ATOMICS__ and __STDC_NO_THREADS__ although <stdatomic.h> works and
#: glibc provides <threads.h> (and cx provides thread_local, see :mod:`cx.build.tls`): undefine them so
#: code that checks them is not misled. (__STDC_NO_COMPLEX__ stays: TinyCC has no _Complex.)
PRELUDE = "#undef __STDC_NO_ATOMICS__\n#undef __STDC_NO_THREADS__\n" + tls.PRELUDE

#: Functions ``rewrite(source, declarations) -> source`` applied in order to the user's source.
#: A rewrite must keep line numbers (use ``#line`` after any line it has to insert).
REWRITES = [tls.rewrite]

#: Defined last in a guarded unit: marks the end of the cell's code for libjit (jit.h).
END_SYMBOL = "__cx_code_end"

#: The file name of the C cx appends to the source (compiler messages name it).
GENERATED_FILE = "<cx-generated>"

# The tail keeps the cell's last instruction inside the registered code with a byte after it:
# line lookups (made for return addresses) ask for the byte after an instruction.
_END_MARKER = f"static void __cx_code_tail(void) {{}}\nvoid {END_SYMBOL}(void) {{}}"


#: ``void *const __cx_inline_f = (void *)f;``: the address of a header's static inline ``f``, which
#: also makes the compiler emit it (:func:`inline_address_symbol`).
_INLINE_ADDRESS = "__cx_inline_{}"


def inline_address_symbol(name: str) -> str:
    """The symbol of the pointer that holds the address of the static inline function ``name``."""
    return _INLINE_ADDRESS.format(name)


#: ``{kind, value}`` of each enumeration constant of the user's files, in the unit's own code
#: (:func:`enumerator_values`): an enum's class needs no compile of its own.
ENUMERATORS_SYMBOL = "__cx_enumerators"


def translation_unit(source: str, declarations, *, preprocessed=False, guard=False, inline=None,
                     enumerators=()) -> str:
    """The full C text to compile for ``source`` (whose declarations are ``declarations``).

    ``preprocessed``: ``source`` is the preprocessor's output for the cell (its line markers name
    ``<cell>``), so no macro of the cell is defined any more and the prelude's ``#undef`` lines
    are not needed (the backend passed them as ``-U`` options). ``guard``: append the end marker.
    ``inline``: the static inline functions of the user's headers to emit (default: all of them).
    ``enumerators``: enumeration constants whose values the code keeps (:func:`enumerator_values`).
    """
    for rewrite in REWRITES:
        rewritten = rewrite(source, declarations)
        if preprocessed and rewritten is not source and tls.PRELUDE not in source:
            rewritten = tls.PRELUDE + rewritten
        source = rewritten
    if preprocessed:
        parts = [source, "\n"]
    else:
        parts = [PRELUDE, f'#line 1 "{SOURCE_NAME}"\n', source, "\n"]
    inline = declarations.inline_functions if inline is None else inline
    if inline or guard or enumerators:
        parts.append(f'#line 1 "{GENERATED_FILE}"\n')
    for name in inline:  # a header's static inline functions: emitted, and their addresses known
        parts.append(f"void *const {inline_address_symbol(name)} = (void *){name};\n")
    if enumerators:  # unsigned (4) or signed (1), and the value; 0: not a constant (so not one)
        rows = ", ".join(f"{{__builtin_constant_p({n}) * _Generic(({n}), unsigned int: 4, unsigned long: 4, "
                         f"unsigned long long: 4, default: 1), __builtin_constant_p({n}) ? (long long)({n}) : 0}}"
                         for n in enumerators)
        parts.append(f"const long long {ENUMERATORS_SYMBOL}[][2] = {{ {rows} }};\n")
    if guard:
        parts.append(f"{_END_MARKER}\n")
    return "".join(parts)


def enumerator_values(code, enumerators) -> dict:
    """name -> value of the ``enumerators`` a unit kept (``translation_unit(enumerators=...)``),
    read from its code; {} when it kept none."""
    address = code.sym(ENUMERATORS_SYMBOL) if enumerators else None
    if not address:
        return {}
    table = (ctypes.c_longlong * (2 * len(enumerators))).from_address(address)
    return {n: int(table[2 * i + 1]) & 0xFFFFFFFFFFFFFFFF if table[2 * i] == 4 else int(table[2 * i + 1])
            for i, n in enumerate(enumerators) if table[2 * i]}


def generated_code_failed(error) -> bool:
    """Whether a CompileError points into the C cx appended (not the user's source)."""
    return any(d.file == GENERATED_FILE for d in getattr(error, "diagnostics", ()))
