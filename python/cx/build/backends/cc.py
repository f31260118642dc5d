"""The optimising backend: the system C compiler builds a shared object, cached on disk.

``cx.compile(source, backend="cc")`` compiles the same translation unit as the TinyCC backend
(messages carry the cell's line numbers) with ``cc``/``gcc`` or ``clang`` at ``-O2``, links it as a
shared object and loads it with ``dlopen``; :class:`cx.Module` binds it exactly like TinyCC code.

- **Compiler**: ``compiler=`` (a name on PATH or a path), else ``$CC``, else the first of ``cc``,
  ``gcc``, ``clang`` on PATH. Base flags ``-O2 -fPIC -shared`` (plus ``-Wl,-Bsymbolic``, so the
  cell's own calls bind to its own functions, as with TinyCC); user ``options`` come after them
  and are checked by :func:`check_options`.
- **Cache**: one ``<key>.json`` (which object file, the compiler's warnings, the user headers read
  and their mtimes) and one ``<key>-<content hash>.so`` per build, in :func:`cache_dir`. The key
  hashes the translation unit, every setting, the compiler's path and ``--version`` text, the
  working directory (for ``#include "local.h"``) and cx's version. Files are written to a private
  temporary directory beside them and moved in with ``os.replace``, so a reader never sees half a
  file; a re-run, or a new process, with the same key loads the object without compiling.
- **Links** (``link=[earlier_module]``): a shared object cannot take addresses at link time, so
  the linked names are defined as absolute symbols (``--defsym name=0x...``) in a tiny companion
  object, ``cx-link-<hash>.so``, that the cell's object depends on (found through ``$ORIGIN``,
  visible to that object only). The addresses belong to this process, so a linked cell is compiled
  again in a new process.
- **Thread-local variables** are the compiler's own ``_Thread_local`` (:mod:`cx.tls` emits TinyCC's
  helpers only under ``__TINYC__``), so the object needs nothing from libjit; the guard around its
  calls is the call slot's, as for TinyCC code.
"""
from __future__ import annotations

import _ctypes
import ctypes
import functools
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import stat
import subprocess
import tempfile

from ..._version import __version__
from .. import libjit as _libjit
from . import Code
from ...errors import SOURCE_NAME, CompileError, CxError, Diagnostic, OptionError, parse_diagnostics

__all__ = ["build", "CcCode", "cache_dir", "clear_cache", "check_options", "find_compiler"]

#: Bumped when the flags or file layout below change, so old cache entries are not reused.
LAYOUT_VERSION = 1

#: Flags every build gets, before the user's options (a later -O wins).
BASE_FLAGS = ("-O2", "-fPIC", "-shared", "-Wl,-Bsymbolic")

_GCC_FLAGS = ("-fno-semantic-interposition", "-fdiagnostics-color=never", "-fno-diagnostics-show-caret")
_CLANG_FLAGS = ("-fno-color-diagnostics", "-fno-caret-diagnostics")

# Options a user may pass. Everything else (-o, -c, -S, -E, -x, -shared, -static, -B, -Wl,...,
# @file, -save-temps, TinyCC's -b/-bt, ...) is refused.
_ALLOWED = re.compile(r"""^(?:
    -O[0-3sgz]? | -Ofast
  | -g[\w=.+-]*
  | -W(?![alp],)[\w=.+-]+ | -w | -pedantic(?:-errors)? | -ansi | -std=[\w+]+
  | -f[\w=.,+-]+ | -m[\w=.,+-]+ | -pthread
  | -D[A-Za-z_]\w*(?:=.*)? | -U[A-Za-z_]\w* | -I.+ | -L.+ | -l[\w.+-]+
)$""", re.X)
_REFUSED_F = re.compile(r"^-f(?:no-)?(?:plugin|profile|dump|test-coverage|stack-usage|callgraph|save-|"
                        r"diagnostics|syntax-only|auto-profile|record|debug-prefix|file-prefix|macro-prefix)")
