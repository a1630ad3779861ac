"""Assemble a capture file from the chunks a recorder reads (sans-I/O apart from the file).

Contract:
- :class:`SessionWriter` takes ``chunk(t, dir, data)`` and ``event(t, dir, name)`` calls in
  the order the recorder saw them and writes the capture (format in
  :mod:`stationlink.capture`). ``close(t)`` writes everything left and the trailer, and
  returns it.
- **Dialect**: unless given, it is sniffed from the terminal's bytes: the first frame from
  the terminal that is valid in one dialect's framing and carries a response type code
  (0x81..0xD1, 0xFF) with a printable terminal id decides. The host's bytes are not used:
  a host probes ``sl-2`` first whatever the terminal speaks. Until the dialect is known the
  chunks are kept in memory (the header comes first); a capture that ends undecided gets
  ``"dialect": null``.
- **Redaction**: every chunk passes through a :class:`~.redact.StreamRedactor` of its
  direction before it is written (length-preserving: chunk sizes and times are kept). A
  chunk is written once all its bytes are final; lines stay in recording order. A connection
  event ends the framing state of both directions (TCP framing restarts on a new
  connection).
- Nothing is lost silently: a chunk is written or the writer raises.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Any

from stationlink.capture import DIRECTIONS, H2T, T2H, CaptureFile, Chunk, Header, Trailer
from stationlink.protocol import CLASS_OF, Deframer, Dialect, FrameEvent, Transport

from .redact import PanBook, StreamRedactor


def is_terminal_body(body: bytes) -> bool:
    """A body a terminal would send: a response type code and a printable terminal id."""
    if len(body) < 11 or body[0] not in CLASS_OF or body[0] < 0x80:
        return False
    tid = body[3:11]
    return tid.isascii() and tid.decode("ascii").isprintable()


class DialectSniffer:
    """Finds the dialect of a terminal's byte stream (see the module docstring)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = Transport(transport)
        self.dialect: Dialect | None = None
        self.reset()

    def reset(self) -> None:
        self._deframers = {d: Deframer(d, self.transport) for d in Dialect}

    def feed(self, data: bytes) -> Dialect | None:
        if self.dialect is None:
            for dialect, deframer in self._deframers.items():
                for ev in deframer.feed(data):
                    if isinstance(ev, FrameEvent) and is_terminal_body(ev.body):
                        self.dialect = dialect
                        return dialect
        return self.dialect


class SessionWriter:
    """Writes one capture file (see the module docstring)."""

    def __init__(
        self,
        path: str | Path,
        *,
        transport: Transport,
        ports: dict[str, str],
        started: datetime,
        dialect: Dialect | None = None,
        redaction_key: bytes | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.transport = Transport(transport)
        self.ports = dict(ports)
        self.started = started
        self.meta = dict(meta or {})
        self.dialect = dialect
        self.book = PanBook(redaction_key)
        self._file = CaptureFile(path)
        self._sniffer = DialectSniffer(self.transport) if dialect is None else None
        self._early: list[Chunk] = []  # before the header could be written
        self._started_output = False
        self._redactors: dict[str, StreamRedactor] = {}
        self._ready: dict[str, bytearray] = {d: bytearray() for d in DIRECTIONS}
        self._queue: deque[Chunk] = deque()
        self.bytes = {d: 0 for d in DIRECTIONS}
        self.trailer: Trailer | None = None

    @property
    def path(self) -> str:
        return self._file.path

    # ----------------------------------------------------------------- input

    def chunk(self, t: float, direction: str, data: bytes) -> None:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be h2t or t2h, not {direction!r}")
        if not data:
            return
        self.bytes[direction] += len(data)
        item = Chunk(t, direction, bytes(data))
        if not self._started_output:
            self._early.append(item)
            if direction == T2H and self._sniffer is not None and self._sniffer.feed(data):
                self.dialect = self._sniffer.dialect
                self._begin()
            return
        self._push(item)

    def event(self, t: float, direction: str, name: str) -> None:
        item = Chunk(t, direction, event=name)
        if not self._started_output:
            self._early.append(item)
            if self._sniffer is not None:
                self._sniffer.reset()
            return
        self._push(item)

    def close(self, t: float) -> Trailer:
        if self.trailer is not None:
            return self.trailer
        if not self._started_output:
            self._begin()
        for direction in DIRECTIONS:
            self._ready[direction] += self._redactors[direction].finish()
        self._drain()
        if self._queue:  # pragma: no cover - finish() makes every byte final
            raise AssertionError("capture bytes left unwritten")
        self.trailer = Trailer(
            t, self._file.chunks, self.bytes[H2T], self.bytes[T2H], self.book.redacted
        )
        self._file.trailer(self.trailer)
        self._file.close()
        return self.trailer

    def abort(self) -> None:
        """Close the file without a trailer (the recorder failed)."""
        self._file.close()

    # ---------------------------------------------------------------- output

    def _new_redactors(self) -> None:
        dialect = self.dialect if self.dialect is not None else Dialect.MISPOS_1
        for direction in DIRECTIONS:
            old = self._redactors.get(direction)
            if old is not None:
                self._ready[direction] += old.finish()
            self._redactors[direction] = StreamRedactor(dialect, self.transport, self.book)

    def _begin(self) -> None:
        self._started_output = True
        self._file.header(Header(self.dialect, self.transport, self.ports, self.started,
                                 meta=self.meta))
        self._new_redactors()
        early, self._early = self._early, []
        for item in early:
            self._push(item)

    def _push(self, item: Chunk) -> None:
        self._queue.append(item)
        if item.event is not None:
            self._new_redactors()
        else:
            self._ready[item.dir] += self._redactors[item.dir].feed(item.data)
        self._drain()

    def _drain(self) -> None:
        while self._queue:
            head = self._queue[0]
            if head.event is None:
                ready = self._ready[head.dir]
                n = len(head.data)
                if len(ready) < n:
                    return
                head = Chunk(head.t, head.dir, bytes(ready[:n]))
                del ready[:n]
            self._queue.popleft()
            self._file.chunk(head)


__all__ = ["DialectSniffer", "SessionWriter", "is_terminal_body"]
