"""How is my struct laid out? Field offsets, sizes and padding, as the compiler laid them out.

A struct (or union) class of a cx module shows its layout as a picture in Jupyter: display the
class itself (``Point`` as the last line of a cell), or ``cx.layout(Point)``, which also has a text
form (``print(cx.layout(Point))``)::

    struct Mixed: 24 bytes, aligned to 8 (laid out by TinyCC)
      offset  size  field
           0     1  char c
           1     3  (padding)
           4     4  int i
      ...

The numbers come from the compiler itself: :func:`layout` compiles the module's source once more
with a generated function that records ``sizeof``, ``_Alignof``, ``offsetof`` and the size of
every field (for bit-fields, the bits a field sets), with the module's own backend and options,
and caches the result on the class. So ``__attribute__((packed))``, ``_Alignas`` and
``#pragma pack`` show as the compiler applies them. The picture also compares the compiler's
layout with the ``ctypes`` class cx binds (what Python passes to C): a difference is reported. A
struct cx binds no class for (``ctypes`` cannot lay it out as C does) is shown by
``cx.layout(lib, "Name")``.

The query compile runs the source's constructors (``__attribute__((constructor))``) again, as any
compile does. A struct class keeps how its module was compiled (its type table keeps the backend's
settings), not its code, so
this works after the module is closed; any other ``ctypes`` class shows the ``ctypes`` layout.
"""
from __future__ import annotations

import ctypes
import dataclasses
import html
from dataclasses import dataclass
from typing import Optional

from ..bind import scalars
from ..bind.check import c_name
from ..bind.types import show_layouts_with
from ..build import backends, unit
from ..errors import CxError
from ..module import Module

__all__ = ["layout", "Layout", "FieldLayout"]

_QUERY = "__cx_layout_query"


@dataclass(frozen=True)
class FieldLayout:
    """One field: ``name``, ``declaration`` (as C writes it: ``char b[3]``), ``offset`` and ``size``
    in bytes; for a bit-field also ``bits`` (its width) and ``bit_offset`` (from ``offset * 8``)."""

    name: str
    declaration: str
    offset: int
    size: int
    bits: Optional[int] = None
    bit_offset: Optional[int] = None


