"""The C ABI between cx and libjit, written once and checked at load (cx._libjit).

libjit reports the layout of the types cx restates with ctypes (``jit_layout``) and names its status
codes (``jit_strerror``); ``cx._libjit.lib()`` refuses a library whose layout differs from cx's
declarations. The refusal is shown for real: a libjit built with another guard-frame size (through
libjit's Makefile, into a temporary directory) is loaded through ``CX_LIBJIT`` in a subprocess.
"""
import ctypes
import ctypes.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import cx
from cx.build import libjit as _libjit, tls
from cx.errors import CxError

LIBJIT = Path(__file__).resolve().parent.parent / "libjit"
REBUILD = "the build is stale; rebuild with: pip install -e ."
OVERRIDE_HINT = "rebuild it from this cx's libjit/ sources, or unset CX_LIBJIT"


def _layout(type_name, field=None):
    offset, size = ctypes.c_size_t(), ctypes.c_size_t()
    rc = _libjit.lib().jit_layout(type_name.encode(), None if field is None else field.encode(),
                                  ctypes.byref(offset), ctypes.byref(size))
    return rc, offset.value, size.value


# ---- the library this cx was built with ------------------------------------------------------

def test_the_built_libjit_passes_the_layout_check():
    handle = _libjit.lib()  # checks on load; again explicitly:
    _libjit.check_layout(handle, _libjit.library_path())
    assert _layout("jit_guard_frame") == (_libjit.JIT_OK, 0, 512)
    assert _layout("jit_guard_report") == (_libjit.JIT_OK, 0, ctypes.sizeof(_libjit.GuardReport))
    assert _layout("jit_guard_report", "serial") == (_libjit.JIT_OK, _libjit.GuardReport.serial.offset,
                                                     ctypes.sizeof(ctypes.c_long))
    assert _layout("__cx_tls_key") == (_libjit.JIT_OK, 0, ctypes.sizeof(_libjit.TlsKey))
    assert _layout("jit_guard_report", "no_such_field")[0] == _libjit.JIT_EARG
    assert _layout("jit_state")[0] == _libjit.JIT_EARG


def test_every_guard_report_field_is_checked():
    # every field cx declares is one libjit knows, at the same offset and size
    for name, *_ in _libjit.GuardReport._fields_:
        declared = getattr(_libjit.GuardReport, name)
        assert _layout("jit_guard_report", name) == (_libjit.JIT_OK, declared.offset, declared.size), name


def test_strerror_names_each_status_code():
    assert _libjit.strerror(_libjit.JIT_OK) == "success"
    assert _libjit.strerror(_libjit.JIT_ENOMEM) == "out of memory"
    assert _libjit.strerror(_libjit.JIT_ESTATE) == "call out of order"
    assert _libjit.strerror(_libjit.JIT_EOPTION) == "compiler option refused"
    assert _libjit.strerror(_libjit.JIT_ECOMPILE) == "the source did not compile"
    assert _libjit.strerror(_libjit.JIT_ELINK) == "linking failed"
    assert _libjit.strerror(_libjit.JIT_EARG) == "invalid argument"
    assert _libjit.strerror(-42) == "unknown libjit status code"


def test_tls_key_as_compiled_code_declares_it_has_libjits_size():
    # cx.build.tls.PRELUDE starts with _libjit.TLS_KEY_DECL; the compiled struct is what libjit reports
    assert tls.PRELUDE.startswith(_libjit.TLS_KEY_DECL)
    lib = cx.compile("static _Thread_local int x;\n"
                     "int bump(void) { return ++x; }\n"
                     "unsigned long key_size(void) { return sizeof(struct __cx_tls_key); }\n")
    assert lib.bump() == 1
    assert lib.key_size() == ctypes.sizeof(_libjit.TlsKey) == _layout("__cx_tls_key")[2]


def test_notify_callback_type_returns_void():
    # jit_guard_notify_fn returns void in jit.h
    assert _libjit.guard_notify._restype_ is None
    assert _libjit.guard_notify._argtypes_ == (ctypes.c_ulong, ctypes.py_object)


# ---- declarations that differ from the library are refused, naming the difference ----------------

def test_a_report_declared_without_serial_is_refused():
    class NoSerial(ctypes.Structure):
        _fields_ = [f for f in _libjit.GuardReport._fields_ if f[0] != "serial"]

    path = _libjit.library_path()
    real = ctypes.sizeof(_libjit.GuardReport)
    with pytest.raises(CxError) as info:
        _libjit.check_layout(_libjit.lib(), path, types={"jit_guard_report": NoSerial})
    assert str(info.value) == (f"libjit at {path} reports sizeof(jit_guard_report) = {real}, "
                               f"cx expects {ctypes.sizeof(NoSerial)}: {REBUILD}")


