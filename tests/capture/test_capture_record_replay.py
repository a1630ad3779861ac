"""Recording through real ptys and TCP sockets, and replaying against the real client."""

from __future__ import annotations

import datetime as dt
import random
import socket
import time
from pathlib import Path

import pytest
from capture_helpers import KEY

import stationlink
from stationlink.capture import read_capture
from stationlink.money import CST
from stationlink.protocol import ClearPan
from stationlink_sim.capture.hostplay import replay_host, run_host
from stationlink_sim.capture.recorder import Recorder
from stationlink_sim.capture.replayer import Replayer
from stationlink_sim.customers import CardQueue, make_test_pan
from stationlink_sim.serve import serve_terminal

TIMERS = {"t1": 0.3, "t2_money": 1.0, "t2_other": 1.0}
# the recorded host's clock, not the wall clock: its BCD time is in the probes' bytes, and
# 00:00:02 has the 0x02 a mispos-1 terminal once took for a start byte (dialect detection)
HOST_TIME = dt.datetime(2026, 12, 5, 0, 0, 2, tzinfo=CST)
OPS = [{"op": "connect"}, {"op": "withdraw", "amount_fen": 20000}, {"op": "balance"},
       {"op": "device_status"}, {"op": "journal"}, {"op": "close"}]


def _record(tmp_path: Path, dialect: str, transport: str, pans: list[ClearPan],
            ops: list[dict[str, object]] = OPS) -> tuple[Path, list[dict[str, object]]]:
    cards = CardQueue()
    for pan in pans:
        cards.put(pan)
    tcp = transport == "tcp"
    out = tmp_path / f"{dialect}-{transport}.jsonl"
    with serve_terminal("card", dialect, pty=not tcp, seed=5, card_key=KEY,
                        card_source=cards) as terminal:
        recorder = Recorder("tcp://127.0.0.1:0" if tcp else "pty", terminal.url, out)
        recorder.start()
        try:
            observed = run_host(recorder.host_url, ops, card_key=KEY, seed=1, timers=TIMERS,
                                host_time=lambda: HOST_TIME)
        finally:
            time.sleep(0.05)
            recorder.stop()
    return out, observed


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["serial", "tcp"])
def test_mispos1_recording_holds_no_original_card_number(
    tmp_path: Path, transport: str
) -> None:
    pans = [make_test_pan(random.Random(n)) for n in (11, 12)]
    path, observed = _record(tmp_path, "mispos-1", transport, pans)
    text = path.read_text(encoding="utf-8")
    for pan in pans:
        digits = pan.reveal()
        assert digits not in text
        assert bytes.fromhex(digits + "f").hex() not in text
        assert bytes.fromhex(digits + "f")[:5].hex() not in text
    cap = read_capture(path)
    assert cap.header.dialect is not None
    assert cap.header.dialect.value == "mispos-1"
    assert cap.trailer is not None
    assert cap.trailer.cards_redacted >= 2
    # the host saw the real cards: the masked numbers match what the capture replays
    assert observed[1]["card"] == pans[0].masked


@pytest.mark.slow
@pytest.mark.parametrize("dialect", ["mispos-1", "sl-2"])
@pytest.mark.parametrize("transport", ["serial", "tcp"])
def test_fresh_capture_replays_without_divergence_for_another_host_seed(
    tmp_path: Path, dialect: str, transport: str
) -> None:
    pans = [make_test_pan(random.Random(n)) for n in (21, 22)]
    path, observed = _record(tmp_path, dialect, transport, pans)
    assert not [o for o in observed if "error" in o], observed  # the recorded host got through
    replayed, result = replay_host(Replayer(path, stall_timeout=5), OPS, card_key=KEY,
                                   seed=777, timers=TIMERS)
    assert result.ok, result.describe()
    assert replayed == observed
    assert result.steps_done == result.steps


@pytest.mark.slow
def test_host_that_pays_another_amount_diverges_at_the_right_line(tmp_path: Path) -> None:
    path, _ = _record(tmp_path, "sl-2", "tcp", [make_test_pan(random.Random(3))] * 2)
    ops = [dict(op) for op in OPS]
    ops[1]["amount_fen"] = 30000
    _, result = replay_host(Replayer(path, stall_timeout=2), ops, card_key=KEY, seed=4,
                            timers=TIMERS)
    assert not result.ok
    div = result.divergence
    assert div is not None
    assert div.reason == "WithdrawalRequest field amount_fen differs"
    assert div.expected["amount_fen"] == 20000
    assert div.actual["amount_fen"] == 30000
    cap = read_capture(path)
    line = next(c.line for c in cap.chunks
                if c.dir == "h2t" and c.event is None and c.data[2] == 0x20)
    assert div.line == line
    assert div.chunk == line - 1
    assert f"line {line} (chunk {line - 1})" in result.describe()


@pytest.mark.slow
def test_raw_host_sending_the_captured_bytes_matches_and_silence_is_a_stall(
    tmp_path: Path,
) -> None:
    path, _ = _record(tmp_path, "sl-2", "tcp", [make_test_pan(random.Random(4))] * 2)
    cap = read_capture(path)
    requests = [c.data for c in cap.chunks if c.dir == "h2t" and c.event is None]
    replayer = Replayer(cap, stall_timeout=0.5)
    replayer.start()
    try:
        host, port = replayer.url.removeprefix("tcp://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            for data in requests[:2]:
                sock.sendall(data)
                sock.recv(65536)
            result = replayer.result(5)  # the host stops after two requests
    finally:
        replayer.stop()
    assert not result.ok
    assert result.host_tokens == 2
    div = result.divergence
    assert div is not None
    assert div.reason.startswith("host silent for 0.5 s; the capture expects a ")
    assert div.offset == len(requests[0]) + len(requests[1])


def test_paced_replay_keeps_the_recorded_timing(tmp_path: Path) -> None:
    path, observed = _record(tmp_path, "sl-2", "serial", [make_test_pan(random.Random(6))] * 2)
    cap = read_capture(path)
    began = time.monotonic()
    replayed, result = replay_host(Replayer(cap, speed=1.0, stall_timeout=5), OPS,
                                   card_key=KEY, seed=8, timers=TIMERS)
    assert result.ok, result.describe()
    assert replayed == observed
    last_send = max(c.t for c in cap.chunks if c.dir == "t2h")
    first = min(c.t for c in cap.chunks)
    assert time.monotonic() - began >= last_send - first - 0.05


def test_transport_mismatch_is_a_config_error(tmp_path: Path) -> None:
    path, _ = _record(tmp_path, "sl-2", "tcp", [make_test_pan(random.Random(7))] * 2)
    with pytest.raises(stationlink.errors.ConfigError, match="recorded over TCP"):
        Replayer(path, against="pty")
