"""Message codec: dataclasses <-> body bytes, for one dialect, with card handling.

Contract:
- ``Codec(dialect, card_key).encode(msg)`` returns the body (header + TLV list, see
  :mod:`stationlink.protocol._tlv`); values the wire cannot carry raise :class:`EncodeError`.
  Known fields go out in layout order (:mod:`stationlink.protocol._layouts`), then ``extra``.
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
- ``EncodeError`` and ``UnknownMessageTypeError`` live in :mod:`stationlink.errors` and are
  re-exported here.

How it runs: each codec prepares, once, a :class:`_Reader` per class from the layouts (tag ->
constructor argument slot and value decoder), so decoding is one pass over the TLV list
filling the positional arguments, then one constructor call; encoding walks a per-class table
of (field, tag, mode, value encoder).

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

from ..errors import DecodeError, EncodeError, UnknownMessageTypeError
from ._fields import Ctx
from ._layouts import (
    CARD_TAGS,
    LAYOUTS,
    NONE,
    OPT,
    REP,
    REQ,
    TAG_MASKED,
    TAG_PAN,
    TAG_TOKEN,
    Counter,
    F,
)
from ._tlv import HEADER_SIZE, Tlv, build_body, build_tlvs, parse_body, parse_tlvs
from .messages import (
    CLASS_OF,
    TYPE_OF,
    CardRef,
    ClearPan,
    Dialect,
    Header,
    JournalRecord,
    Message,
    MsgType,
    card_token,
    mask_pan,
    message_fields,
)

__all__ = ["Codec", "EncodeError", "UnknownMessageTypeError", "peek_header"]

_HEAD = struct.Struct(">BH8s")
_MSG_TYPES = {int(t): t for t in MsgType}
_MISSING: Any = object()  # a constructor argument not decoded (yet)

Decoder = Callable[[bytes, Ctx], Any]
# writer row: name, tag, mode, value encoder (None for a nested record), nested record class
_Out = tuple[str, int, str, Callable[[Any, Ctx], bytes] | None, type | None]


def _tid(raw: bytes) -> str:
    if raw.isascii():
        tid = raw.decode("ascii")
        if tid.isprintable():
            return tid
    raise DecodeError("terminal id (body offset 3) is not 8 printable ASCII characters")


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


def _card(cards: dict[int, bytes], card_key: bytes) -> CardRef:
    """The card of a journal record from its card fields (DF40, or DF41 + DF42)."""
    pan = cards.get(TAG_PAN)
    if pan is not None:
        if len(cards) > 1:
            raise DecodeError("journal record carries both a card number and a masked card")
        digits = _pan_digits(pan)
        return CardRef(mask_pan(digits), card_token(digits, card_key))
    masked_raw, token_raw = cards.get(TAG_MASKED), cards.get(TAG_TOKEN)
    if masked_raw is None or token_raw is None or len(token_raw) != 16:
        raise DecodeError("a card needs DF41 (masked) and DF42 (16-byte token)")
    if not masked_raw.isascii():
        raise DecodeError("masked card field DF41 is not ASCII")
    masked = masked_raw.decode("ascii")
    _check_masked(masked)
    return CardRef(masked, token_raw.hex())


def _offset(tlvs: list[Tlv], item: Tlv) -> int:
    """Offset of ``item`` (by identity) in its TLV list, lengths in their shortest form."""
    total = 0
    for other in tlvs:
        if other is item:
            break
        n = len(other[1])
        total += 3 + (0 if n < 0x80 else 1 if n < 0x100 else 2) + n
    return total


class _Reader:
    """How one codec decodes one class.

    ``steps`` maps a tag to ``(slot, decoder, repeated)``: the slot is the position of the
    field among the constructor's arguments (a message's header first, ``extra`` last), and
    a nested record's decoder is the :meth:`nested` method of that record's reader.
    """

    def __init__(self, cls: type, layout: tuple[F, ...], ctx: Ctx, card_key: bytes) -> None:
        self.ctx = ctx
        self.card_key = card_key
        self.cls = cls
        self.layout = layout
        self.top = cls in TYPE_OF  # a message (header, extra) rather than a nested record
        params = () if cls is Counter else message_fields(cls)
        names = [f.name for f in layout] if cls is Counter else [p.name for p in params]
        self.slot = {name: i for i, name in enumerate(names)}
        self.field_at = {self.slot[f.name]: f for f in layout}
        self.blank: list[Any] = [_MISSING] * len(names)
        self.steps: dict[int, tuple[int, Decoder, bool]] = {}
        self.required = tuple((self.slot[f.name], f) for f in layout if f.mode == REQ)
        self.repeated = tuple(self.slot[f.name] for f in layout if f.mode == REP)
        modes = {f.name: f.mode for f in layout}
        # absent -> default: NONE fields None, the others (OPT, a record's card) as declared
        self.fill = tuple(
            (i, None if modes.get(p.name) == NONE else p.default)
            for i, p in enumerate(params)
            if modes.get(p.name, OPT) in (OPT, NONE) and p.name not in ("header", "extra")
        )
        self.card_slot = self.slot.get("card", -1)
        self.extra_slot = len(names) - 1

    def link(self, readers: dict[type, _Reader]) -> None:
        """Fill ``steps`` once every class has a reader (nested records use theirs)."""
        for f in self.layout:
            if f.nested is not None:
                dec: Decoder = readers[f.nested].nested
            else:
                assert f.kind is not None  # noqa: S101 - layouts give a kind or a class
                dec = f.kind.dec
            self.steps[f.tag] = (self.slot[f.name], dec, f.mode == REP)

    def values(self, tlvs: list[Tlv], base: int, header: Header | None = None) -> list[Any]:
        """The constructor arguments from a TLV list; ``base``: body offset of the list."""
        vals = self.blank.copy()
        steps, ctx = self.steps, self.ctx
        extra: list[Tlv] = []
        cards: dict[int, bytes] | None = None
        for item in tlvs:
            tag, raw = item
            step = steps.get(tag)
            if step is None:
                if tag in CARD_TAGS:
                    cards = self._card_part(cards, tag, raw)
                elif self.top:
                    extra.append(item)
                continue
            slot, dec, rep = step
            try:
                value = dec(raw, ctx)
            except (ValueError, DecodeError) as exc:
                raise DecodeError(
                    f"{self.cls.__name__} field {tag:04X} ({self.field_at[slot].name}) at body "
                    f"offset {base + _offset(tlvs, item)}: {exc}"
                ) from None
            if rep:
                if vals[slot] is _MISSING:
                    vals[slot] = [value]
                else:
                    vals[slot].append(value)
            elif vals[slot] is _MISSING:
                vals[slot] = value
            else:
                raise DecodeError(
                    f"{self.cls.__name__}: field {tag:04X} ({self.field_at[slot].name}) repeated"
                )
        for slot in self.repeated:
            vals[slot] = () if vals[slot] is _MISSING else tuple(vals[slot])
        for slot, default in self.fill:
            if vals[slot] is _MISSING:
                vals[slot] = default
        if self.top:
            vals[0] = header
            vals[self.extra_slot] = tuple(extra)
        if _MISSING in vals:  # only required fields can be left unset here
            f = next(f for slot, f in self.required if vals[slot] is _MISSING)
            raise DecodeError(f"{self.cls.__name__}: required field {f.tag:04X} ({f.name}) missing")
        if cards:
            vals[self.card_slot] = _card(cards, self.card_key)
        return vals

    def _card_part(self, cards: dict[int, bytes] | None, tag: int, raw: bytes) -> dict[int, bytes]:
        name = self.cls.__name__
        if self.cls is not JournalRecord:
            raise DecodeError(f"{name}: card field {tag:04X} outside a journal record")
        if cards is None:
            cards = {}
        elif tag in cards:
            raise DecodeError(f"{name}: card field {tag:04X} repeated")
        cards[tag] = raw
        return cards

    def nested(self, raw: bytes, ctx: Ctx) -> Any:
        """Decoder of a nested record's TLV value (the ``dec`` of its parent's step)."""
        vals = self.values(parse_tlvs(raw, 0), 0)
        if self.cls is Counter:
            return (vals[0], vals[1])
        return self.cls(*vals)


class Codec:
    """Encoder/decoder of message bodies for one dialect."""

    def __init__(self, dialect: Dialect, card_key: bytes) -> None:
        if not isinstance(card_key, bytes) or not card_key:
            raise ValueError("card_key must be non-empty bytes")
        self.dialect = Dialect(dialect)
        self._key = card_key
        self._ctx = Ctx("gb18030" if self.dialect is Dialect.MISPOS_1 else "utf-8")
        readers = {
            cls: _Reader(cls, layout, self._ctx, card_key) for cls, layout in LAYOUTS.items()
        }
        for reader in readers.values():
            reader.link(readers)
        self._readers = {code: readers[cls] for code, cls in CLASS_OF.items()}
        self._out: dict[type, tuple[_Out, ...]] = {
            cls: tuple((f.name, f.tag, f.mode, None if f.kind is None else f.kind.enc, f.nested)
                       for f in layout)
            for cls, layout in LAYOUTS.items()
        }

    # ------------------------------------------------------------------ decoding

    def decode(self, body: bytes) -> Message:
        raw_type, seq, tid = peek_header(body)
        reader = self._readers.get(raw_type)
        if reader is None:
            header = Header(cast(MsgType, raw_type), seq, tid)
            raise UnknownMessageTypeError(f"unknown message type {raw_type:#04x}", header)
        try:
            tlvs: list[Tlv] = parse_body(body)["fields"]
        except ConstructError as exc:
            raise DecodeError(f"{reader.cls.__name__}: body does not parse: {exc}") from exc
        vals = reader.values(tlvs, HEADER_SIZE, Header(_MSG_TYPES[raw_type], seq, tid))
        extra = vals.pop()  # keyword-only, last in message_fields
        return cast(Message, reader.cls(*vals, extra=extra))

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
            return build_body(
                {"msg_type": code, "seq": h.seq, "terminal_id": tid.encode(), "fields": items}
            )
        except (ConstructError, ValueError) as exc:
            raise EncodeError(f"{cls.__name__} does not build: {exc}") from exc

    def _items(self, cls: type, obj: Any) -> list[Tlv]:
        items: list[Tlv] = []
        append = items.append
        ctx = self._ctx
        counter = cls is Counter
        for name, tag, mode, enc, nested in self._out[cls]:
            value = obj[0 if name == "name" else 1] if counter else getattr(obj, name)
            if mode != REQ:
                if mode == NONE and value is None:
                    continue
                if mode == OPT and (value == "" or value == b""):
                    continue
            try:
                for v in value if mode == REP else (value,):
                    if enc is None:
                        assert nested is not None  # noqa: S101 - layouts give a kind or a class
                        append((tag, build_tlvs(self._items(nested, v))))
                    else:
                        append((tag, enc(v, ctx)))
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
