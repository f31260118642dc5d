"""The IPython extension of cx: ``%load_ext cx`` adds the ``%%cx`` cell magic and ``%cx``.

Loading also routes C's ``stdout``/``stderr`` into ``sys.stdout``/``sys.stderr`` (:mod:`cx.runtime.capture`),
so ``printf`` from compiled code shows in the output of the cell that called it, in order with
Python's prints, and flushes C's buffers after every cell. This is the only module of cx that
imports IPython.
"""
from __future__ import annotations

import argparse
import ast
import builtins
import re
import shlex
import sys
import weakref

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import MagicHelpFormatter, argument, kwds, magic_arguments, parse_argstring
from IPython.display import display

from cx.bind import FunctionInfo
from cx.bind.types import StructType, UnionType
from cx.errors import CompileError, CrashError, CxError, OptionError
from cx.module import Module
from cx.runtime import capture, guard
from cx.files import include, load
from cx.tools.ctimeit import timeit

from . import notices
from .session import Session

__all__ = ["CxMagics", "load_ipython_extension", "unload_ipython_extension"]

def _split_options(text):
    """``--options`` as tokens, split once as a shell splits. IPython's argument parser keeps the
    quotes around the flag's value (``"-O2 -Wall"``): one outer pair is the shell's, not the
    value's."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    try:
        return tuple(shlex.split(text))
    except ValueError as exc:
        raise UsageError(f"%%cx --options {text!r}: {exc}") from None


#: How each parsed option reaches ``cx.compile``: argument name -> (keyword, conversion). The one
#: place to extend when an option is added; options not listed here only steer the magic itself.
COMPILE_OPTIONS = {
    "name": ("name", str),
    "include_dirs": ("include_dirs", tuple),
    "defines": ("defines", tuple),
    "library_dirs": ("library_dirs", tuple),
    "libraries": ("libraries", tuple),
    "options": ("options", lambda text: _split_options(text)),
    "hold_gil": ("hold_gil", tuple),
    "check": ("check", bool),
}


def _backend_options(args) -> dict:
    """``--cc [COMPILER]``: the system compiler backend, and which compiler when one is named."""
    if args.cc is None:
        return {}
    return {"backend": "cc", **({"compiler": args.cc} if args.cc else {})}


def compile_options(args) -> dict:
    """The ``cx.compile`` keyword arguments for parsed ``%%cx`` options (unset ones left out)."""
    out = {}
    for dest, (keyword, convert) in COMPILE_OPTIONS.items():
        value = getattr(args, dest, None)
        if value:
            out[keyword] = convert(value)
    out.update(_backend_options(args))
    return out


class _HelpFormatter(MagicHelpFormatter):
    """``%%cx?`` options as argparse writes them (``--cc [COMPILER]``, ``-D NAME[=VALUE]``), not in
    the ``<...>`` IPython adds for reStructuredText."""

    def _format_action_invocation(self, action):
        return argparse.HelpFormatter._format_action_invocation(self, action)


def _paths(magic):
    """The options ``%cxinclude`` and ``%cxload`` share with ``%%cx``: -I, -D, -l, -L."""
    for add in (argument("-L", dest="library_dirs", metavar="DIR", action="append",
                         help="add DIR to the library search path (repeatable)"),
                argument("-l", dest="libraries", metavar="LIB", action="append",
                         help="link the library LIB, e.g. -l z (repeatable)"),
                argument("-D", dest="defines", metavar="NAME[=VALUE]", action="append",
                         help="define a preprocessor macro (repeatable)"),
                argument("-I", dest="include_dirs", metavar="DIR", action="append",
                         help="add DIR to the #include search path (repeatable)")):
        magic = add(magic)
    return magic


def _path_options(args) -> dict:
    """The ``cx.include``/``cx.load`` keyword arguments of :func:`_paths`'s options (set ones only)."""
    return {key: tuple(getattr(args, key)) for key in ("include_dirs", "defines", "libraries", "library_dirs")
            if getattr(args, key)}


