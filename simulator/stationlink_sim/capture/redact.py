"""Card-number redaction of captured byte streams, at capture time (redaction ``pan-v1``).

Contract:
- ``mispos-1`` terminals send the full card number in journal records (TLV DF40 inside DF50,
  packed BCD). No capture may hold one, so the recorder passes each direction's bytes through
  a :class:`StreamRedactor` before writing them. Redaction is **length-preserving and
  position-preserving**: output byte *i* stands for input byte *i*, so chunk boundaries and
  times are kept, and only card digits (and check values) change.
- **Valid frames**: every DF40 value is replaced by a *stand-in* number of the same length:
  first 6 and last 4 digits kept, the middle digits drawn from HMAC-SHA256(redaction key,
  number) and one of them set so that the stand-in passes the Luhn check when the original
  does; a stand-in never equals its original. The same number always gets the same stand-in
  within a capture (so "the same card came back" stays visible), different numbers get
  different ones with overwhelming probability. The frame's LRC/CRC is recomputed, so the
  capture stays a valid stream that decodes like the original (masked number unchanged, token
  of the stand-in).
- **Complete frames with a wrong check value** (damaged on the line): the same replacement in
  the body; the check value is recomputed *with the same error* (XOR of the good and the sent
  check value is kept), so the frame stays damaged exactly as it was.
- **Other bytes** (noise, frames broken by inserted or lost bytes): held back until the next
  valid frame has been redacted, then (a) after every DF40 tag with a card-sized length the
  following value bytes except the first three are zeroed, up to 8 bytes beyond the announced
  length (a noise burst is at most 8 bytes), and (b) every run of 5 or more bytes (10 digits)
  that occurs in the packed form of a card number seen in this capture is zeroed. A card
  number whose tag was itself corrupted and whose frame never arrived intact cannot be
  recognised; such a stretch can keep up to the digits it carries (documented limitation).
- The redaction key comes from :mod:`secrets` unless given (tests, seeded fixtures); it is
  never written anywhere, so stand-ins cannot be traced back to the numbers.
- ``sl-2`` frames carry no full number (DF41 masked + DF42 token) and pass unchanged, except
  that a DF40 there is redacted too.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from stationlink.protocol import (
    Deframer,
    Dialect,
    FrameEvent,
    LinkByte,
    Rejected,
    Transport,
    build_frame,
    crc16_ccitt_false,
    lrc,
)

TAG_RECORD = 0xDF50
TAG_PAN = 0xDF40
_PAN_TAG = re.compile(b"\\xdf\\x40[\\x06-\\x0a]")
NOISE_SLACK = 8
MIN_RUN = 5


def _luhn_sum(digits: str) -> int:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total


def luhn_ok(digits: str) -> bool:
    return digits.isdigit() and _luhn_sum(digits) % 10 == 0


def stand_in(digits: str, key: bytes) -> str:
    """The stand-in of card number ``digits`` (see the module docstring)."""
    head, tail, middle_len = digits[:6], digits[-4:], len(digits) - 10
    keep_luhn = luhn_ok(digits)
    for attempt in range(100):
        mac = hmac.new(key, f"{attempt}:{digits}".encode("ascii"), hashlib.sha256).digest()
        middle = [str(b % 10) for b in mac[:middle_len]]
        if keep_luhn:
            # the last middle digit is 4th from the right end (0-based): not doubled by
            # Luhn, so it adds itself to the sum; set it to make the sum a multiple of 10
            middle[-1] = "0"
            middle[-1] = str(-_luhn_sum(head + "".join(middle) + tail) % 10)
        candidate = head + "".join(middle) + tail
        if candidate != digits:
            return candidate
    raise ValueError("no stand-in found")  # pragma: no cover - needs 100 HMAC collisions


class PanBook:
    """Stand-ins of the card numbers seen in one capture (kept in memory only)."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)
        self._stand_ins: dict[str, str] = {}
        self.originals: list[bytes] = []  # packed forms, to scrub damaged stretches
        self.redacted = 0  # card fields replaced

    def replace(self, digits: str) -> str:
        out = self._stand_ins.get(digits)
        if out is None:
            out = stand_in(digits, self._key)
            self._stand_ins[digits] = out
            self.originals.append(_pack(digits))
        self.redacted += 1
        return out


def _pack(digits: str) -> bytes:
    return bytes.fromhex(digits + "f" * (len(digits) % 2))


def _pan_digits(raw: bytes | bytearray) -> str | None:
    digits = bytes(raw).hex().rstrip("f")
    if digits.isdigit() and 12 <= len(digits) <= 19 and len(raw) == (len(digits) + 1) // 2:
        return digits
    return None


