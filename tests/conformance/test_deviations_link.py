"""Link-level deviations on the wire (real ptys and TCP sockets): each shows its misbehaviour
and the default terminal does not (so each deviation is exactly one)."""

from __future__ import annotations

import pytest
from deviation_wire import HOST_TIME, RawHost

from stationlink.protocol import (
    ACK,
    NAK,
    STX,
    Codec,
    Dialect,
    EchoRequest,
    EchoResponse,
    Header,
    IdentifyRequest,
    IdentifyResponse,
    MsgType,
    Transport,
    build_frame,
    crc16_ccitt_false,
    peek_header,
)
from stationlink_sim.deviations import LATE_ACK_DELAY
from stationlink_sim.serve import serve_terminal


def _echo_payload() -> bytes:
    """A payload whose ECHO_RESP CRC has two different bytes (so a swap is visible)."""
    for i in range(256):
        payload = bytes([i]) * 4
        body = Codec(Dialect.SL_2, b"k").encode(
            EchoResponse(Header(MsgType.ECHO_RESP, 7, "SIM00001"), payload))
        crc = crc16_ccitt_false(build_frame(body, Dialect.SL_2, Transport.SERIAL)[1:-2])
        if crc >> 8 != crc & 0xFF:
            return payload
    raise AssertionError("no payload found")  # pragma: no cover


@pytest.mark.parametrize("deviation", [None, "checksum_byte_order"])
def test_checksum_byte_order_swaps_the_crc_on_serial(deviation: str | None) -> None:
    payload = _echo_payload()
    with serve_terminal("bill", "sl-2", pty=True, deviation=deviation) as t, RawHost(t) as h:
        h.send(h.frame(EchoRequest, 7, payload=payload))
        data = h.read_until(lambda d: len(d) >= 1 + 1 + 3 + 15 + 3, 5.0)
        assert data[0] == ACK
        raw = data[1:]
        assert raw[0] == STX
        length = int.from_bytes(raw[1:3], "big")
        frame = raw[: 3 + length + 3]
        crc = crc16_ccitt_false(frame[1:-2])
        assert peek_header(frame[3 : 3 + length])[1] == 7
        if deviation is None:
            assert frame[-2:] == crc.to_bytes(2, "big")
        else:
            assert frame[-2:] == crc.to_bytes(2, "little") != crc.to_bytes(2, "big")
        h.send(bytes([ACK]))


@pytest.mark.parametrize("dialect", ["sl-2", "mispos-1"])
def test_checksum_byte_order_changes_nothing_where_it_cannot_show(dialect: str) -> None:
    """TCP has no check value, mispos-1's LRC is one byte: the answer is the default's."""
    answers = []
    for deviation in (None, "checksum_byte_order"):
        pty = dialect == "mispos-1"
        with serve_terminal("bill", dialect, pty=pty, deviation=deviation) as t, RawHost(t) as h:
            h.send(h.frame(EchoRequest, 9, payload=b"abcd"))
            answers.append(h.read_until(h.has_frames(1), 5.0))
            if pty:
                h.send(bytes([ACK]))
    assert answers[0] == answers[1]
    assert answers[0]