_REFUSED_M = re.compile(r"^-m(?:16|32|x32|abi=)")


def check_options(options) -> tuple:
    """The user's compiler options, checked: raises :class:`cx.OptionError` naming a refused one.

    Allowed: ``-O*``, ``-g*``, ``-W*`` (not ``-Wl,``/``-Wa,``/``-Wp,``), ``-w``, ``-std=*``,
    ``-pedantic``, ``-f*`` (not plugins, profiling, dumps or diagnostics formats), ``-m*`` (such
    as ``-march=native``; not ``-m32``), ``-pthread``, ``-D``, ``-U``, ``-I``, ``-L``, ``-l``.
    """
    out = []
    for opt in options:
        opt = str(opt)
        if opt in ("-b", "-bt") or opt.startswith("-bt"):
            raise OptionError(f"option {opt!r} is TinyCC's bounds checking/backtrace; backend 'cc' does "
                              "not have it (use the default backend, or e.g. -g -fsanitize=undefined)")
        if not _ALLOWED.match(opt) or _REFUSED_F.match(opt) or _REFUSED_M.match(opt):
            raise OptionError(f"option {opt!r} is not allowed with backend 'cc'; allowed are -O*, -g*, -W* "
                              "(not -Wl,), -w, -std=*, -pedantic, -f*, -m* (e.g. -march=native), -pthread, "
                              "-D, -U, -I, -L, -l; cx chooses the output file and the link mode itself")
        out.append(_absolute_dir_option(opt))
    return tuple(out)


def _absolute_dir_option(opt):
    # The compiler runs in a temporary directory: make -I/-L paths absolute against the user's cwd.
    for flag in ("-I", "-L"):
        if opt.startswith(flag) and len(opt) > 2:
            return flag + os.path.abspath(opt[2:])
    return opt


# ----------------------------------------------------------------------------------------------
# The compiler

def find_compiler(name=None) -> tuple:
    """The command that runs the C compiler, as an argv prefix (path first).

    ``name`` (a program on PATH or a path, optionally followed by flags: ``"gcc -m64"``), else
    ``$CC``, else the first of ``cc``, ``gcc``, ``clang`` on PATH.

    Raises
    ------
    OptionError
        ``name`` (or ``$CC``) names no program.
    CxError
        No C compiler is installed.
    """
    if name is None:
        name = os.environ.get("CC") or None
        origin = "$CC"
    else:
        origin = "compiler="
    if name is not None:
        words = shlex.split(str(name))
        path = shutil.which(words[0]) if words else None
        if path is None:
            raise OptionError(f"{origin} {name!r}: no such C compiler on PATH; install it "
                              f"(Debian/Ubuntu: apt-get install {'clang' if 'clang' in name else 'gcc'}) "
                              "or name another one")
        return (os.path.realpath(path), *words[1:])
    for candidate in ("cc", "gcc", "clang"):
        path = shutil.which(candidate)
        if path is not None:
            return (os.path.realpath(path),)
    raise CxError("backend 'cc' needs a system C compiler, and none was found on PATH (looked for cc, gcc, "
                  "clang). Install one (Debian/Ubuntu: apt-get install gcc; Fedora: dnf install gcc) or use "
                  "the default backend, TinyCC, which needs none")


@functools.lru_cache(maxsize=16)
def _identify(path, mtime_ns, size) -> str:
    """The compiler's ``--version`` text (cached per binary; a changed binary is asked again)."""
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, errors="replace",
                              stdin=subprocess.DEVNULL, env=_env(), timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise CxError(f"cannot run the C compiler {path}: {exc}") from exc
    return (proc.stdout or proc.stderr).strip()


def identify(argv0) -> str:
    """The ``--version`` text of the compiler at ``argv0[0]``."""
    st = os.stat(argv0[0])
    return _identify(argv0[0], st.st_mtime_ns, st.st_size)