def test_two_fields_swapped_are_refused_at_the_first_offset_that_differs():
    fields = list(_libjit.GuardReport._fields_)
    i, j = [n for n, (name, _) in enumerate(fields) if name in ("in_code", "stack_overflow")]
    fields[i], fields[j] = fields[j], fields[i]

    class Swapped(ctypes.Structure):
        _fields_ = fields

    path = _libjit.library_path()
    real = _libjit.GuardReport.stack_overflow.offset  # Swapped declares stack_overflow first
    with pytest.raises(CxError) as info:
        _libjit.check_layout(_libjit.lib(), path, types={"jit_guard_report": Swapped})
    assert str(info.value) == (f"libjit at {path} reports offsetof(jit_guard_report, stack_overflow) = {real}, "
                               f"cx expects {Swapped.stack_overflow.offset}: {REBUILD}")


def test_a_field_libjit_does_not_have_is_refused():
    class Renamed(ctypes.Structure):
        _fields_ = [("signo" if name == "signal" else name, ctype) for name, ctype in _libjit.GuardReport._fields_]

    path = _libjit.library_path()
    with pytest.raises(CxError) as info:
        _libjit.check_layout(_libjit.lib(), path, types={"jit_guard_report": Renamed})
    assert str(info.value) == f"libjit at {path} does not know jit_guard_report.signo, which cx declares: {REBUILD}"


def test_another_frame_size_is_refused():
    path = _libjit.library_path()
    with pytest.raises(CxError) as info:
        _libjit.check_layout(_libjit.lib(), path, types={"jit_guard_frame": None}, frame_size=256)
    assert str(info.value) == f"libjit at {path} reports sizeof(jit_guard_frame) = 512, cx expects 256: {REBUILD}"


def test_a_call_slot_built_with_another_frame_size_is_refused(monkeypatch):
    from cx import _speedups

    assert _speedups.GUARD_FRAME_SIZE == _libjit.GUARD_FRAME_SIZE
    monkeypatch.setattr(_speedups, "GUARD_FRAME_SIZE", 256)
    with pytest.raises(CxError) as info:
        _libjit._check_call_slot()
    assert str(info.value) == (f"cx's call slot {_speedups.__file__} was built with JIT_GUARD_FRAME_SIZE = 256, "
                               f"cx expects 512: {REBUILD}")


# ---- tcc backend: a status code is named, not called a link failure ---------------------------

def test_tcc_backend_names_an_out_of_memory_compile(monkeypatch):
    handle = _libjit.lib()
    monkeypatch.setattr(handle, "jit_compile", lambda state, source: _libjit.JIT_ENOMEM)
    monkeypatch.setattr(handle, "jit_compile_wait", lambda state: _libjit.JIT_ENOMEM)  # a compile on libjit's thread
    with pytest.raises(cx.CompileError) as info:
        cx.compile("int f(void) { return 1; }")
    assert info.value.summary == "C compile failed: out of memory"


def test_tcc_backend_still_names_a_link_failure():
    with pytest.raises(cx.CompileError) as info:
        cx.compile("int missing(void);\nint f(void) { return missing(); }\n")
    assert info.value.summary == "C link failed: tcc: error: undefined symbol 'missing'"


# ---- a real libjit with another layout, loaded through CX_LIBJIT ------------------------------

def _require_make():
    missing = pytest.fail if os.environ.get("CI") else pytest.skip
    if shutil.which("make") is None:
        missing("make is not installed: cannot build a libjit to load (apt-get install make)")


def _build_libjit(build_dir, extra_cflags=""):
    result = subprocess.run(
        ["make", "-C", str(LIBJIT), "lib", f"BUILD={build_dir}", f"PYTHON={sys.executable}",
         f"EXTRA_CFLAGS={extra_cflags}"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    path = Path(build_dir) / "libjit.so"
    assert path.is_file()
    return str(path)


def _load_in_subprocess(path):
    code = ("import cx\n"
            "try:\n"
            "    lib = cx.compile('int f(void) { return 41 + 1; }')\n"
            "    print('loaded', lib.f())\n"
            "except cx.CxError as exc:\n"
            "    print('refused', exc)\n")
    env = dict(os.environ, CX_LIBJIT=path)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_libjit_built_with_another_frame_size_is_refused_at_load(tmp_path):
    _require_make()
    path = _build_libjit(tmp_path / "big-frames", "-DJIT_GUARD_FRAME_SIZE=1024")
    assert _load_in_subprocess(path) == (
        f"refused libjit at {path} reports sizeof(jit_guard_frame) = 1024, cx expects 512: {OVERRIDE_HINT}")


def test_a_libjit_built_from_the_same_sources_loads_through_cx_libjit(tmp_path):
    _require_make()
    path = _build_libjit(tmp_path / "same")
    assert _load_in_subprocess(path) == "loaded 42"


def test_cx_libjit_naming_a_library_that_is_not_libjit_is_refused(tmp_path):
    libm = ctypes.util.find_library("m")
    if libm is None:
        pytest.skip("no libm to load")
    assert _load_in_subprocess(libm) == f"refused {libm} is not libjit (it has no jit_version): {OVERRIDE_HINT}"
