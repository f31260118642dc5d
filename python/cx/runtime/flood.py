"""How much C output a notebook cell shows at once: Jupyter's own rate limit, kept by the kernel.

Jupyter's server stops forwarding *every* output message of a kernel whose stream output goes over
``iopub_data_rate_limit`` bytes/s averaged over the last ``rate_limit_window`` seconds (by default
1 MB/s over 3 s), the ``KeyboardInterrupt`` of a stopped cell included. C printing in a loop reaches
that in milliseconds. :class:`Flood` keeps the same account -- bytes shown in a sliding window --
so that C's output stays just under the server's limit: everything the server would have shown is
shown, and what goes over is handed to :mod:`cx.runtime.spill` (kept in a file, its last lines
shown) instead of making the server drop the cell's error.

Once output went over, nothing more is shown until the flood slows down (the bytes C printed in
the window, shown or not, fall under half the limit): a steady flood shows its beginning, then its
end, not a line every now and then. :mod:`cx.runtime.capture` consults it for every write while a
limit is set (the ``%%cx`` magic sets one when it runs in a Jupyter kernel).
"""
from __future__ import annotations

import time

__all__ = ["Flood", "weigh", "JUPYTER_RATE", "JUPYTER_WINDOW"]

#: Jupyter's defaults: ``ServerApp.iopub_data_rate_limit`` (bytes/s) and ``rate_limit_window`` (s).
JUPYTER_RATE = 1_000_000
JUPYTER_WINDOW = 3.0

_SLOTS = 30  # the window is kept as this many slots of counts (window / 30 s each)
_FRAMING = 0.98  # the server counts message headers too: leave them 2% of the window
_ENDS = 0.02  # and 2% more for the ends of floods (Flood.take)
_END_ROOM = 2 * 16384 + 1024  # at least: the weight of the longest end cx.runtime.spill shows, and its line


class Flood:
    """Bytes shown in a sliding window, against a limit of ``rate * window`` bytes.

    Parameters
    ----------
    rate : float
        Bytes per second, averaged over ``window``.
    window : float
        Seconds the average is taken over.
    clock : callable
        Seconds, monotonic (a test can pass its own).
    """

    def __init__(self, rate: float = JUPYTER_RATE, window: float = JUPYTER_WINDOW, clock=time.monotonic):
        if not rate > 0 or not window > 0:
            raise ValueError(f"the output rate limit needs rate > 0 and window > 0, not {rate}, {window}")
        self.rate = float(rate)
        self.window = float(window)
        self.limit = int(self.rate * self.window * (_FRAMING - _ENDS))  # bytes shown, not ends of floods
        self.ends_limit = self.limit + max(int(self.rate * self.window * _ENDS), _END_ROOM)  # with ends
        self._clock = clock
        self._step = self.window / _SLOTS
        self._shown = [0] * (_SLOTS + 1)  # one slot more: a byte leaves the window late, never early
        self._printed = [0] * (_SLOTS + 1)  # shown or not
        self._slot = int(clock() / self._step)
        self.shown = 0  # in the window
        self.printed = 0
        self.closed = False  # output went over: nothing shown until the flood slows down

    def _advance(self) -> int:
        slot = int(self._clock() / self._step)
        n = len(self._shown)
        if slot <= self._slot:  # the same slot (most writes)
            return self._slot % n
        for s in range(max(self._slot + 1, slot - n + 1), slot + 1):
            i = s % n
            self.shown -= self._shown[i]
            self.printed -= self._printed[i]
            self._shown[i] = self._printed[i] = 0
        self._slot = max(self._slot, slot)
        return self._slot % n

    def admit(self, data: bytes) -> int:
        """How many of the bytes of ``data`` may be shown now (all, a first part, or 0).

        The caller shows that many and hands the rest elsewhere; all of ``data`` counts as
        printed. Bytes are weighed as the server weighs them, in the JSON of the message: a
        newline, tab, quote or backslash counts twice.
        """
        i = self._advance()
        size = len(data)
        weight = weigh(data)
        if self.closed and self.printed < self.limit / 2:
            self.closed = False
        room = 0 if self.closed else max(0, self.limit - self.shown)
        allowed = size if weight <= room else room * size // weight
        shown = weight if allowed == size else room
        self._shown[i] += shown
        self.shown += shown
        self._printed[i] += weight
        self.printed += weight
        self.closed = allowed < size
        return allowed

    def take(self, data: bytes, force: bool = False) -> bool:
        """Whether ``data``, the end of a flood, may be shown now; if so it is counted as shown.

        Ends have a share of the window of their own, so the end of a flood that filled the window
        can be shown; ``force`` shows it even if that share is spent (at the end of a cell).
        """
        i = self._advance()
        weight = weigh(data)
        if not force and self.shown + weight > self.ends_limit:
            return False
        self._shown[i] += weight
        self.shown += weight
        return True

    def refill(self) -> None:
        """An empty window (at the start of a cell, as Jupyter's server does when the kernel idles)."""
        self._shown = [0] * len(self._shown)
        self._printed = [0] * len(self._printed)
        self.shown = self.printed = 0
        self.closed = False


def weigh(data: bytes) -> int:
    """The bytes ``data`` takes in the JSON of an output message (about: escapes count twice)."""
    return len(data) + data.count(b"\n") + data.count(b"\t") + data.count(b'"') + data.count(b"\\")
