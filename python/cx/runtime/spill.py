"""C output a cell does not show, kept in a file: a rate limit shortens what is shown, never what is kept.

When C prints more than the notebook's limit (:mod:`cx.runtime.flood`), :mod:`cx.runtime.capture`
hands the rest of the flood to a :class:`Spill`. It writes the bytes, as C printed them, to a file
in a temporary directory of the process (removed when the process exits, or by the next process if
it was killed) and keeps the last lines
in memory. When the flood ends -- the C call returns or is interrupted, the flood slows down, or
the cell ends -- :meth:`Spill.settle` gives the text the cell shows in its place::

    [cx: 73,000 more lines (3,359,000 bytes) of C output are kept in /tmp/cx-output-4242-k2v1/stdout-1.txt; the last 20:]
    line 99981
    ...
    done

A runaway loop must not fill the disk: past ``cap`` bytes the file keeps the first and the last
``cap / 2`` bytes, a line in the file marks the gap, and the summary says how much was discarded.
That is the only case where output is lost, and it is said.
"""
from __future__ import annotations

import atexit
import itertools
import os
import re
import shutil
import tempfile
import threading

__all__ = ["Spill", "directory", "DEFAULT_CAP", "TAIL_LINES"]

DEFAULT_CAP = 1_000_000_000  #: bytes kept per flood at most (the first and the last half)
TAIL_LINES = 20  #: lines of the end of a flood shown in the cell
_TAIL_BYTES = 16384  # of the end kept in memory (20 long lines, or the end of one huge line)
_CHUNK = 1 << 20  # bytes written to the end part (a ring) at once; and copied at once

_dir = None
_dir_lock = threading.Lock()
_numbers = itertools.count(1)
_ORPHAN = re.compile(r"cx-output-(\d+)-\w+")


def directory() -> str:
    """The process's directory for kept output, made on first use, removed when the process exits.

    Its name holds the process id (``cx-output-<pid>-...``): a kernel killed outright (no exit
    handlers ran) leaves its directory behind, and the next process that makes one removes it.
    """
    global _dir
    with _dir_lock:
        if _dir is None or not os.path.isdir(_dir):
            _remove_orphans()
            _dir = tempfile.mkdtemp(prefix=f"cx-output-{os.getpid()}-")
            atexit.register(shutil.rmtree, _dir, True)
        return _dir


def _remove_orphans() -> None:
    """Remove the output directories of processes that no longer run."""
    top = tempfile.gettempdir()
    try:
        names = os.listdir(top)
    except OSError:
        return
    for name in names:
        m = _ORPHAN.fullmatch(name)
        if m is None:
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:  # gone (another user's process raises PermissionError: kept)
            shutil.rmtree(os.path.join(top, name), ignore_errors=True)
        except OSError:
            pass


def _lines(data) -> int:
    return data.count(b"\n")


