"""Trace items from a capture file or a pcap: the offline sources of ``stationlink monitor``.

Contract:
- :func:`trace_file` sniffs the file (a ``stationlink-capture`` JSON-lines header, or a
  pcap/pcapng magic number) and yields :class:`~.trace.TraceItem` s in file order; any other
  file is an :class:`~stationlink.errors.InputDataError`. ``dialect`` ``None`` detects it
  passively (:mod:`.trace`). Capture files are read by :mod:`stationlink.capture` (the
  format's one home, shared with the simulator's recorder and replayer). A pcap's
  connections each get their own :class:`~.trace.Tracer` (items carry the connection
  number); a TCP capture's connections follow its ``open``/``close`` events.
- Bad input is reported after the items of everything before it (the caller has printed
  them): nothing read is lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from ..capture import is_capture, iter_capture
from ..errors import InputDataError, Problem
from ..protocol import Dialect, Transport
from .pcap import DEFAULT_TERMINAL_PORTS, is_pcap, read_pcap_steps
from .trace import TraceItem, Tracer


def trace_file(path: str, dialect: Dialect | None, card_key: bytes,
               terminal_ports: frozenset[int] = DEFAULT_TERMINAL_PORTS,
               ) -> Iterator[TraceItem]:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if is_pcap(head):
        yield from trace_pcap(path, dialect, card_key, terminal_ports)
    elif is_capture(head):
        yield from trace_capture(path, dialect, card_key)
    else:
        problem = Problem(path, 1, "", "neither a stationlink capture nor a pcap/pcapng file")
        raise InputDataError([problem], f"{path}: {problem.reason}")


def trace_capture(path: str, dialect: Dialect | None, card_key: bytes) -> Iterator[TraceItem]:
    header, chunks = iter_capture(path)
    tracer = Tracer(dialect or header.dialect, header.transport, card_key)
    last = header.started
    try:
        for chunk in chunks:
            last = header.started + timedelta(seconds=chunk.t)
            if chunk.event is not None:
                yield from tracer.event(chunk.dir, last, chunk.event)
            else:
                yield from tracer.feed(chunk.dir, last, chunk.data)
    except InputDataError:  # report what came before the bad line, then the error
        yield from tracer.finish(last)
        raise
    yield from tracer.finish(last)


def trace_pcap(path: str, dialect: Dialect | None, card_key: bytes,
               terminal_ports: frozenset[int] = DEFAULT_TERMINAL_PORTS,
               ) -> Iterator[TraceItem]:
    tracers: dict[int, Tracer] = {}
    last: datetime | None = None
    try:
        for step in read_pcap_steps(path, terminal_ports):
            last = step.when
            tracer = tracers.get(step.connection)
            if tracer is None or (step.event == "open" and tracer.dialect is not None):
                if tracer is not None:
                    yield from tracer.finish(step.when)
                # each connection detects its own dialect: a pcap may hold several terminals
                tracer = Tracer(dialect, Transport.TCP, card_key, step.connection)
                tracers[step.connection] = tracer
            if step.event:
                yield from tracer.event(step.direction, step.when, step.event)
            else:
                yield from tracer.feed(step.direction, step.when, step.data)
    except InputDataError:
        for tracer in tracers.values():
            yield from tracer.finish(last or tracer_time(tracers))
        raise
    for tracer in tracers.values():
        yield from tracer.finish(last or tracer_time(tracers))


def tracer_time(_tracers: dict[int, Tracer]) -> datetime:
    return datetime.fromtimestamp(0, UTC)  # no packet at all: nothing to flush anyway


__all__ = ["trace_capture", "trace_file", "trace_pcap"]
