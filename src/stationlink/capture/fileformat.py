"""The capture file format (``stationlink-capture`` version 1): JSON lines, read and written.

This is the format's one home: the simulator's recorder and replayer (``stationlink_sim``)
and the monitor (``stationlink.monitor``) both read and write it through this module.

Contract:
- A capture is UTF-8 JSON lines. Line 1 is the **header**, then one line per **chunk** (bytes
  read from one side, in the order the recorder read them) or **event** (a TCP connection
  opened or closed), then optionally a **trailer**. ``docs/simulator.md`` ("Capture and
  replay") is the reference; in short::

    {"format": "stationlink-capture", "version": 1, "dialect": "mispos-1", "transport":
     "serial", "ports": {"host": "pty", "terminal": "serial:///dev/pts/7"},
     "started": "2026-03-14T09:00:00.000000+08:00", "redaction": "pan-v1", "meta": {}}
    {"t": 0.012345, "dir": "h2t", "hex": "02001a..."}
    {"t": 0.020001, "dir": "t2h", "event": "close"}
    {"end": {"t": 12.5, "chunks": 41, "bytes": {"h2t": 310, "t2h": 1882}, "cards_redacted": 2}}

- :func:`read_capture` returns a :class:`Capture`; any bad line raises
  :class:`~stationlink.errors.InputDataError` naming the file, line and column (the JSON
  key, or the character offset of a JSON syntax error) — every problem of the file at once.
  A file without a trailer is accepted (``complete`` is False: the recorder was killed).
- :func:`iter_capture` reads the same file as a stream, under the same rules: the header at
  once, then the chunks in file order; the first bad line raises ``InputDataError`` after the
  chunks before it have been yielded (nothing read is lost). :func:`is_capture` sniffs a
  file's first bytes.
- :class:`CaptureFile` writes the lines: header first, chunks/events as they come, trailer
  last; each line is flushed so a killed recorder loses at most the line being written.
- Times ``t`` are seconds since the recorder started (monotonic clock, microseconds);
  ``started`` is the wall-clock start in China Standard Time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from ..errors import InputDataError, Problem
from ..protocol import Dialect, Transport

FORMAT = "stationlink-capture"
VERSION = 1
REDACTION = "pan-v1"
H2T, T2H = "h2t", "t2h"
DIRECTIONS = (H2T, T2H)
EVENTS = ("open", "close")


@dataclass(frozen=True, slots=True)
class Header:
    """The first line: what was recorded, where and when."""

    dialect: Dialect | None
    transport: Transport
    ports: dict[str, str]
    started: datetime
    redaction: str = REDACTION
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "dialect": None if self.dialect is None else self.dialect.value,
            "transport": self.transport.value,
            "ports": dict(self.ports),
            "started": self.started.isoformat(timespec="microseconds"),
            "redaction": self.redaction,
            "meta": self.meta,
        }


@dataclass(frozen=True, slots=True)
class Chunk:
    """Bytes read from one side (``data``), or a connection ``event`` of that side.

    ``line`` is the chunk's line number in its file (0 when not read from a file).
    """

    t: float
    dir: str
    data: bytes = b""
    event: str | None = None
    line: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t": round(self.t, 6), "dir": self.dir}
        if self.event is not None:
            out["event"] = self.event
        else:
            out["hex"] = self.data.hex()
        return out


@dataclass(frozen=True, slots=True)
class Trailer:
    """The last line: the capture ended normally."""

    t: float
    chunks: int
    bytes_h2t: int
    bytes_t2h: int
    cards_redacted: int

    def to_json(self) -> dict[str, Any]:
        return {"end": {
            "t": round(self.t, 6), "chunks": self.chunks,
            "bytes": {H2T: self.bytes_h2t, T2H: self.bytes_t2h},
            "cards_redacted": self.cards_redacted,
        }}


@dataclass(frozen=True, slots=True)
class Capture:
    """A capture read from a file."""

    path: str
    header: Header
    chunks: tuple[Chunk, ...]
    trailer: Trailer | None

    @property
    def complete(self) -> bool:
        return self.trailer is not None

    @property
    def duration(self) -> float:
        if self.trailer is not None:
            return self.trailer.t
        return self.chunks[-1].t if self.chunks else 0.0

    def stream(self, direction: str) -> bytes:
        """Every byte of one direction, in order (connections concatenated)."""
        return b"".join(c.data for c in self.chunks if c.dir == direction)


class CaptureFile:
    """Writes one capture file line by line (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._fh: IO[str] | None = open(path, "w", encoding="utf-8")
        self.chunks = 0

    def _line(self, obj: dict[str, Any]) -> None:
        if self._fh is None:
            raise ValueError(f"{self.path}: capture already closed")
        self._fh.write(json.dumps(obj, ensure_ascii=False, separators=(", ", ": ")) + "\n")
        self._fh.flush()

    def header(self, header: Header) -> None:
        self._line(header.to_json())

    def chunk(self, chunk: Chunk) -> None:
        self.chunks += 1
        self._line(chunk.to_json())

    def trailer(self, trailer: Trailer) -> None:
        self._line(trailer.to_json())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


# ------------------------------------------------------------------------------ reading


class _Bad(Exception):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


def _req(obj: dict[str, Any], key: str, tp: type | tuple[type, ...]) -> Any:
    if key not in obj:
        raise _Bad(key, f"missing key {key!r}")
    value = obj[key]
    if not isinstance(value, tp) or isinstance(value, bool) and tp is not bool:
        raise _Bad(key, f"{key!r} has the wrong type ({type(value).__name__})")
    return value


def _parse_header(obj: dict[str, Any]) -> Header:
    if obj.get("format") != FORMAT:
        raise _Bad("format", f"not a capture: 'format' must be {FORMAT!r}")
    if _req(obj, "version", int) != VERSION:
        raise _Bad("version", f"unsupported version {obj['version']} (this reader: {VERSION})")
    raw_dialect = obj.get("dialect")
    try:
        dialect = None if raw_dialect is None else Dialect(raw_dialect)
    except ValueError:
        raise _Bad("dialect", f"unknown dialect {raw_dialect!r}") from None
    try:
        transport = Transport(_req(obj, "transport", str))
    except ValueError:
        raise _Bad("transport", f"unknown transport {obj['transport']!r}") from None
    ports = _req(obj, "ports", dict)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in ports.items()):
        raise _Bad("ports", "'ports' maps names to URL strings")
    try:
        started = datetime.fromisoformat(_req(obj, "started", str))
    except ValueError:
        raise _Bad("started", "'started' is not an ISO 8601 time") from None
    if started.tzinfo is None:
        raise _Bad("started", "'started' needs a UTC offset")
    redaction = _req(obj, "redaction", str)
    if redaction != REDACTION:
        raise _Bad("redaction", f"unknown redaction {redaction!r} (known: {REDACTION})")
    meta = obj.get("meta", {})
    if not isinstance(meta, dict):
        raise _Bad("meta", "'meta' must be an object")
    return Header(dialect, transport, dict(ports), started, redaction, meta)


