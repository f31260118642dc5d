"""The %%cx magic (cx.magics) in an in-process IPython shell with a throwaway IPYTHONDIR."""
import errno
import gc
import re
import shutil
import subprocess
import sys
import weakref

import pytest

IPython = pytest.importorskip("IPython")
from IPython.core.error import UsageError  # noqa: E402

import cx  # noqa: E402
import cx.magics  # noqa: E402
from cx.runtime import capture  # noqa: E402

FIB_HELLO = """\
#include <stdio.h>
long fib(int n) { long a = 0, b = 1; while (n--) { long t = a + b; a = b; b = t; } return a; }
void hello(const char *who) { printf("hello, %s\\n", who); }
struct point { int x, y; };
"""


def ok(sh, code):
    """Run a cell that must succeed."""
    result = sh.run_cell(code)
    result.raise_error()
    return result


def session(sh):
    return sh.magics_manager.registry["CxMagics"].session


# -- loading ------------------------------------------------------------------------------------
def test_loading_twice_is_harmless(shell, capsys):
    ok(shell, "%load_ext cx")
    cx.magics.load_ipython_extension(shell)
    ok(shell, "%%cx\nint one(void) { return 1; }")
    assert shell.user_ns["one"]() == 1
    assert len([f for f in shell.events.callbacks["post_run_cell"]
                if getattr(f, "__func__", None) is cx.magics.CxMagics.after_cell]) == 1
    cx.magics.unload_ipython_extension(shell)  # one unload undoes the (single) install
    assert not capture.installed()
    assert "cx" not in shell.magics_manager.magics["cell"]


def test_unload_keeps_bound_functions_and_reload_works(shell):
    ok(shell, "%%cx\nint one(void) { return 1; }")
    ok(shell, "%unload_ext cx")
    assert shell.user_ns["one"]() == 1
    assert shell.run_cell("%%cx\nint two(void) { return 2; }").error_in_exec is not None
    ok(shell, "%load_ext cx")
    ok(shell, "%%cx\nint two(void) { return 2; }")
    assert shell.user_ns["two"]() == 2


def test_reload_ext(shell):
    ok(shell, "%%cx\nint one(void) { return 1; }")
    ok(shell, "%reload_ext cx")
    assert capture.installed()
    ok(shell, "%%cx\nint two(void) { return 2; }")
    assert shell.user_ns["one"]() + shell.user_ns["two"]() == 3


# -- binding ------------------------------------------------------------------------------------
def test_cell_binds_every_function_and_struct(shell, capsys):
    ok(shell, "%%cx\n" + FIB_HELLO)
    ns = shell.user_ns
    assert ns["fib"](90) == 2880067194370816120
    p = ns["point"](3, 4)
    assert (p.x, p.y) == (3, 4)
    ok(shell, 'hello("notebook")')
    assert capsys.readouterr().out == "hello, notebook\n"


def test_static_functions_are_not_bound(shell):
    ok(shell, "%%cx\nstatic int helper(void) { return 1; }\nint visible(void) { return helper() + 1; }")
    assert "helper" not in shell.user_ns
    assert shell.user_ns["visible"]() == 2


def test_name_binds_the_module(shell):
    ok(shell, "%%cx -n lib\nint counter = 5;\nint bump(void) { return ++counter; }")
    lib = shell.user_ns["lib"]
    assert isinstance(lib, cx.Module) and lib.name == "lib"
    assert shell.user_ns["bump"]() == 6
    assert lib.counter == 6


def test_defines(shell):
    ok(shell, "%%cx -D N=5 -D FLAG\nint n(void) { return N; }\n#ifdef FLAG\nint flag(void) { return 1; }\n#endif")
    assert shell.user_ns["n"]() == 5
    assert shell.user_ns["flag"]() == 1


def test_include_dir(shell, tmp_path):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "answer.h").write_text("#define ANSWER 42\n")
    ok(shell, f'%%cx -I {tmp_path / "inc"}\n#include "answer.h"\nint answer(void) {{ return ANSWER; }}')
    assert shell.user_ns["answer"]() == 42


def test_library(shell):
    ok(shell, "%%cx -l m\n#include <math.h>\ndouble cube_root(double x) { return cbrt(x); }")
    assert shell.user_ns["cube_root"](27.0) == pytest.approx(3.0)


