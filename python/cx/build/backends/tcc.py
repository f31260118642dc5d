"""The default backend: TinyCC in memory, through libjit. No temporary files, no subprocess."""
from __future__ import annotations

import ctypes
import functools
import os
import re

from .. import libjit as _libjit
from . import Code
from ...errors import SOURCE_NAME, CompileError, CxError, OptionError, parse_diagnostics


#: cx's own headers, searched before the system's (sys/cdefs.h: keeps __attribute__ working).
_SHIM_INCLUDE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "include")
_SHIM_INCLUDE = os.path.normpath(_SHIM_INCLUDE)  # python/cx/include


class TccCode(Code):
    """Machine code compiled in memory by libjit; owns one ``jit_state`` and frees it on close."""

    def __init__(self, state, lib):
        super().__init__(state)
        self._lib = lib

    def sym(self, name: str):
        """Address of the global symbol ``name``, or None."""
        return self._lib.jit_sym(self._live(), name.encode())

    def defined(self) -> frozenset:
        """The global symbols the source defines, as the compiler compiled them (jit_list): a
        function declared ``static`` and defined without the keyword is not among them."""
        size = ctypes.c_size_t()
        block = self._lib.jit_names(self._live(), ctypes.byref(size))
        if not block:
            raise CxError(self._lib.jit_error(self._live()).decode(errors="replace"))
        return frozenset(ctypes.string_at(block, size.value).decode(errors="surrogateescape").split("\0")[:-1])

    def construct(self):
        """Run the code's constructors, once, on this thread (code from :func:`build_start`;
        :func:`build` runs them itself)."""
        _check(self._lib, self._live(), self._lib.jit_run_constructors(self._live()), "the code's constructors")

    def _release(self, state):
        self._lib.jit_delete(state)


def _check(lib, state, rc, what):
    if rc == _libjit.JIT_EOPTION:
        raise OptionError(lib.jit_error(state).decode(errors="replace"))
    if rc != _libjit.JIT_OK:
        raise CxError(f"{what}: {lib.jit_error(state).decode(errors='replace')}")


def _configured(settings):
    """A new libjit state with ``settings`` recorded, and its owner (frees it on every path)."""
    lib = _libjit.lib()
    state = lib.jit_new(_libjit.runtime_dir().encode())
    if not state:
        raise MemoryError("libjit could not allocate a compiler state")
    code = TccCode(state, lib)  # owns state from here on, so every failure path frees it
    _check(lib, state, lib.jit_add_sysinclude_dir(state, _SHIM_INCLUDE.encode()), "cx's include dir")
    for d in settings.include_dirs:
        _check(lib, state, lib.jit_add_include_dir(state, str(d).encode()), f"include dir {d!r}")
    for d in settings.library_dirs:
        _check(lib, state, lib.jit_add_library_dir(state, str(d).encode()), f"library dir {d!r}")
    for name in settings.libraries:
        _check(lib, state, lib.jit_add_library(state, str(name).encode()), f"library {name!r}")
    for name, value in settings.defines.items():
        _check(lib, state, lib.jit_define(state, name.encode(), None if value is None else str(value).encode()),
               f"define {name!r}")
    words = []
    for name, value, directory, word in _option_tokens(settings.options):
        if name is not None:  # -D: the value exactly as given, spaces and quotes included
            _check(lib, state, lib.jit_define(state, name.encode(), None if value is None else value.encode()),
                   f"define {name!r}")
        elif directory is not None:
            _check(lib, state, lib.jit_add_include_dir(state, directory.encode()), f"include dir {directory!r}")
        else:
            words.append(word)
    _check(lib, state, lib.jit_set_options(state, " ".join((*PREDEFINED_UNDEFS, *words)).encode()), "options")
    for name, addr in settings.symbols.items():
        _check(lib, state, lib.jit_add_symbol(state, name.encode(), ctypes.c_void_p(addr)), f"symbol {name!r}")
    return lib, state, code


def _option_tokens(options):
    """(macro name, value, include dir, other token) for each option token: ``-D`` and ``-I`` are
    applied by their own calls (a value or path may hold spaces and quotes); any other token is
    one word for libjit's whitelist, so it may hold neither."""
    tokens = list(options)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in ("-D", "-I", "-U") and i + 1 < len(tokens):  # "-D X=1" as two tokens
            token = token + tokens[i + 1]
            i += 1
        i += 1
        if token.startswith("-D") and len(token) > 2:
            name, eq, value = token[2:].partition("=")
            yield name, (value if eq else None), None, None
        elif token.startswith("-I") and len(token) > 2:
            yield None, None, token[2:], None
        elif any(c.isspace() for c in token) or '"' in token or "\\" in token:
            raise OptionError(f"option {token!r} holds a space or a quote, which only -D values and -I paths "
                              "may hold")
        else:
            yield None, None, None, token


#: TinyCC predefines these although <stdatomic.h> works and glibc provides <threads.h> (and cx
#: provides thread_local, see cx.tls): code that checks them must not be misled. (-U acts after
#: TinyCC's own predefined macros; __STDC_NO_COMPLEX__ stays: TinyCC has no _Complex.)
PREDEFINED_UNDEFS = ("-U__STDC_NO_ATOMICS__", "-U__STDC_NO_THREADS__")

