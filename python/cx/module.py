"""``cx.compile`` and :class:`Module`: C source in, callable functions out.

The path of one compile: the user's source is read for declarations (:mod:`cx.decls`, no system
headers), turned into one translation unit (:mod:`cx.unit`), compiled by a backend
(:mod:`cx.backends`), and bound lazily, one function at a time on first use (:mod:`cx.binding`).
"""
from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Sequence, Union

from . import backends, binding, decls as _decls, guard as _guard, layouts, tls, unit
from .errors import ClosedError, CompileError, CxError, OptionError

__all__ = ["compile", "Module"]


@dataclass
class Settings:
    """Everything a backend needs besides the source text."""

    user_source: str
    include_dirs: Sequence[str] = ()
    defines: Mapping[str, Optional[str]] = field(default_factory=dict)
    library_dirs: Sequence[str] = ()
    libraries: Sequence[str] = ()
    options: Sequence[str] = ()
    symbols: Mapping[str, int] = field(default_factory=dict)
    compiler: Optional[str] = None


def _python_include(source: str) -> tuple:
    """Python's own include directory, when the source includes <Python.h> (for hold_gil code)."""
    if "Python.h" not in source:
        return ()
    import sysconfig

    return (sysconfig.get_paths()["include"],)


def _normalise_defines(defines) -> dict:
    if defines is None:
        return {}
    if isinstance(defines, Mapping):
        items = defines.items()
    elif isinstance(defines, str):
        raise OptionError("defines must be a dict or a list of 'NAME=VALUE' strings, not a str")
    else:
        items = (d.split("=", 1) if "=" in d else (d, None) for d in defines)
    out = {}
    for name, value in items:
        if not name or not name.replace("_", "a").isalnum() or name[0].isdigit():
            raise OptionError(f"bad macro name {name!r} in defines")
        out[name] = None if value is None else str(value)
    return out


def _normalise_options(options) -> tuple:
    if isinstance(options, str):
        return tuple(options.split())
    return tuple(options)


def compile(source: str, *, name: Optional[str] = None, include_dirs: Iterable[str] = (),
            defines: Union[Mapping[str, object], Iterable[str], None] = None,
            library_dirs: Iterable[str] = (), libraries: Iterable[str] = (),
            options: Union[str, Iterable[str]] = (), link: Iterable["Module"] = (),
            hold_gil: Iterable[str] = (), backend: str = "tcc",
            compiler: Optional[str] = None, check: bool = False,
            guard: Optional[bool] = None) -> "Module":
    """Compile C source in memory and return a :class:`Module` of callable functions.

    Parameters
    ----------
    source : str
        A C translation unit. Every non-static function it defines becomes a callable attribute.
    name : str, optional
        A name for the module (shown in messages); defaults to one derived from the source.
    include_dirs, library_dirs : iterable of str
        Extra ``-I`` and ``-L`` directories.
    defines : dict or iterable of "NAME=VALUE", optional
        Preprocessor definitions (a value of None defines the name as 1).
    libraries : iterable of str
        Libraries to link, as for ``-l`` (e.g. ``["m"]``).
    options : str or iterable of str
        Extra compiler options, checked against a whitelist (``-O2``, ``-Wall``, ``-std=c11``, ...).
    link : iterable of Module
        Earlier modules whose functions and globals this source may call after declaring them
        (``long fib(int n);``). The new module keeps their code alive.
    hold_gil : iterable of str
        Names of functions to call with the GIL held (for C that uses Python's C API). All other
        functions release the GIL while they run.
    backend : str
        ``"tcc"`` (default): TinyCC in memory, compiles in milliseconds. ``"cc"``: the system C
        compiler, optimising, cached on disk (see :mod:`cx.backends.cc`).
    compiler : str, optional
        For ``backend="cc"``: the C compiler to run, a name on PATH or a path (``"clang"``,
        ``"gcc-12"``); default ``$CC``, else the first of ``cc``, ``gcc``, ``clang`` found.
    check : bool
        Checked mode (TinyCC's bounds checker, ``-b``): an out-of-bounds read or write, a double
        free or a use after free raises :class:`cx.BoundsError` naming the line, instead of
        corrupting memory. Code runs several times slower.
    guard : bool, optional
        Call every function through a crash guard (see :mod:`cx.guard`): a crash raises
        :class:`cx.CrashError` and the interrupt button (SIGINT) stops a running call, instead of
        killing the process. Default: on (with the ``"tcc"`` backend it also keeps line tables,
        ``-bt``, so errors name the line).

    Returns
    -------
    Module

    Raises
    ------
    CompileError
        The source does not compile or link; ``.diagnostics`` holds the compiler's messages with
        line numbers in ``source``.
    OptionError
        An option was refused.
    CrashError
        Not from compile itself: a guarded function raises it when its C code crashes.

    Examples
    --------
    >>> import cx
    >>> lib = cx.compile("int add(int a, int b) { return a + b; }")
    >>> lib.add(2, 3)
    5
    """
    if not isinstance(source, str):
        raise TypeError(f"source must be a str of C code, not {type(source).__name__}")
    declarations = _decls.parse(source)
    links = tuple(link)
    for m in links:
        if not isinstance(m, Module):
            raise TypeError(f"link= takes cx.Module objects, not {type(m).__name__}")
    symbols = {}
    for m in links:  # later modules win
        symbols.update(m.exports())
    wanted = {n for n, f in declarations.functions.items() if not f.defined}
    wanted |= {n for n, g in declarations.globals.items() if g.extern and not g.thread_local}
    wanted |= {s for n, g in declarations.globals.items() if g.extern and g.thread_local for s in tls.link_names(n)}
    settings = Settings(
        user_source=source,
        include_dirs=tuple(include_dirs) + _python_include(source),
        defines=_normalise_defines(defines),
        library_dirs=tuple(library_dirs),
        libraries=tuple(libraries),
        options=_normalise_options(options),
        symbols={n: a for n, a in symbols.items() if n in wanted},
        compiler=compiler,
    )
    if compiler is not None and backend != "cc":
        raise OptionError(f"compiler={compiler!r} applies to backend='cc' only; pass backend='cc' too")
    guard = _guard_settings(settings, backend, check, guard)
    code, guarded = _build(source, declarations, settings, backend, guard, frozenset(hold_gil))
    name = name or "cx_" + hashlib.sha1(source.encode()).hexdigest()[:8]
    return Module(code, declarations, name=name, source=source,
                  keep=tuple(m._code for m in links if m._code is not None), hold_gil=frozenset(hold_gil),
                  guarded=guarded, settings=settings)