def test_missing_library_fails_the_cell(shell):
    result = shell.run_cell("%%cx -l cx_no_such_library\nint f(void) { return 0; }")
    assert isinstance(result.error_in_exec, cx.CompileError)
    assert "cx_no_such_library" in str(result.error_in_exec)


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a system C compiler to build a library")
def test_library_dir(shell, tmp_path):
    (tmp_path / "a.c").write_text("int forty_two(void) { return 42; }\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(tmp_path / "libcxdemo.so"), str(tmp_path / "a.c")],
                   check=True)
    ok(shell, f"%%cx -L {tmp_path} -l cxdemo\nint forty_two(void);\nint twice(void) {{ return 2 * forty_two(); }}")
    assert shell.user_ns["twice"]() == 84


def test_options_with_spaces_and_quotes_take_one_path(shell):
    # issue 13: the magic and cx.compile split options once, as a shell would; -D values keep
    # their spaces and quotes all the way to the compiler
    ok(shell, """%%cx --options '-DMSG="\\"a b\\"" -DN="1 + 2"'\nconst char *msg(void) { return MSG; }\n"""
              "int n(void) { return N; }")
    assert shell.user_ns["msg"]() == "a b" and shell.user_ns["n"]() == 3
    assert cx.compile("const char *m(void) { return MSG; }", options=['-DMSG="a b"']).m() == "a b"
    assert cx.compile("int n(void) { return N; }", options='-DN="1 + 2" -O2').n() == 3
    with pytest.raises(cx.OptionError, match="holds a space or a quote"):
        cx.compile("int f(void) { return 1; }", options=["-W all"])
    with pytest.raises(cx.OptionError, match="No closing quotation"):
        cx.compile("int f(void) { return 1; }", options='-DX="open')


def test_options_are_passed_quoted_or_with_equals(shell):
    ok(shell, '%%cx --options "-Wall -O2"\nint f(void) { return 1; }')
    ok(shell, "%%cx --options=-Wall\nint g(void) { return 2; }")
    assert shell.user_ns["f"]() + shell.user_ns["g"]() == 3


def test_refused_option_is_a_usage_error(shell):
    result = shell.run_cell('%%cx --options "-fno-such-flag"\nint f(void) { return 1; }')
    assert isinstance(result.error_in_exec, UsageError)
    assert str(result.error_in_exec).startswith("%%cx: ")
    assert "-fno-such-flag" in str(result.error_in_exec)


def test_cc_compiles_with_the_system_compiler(shell, tmp_path, monkeypatch):
    monkeypatch.setenv("CX_CACHE_DIR", str(tmp_path / "cache"))
    ok(shell, '%%cx --cc --options "-O3"\nint twice(int x) { return 2 * x; }')
    assert shell.user_ns["twice"](21) == 42
    assert type(shell.user_ns["twice"].info.code).__module__ == "cx.build.backends.cc"
    assert compile_options_of(shell, "--cc gcc") == {"backend": "cc", "compiler": "gcc"}


def compile_options_of(sh, line):
    from IPython.core.magic_arguments import parse_argstring

    from cx.magics import compile_options

    magics = sh.magics_manager.registry["CxMagics"]
    return compile_options(parse_argstring(magics.cx, line))


def test_check_and_hold_gil_reach_compile(shell):
    assert compile_options_of(shell, "--check --hold-gil f --hold-gil g") == {"check": True, "hold_gil": ("f", "g")}
    ok(shell, "%%cx --hold-gil held\nint held(void) { return 7; }")
    assert shell.user_ns["held"]() == 7
    assert "holds the GIL" in shell.user_ns["held"].__doc__


SUM_FIRST = ("int sum_first(int n) {\n"
             "    int a[4] = {1, 2, 3, 4}, s = 0;\n"
             "    for (int i = 0; i <= n; i++) s += a[i];\n"
             "    return s;\n"
             "}")


def test_check_turns_an_out_of_bounds_read_into_a_bounds_error_at_the_gutter_line(shell):
    ok(shell, "%%cx --check\n" + SUM_FIRST)
    assert shell.user_ns["sum_first"](3) == 10
    err = shell.run_cell("sum_first(4)").error_in_exec
    assert type(err) is cx.BoundsError and (err.function, err.where, err.line) == ("sum_first", "sum_first", 4)
    assert re.fullmatch(r"sum_first\(\) failed the bounds check: accessed 4 bytes at offset 16 of a 16-byte object "
                        r"\(at 0x[0-9a-f]+\), just past its end, at line 4 \(in sum_first\(\)\)\.\n"
                        r"        for \(int i = 0; i <= n; i\+\+\) s \+= a\[i\];\n        \^", str(err)), str(err)
    assert err.check.startswith("BCHECK: ")
    assert shell.user_ns["sum_first"](2) == 6  # the kernel and the function live on
    ok(shell, "%%cx\n" + SUM_FIRST)  # the same cell unchecked: a different cache entry, no checker
    assert session(shell).compiles == 2
    assert isinstance(shell.user_ns["sum_first"](4), int)  # reads past the array, unnoticed


