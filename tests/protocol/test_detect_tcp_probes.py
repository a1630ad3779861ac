"""Dialect detection over TCP against a mispos-1 terminal: the probes must never share a
byte stream (sans-I/O; the real-socket runs are in tests/transport).

A mispos-1 TCP deframer slides byte by byte over an sl-2 probe it cannot frame. The probe's
BCD time can hold ASCII digits (minute/second 30..39 are bytes 0x30..0x39): a second of 31
followed by the "002" of the next probe's "0021" prefix reads as a length of 1002, and the
terminal then waits for 1002 bytes, swallowing the mispos-1 probe.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from protocol_helpers import CST, KEY, FakeClock, answer_or_wait

from stationlink.protocol._detect import DialectDetector
from stationlink.protocol._framing import Transport
from stationlink.protocol._terminal import TerminalConnection
from stationlink.protocol.events import LinkFault, RequestReceived
from stationlink.protocol.messages import Dialect, IdentifyRequest, IdentifyResponse

# the BCD time bytes that are ASCII digits: minutes and seconds 30..39 (0x30..0x39), and
# second 31 at every minute (its "1" + the next prefix's "002" is the length 1002)
DIGIT_TIMES = sorted({(m, s) for m in range(30, 40) for s in range(30, 40)}
                     | {(m, 31) for m in range(60)} | {(0, 0), (9, 5), (59, 59)})


def terminal(clock: FakeClock, *, strict: bool = False) -> TerminalConnection:
    return TerminalConnection(Dialect.MISPOS_1, Transport.TCP, terminal_id="CARD0001",
                              card_key=KEY, clock=clock, close_on_garbage=strict)


def answer(term: TerminalConnection, events: list[object]) -> None:
    for ev in events:
        if isinstance(ev, RequestReceived):
            req = ev.message
            assert isinstance(req, IdentifyRequest)
            term.send_response(IdentifyResponse(
                req.header, "v", "m", "s", "f", Dialect.MISPOS_1, frozenset({"card"}),
                req.host_time))


def drive(detector: DialectDetector, clock: FakeClock, *, strict: bool = False) -> int:
    """Run detection against a mispos-1 TCP terminal; a new terminal-side connection for
    every host connection. Returns the number of TCP connections used."""
    term, connections = terminal(clock, strict=strict), 1
    for _ in range(50):
        out = detector.data_to_send()
        if detector.done:
            return connections
        if detector.needs_connection:
            term.connection_closed()
            term, connections = terminal(clock, strict=strict), connections + 1
            detector.connection_made()
            continue
        if out:
            answer(term, term.receive_data(out))
        answer_or_wait(detector, term, clock)
    raise AssertionError("detection did not finish")


def make(clock: FakeClock, when: datetime, first_seq: int, reconnect: bool) -> DialectDetector:
    return DialectDetector(Transport.TCP, card_key=KEY, clock=clock, host_time=lambda: when,
                           first_seq=first_seq, reconnect=reconnect)


def test_sl2_probe_bytes_can_hold_a_mispos1_length() -> None:
    """The hazard itself, on the exact probe bytes: one stream, second 31, the mispos-1 probe
    behind the sl-2 probe never reaches the terminal as a request."""
    clock = FakeClock()
    when = datetime(2026, 5, 1, 9, 12, 31, tzinfo=CST)
    detector = make(clock, when, 1, reconnect=False)
    sl2_probe = detector.data_to_send()
    clock.advance(1.0)
    detector.handle_timeout()
    mispos_probe = detector.data_to_send()
    assert mispos_probe[:4].isdigit()
    term = terminal(clock)
    events = term.receive_data(sl2_probe + mispos_probe)
    assert not any(isinstance(ev, RequestReceived) for ev in events)
    # a fresh connection carrying only the mispos-1 probe is understood
    fresh = terminal(clock)
    assert any(isinstance(ev, RequestReceived) for ev in fresh.receive_data(mispos_probe))


@pytest.mark.parametrize(("first_seq", "day"), [(1, 31), (0x31, 1), (0x3031, 30), (0x0931, 1)])
def test_fresh_connection_per_probe_detects_at_digit_times(first_seq: int, day: int) -> None:
    """Times whose BCD bytes are ASCII digits, and sequence numbers whose bytes are:
    detection answers in the first round, on the second connection."""
    failures = []
    for minute, second in DIGIT_TIMES:
        clock = FakeClock()
        when = datetime(2026, 5, day, 9, minute, second, tzinfo=CST)
        detector = make(clock, when, first_seq, reconnect=True)
        connections = drive(detector, clock)
        if detector.result is None or detector.result.dialect is not Dialect.MISPOS_1 or (
                detector.probes != 2 or connections != 2):
            failures.append((minute, second, detector.probes, str(detector.error)))
    assert failures == []


def test_one_stream_scheme_fails_at_some_seconds() -> None:
    """Why the fresh connection matters: on one stream a lenient terminal loses the
    mispos-1 probe at some times of day (here every second 31)."""
    lost = []
    for minute, second in DIGIT_TIMES:
        clock = FakeClock()
        detector = make(clock, datetime(2026, 5, 1, 9, minute, second, tzinfo=CST), 1, False)
        term = terminal(clock)
        for _ in range(50):
            if detector.done:
                break
            answer(term, term.receive_data(detector.data_to_send()))
            answer_or_wait(detector, term, clock)
        if detector.result is None or detector.probes != 2:
            lost.append((minute, second))
    assert {(m, 31) for m in range(60)} <= set(lost)


def test_strict_terminal_ignores_everything_after_bytes_that_do_not_frame() -> None:
    clock = FakeClock()
    detector = make(clock, datetime(2026, 5, 1, 9, 0, 0, tzinfo=CST), 1, reconnect=False)
    sl2_probe = detector.data_to_send()
    clock.advance(1.0)
    detector.handle_timeout()
    mispos_probe = detector.data_to_send()
    strict = terminal(clock, strict=True)
    events = strict.receive_data(sl2_probe + mispos_probe)
    assert strict.broken
    assert [type(ev) for ev in events] == [LinkFault]
    assert strict.receive_data(mispos_probe) == []
    assert strict.data_to_send() == b""
    lenient = terminal(clock)
    events = lenient.receive_data(sl2_probe + mispos_probe)
    assert lenient.broken  # reported, but it goes on
    assert any(isinstance(ev, RequestReceived) for ev in events)


def test_terminal_closing_the_connection_abandons_the_probe_at_once() -> None:
    clock = FakeClock()
    start = clock.now
    detector = make(clock, datetime(2026, 5, 1, 9, 0, 0, tzinfo=CST), 1, reconnect=True)
    assert detector.data_to_send()
    detector.connection_closed()  # e.g. a strict mispos-1 terminal hung up on the sl-2 probe
    assert detector.needs_connection
    assert detector.data_to_send() == b""
    assert detector.next_deadline() is None
    detector.connection_made()
    assert detector.data_to_send()[:4].isdigit()  # the mispos-1 probe, on the new stream
    assert clock.now == start
    assert "sl-2: closed" in detector.log[0]


def test_closed_stream_without_reconnect_ends_detection() -> None:
    clock = FakeClock()
    detector = make(clock, datetime(2026, 5, 1, 9, 0, 0, tzinfo=CST), 1, reconnect=False)
    detector.data_to_send()
    detector.connection_closed()
    assert detector.done
    assert detector.error is not None
    assert "connection closed during detection" in str(detector.error)


def test_reconnect_is_for_tcp_only() -> None:
    with pytest.raises(ValueError, match="TCP only"):
        DialectDetector(Transport.SERIAL, card_key=KEY, clock=FakeClock(),
                        host_time=lambda: datetime(2026, 5, 1, tzinfo=CST), reconnect=True)