def _guard_settings(settings, backend, check, guard) -> bool:
    """Whether to guard the calls; adds the options that checked mode and line numbers need."""
    if guard is None:
        guard = True
    if check:
        if backend != "tcc":
            raise OptionError(f"check=True needs TinyCC's bounds checker: backend='tcc', not {backend!r}")
        if not guard:
            raise OptionError("check=True needs the crash guard (guard=False would let the bounds "
                              "checker's exit() end the process)")
    options = tuple(settings.options)
    if check and "-b" not in options:
        settings.options = options + ("-b",)  # implies -bt
    elif guard and backend == "tcc" and not any(o == "-b" or o.startswith("-bt") for o in options):
        settings.options = options + ("-bt",)  # line tables: crashes name the line
    _guard.install()  # also turns a crash of the compiler itself into a CompileError
    return bool(guard)


def _build(source, declarations, settings, backend, guard, hold_gil):
    """The backend's code for ``source``, and whether it has the guard wrappers."""
    build = backends.get(backend).build
    try:
        code = build(unit.translation_unit(source, declarations, guard=guard, hold_gil=hold_gil), settings)
    except CompileError as exc:
        if not (guard and _guard.generated_code_failed(exc)):
            raise
        error = exc
    else:
        if guard and not code.sym(_guard.END_SYMBOL):  # swallowed by an unterminated comment
            warnings.warn("cx: calls are not crash-guarded: the source ends inside a comment",
                          RuntimeWarning, stacklevel=3)
            return code, False
        return code, guard
    # The wrappers after a source that does not end cleanly (an unclosed brace) get the blame:
    # compile without them, which either gives the source's own error, or, if it compiles, an
    # unguarded module (a wrapper cx could not generate).
    code = build(unit.translation_unit(source, declarations, guard=False), settings)
    first = next((str(d) for d in error.errors), error.summary)
    warnings.warn(f"cx: calls are not crash-guarded: the generated wrappers failed to compile ({first})",
                  RuntimeWarning, stacklevel=3)
    return code, False