def test_hold_gil_of_an_unknown_function_is_a_usage_error(shell):
    result = shell.run_cell("%%cx --hold-gil nope\nint f(void) { return 1; }")
    assert isinstance(result.error_in_exec, UsageError)
    assert "nope" in str(result.error_in_exec)


def test_unknown_magic_option_is_a_usage_error(shell):
    result = shell.run_cell("%%cx --no-such-option\nint f(void) { return 1; }")
    assert isinstance(result.error_in_exec, UsageError)


def test_variadic_function_is_bound_and_takes_its_extra_arguments(shell, capsys):
    ok(shell, "%%cx\n#include <stdarg.h>\n"
              "int sum(int n, ...) { va_list ap; int s = 0; va_start(ap, n); while (n--) s += va_arg(ap, int);"
              " va_end(ap); return s; }\nint plain(void) { return 3; }")
    assert shell.user_ns["sum"](3, 1, 2, 3) == 6 and shell.user_ns["plain"]() == 3
    assert "not bound" not in capsys.readouterr().err


def test_line_magic(shell):
    ok(shell, "%cx int twice(int x) { return 2 * x; }")
    assert shell.user_ns["twice"](21) == 42
    assert isinstance(shell.run_cell("%cx   ").error_in_exec, UsageError)


def test_help_shows_options_and_example(shell, capsys):
    doc = shell.find_cell_magic("cx").__doc__
    # argparse shows the metavar once since Python 3.13: "-n, --name NAME" (before: "-n NAME, --name NAME")
    assert ("-n, --name NAME" if sys.version_info >= (3, 13) else "-n NAME, --name NAME") in doc
    for text in ("-I DIR", "-D NAME[=VALUE]", "-l LIB", "-L DIR", "--options",
                 "-v, --verbose", "-f, --force", "Example::", "%%cx -n mathlib -l m"):
        assert text in doc, text
    ok(shell, "%%cx?")
    assert "--force" in capsys.readouterr().out


def test_help_example_runs(shell, capsys):
    doc = shell.find_cell_magic("cx").__doc__
    example = doc.split("Example::\n\n", 1)[1].split("\n\n", 1)[0]
    ok(shell, "\n".join(line[4:] for line in example.splitlines()))
    ok(shell, 'print(hyp(3, 4)); hello("notebook")')
    assert capsys.readouterr().out == "5.0\nhello, notebook\n"
    assert shell.user_ns["mathlib"].name == "mathlib"


# -- re-running and the cache ---------------------------------------------------------------------
def test_rerun_unchanged_cell_is_not_recompiled(shell, capsys):
    cell = "%%cx -v\nint f(void) { return 1; }"
    ok(shell, cell)
    first = shell.user_ns["f"]
    ok(shell, cell)
    assert session(shell).compiles == 1
    out = capsys.readouterr().out
    assert "cx: compiled" in out and "is unchanged: reused the compiled code" in out
    assert shell.user_ns["f"] is first


def test_rerun_keeps_the_globals_and_force_resets_them(shell):
    cell = "%%cx -n lib\nint counter = 10;\nint bump(void) { return ++counter; }"
    ok(shell, cell)
    assert (shell.user_ns["bump"](), shell.user_ns["bump"]()) == (11, 12)
    ok(shell, cell)  # unchanged: the same code, its globals as they were
    assert shell.user_ns["bump"]() == 13 and shell.user_ns["lib"].counter == 13
    ok(shell, cell.replace("%%cx", "%%cx -f"))  # compiled afresh: counter starts from 10 again
    assert shell.user_ns["bump"]() == 11 and shell.user_ns["lib"].counter == 11
    assert session(shell).compiles == 2


def test_force_recompiles(shell):
    ok(shell, "%%cx\nint f(void) { return 1; }")
    ok(shell, "%%cx -f\nint f(void) { return 1; }")
    assert session(shell).compiles == 2


