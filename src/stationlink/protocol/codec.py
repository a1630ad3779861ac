"""Message codec: dataclasses <-> body bytes, for one dialect, with card handling.

Contract:
- ``Codec(dialect, card_key).encode(msg)`` returns the body (header + TLV list, see
  :mod:`stationlink.protocol.tlv`); values the wire cannot carry raise :class:`EncodeError`.
  Known fields go out in layout order (:mod:`stationlink.protocol.layouts`), then ``extra``.
- ``decode(body)`` returns the message; a bad header or field raises :class:`DecodeError`
  (naming the tag, field and body offset, never echoing value bytes), an unknown type code
  raises :class:`UnknownMessageTypeError` (an :class:`UnsupportedMessageError` with the
  ``header``). ``ConstructError`` never escapes. Unknown top-level tags are kept in ``extra``;
  unknown tags inside a nested record are skipped.
- Cards: the full number (tag DF40, ``mispos-1``) becomes a :class:`CardRef` (masked, HMAC
  token under ``card_key``) the moment it is decoded, in either dialect; it never reaches a
  dataclass, an exception or a log. ``sl-2`` carries DF41 masked + DF42 token. Encoding
  ``mispos-1`` needs a :class:`ClearPan` (terminal role); a ``CardRef`` there is an error. On
  ``sl-2`` a ``ClearPan`` is turned into a ``CardRef`` with ``card_key`` first. DF40 outside a
  journal record, or a DF41 that is not masked, is refused.

Card fields inside a journal record (TLV DF50)::

    mispos-1  DF40 LL  62 17 00 00 00 00 00 00 00 18 F     packed BCD digits, F-padded
    sl-2      DF41 LL  "621700*********0018"               ASCII, first 6 + last 4
              DF42 10  <16 bytes>                           token (32 hex digits)
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, cast

from construct import ConstructError

from ..errors import DecodeError, ProtocolError, UnsupportedMessageError
from .fields import Ctx
from .layouts import (
    CARD_TAGS,
    CLASS_OF,
    LAYOUTS,
    NONE,
    OPT,
    REP,
    REQ,
    TAG_MASKED,
    TAG_PAN,
    TAG_TOKEN,
    TYPE_OF,
    Counter,
    F,
)
from .messages import (
    CardRef,
    ClearPan,
    Dialect,
    Header,
    JournalRecord,
    Message,
    MsgType,
    card_token,
    mask_pan,
)
from .tlv import BODY, HEADER_SIZE, Tlv, build_tlvs, parse_tlvs

_HEAD = struct.Struct(">BH8s")
_MSG_TYPES = {int(t): t for t in MsgType}
# decoding plan: tag -> (name, decoder, nested class, repeated); required names;
# repeated names; names that are None when absent
_Step = tuple[str, Callable[[bytes, Ctx], Any], type | None, bool]
_Plan = tuple[dict[int, _Step], frozenset[str], tuple[str, ...], tuple[str, ...]]
_Out = tuple[str, int, str, Callable[[Any, Ctx], bytes] | None, type | None]


def _plan(layout: tuple[F, ...]) -> _Plan:
    steps: dict[int, _Step] = {}
    for f in layout:
        dec = f.kind.dec if f.kind is not None else _no_dec
        steps[f.tag] = (f.name, dec, f.nested, f.mode == REP)
    required = frozenset(f.name for f in layout if f.mode == REQ)
    return (steps, required, tuple(f.name for f in layout if f.mode == REP),
            tuple(f.name for f in layout if f.mode == NONE))


def _no_dec(raw: bytes, ctx: Ctx) -> Any:  # pragma: no cover - nested fields use _nested
    raise ValueError("nested field")


class EncodeError(ProtocolError):
    """A message holds a value its dialect's wire format cannot carry."""


class UnknownMessageTypeError(UnsupportedMessageError):
    """A body whose type code is not in the catalogue.

    ``header.msg_type`` holds the raw type code (an ``int`` when it is not a :class:`MsgType`),
    so the link can answer with an ``ErrorReply(UNSUPPORTED, for_type=...)`` to that sequence.
    """

    def __init__(self, message: str, header: Header) -> None:
        super().__init__(message)
        self.header = header
        self.raw_type = int(header.msg_type)


def _tid(raw: bytes) -> str:
    if not (raw.isascii() and raw.decode("ascii").isprintable()):
        raise DecodeError("terminal id (body offset 3) is not 8 printable ASCII characters")
    return raw.decode("ascii")


