"""C in files: :func:`load` compiles a ``.c`` file, and an import hook makes ``import kernels`` do it.

A file is compiled exactly like a string passed to :func:`cx.compile` (same options, same
backends), with two differences: the file's directory comes first on the include path, so
``#include "helpers.h"`` finds the header next to it, and compile errors name the file
(``kernels.c:12: error: ...``).

Pickling (see :mod:`cx.recipe`): the module's build record carries the file's text as it was read and its
absolute path. Headers it includes are not carried: they are read again, by that path, wherever
the module is rebuilt (the same machine, a process pool, a local Dask cluster; on another machine
the same directory must exist).
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from typing import Optional

from .build.record import Build
from .module import build_module

__all__ = ["load", "include", "install_import_hook", "uninstall_import_hook"]


def load(path, *, name: Optional[str] = None, include_dirs=(), **options):
    """Compile the C file at ``path`` (or several files, as one module) and return its :class:`cx.Module`.

    Parameters
    ----------
    path : str, os.PathLike, or a list of them
        A C source file; or several, compiled as one module: each file its own translation unit
        (its ``static`` names private), linked together, so a function one file declares and
        another defines is called directly. Compile errors name the file and line.
    name : str, optional
        The module's name; default the (first) file name without ``.c``.
    include_dirs : iterable of str
        More ``-I`` directories, searched after the files' own directories.
    **options
        Any other keyword argument of :func:`cx.compile` (``defines``, ``libraries``, ``options``,
        ``link``, ``backend``, ``check``, ...).

    Returns
    -------
    cx.Module

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    CompileError
        The file does not compile; messages name the file and its lines.

    Examples
    --------
    >>> import cx, pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "scale.h").write_text("#define FACTOR 3\\n")
    >>> _ = (d / "kernels.c").write_text('#include "scale.h"\\nint triple(int x) { return FACTOR * x; }\\n')
    >>> cx.load(d / "kernels.c").triple(14)
    42
    """
    paths = list(path) if isinstance(path, (list, tuple)) else [path]
    if not paths:
        raise ValueError("cx.load: no file given")
    files = [_read(p) for p in paths]  # (shown, full, text)
    if isinstance(include_dirs, str):
        include_dirs = (include_dirs,)
    dirs = tuple(dict.fromkeys(os.path.dirname(full) for _, full, _ in files)) + tuple(os.fspath(d) for d in include_dirs)
    shown, full, text = files[0]
    if name is None:
        name = os.path.splitext(os.path.basename(full))[0]
    links = options.pop("link", ())
    units = tuple((f, t) for _, f, t in files[1:])
    if len({f for _, f, _ in files}) != len(files):
        raise ValueError("cx.load: a file is given twice")
    record = Build.of(text, name=name, include_dirs=dirs, units=units, **options)
    return build_module(record.replace(file=full), links, shown=shown)


def _read(path):
    """(the path as given, its absolute path, its text), for :func:`load`."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"cx.load takes the path of a C file (or a list of them), not {type(path).__name__}")
    shown = os.fspath(path)
    full = os.path.abspath(shown)
    if os.path.isdir(full):
        raise IsADirectoryError(f"cx.load: {shown} is a directory, not a C file")
    try:
        with open(full, encoding="utf-8") as f:
            return shown, full, f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"cx.load: no C file {shown} (looked in {os.getcwd()})") from None


