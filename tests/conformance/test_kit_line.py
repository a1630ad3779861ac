"""The kit settles the serial line between cases (:mod:`stationlink.conformance.line` and
:meth:`Wire.drain`): what a case left pending (a late ACK and the answer after it, a
retransmission) is read, ACKed and kept out of the next case for as long as the protocol's
timers allow it to come, and no longer. On a scripted stream with a simulated clock."""

from __future__ import annotations

import pytest

from stationlink.conformance.line import SLACK, Line
from stationlink.conformance.model import Exchange
from stationlink.conformance.wire import Wire
from stationlink.protocol import (
    ACK,
    NAK,
    T1_DEFAULT,
    T2_MONEY_DEFAULT,
    T2_OTHER_DEFAULT,
    Codec,
    Dialect,
    EchoRequest,
    EchoResponse,
    Header,
    MsgType,
    Transport,
    build_frame,
)

ECHO, WITHDRAWAL = int(MsgType.ECHO), int(MsgType.WITHDRAWAL)


def test_a_request_not_acked_keeps_the_line_busy_for_a_late_ack() -> None:
    line = Line()
    assert line.busy_until() == 0.0
    line.request_sent(ECHO, 7, 10.0)
    assert line.busy_until() == pytest.approx(10.0 + T2_OTHER_DEFAULT + SLACK)


@pytest.mark.parametrize(("msg_type", "t2"), [(ECHO, T2_OTHER_DEFAULT),
                                              (WITHDRAWAL, T2_MONEY_DEFAULT)])
def test_an_acked_request_is_answered_within_its_t2_of_the_ack(msg_type: int, t2: float
                                                              ) -> None:
    line = Line()
    line.request_sent(msg_type, 7, 10.0)
    line.device_ack(11.5)  # late: the answer's T2 runs from the ACK (§2.1)
    assert line.busy_until() == pytest.approx(11.5 + t2 + SLACK)


def test_an_answer_settles_its_request_and_a_copy_may_follow_until_acked() -> None:
    line = Line()
    line.request_sent(ECHO, 7, 10.0)
    line.device_ack(10.1)
    line.device_frame(7, 10.3, 0.02)
    assert line.requests == []
    assert line.busy_until() == pytest.approx(10.3 + T1_DEFAULT + 0.02 + SLACK)
    line.host_acked()
    assert line.busy_until() == 0.0


def test_a_nak_settles_the_request_it_refused() -> None:
    line = Line()
    line.request_sent(ECHO, 7, 10.0)
    line.device_nak()
    assert line.busy_until() == 0.0


def test_the_answer_to_a_later_request_settles_older_ones() -> None:
    """Stop-and-wait: a duplicate whose response was delivered is not answered again; the
    answer to the next request shows nothing more is owed for it."""
    line = Line()
    line.request_sent(WITHDRAWAL, 7, 10.0)
    line.device_ack(10.1)  # the duplicate, ACKed and (rightly) not answered
    line.request_sent(ECHO, 8, 10.5)
    line.device_ack(10.6)
    assert line.busy_until() == pytest.approx(10.1 + T2_MONEY_DEFAULT + SLACK)
    line.device_frame(8, 10.7, 0.0)
    line.host_acked()
    assert line.busy_until() == 0.0


def test_requests_past_their_timers_are_forgotten() -> None:
    line = Line()
    line.request_sent(ECHO, 7, 10.0)
    line.request_sent(ECHO, 8, 20.0)
    assert [r.seq for r in line.requests] == [8]


class Timed:
    """A serial ByteStream on a simulated clock: each chunk arrives at its time."""

    kind = Transport.SERIAL
    byte_time = 0.0
    description = "timed"

    def __init__(self, now: float, chunks: list[tuple[float, bytes]]) -> None:
        self.now = now
        self.chunks = list(chunks)
        self.written: list[tuple[float, bytes]] = []

    def clock(self) -> float:
        return self.now

    def read(self, timeout: float | None) -> bytes:
        wait = timeout or 0.0
        if self.chunks and self.chunks[0][0] <= self.now + wait:
            at, data = self.chunks.pop(0)
            self.now = max(self.now, at)
            return data
        self.now += wait
        return b""

    def write(self, data: bytes) -> None:
        self.written.append((self.now, data))

    def close(self) -> None:
        pass


