"""Backends turn C source into machine code that a :class:`cx.Module` can bind.

A backend's ``build(source, settings)`` returns a *code object* with ``sym(name) -> int | None``,
``close()`` and ``diagnostics`` (the compiler's warnings as text), or raises
:class:`cx.CompileError`. The code object owns the machine code: it stays valid until ``close()``
or garbage collection.
"""
