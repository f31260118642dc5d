"""cx.runtime.spill: C output a cell does not show is kept in a file, whole or capped and said so."""
import os
import re
import signal
import subprocess
import sys

import pytest

from cx.runtime import spill
from cx.runtime.spill import Spill


def lines(first, last):
    return b"".join(b"line %d\n" % i for i in range(first, last))


def summary(text):
    head, _, rest = text.partition("]\n")
    return head + "]", rest


def test_a_short_spill_is_shown_whole_without_a_file():
    s = Spill("stdout", tail=20)
    s.add(lines(0, 5))
    assert s.path is None
    assert s.settle() == lines(0, 5).decode()


def test_a_long_spill_is_kept_whole_in_a_file_and_its_end_shown():
    s = Spill("stdout", tail=3)
    for i in range(0, 10_000, 100):
        s.add(lines(i, i + 100))
    head, end = summary(s.settle())
    assert re.fullmatch(r"\[cx: 10,000 more lines \(98,890 bytes\) of C output are kept in "
                        r"(/\S+/stdout-\d+\.txt); the last 3:\]", head)
    assert end == "line 9997\nline 9998\nline 9999\n"
    with open(s.path, "rb") as f:
        assert f.read() == lines(0, 10_000)  # nothing lost
    assert os.path.dirname(s.path) == spill.directory()


def test_the_end_of_one_huge_line_and_a_partial_last_line():
    s = Spill("stderr", tail=5)
    s.add(b"x" * 100_000)
    head, end = summary(s.settle())
    assert head.startswith("[cx: 1 more line (100,000 bytes)") and head.endswith("the last line:]")
    assert end == "x" * 16384  # the end of it
    with open(s.path, "rb") as f:
        assert f.read() == b"x" * 100_000


def test_past_the_cap_the_first_and_last_halves_are_kept_and_the_gap_said():
    s = Spill("stdout", cap=20_000, tail=2)
    data = lines(0, 50_000)  # 538,890 bytes
    for i in range(0, len(data), 7_000):
        s.add(data[i:i + 7_000])
    head, end = summary(s.settle())
    assert end == "line 49998\nline 49999\n"
    m = re.fullmatch(r"\[cx: 50,000 more lines \(538,890 bytes\) of C output, too many to keep: (\S+) holds "
                     r"the first 10,000 bytes \(([\d,]+) lines\) and the last 10,000 \(([\d,]+) lines\); "
                     r"518,890 bytes between them were discarded \(cap: 20,000 bytes\); the last 2:\]", head)
    assert m, head
    with open(m.group(1), "rb") as f:
        kept = f.read()
    first, gap, last = kept[:10_000], kept[10_000:-10_000], kept[-10_000:]
    assert (first, last) == (data[:10_000], data[-10_000:])
    gap_lines = re.fullmatch(rb"\n?\[cx: 518,890 bytes \(([\d,]+) lines\) of C output discarded here: over "
                             rb"the cap of 20,000 bytes kept\]\n", gap).group(1)
    counts = [int(n.replace(b",", b"")) for n in (m.group(2).encode(), gap_lines, m.group(3).encode())]
    assert counts[0] == first.count(b"\n") and counts[2] == last.count(b"\n") and sum(counts) == 50_000
    assert not os.path.exists(m.group(1) + ".end")


def test_the_directory_of_a_process_that_was_killed_is_removed_by_the_next():
    script = ("import os, signal\nfrom cx.runtime import spill\nprint(spill.directory(), flush=True)\n"
              "os.kill(os.getpid(), signal.SIGKILL)")
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    left = killed.stdout.strip()
    assert killed.returncode == -signal.SIGKILL and os.path.isdir(left)  # no exit handler ran
    done = subprocess.run([sys.executable, "-c", "from cx.runtime import spill\nprint(spill.directory())"],
                          capture_output=True, text=True, check=True)
    assert not os.path.exists(left) and not os.path.exists(done.stdout.strip())  # and its own at exit


def test_a_bad_cap_is_refused():
    with pytest.raises(ValueError, match="at least 2 bytes"):
        Spill("stdout", cap=1)
