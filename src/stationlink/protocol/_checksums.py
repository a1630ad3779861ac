"""Frame check values and BCD length fields of the serial framings.

Contract:
- :func:`lrc` is the XOR of every byte (``mispos-1``: over LEN, BODY and ETX).
- :func:`crc16_ccitt_false` is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection,
  no final XOR; check value ``crc16_ccitt_false(b"123456789") == 0x29B1``), over LEN..ETX
  in ``sl-2``.
- :func:`bcd_encode` / :func:`bcd_decode` turn a non-negative integer into packed BCD of a
  fixed width (two digits a byte, most significant first) and back; ``bcd_decode`` returns
  ``None`` for a nibble above 9 instead of raising, so the deframer can reject a length
  without an exception on the hot path. :data:`BCD_BYTE` maps one byte to its two-digit
  value (0..99), or -1 when a nibble is above 9; :data:`BCD_OF` maps 0..99 to its byte.
"""

from __future__ import annotations

import binascii


def lrc(data: bytes | bytearray) -> int:
    """XOR of all bytes of ``data`` (0 for empty input).

    The bytes are read as one integer and folded in halves (a few big-integer operations
    instead of a Python loop over the bytes) down to eight bytes, then by shifts to one.
    """
    n = int.from_bytes(data, "little")
    width = len(data)
    while width > 8:
        half = (width + 1) >> 1
        n = (n >> (8 * half)) ^ (n & ((1 << (8 * half)) - 1))
        width = half
    n ^= n >> 32
    n ^= n >> 16
    n ^= n >> 8
    return n & 0xFF


def crc16_ccitt_false(data: bytes | bytearray) -> int:
    """CRC-16/CCITT-FALSE of ``data``."""
    return binascii.crc_hqx(data, 0xFFFF)


BCD_BYTE: tuple[int, ...] = tuple(
    (b >> 4) * 10 + (b & 0xF) if b >> 4 <= 9 and b & 0xF <= 9 else -1 for b in range(256)
)

BCD_OF: tuple[int, ...] = tuple((v // 10) << 4 | v % 10 for v in range(100))


def bcd_decode(data: bytes | bytearray) -> int | None:
    """Packed BCD to int, or ``None`` if any nibble is above 9 (or ``data`` is empty)."""
    digits = data.hex()
    if not digits.isdigit():
        return None
    return int(digits)


def bcd_encode(value: int, width: int) -> bytes:
    """``value`` as ``width`` bytes of packed BCD; ValueError if negative or too large."""
    if value < 0 or value >= 100**width:
        raise ValueError(f"{value} does not fit in {width} BCD bytes")
    return bytes.fromhex(f"{value:0{2 * width}d}")