def _walk(buf: bytearray, start: int, end: int, book: PanBook) -> bool:
    """Redact DF40 values in the TLV list ``buf[start:end]`` in place; False if malformed."""
    i = start
    while i < end:
        if end - i < 3:
            return False
        tag = (buf[i] << 8) | buf[i + 1]
        length = buf[i + 2]
        vs = i + 3
        if length >= 0x80:
            k = length - 0x80
            if k not in (1, 2) or vs + k > end:
                return False
            length = int.from_bytes(buf[vs : vs + k], "big")
            vs += k
        ve = vs + length
        if ve > end:
            return False
        if tag == TAG_RECORD:
            if not _walk(buf, vs, ve, book):
                return False
        elif tag == TAG_PAN:
            digits = _pan_digits(buf[vs:ve])
            if digits is None:
                buf[vs:ve] = bytes(ve - vs)  # not a card number we understand: zero it
                book.redacted += 1
            else:
                buf[vs:ve] = _pack(book.replace(digits))
        i = ve
    return True


def scrub_loose(region: bytearray, book: PanBook) -> None:
    """Zero card digits in bytes outside valid frames (rules (a) and (b) above)."""
    for m in _PAN_TAG.finditer(bytes(region)):
        length = region[m.end() - 1]
        start = m.end() + 3
        stop = min(m.end() + length + NOISE_SLACK, len(region))
        if start < stop:
            region[start:stop] = bytes(stop - start)
            book.redacted += 1
    if not book.originals or len(region) < MIN_RUN:
        return
    windows = {p[i : i + MIN_RUN] for p in book.originals for i in range(len(p) - MIN_RUN + 1)}
    data = bytes(region)
    for j in range(len(data) - MIN_RUN + 1):
        if data[j : j + MIN_RUN] in windows:
            region[j : j + MIN_RUN] = bytes(MIN_RUN)


class StreamRedactor:
    """One direction of one connection: bytes in, the same number of redacted bytes out.

    ``feed`` returns the bytes that are final (a prefix of the redacted stream, continuing
    where the last call stopped); ``finish`` returns the rest at the end of the connection.
    """

    def __init__(self, dialect: Dialect, transport: Transport, book: PanBook) -> None:
        self.dialect = Dialect(dialect)
        self.transport = Transport(transport)
        self.book = book
        self._deframer = Deframer(self.dialect, self.transport)
        self._pending = bytearray()  # stream bytes not yet classified
        self._held = bytearray()  # classified loose bytes waiting for the next frame
        self._check_len = (1 if self.dialect is Dialect.MISPOS_1 else 2) if (
            self.transport is Transport.SERIAL
        ) else 0

    def feed(self, data: bytes) -> bytes:
        self._pending += data
        return self._consume(self._deframer.feed(data))

    def finish(self) -> bytes:
        events: list[FrameEvent | LinkByte | Rejected] = [*self._deframer.expire()]
        events += self._deframer.close()
        out = self._consume(events)
        scrub_loose(self._held, self.book)
        out += bytes(self._held)
        self._held.clear()
        return out

    def _take(self, n: int) -> bytearray:
        piece = self._pending[:n]
        del self._pending[:n]
        return piece

    def _consume(self, events: list[FrameEvent | LinkByte | Rejected]) -> bytes:
        out = bytearray()
        for ev in events:
            if isinstance(ev, FrameEvent):
                raw = self._take(len(ev.raw))
                frame = self._frame(bytes(raw), ev.body)
            elif isinstance(ev, LinkByte):
                self._held += self._take(1)
                continue
            elif ev.checksum_failed:
                frame = self._damaged(bytes(self._take(ev.length)))
            else:
                self._held += self._take(ev.length)
                continue
            scrub_loose(self._held, self.book)
            out += self._held
            self._held.clear()
            out += frame
        return bytes(out)

    def _body_redacted(self, body: bytes) -> bytes:
        buf = bytearray(body)
        if not _walk(buf, 11, len(buf), self.book):
            buf = bytearray(body)
            scrub_loose(buf, self.book)
        return bytes(buf)

    def _frame(self, raw: bytes, body: bytes) -> bytes:
        new_body = self._body_redacted(body)
        if new_body == body:
            return raw
        return build_frame(new_body, self.dialect, self.transport)

    def _damaged(self, raw: bytes) -> bytes:
        """A complete serial frame with a wrong check value: redact, keep the error."""
        ck = self._check_len
        body = raw[3 : len(raw) - 1 - ck]
        new_body = self._body_redacted(body)
        if new_body == body:
            return raw
        old_checked, new_checked = raw[1 : len(raw) - ck], raw[1:3] + new_body + raw[-1 - ck:-ck]
        sent = raw[len(raw) - ck :]
        if ck == 1:
            check = bytes((lrc(new_checked) ^ lrc(old_checked) ^ sent[0],))
        else:
            error = crc16_ccitt_false(old_checked) ^ int.from_bytes(sent, "big")
            check = (crc16_ccitt_false(new_checked) ^ error).to_bytes(2, "big")
        return raw[:3] + new_body + raw[-1 - ck : -ck] + check


__all__ = ["PanBook", "StreamRedactor", "luhn_ok", "scrub_loose", "stand_in"]
