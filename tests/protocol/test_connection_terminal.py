"""TerminalConnection: duplicate suppression, automatic error replies, echo, replay."""

from __future__ import annotations

import pytest
from protocol_helpers import KEY, FakeClock, paid, payment

from stationlink.protocol._codec import Codec
from stationlink.protocol._framing import ACK, NAK, Transport, build_frame
from stationlink.protocol._terminal import TerminalConnection
from stationlink.protocol.events import (
    DuplicateRequest,
    RequestReceived,
    RequestRejected,
    ResponseDelivered,
    ResponseFailed,
)
from stationlink.protocol.messages import (
    BillPaymentRequest,
    Dialect,
    EchoRequest,
    ErrorCode,
    ErrorReply,
    Header,
    MsgType,
)


def terminal(transport: Transport, dialect: Dialect = Dialect.MISPOS_1, **kw: object
             ) -> tuple[FakeClock, TerminalConnection, Codec]:
    clock = FakeClock()
    term = TerminalConnection(dialect, transport, terminal_id="T0000001", card_key=KEY,
                              clock=clock, **kw)  # type: ignore[arg-type]
    return clock, term, Codec(dialect, KEY)


def request_frame(codec: Codec, transport: Transport, seq: int = 5,
                  ref: str = "00000000000000aa") -> bytes:
    req = payment(ref)
    req = BillPaymentRequest(Header(MsgType.BILL_PAYMENT, seq, "00000000"), req.client_ref,
                             req.product, req.account, req.amount_fen)
    return build_frame(codec.encode(req), codec.dialect, transport)


def decode_frames(codec: Codec, transport: Transport, data: bytes) -> list[object]:
    from stationlink.protocol._framing import Deframer, FrameEvent

    d = Deframer(codec.dialect, transport)
    return [codec.decode(ev.body) for ev in d.feed(data) if isinstance(ev, FrameEvent)]


def test_retransmitted_request_is_acked_again_but_processed_once() -> None:
    _, term, codec = terminal(Transport.SERIAL)
    frame = request_frame(codec, Transport.SERIAL)
    first = term.receive_data(frame)
    assert [type(e) for e in first] == [RequestReceived]
    assert term.data_to_send() == bytes([ACK])
    again = term.receive_data(frame)
    assert again == [DuplicateRequest(5, MsgType.BILL_PAYMENT, False)]
    assert term.data_to_send() == bytes([ACK])


def test_same_seq_different_body_is_a_new_request() -> None:
    _, term, codec = terminal(Transport.SERIAL)
    term.receive_data(request_frame(codec, Transport.SERIAL, ref="00000000000000aa"))
    events = term.receive_data(request_frame(codec, Transport.SERIAL, ref="00000000000000bb"))
    assert [type(e) for e in events] == [RequestReceived]


def test_tcp_duplicate_replays_the_stored_response() -> None:
    _, term, codec = terminal(Transport.TCP)
    frame = request_frame(codec, Transport.TCP)
    [ev] = term.receive_data(frame)
    assert isinstance(ev, RequestReceived)
    term.send_response(paid(ev.message))  # type: ignore[arg-type]
    response = term.data_to_send()
    assert term.receive_data(frame) == [DuplicateRequest(5, MsgType.BILL_PAYMENT, True)]
    assert term.data_to_send() == response


def test_serial_response_retransmitted_until_acked_then_delivered() -> None:
    clock, term, codec = terminal(Transport.SERIAL)
    [ev] = term.receive_data(request_frame(codec, Transport.SERIAL))
    term.data_to_send()
    term.send_response(paid(ev.message))  # type: ignore[arg-type]
    out = term.data_to_send()
    assert term.receive_data(bytes([NAK])) == []
    assert term.data_to_send() == out
    assert term.receive_data(bytes([ACK])) == [ResponseDelivered(5)]