@dataclass(frozen=True)
class Layout:
    """The memory layout of a struct or union.

    Attributes
    ----------
    name : str
    union : bool
    size, align : int
        ``sizeof`` and ``_Alignof``.
    fields : tuple of FieldLayout
        In declaration order.
    by : str
        Who laid it out: ``"TinyCC"``, ``"cc"`` (the system compiler) or ``"ctypes"``.
    differences : tuple of str
        Where the ``ctypes`` class cx binds disagrees with the compiler (empty when they agree).
    """

    name: str
    union: bool
    size: int
    align: int
    fields: tuple
    by: str
    differences: tuple = ()

    def padding(self) -> list:
        """The padding as ``(offset, size)`` runs: bytes no field occupies."""
        used = bytearray(self.size)
        for f in self.fields:
            end = f.offset + (-(-(f.bit_offset + f.bits) // 8) if f.bits is not None else f.size)
            for i in range(f.offset, min(end, self.size)):
                used[i] = 1
        runs, start = [], None
        for i in range(self.size + 1):
            free = i < self.size and not used[i]
            if free and start is None:
                start = i
            elif not free and start is not None:
                runs.append((start, i - start))
                start = None
        return runs

    def _rows(self):
        """Fields and padding in offset order: (offset, size, label, field or None)."""
        rows = [(f.offset, f.size, f.declaration + (f" : {f.bits}" if f.bits is not None else ""), f)
                for f in self.fields]
        for offset, size in self.padding():
            tail = " at the end: the size rounds up to a multiple of the alignment" if offset + size == self.size else ""
            rows.append((offset, size, f"(padding{tail})", None))
        rows.sort(key=lambda r: (r[0], r[3] is None))
        return rows

    def _title(self):
        kind = "union" if self.union else "struct"
        pad = sum(size for _, size in self.padding())
        share = f", {pad} of them padding" if pad else ""
        return f"{kind} {self.name}: {self.size} bytes{share}, aligned to {self.align} (laid out by {self.by})"

    def __str__(self):
        out = [self._title(), "  offset  size  field"]
        for offset, size, label, f in self._rows():
            bits = f"  (bits {f.bit_offset}..{f.bit_offset + f.bits - 1})" if f is not None and f.bits is not None else ""
            out.append(f"  {offset:>6}  {size:>4}  {label}{bits}")
        out += [f"  warning: {d}" for d in self.differences]
        return "\n".join(out)

    __repr__ = __str__

    def _owners(self):
        """For each byte, the index of the field that owns it (-1: padding)."""
        owner = [-1] * self.size
        for i, f in enumerate(self.fields):
            end = f.offset + (-(-(f.bit_offset + f.bits) // 8) if f.bits is not None else f.size)
            for b in range(f.offset, min(end, self.size)):
                if owner[b] == -1:
                    owner[b] = i
        return owner

    def _repr_html_(self):
        esc = html.escape
        colors = ("#8ecae6", "#ffb703", "#90be6d", "#f28482", "#b8c0ff", "#f6bd60", "#84a59d", "#cdb4db")
        width = 8 if self.size >= 8 or self.align >= 8 else max(self.align, 4)
        if self.union:
            return self._union_html(colors, width)
        owner = self._owners()
        cells = []
        for row in range(0, max(self.size, 1), width):
            tds, b = [], row
            while b < min(row + width, self.size):
                o = owner[b]
                run = b
                while run < min(row + width, self.size) and owner[run] == o:
                    run += 1
                if o == -1:
                    style = ("background:repeating-linear-gradient(45deg,#eee,#eee 4px,#ddd 4px,#ddd 8px);"
                             "color:#999")
                    text = "pad"
                else:
                    style = f"background:{colors[o % len(colors)]}"
                    text = esc(self.fields[o].name)
                tds.append(f'<td colspan="{run - b}" style="{style};border:1px solid #fff;text-align:center;'
                           f'padding:3px 0;min-width:{(run - b) * 38}px">{text}</td>')
                b = run
            cells.append(f'<tr><td style="color:#888;padding-right:6px;text-align:right">{row}</td>{"".join(tds)}</tr>')
        return self._html(cells, colors)

    def _union_html(self, colors, width):
        """A union: every field starts at 0; one bar per field over the union's bytes."""
        cells = []
        for i, f in enumerate(self.fields):
            used = min(f.size, self.size)
            tds = (f'<td colspan="{used}" style="background:{colors[i % len(colors)]};border:1px solid #fff;'
                   f'text-align:center;padding:3px 0;min-width:{used * 38}px">{html.escape(f.name)}</td>')
            if used < self.size:
                tds += (f'<td colspan="{self.size - used}" style="background:repeating-linear-gradient(45deg,'
                        '#eee,#eee 4px,#ddd 4px,#ddd 8px);color:#999;text-align:center;border:1px solid #fff">'
                        'unused</td>')
            cells.append(f'<tr><td style="color:#888;padding-right:6px;text-align:right">0</td>{tds}</tr>')
        return self._html(cells, colors)

    def _html(self, cells, colors):
        esc = html.escape
        table_rows = "".join(
            f'<tr><td style="text-align:right;padding:0 8px">{offset}</td><td style="text-align:right;padding:0 8px">'
            f'{size}</td><td style="padding:0 8px">'
            + (f'<span style="display:inline-block;width:10px;height:10px;background:{colors[self.fields.index(f) % len(colors)]}"></span> '
               if f is not None else "")
            + f"{esc(label)}</td></tr>"
            for offset, size, label, f in self._rows())
        warn = "".join(f'<div style="color:#b00">warning: {esc(d)}</div>' for d in self.differences)
        return (f'<div class="cx-layout" style="font-family:monospace;font-size:12px">'
                f'<div style="font-weight:bold;margin:4px 0">{esc(self._title())}</div>{warn}'
                f'<table style="border-collapse:collapse;margin-bottom:6px">{"".join(cells)}</table>'
                f'<table style="border-collapse:collapse"><tr style="color:#666"><th style="padding:0 8px">offset</th>'
                f'<th style="padding:0 8px">size</th>'
                f'<th style="text-align:left;padding:0 8px">field</th></tr>{table_rows}</table></div>')


# ---- the class side: struct classes show their layout ---------------------------------------

def _class_html(cls):
    """A struct class displayed in Jupyter: its layout picture (None, i.e. the plain repr, when
    the class cannot be measured, e.g. one whose fields were never set)."""
    try:
        return layout(cls)._repr_html_()
    except (CxError, TypeError, ValueError, AttributeError):
        return None


# ---- measuring ---------------------------------------------------------------------------------

def layout(cls, name: Optional[str] = None) -> Layout:
    """The memory layout of a struct or union of a cx module, as its compiler laid it out.

    Parameters
    ----------
    cls : ctypes struct or union class, or cx.Module
        ``lib.Point``, or ``Point`` bound by ``%%cx``. Any other ``ctypes.Structure``/``Union``
        subclass shows the layout ``ctypes`` computes for it. A :class:`cx.Module` with ``name``
        also works for a struct cx binds no class for (one ``ctypes`` cannot lay out as C does,
        such as some bit-field mixes, or ``aligned`` members).
    name : str, optional
        With a module: the struct's name (typedef name or tag).

    Returns
    -------
    Layout
        Shown as a picture in Jupyter, as a table by ``print``.

    Examples
    --------
    >>> import cx
    >>> lib = cx.compile("typedef struct { char c; double d; } Pair;")
    >>> lay = cx.layout(lib.Pair)
    >>> lay.size, [(f.name, f.offset) for f in lay.fields], lay.padding()
    (16, [('c', 0), ('d', 8)], [(1, 7)])
    """
    if isinstance(cls, Module):
        return _module_layout(cls, name)
    if name is not None:
        raise TypeError("layout(cls) takes a name only with a module: layout(lib, 'Point')")
    if not (isinstance(cls, type) and issubclass(cls, (ctypes.Structure, ctypes.Union))):
        raise TypeError(f"layout() takes a struct or union class (lib.Point), or a module and a name, not {cls!r}")
    cached = cls.__dict__.get("_cx_layout")
    if cached is not None:
        return cached
    found = _measure(cls.__dict__.get("_cx_types"), cls.__dict__.get("_cx_struct"), cls)
    cls._cx_layout = found
    return found


def _module_layout(module, name) -> Layout:
    if not isinstance(name, str):
        raise TypeError("layout(module, name): name the struct, e.g. layout(lib, 'Point')")
    decl = module.declarations.structs.get(name)
    if decl is None:
        raise KeyError(f"module '{module.name}' defines no struct or union named {name!r}")
    try:
        cls = module._types.struct(name)
    except CxError as e:  # cx binds no class for it: the compiler's layout alone, and why
        how = module._types
        compiled = _compiler_layout(how, decl)
        why = str(e).splitlines()[0]
        return dataclasses.replace(compiled, differences=(f"cx binds no ctypes class for it ({why})",))
    if cls.__dict__.get("_cx_types") is module._types:
        return layout(cls)
    return _measure(module._types, decl, cls)  # a class shared with another module: as this one's compiler lays it out


def _measure(how, decl, cls) -> Layout:
    found = _ctypes_layout(cls, decl)
    if how is not None and how.settings is not None and decl is not None:
        try:
            compiled = _compiler_layout(how, decl)
        except CxError as e:  # e.g. a struct the query cannot name: show what ctypes knows, and why
            first = str(e).splitlines()[0]
            found = dataclasses.replace(found, differences=(f"the compiler could not be asked ({first}): "
                                                            "this is the ctypes class's layout",))
        else:
            found = dataclasses.replace(compiled, differences=_compare(compiled, found))
    return found


def _ctypes_layout(cls, decl) -> Layout:
    if not hasattr(cls, "_fields_"):
        raise TypeError(f"{cls.__name__} has no _fields_ yet: there is no layout to show")
    spelled = {f.name: _spell(f.name, f.type) for f in decl.fields} if decl is not None else {}
    fields = []
    for entry in cls._fields_:
        name, ctype = entry[0], entry[1]
        d = getattr(cls, name)
        bits = bit_offset = None
        size = d.size
        if len(entry) == 3:
            if hasattr(d, "bit_size"):  # Python 3.13+
                bits, bit_offset, size = d.bit_size, d.bit_offset, ctypes.sizeof(ctype)
            else:
                bits, bit_offset, size = d.size >> 16, d.size & 0xFFFF, ctypes.sizeof(ctype)
        fields.append(FieldLayout(name, spelled.get(name, f"{ctype.__name__} {name}"), d.offset, size, bits, bit_offset))
    return Layout(cls.__name__, issubclass(cls, ctypes.Union), ctypes.sizeof(cls), ctypes.alignment(cls),
                  tuple(fields), "ctypes")


def _spell(name, t):
    """``double d``, ``char b[3]``: a field's declaration as C writes it."""
    dims = ""
    while t.kind == "array":
        dims += f"[{'' if t.length is None else t.length}]"
        t = t.target
    spelling = t.spelling
    if "(*)" in spelling:  # a function pointer: void (*cb)(int)
        return spelling.replace("(*)", f"(*{name}{dims})", 1)
    return f"{spelling}{'' if spelling.endswith('*') else ' '}{name}{dims}"


def _leaves(field, structs):
    """The named, non-bit-field members reachable through an anonymous member (C names them directly)."""
    inner = structs.get(field.type.name) if field.type.kind in ("struct", "union") else None
    out = []
    for f in inner.fields if inner is not None else ():
        if f.name is None:
            out += _leaves(f, structs)
        elif f.bits is None:
            out.append(f.name)
    return out


def _anonymous_declaration(field, structs):
    """``union { int i; double d; }``: an anonymous member as C writes it."""
    inner = structs.get(field.type.name)
    members = " ".join((_spell(f.name, f.type) if f.name else _anonymous_declaration(f, structs))
                       + (f" : {f.bits}" if f.bits is not None else "") + ";" for f in inner.fields)
    return f"{field.type.kind} {{ {members} }}"


def _query_source(decl, structs) -> str:
    t = c_name(decl)
    body = [f"out[0] = sizeof({t}); out[1] = _Alignof({t});"]
    for i, f in enumerate(decl.fields):
        k = 2 + 3 * i
        if f.name is None:  # an anonymous struct/union member: where its named members are
            leaves = _leaves(f, structs)
            if not leaves:
                body.append(f"out[{k}] = out[{k + 1}] = out[{k + 2}] = (unsigned long)-1;")
                continue
            body.append("{ unsigned long lo = (unsigned long)-1, hi = 0, o, e;\n" + "".join(
                f"      o = __builtin_offsetof({t}, {n}); e = o + sizeof(__cx_v.{n}); if (o < lo) lo = o; "
                f"if (e > hi) hi = e;\n" for n in leaves) + f"      out[{k}] = lo; out[{k + 1}] = hi - lo; out[{k + 2}] = 2; }}")
        elif f.bits is None:
            body.append(f"out[{k}] = __builtin_offsetof({t}, {f.name}); out[{k + 1}] = sizeof(__cx_v.{f.name}); "
                        f"out[{k + 2}] = (unsigned long)-1;")
        else:  # a bit-field: set all its bits in a zeroed object and see which bits are set
            body.append(f"__cx_zero(&__cx_v, sizeof __cx_v); __cx_v.{f.name} = -1; "
                        f"__cx_bits(&__cx_v, sizeof __cx_v, out + {k});")
    return (f"\nstatic void __cx_zero(void *p, unsigned long n) {{ while (n--) ((unsigned char *)p)[n] = 0; }}\n"
            "static void __cx_bits(const void *p, unsigned long n, unsigned long *out) {\n"
            "    const unsigned char *b = p; unsigned long i, first = (unsigned long)-1, count = 0;\n"
            "    for (i = 0; i < n * 8; i++) if (b[i / 8] >> (i % 8) & 1) { if (first == (unsigned long)-1) first = i; count++; }\n"
            "    out[0] = first; out[1] = count; out[2] = 1;\n}\n"
            f"void {_QUERY}(unsigned long *out) {{\n    {t} __cx_v;\n    (void)__cx_v;\n    "
            + "\n    ".join(body) + "\n}\n")


def _compiler_layout(how, decl) -> Layout:
    """Ask the compiler the module was compiled with (``how``: its type table keeps the backend's
    settings), with the same options, about ``decl``."""
    backend, settings = how.backend, how.settings
    options = tuple(o for o in settings.options if not (o == "-b" or o.startswith("-bt")))
    settings = dataclasses.replace(settings, options=options)
    source = settings.user_source + "\n#line 1 \"<cx-layout>\"\n" + _query_source(decl, how.declarations.structs)
    text = unit.translation_unit(source, how.declarations, guard=False)
    code = backends.get(backend).build(text, settings)
    try:
        n = 2 + 3 * len(decl.fields)
        out = (ctypes.c_ulong * n)()
        ctypes.CFUNCTYPE(None, ctypes.c_void_p)(code.sym(_QUERY))(ctypes.addressof(out))
        values = list(out)
    finally:
        code.close()
    fields = []
    for i, f in enumerate(decl.fields):
        a, b, c = values[2 + 3 * i: 5 + 3 * i]
        if f.name is None:
            if c == 2:  # an anonymous member: a = its offset, b = its size
                kind = f.type.kind
                fields.append(FieldLayout(f"({kind})", _anonymous_declaration(f, how.declarations.structs), a, b))
            continue
        if f.bits is None:
            fields.append(FieldLayout(f.name, _spell(f.name, f.type), a, b))
        else:  # a = first bit set, b = how many
            unit_size = _scalar_size(f)
            offset = (a // 8) // unit_size * unit_size if unit_size else a // 8
            fields.append(FieldLayout(f.name, _spell(f.name, f.type), offset, unit_size or -(-b // 8), b, a - offset * 8))
    return Layout(decl.name, decl.union, values[0], values[1], tuple(fields), "TinyCC" if backend == "tcc" else "cc")


def _scalar_size(field):
    t = field.type
    if t.kind == "scalar":
        return scalars.by_name(t.name).size
    if t.kind == "enum":
        return ctypes.sizeof(ctypes.c_int)
    return 0


def _compare(compiled: Layout, bound: Layout) -> tuple:
    """How the bound ctypes class differs from the compiler's layout (empty: it does not)."""
    out = []
    if (compiled.size, compiled.align) != (bound.size, bound.align):
        out.append(f"the ctypes class cx binds is {bound.size} bytes aligned to {bound.align}, but the compiler's "
                   f"struct is {compiled.size} bytes aligned to {compiled.align}: ctypes does not lay it out as C "
                   "does (packed or aligned attributes, some bit-field mixes); do not pass it between Python and C")
    theirs = {f.name: f for f in bound.fields}
    for f in compiled.fields:
        b = theirs.get(f.name)
        if b is not None and (b.offset * 8 + (b.bit_offset or 0)) != (f.offset * 8 + (f.bit_offset or 0)):
            out.append(f"field {f.name}: offset {f.offset} for the compiler, {b.offset} in the ctypes class")
    return tuple(out)


show_layouts_with(_class_html)  # struct classes show this picture in Jupyter
