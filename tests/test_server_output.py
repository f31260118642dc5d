"""C output through a real Jupyter server, with its own rate limit on (1 MB/s over 3 s, the default).

The server stops forwarding every output of a kernel over its limit, the ``KeyboardInterrupt`` of a
stopped cell included; cx keeps just under it. A websocket client here plays the browser: it sees
exactly what the server forwards. Every wait has a timeout; the server is stopped whatever happens.
"""
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

pytest.importorskip("jupyter_server")
websocket = pytest.importorskip("tornado.websocket")
kernelspec = pytest.importorskip("ipykernel.kernelspec")

TIMEOUT = 120  # seconds for one cell, interrupt included: a hang fails, it does not stall CI
KEPT = re.compile(r"\[cx: [\d,]+ more lines \([\d,]+ bytes\) of C output are kept in (\S+); the last 20:\]\n")
C_CELL = r"""%%cx
#include <stdio.h>
void count_lines(int n) { for (int i = 0; i < n; i++) printf("line %d of the output of a C loop\n", i); printf("done\n"); }
/* prints without end; past line `flag_at`, creates the file `flag` (a rendezvous for the test) */
void chatty(long flag_at, const char *flag) {
    for (long i = 0;; i++) {
        printf("line %ld\n", i);
        if (i == flag_at) fclose(fopen(flag, "w"));
    }
}
"""
# Jupyter's limit, 3 MB, over an hour instead of 3 s: the same cut however slowly a busy machine prints
# (a flood slower than 1 MB/s is never cut by the default); the server's own limit is the default.
HOUR = "from cx.runtime import capture\ncapture.limit_rate(3_000_000 / 3600, 3600)"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(url, token, path, method="GET"):
    req = urllib.request.Request(f"{url}{path}?token={token}", method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=30) as r:
        body = r.read()
    return json.loads(body) if body else None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A Jupyter server with its default rate limits, on a free port, with a private config."""
    root = tmp_path_factory.mktemp("server")
    kernelspec.install(prefix=str(root), kernel_name="python3")  # runs this Python (cx's)
    port, token = free_port(), "cx-server-test"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(root / "config"), JUPYTER_RUNTIME_DIR=str(root / "runtime"),
               IPYTHONDIR=str(root / "ipython"), JUPYTER_PATH=str(root / "share" / "jupyter"))
    env.pop("PYTEST_CURRENT_TEST", None)
    (root / "work").mkdir()
    log = open(root / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root / 'work'}", "--allow-root",
         "--ServerApp.port_retries=0"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                api(url, token, "/api/status")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the Jupyter server did not start:\n" + (root / "server.log").read_text()[-3000:])
                time.sleep(0.3)
        yield url, token
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(15)
        log.close()


class Browser:
    """What a browser gets from the server for one kernel: run(code) -> (stdout text, error content)."""

    def __init__(self, url, token):
        self.url, self.token = url, token
        self.kernel = api(url, token, "/api/kernels", "POST")["id"]
        self.session = uuid.uuid4().hex

    def run(self, code, interrupt_when=None):
        """Run ``code``; interrupt it once the file ``interrupt_when`` exists."""
        return asyncio.run(asyncio.wait_for(self._run(code, interrupt_when), TIMEOUT))

    async def _interrupt_when(self, path):
        while not os.path.exists(path):
            await asyncio.sleep(0.01)
        await asyncio.to_thread(api, self.url, self.token, f"/api/kernels/{self.kernel}/interrupt", "POST")

    async def _run(self, code, interrupt_when):
        ws_url = self.url.replace("http", "ws", 1) + f"/api/kernels/{self.kernel}/channels?token={self.token}"
        ws = await websocket.websocket_connect(ws_url, max_message_size=1 << 30)
        try:
            msg_id = uuid.uuid4().hex
            await ws.write_message(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": self.session,
                           "username": "test", "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}}))
            out, error = [], None
            interrupter = asyncio.create_task(self._interrupt_when(interrupt_when)) if interrupt_when else None
            while True:
                msg = json.loads(await ws.read_message())
                if msg.get("parent_header", {}).get("msg_id") != msg_id or msg["channel"] != "iopub":
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    out.append(content["text"])
                elif kind == "error":
                    error = content
                elif kind == "status" and content["execution_state"] == "idle":
                    if interrupter is not None:
                        assert interrupter.done(), "the cell ended before it was interrupted"
                    return "".join(out), error
        finally:
            ws.close()


@pytest.fixture(scope="module")
def browser(server):
    b = Browser(*server)
    try:
        assert b.run("%load_ext cx") == ("", None)
        assert b.run(C_CELL) == ("", None)
        assert b.run(HOUR) == ("", None)
        yield b
    finally:
        api(*server, f"/api/kernels/{b.kernel}", "DELETE")


def expected_lines(n):
    return "".join(f"line {i} of the output of a C loop\n" for i in range(n)) + "done\n"


def test_twenty_thousand_lines_pass_the_server_whole(browser):
    assert browser.run("count_lines(20_000)") == (expected_lines(20_000), None)


def test_a_hundred_thousand_lines_show_their_start_and_end_through_the_server(browser):
    out, error = browser.run('count_lines(100_000)\nprint("python after")')
    assert error is None and "IOPub data rate exceeded" not in out
    (m,) = KEPT.finditer(out)
    expected = expected_lines(100_000)
    assert expected.startswith(out[:m.start()]) and len(out[:m.start()]) > 2_000_000
    assert out[m.end():] == "".join(expected.splitlines(True)[-20:]) + "python after\n"


def test_the_interrupt_of_a_flood_is_shown_after_its_end(browser, tmp_path):
    flag = tmp_path / "over-the-limit"  # made by chatty() past 300,000 lines (3.6 MB: over the limit)
    out, error = browser.run(f"chatty(300_000, {str(flag)!r})", interrupt_when=flag)
    assert error is not None and error["ename"] == "KeyboardInterrupt", (error, out[-500:])
    assert "IOPub data rate exceeded" not in out
    m = KEPT.search(out)
    assert m, out[-2000:]
    assert re.fullmatch(r"(line \d+\n){20}", out[m.end():])  # the last lines before the interrupt
