"""Turn a capture into a replay script: what the host must send, what the terminal sends back.

Contract:
- :class:`HostScanner` cuts the host's byte stream into tokens: frames (in **either**
  dialect: a host probes ``sl-2`` before ``mispos-1``), link bytes (serial ACK/NAK/EOT) and
  garbage stretches. The same scanner reads the captured host bytes and the live host bytes,
  so both are cut alike. Host bytes are clean (recorded on the host's side of the line), so
  a frame start that cannot complete is only given up at ``flush()`` (end of input / idle).
- The terminal's bytes are cut into **units** with the capture dialect's
  :class:`~stationlink.protocol.Deframer`: valid frames (rewritten at replay time),
  link bytes, damaged frames and noise (sent byte for byte).
- :func:`build_script` gives the steps in capture order, per TCP connection: ``Expect``
  (a host token, placed at the chunk holding its last byte), ``Send`` (one terminal chunk,
  as segments of units, so the original chunk boundaries are kept), ``HostOpen`` /
  ``HostClose`` (the host connects / closes) and ``TermClose`` (the terminal closed). A
  send is due once every earlier expectation is met.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stationlink.capture import H2T, T2H, Capture, Chunk
from stationlink.errors import SimulatorError
from stationlink.protocol import (
    ACK,
    EOT,
    ETX,
    MAX_BODY,
    MIN_BODY,
    NAK,
    STX,
    Deframer,
    Dialect,
    FrameEvent,
    LinkByte,
    Transport,
    bcd_decode,
    crc16_ccitt_false,
    lrc,
)

_LINK = frozenset({ACK, NAK, EOT})
_OTHER = {Dialect.MISPOS_1: Dialect.SL_2, Dialect.SL_2: Dialect.MISPOS_1}
_NEED, _NO = -1, 0


@dataclass(frozen=True, slots=True)
class Token:
    """One host token. ``kind``: ``frame`` / ``link`` / ``garbage``; ``offset`` in its stream."""

    kind: str
    raw: bytes
    offset: int
    dialect: Dialect | None = None
    body: bytes = b""

    @property
    def end(self) -> int:
        return self.offset + len(self.raw)


def _frame_len(buf: bytes | bytearray, i: int, dialect: Dialect, transport: Transport) -> int:
    """Length of a valid frame of ``dialect`` at ``buf[i]``; _NEED: more bytes; _NO: none."""
    n = len(buf)
    if transport is Transport.SERIAL:
        if buf[i] != STX:
            return _NO
        if n < i + 3:
            return _NEED
        if dialect is Dialect.MISPOS_1:
            length = bcd_decode(bytes(buf[i + 1 : i + 3]))
            check = 1
        else:
            length, check = (buf[i + 1] << 8) | buf[i + 2], 2
        if length is None or not MIN_BODY <= length <= MAX_BODY:
            return _NO
        end = i + 3 + length + 1 + check
        if n < end:
            return _NEED
        if buf[end - 1 - check] != ETX:
            return _NO
        checked = bytes(buf[i + 1 : end - check])
        if check == 1:
            good = lrc(checked) == buf[end - 1]
        else:
            good = crc16_ccitt_false(checked) == (buf[end - 2] << 8) | buf[end - 1]
        return end - i if good else _NO
    plen = 4 if dialect is Dialect.MISPOS_1 else 2
    if n < i + plen:
        head = bytes(buf[i:n])
        if dialect is Dialect.MISPOS_1 and not head.isdigit() and head:
            return _NO
        return _NEED
    if dialect is Dialect.MISPOS_1:
        head = bytes(buf[i : i + 4])
        if not head.isdigit():
            return _NO
        length = int(head)
    else:
        length = (buf[i] << 8) | buf[i + 1]
    if not MIN_BODY <= length <= MAX_BODY:
        return _NO
    return plen + length if n >= i + plen + length else _NEED


class HostScanner:
    """Cuts a host byte stream into tokens (see the module docstring)."""

    def __init__(self, dialect: Dialect, transport: Transport) -> None:
        self.order = (Dialect(dialect), _OTHER[Dialect(dialect)])
        self.transport = Transport(transport)
        self._buf = bytearray()
        self._base = 0
        self._garbage_start = -1

    def feed(self, data: bytes) -> list[Token]:
        self._buf += data
        return self._scan(final=False)

    def flush(self) -> list[Token]:
        return self._scan(final=True)

    def _scan(self, final: bool) -> list[Token]:
        out: list[Token] = []
        buf, i = self._buf, 0
        g = self._garbage_start - self._base if self._garbage_start >= 0 else -1
        while i < len(buf):
            found, waiting = 0, False
            for dialect in self.order:
                n = _frame_len(buf, i, dialect, self.transport)
                if n > 0:
                    found = n
                    break
                if n == _NEED:
                    waiting = True
            if found:
                if g >= 0:
                    out.append(Token("garbage", bytes(buf[g:i]), self._base + g))
                    g = -1
                raw = bytes(buf[i : i + found])
                body = raw[3 : found - (2 if dialect is Dialect.MISPOS_1 else 3)] if (
                    self.transport is Transport.SERIAL
                ) else raw[(4 if dialect is Dialect.MISPOS_1 else 2) :]
                out.append(Token("frame", raw, self._base + i, dialect, body))
                i += found
                continue
            if waiting and not final:
                break
            if self.transport is Transport.SERIAL and buf[i] in _LINK:
                if g >= 0:
                    out.append(Token("garbage", bytes(buf[g:i]), self._base + g))
                    g = -1
                out.append(Token("link", bytes(buf[i : i + 1]), self._base + i))
            elif g < 0:
                g = i
            i += 1
        if final and g >= 0:
            out.append(Token("garbage", bytes(buf[g:i]), self._base + g))
            g = -1
        keep = g if g >= 0 else i
        del buf[:keep]
        self._base += keep
        self._garbage_start = self._base if g >= 0 else -1
        return out


@dataclass(frozen=True, slots=True)
class Unit:
    """One piece of the terminal's stream: a valid frame (``body`` set) or raw bytes."""

    raw: bytes
    offset: int
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class Expect:
    token: Token
    chunk: Chunk
    connection: int