class Spill:
    """The part of one stream's flood that was not shown, from its first byte to :meth:`settle`.

    Parameters
    ----------
    name : str
        The stream ("stdout", "stderr"): the start of the file's name.
    cap : int or None
        Bytes kept at most (the first and the last half); None: no cap.
    tail : int
        Lines of the end shown by :meth:`settle`.
    """

    def __init__(self, name: str, cap: int | None = DEFAULT_CAP, tail: int = TAIL_LINES):
        if cap is not None and cap < 2:
            raise ValueError(f"the cap on kept C output must be at least 2 bytes, not {cap}")
        self.thread = threading.get_ident()  # the thread that printed it (settled when its call returns)
        self.cap = cap
        self.tail_lines = tail
        self.name = name
        self.path = None  # the file, made once the spill is too long to show whole
        self._file = None
        self._head_room = cap - cap // 2 if cap is not None else None  # bytes the file's start takes
        self._ring = None  # the end part, once the start is full: (fd, size); written circularly
        self._ring_written = 0
        self._pending = bytearray()  # for the ring, written a chunk at a time
        self.bytes = self.lines = 0  # all of the flood not shown
        self.head_bytes = self.head_lines = 0  # in the file's start
        self._head_ends_line = True
        self._tail = bytearray()
        self._tail_cut = False  # the tail no longer starts at the flood's first byte

    def add(self, data: bytes) -> None:
        """Keep ``data``, which the cell does not show.

        Raises OSError when no file can keep it (a full disk): then ``data`` is not counted, and
        with no file yet, :meth:`held` is all of the spill, for the caller to show instead.
        """
        before = bytes(self._tail) if self._file is None else b""  # all of it: no file, never cut
        self.bytes += len(data)
        self.lines += _lines(data)
        self._tail += data
        try:
            if self._file is None:
                if self.whole():  # short enough to show whole: no file yet
                    return
                path = os.path.join(directory(), f"{self.name}-{next(_numbers)}.txt")
                self._file = open(path, "wb", buffering=_CHUNK)  # noqa: SIM115 -- closed by settle
                self.path = path
                if before:
                    self._write(before)
            self._write(data)
        except OSError:
            self.bytes -= len(data)
            self.lines -= _lines(data)
            raise
        if len(self._tail) > 2 * _TAIL_BYTES:
            del self._tail[:-_TAIL_BYTES]
            self._tail_cut = True

    def held(self) -> bytes:
        """What only memory holds: all of the spill while it has no file, else nothing."""
        return bytes(self._tail) if self._file is None else b""

    def _write(self, data: bytes) -> None:
        if self._head_room is None or self._head_room >= len(data):
            self._to_head(data)
            return
        room = self._head_room
        if room:
            self._to_head(data[:room])
            data = data[room:]
        self._pending += data
        if len(self._pending) >= _CHUNK:
            self._to_ring()

    def _to_head(self, data) -> None:
        self._file.write(data)
        self.head_bytes += len(data)
        self._head_ends_line = data.endswith(b"\n")
        self.head_lines += _lines(data)
        if self._head_room is not None:
            self._head_room -= len(data)

    def _to_ring(self) -> None:
        if self._ring is None:
            fd = os.open(self.path + ".end", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            self._ring = (fd, self.cap // 2)
        fd, size = self._ring
        data = memoryview(self._pending)[-size:]
        self._ring_written += len(self._pending) - len(data)
        while data:
            at = self._ring_written % size
            n = os.pwrite(fd, data[:size - at], at)
            self._ring_written += n
            data = data[n:]
        self._pending = bytearray()

    def _close(self) -> tuple[int, int, int]:
        """Write the end part after the start; (bytes in the end part, its lines, bytes discarded)."""
        if self._file is None:
            return 0, 0, 0
        end_bytes = end_lines = discarded = 0
        if self._pending or self._ring is not None:
            self._to_ring()
            fd, size = self._ring
            kept = min(self._ring_written, size)
            discarded = self._ring_written - kept
            chunks = list(_read_ring(fd, size, self._ring_written % size if discarded else 0, kept))
            end_bytes = kept
            end_lines = sum(map(_lines, chunks))
            if discarded:
                gap_lines = self.lines - self.head_lines - end_lines
                lead = b"" if self._head_ends_line else b"\n"
                self._file.write(lead + f"[cx: {discarded:,} bytes ({gap_lines:,} lines) of C output "
                                        f"discarded here: over the cap of {self.cap:,} bytes kept]\n".encode())
            for chunk in chunks:
                self._file.write(chunk)
            os.close(fd)
            os.unlink(self.path + ".end")
        self._file.close()
        return end_bytes, end_lines, discarded

    def whole(self) -> bool:
        """Whether the spill is short enough to be shown whole (no summary, no file)."""
        return (not self._tail_cut and len(self._tail) <= _TAIL_BYTES
                and self._tail.count(b"\n") <= self.tail_lines)

    def end(self) -> bytes:
        """The last lines, as the cell shows them (the whole spill if it is short)."""
        tail = bytes(self._tail)
        if self.whole():
            return tail
        ends = tail.endswith(b"\n")
        keep = tail.split(b"\n")
        if ends:
            keep.pop()
        if self._tail_cut and len(keep) > 1:
            keep.pop(0)  # the end of a line whose start is no longer in memory
        keep = keep[-self.tail_lines:]
        return (b"\n".join(keep) + (b"\n" if ends else b""))[-_TAIL_BYTES:]

    def settle(self) -> str:
        """Close the file; the text the cell shows for the whole spill: a summary line and the end.

        A spill short enough to be shown whole is shown whole, and has no file.
        """
        if self._file is None:
            return bytes(self._tail).decode("utf-8", "replace")
        shown = self.end()
        keep = shown.count(b"\n") + (not shown.endswith(b"\n"))
        ends = bytes(self._tail).endswith(b"\n")
        end_bytes, end_lines, discarded = self._close()
        lines = self.lines + (0 if ends else 1)
        last = f"the last {keep}:" if keep != 1 else "the last line:"
        if discarded:
            head = (f"[cx: {_count(lines, 'more line')} ({self.bytes:,} bytes) of C output, too many to keep: "
                    f"{self.path} holds the first {self.head_bytes:,} bytes ({self.head_lines:,} lines) "
                    f"and the last {end_bytes:,} ({end_lines:,} lines); {discarded:,} bytes between them "
                    f"were discarded (cap: {self.cap:,} bytes); {last}]\n")
        else:
            head = f"[cx: {_count(lines, 'more line')} ({self.bytes:,} bytes) of C output are kept in {self.path}; {last}]\n"
        return head + shown.decode("utf-8", "replace")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _read_ring(fd: int, size: int, start: int, kept: int):
    """The ``kept`` bytes of the ring, oldest first, a chunk at a time."""
    at, left = start, kept
    while left:
        n = min(left, _CHUNK, size - at)
        yield os.pread(fd, n, at)
        at = (at + n) % size
        left -= n
