"""Framings of both dialects on serial lines and TCP: layouts, building, strict parsing.

Contract:
- :func:`build_frame` wraps a body (11..1024 bytes) in the framing of a dialect and transport
  (hand-assembled for speed, byte-identical to the ``construct`` :data:`LAYOUTS`, which
  :func:`parse_frame` and :func:`build_frame_construct` use); another length raises
  :class:`FrameError`.
- The streaming :class:`Deframer` (resynchronisation, link bytes, rejected stretches) lives in
  :mod:`stationlink.protocol._deframer`, with the events it reports, :class:`Transport` and the
  wire constants; all of them are re-exported here, so ``from ._framing import Deframer`` (and
  the rest) keeps working.

Serial wire layouts (``LEN`` counts BODY bytes only; BODY is 11..1024 bytes)::

    mispos-1  +-----+---------+-----------+-----+-----+
              | STX | LEN     | BODY      | ETX | LRC |   LEN: 2 bytes packed BCD ("0123")
              | 02  | 2 (BCD) | LEN bytes | 03  | 1   |   LRC: XOR of LEN, BODY, ETX
              +-----+---------+-----------+-----+-----+

    sl-2      +-----+---------+-----------+-----+---------+
              | STX | LEN     | BODY      | ETX | CRC     |   LEN: uint16 big-endian
              | 02  | 2 (BE)  | LEN bytes | 03  | 2 (BE)  |   CRC-16/CCITT-FALSE of LEN..ETX
              +-----+---------+-----------+-----+---------+

    link bytes between frames (serial only): ACK 06, NAK 15, EOT 04

TCP wire layouts::

    mispos-1  +----------------------+-----------+      sl-2  +--------------+-----------+
              | LEN: 4 ASCII digits  | BODY      |            | LEN: 2 (BE)  | BODY      |
              +----------------------+-----------+            +--------------+-----------+
"""

from __future__ import annotations

from typing import Any

from construct import (
    Adapter,
    Bytes,
    Checksum,
    Const,
    ConstructError,
    Int16ub,
    RawCopy,
    Rebuild,
    Struct,
    len_,
    this,
)

from ..errors import FrameError
from ._checksums import BCD_OF, bcd_decode, bcd_encode, crc16_ccitt_false, lrc
from ._deframer import (
    ACK,
    EOT,
    ETX,
    MAX_BODY,
    MIN_BODY,
    NAK,
    STX,
    Deframer,
    Event,
    FrameEvent,
    LinkByte,
    Rejected,
    StretchJoiner,
    Transport,
)
from .messages import Dialect

_STX_BYTE, _ETX_BYTE = bytes((STX,)), bytes((ETX,))

# ------------------------------------------------------------------ construct layouts


class _BcdLength(Adapter):  # type: ignore[type-arg]
    """Two bytes of packed BCD (0..9999)."""

    def _decode(self, obj: bytes, context: Any, path: Any) -> int:
        value = bcd_decode(obj)
        if value is None:
            raise ConstructError("LEN is not packed BCD", path=path)
        return value

    def _encode(self, obj: int, context: Any, path: Any) -> bytes:
        return bcd_encode(obj, 2)


class _AsciiLength(Adapter):  # type: ignore[type-arg]
    """Four ASCII decimal digits (0..9999)."""

    def _decode(self, obj: bytes, context: Any, path: Any) -> int:
        if not obj.isdigit():
            raise ConstructError("length prefix is not 4 ASCII digits", path=path)
        return int(obj)

    def _encode(self, obj: int, context: Any, path: Any) -> bytes:
        return b"%04d" % obj


def _serial_layout(length: Any, check: Any, check_func: Any) -> Any:
    inner = Struct(
        "length" / Rebuild(length, len_(this.body)),
        "body" / Bytes(this.length),
        "etx" / Const(bytes([ETX])),
    )
    return Struct(
        "stx" / Const(bytes([STX])),
        "checked" / RawCopy(inner),
        "check" / Checksum(check, check_func, this.checked.data),
    )


