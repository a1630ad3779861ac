"""`stationlink demo --serve`: after the day it prints the console's URL and a one-time
password, and serves the run's hub until SIGINT. A real subprocess: the operator signs in with
that password (and must change it), the month's statement of the demo station equals the
demo's own reward, and Ctrl-C (SIGINT) ends the demo with status 0."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

_HIDDEN = re.compile(r'name="csrf_token" value="([^"]*)"')


def _lines(stream, out: queue.Queue[str]) -> None:  # type: ignore[no-untyped-def]
    for line in stream:
        out.put(line.rstrip("\n"))
    out.put("")


def _csrf(html: str) -> str:
    found = _HIDDEN.search(html)
    assert found is not None, html
    return found.group(1)


@pytest.mark.slow
def test_demo_serves_the_console_with_a_one_time_password(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
        [sys.executable, "-m", "stationlink", "demo", "--serve", "--bind", "127.0.0.1:0",
         "--dir", str(work)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True)
    reader.start()
    try:
        url = password = None
        while password is None:
            line = lines.get(timeout=300)
            assert line, "the demo ended before printing the console"
            if line.startswith("console: "):
                url = line.removeprefix("console: ")
            elif line.startswith("operator demo, one-time password: "):
                password = line.split(": ", 1)[1].split(" ")[0]
        assert url is not None
        base = url.split("/console/")[0]
        month = url.rsplit("/", 1)[1]
        reward = json.loads((work / "reward.json").read_text(encoding="utf-8"))
        with httpx.Client(base_url=base, timeout=30) as client:
            form = client.get("/console/login")
            signed = client.post("/console/login", headers={"Origin": base}, data={
                "csrf_token": _csrf(form.text), "name": "demo", "password": password})
            assert signed.status_code == 303
            assert signed.headers["location"] == "/console/password"
            page = client.get("/console/password")
            changed = client.post("/console/password", headers={"Origin": base}, data={
                "csrf_token": _csrf(page.text), "current": password,
                "new": "a new demo password", "again": "a new demo password"})
            assert changed.status_code == 303
            statement = client.get(
                f"/v1/console/months/{month}/stations/{reward['station_id']}")
            assert statement.status_code == 200, statement.text
            assert statement.json()["station"]["total"] == reward["total"].split(" ")[0]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=30)  # the pipe is at its end once the process is gone
        assert proc.stdout is not None
        proc.stdout.close()
