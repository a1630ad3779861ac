"""Find a terminal's baud rate and dialect politely: one IDENTIFY per (rate, dialect).

Contract:
- :func:`find` tries, in order, the given (or URL's) baud rate and then
  :data:`USUAL_BAUDS`, and at each rate the given dialect first and then the other (TCP: the
  dialects only, each probe on a fresh connection, as docs/protocol.md §2.5 asks). Each
  probe is one IDENTIFY frame sent once (no retransmission) on a freshly opened port: it is
  abandoned when the frame is NAKed or not ACKed within T1 (serial, plus the frame's own wire
  time), when no answer follows within ``probe_timeout``, when the bytes do not frame
  (TCP) or the peer closes. So nothing floods the line and the total time is bounded by
  about (rates x dialects) x (T1 + wire time), ~16 s on serial when nothing answers.
- Confidence: ``sure`` when a checksummed, decodable answer (IDENTIFY or an ErrorReply)
  came back in the probe's framing; ``likely`` when only the framing matched (the terminal
  ACKed or NAKed the probe, or sent a well-framed stretch with a bad checksum or an
  undecodable body). The first ``sure`` ends the search; otherwise the first ``likely`` is
  the result; otherwise ``None``.
- Probe ``i`` uses sequence number ``first_seq + i`` (the engine draws ``first_seq`` at
  random, like the client): a terminal suppresses a request repeating the seq and body of
  one it already answered, so two runs must not start from the same numbers.
- Every probe is logged (:class:`Attempt`) for the report. ``TransportError`` from opening
  the port the first time is raised (the engine reports it); later open failures are logged.
- Nothing but IDENTIFY is sent: it moves no money and changes nothing on the terminal.
- :func:`open_endpoint` opens a fresh stream to an endpoint and :class:`CountingStream`
  counts the bytes through one (the probe's attempts and :mod:`.session`'s links).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ..clock import MonotonicClock
from ..errors import StreamClosedError, TransportError
from ..protocol import (
    T1_DEFAULT,
    Dialect,
    ErrorReply,
    Header,
    HostConnection,
    IdentifyRequest,
    IdentifyResponse,
    LinkFault,
    MsgType,
    RequestFailed,
    ResponseReceived,
    Transport,
    UndecodableMessage,
)
from ..transport import open_serial, open_tcp
from ..transport.base import ByteStream
from ..transport.url import Endpoint

USUAL_BAUDS = (9600, 19200, 38400, 57600, 115200, 4800, 2400)
PROBE_TIMEOUT = 3.0  # seconds for the answer once the frame is ACKed (T2 of IDENTIFY)


@dataclass(frozen=True)
class Attempt:
    baud: int | None  # None on TCP
    dialect: Dialect
    result: str  # "sure", "likely", "none", or "open failed: ..."
    seconds: float
    wire_bytes: int = 0  # bytes written and read during the probe


@dataclass(frozen=True)
class Found:
    endpoint: Endpoint  # with the baud rate that answered
    dialect: Dialect
    confidence: str  # "sure" | "likely"
    identify: IdentifyResponse | None


@dataclass
class Search:
    found: Found | None = None
    attempts: list[Attempt] = field(default_factory=list)
    seconds: float = 0.0


def open_endpoint(endpoint: Endpoint) -> ByteStream:
    """A fresh stream to ``endpoint`` (serial at its baud rate, or a new TCP connection)."""
    if endpoint.kind is Transport.TCP:
        return open_tcp(endpoint)
    return open_serial(endpoint)


class CountingStream:
    """A :class:`ByteStream` that counts the bytes through it, in and out (the probe's bytes
    per attempt; the session's wire-time and throughput figures)."""

    def __init__(self, inner: ByteStream) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.byte_time = inner.byte_time
        self.description = inner.description
        self.bytes_in = 0
        self.bytes_out = 0

    def read(self, timeout: float | None) -> bytes:
        data = self.inner.read(timeout)
        self.bytes_in += len(data)
        return data

    def write(self, data: bytes) -> None:
        self.inner.write(data)
        self.bytes_out += len(data)

    def close(self) -> None:
        self.inner.close()


def _drain(stream: ByteStream) -> None:
    """Drop bytes left in the line from before this probe (e.g. a late reply); a fresh
    TCP connection has none."""
    if stream.kind is Transport.TCP:
        return
    for _ in range(64):
        if not stream.read(0.001):
            return


def _probe(
    stream: ByteStream, dialect: Dialect, *, card_key: bytes, clock: MonotonicClock,
    host_time: Callable[[], datetime], t1: float, probe_timeout: float, seq: int,
) -> tuple[str, IdentifyResponse | None]:
    conn = HostConnection(
        dialect, stream.kind, card_key=card_key, clock=clock, t1=t1, first_seq=seq,
        t2_other=probe_timeout, heartbeat_interval=None, byte_time=stream.byte_time,
    )
    request = IdentifyRequest(Header(MsgType.IDENTIFY, 0, ""), host_time())
    conn.send_request(request, timeout=probe_timeout, retransmits=0)
    framed = False
    while True:
        data = conn.data_to_send()
        if data:
            stream.write(data)
        deadline = conn.next_deadline()
        wait = None if deadline is None else max(0.0, deadline - clock())
        try:
            chunk = stream.read(wait if wait is not None else probe_timeout)
        except StreamClosedError:
            return ("likely" if framed else "none"), None
        events = conn.receive_data(chunk) if chunk else []
        deadline = conn.next_deadline()
        if deadline is not None and clock() >= deadline:
            events += conn.handle_timeout()
        stats = conn.link.stats
        if stats["ack_received"] or stats["nak_received"]:
            framed = True
        owed = conn.data_to_send()  # e.g. the ACK of the answer: the terminal waits for it
        if owed:
            stream.write(owed)
        for ev in events:
            if isinstance(ev, ResponseReceived):
                msg = ev.response
                if isinstance(msg, IdentifyResponse) and msg.dialect == dialect:
                    return "sure", msg
                if isinstance(msg, ErrorReply):
                    return "sure", None
                framed = True
            elif isinstance(ev, UndecodableMessage):
                framed = True
            elif isinstance(ev, LinkFault):
                if ev.nak_sent:
                    framed = True  # a frame shape with a bad check value
                elif stream.kind is Transport.TCP:
                    return "none", None  # bytes that do not frame in this dialect
            elif isinstance(ev, RequestFailed):
                return ("likely" if framed else "none"), None


def plan(
    endpoint: Endpoint, baud: int | None, dialect: Dialect | None
) -> list[tuple[int | None, Dialect]]:
    """The (baud, dialect) pairs to try, in order (see the module docstring)."""
    dialects = [dialect] if dialect is not None else []
    dialects += [d for d in (Dialect.SL_2, Dialect.MISPOS_1) if d not in dialects]
    if endpoint.kind is Transport.TCP:
        return [(None, d) for d in dialects]
    rates = [baud] if baud is not None else []
    rates += [r for r in USUAL_BAUDS if r not in rates]
    return [(r, d) for r in rates for d in dialects]


def find(
    endpoint: Endpoint, *, baud: int | None, dialect: Dialect | None, card_key: bytes,
    clock: MonotonicClock, host_time: Callable[[], datetime], t1: float = T1_DEFAULT,
    probe_timeout: float = PROBE_TIMEOUT, first_seq: int = 1,
) -> Search:
    """Search for the terminal's baud rate and dialect (see the module docstring)."""
    search = Search()
    began = clock()
    likely: Found | None = None
    for i, (rate, dia) in enumerate(plan(endpoint, baud, dialect)):
        at = endpoint if rate is None else dataclasses.replace(endpoint, baudrate=rate)
        start = clock()
        try:
            stream = open_endpoint(at)
        except TransportError as exc:
            if i == 0:
                raise
            search.attempts.append(Attempt(rate, dia, f"open failed: {exc}", clock() - start))
            continue
        counted = CountingStream(stream)
        try:
            _drain(stream)
            result, ident = _probe(counted, dia, card_key=card_key, clock=clock,
                                   host_time=host_time, t1=t1, probe_timeout=probe_timeout,
                                   seq=(first_seq + i) % 65536 or 1)
        except TransportError as exc:
            result, ident = f"failed: {exc}", None
        finally:
            try:
                stream.close()
            except TransportError:
                pass
        search.attempts.append(Attempt(rate, dia, result, clock() - start,
                                       counted.bytes_in + counted.bytes_out))
        if result == "sure":
            search.found = Found(at, dia, "sure", ident)
            break
        if result == "likely" and likely is None:
            likely = Found(at, dia, "likely", None)
    if search.found is None:
        search.found = likely
    search.seconds = clock() - began
    return search