@magics_class
class CxMagics(Magics):
    """The ``%%cx`` magic and the session it remembers (:class:`cx.magics.session.Session`)."""

    def __init__(self, shell):
        super().__init__(shell)
        self.session = Session()
        self._bound = {}  # name -> weak reference to what this magic put in user_ns
        self._values = {}  # name -> a constant this magic put in user_ns (ints and strs take no weak reference)
        self.failed = notices.FailedCells()  # names of cells that did not compile (NameError hints)
        self.hinting = False  # name_error is the shell's custom exception handler

    @magic_arguments()
    @kwds(usage="%%cx [options]", formatter_class=_HelpFormatter)  # IPython adds one "%"; argparse eats one
    @argument("-n", "--name", metavar="NAME",
              help="also bind the compiled module under NAME (for its globals, .close(), ...)")
    @argument("-I", dest="include_dirs", metavar="DIR", action="append",
              help="add DIR to the #include search path (repeatable)")
    @argument("-D", dest="defines", metavar="NAME[=VALUE]", action="append",
              help="define a preprocessor macro (repeatable)")
    @argument("-l", dest="libraries", metavar="LIB", action="append",
              help="link the library LIB, e.g. -l m (repeatable)")
    @argument("-L", dest="library_dirs", metavar="DIR", action="append",
              help="add DIR to the library search path (repeatable)")
    @argument("--options", metavar='"FLAGS"',
              help='extra compiler flags from cx\'s whitelist, quoted: --options "-O2 -Wall"')
    @argument("--cc", nargs="?", const="", default=None, metavar="COMPILER",
              help="compile with the system C compiler (optimising, cached on disk) instead of "
                   "TinyCC; optionally name it (--cc clang); flags go in --options")
    @argument("--check", action="store_true",
              help="checked mode: TinyCC's bounds checker turns out-of-bounds access, double "
                   "free and use after free into exceptions naming the line")
    @argument("--hold-gil", dest="hold_gil", metavar="FUNCTION", action="append",
              help="call FUNCTION with the GIL held (for C that uses Python's C API; repeatable)")
    @argument("--asm", action="store_true",
              help="show the machine code of each function beside its source lines (needs "
                   "pip install \"cx[asm]\", or pip install -e \".[asm]\" in a checkout; with --cc, also "
                   "compiles with -g for the lines)")
    @argument("-v", "--verbose", action="store_true",
              help="show what was compiled, linked and bound, and how long it took")
    @argument("-f", "--force", action="store_true",
              help="compile even if this cell was compiled before with the same options")
    @line_cell_magic
    def cx(self, line, cell=None):
        """Compile C source in memory and bind its functions and structs into the namespace.

        Every function the cell defines (and does not declare ``static``) becomes a Python callable
        of the same name; the GIL is released while it runs. Every struct, union and typedef'd
        struct becomes a ``ctypes`` class. ``printf`` output appears in the output of the cell that
        calls the function. A compile error fails the cell and shows the compiler's message with
        the cell's line number, counted as the editor does (the ``%%cx`` line is line 1); so do
        crashes and interrupts of its functions.

        A later cell can call a function of an earlier ``%%cx`` cell after declaring its prototype
        (``long fib(int n);``); defining a function again replaces it for later cells. Running an
        unchanged cell again reuses the compiled code (``-f`` compiles it afresh, which also resets
        its global variables).

        ``%cx SOURCE`` compiles one line of C with the default options.

        Example::

            %%cx -n mathlib -l m
            #include <math.h>
            #include <stdio.h>
            double hyp(double a, double b) { return sqrt(a * a + b * b); }
            void hello(const char *who) { printf("hello, %s\\n", who); }

        then ``hyp(3, 4)`` returns 5.0 and ``hello("notebook")`` prints ``hello, notebook``.
        """
        if cell is None:
            if not line.strip():
                raise UsageError("%cx needs C source on the same line, e.g. "
                                 "%cx int twice(int x) { return 2 * x; }   (use %%cx for a cell)")
            args, source = parse_argstring(self.cx, ""), line
        else:
            # A blank first line stands for the "%%cx" line: every line number cx reports (compile
            # errors, warnings, crashes, interrupts) is then the one the editor's gutter shows.
            args, source = parse_argstring(self.cx, line), "\n" + cell
        options = compile_options(args)
        if args.asm and options.get("backend") == "cc" and "-g" not in options.get("options", ()):
            options["options"] = options.get("options", ()) + ("-g",)  # DWARF lines for the listing
        try:
            result = self.session.run(source, options, force=args.force)
        except OptionError as e:
            raise UsageError(f"%%cx: {e}") from None
        except CompileError as e:
            if cell is not None:  # the editor's lines are the cell's: its marks (cx-highlight)
                self._display(notices.diagnostics_bundle(e.diagnostics, source))
            self.failed.failed(source, e, f"In [{self.shell.execution_count}]")
            raise
        self._show_warnings(result.module, source, editor=cell is not None)
        guard.remember_source(result.module)  # a crash shows its line of this cell
        bound = self._bind(result.module, args.name)
        if args.verbose:
            self._report(result, source, bound)
        if args.asm:
            self._show_asm(bound)

    @magic_arguments()
    @kwds(usage="%%cxload FILE [FILE ...] [options]", formatter_class=_HelpFormatter)
    @argument("files", metavar="FILE", nargs="+", help="C files, compiled as one module (each its own unit)")
    @_paths
    @argument("-n", "--name", metavar="NAME", help="bind the module under NAME (default: the first file's name)")
    @line_magic
    def cxload(self, line):
        """Compile C files as one module and bind it: ``%cxload queue.c log.c -I include``.

        Each file is its own translation unit (its ``static`` names its own), linked with the
        others in one TinyCC state; compile errors name the file and line. Functions, structs,
        enums and constants are bound as for ``%%cx``, and the module under the first file's name
        (or ``-n NAME``). See ``cx.load``.
        """
        args = parse_argstring(self.cxload, line)
        options = _path_options(args)
        try:
            module = load(args.files, name=args.name, **options)
        except (OptionError, FileNotFoundError, IsADirectoryError, ValueError) as e:
            raise UsageError(f"%cxload: {e}") from None
        self._show_warnings(module, "", editor=False)
        self._bind(module, module.name)

    @magic_arguments()
    @kwds(usage="%%cxinclude HEADER [options]", formatter_class=_HelpFormatter)
    @argument("header", metavar="HEADER", help="the library's header: zlib.h, or a path to a header")
    @_paths
    @argument("-n", "--name", metavar="NAME", help="bind the module under NAME (default: the header's name)")
    @line_magic
    def cxinclude(self, line):
        """Bind an installed C library from its header: ``%cxinclude zlib.h -l z``.

        Every function the header declares and the library defines becomes a Python callable of
        the same name, and so do its constants (``Z_OK``, ``#define`` constants), enums and
        structs; the module is bound under the header's name (``zlib``), or ``-n NAME``. See
        ``cx.include``.

        Example::

            %cxinclude zlib.h -l z
            crc32(0, b"hello", 5), Z_BEST_COMPRESSION, zlib.ZLIB_VERSION
        """
        args = parse_argstring(self.cxinclude, line)
        options = _path_options(args)
        try:
            module = include(args.header, name=args.name, **options)
        except OptionError as e:
            raise UsageError(f"%cxinclude: {e}") from None
        self._show_warnings(module, "", editor=False)
        self._bind(module, module.name)

    @magic_arguments()
    @argument("-n", dest="number", type=int, default=0, metavar="N",
              help="calls per run (default: enough for a run to last at least 0.2 s)")
    @argument("-r", dest="repeat", type=int, default=7, metavar="R", help="runs (default 7)")
    @argument("-q", dest="quiet", action="store_true", help="print nothing")
    @argument("-o", dest="output", action="store_true", help="return the cx.tools.ctimeit.TimeitResult")
    @argument("statement", nargs="*", help="the call to time: f(a, b, n), f a cx function")
    @line_magic
    def cxtimeit(self, line):
        """Time a call of a C function in a loop that runs in C: ``%cxtimeit f(a, b, n)``.

        The arguments are evaluated and converted once, as for a call from Python; then cx's timing
        loop (C built with cx) calls ``f`` through a function pointer, so the result is what the C
        costs, without Python's call overhead (which is shown beside it). The output reads like
        ``%timeit``'s: mean ± std. dev. of R runs, L loops each. See ``cx.timeit``.

        Example::

            %cxtimeit dot(x, y, len(x))
            %cxtimeit -n 1000 -r 3 add(1, 2)
        """
        m = re.match(r"((?:\s*-[nr]\s*\d+|\s*-[qo](?=\s))*)\s*(.*)$", line, re.S)
        args = parse_argstring(self.cxtimeit, m.group(1))
        function, values = self._parse_call(m.group(2).strip())
        try:
            result = timeit(function, *values, repeat=args.repeat, number=args.number)
        except (TypeError, ValueError, OverflowError, CxError) as e:  # the arguments, or f itself
            if isinstance(e, CrashError):
                raise
            raise UsageError(f"%cxtimeit: {e}") from None
        if not args.quiet:
            print(result)
        return result if args.output else None

    def _parse_call(self, statement):
        """``f(a, b)`` -> (the object f, [a, b]), evaluated in the user's namespace."""
        try:
            tree = ast.parse(statement, mode="eval")
        except SyntaxError as e:
            raise UsageError(f"%cxtimeit: {statement!r} is not a call: {e.msg}") from None
        call = tree.body
        if not isinstance(call, ast.Call) or call.keywords:
            raise UsageError("%cxtimeit times one call of a cx function with positional arguments, e.g. "
                             "%cxtimeit f(a, b, n)")
        ns = self.shell.user_ns

        def value(node):
            return eval(compile(ast.Expression(node), "<cxtimeit>", "eval"), ns)

        values = []
        for node in call.args:
            if isinstance(node, ast.Starred):
                values.extend(value(node.value))
            else:
                values.append(value(node))
        return value(call.func), values

    # -- pieces of one run -----------------------------------------------------------------------
    def _bind(self, module, name):
        """Put the module's functions, struct classes, enums and constants in the user namespace."""
        ns = self.shell.user_ns
        found = dict(module.functions)
        structs = module.structs
        unbound = module.unbound  # e.g. variadic: callable from C cells, not from Python
        for sname, cls in structs.items():
            found.setdefault(sname, cls)  # a function of the same name wins
        for ename, cls in module.enums.items():
            found.setdefault(ename, cls)  # enum color -> color.GREEN
        for cname, value in module.constants.items():
            found.setdefault(cname, value)  # enumeration constants and #define constants
        if name:
            found[name] = module
        for key, obj in found.items():
            old = ns.get(key, builtins)
            ref = self._bound.get(key)
            ours = (ref is not None and ref() is old) or _is_cx(old) or (key in self._values and self._values[key] is old)
            notice = notices.replaced(key, old, obj, ours=ours)
            if notice:
                print(notice)
            ns[key] = obj
            try:
                self._bound[key] = weakref.ref(obj)
                self._values.pop(key, None)
            except TypeError:  # a constant (int, float, str): remembered by value
                self._bound.pop(key, None)
                self._values[key] = obj
        self.failed.bound(found)
        for key, why in unbound.items():
            old = self._bound.pop(key, None)
            if old is not None and old() is not None and ns.get(key) is old():
                del ns[key]  # the old binding would run old code: better absent than stale
            print(f"cx: {key} is not bound in Python: {why}", file=sys.stderr)
        return found

    @staticmethod
    def _show_asm(bound):
        """``--asm``: display the disassembly of every function the cell bound (cx.tools.asm)."""
        for obj in bound.values():
            if hasattr(obj, "disassemble"):
                try:
                    display(obj.disassemble())
                except CxError as e:  # e.g. capstone missing: the cell compiled, say why no listing
                    raise UsageError(f"%%cx --asm: {e}") from None

    @staticmethod
    def _display(bundle):
        if bundle:
            display(bundle, raw=True)

    def _show_warnings(self, module, source, editor):
        """Warnings as warnings (not in the red box of errors); for a %%cx cell, also as marks
        in its editor (cx-highlight)."""
        diagnostics = module.diagnostics  # parsed from the compiler's text on each access
        if diagnostics:
            bundle = notices.warnings_bundle(diagnostics, source)
            if not editor:
                bundle.pop(notices.DIAGNOSTICS_MIME, None)
            self._display(bundle)

    def name_error(self, shell, etype, value, tb, tb_offset=None):
        """Custom exception handler for NameError (``set_custom_exc``): a name that a %%cx cell
        which failed to compile would have defined says so, and where; other NameErrors are shown
        exactly as IPython shows them."""
        name = getattr(value, "name", None)
        if name is None and value.args and isinstance(value.args[0], str):
            m = re.match(r"name '(\w+)' is not defined", value.args[0])
            name = m and m.group(1)
        extra = self.failed.explain(name) if name else None
        if extra and len(value.args) == 1 and isinstance(value.args[0], str) and extra not in value.args[0]:
            value.args = (f"{value.args[0]}: {extra}",)
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset, running_compiled_code=True)

    @staticmethod
    def _report(result, source, bound):
        m = result.module
        if result.cached:
            print(f"cx: {m.name} is unchanged: reused the compiled code (-f to compile again)")
        else:
            lines = len(source.splitlines())
            print(f"cx: compiled {m.name} ({lines} lines) in {result.seconds * 1e3:.1f} ms")
        for symbol, provider in result.linked.items():
            print(f"cx: linked {symbol} from {provider}")
        names = [f"{k}()" if callable(v) and not isinstance(v, type) else k
                 for k, v in bound.items() if v is not m]
        print("cx: bound " + (", ".join(names) if names else "nothing"))

    def after_cell(self, result=None):
        """``post_run_cell`` hook: write out C output still buffered (a line without a newline), and
        the end of a flood over the rate limit not shown yet, with the line naming its file."""
        if capture.installed():
            capture.flush()


