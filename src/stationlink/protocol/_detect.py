"""Dialect detection: find out whether a terminal speaks ``sl-2`` or ``mispos-1`` (sans-I/O).

Contract:
- :class:`DialectDetector` probes the candidates in order (``sl-2`` first, then
  ``mispos-1``) by sending an IDENTIFY request framed in the candidate's dialect through a
  fresh :class:`~stationlink.protocol.HostConnection`. The first candidate that
  answers wins; the winning connection becomes the session's connection (``result``), so
  nothing received is lost.
- A candidate is abandoned when:
    serial: the IDENTIFY frame is NAKed or not ACKed within T1 (no retransmission), or
            no IDENTIFY_RESP follows within ``probe_timeout`` (default T2 of non-money
            requests, 3 s);
    TCP:    no answer within ``probe_timeout`` (default T1, 1 s: there is no ACK, and a
            terminal of the other dialect stays silent or closes the connection), the
            received bytes do not frame in the candidate's dialect, or the terminal closed
            the connection (``connection_closed``).
- TCP, ``reconnect=True`` (what :mod:`stationlink.transport.detection` uses): every probe
  goes out on a fresh connection. After abandoning a probe the detector sets
  ``needs_connection`` and sends nothing more until the driver has closed the stream, opened
  a new one and called ``connection_made()``. A probe never follows another one's bytes on
  the same stream: a terminal of the other dialect may have taken part of the first probe
  for a length prefix (a ``mispos-1`` deframer sliding over an ``sl-2`` probe finds four
  ASCII digits in the BCD time, e.g. a second of 31 followed by the "002" of the next
  prefix reads as length 1002) and would swallow the next probe waiting for that many
  bytes; a terminal following docs/protocol.md §1.2 closes the connection instead.
  ``reconnect=False`` (the default, serial, and TCP streams that cannot reconnect) sends
  every probe on the one stream; over TCP a closed stream then ends detection.
- Serial: after abandoning a probe the detector keeps the line silent until
  ``PROBE_SILENCE`` (the receiver's idle timer, 0.5 s, plus 0.1 s) has passed since the
  last byte it sent, then sends the next probe. A terminal of the other dialect may have
  taken a byte of the abandoned probe (its BCD time or its check bytes) for a start byte
  and a length, and holds what follows until its line has been idle for 0.5 s (§1.3); a
  next probe sent sooner (a host with ``t1`` under 0.5 s) would be swallowed with it, and
  every later one too. With the default T1 (1 s) the silence has passed already and the
  next probe goes at once. Bytes that arrive while the line is kept silent belong to the
  abandoned probe and are dropped.
- The answer states the dialect (``IdentifyResponse.dialect``); if it contradicts the
  framing it arrived in, detection fails with ``ProtocolError``. An ErrorReply to IDENTIFY
  still proves the framing: the dialect is taken, ``result.identify`` is ``None``.
- After ``rounds`` (2) passes over all candidates without an answer, ``error`` is a
  ``LinkFailedError``. Driving: the same ``receive_data`` / ``data_to_send`` /
  ``next_deadline`` / ``handle_timeout`` calls as a connection (plus ``connection_closed``,
  and ``needs_connection`` / ``connection_made`` with ``reconnect``); stop when ``done``.

::

    probe sl-2 --answer--> DONE(sl-2)
        | NAK / no ACK in T1 / no answer / wrong framing / closed
        v
    (TCP, reconnect: needs_connection --connection_made()-->)
    probe mispos-1 --answer--> DONE(mispos-1)
        | same
        v
    next round ... after `rounds`: FAILED(LinkFailedError)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..clock import MonotonicClock, WallClock
from ..errors import LinkFailedError, ProtocolError, StationLinkError
from ._connection import T2_OTHER_DEFAULT, HostConnection
from ._framing import Transport
from ._link import RX_IDLE_DEFAULT, T1_DEFAULT
from .events import HostEvent, LinkFault, RequestFailed, ResponseReceived
from .messages import Dialect, ErrorReply, Header, IdentifyRequest, IdentifyResponse, MsgType

DEFAULT_CANDIDATES = (Dialect.SL_2, Dialect.MISPOS_1)
#: Serial: silence kept after the last byte sent before the next probe (module contract).
PROBE_SILENCE = RX_IDLE_DEFAULT + 0.1


@dataclass(frozen=True, slots=True)
class Detected:
    """Outcome of a successful detection."""

    dialect: Dialect
    identify: IdentifyResponse | None
    connection: HostConnection
    probes: int  # IDENTIFY requests sent


class DialectDetector:
    """Probe a terminal for its dialect. ``connection_kwargs`` go to each HostConnection
    (``t1``, ``t2_money``, ``byte_time``, ...); ``host_time`` gives the IDENTIFY's clock."""

    def __init__(
        self,
        transport: Transport,
        *,
        card_key: bytes,
        clock: MonotonicClock,
        host_time: WallClock,
        first_seq: int = 1,
        candidates: Sequence[Dialect] = DEFAULT_CANDIDATES,
        rounds: int = 2,
        probe_timeout: float | None = None,
        reconnect: bool = False,
        **connection_kwargs: Any,
    ) -> None:
        if not candidates or rounds < 1:
            raise ValueError("need at least one candidate dialect and one round")
        self.transport = Transport(transport)
        if reconnect and self.transport is not Transport.TCP:
            raise ValueError("reconnect applies to TCP only")
        self.reconnect = reconnect
        self.needs_connection = False  # reconnect: waiting for connection_made()
        self.card_key = card_key
        self.clock = clock
        self.host_time = host_time
        if probe_timeout is None:
            serial = self.transport is Transport.SERIAL
            probe_timeout = T2_OTHER_DEFAULT if serial else connection_kwargs.get("t1", T1_DEFAULT)
        self.probe_timeout = probe_timeout
        self._kwargs = connection_kwargs
        self._plan = [Dialect(c) for _ in range(rounds) for c in candidates]
        self._next_seq = first_seq
        self.probes = 0
        self.result: Detected | None = None
        self.error: StationLinkError | None = None
        self.log: list[str] = []  # one line per abandoned probe, for error messages
        self.leftover_events: list[HostEvent] = []  # events after the deciding one
        self._carry = b""
        self._quiet = False  # serial: keeping the line silent before the next probe
        self._line_busy_until = float("-inf")  # when the last byte sent has left
        self.connection: HostConnection = self._probe()

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None

    def _probe(self) -> HostConnection:
        dialect = self._plan.pop(0)
        conn = HostConnection(
            dialect, self.transport, card_key=self.card_key, clock=self.clock,
            first_seq=self._next_seq, **self._kwargs,
        )
        request = IdentifyRequest(Header(MsgType.IDENTIFY, 0, ""), self.host_time())
        self._next_seq = conn.send_request(
            request, timeout=self.probe_timeout, retransmits=0
        ) + 1
        self.probes += 1
        return conn

    def _next(self, why: str) -> None:
        self.log.append(f"{self.connection.dialect}: {why}")
        if not self._plan:
            tried = "; ".join(self.log)
            self.error = LinkFailedError(f"no answer to IDENTIFY in any dialect ({tried})")
            return
        if self.reconnect:
            self.needs_connection = True  # nothing of the old stream is owed to anybody
            return
        self._carry += self.connection.data_to_send()  # e.g. an ACK: still owed to the peer
        if self.transport is Transport.SERIAL:
            self._quiet = True
            self._probe_after_silence()
            return
        self.connection = self._probe()

    def _silence_until(self) -> float:
        return self._line_busy_until + PROBE_SILENCE

    def _probe_after_silence(self) -> None:
        if self._quiet and not self._carry and self.clock() >= self._silence_until():
            self._quiet = False
            self.connection = self._probe()

    def _handle(self, events: list[HostEvent]) -> None:
        for i, ev in enumerate(events):
            if isinstance(ev, ResponseReceived):
                self._answered(ev)
                self.leftover_events = events[i + 1 :]
                return
            if isinstance(ev, RequestFailed):
                self._next(f"{ev.reason}: {ev.detail}")
                return
            if isinstance(ev, LinkFault) and self.transport is Transport.TCP:
                self._next(f"bytes do not frame as {self.connection.dialect} ({ev.reason})")
                return

    def _answered(self, ev: ResponseReceived) -> None:
        dialect = self.connection.dialect
        msg = ev.response
        if isinstance(msg, IdentifyResponse):
            if msg.dialect != dialect:
                self.error = ProtocolError(
                    f"IDENTIFY answered in {dialect} framing but states dialect {msg.dialect}"
                )
                return
            self.result = Detected(dialect, msg, self.connection, self.probes)
        elif isinstance(msg, ErrorReply):
            self.result = Detected(dialect, None, self.connection, self.probes)

    # ------------------------------------------------------------ driving API

    def receive_data(self, data: bytes) -> None:
        """Feed received bytes (once ``done``, feed ``result.connection`` instead).

        Bytes still arriving on an abandoned stream (``needs_connection``) are dropped."""
        if self.done:
            raise ValueError("detection is over; use result.connection")
        if not self.needs_connection and not self._quiet:
            self._handle(self.connection.receive_data(data))

    def connection_closed(self) -> None:
        """The stream ended (e.g. the terminal closed it on a probe it cannot frame)."""
        if self.done:
            raise ValueError("detection is over; use result.connection")
        if self.needs_connection:
            return  # the abandoned stream: expected
        if not self.reconnect:
            tried = "; ".join([*self.log, f"{self.connection.dialect}: connection closed"])
            self.error = LinkFailedError(f"connection closed during detection ({tried})")
            return
        self._handle(self.connection.connection_closed())

    def connection_made(self) -> None:
        """``reconnect``: a fresh stream is open; the next probe is queued on it."""
        if not self.needs_connection:
            raise ValueError("no new connection was asked for")
        self.needs_connection = False
        self.connection = self._probe()

    def data_to_send(self) -> bytes:
        if self.needs_connection:
            return b""
        carry, self._carry = self._carry, b""
        out = carry if self._quiet else carry + self.connection.data_to_send()
        if out:
            self._line_busy_until = self.clock() + len(out) * self._kwargs.get("byte_time", 0.0)
        return out

    def next_deadline(self) -> float | None:
        if self.done or self.needs_connection:
            return None
        if self._quiet:
            return self._silence_until()
        return self.connection.next_deadline()

    def handle_timeout(self, now: float | None = None) -> None:
        if self.done or self.needs_connection:
            return
        if self._quiet:
            self._probe_after_silence()
            return
        self._handle(self.connection.handle_timeout(now))