LAYOUTS: dict[tuple[Dialect, Transport], Any] = {
    (Dialect.MISPOS_1, Transport.SERIAL): _serial_layout(
        _BcdLength(Bytes(2)), Bytes(1), lambda data: bytes([lrc(data)])
    ),
    (Dialect.SL_2, Transport.SERIAL): _serial_layout(Int16ub, Int16ub, crc16_ccitt_false),
    (Dialect.MISPOS_1, Transport.TCP): Struct(
        "length" / Rebuild(_AsciiLength(Bytes(4)), len_(this.body)), "body" / Bytes(this.length)
    ),
    (Dialect.SL_2, Transport.TCP): Struct(
        "length" / Rebuild(Int16ub, len_(this.body)), "body" / Bytes(this.length)
    ),
}
"""The normative frame layouts (``construct``), used to build frames and to cross-check
the deframer's fast scanning path in the tests."""


def build_frame(body: bytes, dialect: Dialect, transport: Transport) -> bytes:
    """The complete frame carrying ``body``.

    Hand-assembled for speed; the tests check it byte for byte against :data:`LAYOUTS`.
    """
    n = len(body)
    if not MIN_BODY <= n <= MAX_BODY:
        raise FrameError(f"body of {n} bytes: a body has {MIN_BODY}..{MAX_BODY} bytes")
    if transport is Transport.SERIAL:
        if dialect is Dialect.MISPOS_1:
            checked = bytes((BCD_OF[n // 100], BCD_OF[n % 100])) + body + _ETX_BYTE
            return _STX_BYTE + checked + bytes((lrc(checked),))
        checked = n.to_bytes(2, "big") + body + _ETX_BYTE
        return _STX_BYTE + checked + crc16_ccitt_false(checked).to_bytes(2, "big")
    if dialect is Dialect.MISPOS_1:
        return b"%04d" % n + body
    return n.to_bytes(2, "big") + body


def build_frame_construct(body: bytes, dialect: Dialect, transport: Transport) -> bytes:
    """:func:`build_frame` through the ``construct`` layout (the reference)."""
    if not MIN_BODY <= len(body) <= MAX_BODY:
        raise FrameError(f"body of {len(body)} bytes: a body has {MIN_BODY}..{MAX_BODY} bytes")
    layout = LAYOUTS[(dialect, transport)]
    try:
        if transport is Transport.SERIAL:
            return bytes(layout.build({"checked": {"value": {"body": body}}, "check": None}))
        return bytes(layout.build({"body": body}))
    except ConstructError as exc:  # pragma: no cover - lengths are checked above
        raise FrameError(f"cannot build frame: {exc}") from exc


def parse_frame(raw: bytes, dialect: Dialect, transport: Transport) -> bytes:
    """Strictly parse one complete frame with the ``construct`` layout; returns the body."""
    try:
        parsed = LAYOUTS[(dialect, transport)].parse(raw)
    except ConstructError as exc:
        raise FrameError(f"not a valid {dialect} {transport} frame: {exc}") from exc
    body: bytes = parsed.checked.value.body if transport is Transport.SERIAL else parsed.body
    frame_len = len(body) + (4 if transport is Transport.SERIAL else 0)
    frame_len += {(Dialect.MISPOS_1, Transport.SERIAL): 1, (Dialect.SL_2, Transport.SERIAL): 2,
                  (Dialect.MISPOS_1, Transport.TCP): 4, (Dialect.SL_2, Transport.TCP): 2}[
        (dialect, transport)
    ]
    if frame_len != len(raw):
        raise FrameError(f"{len(raw) - frame_len} trailing bytes after the frame")
    if not MIN_BODY <= len(body) <= MAX_BODY:
        raise FrameError(f"impossible body length {len(body)}")
    return body


__all__ = [
    "ACK",
    "EOT",
    "ETX",
    "LAYOUTS",
    "MAX_BODY",
    "MIN_BODY",
    "NAK",
    "STX",
    "Deframer",
    "Event",
    "FrameEvent",
    "LinkByte",
    "Rejected",
    "StretchJoiner",
    "Transport",
    "build_frame",
    "build_frame_construct",
    "parse_frame",
]