def _is_cx(obj) -> bool:
    """``obj`` is something cx made: a bound function, a module, a struct class."""
    return (isinstance(getattr(obj, "info", None), FunctionInfo) or isinstance(obj, Module)
            or isinstance(type(obj), (StructType, UnionType)) or isinstance(obj, (StructType, UnionType)))


_loaded = weakref.WeakKeyDictionary()  # shell -> (CxMagics, whether it installed capture)


def load_ipython_extension(ipython):
    """Register ``%%cx`` and route C stdio into Python's streams. Loading twice is harmless."""
    if ipython in _loaded:
        return
    magics = CxMagics(ipython)
    ipython.register_magics(magics)
    capturing = capture.supported()
    if capturing:
        capture.install()
        if type(ipython).__name__ == "ZMQInteractiveShell":  # a Jupyter kernel: see limit_rate
            capture.limit_rate()
    else:
        print("cx: this C library cannot redirect stdio (no fopencookie): printf output goes to "
              "the process's standard output, not the cell", file=sys.stderr)
    ipython.events.register("post_run_cell", magics.after_cell)
    if not ipython.custom_exceptions:  # IPython keeps one handler: never replace another's
        ipython.set_custom_exc((NameError,), magics.name_error)
        magics.hinting = True
    _loaded[ipython] = (magics, capturing)


def unload_ipython_extension(ipython):
    """Remove ``%%cx`` and give C its own stdout/stderr back. Names already bound stay usable."""
    entry = _loaded.pop(ipython, None)
    if entry is None:
        return
    magics, capturing = entry
    ipython.events.unregister("post_run_cell", magics.after_cell)
    if magics.hinting and ipython.custom_exceptions == (NameError,):
        ipython.set_custom_exc((), None)
    manager = ipython.magics_manager
    for kind in ("line", "cell"):
        manager.magics[kind].pop("cx", None)
    manager.magics["line"].pop("cxtimeit", None)
    manager.magics["line"].pop("cxinclude", None)
    manager.magics["line"].pop("cxload", None)
    manager.registry.pop(type(magics).__name__, None)
    if capturing:
        capture.flush()
        capture.limit_rate(None)
        capture.uninstall()
