"""HostConnection: matching by seq, T2, late responses, heartbeats, failures."""

from __future__ import annotations

import dataclasses

import pytest
from protocol_helpers import KEY, FakeClock, paid, payment

from stationlink.errors import LinkError, LinkFailedError
from stationlink.protocol._codec import Codec
from stationlink.protocol._connection import HostConnection
from stationlink.protocol._framing import ACK, Transport, build_frame
from stationlink.protocol._terminal import TerminalConnection
from stationlink.protocol.events import (
    FailureReason,
    LateResponse,
    LinkFault,
    PeerDead,
    RequestFailed,
    RequestReceived,
    ResponseReceived,
    UnexpectedMessage,
)
from stationlink.protocol.messages import (
    BillPaymentRequest,
    DeviceStatusRequest,
    Dialect,
    EchoRequest,
    EchoResponse,
    Header,
    MsgType,
)


def pair(transport: Transport, dialect: Dialect = Dialect.SL_2, **kw: object
         ) -> tuple[FakeClock, HostConnection, TerminalConnection]:
    clock = FakeClock()
    host = HostConnection(dialect, transport, card_key=KEY, clock=clock, first_seq=10,
                          **kw)  # type: ignore[arg-type]
    term = TerminalConnection(dialect, transport, terminal_id="T0000001", card_key=KEY,
                              clock=clock)
    return clock, host, term


@pytest.mark.parametrize("transport", list(Transport))
def test_request_response_roundtrip(transport: Transport) -> None:
    clock, host, term = pair(transport)
    seq = host.send_request(payment())
    assert seq == 10
    [received] = term.receive_data(host.data_to_send())
    assert isinstance(received, RequestReceived)
    req = received.message
    assert isinstance(req, BillPaymentRequest)
    assert req.header.seq == seq
    host.receive_data(term.data_to_send())  # the ACK on serial
    term.send_response(paid(req))
    [answer] = host.receive_data(term.data_to_send())
    assert isinstance(answer, ResponseReceived)
    assert answer.seq == seq
    assert answer.response.header.seq == seq
    assert host.outstanding == ()


def test_serial_t2_starts_at_ack_and_money_uses_10s() -> None:
    clock, host, term = pair(Transport.SERIAL)
    host.send_request(payment())
    term.receive_data(host.data_to_send())
    assert host.next_deadline() == pytest.approx(clock.now + 1.0)  # T1 only
    clock.advance(0.2)
    host.receive_data(term.data_to_send())
    assert host.next_deadline() == pytest.approx(clock.now + 10.0)
    clock.advance(10.0)
    [failed] = host.handle_timeout()
    assert isinstance(failed, RequestFailed)
    assert failed.reason is FailureReason.TIMEOUT


def test_non_money_request_t2_is_3s_on_tcp() -> None:
    clock, host, _ = pair(Transport.TCP, heartbeat_interval=None)
    host.send_request(DeviceStatusRequest(Header(MsgType.DEVICE_STATUS, 0, "00000000")))
    assert host.next_deadline() == pytest.approx(clock.now + 3.0)


def test_serial_link_failure_after_retransmissions() -> None:
    clock, host, _ = pair(Transport.SERIAL)
    seq = host.send_request(payment())
    frames = [host.data_to_send()]
    events: list[object] = []
    while not events:
        deadline = host.next_deadline()
        assert deadline is not None
        clock.now = deadline
        events = list(host.handle_timeout())
        frames.append(host.data_to_send())
    [failed] = events
    assert isinstance(failed, RequestFailed)
    assert failed.seq == seq
    assert failed.reason is FailureReason.LINK
    assert len([f for f in frames if f]) == 4  # 1 + 3 retransmissions


def test_late_response_is_never_matched_to_another_request() -> None:
    clock, host, term = pair(Transport.TCP, heartbeat_interval=None)
    first = host.send_request(payment("00000000000000a1"))
    [ev] = term.receive_data(host.data_to_send())
    assert isinstance(ev, RequestReceived)
    clock.advance(10.0)
    [timed_out] = host.handle_timeout()
    assert isinstance(timed_out, RequestFailed)
    second = host.send_request(payment("00000000000000a2"))
    assert second != first
    term.receive_data(host.data_to_send())
    term.send_response(paid(ev.message))  # type: ignore[arg-type]
    [late] = host.receive_data(term.data_to_send())
    assert isinstance(late, LateResponse)
    assert late.why == "expired"
    assert late.response.header.seq == first
    assert host.outstanding == (second,)


def test_wrong_response_type_for_seq_is_not_matched() -> None:
    _, host, term = pair(Transport.TCP, heartbeat_interval=None)
    seq = host.send_request(payment())
    term.receive_data(host.data_to_send())
    echo = EchoResponse(Header(MsgType.ECHO_RESP, seq, "T0000001"), b"x")
    term.send_response(echo, unsolicited=True)
    [ev] = host.receive_data(term.data_to_send())
    assert isinstance(ev, UnexpectedMessage)
    assert host.outstanding == (seq,)


