"""TLV value encodings and the tag tables of every message (the per-message field layouts).

Contract:
- A :class:`Kind` turns one field value into TLV value bytes and back. ``dec`` raises
  ``ValueError`` with a short reason (never the value bytes); the codec adds the tag, field
  name and body offset and wraps it in :class:`DecodeError`. ``enc`` raises ``ValueError`` /
  ``TypeError`` for values the wire cannot carry.
- Text is GB18030 on ``mispos-1`` and UTF-8 on ``sl-2`` (``ctx.charset``).
- Times are 7 bytes of packed BCD ``YYYYMMDDhhmmss`` in China Standard Time (UTC+8), one
  second resolution: fractions are dropped on encoding, an aware datetime in another zone is
  converted, a naive one is refused. Amounts are 6 bytes of packed BCD, integer fen.
- Field layouts list ``(name, tag, kind, mode)`` in wire order; ``mode`` is ``REQ`` (always
  sent), ``OPT`` (left out when equal to the dataclass default, default when absent),
  ``NONE`` (left out when ``None``) or ``REP`` (the tag repeats, one TLV per element).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..money import CST
from ._checksums import BCD_BYTE, bcd_encode
from .messages import Dialect, ErrorCode, ResultCode, TxnKind, TxnStatus


@dataclass(frozen=True, slots=True)
class Ctx:
    """What value encodings depend on: the text charset of the dialect."""

    charset: str


@dataclass(frozen=True, slots=True)
class Kind:
    """One value encoding: name for the spec, and the two directions."""

    name: str
    enc: Callable[[Any, Ctx], bytes]
    dec: Callable[[bytes, Ctx], Any]


def _uint(width: int) -> Kind:
    limit = 1 << (8 * width)

    def enc(v: Any, ctx: Ctx) -> bytes:
        if type(v) is not int or not 0 <= v < limit:
            raise ValueError(f"{v!r} is not an integer in 0..{limit - 1}")
        return int(v).to_bytes(width, "big")

    def dec(raw: bytes, ctx: Ctx) -> int:
        if len(raw) != width:
            raise ValueError(f"{len(raw)} bytes, expected {width}")
        return int.from_bytes(raw, "big")

    return Kind(f"uint{8 * width} (big-endian, {width} byte{'s' if width > 1 else ''})", enc, dec)


def _enc_sint8(v: Any, ctx: Ctx) -> bytes:
    if type(v) is not int or not -128 <= v <= 127:
        raise ValueError(f"{v!r} is not an integer in -128..127")
    return int(v).to_bytes(1, "big", signed=True)


def _dec_sint8(raw: bytes, ctx: Ctx) -> int:
    if len(raw) != 1:
        raise ValueError(f"{len(raw)} bytes, expected 1")
    return int.from_bytes(raw, "big", signed=True)


def _enc_amount(v: Any, ctx: Ctx) -> bytes:
    if type(v) is not int or v < 0:
        raise ValueError(f"{v!r} is not a non-negative integer amount in fen")
    return bcd_encode(v, 6)


def _dec_amount(raw: bytes, ctx: Ctx) -> int:
    if len(raw) != 6:
        raise ValueError(f"{len(raw)} bytes, expected 6")
    digits = raw.hex()
    if not digits.isdigit():
        raise ValueError("not packed BCD")
    return int(digits)


def _enc_time(v: Any, ctx: Ctx) -> bytes:
    if not isinstance(v, datetime) or v.tzinfo is None or v.utcoffset() is None:
        raise ValueError("a time must be a timezone-aware datetime")
    t = v.astimezone(CST)
    stamp = (
        ((((t.year * 100 + t.month) * 100 + t.day) * 100 + t.hour) * 100 + t.minute) * 100
        + t.second
    )
    return bcd_encode(stamp, 7)


def _dec_time(raw: bytes, ctx: Ctx) -> datetime:
    if len(raw) != 7:
        raise ValueError(f"{len(raw)} bytes, expected 7")
    t = BCD_BYTE
    c, y, mo, d, h, mi, s = raw
    c, y, mo, d, h, mi, s = t[c], t[y], t[mo], t[d], t[h], t[mi], t[s]
    if -1 in (c, y, mo, d, h, mi, s):
        raise ValueError("not packed BCD")
    try:
        return datetime(c * 100 + y, mo, d, h, mi, s, tzinfo=CST)
    except ValueError as exc:
        raise ValueError(f"not a valid date and time ({exc})") from None


def _enc_text(v: Any, ctx: Ctx) -> bytes:
    if type(v) is str and v.isascii():  # the same bytes in GB18030 and UTF-8
        return v.encode("ascii")
    if not isinstance(v, str):
        raise TypeError(f"{type(v).__name__} is not text")
    return v.encode(ctx.charset)


def _dec_text(raw: bytes, ctx: Ctx) -> str:
    if raw.isascii():  # GB18030 and UTF-8 both read bytes 00..7F as ASCII
        return raw.decode("ascii")
    try:
        return raw.decode(ctx.charset)
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid {ctx.charset} at value byte {exc.start}") from None


def _enc_bool(v: Any, ctx: Ctx) -> bytes:
    if type(v) is not bool:
        raise ValueError(f"{v!r} is not a boolean")
    return b"\x01" if v else b"\x00"


def _dec_bool(raw: bytes, ctx: Ctx) -> bool:
    if raw == b"\x01":
        return True
    if raw == b"\x00":
        return False
    raise ValueError("a boolean is one byte, 00 or 01")


def _enc_bytes(v: Any, ctx: Ctx) -> bytes:
    if not isinstance(v, bytes):
        raise TypeError(f"{type(v).__name__} is not bytes")
    return v


def _int_enum(cls: type[enum.IntEnum]) -> Kind:
    table = {bytes((member.value,)): member for member in cls}  # the whole value -> member

    def enc(v: Any, ctx: Ctx) -> bytes:
        return bytes((cls(v).value,))

    def dec(raw: bytes, ctx: Ctx) -> Any:
        member = table.get(raw)
        if member is None:
            if len(raw) != 1:
                raise ValueError(f"{len(raw)} bytes, expected 1")
            raise ValueError(f"unknown {cls.__name__} code {raw[0]}")
        return member

    return Kind(f"uint8 code of {cls.__name__}", enc, dec)


def _coded(name: str, cls: type[enum.Enum], codes: dict[Any, int]) -> Kind:
    """A one-byte code per member of ``cls`` that the wire carries (members left out of
    ``codes`` cannot be sent: ``enc`` refuses them)."""
    back = {bytes((code,)): member for member, code in codes.items()}

    def enc(v: Any, ctx: Ctx) -> bytes:
        code = codes.get(cls(v))
        if code is None:
            raise ValueError(f"{cls(v).value!r} is not a {name} the wire carries")
        return bytes((code,))

    def dec(raw: bytes, ctx: Ctx) -> Any:
        member = back.get(raw)
        if member is None:
            raise ValueError(f"unknown {name} code")
        return member

    return Kind(f"uint8 code of {name}", enc, dec)


def _enc_dialect(v: Any, ctx: Ctx) -> bytes:
    return Dialect(v).value.encode("ascii")


def _dec_dialect(raw: bytes, ctx: Ctx) -> Dialect:
    try:
        return Dialect(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("unknown dialect name") from None


def _enc_caps(v: Any, ctx: Ctx) -> bytes:
    items = sorted(v)
    if any(not isinstance(c, str) or not c or "," in c or not c.isascii() for c in items):
        raise ValueError("capabilities are non-empty ASCII names without commas")
    return ",".join(items).encode("ascii")


def _dec_caps(raw: bytes, ctx: Ctx) -> frozenset[str]:
    if not raw:
        return frozenset()
    if not raw.isascii():
        raise ValueError("capabilities are ASCII")
    names = raw.decode("ascii").split(",")
    if "" in names:
        raise ValueError("empty capability name")
    return frozenset(names)


U8, U16, U32, U64 = _uint(1), _uint(2), _uint(4), _uint(8)
S8 = Kind("int8 (two's complement, 1 byte)", _enc_sint8, _dec_sint8)
AMOUNT = Kind("amount in fen, 6 bytes packed BCD (12 digits)", _enc_amount, _dec_amount)
TIME = Kind("time, 7 bytes packed BCD YYYYMMDDhhmmss, UTC+8", _enc_time, _dec_time)
TEXT = Kind("text (GB18030 on mispos-1, UTF-8 on sl-2)", _enc_text, _dec_text)
BOOL = Kind("boolean, 1 byte 00/01", _enc_bool, _dec_bool)
BYTES = Kind("raw bytes", _enc_bytes, lambda raw, ctx: raw)
RESULT = _int_enum(ResultCode)
ERRCODE = _int_enum(ErrorCode)
#: The wire codes of the record vocabulary's kinds (``records.vocab.TERMINAL_KINDS``; no
#: ``referral``) and statuses: the one place they are mapped.
KIND_CODES = {TxnKind.BILL_PAYMENT: 1, TxnKind.WITHDRAWAL: 2, TxnKind.BALANCE_INQUIRY: 3,
              TxnKind.REVERSAL: 4}
STATUS_CODES = {TxnStatus.APPROVED: 1, TxnStatus.DECLINED: 2, TxnStatus.REVERSED: 3}
KIND = _coded("TxnKind", TxnKind, KIND_CODES)
STATUS = _coded("Status", TxnStatus, STATUS_CODES)
DIALECT = Kind("ASCII dialect name", _enc_dialect, _dec_dialect)
CAPS = Kind("ASCII names, comma-separated, sorted", _enc_caps, _dec_caps)