def _parse_chunk(obj: dict[str, Any], line: int, last_t: float) -> Chunk:
    t = _req(obj, "t", (int, float))
    if not 0 <= t < float("inf"):
        raise _Bad("t", f"time {t!r} is not a non-negative number of seconds")
    if t < last_t:
        raise _Bad("t", f"time {t} goes back (previous line: {last_t})")
    direction = _req(obj, "dir", str)
    if direction not in DIRECTIONS:
        raise _Bad("dir", f"'dir' must be 'h2t' or 't2h', not {direction!r}")
    extra = set(obj) - {"t", "dir", "hex", "event"}
    if extra:
        raise _Bad(sorted(extra)[0], f"unknown key {sorted(extra)[0]!r}")
    if "event" in obj:
        if "hex" in obj:
            raise _Bad("event", "a line has 'hex' or 'event', not both")
        event = obj["event"]
        if event not in EVENTS:
            raise _Bad("event", f"unknown event {event!r} (events: open, close)")
        return Chunk(float(t), direction, event=event, line=line)
    text = _req(obj, "hex", str)
    try:
        data = bytes.fromhex(text)
    except ValueError as exc:
        raise _Bad("hex", f"'hex' is not hex digits: {exc}") from None
    if not data:
        raise _Bad("hex", "empty chunk")
    return Chunk(float(t), direction, data, line=line)


