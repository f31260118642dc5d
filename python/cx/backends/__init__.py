"""Backends turn C source into machine code that a :class:`cx.Module` can bind.

A backend's ``build(source, settings)`` returns a *code object* with ``sym(name) -> int | None``,
``close()``, ``closed`` and ``diagnostics`` (the compiler's warnings as text), or raises
:class:`cx.CompileError`. The code object owns the machine code: it stays valid until ``close()``
or garbage collection.
"""

import importlib

from ..errors import OptionError

#: Backend names and the modules that implement them.
BACKENDS = {"tcc": "cx.backends.tcc", "cc": "cx.backends.cc"}


def get(name: str):
    """The backend module called ``name`` (raises :class:`cx.OptionError` for an unknown one)."""
    try:
        module = BACKENDS[name]
    except (KeyError, TypeError):
        raise OptionError(f"unknown backend {name!r}; choose one of {sorted(BACKENDS)}") from None
    return importlib.import_module(module)
