"""The monitor's decoding core: bytes seen on a link (both directions) to trace items (sans-I/O).

Contract:
- :class:`Tracer` is fed what a passive observer sees: ``feed(direction, when, data)`` with
  ``direction`` ``"h2t"`` (PC→terminal) or ``"t2h"`` (terminal→PC), ``when`` an aware
  ``datetime`` of the read; ``event(direction, when, "open" | "close")`` for TCP
  connections; ``finish(when)`` at the end of input. Each call returns the
  :class:`TraceItem` s it completes, in stream order per direction. It never sends,
  never raises on input bytes, and uses only :mod:`stationlink.protocol`'s public face
  (``Deframer``, ``Codec``, ``peek_header``, ``to_json``).
- Item kinds: ``frame`` (a valid frame whose body decodes: ``message``), ``undecodable``
  (a valid frame whose body does not decode: ``error``, header when readable), ``link``
  (``ACK``/``NAK``/``EOT``, serial), ``bad_check`` (a complete serial frame whose LRC/CRC
  is wrong: the receiver NAKs it), ``garbage`` (bytes that do not frame), ``event``
  (a TCP connection opened/closed). ``checksum`` is ``"ok"`` for a serial frame whose check
  value was verified, ``"bad"`` for ``bad_check``, ``""`` on TCP (no check value).
- Retransmission marks: a frame whose exact bytes were already seen in the same direction
  on the same connection (same seq, same bytes) is marked ``retransmit``; the memory holds
  the last 256 frames of each direction.
- Dialect: given, or detected passively: until one is known, bytes are kept and fed to a
  deframer of each dialect; the first dialect in which a *terminal→PC* frame both frames and
  decodes wins (the link's traffic is then replayed through it, nothing is lost). The PC's
  frames do not decide: a PC probes with an ``sl-2`` IDENTIFY first (docs/protocol.md §2.5),
  a valid ``sl-2`` frame even on a ``mispos-1`` line. Without any terminal frame (at
  ``finish``, or after 256 KiB), the dialect in which more PC frames decode is taken (``sl-2``
  on a tie). The protocol's :class:`~stationlink.protocol.DialectDetector` is not used
  because it *sends* IDENTIFY probes, which a monitor must never do.
- Cards: the codec masks and tokenises any card at decode time; items carry the decoded
  message (``CardRef``), never a full number. An item's bytes (``raw``, kept in memory for
  the retransmission marks) are only ever shown through :func:`masked_hex`.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import ProtocolError
from ..money import to_cst
from ..protocol import (
    Codec,
    Deframer,
    Dialect,
    FrameEvent,
    LinkByte,
    Message,
    Rejected,
    Transport,
    peek_header,
    to_json,
)

H2T, T2H = "h2t", "t2h"
DIRECTIONS = (H2T, T2H)
LINK_NAMES = {0x06: "ACK", 0x15: "NAK", 0x04: "EOT"}
_REMEMBERED = 256
_UNDETECTED_LIMIT = 256 * 1024  # bytes kept per direction while the dialect is unknown


_DF40 = re.compile(rb"\xdf\x40([\x06-\x0a])", re.DOTALL)


def masked_hex(raw: bytes, sep: str = "") -> str:
    """``raw`` as hex with the digits of every full card number hidden: after each ``DF40``
    tag with a card-sized length (6..10 bytes of packed BCD, a ``mispos-1`` journal record),
    only the first 3 bytes (6 digits) and the last 2 (at most 4 digits) are shown, the bytes
    between as ``**``. Applied to every item, frames and skipped bytes alike. (A card whose
    tag itself was damaged on the line cannot be recognised: such a stretch is shown as it
    came.)"""
    cells = [f"{b:02x}" for b in raw]
    for m in _DF40.finditer(raw):
        start, length = m.end(), m.group(1)[0]
        for i in range(start + 3, min(start + length - 2, len(raw))):
            cells[i] = "**"
        if start + length > len(raw):  # cut short: hide what there is after the 6 digits
            for i in range(start + 3, len(raw)):
                cells[i] = "**"
    return sep.join(cells)


@dataclass(frozen=True, slots=True)
class TraceItem:
    """One line of the trace (see the module docstring for the kinds)."""

    when: datetime
    direction: str
    kind: str
    offset: int = 0
    raw: bytes = b""
    message: Message | None = None
    header: tuple[int, int, str] | None = None  # (type code, seq, terminal id)
    error: str = ""
    checksum: str = ""
    retransmit: bool = False
    link: str = ""
    event: str = ""
    connection: int = 0

    def hex(self, sep: str = "") -> str:
        """The item's bytes as hex, card digits hidden (:func:`masked_hex`)."""
        return masked_hex(self.raw, sep)

    def to_json(self) -> dict[str, Any]:
        """A JSON object of the item (``--json``): time (CST, ms), direction, kind, connection,
        stream offset, length and hex of its bytes, link code, checksum verdict, and for a
        frame the retransmission mark and the message in the protocol's JSON form (a card as
        masked number and token only)."""
        out: dict[str, Any] = {
            "time": to_cst(self.when).isoformat(timespec="milliseconds"),
            "direction": self.direction, "kind": self.kind, "connection": self.connection,
        }
        if self.kind == "event":
            out["event"] = self.event
            return out
        out["offset"] = self.offset
        out["length"] = len(self.raw)
        out["hex"] = self.hex()
        if self.link:
            out["link"] = self.link
        if self.checksum:
            out["checksum"] = self.checksum
        if self.kind == "frame":
            out["retransmit"] = self.retransmit
            out["message"] = to_json(self.message)
        if self.header is not None:
            out["header"] = {"type": self.header[0], "seq": self.header[1],
                             "terminal_id": self.header[2]}
        if self.error:
            out["error"] = self.error
        return out


