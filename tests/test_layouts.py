"""cx.layout: struct layouts as the compiler laid them out, against ctypes and against C itself."""
import ctypes
import shutil

import pytest

import cx

SOURCE = """\
#include <stdint.h>
typedef struct { char c; int i; double d; short s; } Mixed;
struct Packed { char c; int i; short s; } __attribute__((packed));
#pragma pack(push, 2)
typedef struct { char c; double d; } Pack2;
#pragma pack(pop)
typedef struct { unsigned a : 3; unsigned b : 5; int c : 12; char z; } Bits;
union U { int i; double d; char b[3]; };
typedef struct { Mixed m; char tail[3]; } Nested;
"""

FIELDS = {"Mixed": "cids", "Packed": "cis", "Pack2": "cd", "Nested": ("m", "tail")}


def _c_truth(names):
    """sizeof, _Alignof and offsetof of every field, from a separate C query compiled by TinyCC."""
    body, k = [], 0
    index = {}
    for name, fields in names.items():
        t = "struct Packed" if name == "Packed" else ("union U" if name == "U" else name)
        index[name] = k
        body.append(f"out[{k}] = sizeof({t}); out[{k + 1}] = _Alignof({t});")
        for j, f in enumerate(fields):
            body.append(f"out[{k + 2 + j}] = __builtin_offsetof({t}, {f});")
        k += 2 + len(fields)
    lib = cx.compile(SOURCE + "void truth(unsigned long *out) {\n" + "\n".join(body) + "\n}\n")
    out = (ctypes.c_ulong * k)()
    lib.truth(out)
    return {n: (out[index[n]], out[index[n] + 1], [out[index[n] + 2 + j] for j in range(len(f))])
            for n, f in names.items()}


@pytest.fixture(scope="module")
def lib():
    return cx.compile(SOURCE)


def test_layouts_match_the_compiler(lib):
    truth = _c_truth(FIELDS)
    for name, fields in FIELDS.items():
        lay = cx.layout(lib, "Packed" if name == "Packed" else name)
        size, align, offsets = truth[name]
        assert (lay.size, lay.align) == (size, align), name
        assert [(f.name, f.offset) for f in lay.fields] == list(zip(fields, offsets)), name
        assert lay.by == "TinyCC"


def test_padded_struct_matches_ctypes_and_names_its_padding(lib):
    lay = cx.layout(lib.Mixed)
    assert (lay.size, lay.align) == (ctypes.sizeof(lib.Mixed), ctypes.alignment(lib.Mixed)) == (24, 8)
    assert [(f.name, f.offset, f.size) for f in lay.fields] == [
        (n, getattr(lib.Mixed, n).offset, getattr(lib.Mixed, n).size) for n in "cids"]
    assert lay.padding() == [(1, 3), (18, 6)]
    assert lay.differences == ()
    assert str(lay).splitlines() == [
        "struct Mixed: 24 bytes, 9 of them padding, aligned to 8 (laid out by TinyCC)",
        "  offset  size  field",
        "       0     1  char c",
        "       1     3  (padding)",
        "       4     4  int i",
        "       8     8  double d",
        "      16     2  short s",
        "      18     6  (padding at the end: the size rounds up to a multiple of the alignment)",
    ]


def test_packed_struct_is_the_compilers_and_matches_a_packed_ctypes_class(lib):
    lay = cx.layout(lib, "Packed")
    assert (lay.size, lay.align, [f.offset for f in lay.fields], lay.padding()) == (7, 1, [0, 1, 5], [])

    class Reference(ctypes.Structure):  # what ctypes makes of the same struct when told it is packed
        _pack_ = 1
        _layout_ = "ms"  # the only layout 3.14 packs (earlier versions ignore it)
        _fields_ = [("c", ctypes.c_char), ("i", ctypes.c_int), ("s", ctypes.c_short)]

    assert lay.size == ctypes.sizeof(Reference)
    assert [f.offset for f in lay.fields] == [Reference.c.offset, Reference.i.offset, Reference.s.offset]
    assert ctypes.sizeof(lib.Packed) == 7 and cx.layout(lib.Packed).differences == ()  # the binding packs it


def test_a_binding_that_disagrees_with_the_compiler_is_reported():
    from cx.tools import layouts

    compiled = cx.layout(cx.compile(SOURCE), "Packed")

    class Unpacked(ctypes.Structure):
        _fields_ = [("c", ctypes.c_char), ("i", ctypes.c_int), ("s", ctypes.c_short)]

    differences = layouts._compare(compiled, cx.layout(Unpacked))
    assert "do not pass it between Python and C" in differences[0]
    assert "field i: offset 1 for the compiler, 4 in the ctypes class" in differences