def _family(version: str) -> str:
    low = version.lower()
    if "clang" in low:
        return "clang"
    if "gcc" in low or "free software foundation" in low:
        return "gcc"
    return "other"


def _env():
    env = dict(os.environ)
    env["LC_ALL"] = "C"  # plain ASCII quotes and English messages, for the parser
    env.pop("GCC_COLORS", None)
    return env


# ----------------------------------------------------------------------------------------------
# The cache directory

def cache_dir() -> str:
    """The per-user cache directory, created private (mode 0700) if missing.

    ``$CX_CACHE_DIR``, else ``$XDG_CACHE_HOME/cx``, else ``~/.cache/cx``. A directory that others
    can write to is made private again (0700); one owned by another user, or a shared sticky one
    such as ``/tmp``, is refused (:class:`cx.CxError`).
    """
    path = os.environ.get("CX_CACHE_DIR")
    if not path:
        base = os.environ.get("XDG_CACHE_HOME")
        if not base or not os.path.isabs(base):  # the XDG spec says to ignore a relative one
            base = os.path.join(os.path.expanduser("~"), ".cache")
        path = os.path.join(base, "cx")
    path = os.path.abspath(path)
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.stat(path)
    except OSError as exc:
        raise CxError(f"cannot create cx's cache directory {path}: {exc}; set CX_CACHE_DIR to another") from exc
    if not stat.S_ISDIR(st.st_mode):
        raise CxError(f"cx's cache directory {path} is not a directory; remove it or set CX_CACHE_DIR")
    if st.st_uid != os.geteuid():
        raise CxError(f"cx's cache directory {path} belongs to user id {st.st_uid}, not to you "
                      f"({os.geteuid()}): refusing to load code from it; set CX_CACHE_DIR to a directory of yours")
    if st.st_mode & stat.S_ISVTX and st.st_mode & 0o002:
        raise CxError(f"cx's cache directory {path} is a shared directory (like /tmp): refusing to load code "
                      "from it; set CX_CACHE_DIR to a private directory")
    if st.st_mode & 0o022:
        try:
            os.chmod(path, 0o700)  # repair: nobody else may plant objects that we would dlopen
        except OSError as exc:
            raise CxError(f"cx's cache directory {path} is open to other users (mode "
                          f"{stat.S_IMODE(st.st_mode):o}) and cannot be made private: {exc}") from exc
    return path


def clear_cache() -> int:
    """Remove every object, record and leftover build directory from :func:`cache_dir`.

    Returns how many entries were removed. Code already loaded stays valid (the files are unlinked,
    the mappings stay).
    """
    path = cache_dir()
    n = 0
    for entry in os.listdir(path):
        full = os.path.join(path, entry)
        if entry.startswith("build-") and os.path.isdir(full):
            shutil.rmtree(full, ignore_errors=True)
            n += 1
        elif entry.endswith((".so", ".json")):
            try:
                os.unlink(full)
                n += 1
            except FileNotFoundError:
                pass
    return n


def _write_atomic(directory, name, data: bytes, scratch):
    tmp = os.path.join(scratch, name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, os.path.join(directory, name))


# ----------------------------------------------------------------------------------------------
# The code object

class CcCode(Code):
    """A shared object built by the system compiler and loaded with ``dlopen``.

    The object stays mapped while this code object is referenced (bound functions hold it);
    :meth:`close` calls ``dlclose``.
    """

    def __init__(self, dll, path, diagnostics="", link=None):
        super().__init__(dll)
        self.path = path
        self.diagnostics = diagnostics
        self._link = link  # the companion cx-link-*.so, loaded first, closed last
        # Tell the guard where this object's code is, so the interrupt button can stop it
        # (TinyCC's code is registered by libjit itself).
        self._ranges = _code_ranges(path)
        for start, end in self._ranges:
            _libjit.add_code(start, end)

    def sym(self, name: str):
        """Address of the global symbol ``name`` (searched in the object and what it links), or None."""
        try:
            return ctypes.addressof(ctypes.c_char.in_dll(self._live(), name))
        except ValueError:
            return None

    def _release(self, dll):
        for start, _ in self._ranges:
            _libjit.remove_code(start)
        self._ranges = ()
        link, self._link = self._link, None
        for d in (dll, link):
            if d is not None:
                _dlclose(d)


