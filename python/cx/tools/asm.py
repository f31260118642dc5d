"""What did the compiler make of my C? The machine code of a function, beside its source lines.

``lib.f.disassemble()`` (or :func:`disassemble`) returns a :class:`Disassembly`: the instructions of
the C function ``f`` itself, each with the cell
line it was compiled from. In Jupyter it shows as a colour-coded listing (``_repr_html_``), elsewhere
as text, like ``objdump -S``. ``%%cx --asm`` shows it for every function of a cell.

Where the facts come from:

- **TinyCC** (the default backend): libjit's ``jit_function_code`` (the function's address and its
  size from the ELF symbol table TinyCC keeps in memory) and ``jit_code_line`` (TinyCC's own line
  tables, the ones that name the line of a crash). Guarded modules (the default) keep them
  (``-bt``); with ``guard=False`` the size is an upper bound and lines are unknown.
- **The system compiler** (``backend="cc"``): the symbol table of the shared object on disk, and
  its DWARF line table when it was compiled with ``-g`` (``%%cx --asm`` adds ``-g``; without it the
  listing has no lines). Optimised code moves and merges lines, so the annotation is best-effort:
  the line each instruction was attributed to, as ``objdump -S`` would show.

The decoder is `capstone <https://www.capstone-engine.org>`_ and, for ``backend="cc"``,
`pyelftools <https://github.com/eliben/pyelftools>`_: the optional ``asm`` extra,
``pip install "cx[asm]"`` (``pip install -e ".[asm]"`` in a checkout of cx).
"""
from __future__ import annotations

import bisect
import ctypes
import html
import platform
import re
from dataclasses import dataclass
from typing import Optional

from ..bind import FunctionInfo
from ..bind.functions import disassemble_with
from ..build import libjit as _libjit
from ..errors import SOURCE_NAME, ClosedError, CxError
from . import frame

__all__ = ["disassemble", "side_by_side", "Disassembly", "SideBySide", "Instruction"]

_EXTRA = 'pip install "cx[asm]" (from a checkout of cx: pip install -e ".[asm]")'


@dataclass(frozen=True)
class Instruction:
    """One machine instruction: ``address``, ``offset`` (from the function's start), ``data``
    (its bytes), ``mnemonic``, ``operands`` (text), ``line`` (the source line, or None) and
    ``file`` (the line's file, ``"<cell>"`` for the cell itself)."""

    address: int
    offset: int
    data: bytes
    mnemonic: str
    operands: str
    line: Optional[int]
    file: str


def _capstone(syntax):
    try:
        import capstone
    except ImportError:
        raise CxError(f"disassembly needs the capstone disassembler, an optional extra of cx: {_EXTRA}") from None
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
        if syntax == "att":
            md.syntax = capstone.CS_OPT_SYNTAX_ATT
    elif machine in ("aarch64", "arm64"):
        arch = getattr(capstone, "CS_ARCH_ARM64", None) or getattr(capstone, "CS_ARCH_AARCH64")
        md = capstone.Cs(arch, capstone.CS_MODE_ARM)
    else:
        raise CxError(f"cx cannot disassemble {machine} code (x86_64 and aarch64 only)")
    return md


