"""`stationlink demo` on a terminal: without a flag it ends by printing the console's URL and a
one-time password and serves until Ctrl-C (exit 0); ``--no-serve`` on the same terminal ends
right after the figures. A real subprocess whose standard input and output are a pty (what
"on a terminal" means to the demo), not a pipe (tests/sim_run/test_sim_run_demo_console.py
drives ``--serve`` through a pipe)."""

from __future__ import annotations

import os
import pty
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

_PROMPTS = ("console: ", "operator demo, one-time password: ")


def _read(fd: int, out: queue.Queue[str | None]) -> None:
    """Lines from the pty's controller side until the child's side is closed, then None."""
    pending = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            chunk = b""
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            out.put(line.decode("utf-8", "replace").rstrip("\r"))
    if pending:
        out.put(pending.decode("utf-8", "replace").rstrip("\r"))
    out.put(None)


def _demo_on_a_pty(work: Path, *flags: str
                   ) -> tuple[subprocess.Popen[bytes], queue.Queue[str | None], threading.Thread,
                              int]:
    controller, child = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "STATIONLINK_LANG"}  # the default: zh
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
        [sys.executable, "-m", "stationlink", "demo", "--bind", "127.0.0.1:0", "--dir",
         str(work), *flags], stdin=child, stdout=child, stderr=subprocess.DEVNULL, env=env)
    os.close(child)
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_read, args=(controller, lines), daemon=True)
    reader.start()
    return proc, lines, reader, controller


def _finish(proc: subprocess.Popen[bytes], reader: threading.Thread, controller: int) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    reader.join(timeout=30)
    os.close(controller)


@pytest.mark.slow
def test_on_a_terminal_the_demo_serves_until_ctrl_c(tmp_path: Path) -> None:
    proc, lines, reader, controller = _demo_on_a_pty(tmp_path / "demo")
    try:
        url = password = None
        while password is None:
            line = lines.get(timeout=300)
            assert line is not None, "the demo ended before printing the console"
            if line.startswith(_PROMPTS[0]):
                url = line.removeprefix(_PROMPTS[0])
            elif line.startswith(_PROMPTS[1]):
                password = line.removeprefix(_PROMPTS[1]).split(" ")[0]
        assert url is not None
        assert password
        assert proc.poll() is None  # still serving
        with httpx.Client(timeout=30) as client:
            login = client.get(url.split("/console/")[0] + "/console/login")
        assert login.status_code == 200
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert proc.wait(timeout=60) == 0
    finally:
        _finish(proc, reader, controller)


@pytest.mark.slow
def test_no_serve_ends_after_the_figures_even_on_a_terminal(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    proc, lines, reader, controller = _demo_on_a_pty(work, "--no-serve")
    try:
        assert proc.wait(timeout=300) == 0
        reader.join(timeout=30)
        seen = []
        while (line := lines.get(timeout=30)) is not None:
            seen.append(line)
        text = "\n".join(seen)
        # the figures were printed, in Chinese (the default), to their last line
        assert seen[-1].startswith("用时 "), text
        assert seen[-1].endswith(f"文件在 {work}"), text
        assert not any(s.startswith(_PROMPTS) for s in seen), text
    finally:
        _finish(proc, reader, controller)
