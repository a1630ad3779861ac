"""Dialect detection (sans-I/O) against terminals of either dialect, serial and TCP."""

from __future__ import annotations

from datetime import datetime

import pytest
from protocol_helpers import CST, KEY, FakeClock, answer_or_wait

from stationlink.errors import LinkFailedError
from stationlink.protocol._detect import DialectDetector
from stationlink.protocol._framing import Transport
from stationlink.protocol._terminal import TerminalConnection
from stationlink.protocol.events import RequestReceived
from stationlink.protocol.messages import (
    Dialect,
    ErrorCode,
    IdentifyRequest,
    IdentifyResponse,
)

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=CST)


def run(detector: DialectDetector, term: TerminalConnection | None, clock: FakeClock,
        *, states: Dialect | None = None, refuse: bool = False) -> None:
    for _ in range(100):
        out = detector.data_to_send()
        if detector.done:
            return
        if term is not None and out:
            for ev in term.receive_data(out):
                if isinstance(ev, RequestReceived):
                    req = ev.message
                    assert isinstance(req, IdentifyRequest)
                    if refuse:
                        term.send_error(req.header.seq, ErrorCode.BUSY)
                        continue
                    term.send_response(IdentifyResponse(
                        req.header, "v", "m", "s", "f", states or term.dialect,
                        frozenset({"bill"}), NOW))
        answer_or_wait(detector, term, clock)
    raise AssertionError("detection did not finish")


def make(transport: Transport, clock: FakeClock) -> DialectDetector:
    return DialectDetector(transport, card_key=KEY, clock=clock, host_time=lambda: NOW)


@pytest.mark.parametrize("transport", list(Transport))
@pytest.mark.parametrize("dialect", list(Dialect))
def test_detects_the_terminal_dialect(transport: Transport, dialect: Dialect) -> None:
    clock = FakeClock()
    start = clock.now
    # one stream for both probes: a TCP terminal that slides over the sl-2 probe (pre-rule
    # firmware; a strict one closes instead: tests/protocol/test_detect_tcp_probes.py)
    term = TerminalConnection(dialect, transport, terminal_id="T0000042", card_key=KEY,
                              clock=clock, close_on_garbage=False)
    detector = make(transport, clock)
    run(detector, term, clock)
    assert detector.error is None
    assert detector.result is not None
    assert detector.result.dialect is dialect
    assert detector.result.identify is not None
    assert detector.result.connection.terminal_id == "T0000042"
    if dialect is Dialect.SL_2:
        assert detector.probes == 1
        assert clock.now == start
    else:
        assert detector.probes == 2
        assert clock.now - start == pytest.approx(1.0, abs=0.01)  # one T1 on either transport


def test_silent_line_fails_after_two_rounds() -> None:
    clock = FakeClock()
    detector = make(Transport.SERIAL, clock)
    run(detector, None, clock)
    assert isinstance(detector.error, LinkFailedError)
    assert detector.probes == 4
    assert "sl-2" in str(detector.error)
    assert "mispos-1" in str(detector.error)


def test_contradicting_identify_is_a_protocol_error() -> None:
    clock = FakeClock()
    term = TerminalConnection(Dialect.SL_2, Transport.SERIAL, terminal_id="T0000042",
                              card_key=KEY, clock=clock)
    detector = make(Transport.SERIAL, clock)
    run(detector, term, clock, states=Dialect.MISPOS_1)
    assert detector.error is not None
    assert "states dialect mispos-1" in str(detector.error)


def test_error_reply_still_proves_the_framing() -> None:
    clock = FakeClock()
    term = TerminalConnection(Dialect.MISPOS_1, Transport.TCP, terminal_id="T0000042",
                              card_key=KEY, clock=clock, close_on_garbage=False)  # one stream
    detector = make(Transport.TCP, clock)
    run(detector, term, clock, refuse=True)
    assert detector.result is not None
    assert detector.result.dialect is Dialect.MISPOS_1
    assert detector.result.identify is None


# A host time whose BCD bytes (or whose probe's check bytes) hold 0x02: a mispos-1 terminal
# takes it for a start byte and a length, and holds what follows until its line has been
# idle for 0.5 s. A host with T1 = 0.3 s used to send the next probe into that hold, so every
# probe was swallowed (seen in CI: a capture test failed on about 2% of the day's seconds).
@pytest.mark.parametrize("at", [(0, 0, 2), (0, 2, 6), (0, 6, 25)])
def test_a_short_t1_host_finds_a_mispos1_terminal_whatever_the_time(
        at: tuple[int, int, int]) -> None:
    clock = FakeClock()
    host_time = datetime(2026, 12, 5, *at, tzinfo=CST)
    term = TerminalConnection(Dialect.MISPOS_1, Transport.SERIAL, terminal_id="T0000042",
                              card_key=KEY, clock=clock)
    detector = DialectDetector(Transport.SERIAL, card_key=KEY, clock=clock,
                               host_time=lambda: host_time, first_seq=1, t1=0.3)
    identifies = 0
    for _ in range(200):
        out = detector.data_to_send()
        if detector.done:
            break
        for ev in term.receive_data(out) if out else []:
            if isinstance(ev, RequestReceived):
                req = ev.message
                assert isinstance(req, IdentifyRequest)
                identifies += 1
                term.send_response(IdentifyResponse(
                    req.header, "v", "m", "s", "f", term.dialect, frozenset({"card"}),
                    host_time))
        back = term.data_to_send()
        if back:
            detector.receive_data(back)
            continue
        deadlines = [d for d in (detector.next_deadline(), term.next_deadline())
                     if d is not None]
        assert deadlines
        clock.now = max(clock.now, min(deadlines))
        if term.next_deadline() is not None and term.next_deadline() <= clock.now:
            term.handle_timeout()
        if detector.next_deadline() is not None and detector.next_deadline() <= clock.now:
            detector.handle_timeout()
    assert detector.error is None, detector.error
    assert detector.result is not None
    assert detector.result.dialect is Dialect.MISPOS_1
    assert identifies == 1