@dataclass(frozen=True, slots=True)
class Send:
    chunk: Chunk
    segments: tuple[tuple[int, int, int], ...]  # (unit index, start, end) within the unit
    connection: int


@dataclass(frozen=True, slots=True)
class HostOpen:
    chunk: Chunk
    connection: int


@dataclass(frozen=True, slots=True)
class HostClose:
    chunk: Chunk
    connection: int


@dataclass(frozen=True, slots=True)
class TermClose:
    chunk: Chunk
    connection: int


Step = Expect | Send | HostOpen | HostClose | TermClose


@dataclass
class Script:
    dialect: Dialect
    transport: Transport
    steps: list[Step] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)


def _units(data: bytes, dialect: Dialect, transport: Transport, base: int) -> list[Unit]:
    deframer = Deframer(dialect, transport)
    events = [*deframer.feed(data), *deframer.expire(), *deframer.close()]
    out: list[Unit] = []
    for ev in events:
        if isinstance(ev, FrameEvent):
            out.append(Unit(ev.raw, base + ev.offset, ev.body))
        else:
            length = 1 if isinstance(ev, LinkByte) else ev.length
            out.append(Unit(data[ev.offset : ev.offset + length], base + ev.offset))
    return out


def _connection(
    script: Script, chunks: list[Chunk], number: int
) -> None:
    """Add the steps of one connection's data chunks."""
    h2t = b"".join(c.data for c in chunks if c.dir == H2T)
    t2h = b"".join(c.data for c in chunks if c.dir == T2H)
    scanner = HostScanner(script.dialect, script.transport)
    tokens = [*scanner.feed(h2t), *scanner.flush()]
    first_unit = len(script.units)
    units = _units(t2h, script.dialect, script.transport, 0)
    script.units.extend(units)
    ti = ui = 0
    h_pos = t_pos = 0
    for chunk in chunks:
        if chunk.dir == H2T:
            h_pos += len(chunk.data)
            while ti < len(tokens) and tokens[ti].end <= h_pos:
                script.steps.append(Expect(tokens[ti], chunk, number))
                ti += 1
            continue
        start, t_pos = t_pos, t_pos + len(chunk.data)
        segments = []
        while ui < len(units) and units[ui].offset < t_pos:
            unit = units[ui]
            lo = max(start, unit.offset) - unit.offset
            hi = min(t_pos, unit.offset + len(unit.raw)) - unit.offset
            segments.append((first_unit + ui, lo, hi))
            if unit.offset + len(unit.raw) <= t_pos:
                ui += 1
            else:
                break
        script.steps.append(Send(chunk, tuple(segments), number))
    if ti != len(tokens) or ui != len(units):  # pragma: no cover - tokens tile the streams
        raise SimulatorError("capture streams do not tile into tokens")


def build_script(capture: Capture) -> Script:
    """The replay steps of ``capture`` (see the module docstring)."""
    if capture.header.dialect is None:
        raise SimulatorError(
            f"{capture.path}: the capture's dialect is unknown (the terminal never sent a "
            "valid frame): nothing to replay"
        )
    script = Script(capture.header.dialect, capture.header.transport)
    pending: list[Chunk] = []
    number = 0
    for chunk in capture.chunks:
        if chunk.event is None:
            pending.append(chunk)
            continue
        _connection(script, pending, number)
        pending = []
        if chunk.event == "open":
            number += 1
            script.steps.append(HostOpen(chunk, number))
        elif chunk.dir == H2T:
            script.steps.append(HostClose(chunk, number))
        else:
            script.steps.append(TermClose(chunk, number))
    _connection(script, pending, number)
    return script


__all__ = [
    "Expect", "HostClose", "HostOpen", "HostScanner", "Script", "Send", "Step", "TermClose",
    "Token", "Unit", "build_script",
]