def test_serial_response_failure_then_duplicate_replays() -> None:
    clock, term, codec = terminal(Transport.SERIAL)
    frame = request_frame(codec, Transport.SERIAL)
    [ev] = term.receive_data(frame)
    term.data_to_send()
    term.send_response(paid(ev.message))  # type: ignore[arg-type]
    out = term.data_to_send()
    events: list[object] = []
    while not events:
        clock.now = term.next_deadline()  # type: ignore[assignment]
        events = list(term.handle_timeout())
        term.data_to_send()
    assert isinstance(events[0], ResponseFailed)
    assert term.receive_data(frame) == [DuplicateRequest(5, MsgType.BILL_PAYMENT, True)]
    assert term.data_to_send() == bytes([ACK]) + out


@pytest.mark.parametrize("transport", list(Transport))
def test_undecodable_body_gets_malformed_error_reply(transport: Transport) -> None:
    _, term, codec = terminal(transport)
    body = bytes([0x11]) + (7).to_bytes(2, "big") + b"00000000" + b"\xdf\x18\x05ab"
    [ev] = term.receive_data(build_frame(body, codec.dialect, transport))
    assert isinstance(ev, RequestRejected)
    assert ev.code is ErrorCode.MALFORMED
    assert ev.seq == 7
    assert ev.replied
    [reply] = decode_frames(codec, transport, term.data_to_send())
    assert isinstance(reply, ErrorReply)
    assert reply.code is ErrorCode.MALFORMED
    assert reply.header.seq == 7
    assert reply.for_type == 0x11


def test_unknown_type_gets_unsupported_error_reply() -> None:
    _, term, codec = terminal(Transport.TCP)
    body = bytes([0x6E]) + (8).to_bytes(2, "big") + b"00000000"
    [ev] = term.receive_data(build_frame(body, codec.dialect, Transport.TCP))
    assert isinstance(ev, RequestRejected)
    assert ev.code is ErrorCode.UNSUPPORTED
    [reply] = decode_frames(codec, Transport.TCP, term.data_to_send())
    assert isinstance(reply, ErrorReply)
    assert reply.for_type == 0x6E
    assert reply.header.seq == 8


def test_unreadable_header_gets_no_reply() -> None:
    _, term, codec = terminal(Transport.TCP)
    body = bytes([0x11, 0, 9]) + b"\x00\x01\x02\x03\x04\x05\x06\x07"
    [ev] = term.receive_data(build_frame(body, codec.dialect, Transport.TCP))
    assert isinstance(ev, RequestRejected)
    assert not ev.replied
    assert ev.seq is None
    assert term.data_to_send() == b""


def test_type_outside_supported_is_refused() -> None:
    _, term, codec = terminal(Transport.TCP, supported={MsgType.IDENTIFY})
    [ev] = term.receive_data(request_frame(codec, Transport.TCP))
    assert isinstance(ev, RequestRejected)
    assert ev.code is ErrorCode.UNSUPPORTED
    [reply] = decode_frames(codec, Transport.TCP, term.data_to_send())
    assert isinstance(reply, ErrorReply)
    assert reply.code is ErrorCode.UNSUPPORTED


def test_echo_is_answered_automatically_or_passed_up() -> None:
    _, term, codec = terminal(Transport.TCP)
    echo = codec.encode(EchoRequest(Header(MsgType.ECHO, 3, "00000000"), b"hb"))
    assert term.receive_data(build_frame(echo, codec.dialect, Transport.TCP)) == []
    assert decode_frames(codec, Transport.TCP, term.data_to_send())[0].payload == b"hb"  # type: ignore[attr-defined]
    _, manual, _ = terminal(Transport.TCP, auto_echo=False)
    [ev] = manual.receive_data(build_frame(echo, codec.dialect, Transport.TCP))
    assert isinstance(ev, RequestReceived)


def test_send_response_needs_an_unanswered_request() -> None:
    _, term, codec = terminal(Transport.TCP)
    [ev] = term.receive_data(request_frame(codec, Transport.TCP))
    term.send_response(paid(ev.message))  # type: ignore[arg-type]
    assert term.unanswered == ()
    with pytest.raises(ValueError, match="no unanswered request"):
        term.send_response(paid(ev.message))  # type: ignore[arg-type]
