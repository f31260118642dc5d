"""Builds the translation unit a backend compiles from the user's source.

The unit is, in order:

1. cx's prelude (:data:`PRELUDE`): a few definitions, no #includes, so compiles stay fast;
2. ``#line 1 "<cell>"`` and the user's source, after the source rewrites of :data:`REWRITES`
   (each keeps every line where it was, so compiler messages carry the user's line numbers);
   or, for a backend that compiles the preprocessor's output (TinyCC), that output, rewritten;
3. generated C (:data:`GENERATORS`): wrappers and helpers built from the declaration model.

Each feature that needs the unit registers a rewrite or a generator here, in its own module.
"""
from __future__ import annotations

from . import tls
from .errors import SOURCE_NAME

#: C text placed before the user's source.
#: TinyCC predefines __STDC_NO_ATOMICS__ and __STDC_NO_THREADS__ although <stdatomic.h> works and
#: glibc provides <threads.h> (and cx provides thread_local, see :mod:`cx.tls`): undefine them so
#: code that checks them is not misled. (__STDC_NO_COMPLEX__ stays: TinyCC has no _Complex.)
PRELUDE = "#undef __STDC_NO_ATOMICS__\n#undef __STDC_NO_THREADS__\n" + tls.PRELUDE

#: Functions ``rewrite(source, declarations) -> source`` applied in order to the user's source.
#: A rewrite must keep line numbers (use ``#line`` after any line it has to insert).
REWRITES = [tls.rewrite]

#: Functions ``generate(declarations, options) -> str`` whose C text is appended after the source.
GENERATORS = []


def translation_unit(source: str, declarations, *, preprocessed=False, **options) -> str:
    """The full C text to compile for ``source`` (whose declarations are ``declarations``).

    ``preprocessed``: ``source`` is the preprocessor's output for the cell (its line markers name
    ``<cell>``), so no macro of the cell is defined any more and the prelude's ``#undef`` lines
    are not needed (the backend passed them as ``-U`` options). ``options`` are passed to every
    generator (e.g. ``guard=True``).
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
    for generate in GENERATORS:
        text = generate(declarations, options)
        if text:
            parts.append(f'#line 1 "<cx-generated>"\n{text}\n')
    return "".join(parts)
