"""The message body: fixed header and TLV list, as ``construct`` layouts.

Contract:
- :data:`BODY` parses a body into ``msg_type``, ``seq``, ``terminal_id`` (8 raw bytes) and
  ``fields`` (a list of ``(tag, value)`` pairs in wire order) and builds it back. It is
  compiled once at import; the TLV list is a custom construct with a compiled form.
  :func:`parse_body` runs that compiled parser with a context built once (``BODY.parse``
  builds a fresh one per call): the same generated code, result and exceptions;
  :func:`build_body` does the same for ``BODY.build``.
- :func:`parse_tlvs` / :func:`build_tlvs` are the plain functions behind it, also used for
  nested (constructed) TLV values. A truncated or malformed TLV raises :class:`DecodeError`
  naming the body offset; value bytes are never echoed (they may hold a card number).

Body layout::

    +------+---------+-------------+-----------+-----------+-----+
    | TYPE | SEQ     | TERMINAL ID | TLV 1     | TLV 2     | ... |
    | 1    | 2 (BE)  | 8 ASCII     |           |           |     |
    +------+---------+-------------+-----------+-----------+-----+
      offset 0  1       3             11

    TLV:  +-----------+--------+-------------+
          | TAG       | LENGTH | VALUE       |   TAG: two bytes, DFxx
          | 2 (BE)    | 1..3   | LENGTH bytes|
          +-----------+--------+-------------+
    LENGTH (BER style): 00..7F          one byte, the length itself
                        81 LL           lengths 128..255
                        82 LL LL        lengths 256..65535 (big-endian)
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from construct import (
    Bytes,
    Construct,
    Container,
    Int8ub,
    Int16ub,
    Struct,
    stream_read_entire,
    stream_write,
)

from ..errors import DecodeError

HEADER_SIZE = 11

Tlv = tuple[int, bytes]


def parse_tlvs(data: bytes | bytearray, base: int = HEADER_SIZE) -> list[Tlv]:
    """``(tag, value)`` pairs of a TLV list; ``base`` is the body offset of ``data[0]``."""
    if type(data) is not bytes:
        data = bytes(data)  # slices of bytes are bytes: values never share a mutable buffer
    out: list[Tlv] = []
    append = out.append
    i, n = 0, len(data)
    while i < n:
        start = i + 3
        if start > n:
            raise DecodeError(f"truncated TLV at body offset {base + i}")
        length = data[i + 2]
        if length >= 0x80:
            k = length - 0x80
            if k not in (1, 2) or start + k > n:
                raise DecodeError(
                    f"bad TLV length form {length:#04x} at body offset {base + i + 2}"
                )
            length = int.from_bytes(data[start : start + k], "big")
            start += k
        end = start + length
        if end > n:
            raise DecodeError(
                f"TLV {(data[i] << 8) | data[i + 1]:04X} at body offset {base + i} announces "
                f"{length} bytes, {n - start} left"
            )
        append(((data[i] << 8) | data[i + 1], data[start:end]))
        i = end
    return out


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    if n < 0x100:
        return bytes((0x81, n))
    if n < 0x10000:
        return bytes((0x82, n >> 8, n & 0xFF))
    raise ValueError(f"TLV value of {n} bytes is too long")


_LEN1 = [bytes((i,)) for i in range(0x80)]
_TAG = {t: t.to_bytes(2, "big") for t in range(0xDF00, 0xE000)}


def build_tlvs(items: list[Tlv] | tuple[Tlv, ...]) -> bytes:
    """Serialise ``(tag, value)`` pairs (tags 0..0xFFFF)."""
    out: list[bytes] = []
    for tag, value in items:
        n = len(value)
        out.append(_TAG.get(tag) or tag.to_bytes(2, "big"))
        out.append(_LEN1[n] if n < 0x80 else _length(n))
        out.append(value)
    return b"".join(out)


class TlvList(Construct):  # type: ignore[type-arg]
    """Greedy TLV list to the end of the body (see the module docstring)."""

    def _parse(self, stream: Any, context: Any, path: Any) -> list[Tlv]:
        return parse_tlvs(stream_read_entire(stream, path))

    def _build(self, obj: Any, stream: Any, context: Any, path: Any) -> Any:
        data = build_tlvs(obj)
        stream_write(stream, data, len(data), path)
        return obj

    def _emitparse(self, code: Any) -> str:
        code.append("from stationlink.protocol._tlv import parse_tlvs as _sl_parse_tlvs")
        return "_sl_parse_tlvs(io.read())"

    def _emitbuild(self, code: Any) -> str:
        code.append("from stationlink.protocol._tlv import build_tlvs as _sl_build_tlvs")
        return "(io.write(_sl_build_tlvs(obj)), obj)[1]"


BODY: Any = Struct(
    "msg_type" / Int8ub,
    "seq" / Int16ub,
    "terminal_id" / Bytes(8),
    "fields" / TlvList(),
).compile()

# what Construct.parse_stream / build_stream set up on every call: flags, _params = itself
_PARSE_CONTEXT: Any = Container(_parsing=True, _building=False, _sizing=False)
_PARSE_CONTEXT._params = _PARSE_CONTEXT
_PARSE = BODY.parsefunc  # the compiled parser; it reads the context, never writes it


def parse_body(body: bytes) -> Any:
    """``BODY.parse(body)`` without the per-call context setup (a ``Container`` of fields)."""
    return _PARSE(BytesIO(body), _PARSE_CONTEXT)


_BUILD_CONTEXT: Any = Container(_parsing=False, _building=True, _sizing=False)
_BUILD_CONTEXT._params = _BUILD_CONTEXT
_BUILD = BODY.buildfunc


def build_body(obj: dict[str, Any]) -> bytes:
    """``BODY.build(obj)`` without the per-call context setup."""
    stream = BytesIO()
    _BUILD(obj, stream, _BUILD_CONTEXT)
    return stream.getvalue()