@pytest.mark.slow
@pytest.mark.parametrize("deviation", [None, "no_retransmission"])
def test_no_retransmission_when_the_host_withholds_its_ack(deviation: str | None) -> None:
    with serve_terminal("bill", "sl-2", pty=True, deviation=deviation) as t, RawHost(t) as h:
        h.send(h.frame(EchoRequest, 11, payload=b"x"))
        data = h.read_for(2.6)  # T1 1.0 s: the default has retransmitted twice by now
        frames = h.frames(data)
        if deviation is None:
            assert len(frames) >= 2
            assert all(f.raw == frames[0].raw for f in frames)
        else:
            assert len(frames) == 1
        assert t.session.stats["requests_lost_to_events"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("deviation", [None, "late_ack"])
def test_late_ack_comes_after_t1(deviation: str | None) -> None:
    with serve_terminal("bill", "sl-2", pty=True, deviation=deviation) as t, RawHost(t) as h:
        sent = h.send(h.frame(EchoRequest, 12, payload=b"x"))
        h.read_until(lambda d: bool(d), LATE_ACK_DELAY + 2.0)
        first = h.arrivals[0]
        assert first.data[0] == ACK
        delay = first.at - sent
        if deviation is None:
            assert delay < 0.5
        else:
            assert delay >= 1.0  # T1: the host has already given up on this transmission
        h.read_until(h.has_frames(1), 3.0)
        h.send(bytes([ACK]))


@pytest.mark.parametrize("dialect", ["sl-2", "mispos-1"])
@pytest.mark.parametrize("deviation", [None, "ack_bad_checksum"])
def test_bad_checksum_is_acked_not_naked(deviation: str | None, dialect: str) -> None:
    with serve_terminal("bill", dialect, pty=True, deviation=deviation) as t, RawHost(t) as h:
        frame = bytearray(h.frame(EchoRequest, 13, payload=b"hello"))
        frame[-1] ^= 0x5A  # damage the check value
        h.send(bytes(frame))
        data = h.read_for(0.8)
        assert data == bytes([NAK if deviation is None else ACK])
        assert t.session.received.total() == 0  # not acted on either way
        # the link still works: a good frame is answered
        assert isinstance(h.ask(EchoRequest, 14, payload=b"ok"), EchoResponse)


@pytest.mark.slow  # listens for silence
@pytest.mark.parametrize("transport", ["tcp", "serial"])
@pytest.mark.parametrize("dialect", ["sl-2", "mispos-1"])
@pytest.mark.parametrize("deviation", [None, "answer_other_dialect"])
def test_other_dialect_frame_is_answered_only_by_the_deviant(
    deviation: str | None, dialect: str, transport: str
) -> None:
    other = Dialect.MISPOS_1 if dialect == "sl-2" else Dialect.SL_2
    pty = transport == "serial"
    with serve_terminal("bill", dialect, pty=pty, deviation=deviation) as t, \
            RawHost(t, dialect=other.value) as h:
        h.send(h.frame(IdentifyRequest, 21, host_time=HOST_TIME))
        data = h.read_until(h.has_frames(1), 1.5)
        frames = h.frames(data)
        if deviation is None:
            assert frames == []
            assert ACK not in data[:1]
            if not pty:
                assert h.closed  # docs/protocol.md §1.2: the terminal closes the connection
        else:
            assert len(frames) == 1
            answer = h.codec.decode(frames[0].body)
            assert isinstance(answer, IdentifyResponse)
            assert answer.header.seq == 21
            assert answer.dialect is Dialect(dialect)  # DF0C disagrees with the framing
            assert t.session.stats["other_dialect_answers"] == 1
            if pty:
                assert data[0] == ACK
                h.send(bytes([ACK]))
    # own-dialect traffic is unaffected by the second link (no stray NAK or answer)
    with serve_terminal("bill", dialect, pty=pty, deviation=deviation) as t, RawHost(t) as h:
        h.send(h.frame(EchoRequest, 22, payload=b"own"))
        data = h.read_until(h.has_frames(1), 3.0)
        assert NAK not in (data[:1] if pty else b"")
        assert len(h.frames(data)) == 1
        if pty:
            h.send(bytes([ACK]))
        assert h.read_for(0.3) == b""


@pytest.mark.parametrize("deviation", [None, "seq_no_wrap"])
def test_seq_wrap_answers(deviation: str | None) -> None:
    with serve_terminal("bill", "sl-2", deviation=deviation) as t, RawHost(t) as h:
        seqs = [h.ask(EchoRequest, s, payload=b"w").header.seq for s in (0xFFFE, 0xFFFF, 0, 1)]
        if deviation is None:
            assert seqs == [0xFFFE, 0xFFFF, 0x0000, 0x0001]
        else:
            assert seqs == [0xFFFE, 0xFFFF, 0xFFFF, 0x0001]  # only the wrap goes wrong


@pytest.mark.slow
def test_late_ack_answer_keeps_its_t1_spacing() -> None:
    """The answer follows the late ACK and its T1 runs from when it really went out: the
    first retransmission comes T1 after it, not at once (only the ACK timer is broken)."""
    with serve_terminal("bill", "sl-2", pty=True, deviation="late_ack") as t, RawHost(t) as h:
        sent = h.send(h.frame(EchoRequest, 15, payload=b"x"))
        h.read_until(h.has_frames(2), LATE_ACK_DELAY + 3.0)  # the answer, withheld ACK
        times: list[float] = []
        for arrival in h.arrivals:
            times += [arrival.at] * len(arrival.data)
        data = b"".join(a.data for a in h.arrivals)
        frames = h.frames(data)
        assert len(frames) == 2
        assert frames[0].raw == frames[1].raw
        first, second = (times[f.offset] for f in frames)
        assert data[0] == ACK
        assert times[0] - sent >= 1.0  # the ACK is late
        assert second - first >= 0.8  # T1 (1.0 s) after the answer, not straight after it
        h.send(bytes([ACK]))