def test_bit_fields(lib):
    lay = cx.layout(lib, "Bits")  # a mix ctypes lays out otherwise: cx binds no class, the layout is C's
    assert [(f.name, f.offset, f.bits, f.bit_offset) for f in lay.fields] == [
        ("a", 0, 3, 0), ("b", 0, 5, 3), ("c", 0, 12, 8), ("z", 3, None, None)]
    assert (lay.size, lay.align) == (4, 4) == _c_truth({"Bits": ["z"]})["Bits"][:2]
    assert "unsigned int a : 3  (bits 0..2)" in str(lay)
    try:
        lib.Bits
    except cx.CxError:
        assert lay.differences and lay.differences[0].startswith("cx binds no ctypes class for it (")


def test_union(lib):
    lay = cx.layout(lib.U)
    assert lay.union and (lay.size, lay.align) == (8, 8) == (ctypes.sizeof(lib.U), ctypes.alignment(lib.U))
    assert [(f.declaration, f.offset, f.size) for f in lay.fields] == [("int i", 0, 4), ("double d", 0, 8),
                                                                      ("char b[3]", 0, 3)]
    assert "unused" in lib.U._repr_html_()


def test_class_displays_its_layout_but_instances_keep_their_repr(lib):
    from IPython.core.formatters import HTMLFormatter

    page = HTMLFormatter()(lib.Mixed)
    assert page is not None and page.startswith('<div class="cx-html cx-layout"')
    assert "struct Mixed: 24 bytes" in page and "pad" in page
    assert HTMLFormatter()(lib.Mixed(b"x", 1, 2.0, 3)) is None
    assert repr(lib.Mixed(b"x", 1, 2.0, 3)) == "Mixed(c=b'x', i=1, d=2.0, s=3)"


def test_layout_is_cached_and_survives_the_module(lib):
    assert cx.layout(lib.Mixed) is cx.layout(lib.Mixed)
    other = cx.compile("typedef struct { char c; long l; } __attribute__((packed)) Two;")
    cls = other.Two
    other.close()
    del other
    lay = cx.layout(cls)  # the class keeps how its module was compiled, not its code
    assert lay.by == "TinyCC" and (lay.size, [f.offset for f in lay.fields]) == (9, [0, 1])


def test_plain_ctypes_and_bad_input():
    class P(ctypes.Structure):
        _fields_ = [("x", ctypes.c_short), ("y", ctypes.c_double)]

    assert [(f.name, f.offset) for f in cx.layout(P).fields] == [("x", 0), ("y", 8)]
    assert cx.layout(P).by == "ctypes" and str(cx.layout(P)).splitlines()[2] == "       0     2  c_short x"
    with pytest.raises(TypeError, match="struct or union class"):
        cx.layout(42)
    with pytest.raises(TypeError, match="only with a module"):
        cx.layout(P, "P")
    lib = cx.compile("struct S { int x; };")
    with pytest.raises(KeyError, match="no struct or union named 'T'"):
        cx.layout(lib, "T")
    with pytest.raises(TypeError, match="name the struct"):
        cx.layout(lib)


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="no system C compiler")
def test_cc_module_asks_the_system_compiler(tmp_path, monkeypatch):
    monkeypatch.setenv("CX_CACHE_DIR", str(tmp_path))
    lib, tcc = cx.compile(SOURCE, backend="cc"), cx.compile(SOURCE)
    for name in ("Mixed", "Packed", "Bits"):
        theirs, ours = cx.layout(lib, name), cx.layout(tcc, name)
        assert (theirs.by, ours.by) == ("cc", "TinyCC")
        assert (theirs.size, theirs.align, theirs.fields) == (ours.size, ours.align, ours.fields), name


def test_a_class_that_cannot_be_measured_displays_its_plain_repr():
    from cx.bind.types import StructType

    unfinished = StructType("Unfinished", (ctypes.Structure,), {})  # no _fields_ yet
    assert unfinished._repr_html_() is None
    with pytest.raises(TypeError, match="Unfinished has no _fields_ yet"):
        cx.layout(unfinished)


def test_anonymous_members_show_where_their_members_are():
    lib = cx.compile("typedef struct { int kind; union { int i; double d; }; char t; struct { short a, b; }; } Var;")
    lay = cx.layout(lib.Var)
    assert [(f.name, f.declaration, f.offset, f.size) for f in lay.fields] == [
        ("kind", "int kind", 0, 4), ("(union)", "union { int i; double d; }", 8, 8), ("t", "char t", 16, 1),
        ("(struct)", "struct { short a; short b; }", 18, 4)]
    assert (lay.size, lay.padding(), lay.differences) == (24, [(4, 4), (17, 1), (22, 2)], ())
    assert ctypes.sizeof(lib.Var) == 24 and lib.Var.d.offset == 8