def include(header, *, libraries=(), name: Optional[str] = None, include_dirs=(), **options):
    """Bind an installed C library from its header: every function and variable the header (and
    the library's own headers it includes) declares and the libraries define, its constants
    (enumeration constants, ``#define`` constants), enums, structs and static inline functions,
    as a :class:`cx.Module`.

    Which headers are the library's (:mod:`cx.build.api`): the header itself, and every header an
    API header includes except those of the C library and the operating system (ISO C and POSIX
    headers by the name they are found under, ``stdio.h``, ``unistd.h``, ``sys/types.h``, and
    anything under ``sys/``, ``linux/``, ``asm/``...), with what those include. So ``zlib.h`` is
    ``zlib.h`` and ``zconf.h``, never ``<unistd.h>``'s ``SEEK_SET``, though all three sit in
    ``/usr/include``; ``math.h`` is ``math.h`` and its ``bits/`` headers (``sqrt``, ``M_PI``).

    Parameters
    ----------
    header : str or os.PathLike
        ``"zlib.h"`` (looked for as ``#include <zlib.h>`` is), or a path to a header.
    libraries : iterable of str
        The libraries that define its functions, as ``-l`` names (``["z"]`` for ``libz.so.1``).
    name : str, optional
        The module's name; default the header's name without ``.h``.
    include_dirs : iterable of str
        More ``-I`` directories.
    **options
        Any other keyword argument of :func:`cx.compile` (``defines``, ``library_dirs``, ...).

    Returns
    -------
    cx.Module
        A function the header declares that no library defines is in ``lib.unbound``
        (``"... not found in libz.so.1"``; not for the names C reserves, glibc's ``__sqrt``).

    Examples
    --------
    >>> import cx
    >>> m = cx.include("math.h", libraries=["m"])
    >>> m.sqrt(2.0) ** 2, m.M_PI > 3.14
    (2.0000000000000004, True)
    """
    if not isinstance(header, (str, os.PathLike)):
        raise TypeError(f"cx.include takes a header's name (\"zlib.h\") or path, not {type(header).__name__}")
    shown = os.fspath(header)
    if isinstance(include_dirs, str):
        include_dirs = (include_dirs,)
    dirs = tuple(os.fspath(d) for d in include_dirs)
    if os.sep in shown and os.path.isfile(shown):  # a header of the user's, by path
        full = os.path.abspath(shown)
        source, api, dirs = f'#include "{full}"\n', full, (os.path.dirname(full),) + dirs
    else:
        source, api = f"#include <{shown}>\n", shown
    if isinstance(libraries, str):
        libraries = (libraries,)
    if name is None:
        name = os.path.splitext(os.path.basename(shown))[0]
    record = Build.of(source, name=name, include_dirs=dirs, libraries=tuple(libraries), api=(api,), **options)
    return build_module(record)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds ``name.c`` for ``import name`` on ``sys.path`` (or a package's ``__path__``)."""

    def __init__(self, options):
        self.options = options

    def find_spec(self, fullname, path, target=None):
        base = fullname.rpartition(".")[2]
        for entry in (path if path is not None else sys.path):
            if not isinstance(entry, str):
                continue
            candidate = os.path.join(entry or os.getcwd(), base + ".c")
            if os.path.isfile(candidate):
                return importlib.machinery.ModuleSpec(fullname, _Loader(candidate, self.options),
                                                      origin=candidate)
        return None


class _Loader(importlib.abc.Loader):
    def __init__(self, path, options):
        self.path = path
        self.options = options

    def create_module(self, spec):
        return load(self.path, name=spec.name, **self.options)

    def exec_module(self, module):
        pass  # compiled in create_module


_finder: Optional[_Finder] = None


def install_import_hook(**options) -> None:
    """Let ``import name`` compile ``name.c`` when no Python module of that name exists.

    The file is looked for where Python looks for modules (``sys.path``: the script's or the
    notebook's directory first), after every other importer, so a ``.py`` file of the same name
    wins. The imported object is the :class:`cx.Module` that :func:`load` returns. Calling this
    again replaces the options.

    Parameters
    ----------
    **options
        Keyword arguments of :func:`cx.compile` for every file imported this way
        (``defines``, ``options="-O2"``, ``backend="cc"``, ...).

    Examples
    --------
    >>> import cx
    >>> cx.install_import_hook()
    >>> import kernels          # doctest: +SKIP
    >>> kernels.triple(14)      # doctest: +SKIP
    42
    """
    global _finder
    uninstall_import_hook()
    _finder = _Finder(dict(options))
    sys.meta_path.append(_finder)


def uninstall_import_hook() -> None:
    """Remove the hook of :func:`install_import_hook` (modules imported already stay)."""
    global _finder
    if _finder is not None and _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    _finder = None
