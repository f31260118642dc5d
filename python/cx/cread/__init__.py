"""Reading C: what a translation unit declares, from the text the compiler's preprocessor wrote.

The layers, each importing only those above it in this list:

- :mod:`.model`: the declaration model (plain frozen dataclasses, no ctypes);
- :mod:`.text`: helpers over preprocessed text (GNU spellings, splitting, cached regexes);
- ``_cscan`` (C): cuts the text into top-level declarations and reads its line markers;
- :mod:`.view`: the compiler's view, indexed by name, cut down to what the exports need;
- :mod:`.front`: pycparser nodes from a selection of that text (a fast path for simple prototypes);
- :mod:`.reader`: the model, read on demand (:func:`from_preprocessed`).
"""
from .model import CType, Declarations, Field, Function, Global, Param, Struct
from .reader import Reader, from_preprocessed, scan

__all__ = ["from_preprocessed", "scan", "Reader", "Declarations", "Function", "Param", "Struct", "Field", "Global",
           "CType"]