class Module:
    """Compiled C code and its functions, structs and globals as attributes.

    A function is an attribute (``lib.add``) and an entry of :attr:`functions`; a struct or union
    type is a ``ctypes.Structure``/``Union`` class (``lib.Point(3, 4)``); a file-scope variable is
    read and assigned as an attribute (``lib.counter = 0``). Bound functions keep the machine code
    alive; after :meth:`close` they raise :class:`cx.ClosedError` instead of running.
    """

    def __init__(self, code, declarations, *, name, source, keep=(), hold_gil=frozenset(), guarded=False,
                 settings=None):
        d = self.__dict__
        d["_guarded"] = guarded  # functions are bound to their guard wrappers (cx.guard)
        d["name"] = name
        d["source"] = source
        d["declarations"] = declarations
        d["_code"] = code
        if code is not None:
            code.source = source  # for tools that show the code beside its lines (cx.asm)
        d["_keep"] = keep
        d["_hold_gil"] = hold_gil
        recipe = None if settings is None or code is None else layouts.Recipe(
            source, declarations, settings, "cc" if hasattr(code, "path") else "tcc")
        d["_types"] = binding.TypeTable(declarations, recipe)  # cx.layout asks the same compiler
        d["_bound"] = {}
        d["_globals"] = {}
        d["_exported"] = {n: f for n, f in declarations.functions.items() if f.defined and not f.static}
        d["_exported_globals"] = {n: g for n, g in declarations.globals.items() if not g.static and not g.extern}
        unknown = hold_gil - self._exported.keys()
        if unknown:
            raise OptionError(f"hold_gil names {sorted(unknown)}, which the source does not define")

    # -- introspection -------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._code is None

    @property
    def warnings(self) -> str:
        """The compiler's warnings for this source (text, one per line), or ""."""
        return "" if self._code is None else self._code.diagnostics

    @property
    def functions(self) -> dict:
        """Every exported function, name -> bound callable (binds them all)."""
        return {n: self._function(n) for n in self._exported}

    @property
    def structs(self) -> dict:
        """Every struct and union the source defines, name -> ctypes class."""
        return {n: self._types.struct(n) for n in self.declarations.structs}

    @property
    def globals(self) -> dict:
        """Every exported file-scope variable, name -> current value."""
        return {n: self._global(n).get() for n in self._exported_globals}

    def exports(self) -> dict:
        """Addresses of every exported function and global, name -> int (for linking).

        A ``_Thread_local`` global has no one address: it is listed under its name with the
        address of its initial value (no thread's copy), and under the symbols a module linking
        to it needs (:func:`cx.tls.link_names`).
        """
        self._check_open()
        out = {}
        for n in list(self._exported) + list(self._exported_globals):
            g = self._exported_globals.get(n)
            names = (n,) if g is None or not g.thread_local else tls.link_names(n)
            for s in names:
                addr = self._code.sym(s)
                if addr:
                    out[s] = addr
            if names[0] != n and names[0] in out:
                out[n] = out[names[0]]
        return out

    # -- attribute access ----------------------------------------------------------------------
    def _check_open(self):
        if self._code is None:
            raise ClosedError(f"module '{self.name}' is closed")

    def _function(self, n):
        fn = self._bound.get(n)
        if fn is None:
            self._check_open()
            decl = self._exported[n]
            addr = self._guarded and not decl.variadic and self._code.sym(_guard.wrapper_name(n))
            addr = addr or self._code.sym(n)
            if not addr:
                raise CxError(f"{n}() is declared but the compiled code has no symbol for it")
            fn = binding.bind_function(decl, addr, self._code, self._types, hold_gil=n in self._hold_gil)
            self._bound[n] = fn
        return fn

    def _global(self, n):
        decl = self._exported_globals[n]
        if decl.thread_local:  # the calling thread's own copy: never cached
            self._check_open()
            return binding.GlobalVariable(decl, tls.address(self._code, n), self._code, self._types)
        var = self._globals.get(n)
        if var is None:
            self._check_open()
            var = binding.GlobalVariable(self._exported_globals[n], self._code.sym(n), self._code, self._types)
            self._globals[n] = var
        return var

    def __getattr__(self, n):
        if n.startswith("__"):
            raise AttributeError(n)
        if n in self._exported:
            self._check_open()
            fn = self._function(n)
            self.__dict__[n] = fn
            return fn
        if n in self._exported_globals:
            self._check_open()
            return self._global(n).get()
        if n in self.declarations.structs:
            cls = self._types.struct(n)
            self.__dict__[n] = cls
            return cls
        raise AttributeError(f"module '{self.name}' has no function, struct or global named '{n}'")

    def __setattr__(self, n, value):
        if n in self._exported_globals:
            self._check_open()
            self._global(n).set(value)
        elif n in self._exported or n in self.declarations.structs:
            raise AttributeError(f"'{n}' is a C function or type of module '{self.name}' and cannot be assigned")
        else:
            raise AttributeError(f"module '{self.name}' has no C global named '{n}'")

    def __getitem__(self, n):
        """``lib["name"]``: a function by name, even one shadowed by a Module method (``close``)."""
        if n in self._exported:
            self._check_open()
            return self._function(n)
        raise KeyError(n)

    def __dir__(self):
        return sorted(set(super().__dir__()) | self._exported.keys() | self._exported_globals.keys()
                      | self.declarations.structs.keys())

    def __repr__(self):
        state = "closed" if self.closed else f"{len(self._exported)} functions"
        return f"<cx.Module '{self.name}' ({state})>"

    # -- life-cycle ----------------------------------------------------------------------------
    def close(self):
        """Free the machine code now. Later calls of this module's functions raise ClosedError.

        Modules compiled with ``link=[this]`` keep their own reference to the code, which is freed
        only when they are gone too. Closing twice is harmless.
        """
        code = self._code
        if code is None:
            return
        for fn in self._bound.values():
            binding.trap_function(fn, self.name)
        for n in list(self._bound):
            self.__dict__.pop(n, None)
        self.__dict__["_globals"] = {}
        self.__dict__["_code"] = None
        self.__dict__["_keep"] = ()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
