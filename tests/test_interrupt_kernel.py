"""Interrupting C that prints, in a real kernel, many times: never a hang (issue 10).

The capture writer (cx.capture) is compiled code that holds the GIL; an interrupt that abandoned the
call in there left ctypes waiting for the GIL its own thread held, and the kernel Busy for good
(6 of 15 interrupts through jupyter_client before the fix). Every wait here has a timeout, so a hang
fails the test instead of hanging CI.
"""
import os
import queue
import re
import time

import pytest

jupyter_client = pytest.importorskip("jupyter_client")
kernelspec = pytest.importorskip("ipykernel.kernelspec")

CHATTY = """%%cx
#include <stdio.h>
/* prints without end; past line `flag_at`, creates the file `flag` (a rendezvous for the test) */
void chatty(long flag_at, const char *flag) {
    for (long i = 0;; i++) {
        printf("line %ld\\n", i);
        if (i == flag_at) fclose(fopen(flag, "w"));
    }
}
"""
KEPT = re.compile(r"\[cx: [\d,]+ more lines \([\d,]+ bytes\) of C output are kept in (\S+); the last 20:\]\n")
INTERRUPTS = 20
TIMEOUT = 30  # seconds for one interrupted cell to finish: a hang fails, it does not stall CI


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("jupyter")
    kernelspec.install(prefix=str(root), kernel_name="python3")
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(JUPYTER_PATH=str(root / "share" / "jupyter"), IPYTHONDIR=str(root / "ipython"))
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.kernel_spec_manager.kernel_dirs = [str(root / "share" / "jupyter" / "kernels")]
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        kc.km = km
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def execute(kc, code, *, interrupt_after=None, interrupt_when=None):
    """Run ``code``; return (reply content, stdout text), interrupting after that many seconds, or
    once the file ``interrupt_when`` exists."""
    msg_id = kc.execute(code)
    if interrupt_after is not None:
        time.sleep(interrupt_after)
        kc.km.interrupt_kernel()
    deadline = time.monotonic() + TIMEOUT
    reply, out, idle = None, [], False
    while reply is None or not idle:
        if interrupt_when is not None and os.path.exists(interrupt_when):
            kc.km.interrupt_kernel()
            interrupt_when, deadline = None, time.monotonic() + TIMEOUT
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail(f"the kernel did not finish {code!r} within {TIMEOUT} s of the interrupt: hung")
        try:
            if reply is None:
                msg = kc.get_shell_msg(timeout=min(left, 0.05))
                if msg["parent_header"].get("msg_id") == msg_id:
                    reply = msg["content"]
                continue
        except queue.Empty:
            pass
        try:
            msg = kc.get_iopub_msg(timeout=min(left, 0.05))
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            idle = True
    return reply, "".join(out)


def test_interrupting_printing_c_never_hangs(client, tmp_path):
    assert execute(client, "%load_ext cx")[0]["status"] == "ok"
    # 288 kB shown at most per hour: a flood goes over it soon, and however slowly a busy machine prints
    assert execute(client, "from cx.runtime import capture\ncapture.limit_rate(300_000 / 3600, 3600)"
                   )[0]["status"] == "ok"
    assert execute(client, CHATTY)[0]["status"] == "ok"
    kept_checked = False
    for attempt in range(INTERRUPTS):
        flag = tmp_path / f"over-the-limit-{attempt}"  # made by chatty() past line 100,000 (1.2 MB)
        code = f"chatty(100_000, {str(flag)!r})"
        if attempt % 2:  # at any moment, maybe while the output is still shown
            reply, out = execute(client, code, interrupt_after=0.1 + 0.05 * (attempt % 5))
        else:  # once the flood went over the limit
            reply, out = execute(client, code, interrupt_when=flag)
        assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", (attempt, reply)
        # the loop's lines 5-7 of the cell (the %%cx line is line 1), in libc's printf or in chatty itself
        assert re.fullmatch(r"chatty\(\) was interrupted( inside \S+)? at line [567] \(in chatty\(\)\)\.",
                            reply["evalue"]), reply["evalue"]
        assert "guard.py" not in "".join(reply["traceback"])  # the cell's frame, no handler of cx's
        # a flood shows its start (the limit's worth), a line naming the file that keeps the rest, and its
        # end: the last lines printed before the interrupt; then the KeyboardInterrupt
        m = KEPT.search(out)
        assert m or attempt % 2, (attempt, out[-2000:])
        start, end = (out[:m.start()], out[m.end():]) if m else (out, "")
        assert len(start) <= 300_000 and end.count("\n") == (20 if m else 0), (attempt, len(start), end)
        shown = [int(n) for n in re.findall(r"^line (\d+)$", start + end, re.M)]
        assert len(shown) == (start + end).count("\n") and shown[:2] == [0, 1]  # whole lines, from the start,
        assert shown == sorted(set(shown))  # in order
        if m and not kept_checked:  # the file holds every line between the start and the end shown
            _, kept = execute(client, f"print(open({m.group(1)!r}).read(), end='')")
            kept = [int(n) for n in re.findall(r"^line (\d+)$", kept, re.M)]
            assert kept == list(range(shown[len(shown) - 21] + 1, shown[-1] + 1))
            kept_checked = True
    # Python interrupted afterwards: a bare KeyboardInterrupt, not the last C call's description
    reply, _ = execute(client, "import time\ntime.sleep(20)", interrupt_after=0.5)
    assert (reply["ename"], reply["evalue"]) == ("KeyboardInterrupt", "")
    assert execute(client, "print(6 * 7)")[1] == "42\n"  # and the kernel still works
