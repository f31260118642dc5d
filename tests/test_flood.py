"""cx._flood: the rate limit that summarises a flood of C output in a notebook (fake clock)."""
import pytest

from cx.runtime.flood import Flood


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_burst_then_closed_until_the_flood_pauses_then_summary():
    clock = Clock()
    f = Flood(rate=100, burst=250, clock=clock)
    assert [f.admit(100) for _ in range(3)] == [100, 100, 50]  # 250 bytes at once
    f.drop(b"line\n" * 10)
    clock.now += 1.0  # 100 bytes earned, less than half the burst: still closed
    assert f.admit(10) == 0
    f.drop(b"line\n" * 2)
    clock.now += 1.0  # 200 earned (less the 50 overdrawn and 10 dropped): open again
    assert f.admit(100) == 100
    assert f.summary() == "[cx: C printed faster than the notebook can show: 12 lines (60 bytes) not shown]\n"
    assert f.summary() == ""  # said once


def test_summary_starts_a_line_after_a_partial_one():
    f = Flood(rate=1, burst=10, clock=Clock())
    f.drop(b"x\n")
    f.mid_line = True
    assert f.summary().startswith("\n[cx: C printed faster")


def test_refill_lets_the_next_cell_start():
    clock = Clock()
    f = Flood(rate=1, burst=10, clock=clock)
    assert (f.admit(10), f.admit(10)) == (10, 0)
    f.refill()
    assert f.admit(10) == 10


def test_bad_limits_are_refused():
    with pytest.raises(ValueError, match="rate > 0 and burst > 0"):
        Flood(rate=0, burst=10)
