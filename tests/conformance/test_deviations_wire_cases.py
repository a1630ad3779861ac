"""The deviations that break framing on TCP, garbage, resynchronisation, the idle link, the
status query after a lost answer, journal paging, device status and the maximum frame, seen
on the raw wire (real TCP sockets and ptys), each against the default terminal doing it
right. The kit catching them is tests/conformance/test_kit_deviations.py."""

from __future__ import annotations

import pytest
from deviation_wire import RawHost

from stationlink.protocol import (
    MAX_BODY,
    BillPaymentRequest,
    BillPaymentResponse,
    Codec,
    DeviceStatusRequest,
    DeviceStatusResponse,
    Dialect,
    EchoRequest,
    EchoResponse,
    Header,
    JournalReadRequest,
    JournalReadResponse,
    MsgType,
    StatusQuery,
    StatusResponse,
)
from stationlink_sim.deviations import IDLE_CLOSE_AFTER, TCP_TRAILER
from stationlink_sim.serve import DEFAULT_CARD_KEY, RunningTerminal, serve_terminal


def _account(t: RunningTerminal) -> str:
    for i in range(1000):
        account = f"138{i:08d}"
        if t.device.billers.exists("mobile", account):
            return account
    raise AssertionError("no known account")  # pragma: no cover


def _echo_payload(dialect: Dialect, body_size: int) -> bytes:
    """An ECHO payload giving a body of exactly ``body_size`` bytes."""
    codec = Codec(dialect, DEFAULT_CARD_KEY)
    n = body_size - 16
    body = codec.encode(EchoRequest(Header(MsgType.ECHO, 1, "00000000"), b"\xa5" * n))
    assert len(body) == body_size
    return b"\xa5" * n


@pytest.mark.parametrize("deviation", [None, "tcp_frame_trailer"])
def test_tcp_frame_trailer(deviation: str | None) -> None:
    with serve_terminal("bill", "mispos-1", deviation=deviation) as t, RawHost(t) as h:
        h.send(h.frame(EchoRequest, 7, payload=b"hi"))
        data = h.read_until(h.has_frames(1), 5.0) + h.read_for(0.3)
        (frame,) = h.frames(data)
        assert data[:len(frame.raw)] == frame.raw
        assert data[len(frame.raw):] == (TCP_TRAILER if deviation else b"")


@pytest.mark.parametrize("deviation", [None, "slides_over_garbage"])
def test_slides_over_garbage(deviation: str | None) -> None:
    with serve_terminal("bill", "sl-2", deviation=deviation) as t, RawHost(t) as h:
        h.send(bytes(range(0x40, 0x60)))  # no possible sl-2 prefix (first byte over 0x04)
        h.send(h.frame(EchoRequest, 8, payload=b"after"))
        data = h.read_until(h.has_frames(1), 1.5)
        if deviation is None:
            assert h.closed  # §1.2: closed, nothing answered
            assert not h.frames(data)
        else:
            assert not h.closed
            assert [f.body[1:3] for f in h.frames(data)] == [(8).to_bytes(2, "big")]


@pytest.mark.slow
@pytest.mark.parametrize("deviation", [None, "no_receive_idle"])
def test_no_receive_idle(deviation: str | None) -> None:
    with serve_terminal("bill", "sl-2", pty=True, deviation=deviation) as t, RawHost(t) as h:
        long = h.frame(EchoRequest, 9, payload=bytes(200))
        h.send(long[:16])
        h.read_for(0.8)  # the receive-idle time (0.5 s) passes
        short = h.frame(EchoRequest, 10, payload=b"short")
        h.send(short)
        data = h.read_until(h.has_frames(1), 1.5)
        if deviation is None:
            assert data[:1] == b"\x06"
            assert [f.body[1:3] for f in h.frames(data)] == [(10).to_bytes(2, "big")]
        else:
            assert data == b""  # swallowed behind the truncated frame
            h.send(b"\xff" * (len(long) - 16 - len(short)))  # the announced length completes
            later = h.read_until(h.has_frames(1), 2.0)
            assert [f.body[1:3] for f in h.frames(later)] == [(10).to_bytes(2, "big")]
        h.send(b"\x06")