def _answer(seq: int) -> bytes:
    body = Codec(Dialect.SL_2, bytes(32)).encode(
        EchoResponse(Header(MsgType.ECHO_RESP, seq, "SIM00001"), b"hello"))
    return build_frame(body, Dialect.SL_2, Transport.SERIAL)


def _wire(stream: Timed, line: Line, *, auto_ack: bool = True) -> tuple[Wire, list[Exchange]]:
    transcript: list[Exchange] = []
    w = Wire(stream, Dialect.SL_2, card_key=bytes(32), clock=stream.clock, t0=0.0,
             transcript=transcript, auto_ack=auto_ack, line=line)
    return w, transcript


def _echo_sent_at_zero(line: Line) -> None:
    """The previous case: an ECHO sent at 0.0, its ACK given up on after T1 (CF-ACK-TIMER)."""
    stream = Timed(0.0, [])
    w, _ = _wire(stream, line)
    w.send(w.frame(EchoRequest(w.header(MsgType.ECHO, 5), b"hello")), "ECHO seq 5")
    stream.now = T1_DEFAULT + SLACK


@pytest.mark.parametrize("auto_ack", [True, False])
def test_a_late_ack_and_its_answer_are_drained_and_acked(auto_ack: bool) -> None:
    line = Line()
    _echo_sent_at_zero(line)
    late = 1.5  # the device ACKs past T1 and answers at once
    stream = Timed(T1_DEFAULT + SLACK + 0.01, [(late, bytes((ACK,)) + _answer(5))])
    w, transcript = _wire(stream, line, auto_ack=auto_ack)  # e.g. CF-RETRANS: no auto ACK
    w.drain()
    assert [d for _, d in stream.written] == [bytes((ACK,))]  # the leftover ACKed
    assert w.seen == []  # and not counted for the new case
    assert w.auto_ack is auto_ack
    assert any("left over" in x.note for x in transcript)
    # settled as soon as the answer came and the line was quiet, not at the ACK's limit
    assert late + 0.2 <= stream.now < late + 0.5
    assert line.busy_until() == 0.0


def test_retransmissions_are_drained_until_the_host_acks() -> None:
    line = Line()
    line.device_frame(9, 0.0, 0.0)  # the previous case did not ACK an answer
    stream = Timed(0.3, [(1.0, _answer(9))])
    w, _ = _wire(stream, line, auto_ack=False)
    w.drain()
    assert [d for _, d in stream.written] == [bytes((ACK,))]
    assert w.seen == []
    assert 1.2 <= stream.now < 1.5


def test_a_settled_line_costs_only_the_quiet_time() -> None:
    stream = Timed(100.0, [])
    w, transcript = _wire(stream, Line())
    w.drain()
    assert stream.now == pytest.approx(100.2)
    assert stream.written == []
    assert transcript == []


def test_a_device_that_never_answers_is_waited_for_only_as_long_as_its_timers() -> None:
    line = Line()
    _echo_sent_at_zero(line)
    stream = Timed(T1_DEFAULT + SLACK, [])
    w, _ = _wire(stream, line)
    w.drain()
    assert T2_OTHER_DEFAULT + SLACK <= stream.now <= T2_OTHER_DEFAULT + SLACK + 0.5


def test_a_nak_received_settles_the_request() -> None:
    line = Line()
    _echo_sent_at_zero(line)
    stream = Timed(T1_DEFAULT + SLACK, [(1.3, bytes((NAK,)))])
    w, _ = _wire(stream, line)
    w.drain()
    assert stream.now < 2.0
