"""Fault specs: a small readable language naming the faults an emulated terminal injects.

Grammar (whitespace around items is ignored; an empty spec means no faults)::

    spec     := item ("," item)*
    item     := NAME "=" VALUE          a probability or a parameter
              | EVENT "@" HH:MM         an event whenever the terminal clock passes HH:MM
              | EVENT "#" N             an event just before the N-th request (1-based)

Probabilities (a number in [0, 1]; ``0.02`` or ``2%``):

    noise        per outbound frame: 1-8 random bytes, half the time just before the
                 frame (between frames), else at a random place inside it      [serial]
    drop_byte    per outbound byte: the byte is lost                           [serial]
    dup_byte     per outbound byte: the byte is sent twice                     [serial]
    in_noise     per chunk read from the host: 1-8 random bytes inserted       [serial]
    in_drop_byte per inbound byte: lost before the terminal sees it            [serial]
    in_dup_byte  per inbound byte: seen twice                                  [serial]
    split        per outbound frame: written in 2-4 pieces ``split_gap`` apart
    slow_ack     per ACK the terminal sends: held back ``ack_delay``           [serial]
    no_ack       per ACK the terminal sends: never sent                        [serial]
    drop_response per money-moving request (bill payment, withdrawal, reversal): the
                 terminal executes and journals it but never sends the response

Parameters: ``drift=50ppm`` (clock rate error, may be negative), ``clock_offset=-90s``
(the clock's error at start), ``ack_delay=0.5s``, ``split_gap=30ms``, ``outage=3s`` (how long
a disconnected line stays dead / a power-cycled terminal takes to boot). Durations take
``ms``, ``s``, ``m`` or ``h``.

Events: ``power_cycle`` (journal kept, volatile state lost), ``disconnect`` (TCP: the
connection is closed; pty: the line is dead for ``outage``), ``clock_reset`` (the clock jumps
to 2000-01-01 00:00 CST), ``paper_out`` and ``paper_refill``. ``@HH:MM`` fires every time the
terminal's own clock passes that time of day (so after a clock reset it can fire again);
``#N`` fires once, just before the N-th request is executed: for ``power_cycle`` and
``disconnect`` that request is lost unexecuted.

:func:`parse_faults` raises :class:`~stationlink.errors.ConfigError` naming the item, its
number and character offset. :meth:`FaultSpec.format` gives the canonical text, and
``parse_faults(spec.format()) == spec``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import time

from stationlink.errors import ConfigError

PROBABILITIES = (
    "noise", "drop_byte", "dup_byte", "in_noise", "in_drop_byte", "in_dup_byte",
    "split", "slow_ack", "no_ack", "drop_response",
)
SERIAL_ONLY = frozenset(
    {"noise", "drop_byte", "dup_byte", "in_noise", "in_drop_byte", "in_dup_byte",
     "slow_ack", "no_ack"}
)
DURATIONS = {"ack_delay": 0.5, "split_gap": 0.03, "outage": 3.0}
EVENTS = ("power_cycle", "disconnect", "clock_reset", "paper_out", "paper_refill")

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_RE = re.compile(r"^([+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(ms|s|m|h)$")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")


@dataclass(frozen=True, slots=True)
class Event:
    """One scheduled event: at a time of day (``at``) or before request ``nth``."""

    name: str
    at: time | None = None
    nth: int | None = None

    def format(self) -> str:
        if self.at is not None:
            return f"{self.name}@{self.at.hour:02d}:{self.at.minute:02d}"
        return f"{self.name}#{self.nth}"


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """Parsed faults: probabilities, parameters and events (see the module docstring)."""

    probabilities: tuple[tuple[str, float], ...] = ()  # canonical order of PROBABILITIES
    drift_ppm: float = 0.0
    clock_offset_s: float = 0.0
    durations: tuple[tuple[str, float], ...] = ()  # only those given, canonical order
    events: tuple[Event, ...] = field(default=())

    def p(self, name: str) -> float:
        return dict(self.probabilities).get(name, 0.0)

    def duration(self, name: str) -> float:
        return dict(self.durations).get(name, DURATIONS[name])

    @property
    def empty(self) -> bool:
        return self == FaultSpec()

    def serial_only_items(self) -> list[str]:
        """Items given that act on serial lines only."""
        return [name for name, value in self.probabilities if name in SERIAL_ONLY and value]

    def format(self) -> str:
        items = [f"{name}={value!r}" for name, value in self.probabilities]
        if self.drift_ppm:
            items.append(f"drift={self.drift_ppm!r}ppm")
        if self.clock_offset_s:
            items.append(f"clock_offset={self.clock_offset_s!r}s")
        items += [f"{name}={value!r}s" for name, value in self.durations]
        items += [e.format() for e in self.events]
        return ",".join(items)


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _duration(text: str) -> float:
    m = _DURATION_RE.match(text)
    if m is None:
        raise ValueError("a duration looks like 500ms, 3s, 2m or 1h")
    return _number(m.group(1)) * _UNITS[m.group(2)]


def parse_faults(text: str, *, source: str = "fault spec") -> FaultSpec:
    """Parse a fault spec; ``ConfigError`` names the bad item (``source`` says whose spec)."""
    probabilities: dict[str, float] = {}
    durations: dict[str, float] = {}
    scalars: dict[str, float] = {}
    events: list[Event] = []
    offset = 0
    items = text.split(",") if text.strip() else []
    for number, raw in enumerate(items, start=1):
        item = raw.strip()
        where = f"{source}: item {number} {item!r} (character {offset + 1})"
        offset += len(raw) + 1
        try:
            _parse_item(item, probabilities, durations, scalars, events)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
    return FaultSpec(
        probabilities=tuple((n, probabilities[n]) for n in PROBABILITIES if n in probabilities),
        drift_ppm=scalars.get("drift", 0.0),
        clock_offset_s=scalars.get("clock_offset", 0.0),
        durations=tuple((n, durations[n]) for n in DURATIONS if n in durations),
        events=tuple(events),
    )


def _parse_item(
    item: str,
    probabilities: dict[str, float],
    durations: dict[str, float],
    scalars: dict[str, float],
    events: list[Event],
) -> None:
    if not item:
        raise ValueError("empty item")
    for sep in ("@", "#"):
        if sep in item:
            name, _, when = item.partition(sep)
            name = name.strip()
            if name not in EVENTS:
                raise ValueError(f"unknown event {name!r} (events: {', '.join(EVENTS)})")
            events.append(_event(name, sep, when.strip()))
            return
    name, eq, value = item.partition("=")
    name, value = name.strip(), value.strip()
    if not eq:
        raise ValueError("expected NAME=VALUE, EVENT@HH:MM or EVENT#N")
    if name in probabilities or name in durations or name in scalars:
        raise ValueError(f"{name} given twice")
    if name in PROBABILITIES:
        p = _number(value[:-1]) / 100 if value.endswith("%") else _number(value)
        if not 0.0 <= p <= 1.0:
            raise ValueError("a probability lies between 0 and 1")
        probabilities[name] = p
    elif name in DURATIONS:
        d = _duration(value)
        if d < 0:
            raise ValueError("a duration cannot be negative")
        durations[name] = d
    elif name == "drift":
        ppm = _number(value[:-3] if value.endswith("ppm") else value)
        if abs(ppm) > 100_000:
            raise ValueError("drift beyond +-100000 ppm")
        scalars[name] = ppm
    elif name == "clock_offset":
        scalars[name] = _duration(value)
    elif name in EVENTS:
        raise ValueError(f"{name} is an event: write {name}@HH:MM or {name}#N")
    else:
        known = (*PROBABILITIES, *DURATIONS, "drift", "clock_offset", *EVENTS)
        raise ValueError(f"unknown fault {name!r} (known: {', '.join(known)})")


def _event(name: str, sep: str, when: str) -> Event:
    if sep == "@":
        m = _TIME_RE.match(when)
        if m is None or int(m.group(1)) > 23 or int(m.group(2)) > 59:
            raise ValueError("time of day must be HH:MM between 00:00 and 23:59")
        return Event(name, at=time(int(m.group(1)), int(m.group(2))))
    if not when.isdigit() or int(when) < 1 or not when.isascii():
        raise ValueError("request number must be a whole number >= 1")
    return Event(name, nth=int(when))
