"""``cx.compile`` and :class:`Module`: C source in, callable functions out.

The path of one compile: the user's source is read for declarations (:mod:`cx.decls`, no system
headers), turned into one translation unit (:mod:`cx.unit`), compiled by a backend
(:mod:`cx.backends`), and bound lazily, one function at a time on first use (:mod:`cx.binding`).
"""
from __future__ import annotations

import hashlib
import shlex
import weakref
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Sequence, Union

from . import backends, binding, decls as _decls, guard as _guard, layouts, recipe as _recipe, tls, unit
from .errors import SOURCE_NAME, ClosedError, CompileError, CxError, Diagnostic, OptionError, parse_diagnostics

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
    """Options as a tuple of tokens, as a C compiler's argv has them. A str is split the way a
    shell splits it (``"-O2 -DMSG='\\"a b\\"'"``), as the ``%%cx --options`` flag is; a list is
    taken token by token (``['-DMSG="a b"']`` defines MSG as the string literal)."""
    if isinstance(options, str):
        try:
            return tuple(shlex.split(options))
        except ValueError as exc:
            raise OptionError(f"options {options!r}: {exc}") from None
    return tuple(str(o) for o in options)


@_recipe.recorded  # pickling: the module remembers these arguments (cx.recipe)
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
    _check_text(source)
    links = tuple(link)
    for m in links:
        if not isinstance(m, Module):
            raise TypeError(f"link= takes cx.Module objects, not {type(m).__name__}")
    if compiler is not None and backend != "cc":
        raise OptionError(f"compiler={compiler!r} applies to backend='cc' only; pass backend='cc' too")
    back = backends.get(backend)
    settings = Settings(
        user_source=source,
        include_dirs=tuple(include_dirs) + _python_include(source),
        defines=_normalise_defines(defines),
        library_dirs=tuple(library_dirs),
        libraries=tuple(libraries),
        options=_normalise_options(options),
        compiler=compiler,
    )
    guard = _guard_settings(settings, backend, check, guard)
    view = front(source, settings, back)
    declarations = view.declarations
    symbols, owners = {}, {}
    for m in links:  # later modules win
        for n, addr in m.exports().items():
            symbols[n], owners[n] = addr, m
    wanted = set()
    for n in declarations.undefined:
        wanted.update(tls.link_names(n) if declarations.thread_local(n) else (n,))
    settings.symbols = {n: a for n, a in symbols.items() if n in wanted}
    used = {id(owners[n]) for n in settings.symbols}  # only these stay alive with the new module
    hold_gil = frozenset(hold_gil)
    code = _build(back, view, declarations, settings, guard, hold_gil)
    name = name or "cx_" + hashlib.sha1(source.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    module = Module(code, declarations, name=name, source=source,
                    keep=tuple(m._code for m in links if m._code is not None and id(m) in used),
                    hold_gil=hold_gil,
                    guarded=guard, settings=settings)
    module.__dict__["undefined"] = frozenset(declarations.undefined)
    return module


def _build(back, view, declarations, settings, guard, hold_gil):
    """The backend's code for the source, with the crash guard's end marker when ``guard``.

    The marker (:func:`cx.guard.generate`) comes after the source: when the unit fails in it, the
    source is compiled alone, which gives its own error (a missing ``}``). A source that compiles
    alone but not with the marker is cx's bug, reported as such: calls are never left unguarded
    silently. (The calls themselves enter the guard in cx's call slot, ``_call.c``.)
    """
    text = unit.translation_unit(view.compiled_text, declarations, guard=guard, hold_gil=hold_gil,
                                 preprocessed=view.preprocessed)
    try:
        code = back.build(text, settings)
    except CompileError as exc:
        if not (guard and _guard.generated_code_failed(exc)):
            raise
        back.build(unit.translation_unit(view.compiled_text, declarations, guard=False,
                                         preprocessed=view.preprocessed), settings).close()
        raise CxError("cx could not guard the calls of this source: the crash guard's end marker did not "
                      f"compile ({next((str(d) for d in exc.errors), exc.summary)}); this is a bug in cx, "
                      "please report it with the source") from None
    if guard and not code.sym(_guard.END_SYMBOL):
        code.close()
        raise CxError("cx could not guard the calls of this source (its end marker is missing from the "
                      "compiled code); this is a bug in cx, please report it with the source")
    return code


def _layouts(declarations):
    """The compiler's own struct layouts for :class:`cx.binding.TypeTable` to check its classes
    against (:func:`cx.layouts.checker`), asked of TinyCC whatever the backend: the check is of
    the declarations' text, which TinyCC compiled or a C compiler's preprocessor wrote."""
    from .backends import tcc

    return layouts.checker(declarations, lambda text: tcc.build(text, Settings(user_source=text)))


def _check_text(source):
    """Refuse what no C compiler reads: a NUL character (TinyCC would silently stop there)."""
    at = source.find("\x00")
    if at >= 0:
        line = source.count("\n", 0, at) + 1
        column = at - (source.rfind("\n", 0, at) + 1) + 1
        raise CompileError("C compile failed", [Diagnostic(line, "error",
                           "the source contains a NUL character (\\x00); C source cannot contain one",
                           column=column)], source, name=SOURCE_NAME)


@dataclass
class View:
    """What :func:`front` makes of a source: its declarations, and the text the backend compiles."""

    declarations: _decls.Declarations
    compiled_text: str
    preprocessed: bool


def front(source: str, settings: Settings, back) -> View:
    """Preprocess ``source`` with the backend's own preprocessor and read its declarations.

    The declarations are those of the translation unit as the compiler sees it (every header,
    every macro, every ``#if``). A backend that compiles preprocessed text (``PREPROCESSED``)
    then compiles exactly that text, so the source is preprocessed once.
    """
    text = back.preprocess(f'#line 1 "{SOURCE_NAME}"\n' + source, settings)
    declarations = _decls.from_preprocessed(text, source_files=(back.STRING_FILE, SOURCE_NAME),
                                            system_dirs=back.system_dirs())
    if getattr(back, "PREPROCESSED", False):
        return View(declarations, back.compilable(text), True)
    return View(declarations, source, False)


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


class Module:
    """Compiled C code and its functions, structs and globals as attributes.

    A function is an attribute (``lib.add``) and an entry of :attr:`functions`; a struct or union
    type is a ``ctypes.Structure``/``Union`` class (``lib.Point(3, 4)``); a file-scope variable is
    read and assigned as an attribute (``lib.counter = 0``). Bound functions keep the machine code
    alive; after :meth:`close` they raise :class:`cx.ClosedError` instead of running.
    """

    #: Names the source declares without defining them (``long fib(int n);``, ``extern int n;``):
    #: what it takes from ``link=`` modules (or the process, for the C library's functions).
    undefined = frozenset()

    def __init__(self, code, declarations, *, name, source, keep=(), hold_gil=frozenset(), guarded=False,
                 settings=None):
        d = self.__dict__
        d["_guarded"] = guarded  # calls enter the crash guard (cx.guard, _call.c)
        d["name"] = name
        d["source"] = source
        d["declarations"] = declarations
        d["_code"] = code
        if code is not None:
            code.source = source  # for tools that show the code beside its lines (cx.asm)
        d["_keep"] = keep
        d["_hold_gil"] = hold_gil
        how = None if settings is None or code is None else layouts.LayoutSource(
            source, declarations, settings, "cc" if hasattr(code, "path") else "tcc")
        d["_types"] = binding.TypeTable(declarations, _layouts(declarations), how)  # how: for cx.layout
        d["_bound"] = {}
        d["_unbound"] = {}
        d["_globals"] = {}
        listed = code.defined() if code is not None else None  # what the compiler compiled
        # names only: a prototype is read when its function is first used (cx.decls.Reader)
        d["_exported"] = {n: None for n in declarations.defined_functions if listed is None or n in listed}
        d["_exported_globals"] = {n: None for n in declarations.defined_variables
                                  if listed is None or n in listed or declarations.thread_local(n)}
        # what the compiler defines but the declarations do not name (a K&R-style definition):
        # never silently missing, it is listed in `unbound` with the reason
        if listed is not None:
            for n in sorted(set(listed) - set(self._exported) - set(declarations.defined_variables)):
                if not n.startswith("__cx_"):
                    self._unbound[n] = (f"the compiler defines '{n}', but cx could not read its declaration "
                                        f"(a K&R-style definition such as 'int {n}(a, b) int a; int b; {{...}}' "
                                        f"is not read: write a prototype, 'int {n}(int a, int b) {{...}}')")
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
    def diagnostics(self) -> tuple:
        """The compiler's warnings as :class:`cx.Diagnostic` objects (line, severity, message), the
        same objects a :class:`cx.CompileError` carries; ``()`` when there are none."""
        text = self.warnings
        return tuple(parse_diagnostics(text)) if text else ()

    @property
    def functions(self) -> dict:
        """Every exported function Python can call, name -> bound callable (binds them all).

        One that cannot be bound (a variadic function, a struct ctypes cannot lay out) is left
        out, and :attr:`unbound` says why.
        """
        return self._every(self._exported, self._function)

    @property
    def structs(self) -> dict:
        """Every struct and union the source and its own headers define, name -> ctypes class
        (those ctypes cannot lay out are in :attr:`unbound`)."""
        return self._every(self.declarations.struct_names(), self._types.struct)

    @property
    def unbound(self) -> dict:
        """What the source exports but Python cannot use, name -> the reason (binds everything)."""
        self.functions, self.structs  # noqa: B018 -- binding them records what fails
        return dict(self._unbound)

    def _every(self, names, bind):
        out = {}
        for n in names:
            try:
                out[n] = bind(n)
            except CxError as exc:
                self._unbound[n] = str(exc)
        return out

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
            local = n in self._exported_globals and self.declarations.thread_local(n)
            names = tls.link_names(n) if local else (n,)
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
            decl = self.declarations.function(n)
            if decl is None:
                raise CxError(f"{n}() is compiled but cx could not read its prototype")
            addr = self._code.sym(n)
            if not addr:
                raise CxError(f"{n}() is declared but the compiled code has no symbol for it")
            fn = binding.bind_function(decl, addr, self._code, self._types, hold_gil=n in self._hold_gil,
                                       guarded=self._guarded)
            fn._cx_recipe, fn._cx_module = self.__dict__.get("_recipe"), weakref.ref(self)  # cx.recipe
            self._bound[n] = fn
        return fn

    def _global(self, n):
        decl = self.declarations.variable(n)
        if decl is None:
            raise CxError(f"'{n}' is compiled but cx could not read its declaration")
        if decl.thread_local:  # the calling thread's own copy: never cached
            self._check_open()
            return binding.GlobalVariable(decl, tls.address(self._code, n), self._code, self._types)
        var = self._globals.get(n)
        if var is None:
            self._check_open()
            var = binding.GlobalVariable(decl, self._code.sym(n), self._code, self._types)
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
        if self.declarations.struct(n) is not None:
            cls = self._types.struct(n)
            self.__dict__[n] = cls
            return cls
        if n in self._unbound:
            raise AttributeError(f"module '{self.name}': {self._unbound[n]}")
        raise AttributeError(f"module '{self.name}' has no function, struct or global named '{n}'")

    def __setattr__(self, n, value):
        if n in self._exported_globals:
            self._check_open()
            self._global(n).set(value)
        elif n in self._exported or self.declarations.struct(n) is not None:
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
                      | set(self.declarations.struct_names()))

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

    def __reduce__(self):
        """Pickled by recipe: the other side compiles the same source again (see :mod:`cx.recipe`)."""
        return _recipe.reduce_module(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
