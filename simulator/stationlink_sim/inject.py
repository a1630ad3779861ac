"""Fault injection at run time: byte-level faults on the line and the event schedule.

Contract:
- :class:`ByteFaults` sits between the terminal's sans-I/O connection and the pty/socket.
  ``outbound(data)`` cuts what the connection wants to send into frames and link bytes
  (with a :class:`~stationlink.protocol.Deframer` of the same dialect and transport,
  so it never guesses) and returns :class:`Chunk` s to write in order, each after its
  ``delay``: noise bursts inside or before frames, dropped / duplicated bytes, frames split
  into pieces ``split_gap`` apart, ACKs held back (``slow_ack``) or never sent (``no_ack``).
  ``inbound(data)`` applies ``in_noise``, ``in_drop_byte`` and ``in_dup_byte``.
  Every decision comes from the seeded ``random.Random`` given; ``injected`` counts them.
- :class:`EventSchedule` says which events are due: ``before_request(n)`` for ``EVENT#n``,
  ``by_clock(now)`` for ``EVENT@HH:MM`` when the terminal's clock has passed that time of day
  since the previous call (never on the first call, never when the clock went back).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from stationlink.money import CST
from stationlink.protocol import ACK, Deframer, Dialect, FrameEvent, LinkByte, Transport

from .faults import Event, FaultSpec


@dataclass(frozen=True, slots=True)
class Chunk:
    """Bytes to write ``delay`` seconds after both the previous chunk went out and this one
    was queued (``queued_at``, monotonic seconds, stamped by the session)."""

    data: bytes
    delay: float = 0.0
    queued_at: float = 0.0


class ByteFaults:
    """Byte-level faults of one link direction pair (see the module docstring)."""

    def __init__(
        self, spec: FaultSpec, rng: random.Random, dialect: Dialect, transport: Transport
    ) -> None:
        self.spec = spec
        self.rng = rng
        self.serial = transport is Transport.SERIAL
        self._cutter = Deframer(dialect, transport)
        self._buf = bytearray()
        self._base = 0
        self.injected: Counter[str] = Counter()
        self._p = {name: spec.p(name) for name, _ in spec.probabilities}

    def hit(self, name: str) -> bool:
        """Draw for fault ``name``; counts it in ``injected`` when it strikes."""
        p = self._p.get(name, 0.0)
        if p and self.rng.random() < p:
            self.injected[name] += 1
            return True
        return False

    def _noise(self) -> bytes:
        return bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 8)))

    def _bytewise(self, data: bytes, drop: str, dup: str) -> bytes:
        if not self._p.get(drop) and not self._p.get(dup):
            return data
        out = bytearray()
        for b in data:
            if self.hit(drop):
                continue
            out.append(b)
            if self.hit(dup):
                out.append(b)
        return bytes(out)

    def outbound(self, data: bytes) -> list[Chunk]:
        """What to write, in order, for ``data`` from the connection."""
        if not data:
            return []
        if not self._p:
            return [Chunk(data)]
        self._buf += data
        chunks: list[Chunk] = []
        end = self._base
        for ev in self._cutter.feed(data):
            size = len(ev.raw) if isinstance(ev, FrameEvent) else (
                1 if isinstance(ev, LinkByte) else ev.length
            )
            start = ev.offset - self._base
            end = ev.offset + size
            piece = bytes(self._buf[start : start + size])
            if isinstance(ev, LinkByte) and ev.code == ACK and self.serial:
                if self.hit("no_ack"):
                    continue
                delay = self.spec.duration("ack_delay") if self.hit("slow_ack") else 0.0
                chunks.append(Chunk(self._bytewise(piece, "drop_byte", "dup_byte"), delay))
            elif isinstance(ev, FrameEvent):
                chunks.extend(self._frame(piece))
            else:
                chunks.append(Chunk(piece))
        # events tile the stream: everything before the end of the last one is consumed
        del self._buf[: end - self._base]
        self._base = end
        return chunks

    def _frame(self, frame: bytes) -> list[Chunk]:
        if self.serial:
            if self.hit("noise"):  # half between frames (before this one), half inside
                at = 0 if self.rng.random() < 0.5 else self.rng.randint(1, len(frame) - 1)
                frame = frame[:at] + self._noise() + frame[at:]
            frame = self._bytewise(frame, "drop_byte", "dup_byte")
        if len(frame) >= 2 and self.hit("split"):
            pieces = self.rng.randint(2, min(4, len(frame)))
            cuts = sorted(self.rng.sample(range(1, len(frame)), pieces - 1))
            bounds = [0, *cuts, len(frame)]
            gap = self.spec.duration("split_gap")
            return [
                Chunk(frame[a:b], gap if i else 0.0)
                for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False))
            ]
        return [Chunk(frame)]

    def inbound(self, data: bytes) -> bytes:
        """The bytes the terminal actually sees of ``data`` read from the host."""
        if not self.serial or not self._p:
            return data
        if self.hit("in_noise"):
            at = self.rng.randint(0, len(data))
            data = data[:at] + self._noise() + data[at:]
        return self._bytewise(data, "in_drop_byte", "in_dup_byte")


class EventSchedule:
    """Which events of a spec are due (see the module docstring)."""

    def __init__(self, events: tuple[Event, ...]) -> None:
        self._nth = [e for e in events if e.nth is not None]
        self._timed = [e for e in events if e.at is not None]
        self._last: datetime | None = None

    def before_request(self, n: int) -> list[str]:
        return [e.name for e in self._nth if e.nth == n]

    def by_clock(self, now: datetime) -> list[str]:
        last, self._last = self._last, now
        if last is None or now <= last or not self._timed:
            return []
        local = now.astimezone(CST)
        due: list[str] = []
        for e in self._timed:
            assert e.at is not None  # noqa: S101 - filtered above
            candidate = local.replace(hour=e.at.hour, minute=e.at.minute, second=0, microsecond=0)
            if candidate > local:
                candidate -= timedelta(days=1)
            if candidate > last:
                due.append(e.name)
        return due