def disassemble(function, *, syntax: str = "intel") -> "Disassembly":
    """The machine code of a bound C function, annotated with its source lines.

    Parameters
    ----------
    function : cx function
        A function of a :class:`cx.Module` (``lib.f``, or ``f`` bound by ``%%cx``).
    syntax : {"intel", "att"}
        Assembly syntax on x86-64 (Intel, as Compiler Explorer shows it by default, or AT&T, as
        ``objdump`` and gcc's ``-S`` do).

    Returns
    -------
    Disassembly

    Raises
    ------
    TypeError
        ``function`` is not a function bound by cx.
    ClosedError
        Its module was closed.
    CxError
        capstone (or, for ``backend="cc"``, pyelftools) is not installed: ``pip install "cx[asm]"``.

    Examples
    --------
    >>> import cx
    >>> lib = cx.compile("int add(int a, int b) { return a + b; }")
    >>> listing = lib.add.disassemble()
    >>> listing.instructions[-1].mnemonic
    'ret'
    """
    info = getattr(function, "info", None)
    if not isinstance(info, FunctionInfo):
        raise TypeError(f"disassemble() takes a function bound by cx (lib.f), not {type(function).__name__}")
    if syntax not in ("intel", "att"):
        raise ValueError(f"syntax must be 'intel' or 'att', not {syntax!r}")
    code = info.code
    if info.closed or code is None or code.closed:
        raise ClosedError(f"{info.name}() belongs to a closed module: there is no machine code to show")
    md = _capstone(syntax)
    name = info.name
    if hasattr(code, "path"):
        start, data, lines, backend, note = _cc_code(code, name)
    else:
        start, data, lines, backend, note = _tcc_code(code, name)
    instructions = []
    for ins in md.disasm(data, start):
        line, file = lines(ins.address)
        if line is None and instructions:  # the epilogue's last byte, past the last line entry
            line, file = instructions[-1].line, instructions[-1].file
        instructions.append(Instruction(ins.address, ins.address - start, bytes(ins.bytes), ins.mnemonic,
                                        ins.op_str, line, file))
    source = getattr(code, "source", None) or ""
    return Disassembly(name, start, len(data), instructions, source, backend, note)


# ---- TinyCC: libjit knows sizes and lines -----------------------------------------------------

def _tcc_code(code, name):
    api = _libjit.lib()
    state = code._live()
    start, size = ctypes.c_void_p(), ctypes.c_size_t()
    if api.jit_function_code(state, name.encode(), ctypes.byref(start), ctypes.byref(size)) != _libjit.JIT_OK:
        raise CxError(f"{name}(): {api.jit_error(state).decode(errors='replace')}")
    file, func = ctypes.create_string_buffer(256), ctypes.create_string_buffer(256)

    def lines(addr):
        line = api.jit_code_line(state, addr, file, len(file), func, len(func))
        return (line or None), file.value.decode(errors="replace")

    note = ""
    if not api.jit_code_line(state, start.value, None, 0, None, 0):
        note = ("no line tables: this module was compiled without the crash guard's -bt "
                "(compile with guard=True, or options='-bt')")
    return start.value, ctypes.string_at(start.value, size.value), lines, "TinyCC", note


# ---- the system compiler: the shared object's symbols and DWARF lines --------------------------

def _elftools():
    try:
        from elftools.elf.elffile import ELFFile
    except ImportError:
        raise CxError(f"disassembling backend='cc' code needs pyelftools, part of cx's asm extra: {_EXTRA}") from None
    return ELFFile


def _cc_code(code, name):
    ELFFile = _elftools()
    address = code.sym(name)
    if not address:
        raise CxError(f"{name}() has no symbol in {code.path}")
    with open(code.path, "rb") as f:
        elf = ELFFile(f)
        symbol = None
        for section_name in (".symtab", ".dynsym"):
            section = elf.get_section_by_name(section_name)
            found = section.get_symbol_by_name(name) if section is not None else None
            if found:
                symbol = found[0]
                break
        if symbol is None or not symbol["st_size"]:
            raise CxError(f"{name}() has no size in the symbol table of {code.path}")
        bias = address - symbol["st_value"]
        rows = _dwarf_rows(elf) if elf.has_dwarf_info() else []
    keys = [r[0] for r in rows]

    def lines(addr):
        i = bisect.bisect_right(keys, addr - bias) - 1
        if i < 0 or rows[i][2] is None:
            return None, ""
        return rows[i][2], rows[i][1]

    note = "" if rows else ("no line table: compile with options='-g' (%%cx --asm adds it) to see "
                            "the source lines")
    if rows:
        note = "optimised code: lines are as the compiler attributed them (best-effort)"
    return address, ctypes.string_at(address, symbol["st_size"]), lines, "cc", note