def _code_ranges(path):
    """The executable mappings of the loaded object ``path``, from /proc/self/maps."""
    real = os.path.realpath(path)
    ranges = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split(maxsplit=5)
                if len(fields) == 6 and "x" in fields[1] and fields[5].strip() == real:
                    start, end = (int(x, 16) for x in fields[0].split("-"))
                    ranges.append((start, end))
    except OSError:  # no /proc: calls stay crash-guarded, only not interruptible
        return []
    return ranges


def _dlopen(path):
    return ctypes.CDLL(path, mode=os.RTLD_NOW | os.RTLD_LOCAL)


def _dlclose(dll):
    _ctypes.dlclose(dll._handle)


# ----------------------------------------------------------------------------------------------
# Building

def _run(argv, cwd):
    """Run the compiler; returns (returncode, merged output). Tests patch this to count compiles."""
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, stdin=subprocess.DEVNULL, env=_env())
    text = (proc.stdout + proc.stderr).decode("utf-8", errors="replace")
    return proc.returncode, text


def _lookup(directory, key):
    """(path of the object, diagnostics) of a valid cache entry, or None."""
    try:
        with open(os.path.join(directory, key + ".json"), "rb") as f:
            record = json.loads(f.read())
        so = os.path.join(directory, record["so"])
        if os.path.basename(so) != record["so"] or not os.path.isfile(so):
            return None
        for dep, (mtime_ns, size) in record.get("deps", {}).items():
            st = os.stat(dep)
            if (st.st_mtime_ns, st.st_size) != (mtime_ns, size):
                return None
        return so, record.get("diagnostics", "")
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read_deps(path):
    """The files a make-style dependency file (from -MMD) names, after the target."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return []
    text = text.replace("\\\n", " ")
    _, _, rest = text.partition(": ")
    names = re.findall(r"(?:\\ |[^\s])+", rest.split("\n", 1)[0])
    return [n.replace("\\ ", " ") for n in names]


def _link_object(directory, argv0, symbols):
    """Path of the companion object that defines ``symbols`` (name -> address) as absolute symbols."""
    items = sorted(symbols.items())
    digest = hashlib.sha256(json.dumps([argv0, items]).encode()).hexdigest()[:24]
    name = f"cx-link-{digest}.so"
    path = os.path.join(directory, name)
    if os.path.isfile(path):
        return path
    scratch = tempfile.mkdtemp(prefix="build-", dir=directory)
    try:
        with open(os.path.join(scratch, "empty.c"), "w") as f:
            f.write("/* addresses of symbols linked from earlier cx modules */\n")
        argv = [*argv0, "-shared", "-fPIC", "-nostdlib", "empty.c", "-o", name, f"-Wl,-soname,{name}"]
        argv += [f"-Wl,--defsym,{n}={addr:#x}" for n, addr in items]
        rc, text = _run(argv, scratch)
        if rc != 0:
            raise CompileError("C link failed: could not define the symbols of the linked modules",
                               parse_diagnostics(text), "", name=SOURCE_NAME)
        os.replace(os.path.join(scratch, name), path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return path


# The linker's remark about our absolute symbols (they have no type or size): not the user's concern.
_LINK_REMARK = re.compile(r"^.*warning: type and size of dynamic symbol `[^']*' are not defined\s*$", re.M)


def _compile(directory, key, argv, source, settings):
    """Compile into the cache; returns (path of the object, diagnostics)."""
    scratch = tempfile.mkdtemp(prefix="build-", dir=directory)
    try:
        with open(os.path.join(scratch, "cell.c"), "w", encoding="utf-8") as f:
            f.write(source)
        rc, text = _run(argv, scratch)
        text = _LINK_REMARK.sub("", text).strip()
        if rc != 0:
            diagnostics = parse_diagnostics(text)
            errors = [d for d in diagnostics if d.severity == "error"]
            in_link = errors and all(d.line is None for d in errors)
            raise CompileError("C link failed" if in_link else "C compile failed", diagnostics,
                               settings.user_source, name=SOURCE_NAME)
        deps = {}
        for dep in _read_deps(os.path.join(scratch, "cell.d")):
            full = os.path.join(scratch, dep)
            if dep != "cell.c" and os.path.isfile(full):
                st = os.stat(full)
                deps[os.path.abspath(full)] = (st.st_mtime_ns, st.st_size)
        with open(os.path.join(scratch, "cell.so"), "rb") as f:
            blob = f.read()
        so_name = f"{key}-{hashlib.sha256(blob).hexdigest()[:16]}.so"
        old = _lookup(directory, key)
        os.replace(os.path.join(scratch, "cell.so"), os.path.join(directory, so_name))
        record = {"so": so_name, "diagnostics": text, "deps": deps, "argv": argv}
        _write_atomic(directory, key + ".json", json.dumps(record, indent=1).encode(), scratch)
        if old is not None and os.path.basename(old[0]) != so_name:
            _unlink(old[0])  # superseded (a header changed); processes that loaded it keep their mapping
        return os.path.join(directory, so_name), text
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _cpu_fingerprint():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return hashlib.sha256(line.encode()).hexdigest()[:16]
    except OSError:
        pass
    return platform.processor()


def _command(argv0, family, settings, options, link_path):
    """The full compiler command (run in the build directory: cell.c -> cell.so)."""
    argv = [*argv0, *BASE_FLAGS]
    if family == "gcc":
        argv += _GCC_FLAGS
    elif family == "clang":
        argv += _CLANG_FLAGS
    link_options = [o for o in options if o.startswith(("-l", "-L"))]  # after cell.c (--as-needed)
    argv += [o for o in options if not o.startswith(("-l", "-L"))]
    argv += ["-iquote", os.getcwd()]  # #include "x.h" finds files beside the notebook, as with TinyCC
    argv += ["-I" + os.path.abspath(d) for d in settings.include_dirs]
    for name, value in settings.defines.items():
        argv.append(f"-D{name}" if value is None else f"-D{name}={value}")
    if family in ("gcc", "clang"):
        argv += ["-MMD", "-MF", "cell.d"]
    argv += ["cell.c", "-o", "cell.so"]
    argv += ["-L" + os.path.abspath(d) for d in settings.library_dirs]
    argv += ["-l" + str(name) for name in settings.libraries]
    argv += link_options
    if link_path is not None:
        argv += [link_path, "-Wl,-rpath,$ORIGIN"]
    argv.append("-lm")
    return argv


#: The preprocessor's name for its standard input (the source comes after ``#line 1 "<cell>"``).
STRING_FILE = "<stdin>"
_PREPROCESSED = {}  # (argv, source) -> (text, {header: (mtime_ns, size)}); this process only
_MAX_PREPROCESSED = 64


@functools.lru_cache(maxsize=1)
def system_dirs() -> tuple:
    """Directories whose headers are the system's for the system compiler (never exported from)."""
    return ("/usr/include", "/usr/local/include", "/usr/lib/gcc", "/usr/lib/llvm",
            "/usr/lib/clang", _libjit.python_include_dir())


