"""Builds the translation unit a backend compiles from the user's source.

The unit is, in order:

1. cx's prelude (:data:`PRELUDE`): a few definitions, no #includes, so compiles stay fast;
2. ``#line 1 "<cell>"`` and the user's source, after the source rewrites of :data:`REWRITES`
   (each keeps every line where it was, so compiler messages carry the user's line numbers);
3. generated C (:data:`GENERATORS`): wrappers and helpers built from the declaration model.

Each feature that needs the unit registers a rewrite or a generator here, in its own module.
"""
from __future__ import annotations

from .errors import SOURCE_NAME

#: C text placed before the user's source.
PRELUDE = ""

#: Functions ``rewrite(source, declarations) -> source`` applied in order to the user's source.
#: A rewrite must keep line numbers (use ``#line`` after any line it has to insert).
REWRITES = []

#: Functions ``generate(declarations, options) -> str`` whose C text is appended after the source.
GENERATORS = []


def translation_unit(source: str, declarations, **options) -> str:
    """The full C text to compile for ``source`` (whose declarations are ``declarations``).

    ``options`` are passed to every generator (e.g. ``guard=True``).
    """
    for rewrite in REWRITES:
        source = rewrite(source, declarations)
    parts = [PRELUDE, f'#line 1 "{SOURCE_NAME}"\n', source, "\n"]
    for generate in GENERATORS:
        text = generate(declarations, options)
        if text:
            parts.append(f'#line 1 "<cx-generated>"\n{text}\n')
    return "".join(parts)
