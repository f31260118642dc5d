"""Backends turn C source into machine code that a :class:`cx.Module` can bind.

A backend's ``build(source, settings)`` returns a *code object* with ``sym(name) -> int | None``,
``close()``, ``closed`` and ``diagnostics`` (the compiler's warnings as text), or raises
:class:`cx.CompileError`. The code object owns the machine code: it stays valid until ``close()``
or garbage collection.
"""

import importlib

from ...errors import CxError, OptionError


class Code:
    """What every backend's code object shares: one native handle that owns the machine code.

    The handle is released by :meth:`close` or when the object is collected (bound functions keep
    it referenced). Subclasses implement ``_release(handle)`` and ``sym(name)``.
    """

    #: The compiler's warnings for this code, as text.
    diagnostics = ""

    #: Static inline functions of the user's headers left out of this code, name -> why
    #: (:func:`cx.build.steps.make_code`).
    inline_left_out = {}

    #: The values of the user's enumeration constants, when the code was compiled with them
    #: (:func:`cx.build.unit.enumerator_values`), name -> value.
    enumerator_values = {}

    def __init__(self, handle):
        self._handle = handle

    @property
    def closed(self) -> bool:
        """True once the machine code has been released."""
        return self._handle is None

    def defined(self):
        """The global symbols the code defines, or None when the backend cannot list them."""
        return None

    def _live(self):
        """The handle, or :class:`cx.CxError` if the code was closed."""
        if self._handle is None:
            raise CxError("the code was closed")
        return self._handle

    def close(self):
        """Release the machine code. Calling anything compiled here afterwards is undefined."""
        handle, self._handle = self._handle, None
        if handle is not None:
            self._release(handle)

    def __del__(self):
        self.close()

#: Backend names and the modules that implement them.
BACKENDS = {"tcc": "cx.build.backends.tcc", "cc": "cx.build.backends.cc"}


def get(name: str):
    """The backend module called ``name`` (raises :class:`cx.OptionError` for an unknown one)."""
    try:
        module = BACKENDS[name]
    except (KeyError, TypeError):
        raise OptionError(f"unknown backend {name!r}; choose one of {sorted(BACKENDS)}") from None
    return importlib.import_module(module)