def test_different_options_are_a_different_cache_entry(shell):
    ok(shell, "%%cx -D V=1\nint v(void) { return V; }")
    ok(shell, "%%cx -D V=2\nint v(void) { return V; }")
    assert shell.user_ns["v"]() == 2
    ok(shell, "%%cx -D V=2\nint v(void) { return V; }")
    assert session(shell).compiles == 2


def test_cache_keeps_only_code_still_in_use(shell):
    ok(shell, "%%cx -D V=1\nint v(void) { return V; }")
    ok(shell, "%%cx -D V=2\nint v(void) { return V; }")  # nothing refers to the V=1 code any more
    ok(shell, "%%cx -D V=1\nint v(void) { return V; }")
    assert shell.user_ns["v"]() == 1
    assert session(shell).compiles == 3


def test_rerun_edited_cell_rebinds_and_frees_old_code(shell):
    ok(shell, "%%cx -n lib\nint f(void) { return 1; }")
    old_code = weakref.ref(shell.user_ns["lib"]._code)  # the machine code's owner
    old_f = shell.user_ns["f"]
    ok(shell, "%%cx -n lib\nint f(void) { return 2; }")
    assert shell.user_ns["f"]() == 2
    assert old_f() == 1  # a function someone still holds keeps its code
    gc.collect()
    assert old_code() is not None  # the leak check sees code still referenced ...
    del old_f
    gc.collect()
    assert old_code() is None  # ... and sees it freed once nothing refers to it


def test_rerun_after_close_compiles_again(shell):
    cell = "%%cx -n lib\nint f(void) { return 1; }"
    ok(shell, cell)
    shell.user_ns["lib"].close()
    ok(shell, cell)
    assert shell.user_ns["f"]() == 1
    assert session(shell).compiles == 2


def test_closed_module_provides_nothing_to_later_cells(shell):
    ok(shell, "%%cx -n lib\nint base(void) { return 1; }")
    shell.user_ns["lib"].close()
    result = shell.run_cell("%%cx\nint base(void);\nint user(void) { return base(); }")
    assert isinstance(result.error_in_exec, cx.CompileError)
    assert "base" in str(result.error_in_exec)


# -- cells calling each other ---------------------------------------------------------------------
def test_later_cell_calls_earlier_function_after_prototype(shell):
    ok(shell, "%%cx\n" + FIB_HELLO)
    ok(shell, "%%cx -v\nlong fib(int n);\nlong fib_plus(int n, long k) { return fib(n) + k; }")
    assert shell.user_ns["fib_plus"](10, 1) == 56


def test_verbose_names_the_linked_module(shell, capsys):
    ok(shell, "%%cx -n first\nint base(void) { return 7; }")
    ok(shell, "%%cx -v\nint base(void);\nint derived(void) { return base() * 2; }")
    out = capsys.readouterr().out
    assert "cx: linked base from first" in out
    assert "cx: bound derived()" in out


def test_redefinition_replaces_function_for_later_cells(shell):
    ok(shell, "%%cx\nint value(void) { return 1; }")
    ok(shell, "%%cx\nint value(void);\nint uses_first(void) { return value(); }")
    ok(shell, "%%cx\nint value(void) { return 2; }")
    ok(shell, "%%cx\nint value(void);\nint uses_second(void) { return value(); }")
    ns = shell.user_ns
    assert (ns["value"](), ns["uses_first"](), ns["uses_second"]()) == (2, 1, 2)


def test_rerun_of_unchanged_caller_relinks_after_redefinition(shell):
    caller = "%%cx\nint value(void);\nint caller(void) { return value(); }"
    ok(shell, "%%cx\nint value(void) { return 1; }")
    ok(shell, caller)
    ok(shell, "%%cx\nint value(void) { return 2; }")
    ok(shell, caller)  # same source and options, but what it links to changed: not a cache hit
    assert shell.user_ns["caller"]() == 2


def test_extern_global_across_cells(shell):
    ok(shell, "%%cx\nint counter = 10;\nint get(void) { return counter; }")
    ok(shell, "%%cx\nextern int counter;\nvoid add(int k) { counter += k; }")
    shell.user_ns["add"](5)
    assert shell.user_ns["get"]() == 15