def _dwarf_rows(elf):
    """Sorted (address, file, line) rows of every line program; line None ends a sequence."""
    rows = []
    dwarf = elf.get_dwarf_info()
    for cu in dwarf.iter_CUs():
        program = dwarf.line_program_for_CU(cu)
        if program is None:
            continue
        files = program["file_entry"]
        base = 0 if program["version"] >= 5 else 1
        for entry in program.get_entries():
            state = entry.state
            if state is None:
                continue
            if state.end_sequence:
                rows.append((state.address, "", None))
                continue
            index = state.file - base
            file = files[index].name.decode(errors="replace") if 0 <= index < len(files) else "?"
            rows.append((state.address, file, state.line))
    rows.sort(key=lambda r: r[0])  # stable: the last row at an address wins
    return rows


# ---- the listing --------------------------------------------------------------------------------

# Background tints for the source lines (by line number, so listings side by side agree), as
# Compiler Explorer colours line <-> code.
_TINTS = ("#fde2e2", "#e2f0fd", "#e5f8e0", "#fdf3d8", "#efe4fb", "#dcf5f3", "#f9e1f0", "#eceff1")
_JUMP = re.compile(r"^(j\w*|call|b(\.\w+)?|bl|cbn?z|tbn?z|loop\w*)$")


class Disassembly:
    """The machine code of one C function, with the source line of each instruction.

    Shown as a colour-coded listing in Jupyter (``_repr_html_``) and as text elsewhere
    (``str()``/``repr()``). Attributes: ``function`` (name), ``address``, ``size`` (bytes),
    ``instructions`` (list of :class:`Instruction`), ``source`` (the cell's C source),
    ``backend`` (``"TinyCC"`` or ``"cc"``) and ``note`` (what limits the line annotation, or "").
    """

    def __init__(self, function, address, size, instructions, source, backend, note=""):
        self.function = function
        self.address = address
        self.size = size
        self.instructions = instructions
        self.source = source
        self.backend = backend
        self.note = note
        self._source_lines = source.splitlines()

    def lines(self) -> list:
        """The source lines the function's instructions come from, in first-seen order."""
        seen = []
        for ins in self.instructions:
            if ins.line is not None and ins.file == SOURCE_NAME and ins.line not in seen:
                seen.append(ins.line)
        return seen

    def source_line(self, line: int) -> str:
        """The text of the cell's line ``line`` (1-based), or ""."""
        if 1 <= line <= len(self._source_lines):
            return self._source_lines[line - 1]
        return ""

    def _groups(self):
        """Runs of consecutive instructions from the same line: [((file, line), [instructions])]."""
        groups = []
        for ins in self.instructions:
            key = (ins.file, ins.line)
            if groups and groups[-1][0] == key:
                groups[-1][1].append(ins)
            else:
                groups.append((key, [ins]))
        return groups

    def _target(self, ins):
        if not _JUMP.match(ins.mnemonic):
            return ""
        m = re.search(r"(?:#)?0x([0-9a-f]+)$", ins.operands)
        if not m:
            return ""
        target = int(m.group(1), 16)
        if self.address <= target < self.address + self.size:
            return f"<{self.function}+{target - self.address:#x}>"
        return ""

    def _header(self):
        head = (f"{self.function}(): {len(self.instructions)} instructions, {self.size} bytes at "
                f"{self.address:#x} ({self.backend})")
        return head + (f"\n  note: {self.note}" if self.note else "")

    def _label(self, key):
        file, line = key
        if line is None:
            return None
        if file == SOURCE_NAME:
            return f"{line:>4}: {self.source_line(line).rstrip()}"
        return f"{file}:{line}"

    def __str__(self):
        out = [self._header()]
        for key, group in self._groups():
            label = self._label(key)
            if label is not None:
                out.append(label)
            for ins in group:
                target = self._target(ins)
                text = f"{ins.mnemonic} {ins.operands}".rstrip()
                out.append(f"      {ins.offset:5x}:  {ins.data.hex(' '):<24} {text}"
                           + (f"   ; {target}" if target else ""))
        return "\n".join(out)

    __repr__ = __str__

    def _repr_html_(self):
        return frame.wrap("asm", self._html_body())

    def _html_body(self, data=True):
        """The listing's HTML (``data``: with the bytes of each instruction)."""
        tint = {line: _TINTS[(line - 1) % len(_TINTS)] for line in self.lines()}  # same line, same colour
        esc = html.escape
        rows = []
        span = 3 if data else 2
        for key, group in self._groups():
            file, line = key
            color = tint.get(line, "#f4f4f4") if file == SOURCE_NAME else "#f4f4f4"
            label = self._label(key)
            if label is not None:
                rows.append(f'<tr class="cx-paper" style="background:{color}"><td colspan="{span}" '
                            f'style="padding:2px 6px;font-weight:bold;border-top:1px solid #ccc">{esc(label)}</td></tr>')
            for ins in group:
                target = self._target(ins)
                comment = f' <span style="color:#666">; {esc(target)}</span>' if target else ""
                hexdata = f'<td style="color:#777">{esc(ins.data.hex(" "))}</td>' if data else ""
                rows.append(
                    f'<tr class="cx-paper" style="background:{color}"><td class="cx-num" style="color:#777">'
                    f'{ins.offset:x}</td>{hexdata}'
                    f'<td><b>{esc(ins.mnemonic)}</b> {esc(ins.operands)}{comment}</td></tr>')
        note = f'<div style="color:#a60;font-size:90%">note: {esc(self.note)}</div>' if self.note else ""
        title = esc(self._header().split("\n")[0])
        return (f'<div style="font-weight:bold;margin:4px 0">{title}</div>{note}'
                '<table>' + "".join(rows) + "</table>")


