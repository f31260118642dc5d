"""``cx.compile`` and :class:`Module`: C source in, callable functions out.

The path of one compile: the options become a build record (:class:`cx.build.Build`); the source
is preprocessed by the backend and read for declarations (:mod:`cx.build.steps`, :mod:`cx.cread`),
turned into one translation unit and compiled by a backend (:mod:`cx.build.backends`), and bound
lazily, one function at a time on first use (:mod:`cx.bind`).

Pickling: a module travels as its build record, and its functions and struct classes travel as
their module's record and their name; the receiving process compiles the record again, once
(:mod:`cx.build.cache`). See :mod:`cx.recipe` for what can and cannot travel.
"""
from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import re
import weakref
from typing import Iterable, Mapping, Optional, Union

from . import bind
from .bind import check as _check
from .bind import enums as _enums
from .build import backends, cache, constants, libraries, steps, tls, unit
from .build.record import Build
from .errors import (SOURCE_NAME, ClosedError, CompileError, CxError, Diagnostic, OptionError, PicklingError,
                     parse_diagnostics)
from .runtime import guard as _guard

__all__ = ["compile", "Module", "build_module"]

_RESERVED = re.compile(r"_[_A-Z]")


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
        compiler, optimising, cached on disk (see :mod:`cx.build.backends.cc`).
    compiler : str, optional
        For ``backend="cc"``: the C compiler to run, a name on PATH or a path (``"clang"``,
        ``"gcc-12"``); default ``$CC``, else the first of ``cc``, ``gcc``, ``clang`` found.
    check : bool
        Checked mode (TinyCC's bounds checker, ``-b``): an out-of-bounds read or write, a double
        free or a use after free raises :class:`cx.BoundsError` naming the line, instead of
        corrupting memory. Code runs several times slower.
    guard : bool, optional
        Call every function through a crash guard (see :mod:`cx.runtime.guard`): a crash raises
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
    record = Build.of(source, name=name, include_dirs=include_dirs, defines=defines, library_dirs=library_dirs,
                      libraries=libraries, options=options, hold_gil=hold_gil, backend=backend, compiler=compiler,
                      check=check, guard=guard)
    return build_module(record, link)


def build_module(record: Build, links=(), *, shown: Optional[str] = None) -> "Module":
    """Compile what ``record`` describes, linked to the modules ``links``, and return the
    :class:`Module`; the record is given the records of those modules. ``shown``: how compile
    errors name the file of a record made by :func:`cx.load` (default: its path).
    """
    links = tuple(links)
    for m in links:
        if not isinstance(m, Module):
            raise TypeError(f"link= takes cx.Module objects, not {type(m).__name__}")
    if links:
        record = record.replace(links=tuple(m.__dict__.get("_record") for m in links))
    try:
        return _build_module(record, links)
    except CompileError as exc:
        if record.file is not None:
            _name_file(exc, shown or record.file)
        raise


def _build_module(record, links, cache=True):
    source = record.source
    steps.check_text(source)
    back = backends.get(record["backend"])
    settings = record.settings()
    guard = _guard_settings(settings, record["backend"], record["check"], record["guard"])
    api = record["api"]
    found = libraries.load(record["libraries"], record["library_dirs"]) if api else None  # before compiling
    prepared = steps.prepare(source, settings, back, api=api, units=record["units"], cache=cache)
    # TinyCC compiles on another thread while this one reads the declarations (when it can)
    early = steps.EarlyCode(back, prepared, settings, guard) if steps.EarlyCode.possible(back, prepared, links) \
        else None
    declarations = prepared.declarations
    symbols, owners = {}, {}
    for m in links:  # later modules win
        for n, addr in m.exports().items():
            symbols[n], owners[n] = addr, m
    wanted = set()
    for n in declarations.undefined:
        wanted.update(tls.link_names(n) if declarations.thread_local(n) else (n,))
    settings.symbols = {n: a for n, a in symbols.items() if n in wanted}
    _one_definition_per_tag(declarations, links, source)
    used = {id(owners[n]) for n in settings.symbols}  # only these stay alive with the new module
    code = early.take(declarations) if early is not None else None
    try:
        if code is None:
            code = steps.make_code(back, prepared, settings, guard)
    except CompileError:
        if not prepared.cached:
            raise
        code = None
    if code is None:  # an error is the whole compile's, exactly (outside the except: one traceback)
        return _build_module(record, links, cache=False)
    name = record["name"] or "cx_" + hashlib.sha1(source.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    module = Module(code, declarations, name=name, source=source,
                    keep=tuple(m._code for m in links if m._code is not None and id(m) in used),
                    hold_gil=frozenset(record["hold_gil"]), guarded=guard, settings=settings, record=record,
                    constants=constants.Constants(prepared.directives, declarations.view, steps.layout_build,
                                                  reserved=not api, enumerators=code.enumerator_values),
                    libraries=found)
    module.__dict__["undefined"] = frozenset(declarations.undefined)
    return module


def _one_definition_per_tag(declarations, links, source):
    """Modules linked together are one program: a struct, union or named enum one defines must be
    the same definition in another (C's one-definition rule across files). Two that differ are
    refused, naming both places, before anything is compiled."""
    if not links:
        return
    mine = set(declarations.struct_names())
    for m in links:
        differing = _enums.differing(declarations.view, m.declarations.view)
        if differing is not None:
            n, (file, line), (there_file, there_line) = differing
            raise CompileError("C compile failed", [Diagnostic(
                line if file == SOURCE_NAME else None, "error",
                f"enum {n} is defined here ({file}:{line}) otherwise than in module '{m.name}' "
                f"({there_file}:{there_line}), which this source links to: one C type needs one definition",
                file=file)], source, name=SOURCE_NAME)
        for n in mine & set(m.declarations.struct_names()):
            if declarations.definition_text(n) != m.declarations.definition_text(n):
                here, there = declarations.struct(n), m.declarations.struct(n)
                raise CompileError("C compile failed", [Diagnostic(
                    here.line if here.file == SOURCE_NAME else None, "error",
                    f"struct {n} is defined here ({here.file}:{here.line}) otherwise than in module '{m.name}' "
                    f"({there.file}:{there.line}), which this source links to: one C type needs one definition",
                    file=here.file)], source, name=SOURCE_NAME)


def _name_file(exc, shown):
    """Make a compile error name the file: ``kernels.c:12: error: ...`` (and in include chains)."""
    exc.name = shown
    exc.diagnostics = [dataclasses.replace(d, message=d.message.replace(f"{SOURCE_NAME}:", f"{shown}:"))
                       for d in exc.diagnostics]


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
                 settings=None, record=None, constants=None, libraries=None):
        d = self.__dict__
        d["_guarded"] = guarded  # calls enter the crash guard (cx.runtime.guard, _call.c)
        d["name"] = name
        d["source"] = source
        d["declarations"] = declarations
        d["_code"] = code
        code.source = source  # for tools that show the code beside its lines (cx.tools.asm)
        d["_keep"] = keep
        d["_hold_gil"] = hold_gil
        d["_record"] = record  # how it was built: what pickling sends (cx.build.record)
        d["_constants"] = constants  # enumeration constants and macros, valued when first asked
        d["_enums"] = _enums.EnumTable(declarations.view, constants) if constants is not None else None
        backend = record["backend"] if record is not None else "tcc"
        types = bind.TypeTable(declarations, _check.checker(declarations, steps.layout_build),
                               sizes=_check.field_sizes(declarations, steps.layout_build),
                               settings=settings, backend=backend,  # settings, backend: for cx.layout
                               enum_ctype=d["_enums"].ctype if d["_enums"] is not None else None)
        types.module, types.record = weakref.ref(self), record  # struct classes and values pickle by it
        d["_types"] = types
        d["_bound"] = {}
        d["_unbound"] = {}
        d["_globals"] = {}
        listed = code.defined()  # what the compiler compiled (None: the backend cannot say)
        # names only: a prototype is read when its function is first used (cx.cread.Reader)
        d["_exported"] = {n: None for n in declarations.defined_functions if listed is None or n in listed}
        left_out = code.inline_left_out
        for n in declarations.inline_functions:  # a header's static inline functions (cx.build.unit)
            if n in left_out:
                self._unbound[n] = left_out[n]
            else:
                d["_exported"].setdefault(n, None)
        d["_exported_globals"] = {n: None for n in declarations.defined_variables
                                  if listed is None or n in listed or declarations.thread_local(n)}
        # what the compiler defines but the declarations do not name (a K&R-style definition):
        # never silently missing, it is listed in `unbound` with the reason
        for n in sorted(set(listed or ()) - set(self._exported) - set(declarations.defined_variables)):
            if not n.startswith("__cx_"):
                self._unbound[n] = (f"the compiler defines '{n}', but cx could not read its declaration "
                                    f"(a K&R-style definition such as 'int {n}(a, b) int a; int b; {{...}}' "
                                    f"is not read: write a prototype, 'int {n}(int a, int b) {{...}}')")
        d["_library"] = {}  # what the API headers declare and the libraries define: name -> address
        if libraries is not None:
            self._bind_library(libraries)
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
        """``{name: bind(name)}`` for every name that binds; the others go to :attr:`unbound` with
        the reason. Never raises: one declaration cx cannot read does not hide the rest."""
        out = {}
        for n in names:
            try:
                out[n] = bind(n)
            except CxError as exc:
                self._unbound[n] = str(exc)
            except (LookupError, TypeError, ValueError, AttributeError, RecursionError) as exc:
                self._unbound[n] = (f"cx could not read it ({type(exc).__name__}: {exc}); this is a bug in cx, "
                                    "please report it with the source")
        return out

    @property
    def globals(self) -> dict:
        """Every exported file-scope variable, name -> current value."""
        return {n: self._global(n).get() for n in self._exported_globals}

    def exports(self) -> dict:
        """Addresses of every exported function and global, name -> int (for linking).

        A ``_Thread_local`` global has no one address: it is listed under its name with the
        address of its initial value (no thread's copy), and under the symbols a module linking
        to it needs (:func:`cx.build.tls.link_names`).
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
            addr = self._address(n)
            if not addr:
                raise CxError(f"{n}() is declared but the compiled code has no symbol for it")
            enum = self._enum(decl.result.name) if decl.result.kind == "enum" and decl.result.name else None
            fn = bind.bind_function(decl, addr, self._code, self._types, hold_gil=n in self._hold_gil,
                                    guarded=self._guarded, module=self, record=self._record, enum=enum)
            self._bound[n] = fn
        return fn

    def _bind_library(self, libraries):
        """``cx.include``: every function and variable the API headers declare, found in the
        libraries; one that is not is in :attr:`unbound` with the reason."""
        d, view = self.__dict__, self.declarations.view
        d["_keep"] = (*d["_keep"], libraries)  # the libraries stay open as long as the module
        found = libraries.addresses(self.declarations.undefined)
        for n in self.declarations.undefined:
            address = found.get(n)
            if address is None:  # said for the API's declarations (cx.build.api), not the system's,
                # nor for names C reserves for the implementation (glibc's __acos beside acos)
                if not _RESERVED.match(n) and any(view.chunks[i].user for i in view.chunks_of(n)):
                    what = f"{n}()" if view.is_function(n) else f"'{n}'"
                    self._unbound[n] = f"{what} is declared by the header but {libraries.missing(n)}"
                continue
            self._library[n] = address
            if view.is_function(n):
                d["_exported"].setdefault(n, None)
            else:
                d["_exported_globals"].setdefault(n, None)

    def _address(self, n):
        """Where the function ``n`` is: its symbol, for a header's static inline function the
        pointer the unit stores its address in (:func:`cx.build.unit.inline_address_symbol`), for
        a function an API header declares its library's."""
        if n in self._library:
            return self._library[n]
        if n in self.declarations.inline_functions and n not in self.declarations.defined_functions:
            holder = self._code.sym(unit.inline_address_symbol(n))
            return ctypes.c_void_p.from_address(holder).value if holder else None
        return self._code.sym(n)

    def _global(self, n):
        decl = self.declarations.variable(n)
        if decl is None:
            raise CxError(f"'{n}' is compiled but cx could not read its declaration")
        if decl.thread_local:  # the calling thread's own copy: never cached
            self._check_open()
            return bind.GlobalVariable(decl, tls.address(self._code, n), self._code, self._types)
        var = self._globals.get(n)
        if var is None:
            self._check_open()
            address = self._library.get(n) or self._code.sym(n)
            var = bind.GlobalVariable(decl, address, self._code, self._types)
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
        if self._constants is not None and n in self._constants.names():
            values = self._constants.values()
            if n in values:
                return values[n]
            why = self._constants.left_out().get(n, "the compiler does not take it as a constant expression")
            raise AttributeError(f"module '{self.name}': the macro {n} is not a constant ({why})")
        enum = self._enum(n)
        if enum is not None:
            return enum
        if n in self._unbound:
            raise AttributeError(f"module '{self.name}': {self._unbound[n]}")
        why = ""
        if not self._exported:  # nothing callable at all: say what cx binds
            why = (" (it binds no function: cx binds the functions the source defines, not static, and the "
                   "static inline functions of its own headers; a function it only declares comes from "
                   "link= modules, and an installed library's from cx.include(header, libraries=[...]))")
        raise AttributeError(f"module '{self.name}' has no function, struct, global or constant named '{n}'{why}")

    @property
    def constants(self) -> dict:
        """The enumeration constants and object-like macros of the source and its own headers
        that the compiler values as constants, name -> int, float or str (``lib.LIMIT``). Values
        come from the compiler, asked once when the first one is wanted (see
        :mod:`cx.build.constants`); macros of system headers are not listed."""
        return dict(self._constants.values()) if self._constants is not None else {}

    @property
    def enums(self) -> dict:
        """Every named enumeration of the source and its own headers, name -> an
        :class:`enum.IntEnum` class (``lib.color.GREEN == 5``): one class per definition for the
        whole process, shared by every module and cell that defines it alike (:mod:`cx.bind.enums`)."""
        return self._enums.all() if self._enums is not None else {}

    def _enum(self, n):
        """The :class:`enum.IntEnum` of the named enumeration ``n`` of the source, or None."""
        return self._enums.get(n) if self._enums is not None else None

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
        constants = set(self._constants.names()) if self._constants is not None else set()
        return sorted(set(super().__dir__()) | self._exported.keys() | self._exported_globals.keys()
                      | set(self.declarations.struct_names()) | constants)

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
            bind.trap_function(fn, self.name)
        for n in list(self._bound):
            self.__dict__.pop(n, None)
        self.__dict__["_globals"] = {}
        self.__dict__["_code"] = None
        self.__dict__["_keep"] = ()

    def __reduce__(self):
        """Pickled by recipe: the other side compiles the same source again (see :mod:`cx.recipe`)."""
        return cache.rebuilt_module, (self._shippable(f"module '{self.name}'"),)

    def _shippable(self, what, function=None):
        """The record that rebuilds this module elsewhere (this module is what it builds here);
        :class:`cx.PicklingError` when it cannot travel."""
        record = self.__dict__.get("_record")
        if self.closed:
            raise PicklingError(f"cannot pickle {what}: " + ("it is closed" if function is None else
                                                             "its module is closed"))
        if record is None:
            raise PicklingError(f"cannot pickle {what}: cx does not know how "
                                f"{'it' if function is None else 'its module'} was built")
        return cache.ship(record, what, function=function, module=self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- unpickling: the record compiled again, once per process (cx.build.cache) --------------------

def _rebuild(record):
    links = [cache.module_for(link, _rebuild) for link in record.links]
    try:
        return build_module(record, links)
    except CompileError as exc:
        exc.summary = f"{exc.summary} (rebuilding a pickled cx module in this process)"
        raise


cache.set_builder(_rebuild)
