"""Card-number redaction at capture time: stand-ins, frames, damaged frames, noise."""

from __future__ import annotations

import random

from capture_helpers import KEY, PACKED, PAN, withdrawal_frame
from hypothesis import given, settings
from hypothesis import strategies as st

from stationlink.protocol import (
    Codec,
    Deframer,
    Dialect,
    FrameEvent,
    Rejected,
    Transport,
    WithdrawalResponse,
    mask_pan,
)
from stationlink_sim.capture.redact import PanBook, StreamRedactor, luhn_ok, stand_in
from stationlink_sim.customers import make_test_pan


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=12, max_value=19), st.integers(min_value=0, max_value=10**6))
def test_stand_in_keeps_shape_and_luhn_and_differs(length: int, seed: int) -> None:
    pan = make_test_pan(random.Random(seed), length=length).reveal()
    out = stand_in(pan, b"key")
    assert len(out) == len(pan)
    assert out != pan
    assert mask_pan(out) == mask_pan(pan)
    assert luhn_ok(out)
    assert stand_in(pan, b"key") == out  # stable within a capture


def _run(redactor: StreamRedactor, data: bytes, cuts: list[int]) -> bytes:
    out = b""
    last = 0
    for cut in [*cuts, len(data)]:
        out += redactor.feed(data[last:cut])
        last = cut
    return out + redactor.finish()


def _decode_all(data: bytes, dialect: Dialect, transport: Transport) -> list[object]:
    deframer = Deframer(dialect, transport)
    events = [*deframer.feed(data), *deframer.expire(), *deframer.close()]
    return events


def test_frame_is_redacted_valid_and_same_length_at_any_split() -> None:
    frame = withdrawal_frame()
    stream = b"\x06" + frame + b"\x06"
    assert PACKED in stream
    for cut in range(len(stream) + 1):
        book = PanBook(b"k")
        out = _run(StreamRedactor(Dialect.MISPOS_1, Transport.SERIAL, book), stream, [cut])
        assert len(out) == len(stream)
        assert PACKED not in out
        assert PAN.encode() not in out
        assert out[0] == 0x06
        assert out[-1] == 0x06
        assert book.redacted == 1
    events = _decode_all(out, Dialect.MISPOS_1, Transport.SERIAL)
    frames = [e for e in events if isinstance(e, FrameEvent)]
    assert len(frames) == 1
    msg = Codec(Dialect.MISPOS_1, KEY).decode(frames[0].body)
    assert isinstance(msg, WithdrawalResponse)
    assert msg.record.card is not None
    assert msg.record.card.masked == mask_pan(PAN)
    original = Codec(Dialect.MISPOS_1, KEY).decode(withdrawal_frame()[3:-2])
    assert isinstance(original, WithdrawalResponse)
    assert original.record.card is not None
    assert msg.record.card.token != original.record.card.token  # the stand-in's token


def test_tcp_frames_are_redacted() -> None:
    frame = withdrawal_frame(transport=Transport.TCP)
    out = _run(StreamRedactor(Dialect.MISPOS_1, Transport.TCP, PanBook(b"k")), frame, [5])
    assert len(out) == len(frame)
    assert PACKED not in out
    assert out[:4] == frame[:4]


def test_damaged_frame_is_redacted_and_stays_damaged() -> None:
    frame = bytearray(withdrawal_frame())
    frame[-1] ^= 0x5A  # wrong LRC
    out = _run(StreamRedactor(Dialect.MISPOS_1, Transport.SERIAL, PanBook(b"k")),
               bytes(frame), [])
    assert PACKED not in out
    events = _decode_all(out, Dialect.MISPOS_1, Transport.SERIAL)
    assert len(events) == 1
    assert isinstance(events[0], Rejected)
    assert events[0].checksum_failed


def test_noise_inside_a_frame_is_scrubbed_with_the_retransmission_known() -> None:
    frame = withdrawal_frame()
    at = frame.index(PACKED) + 4
    broken = frame[:at] + b"\x99\x99\x99" + frame[at:]  # noise inside the card number
    stream = broken + b"\x15" + frame  # NAK... then the good retransmission
    out = _run(StreamRedactor(Dialect.MISPOS_1, Transport.SERIAL, PanBook(b"k")), stream, [])
    assert len(out) == len(stream)
    assert PACKED not in out
    assert PACKED[:5] not in out  # first half of the number (10 digits) gone too
    assert PACKED[4:] not in out[: len(broken)]


def test_card_field_tag_in_noise_is_scrubbed_without_any_good_frame() -> None:
    frame = withdrawal_frame()
    broken = frame[:5] + b"\x02\x99" + frame[5:]
    out = _run(StreamRedactor(Dialect.MISPOS_1, Transport.SERIAL, PanBook(b"k")), broken, [])
    assert PACKED not in out
    assert PACKED[3:] not in out


def test_sl2_frames_pass_unchanged() -> None:
    frame = withdrawal_frame(dialect=Dialect.SL_2)
    out = _run(StreamRedactor(Dialect.SL_2, Transport.SERIAL, PanBook(b"k")), frame, [9])
    assert out == frame
