"""The pass-through tap against emulated terminals on a real pty and a real TCP socket.

The station program (the real client) talks to the terminal through the tap; the tap must
forward everything unchanged (the client's exchanges succeed), show every frame, and send
nothing of its own: the terminal's journal and ack cursor are unchanged by a read-only
session, and the trace holds exactly the requests the client made.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

import stationlink
from stationlink.money import CST
from stationlink.monitor.tap import Tap
from stationlink.monitor.trace import Tracer
from stationlink.protocol import Transport

KEY = bytes(32)
READ_ONLY = ["IDENTIFY", "DEVICE_STATUS", "ECHO", "JOURNAL_READ", "SETTLEMENT_TOTALS"]


def read_only_session(url: str) -> None:
    with stationlink.connect(url, card_key=KEY, t1=0.5) as client:
        client.device_status()
        assert client.echo(b"\x00\x02\x03\x15tap") == b"\x00\x02\x03\x15tap"
        client.journal()
        client.settlement_totals()


def journal_state(term: Any) -> tuple[list[Any], int]:
    journal = term.device.journal
    return list(journal), journal.acked_cursor


@pytest.mark.slow
@pytest.mark.parametrize("dialect", ["mispos-1", "sl-2"])
def test_serial_tap_forwards_unchanged_and_shows_every_frame(
        stationlink_terminal: Callable[..., Any], dialect: str) -> None:
    term = stationlink_terminal(kind="card", dialect=dialect, transport="serial", seed=5)
    term.wait_ready()
    before = journal_state(term)
    chunks: list[tuple[str, bytes]] = []
    tap = Tap("pty", term.url, lambda d, b, _t: chunks.append((d, b)))
    stop = threading.Event()
    thread = threading.Thread(target=tap.run, args=(stop,))
    thread.start()
    try:
        read_only_session(tap.host_url)
    finally:
        stop.set()
        thread.join(10)
        tap.close()
    assert journal_state(term) == before
    tracer = Tracer(None, Transport.SERIAL, KEY)
    items = []
    for direction, data in chunks:
        items += tracer.feed(direction, datetime(2026, 3, 16, tzinfo=CST), data)
    items += tracer.finish(datetime(2026, 3, 16, tzinfo=CST))
    requests = [i.message.header.msg_type.name for i in items  # type: ignore[union-attr]
                if i.kind == "frame" and i.direction == "h2t" and not i.retransmit]
    # the client probes sl-2 first: on a mispos-1 line that probe is garbage, not a request
    assert requests == READ_ONLY
    answers = [i for i in items if i.kind == "frame" and i.direction == "t2h"]
    assert len({i.raw for i in answers}) == len(READ_ONLY)
    assert tracer.dialect is not None
    assert tracer.dialect.value == dialect


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_tcp_tap_through_the_cli(stationlink_terminal: Callable[..., Any],
                                 stop_signal: signal.Signals) -> None:
    term = stationlink_terminal(kind="bill", dialect="sl-2", transport="tcp", seed=6)
    term.wait_ready()
    before = journal_state(term)
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "stationlink", "monitor", "--json", "--tap",
         "tcp://127.0.0.1:0", term.url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ,
                                                             "STATIONLINK_CARD_KEY": KEY.hex()},
    )
    try:
        assert proc.stderr is not None
        ready = proc.stderr.readline().decode()
        match = re.search(r"tcp://127\.0\.0\.1:\d+", ready)
        assert match, ready
        read_only_session(match.group(0))
    finally:
        proc.send_signal(stop_signal)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err.decode()
    items = [json.loads(line) for line in out.decode().splitlines()]
    requests = [i["message"]["header"]["msg_type"] for i in items
                if i["kind"] == "frame" and i["direction"] == "h2t"]
    assert requests == READ_ONLY
    assert [i["event"] for i in items if i["kind"] == "event"][:1] == ["open"]
    assert journal_state(term) == before


@pytest.mark.slow
def test_a_payment_through_the_tap_is_shown_in_yuan(stationlink_terminal: Callable[..., Any],
                                                     tmp_path: Any) -> None:
    term = stationlink_terminal(kind="bill", dialect="mispos-1", transport="serial", seed=7)
    term.wait_ready()
    lines: list[str] = []
    from stationlink.monitor.render import Renderer

    tracer = Tracer(None, Transport.SERIAL, KEY)
    renderer = Renderer(width=80)
    when = datetime(2026, 3, 16, 9, tzinfo=CST)

    def show(direction: str, data: bytes, _t: float) -> None:
        for item in tracer.feed(direction, when, data):
            lines.extend(renderer.lines(item))

    tap = Tap("pty", term.url, show)
    stop = threading.Event()
    thread = threading.Thread(target=tap.run, args=(stop,))
    thread.start()
    try:
        with stationlink.connect(tap.host_url, card_key=KEY, t1=0.5) as client:
            result = client.pay_bill("mobile", "13800138000", amount_fen=12345)
    finally:
        stop.set()
        thread.join(10)
        tap.close()
    text = "\n".join(lines)
    assert "BILL_PAYMENT " in text
    assert "amount=123.45元" in text
    assert f"client_ref={result.client_ref}" in text
    assert len(term.device.journal) == 1  # the client's one payment, nothing else
