"""Exceptions raised by cx. All derive from :class:`CxError`.

A :class:`CompileError` carries the compiler's messages as structured :class:`Diagnostic` items with
line numbers in the user's own source, and renders them with the offending line and a caret, the
way a person reading a notebook wants to see them.
"""
from __future__ import annotations

import pickle
import re
import dataclasses
from dataclasses import dataclass
from typing import Optional, Sequence

__all__ = ["CxError", "CompileError", "Diagnostic", "ClosedError", "CrashError", "BoundsError", "OptionError", "PicklingError",
           "parse_diagnostics"]

#: The file name cx gives the user's source in compiler messages.
SOURCE_NAME = "<cell>"


class CxError(Exception):
    """Base class of every error cx raises."""

    __module__ = "cx"


@dataclass(frozen=True)
class Diagnostic:
    """One compiler message.

    Attributes
    ----------
    line : int or None
        1-based line in the user's source, or None when the message is not about it (a header, the
        linker).
    severity : str
        ``"error"`` or ``"warning"``.
    message : str
        The compiler's text, without the location prefix.
    file : str
        Where the compiler located it: ``"<cell>"`` for the user's source, a header path, or
        ``"tcc"`` (``"ld"`` for the system linker) for link-time messages.
    column : int or None
        1-based column, when the compiler gives one (gcc and clang do, TinyCC does not).
    """

    line: Optional[int]
    severity: str
    message: str
    file: str = SOURCE_NAME
    column: Optional[int] = None

    __module__ = "cx"

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None and self.file == SOURCE_NAME else self.file
        if self.line is not None and self.file != SOURCE_NAME:
            where = f"{self.file}:{self.line}"
        return f"{where}: {self.severity}: {self.message}"


_LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?:(?P<col>\d+):)?\s*(?:fatal )?(?P<sev>error|warning|note)?:?"
                      r"\s*(?P<msg>.*)$")
# The linker names itself as it was invoked: "ld", "/usr/bin/ld", "x86_64-linux-gnu-ld.bfd" (binutils
# 2.45, Debian sid), "ld.gold", "ld.lld".
_UNLOCATED = re.compile(r"^(?P<file>tcc|cc|gcc|clang|(?P<ld>(?:\S*/)?(?:[\w.]+-)*ld(?:\.\w+)?)):\s*"
                        r"(?P<sev>error|warning)?:?\s*(?P<msg>.*)$")
# gcc/clang lines that carry no message of their own: "<cell>: In function 'f':", "At top level:",
# the "from <cell>:2:" lines of an include chain, source/caret lines ("  3 |  x;", "    |  ^"),
# and the driver's closing words.
_NOISE = re.compile(r"^(?:\S.*: (?:In (?:static |member )?function|At top level|In instantiation)\b.*:"
                    r"|\s*\d*\s+\|.*|compilation terminated\.|collect2: error: ld returned .*)$")


def parse_diagnostics(text: str, source_names: Sequence[str] = (SOURCE_NAME, "<string>")) -> list:
    """Turn a compiler's message text into a list of :class:`Diagnostic`.

    Lines located in one of ``source_names`` get their line number; messages about other files keep
    the file name; messages without a location (the linker's) get ``line=None``. "In file included
    from" context lines are folded into the message that follows, and gcc's and clang's notes into
    the message before; their "In function" lines, source and caret lines are skipped.
    """
    out = []
    context = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line:
            continue
        if line.startswith("In file included from"):
            context = line.rstrip(":,") + ": "
            continue
        if context and line.lstrip().startswith("from "):  # gcc's include chain, one line each
            context = context[:-2] + ", " + line.strip().rstrip(":,") + ": "
            continue
        if _NOISE.match(line):
            continue
        m = _LOCATED.match(line)
        if m and m.group("sev") == "note" and out:  # gcc/clang notes belong to the message before
            prev = out[-1]
            out[-1] = Diagnostic(prev.line, prev.severity, prev.message + "\nnote: " + m.group("msg").strip(),
                                 prev.file, prev.column)
            continue
        if m and m.group("sev") in ("error", "warning", None):
            file = m.group("file").strip()
            in_source = file in source_names
            out.append(
                Diagnostic(
                    line=int(m.group("line")),
                    severity=m.group("sev") or "error",
                    message=(context if not in_source else "") + m.group("msg").strip(),
                    file=SOURCE_NAME if in_source else file,
                    column=int(m.group("col")) if m.group("col") else None,
                )
            )
            context = ""
            continue
        m = _UNLOCATED.match(line)
        if m:
            tool = "ld" if m.group("ld") else "tcc"
            out.append(Diagnostic(None, m.group("sev") or "error", m.group("msg").strip(), file=tool))
        elif out:
            # continuation of the previous message
            prev = out[-1]
            out[-1] = Diagnostic(prev.line, prev.severity, prev.message + "\n" + line.strip(), prev.file, prev.column)
        else:
            out.append(Diagnostic(None, "error", line.strip(), file="tcc"))
    return out


