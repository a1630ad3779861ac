"""The probe's confidence and politeness on a scripted byte stream (unit tests; the real
ptys and sockets are in test_diag_faults.py)."""

from __future__ import annotations

from datetime import datetime

from stationlink.clock import ManualClock
from stationlink.diag.probe import USUAL_BAUDS, plan
from stationlink.diag.probe import _probe as probe
from stationlink.money import CST
from stationlink.protocol import NAK, Dialect, Transport
from stationlink.transport.url import parse_url

T0 = datetime(2026, 3, 16, 9, 0, tzinfo=CST)


class Scripted:
    """A serial ByteStream: answers each write with ``reply`` and lets time pass on reads."""

    kind = Transport.SERIAL
    byte_time = 10 / 9600
    description = "scripted"

    def __init__(self, clock: ManualClock, reply: bytes) -> None:
        self.clock = clock
        self.reply = reply
        self.pending = b""
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)
        self.pending += self.reply

    def read(self, timeout: float | None) -> bytes:
        data, self.pending = self.pending, b""
        if not data:
            self.clock.advance(timeout or 0.1)
        return data

    def close(self) -> None:
        pass


def run(reply: bytes) -> tuple[str, Scripted]:
    clock = ManualClock(T0)
    stream = Scripted(clock, reply)
    result, _ = probe(stream, Dialect.SL_2, card_key=b"k" * 16, clock=clock.monotonic,
                      host_time=clock.now, t1=1.0, probe_timeout=3.0, seq=9)
    return result, stream


def test_a_nak_proves_the_framing_but_not_the_terminal_so_likely() -> None:
    result, stream = run(bytes([NAK]))
    assert result == "likely"
    assert len(stream.written) == 1  # one frame, never sent again


def test_silence_is_none_after_one_frame() -> None:
    result, stream = run(b"")
    assert result == "none"
    assert len(stream.written) == 1


def test_noise_without_frame_shape_is_none() -> None:
    result, _ = run(bytes([0x55, 0xAA, 0x13]) * 5)
    assert result == "none"


def test_the_plan_tries_the_given_pair_first_then_every_usual_one_once() -> None:
    serial = parse_url("serial:///dev/ttyUSB0")
    pairs = plan(serial, 38400, Dialect.MISPOS_1)
    assert pairs[:2] == [(38400, Dialect.MISPOS_1), (38400, Dialect.SL_2)]
    assert len(pairs) == len(set(pairs)) == 2 * len(USUAL_BAUDS)
    assert plan(parse_url("tcp://127.0.0.1:9"), None, None) == [
        (None, Dialect.SL_2), (None, Dialect.MISPOS_1)]


def test_a_likely_find_is_a_warning_and_a_wrong_given_rate_a_failure() -> None:
    from stationlink.diag.engine import _connection
    from stationlink.diag.model import Check, Status
    from stationlink.diag.probe import Attempt, Found, Search

    at = parse_url("serial:///dev/ttyUSB0?baud=19200")
    search = Search(Found(at, Dialect.MISPOS_1, "likely", None),
                    [Attempt(9600, Dialect.SL_2, "none", 1.0),
                     Attempt(19200, Dialect.MISPOS_1, "likely", 1.0)])
    check = Check("connection")
    _connection(check, search, 9600, None, "en")
    assert [(f.id, f.status) for f in check.findings] == [
        ("connection.likely", Status.WARNING), ("connection.baud_mismatch", Status.FAIL)]
    assert check.measurements["confidence"] == "likely"
