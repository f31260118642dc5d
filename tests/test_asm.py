"""cx.asm: the machine code of a bound function with its source lines (TinyCC and backend="cc")."""
import builtins
import platform
import shutil

import pytest

pytest.importorskip("capstone")

import cx  # noqa: E402
from cx.tools import asm  # noqa: E402

SOURCE = """\
static int helper(int x) { return x * 2; }
int add(int a, int b)
{
    int s = a + b;
    return helper(s);
}
double total(long n) {
    double s = 0;
    for (long i = 0; i < n; i++)
        s += i;
    return s;
}
"""
X86 = platform.machine() in ("x86_64", "AMD64")


def test_guarded_tinycc_function_lines_and_extent():
    lib = cx.compile(SOURCE)
    listing = lib.total.disassemble()
    assert listing.function == "total" and listing.backend == "TinyCC" and listing.note == ""
    assert listing.address == lib.total.info.address  # the user's function itself
    assert listing.instructions[0].address == listing.address
    ends = [i.offset + len(i.data) for i in listing.instructions]
    assert ends[-1] == listing.size  # decoded exactly up to the symbol's size
    assert listing.instructions[-1].mnemonic == "ret"
    assert {i.file for i in listing.instructions} == {"<cell>"}
    assert listing.lines() == [7, 8, 9, 10, 11, 12]
    assert listing.instructions[0].line == 7 and listing.instructions[-1].line == 12
    if X86:  # the loop's addition: an SSE add on line 10
        assert [i.line for i in listing.instructions if i.mnemonic == "addsd"] == [10]
    text = str(listing)
    assert text.startswith(f"total(): {len(listing.instructions)} instructions, {listing.size} bytes at ")
    assert "   9:     for (long i = 0; i < n; i++)" in text.splitlines()
    assert repr(listing) == text


def test_function_next_to_a_static_one_and_the_brace_line():
    lib = cx.compile(SOURCE)
    listing = lib.add.disassemble()
    assert listing.lines() == [3, 4, 5, 6]  # the prologue carries the line of '{'
    assert listing.source_line(4) == "    int s = a + b;"
    if X86:
        calls = [i for i in listing.instructions if i.mnemonic == "call"]
        assert len(calls) == 1 and calls[0].line == 5  # the call of the static helper


def test_unguarded_module_has_no_lines_but_says_why():
    lib = cx.compile(SOURCE, guard=False)
    listing = lib.total.disassemble()
    assert all(i.line is None for i in listing.instructions)
    assert "no line tables" in listing.note and "guard=True" in listing.note
    assert listing.instructions[0].address == lib._code.sym("total")


def test_html_listing_escapes_and_groups_by_line():
    lib = cx.compile("int lt(int a, int b) {\n    return a < b;\n}\n")
    page = lib.lt.disassemble()._repr_html_()
    assert page.startswith('<div class="cx-html cx-asm">')
    assert "return a &lt; b;" in page and "return a < b;" not in page
    assert page.count("font-weight:bold;border-top") == len(lib.lt.disassemble().lines())


def test_missing_extra_names_the_checkout_form_too():
    assert asm._EXTRA.startswith('pip install "cx[asm]"') and 'pip install -e ".[asm]"' in asm._EXTRA


def test_att_syntax_and_bad_arguments():
    lib = cx.compile(SOURCE)
    if X86:
        assert any("%" in i.operands for i in lib.add.disassemble(syntax="att").instructions)
    with pytest.raises(ValueError, match="syntax must be"):
        lib.add.disassemble(syntax="masm")
    with pytest.raises(TypeError, match="function bound by cx"):
        asm.disassemble(len)


def test_closed_module_refuses():
    lib = cx.compile(SOURCE)
    fn = lib.add
    lib.close()
    with pytest.raises(cx.ClosedError, match="closed module"):
        fn.disassemble()


def test_missing_capstone_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_capstone(name, *args, **kwargs):
        if name == "capstone":
            raise ImportError("No module named 'capstone'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_capstone)
    lib = cx.compile(SOURCE)
    with pytest.raises(cx.CxError, match=r'pip install "cx\[asm\]"'):
        lib.add.disassemble()


needs_cc = pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                              reason="no system C compiler")


@needs_cc
def test_cc_backend_with_debug_lines(tmp_path, monkeypatch):
    pytest.importorskip("elftools")
    monkeypatch.setenv("CX_CACHE_DIR", str(tmp_path))
    lib = cx.compile(SOURCE, backend="cc", options="-g")
    listing = lib.total.disassemble()
    assert listing.backend == "cc" and "best-effort" in listing.note
    assert listing.address == lib.total.info.address
    assert sum(len(i.data) for i in listing.instructions) == listing.size
    assert listing.instructions[-1].mnemonic in ("ret", "retq") or any(i.mnemonic == "ret" for i in listing.instructions)
    assert set(listing.lines()) <= set(range(7, 13)) and 10 in listing.lines()
    if X86:  # the loop's addition is attributed to line 10 by gcc too
        assert 10 in {i.line for i in listing.instructions if i.mnemonic == "addsd"}


@needs_cc
def test_cc_backend_without_debug_info_has_no_lines(tmp_path, monkeypatch):
    pytest.importorskip("elftools")
    monkeypatch.setenv("CX_CACHE_DIR", str(tmp_path))
    lib = cx.compile(SOURCE, backend="cc")
    listing = lib.add.disassemble()
    assert all(i.line is None for i in listing.instructions)
    assert "options='-g'" in listing.note


def test_magic_asm_shows_every_function(shell, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CX_CACHE_DIR", str(tmp_path / "cache"))
    capsys.readouterr()
    shell.run_cell("%%cx --asm\n" + SOURCE).raise_error()
    out = capsys.readouterr().out
    assert "add(): " in out and "total(): " in out and "helper" not in out.split("add(): ")[0]
    assert "  11:         s += i;" in out.splitlines()  # gutter lines: the %%cx line is 1
    assert shell.user_ns["add"](2, 3) == 10
    if shutil.which("cc") or shutil.which("gcc"):
        pytest.importorskip("elftools")
        shell.run_cell("%%cx --cc --asm\n" + SOURCE).raise_error()
        out = capsys.readouterr().out
        assert "(cc)" in out and "  11:         s += i;" in out.splitlines()  # -g was added


def test_side_by_side():
    one, two = cx.compile(SOURCE), cx.compile(SOURCE, options="-O2")
    both = asm.side_by_side(one.total, two.total.disassemble())
    assert [x.function for x in both.listings] == ["total", "total"]
    lines = str(both).splitlines()
    left = str(both.listings[0]).splitlines()
    assert len(lines) == max(len(left), len(str(both.listings[1]).splitlines()))
    assert lines[0].startswith(left[0]) and " | total(): " in lines[0]
    page = both._repr_html_()
    assert page.startswith('<div class="cx-html cx-asm-side-by-side">') and page.count("total(): ") == 2
    assert page.count("<style>") == 1 and "flex-wrap:wrap" in page  # columns that wrap, not overflow
    with pytest.raises(TypeError):
        asm.side_by_side()
