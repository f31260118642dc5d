"""Which headers are the API :func:`cx.include` binds: the header and the library's own headers it
includes, never the C library's and the operating system's.

An installed library's header lives in a system directory (``/usr/include/zlib.h``) beside every
other installed header; it includes its own (``zconf.h``, glibc's ``bits/mathcalls.h`` under
``math.h``, ``openssl/bio.h`` under ``openssl/ssl.h``) and the system's (``<unistd.h>``,
``<stdio.h>``, ``<sys/types.h>``). A directory cannot tell them apart, and neither can the
spelling of an ``#include`` (glibc includes its own ``bits/`` headers with ``<>``, zlib its
``zconf.h`` with ``""``). The rule, read from the preprocessor's line markers (which file
included which):

1. the API header itself is the API;
2. a header an API header includes is the API too, unless it is a **header of the C library or of
   the operating system**: a header of ISO C or POSIX by the name it is found under in its system
   directory (``stdio.h``, ``unistd.h``, ``sys/types.h``, ``netinet/in.h``; in Debian's
   multiarch directory, ``x86_64-linux-gnu/sys/types.h``, too), or any header under ``sys/``,
   ``linux/``, ``asm/``, ``asm-generic/``, ``arpa/``, ``net/`` or ``netinet/``;
3. what a header of rule 2's exception includes is not the API (the system's own internals,
   ``bits/types.h`` under ``stdio.h``), unless an API header includes it too;
4. an API header of the user's own (by path, outside the system directories) makes no header of
   the system directories the API: ``evq.h`` including ``<zlib.h>`` binds evq, not zlib.

So ``zlib.h`` is ``zlib.h`` and ``zconf.h`` (not ``unistd.h``, ``limits.h``, ``stddef.h`` nor
what they include); ``sqlite3.h`` is itself (``stdarg.h`` is C's); ``math.h`` is ``math.h`` and the
``bits/`` headers it includes (``M_PI``, ``HUGE_VAL``, ``FP_NAN``, the functions of
``bits/mathcalls.h``). The API's files count as the user's (:class:`cx.cread.view.View`): their
functions, structs, enums and constants are bound; the rest are read as system headers.
Headers outside the system directories (a header of the user's, by path) are the user's anyway.
An installed header that includes another installed library's (GTK's ``gtk.h`` includes GLib's
``glib.h``) makes that one the API too: its functions are found if its library is in
``libraries``, and are in ``lib.unbound`` ("not found in ...") otherwise.
"""
from __future__ import annotations

import os
import re

from ..cread import view as _view

__all__ = ["files", "is_system_header", "in_system_dir"]

#: ISO C (C89 to C23) and POSIX (2024) headers: the C library's, by the name a program includes.
STANDARD = frozenset("""
    assert.h complex.h ctype.h errno.h fenv.h float.h inttypes.h iso646.h limits.h locale.h math.h setjmp.h
    signal.h stdalign.h stdarg.h stdatomic.h stdbit.h stdbool.h stdckdint.h stddef.h stdint.h stdio.h stdlib.h
    stdnoreturn.h string.h tgmath.h threads.h time.h uchar.h wchar.h wctype.h
    aio.h cpio.h devctl.h dirent.h dlfcn.h endian.h fcntl.h fmtmsg.h fnmatch.h ftw.h glob.h grp.h iconv.h
    langinfo.h libgen.h libintl.h monetary.h mqueue.h ndbm.h netdb.h nl_types.h poll.h pthread.h pwd.h regex.h
    sched.h search.h semaphore.h spawn.h strings.h stropts.h syslog.h tar.h termios.h trace.h ulimit.h
    unistd.h utime.h utmpx.h wordexp.h
    alloca.h malloc.h getopt.h features.h
""".split())

#: Directories of the operating system's interface: every header under them is the system's.
SYSTEM_SUBDIRS = frozenset(("sys", "linux", "asm", "asm-generic", "arpa", "net", "netinet"))

_TRIPLET = re.compile(r"^[A-Za-z0-9_]+-[A-Za-z0-9_]+-[A-Za-z0-9_]+$")  # x86_64-linux-gnu


def is_system_header(path, system_dirs) -> bool:
    """Whether ``path`` is a header of the C library or the operating system (rule 2), by its name
    under the last ``include`` directory of its path (``/usr/include/x86_64-linux-gnu/sys/types.h``:
    ``sys/types.h``; GCC's ``/usr/lib/gcc/x86_64-linux-gnu/14/include/stddef.h``: ``stddef.h``).
    Only a header in a system directory is one."""
    full = os.path.abspath(path)
    if not in_system_dir(full, system_dirs):
        return False
    parts = full.split(os.sep)
    at = len(parts) - 1 - parts[::-1].index("include") if "include" in parts[:-1] else None
    if at is None:
        return False
    parts = parts[at + 1:]
    if len(parts) > 1 and _TRIPLET.match(parts[0]):  # Debian's multiarch directory
        parts = parts[1:]
    return "/".join(parts) in STANDARD or (len(parts) > 1 and parts[0] in SYSTEM_SUBDIRS)


def in_system_dir(path, system_dirs) -> bool:
    """Whether ``path`` is under one of the directories ``system_dirs``."""
    full = os.path.abspath(path)
    return any(d and full.startswith(os.path.join(os.path.abspath(d), "")) for d in system_dirs)


def files(text, headers, system_dirs) -> frozenset:
    """The absolute paths of the API's headers in the preprocessed ``text`` (its ``# N "file"
    flags`` markers), for the API headers ``headers`` (as given to :func:`cx.include`: a name
    such as ``"zlib.h"``, or a path)."""
    if not headers:
        return frozenset()
    roots = [h.lstrip("/") for h in headers]
    api, stack = set(), []
    for after, _, path in _view.markers(text):
        flags = text[text.rfind('"', 0, after) + 1:after].split()  # after the name: " 1", " 2" or none
        if "1" in flags:  # entering a file, included by the one on top of the stack
            parent = stack[-1] if stack else None
            if path not in api and (any(path == h or path.endswith("/" + h) for h in roots) or (
                    parent in api and not is_system_header(path, system_dirs)
                    and (in_system_dir(parent, system_dirs) or not in_system_dir(path, system_dirs)))):
                api.add(path)
            stack.append(path)
        elif "2" in flags:  # back in a file that included the one left
            while stack and stack[-1] != path:
                stack.pop()
            if not stack:
                stack.append(path)
        elif stack:
            stack[-1] = path  # a #line directive renames the file on top
        else:
            stack.append(path)
    return frozenset(os.path.abspath(p) for p in api if not p.startswith("<"))