#: The preprocessor's name for the text it is given (libjit compiles a string).
STRING_FILE = "<string>"
#: :func:`build` compiles the text :func:`preprocess` returned (see :func:`compilable`).
PREPROCESSED = True
_STRING_MARKER = re.compile(r'(\n# \d+ )"<string>"')  # "\n# ": a literal prefix the regex engine finds fast


def compilable(text: str, name: str = SOURCE_NAME) -> str:
    """The preprocessed text, ready for :func:`build`: its lines are the cell's (``<cell>``), or
    the file ``name``'s (another file of the module: TinyCC's markers name the string it was
    given, not its ``#line``)."""
    quoted = '"' + name.replace("\\", "\\\\") + '"'
    return _STRING_MARKER.sub(lambda m: m.group(1) + quoted, "\n" + text)[1:]


@functools.lru_cache(maxsize=1)
def system_dirs() -> tuple:
    """Directories whose headers are the system's for TinyCC (never exported from)."""
    return ("/usr/include", "/usr/local/include", os.path.join(_libjit.runtime_dir(), "include"),
            _SHIM_INCLUDE, _libjit.python_include_dir())


def preprocess(source: str, settings) -> str:
    """``source`` as TinyCC's preprocessor sees it, in memory, with ``# N "file"`` markers.

    ``source`` is the user's source after a ``#line 1 "<cell>"`` line; the settings are the
    compile's (include dirs, defines, options), so the text is exactly what :func:`build` then
    compiles.

    Raises
    ------
    CompileError
        A missing header, an ``#error``.
    """
    lib, state, code = _configured(settings)
    try:
        length = ctypes.c_size_t()
        text = lib.jit_preprocess(state, source.encode("utf-8"), ctypes.byref(length))
        if not text:
            diagnostics = lib.jit_diagnostics(state).decode("utf-8", errors="replace")
            error = lib.jit_error(state).decode("utf-8", errors="replace")
            raise CompileError("C compile failed", parse_diagnostics(diagnostics or error),
                               settings.user_source, name=SOURCE_NAME)
        return ctypes.string_at(text, length.value).decode("utf-8", errors="surrogateescape")
    finally:
        code.close()


def build(source: str, settings) -> TccCode:
    """Compile ``source`` with TinyCC in memory and return its code.

    Parameters
    ----------
    source : str
        The translation unit: :func:`preprocess`'s text made :func:`compilable`, then cx's
        generated C (its lines name ``<cell>``, so messages carry the cell's line numbers).
    settings : cx.build.record.Settings
        Include/library dirs, libraries, defines, options, symbols to link against, and other
        translation units of the module (``units``: compiled first, each its own unit).

    Raises
    ------
    CompileError
        With the compiler's diagnostics, when the source does not compile or link.
    """
    lib, state, code = _with_units(settings)
    return _finished(lib, state, code, lib.jit_compile(state, source.encode("utf-8", "surrogateescape")),
                     settings)


class Started:
    """A :func:`build` going on in a thread of libjit's own (:func:`build_start`)."""

    def __init__(self, lib, state, code, settings):
        self._lib, self._state, self._code, self._settings = lib, state, code, settings

    def finish(self) -> TccCode:
        """Wait for the compile: its code, or :class:`cx.CompileError` as :func:`build` raises it.
        The code's constructors have not run: :meth:`TccCode.construct` runs them (on this
        thread), once the code is kept; code closed before runs no destructor either."""
        lib, state = self._lib, self._state
        return _finished(lib, state, self._code, lib.jit_compile_wait(state), self._settings)


def build_start(source: str, settings) -> Started:
    """:func:`build`, started on a thread of libjit's own: the caller goes on (TinyCC needs no GIL)
    and calls ``finish()`` for the code. A compile that is never finished is waited for and freed
    with its state."""
    lib, state, code = _with_units(settings)
    _check(lib, state, lib.jit_compile_start(state, source.encode("utf-8", "surrogateescape")), "a compile")
    return Started(lib, state, code, settings)


def _with_units(settings):
    lib, state, code = _configured(settings)
    for other in settings.units:
        _check(lib, state, lib.jit_add_unit(state, other.encode("utf-8", "surrogateescape")), "adding a unit")
    return lib, state, code


def _finished(lib, state, code, rc, settings) -> TccCode:
    """The code of a compile that returned ``rc``, or its :class:`cx.CompileError`."""
    diagnostics = lib.jit_diagnostics(state).decode("utf-8", errors="replace")
    if rc != _libjit.JIT_OK:
        error = lib.jit_error(state).decode("utf-8", errors="replace")
        code.close()
        parsed = parse_diagnostics(diagnostics or error)
        if rc == _libjit.JIT_ECOMPILE:
            summary = "C compile failed"
        elif rc == _libjit.JIT_ELINK:
            summary = f"C link failed: {error}" if error else "C link failed"
        else:  # an option TinyCC refused when applying it, out of memory
            summary = f"C compile failed: {lib.jit_strerror(rc).decode()}" + (f" ({error})" if error else "")
        raise CompileError(summary, parsed, settings.user_source, name=SOURCE_NAME)
    code.diagnostics = diagnostics
    return code