def preprocess(source: str, settings) -> str:
    """``source`` as the system compiler's preprocessor sees it (``cc -E -dD``), with line markers,
    each ``#define`` and ``#undef`` kept where it was (the constants: :mod:`cx.build.constants`).

    The same compiler, options, include directories and defines as :func:`build`, so the
    declarations read from it are the ones the compiler compiles. Kept for this process, and
    used again while the source, the command and every header it read are unchanged.
    """
    options = check_options(settings.options)
    argv0 = find_compiler(getattr(settings, "compiler", None))
    argv = [*argv0, "-E", "-dD", *[o for o in options if not o.startswith(("-l", "-L"))],
            "-iquote", os.getcwd(), *["-I" + os.path.abspath(d) for d in settings.include_dirs]]
    for name, value in settings.defines.items():
        argv.append(f"-D{name}" if value is None else f"-D{name}={value}")
    argv += ["-x", "c", "-"]
    key = (tuple(argv), identify(argv0), source)
    found = _PREPROCESSED.get(key)
    if found is not None and all(_stat(p) == v for p, v in found[1].items()):
        return found[0]
    proc = subprocess.run(argv, input=source.encode("utf-8", "surrogateescape"), capture_output=True,
                          env=_env(), cwd=os.getcwd())
    if proc.returncode != 0:
        text = proc.stderr.decode("utf-8", errors="replace")
        raise CompileError("C compile failed", parse_diagnostics(text, (SOURCE_NAME, STRING_FILE)),
                           settings.user_source, name=SOURCE_NAME)
    text = proc.stdout.decode("utf-8", errors="surrogateescape")
    headers = {}
    for name in set(re.findall(r'(?m)^# \d+ "([^"<][^"]*)"', text)):
        headers[name] = _stat(name)
    if len(_PREPROCESSED) >= _MAX_PREPROCESSED:
        _PREPROCESSED.pop(next(iter(_PREPROCESSED)))
    _PREPROCESSED[key] = (text, headers)
    return text