# -- errors and warnings --------------------------------------------------------------------------
def test_compile_error_fails_the_cell_with_cell_line_and_caret(shell, capsys):
    result = shell.run_cell("%%cx\nint ok(void) { return 1; }\nint bad(void) {\n    return nope + 1;\n}")
    err = result.error_in_exec
    assert isinstance(err, cx.CompileError)
    assert [(d.line, d.severity) for d in err.errors] == [(4, "error")]  # as the gutter counts
    shown = capsys.readouterr().out
    assert "<cell>:4: error: 'nope' undeclared" in shown
    assert "        return nope + 1;\n               ^" in shown
    assert "Traceback" not in shown and "File " not in shown
    assert "bad" not in shell.user_ns and "ok" not in shell.user_ns


def test_crash_names_the_gutter_line_and_shows_it(shell):
    ok(shell, "%%cx\nint deref(int *p) {\n    int x = 1;\n    return *p + x;\n}")
    err = shell.run_cell("deref(None)").error_in_exec
    assert isinstance(err, cx.CrashError) and err.line == 4 and err.where == "deref"
    assert str(err) == ("deref() dereferenced a NULL pointer (SIGSEGV at address 0x0), at line 4 (in deref()).\n"
                        "        return *p + x;\n"
                        "        ^")


def test_crash_in_a_static_helper_shows_its_line(shell):
    ok(shell, "%%cx\nstatic int helper(int *p) {\n    return *p;\n}\nint outer(int *p) { return helper(p) + 1; }")
    err = shell.run_cell("outer(None)").error_in_exec
    assert isinstance(err, cx.CrashError) and (err.where, err.line) == ("helper", 3)
    assert str(err).endswith("\n        return *p;\n        ^")


def test_compile_error_of_a_one_line_magic_is_line_1(shell):
    err = shell.run_cell("%cx int f(void) { return nope; }").error_in_exec
    assert [d.line for d in err.errors] == [1]


def test_failed_edit_keeps_the_previous_binding(shell):
    ok(shell, "%%cx\nint f(void) { return 1; }")
    assert shell.run_cell("%%cx\nint f(void) { return oops; }").error_in_exec is not None
    assert shell.user_ns["f"]() == 1


def test_warnings_are_shown_as_warnings_and_do_not_fail_the_cell(shell, capsys):
    """Regression: warnings went to stderr, the red box of errors."""
    ok(shell, "%%cx\nint f(void) {\n    char *p = 3;\n    return p != 0;\n}")
    assert shell.user_ns["f"]() == 1
    out, err = capsys.readouterr()
    assert "<cell>:3: warning: assignment makes pointer from integer without a cast" in out and not err


def test_warnings_and_errors_reach_the_editor_as_diagnostics(shell):
    from cx.magics import notices

    shown = []
    shell.display_pub.publish = lambda data, metadata=None, **kw: shown.append(data)
    ok(shell, "%%cx\nint f(void) {\n    char *p = 3;\n    return p != 0;\n}")
    assert shown[-1][notices.DIAGNOSTICS_MIME] == {"diagnostics": [
        {"line": 3, "column": 5, "severity": "warning",
         "message": "assignment makes pointer from integer without a cast"}]}
    assert "text/html" in shown[-1] and "warning" in shown[-1]["text/plain"]
    shell.run_cell("%%cx\nint g(void) {\n    return nope;\n}")
    assert shown[-1] == {notices.DIAGNOSTICS_MIME: {"diagnostics": [
        {"line": 3, "column": 12, "severity": "error", "message": "'nope' undeclared"}]}}


def test_name_of_a_cell_that_did_not_compile_says_so(shell, capsys):
    """Regression: a bare "NameError: name 'area' is not defined"."""
    shell.run_cell("%%cx\ndouble area(double r) {\n    return 3.14 * r * r\n}\nstruct shape { int n; };")
    capsys.readouterr()
    err = shell.run_cell("area(2.0)").error_in_exec
    assert isinstance(err, NameError)
    assert re.fullmatch(r"name 'area' is not defined: its %%cx cell In \[\d+\] did not compile: line 4: "
                        r"';' expected \(got '}'\)", str(err))
    assert "its %%cx cell" in capsys.readouterr().out
    assert "its %%cx cell" in str(shell.run_cell("shape").error_in_exec)
    assert str(shell.run_cell("not_from_c").error_in_exec) == "name 'not_from_c' is not defined"
    ok(shell, "%%cx\ndouble area(double r) { return 3.0 * r * r; }")
    ok(shell, "del area")
    assert str(shell.run_cell("area").error_in_exec) == "name 'area' is not defined"


