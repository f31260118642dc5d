"""cx.errors: compiler messages become Diagnostics and render with the line and a caret."""
from cx.errors import CompileError, Diagnostic, parse_diagnostics


def test_tinycc_messages_are_parsed_with_cell_lines():
    text = "<cell>:3: error: 'x' undeclared\n<cell>:1: warning: implicit declaration of function 'f'\n"
    assert parse_diagnostics(text) == [
        Diagnostic(3, "error", "'x' undeclared"),
        Diagnostic(1, "warning", "implicit declaration of function 'f'"),
    ]


def test_link_errors_have_no_line():
    (d,) = parse_diagnostics("tcc: error: undefined symbol 'missing'")
    assert (d.line, d.severity, d.file) == (None, "error", "tcc")
    assert "missing" in d.message


def test_linker_messages_are_link_errors_whatever_the_linker_calls_itself():
    # binutils 2.45 (Debian sid) names itself as invoked: "x86_64-linux-gnu-ld.bfd:"
    for linker in ("ld", "/usr/bin/ld", "x86_64-linux-gnu-ld.bfd", "/usr/bin/aarch64-linux-gnu-ld", "ld.lld",
                   "ld.gold"):
        (d,) = parse_diagnostics(f"{linker}: cannot find -lnope: No such file or directory")
        assert (d.line, d.severity, d.file, d.message) == (None, "error", "ld",
                                                             "cannot find -lnope: No such file or directory"), linker
    (d,) = parse_diagnostics("x86_64-linux-gnu-ld.bfd: warning: creating DT_TEXTREL")
    assert (d.severity, d.file) == ("warning", "ld")


def test_messages_about_headers_keep_the_header_name():
    text = "In file included from <cell>:1:\n/tmp/h.h:2: error: ';' expected\n"
    (d,) = parse_diagnostics(text)
    assert (d.file, d.line) == ("/tmp/h.h", 2)
    assert d.message.startswith("In file included from <cell>:1")


def test_rendering_puts_the_caret_under_the_token_the_compiler_stopped_at():
    source = "int f(int x) {\n    int y = x * 3\n    return y;\n}\n"
    err = CompileError("C compile failed", parse_diagnostics("<cell>:3: error: ';' expected (got 'return')"), source)
    lines = str(err).splitlines()
    assert lines[1] == "<cell>:3: error: ';' expected (got 'return')"
    assert lines[2] == "        return y;"
    assert lines[3] == "        ^"


def test_rendering_puts_the_caret_under_a_quoted_name():
    source = "int g(void) { return undefined_name; }"
    err = CompileError("C compile failed", parse_diagnostics("<cell>:1: error: 'undefined_name' undeclared"), source)
    caret = str(err).splitlines()[3]
    assert caret.index("^") == str(err).splitlines()[2].index("undefined_name")


def test_ipython_sees_only_the_compiler_messages():
    err = CompileError("C compile failed", [Diagnostic(1, "error", "boom")], "int x")
    (text,) = err._render_traceback_()
    assert text.startswith("CompileError: C compile failed\n<cell>:1: error: boom")