def side_by_side(*functions, syntax: str = "intel") -> "SideBySide":
    """Listings of several functions next to each other, the Compiler Explorer way.

    Parameters
    ----------
    *functions : cx function or Disassembly
        Typically the same C function compiled twice: ``side_by_side(tcc.f, gcc.f)`` with ``gcc``
        from ``%%cx --cc -n gcc`` (or ``cx.compile(..., backend="cc")``).
    syntax : {"intel", "att"}

    Returns
    -------
    SideBySide
        Columns in Jupyter; text columns elsewhere.
    """
    if not functions:
        raise TypeError("side_by_side() needs at least one function")
    return SideBySide([f if isinstance(f, Disassembly) else disassemble(f, syntax=syntax) for f in functions])


class SideBySide:
    """Several :class:`Disassembly` listings shown next to each other (``.listings``)."""

    def __init__(self, listings):
        self.listings = list(listings)

    def __str__(self):
        columns = [str(listing).splitlines() for listing in self.listings]
        widths = [max(map(len, c)) for c in columns]
        rows = max(map(len, columns))
        return "\n".join(" | ".join((c[i] if i < len(c) else "").ljust(w) for c, w in zip(columns, widths)).rstrip()
                         for i in range(rows))

    __repr__ = __str__

    def _repr_html_(self):
        # Without the bytes column, and wrapping onto the next line when the area is too narrow:
        # columns that fit the output area rather than a sideways scroll.
        cells = "".join(f'<div style="flex:0 1 auto;min-width:0;overflow-x:auto">{listing._html_body(data=False)}</div>'
                        for listing in self.listings)
        return frame.wrap("asm-side-by-side", f'<div style="display:flex;flex-wrap:wrap;gap:6px 18px;'
                                              f'align-items:flex-start">{cells}</div>')


disassemble_with(disassemble)  # lib.f.disassemble()
