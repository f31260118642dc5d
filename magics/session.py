"""What the ``%%cx`` magic remembers between cells: who defines each C symbol, and compiled cells.

A :class:`Session` is the magic's memory, free of IPython so it can be tested on its own. Cells are
linked as if they were one program: a cell that declares a function or ``extern`` variable without
defining it is compiled with ``link=`` the modules of the cells that defined those names most
recently. A cell with the same source, options and linked modules as one already compiled is not
compiled again.
"""
from __future__ import annotations

import itertools
import re
import time
import weakref
from dataclasses import dataclass, field
from typing import Callable, Mapping

from cx.build.record import Build
from cx.module import Module, compile as cx_compile

__all__ = ["Session", "CellResult"]


@dataclass
class CellResult:
    """What :meth:`Session.run` did for one cell.

    Attributes
    ----------
    module : cx.Module
        The compiled cell.
    cached : bool
        True when ``module`` was compiled by an earlier run and reused.
    seconds : float
        Time spent compiling (0.0 for a cached cell).
    linked : dict
        Symbol declared by the cell -> name of the module it was linked to.
    """

    module: Module
    cached: bool
    seconds: float
    linked: dict = field(default_factory=dict)


_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


class Session:
    """The symbol table and compile cache of one IPython session.

    Parameters
    ----------
    compile : callable, optional
        The compile function, ``cx.compile`` unless a test substitutes one.

    Attributes
    ----------
    compiles : int
        How many times a cell was actually compiled (cache hits don't count).
    """

    def __init__(self, compile: Callable[..., Module] = cx_compile):
        self._compile = compile
        self._providers = {}  # symbol -> Module that defined it most recently (keeps it alive)
        self._cache = weakref.WeakValueDictionary()  # key -> Module, while something keeps it alive
        self._wanted = {}  # the cell's record key -> names the compiled cell declares without defining
        self._serial = weakref.WeakKeyDictionary()  # Module -> compile number (part of cache keys)
        self._stamp = weakref.WeakKeyDictionary()  # Module -> when it last became a provider
        self._clock = itertools.count(1)
        self.compiles = 0

    def provider(self, symbol: str):
        """The module whose definition of ``symbol`` later cells link to, or None.

        A module the user closed (``NAME.close()``) provides nothing any more.
        """
        module = self._providers.get(symbol)
        if module is not None and module.closed:
            del self._providers[symbol]
            return None
        return module

    def run(self, source: str, options: Mapping[str, object], *, force: bool = False) -> CellResult:
        """Compile ``source`` (or reuse an earlier compile) and make it provide its symbols.

        Parameters
        ----------
        source : str
            The cell's C source.
        options : mapping
            Keyword arguments for ``cx.compile`` other than ``link``.
        force : bool
            Compile even if an identical cell was compiled before.

        Raises
        ------
        cx.CompileError, cx.OptionError
            From ``cx.compile``; the session is unchanged.
        """
        cell = Build.of(source, **options).key  # the cell and its options, as cx.compile records them
        # What the cell takes from earlier cells: known exactly once it was compiled (the
        # compiler's view); the first time, every identifier it spells is a candidate.
        wanted = self._wanted.get(cell)
        links, providers = self._links(wanted if wanted is not None else self._declared_not_defined(source))
        key = (cell, tuple(self._serial[m] for m in links))
        module = None if force else self._cache.get(key)
        cached = module is not None and not module.closed
        seconds = 0.0
        if not cached:
            start = time.perf_counter()
            module = self._compile(source, link=links, **options)
            seconds = time.perf_counter() - start
            self.compiles += 1
            self._serial[module] = self.compiles
            self._wanted[cell] = module.undefined
            links, providers = self._links(module.undefined)
            self._cache[(cell, tuple(self._serial[m] for m in links))] = module
        self._stamp[module] = next(self._clock)
        for symbol in module.exports():
            self._providers[symbol] = module
        return CellResult(module, cached, seconds, {s: m.name for s, m in providers.items()})

    def _links(self, wanted):
        """The earlier modules providing ``wanted`` (oldest first: later definitions win), and
        the provider of each name."""
        providers = {s: m for s in sorted(wanted) if (m := self.provider(s)) is not None}
        links = sorted({id(m): m for m in providers.values()}.values(), key=self._stamp.__getitem__)
        return links, providers

    @staticmethod
    def _declared_not_defined(source: str) -> set:
        """Names the source may take from earlier cells: every identifier it spells.

        Only a candidate set: ``cx.compile`` links exactly what the compiler's view of the cell
        declares without defining (``long fib(int n);``, ``extern int counter;``), also when a
        macro or a header spells the declaration.
        """
        return set(_IDENTIFIER.findall(source))