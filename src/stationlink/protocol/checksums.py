"""Frame check values and BCD length fields of the serial framings.

Contract:
- :func:`lrc` is the XOR of every byte (``mispos-1``: over LEN, BODY and ETX).
- :func:`crc16_ccitt_false` is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection,
  no final XOR; check value ``crc16_ccitt_false(b"123456789") == 0x29B1``), over LEN..ETX
  in ``sl-2``.
- :func:`bcd_encode` / :func:`bcd_decode` turn a non-negative integer into packed BCD of a
  fixed width (two digits a byte, most significant first) and back; ``bcd_decode`` returns
  ``None`` for a nibble above 9 instead of raising, so the deframer can reject a length
  without an exception on the hot path.
"""

from __future__ import annotations

import binascii


def lrc(data: bytes) -> int:
    """XOR of all bytes of ``data`` (0 for empty input)."""
    n = int.from_bytes(data, "little")
    width = len(data)
    while width > 1:
        half = (width + 1) // 2
        n = (n & ((1 << (8 * half)) - 1)) ^ (n >> (8 * half))
        width = half
    return n


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE of ``data``."""
    return binascii.crc_hqx(data, 0xFFFF)


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
