"""Link layer on serial: ACK/NAK, T1 retransmission, garbage, resynchronisation."""

from __future__ import annotations

import pytest
from protocol_helpers import FakeClock

from stationlink.protocol._framing import ACK, NAK, Transport, build_frame
from stationlink.protocol._link import (
    BodyDelivered,
    BodyFailed,
    BodyReceived,
    Link,
)
from stationlink.protocol.events import LinkFault
from stationlink.protocol.messages import Dialect

BODY = bytes(range(11, 40))


@pytest.fixture(params=list(Dialect))
def dialect(request: pytest.FixtureRequest) -> Dialect:
    return Dialect(request.param)


def make(dialect: Dialect, clock: FakeClock, **kw: object) -> Link:
    return Link(dialect, Transport.SERIAL, clock, **kw)  # type: ignore[arg-type]


def test_good_frame_is_acked_and_delivered(dialect: Dialect) -> None:
    clock = FakeClock()
    a, b = make(dialect, clock), make(dialect, clock)
    a.send_body(BODY, tag=7)
    frame = a.data_to_send()
    assert frame == build_frame(BODY, dialect, Transport.SERIAL)
    events = b.receive_data(frame)
    assert events == [BodyReceived(0, BODY)]
    assert b.data_to_send() == bytes([ACK])
    assert a.receive_data(bytes([ACK])) == [BodyDelivered(7)]
    assert a.next_deadline() is None


def test_byte_by_byte_with_garbage_between_frames(dialect: Dialect) -> None:
    clock = FakeClock()
    rx = make(dialect, clock)
    f1 = build_frame(BODY, dialect, Transport.SERIAL)
    f2 = build_frame(BODY[::-1], dialect, Transport.SERIAL)
    stream = b"\xff\x00zz" + f1 + b"\x07junk" + f2
    events = [ev for byte in stream for ev in rx.receive_data(bytes([byte]))]
    received = [ev.body for ev in events if isinstance(ev, BodyReceived)]
    assert received == [BODY, BODY[::-1]]
    assert any(isinstance(ev, LinkFault) for ev in events)
    assert rx.data_to_send() == bytes([ACK, ACK])  # garbage is not NAKed


def test_bad_checksum_is_naked_and_sender_retransmits(dialect: Dialect) -> None:
    clock = FakeClock()
    a, b = make(dialect, clock), make(dialect, clock)
    a.send_body(BODY, tag=1)
    frame = bytearray(a.data_to_send())
    frame[-1] ^= 0x55
    events = b.receive_data(bytes(frame))
    assert [type(ev) for ev in events] == [LinkFault]
    assert isinstance(events[0], LinkFault)
    assert events[0].nak_sent
    nak = b.data_to_send()
    assert nak == bytes([NAK])
    assert a.receive_data(nak) == []
    again = a.data_to_send()
    assert again == build_frame(BODY, dialect, Transport.SERIAL)
    assert b.receive_data(again) == [BodyReceived(len(frame), BODY)]
    assert a.receive_data(b.data_to_send()) == [BodyDelivered(1)]
    assert a.stats["retransmissions"] == 1


def test_three_retransmissions_then_failure(dialect: Dialect) -> None:
    clock = FakeClock()
    a = make(dialect, clock, t1=1.0)
    a.send_body(BODY, tag=3)
    a.send_body(BODY[:20], tag=4)
    sent = [a.data_to_send()]
    failures: list[object] = []
    while not failures:
        deadline = a.next_deadline()
        assert deadline is not None
        assert deadline == pytest.approx(clock.now + 1.0)
        clock.now = deadline - 0.001
        assert a.handle_timeout() == []
        clock.now = deadline
        failures = list(a.handle_timeout())
        sent.append(a.data_to_send())
    assert failures == [BodyFailed(3, 4, "no ACK within T1 (1 s)")]
    first = build_frame(BODY, dialect, Transport.SERIAL)
    assert sent[:4] == [first] * 4
    # the next queued frame goes out once the first has failed
    assert sent[4] == build_frame(BODY[:20], dialect, Transport.SERIAL)


def test_naks_exhaust_retransmissions(dialect: Dialect) -> None:
    clock = FakeClock()
    a = make(dialect, clock, max_retransmits=2)
    a.send_body(BODY, tag=9)
    events: list[object] = []
    for _ in range(3):
        assert a.data_to_send()
        events += a.receive_data(bytes([NAK]))
    assert events == [BodyFailed(9, 3, "NAK")]


def test_t1_includes_wire_time_of_the_frame(dialect: Dialect) -> None:
    clock = FakeClock()
    a = make(dialect, clock, byte_time=10 / 9600)
    a.send_body(BODY, tag=1)
    frame = a.data_to_send()
    assert a.next_deadline() == pytest.approx(clock.now + 1.0 + len(frame) * 10 / 9600)


def test_stray_ack_is_ignored_and_counted(dialect: Dialect) -> None:
    clock = FakeClock()
    a = make(dialect, clock)
    assert a.receive_data(bytes([ACK, NAK])) == []
    assert a.stats["stray_link_bytes"] == 2


def test_false_stx_is_given_up_after_idle(dialect: Dialect) -> None:
    """An STX announcing a long frame holds back a good frame until the line is idle."""
    clock = FakeClock()
    rx = make(dialect, clock, rx_idle=0.5)
    false_start = b"\x02\x05\x00" if dialect is Dialect.MISPOS_1 else b"\x02\x01\x00"
    good = build_frame(BODY, dialect, Transport.SERIAL)
    assert [e for e in rx.receive_data(false_start + good) if isinstance(e, BodyReceived)] == []
    deadline = rx.next_deadline()
    assert deadline == pytest.approx(clock.now + 0.5)
    clock.now = deadline
    events = rx.handle_timeout()
    assert [e.body for e in events if isinstance(e, BodyReceived)] == [BODY]


def test_close_fails_unsent_and_reports_partial(dialect: Dialect) -> None:
    clock = FakeClock()
    a = make(dialect, clock)
    a.send_body(BODY, tag=5)
    a.data_to_send()
    events = a.receive_data(b"\x02\x00")
    events += a.close()
    assert BodyFailed(5, 1, "link closed") in events
    assert any(isinstance(e, LinkFault) for e in events)


def test_tcp_has_no_acks(dialect: Dialect) -> None:
    clock = FakeClock()
    a = Link(dialect, Transport.TCP, clock)
    b = Link(dialect, Transport.TCP, clock)
    a.send_body(BODY, tag=1)
    assert b.receive_data(a.data_to_send()) == [BodyReceived(0, BODY)]
    assert b.data_to_send() == b""
    assert a.next_deadline() is None