def _stat(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def build(source: str, settings) -> CcCode:
    """Compile ``source`` with the system C compiler (or load it from the cache) and return its code.

    Parameters
    ----------
    source : str
        The full translation unit (cx's prelude, then the user's source after a
        ``#line 1 "<cell>"`` directive).
    settings : cx.module.Settings
        Include/library dirs, libraries, defines, options, symbols to link against, and
        ``compiler`` (None: see :func:`find_compiler`).

    Raises
    ------
    CompileError
        With the compiler's diagnostics (cell line numbers), when the source does not compile or
        link, or names a symbol nothing defines.
    OptionError
        A refused option, or a ``compiler`` that does not exist.
    CxError
        No C compiler is installed, or the cache directory is unusable.
    """
    options = check_options(settings.options)
    argv0 = find_compiler(getattr(settings, "compiler", None))
    version = identify(argv0)
    family = _family(version)
    directory = cache_dir()
    link = None
    link_path = None
    if settings.symbols:
        link_path = _link_object(directory, list(argv0), dict(settings.symbols))
    argv = _command(argv0, family, settings, list(options), link_path)
    fingerprint = {
        "layout": LAYOUT_VERSION, "cx": __version__, "argv": argv, "compiler": version,
        "cwd": os.getcwd(), "machine": platform.machine(), "source": source,
        "cpu": _cpu_fingerprint() if any("native" in o for o in options) else None,
    }
    key = hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:32]
    found = _lookup(directory, key)
    fresh = found is None
    if fresh:
        found = _compile(directory, key, argv, source, settings)
    so, diagnostics = found
    try:
        if link_path is not None:
            link = _dlopen(link_path)
        dll = _dlopen(so)
    except OSError as exc:
        if link is not None:
            _dlclose(link)
        message = str(exc)
        m = re.search(r"undefined symbol: (\S+)", message)
        if m:
            _unlink(os.path.join(directory, key + ".json"))
            if fresh:
                _unlink(so)
            text = f"undefined symbol '{m.group(1)}'"
            raise CompileError(f"C link failed: {text}", [Diagnostic(None, "error", text, file="ld")],
                               settings.user_source, name=SOURCE_NAME) from None
        raise CxError(f"cannot load the compiled object {so}: {message}") from exc
    return CcCode(dll, so, diagnostics, link)