@pytest.mark.slow
@pytest.mark.parametrize("deviation", [None, "idle_close"])
def test_idle_close(deviation: str | None) -> None:
    with serve_terminal("card", "sl-2", deviation=deviation) as t, RawHost(t) as h:
        assert isinstance(h.ask(EchoRequest, 11, payload=b"x"), EchoResponse)
        assert h.read_for(IDLE_CLOSE_AFTER + 0.6) == b""
        assert h.closed is (deviation is not None)
        if deviation is None:
            assert isinstance(h.ask(EchoRequest, 12, payload=b"y"), EchoResponse)


@pytest.mark.parametrize("deviation", [None, "status_per_connection"])
def test_status_per_connection(deviation: str | None) -> None:
    with serve_terminal("bill", "sl-2", deviation=deviation) as t:
        with RawHost(t) as h:
            paid = h.ask(BillPaymentRequest, 21, client_ref="LOST-1", product="mobile",
                         account=_account(t), amount_fen=1)
            assert isinstance(paid, BillPaymentResponse)
            same = h.ask(StatusQuery, 22, ref="", client_ref="LOST-1")
            assert isinstance(same, StatusResponse)
            assert same.found  # same connection: found
        with RawHost(t) as h:
            fresh = h.ask(StatusQuery, 23, ref="", client_ref="LOST-1")
            assert isinstance(fresh, StatusResponse)
            assert fresh.found is (deviation is None)
            page = h.ask(JournalReadRequest, 24, after_cursor=0, max_records=20)
            assert isinstance(page, JournalReadResponse)
            assert [r.client_ref for r in page.records].count("LOST-1") == 1  # journaled


@pytest.mark.parametrize("deviation", [None, "journal_page_overlap"])
def test_journal_page_overlap(deviation: str | None) -> None:
    with serve_terminal("bill", "sl-2", deviation=deviation) as t, RawHost(t) as h:
        account = _account(t)
        for seq in (31, 32, 33):
            assert isinstance(h.ask(BillPaymentRequest, seq, client_ref=f"P-{seq}",
                                    product="mobile", account=account, amount_fen=1),
                              BillPaymentResponse)
        first = h.ask(JournalReadRequest, 34, after_cursor=0, max_records=1)
        assert isinstance(first, JournalReadResponse)
        assert first.more
        cursor = first.records[0].cursor
        second = h.ask(JournalReadRequest, 35, after_cursor=cursor, max_records=1)
        assert isinstance(second, JournalReadResponse)
        assert (second.records[0].cursor == cursor) is (deviation is not None)
        assert second.records[0].cursor >= cursor


@pytest.mark.parametrize("deviation", [None, "signal_unsigned"])
def test_signal_unsigned(deviation: str | None) -> None:
    with serve_terminal("card", "mispos-1", deviation=deviation) as t, RawHost(t) as h:
        status = h.ask(DeviceStatusRequest, 41)
        assert isinstance(status, DeviceStatusResponse)
        assert (status.signal_dbm > 0) is (deviation is not None)
        assert 60 <= abs(status.signal_dbm) <= 95


@pytest.mark.parametrize("deviation", [None, "max_body_off_by_one"])
def test_max_body_off_by_one(deviation: str | None) -> None:
    with serve_terminal("card", "mispos-1", deviation=deviation) as t:
        for size in (MAX_BODY - 1, MAX_BODY):
            with RawHost(t) as h:
                payload = _echo_payload(Dialect.MISPOS_1, size)
                h.send(h.frame(EchoRequest, 50, payload=payload))
                frames = h.frames(h.read_until(h.has_frames(1), 2.0))
                refused = deviation is not None and size == MAX_BODY
                assert len(frames) == (0 if refused else 1), size
                assert h.closed is refused  # TCP: bytes that do not frame close it (§1.2)
