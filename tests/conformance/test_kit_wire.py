"""Unit tests of the kit's byte-level link (:mod:`stationlink.conformance.wire`) on a scripted
stream: card numbers masked in the transcript however the reads split them, and an sl-2
serial frame whose CRC is only byte-swapped taken as the frame, with a note. (The real-pty
and TCP tests of the same paths are test_kit_card_numbers.py and test_kit_deviations.py.)"""

from __future__ import annotations

import pytest

from stationlink.conformance.model import Exchange
from stationlink.conformance.wire import Wire
from stationlink.protocol import (
    Dialect,
    FrameEvent,
    Transport,
    build_frame,
    build_tlvs,
    crc16_ccitt_false,
)

PAN = "6217004106498744932"  # 19 digits


class Scripted:
    """A ByteStream handing out the given chunks, one per read."""

    kind = Transport.SERIAL
    byte_time = 0.0
    description = "scripted"

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.written = b""

    def read(self, timeout: float | None) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        pass


def _wire(chunks: list[bytes], dialect: Dialect = Dialect.MISPOS_1
          ) -> tuple[Wire, list[Exchange]]:
    transcript: list[Exchange] = []
    ticks = iter(range(1000))
    w = Wire(Scripted(chunks), dialect, card_key=bytes(32), clock=lambda: next(ticks) * 0.01,
             t0=0.0, transcript=transcript, auto_ack=False)
    return w, transcript


def _frame_with_pan() -> bytes:
    record = build_tlvs([(0xDF30, (1).to_bytes(4, "big")),
                         (0xDF40, bytes.fromhex(PAN + "f"))])
    body = bytes((0xC0,)) + (7).to_bytes(2, "big") + b"SIM00001" + build_tlvs(
        [(0xDF50, record), (0xDF22, b"\x00")])
    return build_frame(body, Dialect.MISPOS_1, Transport.SERIAL)


@pytest.mark.parametrize("split", [0, 5, 30, 33, 36, 40, -3])
def test_a_card_number_is_masked_however_the_reads_split_it(split: int) -> None:
    frame = _frame_with_pan()
    chunks = [frame] if split == 0 else [frame[:split], frame[split:]]
    w, transcript = _wire(chunks)
    w.listen(0.05)
    shown = " ".join(x.hex() for x in transcript if x.direction == "in")
    raw = b"".join(x.data for x in transcript if x.direction == "in")
    assert bytes.fromhex(PAN + "f") not in raw
    spaced = bytes.fromhex(PAN + "f").hex(" ")
    assert spaced not in shown
    assert "62 17 00 ** ** ** ** ** 93 2f" in shown  # first 6 digits, then the last ones
    assert [g for g in w.seen if isinstance(g.event, FrameEvent)], "the frame still decodes"


def test_an_sl2_crc_sent_low_byte_first_is_taken_with_a_note() -> None:
    body = bytes((0x82,)) + (9).to_bytes(2, "big") + b"SIM00001" + build_tlvs(
        [(0xDF0F, b"hello")])
    good = build_frame(body, Dialect.SL_2, Transport.SERIAL)
    crc = crc16_ccitt_false(good[1:-2]).to_bytes(2, "big")
    assert crc[0] != crc[1]
    swapped = good[:-2] + crc[::-1]
    w, transcript = _wire([swapped], Dialect.SL_2)
    got = w.wait(lambda g: isinstance(g.event, FrameEvent), 0.05)
    assert got is not None
    assert isinstance(got.event, FrameEvent)
    assert got.event.body == body
    assert any("low byte first" in x.note for x in transcript)
    # a wrong CRC that is not merely swapped stays refused
    broken = good[:-2] + bytes((crc[0] ^ 0xFF, crc[1]))
    w, _ = _wire([broken], Dialect.SL_2)
    assert w.wait(lambda g: isinstance(g.event, FrameEvent), 0.05) is None