def _caret_column(source_line: str, message: str) -> int:
    """Where to put the caret: under a quoted name from the message if the line has it.

    In "';' expected (got 'return')" the token the compiler stopped at ('return') comes first.
    """
    got = re.findall(r"got '([^']+)'", message)
    for name in got + re.findall(r"'([^']+)'", message):
        col = source_line.find(name)
        if col >= 0:
            return col
    return len(source_line) - len(source_line.lstrip())


def caret_column(diagnostic: Diagnostic, source: str) -> Optional[int]:
    """The 0-based column a diagnostic points at in ``source`` (tabs counted as 4), as the caret
    of :func:`render_diagnostics` shows it; None when it is not about a line of ``source``."""
    lines = source.splitlines()
    d = diagnostic
    if d.file != SOURCE_NAME or d.line is None or not 1 <= d.line <= len(lines):
        return None
    raw = lines[d.line - 1]
    if d.column is not None and 1 <= d.column <= len(raw) + 1 and "\t" not in raw:
        return d.column - 1
    return _caret_column(raw.expandtabs(4), d.message)


def render_diagnostics(diagnostics, source: str, *, name: str = SOURCE_NAME) -> str:
    """Render diagnostics as text: ``name:line: severity: message``, the line, and a caret."""
    lines = source.splitlines()
    parts = []
    for d in diagnostics:
        if d.file == SOURCE_NAME and d.line is not None:
            first, _, more = d.message.partition("\n")  # notes and continuations go under the caret
            parts.append(f"{name}:{d.line}: {d.severity}: {first}")
            if 1 <= d.line <= len(lines):
                text = lines[d.line - 1].expandtabs(4)
                col = caret_column(d, source)
                parts.append(f"    {text}")
                parts.append("    " + " " * col + "^")
            if more:
                parts.append(more)
        else:
            parts.append(str(d))
    return "\n".join(parts)


class CompileError(CxError):
    """The C source did not compile or link.

    Attributes
    ----------
    diagnostics : list of Diagnostic
        Every message of the compiler, warnings included, with line numbers in ``source``.
    source : str
        The source as the user wrote it.
    """

    def __init__(self, summary: str, diagnostics=(), source: str = "", name: str = SOURCE_NAME):
        self.summary = summary
        last = source.count("\n") + (0 if source.endswith("\n") else 1) if source else None
        # A compiler that stops at the end of the text may name the line after the source's last.
        self.diagnostics = [dataclasses.replace(d, line=last, column=None)
                            if last and d.file == SOURCE_NAME and d.line and d.line > last else d
                            for d in diagnostics]
        self.source = source
        self.name = name
        super().__init__(summary)

    @property
    def errors(self) -> list:
        """The diagnostics of severity ``"error"``."""
        return [d for d in self.diagnostics if d.severity == "error"]

    def __str__(self) -> str:
        body = render_diagnostics(self.diagnostics, self.source, name=self.name)
        return f"{self.summary}\n{body}" if body else self.summary

    def _render_traceback_(self):
        """IPython hook: show the compiler's messages, not a Python traceback."""
        return [f"CompileError: {self}"]


class OptionError(CxError, ValueError):
    """A compiler option or other compile setting was refused (named in the message)."""


class ClosedError(CxError, ValueError):
    """A function or global of a closed :class:`cx.Module` was used."""


class CrashError(CxError, RuntimeError):
    """Compiled C code crashed (a fatal signal, or exit() in checked code) and the call was abandoned.

    The process survives and the next call works; memory the abandoned call allocated stays
    allocated, and a lock it held stays held (see cx.runtime.guard).

    Attributes
    ----------
    signal : int
        The signal number (e.g. ``signal.SIGSEGV``); 0 when checked code called ``exit()``.
    function : str
        The C function that was called.
    line : int or None
        The line of the cell where it crashed (or, for a crash inside the C library, the line
        that called it), when known: with ``check=True`` or ``options="-bt"``.
    address : int or None
        The memory address the crash was about (SIGSEGV/SIGBUS).
    where : str or None
        The C function containing ``line``.
    library : str or None
        The shared library the crash happened in, when not in the cell's code (``"libc.so.6"``).
    check : str or None
        The bounds checker's message (checked mode), e.g. ``"BCHECK: 0x... is outside of the region"``.
    """

    def __init__(self, message: str, signal: int = 0, function: str = "", line: Optional[int] = None, *,
                 address: Optional[int] = None, where: Optional[str] = None, library: Optional[str] = None,
                 check: Optional[str] = None):
        super().__init__(message)
        self.signal = signal
        self.function = function
        self.line = line
        self.address = address
        self.where = where
        self.library = library
        self.check = check


class BoundsError(CrashError):
    """Checked code (``check=True``) read or wrote out of bounds, freed twice, or used freed memory.

    ``check`` holds the bounds checker's message and ``line`` the cell line.
    """


class PicklingError(CxError, pickle.PicklingError):
    """A cx object cannot be pickled (a closed module, code using Python's C API: see cx.recipe)."""


for _cls in (CompileError, ClosedError, CrashError, BoundsError, OptionError, PicklingError):
    _cls.__module__ = "cx"
del _cls