def _parse_trailer(obj: dict[str, Any]) -> Trailer:
    end = obj["end"]
    if not isinstance(end, dict):
        raise _Bad("end", "'end' must be an object")
    counts = _req(end, "bytes", dict)
    try:
        return Trailer(
            float(_req(end, "t", (int, float))), int(_req(end, "chunks", int)),
            int(counts[H2T]), int(counts[T2H]), int(_req(end, "cards_redacted", int)),
        )
    except (KeyError, TypeError, ValueError):
        raise _Bad("end.bytes", "'bytes' needs integer 'h2t' and 't2h'") from None


def is_capture(head: bytes) -> bool:
    """Whether the first bytes of a file look like a capture's header line."""
    return head.lstrip().startswith(b"{") and FORMAT.encode() in head[:4096]


_Item = Header | Chunk | Trailer | Problem


def _items(name: str, fh: IO[str]) -> Iterator[_Item]:
    """Every line of an open capture as what it holds, or the :class:`Problem` with it.

    Stops after a bad header line (nothing after it can be read). The trailer's chunk count is
    checked at the end when no line was bad.
    """
    trailer: Trailer | None = None
    last_t = 0.0
    chunks = 0
    bad = False
    number = 0
    try:
        for number, raw in enumerate(fh, start=1):
            text = raw.rstrip("\n")
            try:
                if trailer is not None:
                    raise _Bad("", "line after the trailer ('end') line")
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise _Bad(f"character {exc.colno}", f"not JSON: {exc.msg}") from None
                if not isinstance(obj, dict):
                    raise _Bad("", "a line must be a JSON object")
                if number == 1:
                    yield _parse_header(obj)
                elif "end" in obj:
                    trailer = _parse_trailer(obj)
                    yield trailer
                else:
                    chunk = _parse_chunk(obj, number, last_t)
                    last_t = chunk.t
                    chunks += 1
                    yield chunk
            except _Bad as exc:
                bad = True
                yield Problem(name, number, exc.column, exc.reason)
                if number == 1:
                    return
    except (OSError, UnicodeDecodeError) as exc:
        raise InputDataError([Problem(name, number + 1, "", f"cannot read: {exc}")]) from exc
    if number == 0:
        yield Problem(name, 1, "", "empty file: no header line")
    elif not bad and trailer is not None and trailer.chunks != chunks:
        yield Problem(name, number, "end.chunks",
                      f"trailer counts {trailer.chunks} chunks, the file has {chunks}")


def _open(path: str | Path) -> IO[str]:
    try:
        return open(path, encoding="utf-8")
    except OSError as exc:
        raise InputDataError([Problem(str(path), 0, "", f"cannot read: {exc}")]) from exc


def read_capture(path: str | Path) -> Capture:
    """Read and check a capture file, every problem at once (see the module docstring)."""
    name = str(path)
    problems: list[Problem] = []
    header: Header | None = None
    chunks: list[Chunk] = []
    trailer: Trailer | None = None
    with _open(path) as fh:
        for item in _items(name, fh):
            if isinstance(item, Problem):
                problems.append(item)
            elif isinstance(item, Header):
                header = item
            elif isinstance(item, Chunk):
                chunks.append(item)
            else:
                trailer = item
    if problems:
        raise InputDataError(problems)
    assert header is not None  # noqa: S101 - line 1 parsed without a problem
    return Capture(name, header, tuple(chunks), trailer)


def _stop(problem: Problem) -> InputDataError:
    return InputDataError([problem], f"bad capture file: {problem}")


def iter_capture(path: str | Path) -> tuple[Header, Iterator[Chunk]]:
    """The header of the capture at ``path`` and an iterator over its chunks, streamed.

    A bad header raises here; a bad later line raises from the iterator once the chunks
    before it have been yielded. The iterator closes the file when it ends.
    """
    name = str(path)
    fh = _open(path)
    items = _items(name, fh)
    try:
        first = next(items)
    except BaseException:
        fh.close()
        raise
    if isinstance(first, Problem):
        fh.close()
        raise _stop(first)
    assert isinstance(first, Header)  # noqa: S101 - line 1 is the header or its problem

    def chunks() -> Iterator[Chunk]:
        with fh:
            for item in items:
                if isinstance(item, Problem):
                    raise _stop(item)
                if isinstance(item, Chunk):
                    yield item

    return first, chunks()


__all__ = [
    "DIRECTIONS", "EVENTS", "FORMAT", "H2T", "REDACTION", "T2H", "VERSION",
    "Capture", "CaptureFile", "Chunk", "Header", "Trailer", "is_capture", "iter_capture",
    "read_capture",
]