def test_replacing_a_builtin_or_a_python_object_says_so_once(shell, capsys):
    ok(shell, "%%cx\nlong sum(const long *a, long n) { long s = 0; while (n--) s += a[n]; return s; }")
    assert capsys.readouterr().out == ("cx: sum is now the C function; it hides Python's built-in sum in "
                                       "this namespace (del sum brings the built-in back)\n")
    ok(shell, "%%cx\nlong sum(const long *a, long n) { return n; }")  # cx's own: nothing to say
    ok(shell, "total = [1, 2]")
    ok(shell, "%%cx\nint total(void) { return 3; }")
    assert capsys.readouterr().out == "cx: total is now the C function; it replaces the list that had this name\n"
    assert shell.user_ns["total"]() == 3  # it still binds


# -- C output -------------------------------------------------------------------------------------
def test_c_output_goes_through_sys_stdout_in_order(shell, capsys):
    ok(shell, "%%cx\n" + FIB_HELLO)
    ok(shell, 'print("before"); hello("notebook"); print("after")')
    assert capsys.readouterr().out == "before\nhello, notebook\nafter\n"


def test_output_without_newline_is_flushed_at_end_of_cell(shell, capsys):
    ok(shell, '%%cx\n#include <stdio.h>\nvoid partial(void) { printf("no newline"); }')
    ok(shell, "partial()")
    assert capsys.readouterr().out == "no newline"


def test_c_stderr_goes_to_sys_stderr(shell, capsys):
    ok(shell, '%%cx\n#include <stdio.h>\nvoid complain(void) { fprintf(stderr, "careful\\n"); }')
    ok(shell, "complain()")
    captured = capsys.readouterr()
    assert captured.err == "careful\n" and captured.out == ""


def test_fileno_of_stdout_is_minus_one_and_write_1_bypasses_the_capture(shell, capfd):
    ok(shell, "%%cx\n#include <errno.h>\n#include <stdio.h>\n#include <unistd.h>\n"
              "int out_fd(void) { return fileno(stdout); }\n"
              "int err_fd(void) { return fileno(stderr); }\n"
              'long via_fileno(void) { long n = write(fileno(stdout), "lost\\n", 5); return n < 0 ? -errno : n; }\n'
              'long direct(void) { return write(1, "direct\\n", 7); }')
    ns = shell.user_ns
    assert (ns["out_fd"](), ns["err_fd"]()) == (-1, -1)
    assert ns["via_fileno"]() == -errno.EBADF  # write(fileno(stdout), ...) writes nothing
    assert ns["direct"]() == 7
    assert capfd.readouterr().out == "direct\n"  # the process's descriptor 1, not sys.stdout
    cx.magics.unload_ipython_extension(shell)
    assert (ns["out_fd"](), ns["err_fd"]()) == (1, 2)


def test_unload_gives_c_its_own_stdout_back(shell, capfd):
    ok(shell, '%%cx\n#include <stdio.h>\nvoid say(void) { printf("direct\\n"); fflush(stdout); }')
    cx.magics.unload_ipython_extension(shell)
    shell.user_ns["say"]()
    assert capfd.readouterr().out == "direct\n"


# -- help and introspection -----------------------------------------------------------------------
def test_pinfo_shows_the_c_prototype_and_says_function(shell):
    ok(shell, "%%cx\n" + FIB_HELLO)
    info = shell.object_inspect("fib")
    assert info["type_name"] == "function"
    assert info["definition"] == "fib(n: int, /) -> long"
    assert info.get("call_def") is None  # no second "Call signature: fib(*args, **kwargs)"
    assert info["docstring"] == "long fib(int n);"
    assert shell.user_ns["fib"].__call__(10) == 55  # still callable that way
    assert shell.object_inspect("hello")["definition"] == "hello(who: const char *, /) -> void"


def test_completion_says_function(shell):
    from IPython.core.completer import provisionalcompleter

    ok(shell, "%%cx\n" + FIB_HELLO)
    with provisionalcompleter():
        completions = [c for c in shell.Completer.completions("fi", 2) if c.text == "fib"]
    assert [c.type for c in completions] == ["function"]


def test_cell_magic_help_is_clean(shell):
    doc = shell.find_cell_magic("cx").__doc__
    assert "%%cx [options]" in doc and "<" not in doc.split("options:")[1]
    assert "--cc [COMPILER]" in doc and "-D NAME[=VALUE]" in doc
