"""The one record of how a module was built: its source, its ``cx.compile`` options, its links.

A :class:`Build` is what rebuilds a module: ``cx.compile(source, link=[...], **options)``, with
every option normalised (tuples for lists, a sorted dict of defines, option tokens split as a
shell splits them). Everything that asks how a module was built reads this record:

- the backend gets its :class:`Settings` from it (:meth:`Build.settings`);
- pickling sends it, and the receiving process compiles it again (:mod:`cx.build.cache` keeps one
  module per :attr:`Build.key`);
- the ``%%cx`` magic keys its cache of cells with it;
- ``cx.layout`` asks the compiler with the settings it gave.

Validation happens here, once: an option ``cx.compile`` refuses raises :class:`cx.OptionError`
when the record is made.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import shlex
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

from ..errors import OptionError, PicklingError
from . import libjit as _libjit

__all__ = ["Build", "Settings"]

#: Part of every key: bumped when what a record means changes.
_FORMAT = 2

#: ``cx.compile``'s options and their defaults (``link`` is the record's ``links``).
DEFAULTS = {
    "name": None, "include_dirs": (), "defines": {}, "library_dirs": (), "libraries": (), "options": (),
    "hold_gil": (), "backend": "tcc", "compiler": None, "check": False, "guard": None, "api": (), "units": (),
}


@dataclass
class Settings:
    """What a backend is handed besides the source text: a :class:`Build`'s options resolved
    (Python's include directory added for ``<Python.h>``), and the addresses of linked symbols."""

    user_source: str
    include_dirs: Sequence[str] = ()
    defines: Mapping[str, Optional[str]] = field(default_factory=dict)
    library_dirs: Sequence[str] = ()
    libraries: Sequence[str] = ()
    options: Sequence[str] = ()
    symbols: Mapping[str, int] = field(default_factory=dict)
    compiler: Optional[str] = None
    #: Other translation units of the same module, as the backend compiles them (cx.load of several files).
    units: Sequence[str] = ()


def _defines(defines) -> dict:
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
    return dict(sorted(out.items()))


def _tokens(options) -> tuple:
    """Options as a tuple of tokens, as a C compiler's argv has them. A str is split the way a
    shell splits it (``"-O2 -DMSG='\\"a b\\"'"``), as the ``%%cx --options`` flag is; a list is
    taken token by token (``['-DMSG="a b"']`` defines MSG as the string literal)."""
    if isinstance(options, str):
        try:
            return tuple(shlex.split(options))
        except ValueError as exc:
            raise OptionError(f"options {options!r}: {exc}") from None
    return tuple(str(o) for o in options)


def _strings(name, value) -> tuple:
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


@dataclass(frozen=True)
class Build:
    """How a module was built: ``cx.compile(source, link=[...], **options)``.

    Attributes
    ----------
    source : str
        The C source (for :func:`cx.load`, the file's text as it was read).
    arguments : tuple of (str, object)
        Every option of ``cx.compile`` but ``link``, normalised, sorted by name.
    links : tuple of Build or None
        The records of the modules passed as ``link=``; None for one cx cannot rebuild.
    file : str or None
        The absolute path of the file :func:`cx.load` read, or None. Names the file in compile
        errors; its directory is on the include path.
    """

    source: str
    arguments: tuple = ()
    links: tuple = ()
    file: Optional[str] = None

    @classmethod
    def of(cls, source: str, *, links=(), file=None, **options) -> "Build":
        """The record of ``cx.compile(source, **options)``: options checked and normalised.

        Raises
        ------
        TypeError
            ``source`` is not a str, or an unknown option.
        cx.OptionError
            An option ``cx.compile`` refuses.
        """
        if not isinstance(source, str):
            raise TypeError(f"source must be a str of C code, not {type(source).__name__}")
        unknown = options.keys() - DEFAULTS.keys()
        if unknown:
            raise TypeError(f"cx.compile() got an unexpected keyword argument {sorted(unknown)[0]!r}")
        merged = {**DEFAULTS, **options}
        for name in ("include_dirs", "library_dirs", "libraries", "hold_gil", "api"):
            merged[name] = _strings(name, merged[name])
        merged["defines"] = _defines(merged["defines"])
        merged["options"] = _tokens(merged["options"])
        merged["check"] = bool(merged["check"])
        merged["units"] = tuple((str(path), str(text)) for path, text in merged["units"])
        if merged["units"] and merged["backend"] != "tcc":
            raise OptionError("several files as one module need backend='tcc' (TinyCC compiles them in one state)")
        if merged["compiler"] is not None and merged["backend"] != "cc":
            raise OptionError(f"compiler={merged['compiler']!r} applies to backend='cc' only; pass backend='cc' too")
        return cls(source, tuple(sorted(merged.items())), tuple(links), file)

    @functools.cached_property
    def key(self) -> str:
        """A hash of everything in the record: equal records build equal modules."""
        h = hashlib.sha256()
        h.update(repr((_FORMAT, self.arguments, self.file)).encode())
        h.update(b"\0" + self.source.encode("utf-8", "surrogatepass"))
        for link in self.links:
            h.update(b"\0" + (link.key if link is not None else "-").encode())
        return h.hexdigest()

    def __getstate__(self):
        # The key travels too: a receiver need not hash a large source again for every unpickle.
        return (self.source, self.arguments, self.links, self.file, self.key)

    def __setstate__(self, state):
        for name, value in zip(("source", "arguments", "links", "file"), state):
            object.__setattr__(self, name, value)
        if len(state) > 4:
            self.__dict__["key"] = state[4]

    def options(self) -> dict:
        """The keyword arguments of ``cx.compile`` (without ``link``)."""
        return dict(self.arguments)

    def __getitem__(self, name):
        """One option: ``record["backend"]``."""
        return self.options()[name]

    def replace(self, **changes) -> "Build":
        """A copy with ``source``, ``links`` or ``file`` changed."""
        return dataclasses.replace(self, **changes)

    def settings(self) -> Settings:
        """What the backend is handed (without the link addresses, which :func:`cx.compile` adds)."""
        o = self.options()
        include_dirs, options = o["include_dirs"], o["options"]
        if "Python.h" in self.source:
            include_dirs, options = include_dirs + _python_include(), options + _python_options(o)
        return Settings(user_source=self.source, include_dirs=include_dirs, defines=dict(o["defines"]),
                        library_dirs=o["library_dirs"], libraries=o["libraries"], options=options,
                        compiler=o["compiler"])

    # -- what can travel ---------------------------------------------------------------------
    def check_shippable(self, what: str, function: Optional[str] = None) -> None:
        """Raise :class:`cx.PicklingError` when the module (or its ``function``) cannot be rebuilt
        in another process: its code uses Python's C API, or it links to a module cx cannot rebuild."""
        if function is None or function in self["hold_gil"]:
            self._refuse_python_api(what)
        self._check_links(what)

    def _check_links(self, what):
        for link in self.links:
            if link is None:
                raise PicklingError(f"cannot pickle {what}: it is linked to a module cx cannot rebuild")
            link._refuse_python_api(f"{what} (through the module it links to)")
            link._check_links(what)

    def _refuse_python_api(self, what):
        hold_gil = self["hold_gil"]
        if hold_gil and ("Python.h" in self.source or "PyObject" in self.source):
            raise PicklingError(
                f"cannot pickle {what}: its code uses Python's C API (hold_gil={list(hold_gil)}, "
                "PyObject *), which belongs to this process's interpreter; compile it in the worker instead "
                "(call cx.compile inside the task)")


def _python_include() -> tuple:
    """Python's own include directory, for a source that includes <Python.h> (hold_gil code)."""
    return (_libjit.python_include_dir(),)


def _python_options(options: dict) -> tuple:
    """The options a source that includes <Python.h> needs: C11 for TinyCC (unless the options name
    a standard). Since Python 3.13, <Python.h> always includes pyatomic.h, which needs GCC's atomic
    builtins (TinyCC does not claim to be GCC) or C11's <stdatomic.h>, and TinyCC compiles C99
    unless told otherwise. One rule for every Python version: 3.10 to 3.12 compile it as well."""
    if options["backend"] != "tcc" or any(o.startswith("-std=") for o in options["options"]):
        return ()
    return ("-std=c11",)