@dataclass(slots=True)
class _Direction:
    deframer: Deframer
    times: list[tuple[int, datetime]] = field(default_factory=list)  # (end offset, when)
    fed: int = 0
    buf: bytearray = field(default_factory=bytearray)  # bytes from offset ``base`` on
    base: int = 0
    seen: OrderedDict[bytes, None] = field(default_factory=OrderedDict)

    def bytes_at(self, offset: int, length: int) -> bytes:
        start = offset - self.base
        return bytes(self.buf[start:start + length])

    def forget_before(self, offset: int) -> None:
        """Drop the bytes and read times wholly before ``offset``."""
        if offset > self.base:
            del self.buf[:offset - self.base]
            self.base = offset
        self.times = [t for t in self.times if t[0] > offset] or self.times[-1:]

    def when_at(self, offset: int, default: datetime) -> datetime:
        """The time of the read that delivered the byte at ``offset``."""
        for end, when in self.times:
            if offset < end:
                return when
        return default


class Tracer:
    """Turns a link's bytes into trace items (see the module docstring)."""

    def __init__(self, dialect: Dialect | None, transport: Transport, card_key: bytes,
                 connection: int = 0) -> None:
        self.transport = transport
        self.card_key = card_key
        self.connection = connection
        self.dialect: Dialect | None = None
        self._pending: list[tuple[str, str, datetime, bytes]] = []  # (op, dir, when, data)
        self._pending_bytes = 0
        self._probes: dict[Dialect, dict[str, Deframer]] = {}
        self._host_frames = {Dialect.SL_2: 0, Dialect.MISPOS_1: 0}
        self._dirs: dict[str, _Direction] = {}
        self._codec: Codec | None = None
        if dialect is not None:
            self._choose(dialect)
        else:
            self._probes = {d: {x: Deframer(d, transport) for x in DIRECTIONS}
                            for d in (Dialect.SL_2, Dialect.MISPOS_1)}

    # ----------------------------------------------------------------- public

    def feed(self, direction: str, when: datetime, data: bytes) -> list[TraceItem]:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
        if not data:
            return []
        if self.dialect is None:
            return self._feed_undetected(direction, when, data)
        return self._feed(direction, when, data)

    def event(self, direction: str, when: datetime, name: str) -> list[TraceItem]:
        """A TCP connection opened or closed: what the old connection left is reported
        and the streams start afresh."""
        if self.dialect is None:
            self._pending.append(("event", direction, when, name.encode()))
            # a new connection is a new pair of streams for the probing deframers too
            self._probes = {d: {x: Deframer(d, self.transport) for x in DIRECTIONS}
                            for d in self._probes}
            return []
        return self._event(direction, when, name)

    def idle(self, when: datetime) -> list[TraceItem]:
        """The line has been idle (serial receive idle timer, 0.5 s): give up incomplete
        frame starts and report what follows them (the streams go on). Serial only: on TCP a
        frame may take its time, nothing is given up."""
        if self.dialect is None or self.transport is Transport.TCP:
            return []
        out: list[TraceItem] = []
        for direction in DIRECTIONS:
            out += self._items(direction, self._dirs[direction].deframer.expire(), when)
        return out

    def finish(self, when: datetime) -> list[TraceItem]:
        """End of input: give up incomplete frames and report what is left."""
        if self.dialect is None:
            out = self._choose(self._best_guess())
            return out + self._flush(when)
        return self._flush(when)

    # --------------------------------------------------------------- detection

    def _feed_undetected(self, direction: str, when: datetime, data: bytes) -> list[TraceItem]:
        self._pending.append(("data", direction, when, data))
        self._pending_bytes += len(data)
        for dialect, deframers in self._probes.items():
            codec = Codec(dialect, self.card_key)
            for ev in deframers[direction].feed(data):
                if isinstance(ev, FrameEvent) and _decodes(codec, ev.body):
                    if direction == T2H:  # the terminal answers in its own dialect only
                        return self._choose(dialect)
                    self._host_frames[dialect] += 1
        if self._pending_bytes > _UNDETECTED_LIMIT:
            return self._choose(self._best_guess())
        return []

    def _best_guess(self) -> Dialect:
        """No terminal frame yet: the dialect in which the PC's frames decode (sl-2 on a tie)."""
        return max((Dialect.SL_2, Dialect.MISPOS_1), key=lambda d: self._host_frames[d])

    def _choose(self, dialect: Dialect) -> list[TraceItem]:
        self.dialect = dialect
        self._codec = Codec(dialect, self.card_key)
        self._probes = {}
        self._reset_streams()
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        out: list[TraceItem] = []
        for op, direction, when, data in pending:
            if op == "data":
                out += self._feed(direction, when, data)
            else:
                out += self._event(direction, when, data.decode())
        return out

    # ----------------------------------------------------------------- decoding

    def _reset_streams(self) -> None:
        assert self.dialect is not None  # noqa: S101 - chosen before
        self._dirs = {x: _Direction(Deframer(self.dialect, self.transport)) for x in DIRECTIONS}

    def _feed(self, direction: str, when: datetime, data: bytes) -> list[TraceItem]:
        d = self._dirs[direction]
        d.fed += len(data)
        d.times.append((d.fed, when))
        d.buf += data
        return self._items(direction, d.deframer.feed(data), when)

    def _event(self, direction: str, when: datetime, name: str) -> list[TraceItem]:
        out = self._flush(when)
        out.append(TraceItem(when, direction, "event", event=name, connection=self.connection))
        return out

    def _flush(self, when: datetime) -> list[TraceItem]:
        out: list[TraceItem] = []
        for direction in DIRECTIONS:
            d = self._dirs[direction]
            out += self._items(direction, [*d.deframer.expire(), *d.deframer.close()], when)
        self._reset_streams()
        return out

    def _items(self, direction: str, events: list[Any], default: datetime) -> list[TraceItem]:
        d = self._dirs[direction]
        out: list[TraceItem] = []
        for ev in events:
            when = d.when_at(ev.offset, default)
            base = {"when": when, "direction": direction, "offset": ev.offset,
                    "connection": self.connection}
            if isinstance(ev, LinkByte):
                out.append(TraceItem(kind="link", raw=bytes([ev.code]),
                                     link=LINK_NAMES.get(ev.code, hex(ev.code)), **base))
            elif isinstance(ev, Rejected):
                raw = d.bytes_at(ev.offset, ev.length)
                if ev.checksum_failed:
                    out.append(TraceItem(kind="bad_check", checksum="bad",
                                         error=ev.reason, raw=raw, **base))
                else:
                    out.append(TraceItem(kind="garbage", error=ev.reason, raw=raw, **base))
            else:
                out.append(self._frame(d, ev, base))
        if events:
            last = events[-1]
            size = last.length if isinstance(last, Rejected) else (
                1 if isinstance(last, LinkByte) else len(last.raw))
            d.forget_before(last.offset + size)
        return out

    def _frame(self, d: _Direction, ev: FrameEvent, base: dict[str, Any]) -> TraceItem:
        assert self._codec is not None  # noqa: S101 - chosen before decoding
        checksum = "ok" if self.transport is Transport.SERIAL else ""
        retransmit = ev.raw in d.seen
        d.seen[ev.raw] = None
        d.seen.move_to_end(ev.raw)
        while len(d.seen) > _REMEMBERED:
            d.seen.popitem(last=False)
        try:
            header: tuple[int, int, str] | None = peek_header(ev.body)
        except ProtocolError:
            header = None
        try:
            message = self._codec.decode(ev.body)
        except ProtocolError as exc:
            return TraceItem(kind="undecodable", raw=ev.raw, header=header, error=str(exc),
                             checksum=checksum, retransmit=retransmit, **base)
        return TraceItem(kind="frame", raw=ev.raw, message=message, header=header,
                         checksum=checksum, retransmit=retransmit, **base)


def _decodes(codec: Codec, body: bytes) -> bool:
    try:
        codec.decode(body)
    except ProtocolError:
        return False
    return True


__all__ = ["DIRECTIONS", "H2T", "LINK_NAMES", "T2H", "TraceItem", "Tracer", "masked_hex"]