def peek_header(body: bytes) -> tuple[int, int, str]:
    """``(raw type code, seq, terminal id)`` of a body, without decoding the fields."""
    if len(body) < HEADER_SIZE:
        raise DecodeError(
            f"body of {len(body)} bytes is shorter than the {HEADER_SIZE}-byte header"
        )
    msg_type, seq, tid = _HEAD.unpack_from(body)
    return msg_type, seq, _tid(tid)


def _pan_digits(raw: bytes) -> str:
    digits = raw.hex().rstrip("f")
    if not digits.isdigit() or not 12 <= len(digits) <= 19 or len(raw) != (len(digits) + 1) // 2:
        raise DecodeError("card number field DF40 is not 12..19 packed BCD digits")
    return digits


def _check_masked(masked: str) -> None:
    n = len(masked)
    ok = 12 <= n <= 19 and masked[:6].isdigit() and masked[-4:].isdigit()
    if not ok or masked[6 : n - 4] != "*" * (n - 10):
        raise DecodeError("masked card field DF41 is not a masked card number (first 6, last 4)")


class Codec:
    """Encoder/decoder of message bodies for one dialect."""

    def __init__(self, dialect: Dialect, card_key: bytes) -> None:
        if not isinstance(card_key, bytes) or not card_key:
            raise ValueError("card_key must be non-empty bytes")
        self.dialect = Dialect(dialect)
        self._key = card_key
        self._ctx = Ctx("gb18030" if self.dialect is Dialect.MISPOS_1 else "utf-8")
        self._plans: dict[type, _Plan] = {cls: _plan(layout) for cls, layout in LAYOUTS.items()}
        self._out: dict[type, list[_Out]] = {
            cls: [(f.name, f.tag, f.mode, None if f.kind is None else f.kind.enc, f.nested)
                  for f in layout]
            for cls, layout in LAYOUTS.items()
        }

    # ------------------------------------------------------------------ decoding

    def decode(self, body: bytes) -> Message:
        raw_type, seq, tid = peek_header(body)
        cls = CLASS_OF.get(raw_type)
        if cls is None:
            header = Header(cast(MsgType, raw_type), seq, tid)
            raise UnknownMessageTypeError(f"unknown message type {raw_type:#04x}", header)
        try:
            tlvs: list[Tlv] = BODY.parse(body).fields
        except ConstructError as exc:
            raise DecodeError(f"{cls.__name__}: body does not parse: {exc}") from exc
        values, extra = self._fields(cls, tlvs, HEADER_SIZE)
        header = Header(_MSG_TYPES[raw_type], seq, tid)
        return cast(Message, cls(header=header, extra=extra, **values))

    def _fields(
        self, cls: type, tlvs: list[Tlv], base: int
    ) -> tuple[dict[str, Any], tuple[Tlv, ...]]:
        plan, required, repeated, nones = self._plans[cls]
        values: dict[str, Any] = {}
        extra: list[Tlv] = []
        cards: dict[int, bytes] = {}
        ctx = self._ctx
        for index, (tag, raw) in enumerate(tlvs):
            step = plan.get(tag)
            if step is None:
                if tag in CARD_TAGS:
                    self._card_part(cls, cards, tag, raw)
                elif cls in TYPE_OF:
                    extra.append((tag, raw))
                continue
            name, dec, nested, rep = step
            try:
                value = dec(raw, ctx) if nested is None else self._nested(nested, raw)
            except (ValueError, DecodeError) as exc:
                offset = base + _offset(tlvs, index)
                raise DecodeError(
                    f"{cls.__name__} field {tag:04X} ({name}) at body offset {offset}: {exc}"
                ) from None
            if rep:
                values.setdefault(name, []).append(value)
            elif name in values:
                raise DecodeError(f"{cls.__name__}: field {tag:04X} ({name}) repeated")
            else:
                values[name] = value
        if not required <= values.keys():
            f = next(f for f in LAYOUTS[cls] if f.name in required and f.name not in values)
            raise DecodeError(f"{cls.__name__}: required field {f.tag:04X} ({f.name}) missing")
        for name in repeated:
            values[name] = tuple(values.get(name, ()))
        for name in nones:
            values.setdefault(name, None)
        if cards:
            values["card"] = self._card(cards)
        return values, tuple(extra)

    @staticmethod
    def _card_part(cls: type, cards: dict[int, bytes], tag: int, raw: bytes) -> None:
        if cls is not JournalRecord:
            raise DecodeError(f"{cls.__name__}: card field {tag:04X} outside a journal record")
        if tag in cards:
            raise DecodeError(f"{cls.__name__}: card field {tag:04X} repeated")
        cards[tag] = raw

    def _nested(self, cls: type, raw: bytes) -> Any:
        values, _ = self._fields(cls, parse_tlvs(raw, 0), 0)
        if cls is Counter:
            return (values["name"], values["count"])
        return cls(**values)

    def _card(self, cards: dict[int, bytes]) -> CardRef:
        pan = cards.get(TAG_PAN)
        if pan is not None:
            if len(cards) > 1:
                raise DecodeError("journal record carries both a card number and a masked card")
            digits = _pan_digits(pan)
            return CardRef(mask_pan(digits), card_token(digits, self._key))
        masked_raw, token_raw = cards.get(TAG_MASKED), cards.get(TAG_TOKEN)
        if masked_raw is None or token_raw is None or len(token_raw) != 16:
            raise DecodeError("a card needs DF41 (masked) and DF42 (16-byte token)")
        if not masked_raw.isascii():
            raise DecodeError("masked card field DF41 is not ASCII")
        masked = masked_raw.decode("ascii")
        _check_masked(masked)
        return CardRef(masked, token_raw.hex())

    # ------------------------------------------------------------------ encoding

    def encode(self, msg: Message) -> bytes:
        cls = type(msg)
        code = TYPE_OF.get(cls)
        if code is None:
            raise EncodeError(f"{cls.__name__} is not a protocol message")
        h = msg.header
        if h.msg_type != code:
            raise EncodeError(f"{cls.__name__} needs header type {code.name}, not {h.msg_type!r}")
        if type(h.seq) is not int or not 0 <= h.seq <= 0xFFFF:
            raise EncodeError(f"sequence number {h.seq!r} is not in 0..65535")
        tid = h.terminal_id
        if not (isinstance(tid, str) and len(tid) == 8 and tid.isascii() and tid.isprintable()):
            raise EncodeError(f"terminal id {tid!r} is not 8 printable ASCII characters")
        items = self._items(cls, msg)
        for tag, value in msg.extra:
            if type(tag) is not int or not 0 <= tag <= 0xFFFF or not isinstance(value, bytes):
                raise EncodeError(f"extra field {tag!r} is not (tag 0..65535, bytes)")
            if tag in CARD_TAGS:
                raise EncodeError(f"extra field {tag:04X} is a card field")
            items.append((tag, value))
        try:
            return bytes(
                BODY.build(
                    {"msg_type": code, "seq": h.seq, "terminal_id": tid.encode(), "fields": items}
                )
            )
        except (ConstructError, ValueError) as exc:
            raise EncodeError(f"{cls.__name__} does not build: {exc}") from exc

    def _items(self, cls: type, obj: Any) -> list[Tlv]:
        items: list[Tlv] = []
        ctx = self._ctx
        counter = cls is Counter
        for name, tag, mode, enc, nested in self._out[cls]:
            value = obj[0 if name == "name" else 1] if counter else getattr(obj, name)
            if mode == NONE and value is None:
                continue
            if mode == OPT and (value == "" or value == b""):
                continue
            try:
                for v in value if mode == REP else (value,):
                    if enc is None:
                        assert nested is not None  # noqa: S101 - layouts give a kind or a class
                        items.append((tag, build_tlvs(self._items(nested, v))))
                    else:
                        items.append((tag, enc(v, ctx)))
            except EncodeError:
                raise
            except (ValueError, TypeError, AttributeError, IndexError) as exc:
                raise EncodeError(f"{cls.__name__} field {name}: {exc}") from exc
        if cls is JournalRecord and obj.card is not None:
            items.extend(self._card_items(obj.card))
        return items

    def _card_items(self, card: object) -> list[Tlv]:
        if self.dialect is Dialect.MISPOS_1:
            if not isinstance(card, ClearPan):
                raise EncodeError("mispos-1 carries the full card number: a CardRef cannot be sent")
            digits = card.reveal()
            return [(TAG_PAN, bytes.fromhex(digits + "f" * (len(digits) % 2)))]
        if isinstance(card, ClearPan):
            card = card.to_ref(self._key)
        if not isinstance(card, CardRef):
            raise EncodeError("a card is a ClearPan or a CardRef")
        token = card.token
        if len(token) != 32 or token.strip("0123456789abcdef"):
            raise EncodeError("a card token is 32 lowercase hex digits")
        masked = card.masked
        try:
            _check_masked(masked)
        except DecodeError as exc:
            raise EncodeError(str(exc)) from None
        return [(TAG_MASKED, masked.encode("ascii")), (TAG_TOKEN, bytes.fromhex(token))]


def _offset(tlvs: list[Tlv], index: int) -> int:
    """Offset of TLV ``index`` in its list (lengths in their shortest form)."""
    total = 0
    for _, value in tlvs[:index]:
        n = len(value)
        total += 3 + (0 if n < 0x80 else 1 if n < 0x100 else 2)
        total += n
    return total