def test_undecodable_response_fails_its_request() -> None:
    _, host, _ = pair(Transport.TCP, heartbeat_interval=None)
    seq = host.send_request(payment())
    bad = bytes([0x91]) + seq.to_bytes(2, "big") + b"T0000001" + b"\xdf\x20\x05garbage"
    [ev] = host.receive_data(build_frame(bad, Dialect.SL_2, Transport.TCP))
    assert isinstance(ev, RequestFailed)
    assert ev.reason is FailureReason.BAD_RESPONSE


def test_serial_allows_one_outstanding_request() -> None:
    _, host, _ = pair(Transport.SERIAL)
    host.send_request(payment())
    with pytest.raises(LinkError):
        host.send_request(payment())


def test_tcp_pipelines_and_matches_out_of_order() -> None:
    _, host, term = pair(Transport.TCP, heartbeat_interval=None)
    s1 = host.send_request(payment("00000000000000b1"))
    s2 = host.send_request(payment("00000000000000b2"))
    reqs = [ev.message for ev in term.receive_data(host.data_to_send())
            if isinstance(ev, RequestReceived)]
    for req in reversed(reqs):
        term.send_response(paid(req))  # type: ignore[arg-type]
    events = host.receive_data(term.data_to_send())
    assert [(ev.seq, ev.request.client_ref) for ev in events  # type: ignore[union-attr]
            ] == [(s2, "00000000000000b2"), (s1, "00000000000000b1")]


def test_heartbeat_answered_keeps_peer_alive() -> None:
    clock, host, term = pair(Transport.TCP)
    for _ in range(4):
        deadline = host.next_deadline()
        assert deadline == pytest.approx(clock.now + 15.0)
        clock.now = deadline
        assert host.handle_timeout() == []
        echo = host.data_to_send()
        assert echo
        assert term.receive_data(echo) == []  # auto-answered
        assert host.receive_data(term.data_to_send()) == []
    assert not host.dead


def test_two_missed_heartbeats_mean_peer_dead() -> None:
    clock, host, _ = pair(Transport.TCP)
    host.send_request(payment(), timeout=100.0)
    events: list[object] = []
    for _ in range(3):
        clock.now = host.next_deadline()  # type: ignore[assignment]
        events += host.handle_timeout()
        host.data_to_send()
    assert events[0] == PeerDead(2)
    assert isinstance(events[1], RequestFailed)
    assert events[1].reason is FailureReason.PEER_DEAD
    assert clock.now == pytest.approx(100.0 + 45.0)
    with pytest.raises(LinkFailedError):
        host.send_request(payment())


def test_tcp_garbage_breaks_the_connection() -> None:
    _, host, _ = pair(Transport.TCP, heartbeat_interval=None)
    host.send_request(payment())
    frame = build_frame(b"x" * 11, Dialect.SL_2, Transport.TCP)
    events = host.receive_data(b"\xff\xff\xff" + frame)
    assert isinstance(events[0], LinkFault)
    assert isinstance(events[1], RequestFailed)
    assert events[1].reason is FailureReason.LINK
    assert host.broken


def test_closed_connection_fails_pending() -> None:
    _, host, _ = pair(Transport.SERIAL)
    host.send_request(payment())
    host.data_to_send()
    events = host.connection_closed()
    assert any(isinstance(e, RequestFailed) and e.reason is FailureReason.CLOSED
               for e in events)


def test_identify_response_names_the_terminal() -> None:
    from datetime import datetime

    from protocol_helpers import CST

    from stationlink.protocol.messages import IdentifyRequest, IdentifyResponse

    _, host, term = pair(Transport.TCP, heartbeat_interval=None)
    host.send_request(IdentifyRequest(Header(MsgType.IDENTIFY, 0, ""),
                                      datetime(2026, 10, 5, 9, 0, tzinfo=CST)))
    [ev] = term.receive_data(host.data_to_send())
    req = ev.message  # type: ignore[union-attr]
    term.send_response(IdentifyResponse(req.header, "v", "m", "s", "f", Dialect.SL_2,
                                        frozenset(), datetime(2026, 10, 5, 9, 0, tzinfo=CST)))
    host.receive_data(term.data_to_send())
    assert host.terminal_id == "T0000001"
    host.send_request(EchoRequest(Header(MsgType.ECHO, 0, ""), b"1"))
    body = Codec(Dialect.SL_2, KEY).decode(host.data_to_send()[2:])
    assert body.header.terminal_id == "T0000001"
    assert dataclasses.is_dataclass(body)


def test_serial_ack_after_response_keeps_state_clean() -> None:
    clock, host, term = pair(Transport.SERIAL)
    host.send_request(payment())
    [ev] = term.receive_data(host.data_to_send())
    # the ACK is lost; the response arrives anyway and proves delivery
    term.data_to_send()
    term.send_response(paid(ev.message))  # type: ignore[arg-type]
    [answer] = host.receive_data(term.data_to_send())
    assert isinstance(answer, ResponseReceived)
    assert host.data_to_send() == bytes([ACK])
    assert host.link.pending_tags() == ()
