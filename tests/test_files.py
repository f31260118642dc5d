"""C in files (cx.files): cx.load, the import hook, local headers (also from a %%cx cell)."""
import importlib
import sys

import pytest

import cx

KERNELS = """\
#include "scale.h"
double scale(double x) { return FACTOR * x; }
void fill(double *a, long n, double v) { for (long i = 0; i < n; i++) a[i] = v; }
"""


@pytest.fixture
def src(tmp_path):
    (tmp_path / "scale.h").write_text("#define FACTOR 3.0\n")
    (tmp_path / "kernels.c").write_text(KERNELS)
    return tmp_path


def test_load_finds_the_header_next_to_the_file(src, tmp_path_factory, monkeypatch):
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))  # not the file's directory
    lib = cx.load(src / "kernels.c")
    assert lib.scale(2.0) == 6.0
    assert lib.name == "kernels"


def test_load_passes_compile_options(src):
    (src / "opt.c").write_text("int n(void) { return N; }\n")
    assert cx.load(str(src / "opt.c"), defines={"N": 7}, name="seven").n() == 7
    assert cx.load(src / "opt.c", defines=["N=8"], backend="tcc", guard=False).n() == 8


def test_load_extra_include_dirs_come_after_the_files_own(src, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    (other / "scale.h").write_text("#define FACTOR 100.0\n")
    (other / "extra.h").write_text("#define EXTRA 1\n")
    (src / "both.c").write_text('#include "scale.h"\n#include "extra.h"\ndouble f(void) { return FACTOR + EXTRA; }\n')
    assert cx.load(src / "both.c", include_dirs=[str(other)]).f() == 4.0


def test_load_compile_error_names_the_file_and_line(src, monkeypatch):
    (src / "bad.c").write_text('#include "scale.h"\nint bad(void) { return nope; }\n')
    monkeypatch.chdir(src)
    with pytest.raises(cx.CompileError) as info:
        cx.load("bad.c")
    assert str(info.value).splitlines()[1] == "bad.c:2: error: 'nope' undeclared"
    assert info.value.errors[0].line == 2


def test_load_error_in_a_local_header_names_the_header_and_the_file(src, monkeypatch):
    (src / "broken.h").write_text("int broken(void) { return 1 }\n")
    (src / "uses.c").write_text('#include "broken.h"\nint ok(void) { return 2; }\n')
    monkeypatch.chdir(src)
    with pytest.raises(cx.CompileError) as info:
        cx.load("uses.c")
    line = str(info.value).splitlines()[1]
    assert line.startswith("broken.h:1: error: ") and line.endswith("';' expected (got '}')")
    assert "<cell>" not in str(info.value)  # an include chain names uses.c


def test_load_missing_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"^cx.load: no C file nothere.c \(looked in "):
        cx.load("nothere.c")


def test_load_directory_and_wrong_type(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory, not a C file"):
        cx.load(tmp_path)
    with pytest.raises(TypeError, match=r"cx.load takes the path of a C file \(or a list of them\), not int"):
        cx.load(3)


@pytest.fixture
def hook(src, monkeypatch):
    monkeypatch.syspath_prepend(str(src))
    cx.install_import_hook()
    yield src
    cx.uninstall_import_hook()
    for name in [n for n in sys.modules if n.startswith(("kernels", "cxpkg"))]:
        del sys.modules[name]


def test_import_hook_imports_a_c_file_on_sys_path(hook):
    import kernels

    assert isinstance(kernels, cx.Module)
    assert kernels.scale(1.5) == 4.5
    assert kernels.name == "kernels"
    assert sys.modules["kernels"] is kernels


def test_import_hook_finds_c_files_in_packages(hook):
    pkg = hook / "cxpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "inner.c").write_text('#include "local.h"\nint v(void) { return V; }\n')
    (pkg / "local.h").write_text("#define V 11\n")
    inner = importlib.import_module("cxpkg.inner")
    assert inner.v() == 11
    assert inner.name == "cxpkg.inner"


def test_import_hook_passes_its_options(src, monkeypatch):
    (src / "kernels_defs.c").write_text("int n(void) { return N; }\n")
    monkeypatch.syspath_prepend(str(src))
    cx.install_import_hook(defines={"N": 5})
    try:
        import kernels_defs
        assert kernels_defs.n() == 5
    finally:
        cx.uninstall_import_hook()
        sys.modules.pop("kernels_defs", None)


def test_python_module_of_the_same_name_wins(hook):
    (hook / "kernels.py").write_text("WHO = 'python'\n")
    import kernels

    assert kernels.WHO == "python"


def test_uninstalled_hook_imports_nothing(src, monkeypatch):
    monkeypatch.syspath_prepend(str(src))
    cx.install_import_hook()
    cx.uninstall_import_hook()
    cx.uninstall_import_hook()  # twice is harmless
    with pytest.raises(ModuleNotFoundError):
        import kernels  # noqa: F401


def test_import_hook_compile_error_names_the_file(hook):
    (hook / "kernels_bad.c").write_text("int f(void) { return x; }\n")
    with pytest.raises(cx.CompileError) as info:
        import kernels_bad  # noqa: F401
    assert str(info.value).splitlines()[1].endswith("kernels_bad.c:1: error: 'x' undeclared")
    assert "kernels_bad" not in sys.modules


def test_cell_includes_a_header_from_the_working_directory(shell, tmp_path, monkeypatch):
    (tmp_path / "answer.h").write_text("#define ANSWER 42\n")
    monkeypatch.chdir(tmp_path)
    shell.run_cell('%%cx\n#include "answer.h"\nint answer(void) { return ANSWER; }\n').raise_error()
    assert shell.user_ns["answer"]() == 42
