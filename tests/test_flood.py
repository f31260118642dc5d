"""cx.runtime.flood: Jupyter's rate limit, kept by the kernel (a fake clock: no timing here)."""
import pytest

from cx.runtime.flood import JUPYTER_RATE, JUPYTER_WINDOW, Flood, weigh


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_the_default_is_jupyters_own_limit_less_the_message_headers():
    f = Flood(clock=Clock())
    assert (JUPYTER_RATE, JUPYTER_WINDOW) == (1_000_000, 3.0)  # ServerApp.iopub_data_rate_limit, rate_limit_window
    assert f.ends_limit == 2_940_000 and f.limit == 2_880_000
    assert f.admit(b"x" * 2_000_000) == 2_000_000  # a few MB in a burst: shown whole


def test_a_burst_up_to_the_window_then_closed_until_the_flood_slows_down():
    clock = Clock()
    f = Flood(rate=1000, window=1.0, clock=clock)  # limit 960 bytes a second
    assert [f.admit(b"x" * 400) for _ in range(3)] == [400, 400, 160]
    clock.now += 0.5
    assert f.admit(b"x" * 10) == 0  # still the same window
    clock.now += 0.6  # the first 1,210 bytes left the window, under half the limit: open again
    assert f.admit(b"x" * 100) == 100


def test_a_steady_flood_stays_closed():
    clock = Clock()
    f = Flood(rate=1000, window=1.0, clock=clock)
    assert f.admit(b"x" * 2000) == 960
    for _ in range(50):  # 1,000 bytes a second, over the limit (shown or not, they count)
        clock.now += 0.1
        assert f.admit(b"x" * 100) == 0


def test_escapes_weigh_twice_as_in_the_json_the_server_counts():
    assert weigh(b'a\n\t"\\') == 9
    f = Flood(rate=1000, window=1.0, clock=Clock())
    assert f.admit(b"\n" * 600) == 480


def test_the_end_of_a_flood_has_a_share_of_its_own():
    f = Flood(rate=1_000_000, window=3.0, clock=Clock())
    assert f.admit(b"x" * 3_000_000) == 2_880_000
    assert f.take(b"y" * 60_000) and not f.take(b"y" * 1)  # 2% of the window
    assert f.take(b"y" * 20, force=True)  # at the end of a cell the end is shown anyway
    small = Flood(rate=1000, window=1.0, clock=Clock())  # never less than the longest end (16 kB)
    assert small.admit(b"x" * 2000) == 960 and small.take(b"y" * 16384)


def test_refill_lets_the_next_cell_start():
    f = Flood(rate=1000, window=1.0, clock=Clock())
    assert (f.admit(b"x" * 960), f.admit(b"x" * 10)) == (960, 0)
    f.refill()
    assert f.admit(b"x" * 10) == 10


def test_bad_limits_are_refused():
    with pytest.raises(ValueError, match="rate > 0 and window > 0"):
        Flood(rate=0)
