"""A rate limit for C output in a notebook: a flood is summarised instead of drowning the cell.

Jupyter's server drops *every* output message of a kernel that sends more than about 1 MB/s (its
IOPub rate limit), the ``KeyboardInterrupt`` of a stopped cell included. C printing in a loop
reaches that in milliseconds. :class:`Flood` lets output through up to a burst and a steady rate
(a token bucket, well under the server's limit, and under what a browser renders quickly), counts
what it drops, and says so in the cell::

    [cx: C printed faster than the notebook can show: 804,312 lines (9,734,512 bytes) not shown]

:mod:`cx.runtime.capture` consults it for every write while a limit is set (the ``%%cx`` magic sets one
when it runs in a Jupyter kernel).
"""
from __future__ import annotations

import time

__all__ = ["Flood"]


class Flood:
    """Token bucket over bytes of output, with a count of what was dropped.

    Parameters
    ----------
    rate : float
        Bytes per second let through once the burst is spent.
    burst : int
        Bytes let through at once (the bucket's size).
    clock : callable
        Seconds, monotonic (a test can pass its own).
    """

    def __init__(self, rate: float, burst: int, clock=time.monotonic):
        if rate <= 0 or burst <= 0:
            raise ValueError(f"the output rate limit needs rate > 0 and burst > 0, not {rate}, {burst}")
        self.rate = float(rate)
        self.burst = int(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()
        self._closed = False  # dropping until the flood pauses
        self.mid_line = False  # the text shown last did not end a line (the caller keeps this)
        self.dropped_bytes = 0
        self.dropped_lines = 0

    def admit(self, size: int) -> int:
        """How many of ``size`` more bytes may be shown now (all, a first part, or 0).

        Once output was dropped, nothing more is shown until the flood has paused long enough to
        refill half the burst: a steady flood shows its beginning and a summary, not one line in
        fifty with a note after each.
        """
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._closed and self._tokens >= self.burst / 2:
            self._closed = False
        allowed = 0 if self._closed else max(0, min(size, int(self._tokens)))
        self._tokens = max(self._tokens - size, -self.burst)  # dropped bytes count too
        self._closed = allowed < size
        return allowed

    def refill(self) -> None:
        """A full burst again (at the start of a cell: its first lines are always shown)."""
        self._tokens = float(self.burst)
        self._last = self._clock()
        self._closed = False

    def drop(self, data: bytes) -> None:
        """Count ``data`` as not shown."""
        self.dropped_bytes += len(data)
        self.dropped_lines += data.count(b"\n")

    def summary(self) -> str:
        """The line telling what was dropped since the last summary ("" if nothing), and reset."""
        if not self.dropped_bytes:
            return ""
        text = (f"{chr(10) if self.mid_line else ''}[cx: C printed faster than the notebook can show: "
                f"{self.dropped_lines:,} lines ({self.dropped_bytes:,} bytes) not shown]\n")
        self.mid_line = False
        self.dropped_bytes = self.dropped_lines = 0
        return text
