"""Builds the translation unit a backend compiles: cx's prelude, then the user's source.

The user's source follows a ``#line 1 "<cell>"`` directive, so every compiler message carries the
line numbers of the source as the user wrote it.
"""
from __future__ import annotations

from .errors import SOURCE_NAME

#: C text placed before the user's source. Kept free of #includes so compiles stay fast.
PRELUDE = ""


def translation_unit(source: str, declarations) -> str:
    """The full C text to compile for ``source`` (whose declarations are ``declarations``)."""
    return f'{PRELUDE}#line 1 "{SOURCE_NAME}"\n{source}\n'
