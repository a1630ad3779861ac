"""The diagnosis's connection to the terminal: a client that counts and reconnects.

Contract:
- :class:`Session` opens a blocking :class:`~stationlink.client.Terminal` on the endpoint
  and dialect :mod:`.probe` found (dialect given, so no detection probes; no heartbeats)
  over a :class:`~.probe.CountingStream` (bytes in and out, for wire-time and throughput
  figures).
- :meth:`Session.call` runs one read-only client call and keeps the outages (a run of
  failed calls ended by an answered one). When the link is closed (TCP
  connection dropped, power cycle, retransmissions exhausted) it first opens a new one,
  retrying for at most ``reopen_for`` seconds (a rebooting terminal refuses for a while);
  ``drops`` counts the links that ended under us. Link statistics (``Link.stats``) and the
  link faults the client saw (:class:`~stationlink.protocol.LinkFault`) are summed over all
  the links in :attr:`stats` and :attr:`faults`.
- Only requests that move no money and change nothing are ever sent through it: the checks
  call ``identify``, ``device_status``, ``echo``, ``journal`` (a read without ACK) and
  ``settlement_totals``.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from ..client import Terminal
from ..clock import MonotonicClock
from ..errors import LinkError, LinkFailedError, ProtocolError, TerminalError, TransportError
from ..protocol import Dialect, LinkFault
from ..transport.url import Endpoint
from .probe import CountingStream, open_endpoint

T = TypeVar("T")
CLIENT_ERRORS = (LinkError, ProtocolError, TerminalError, TransportError)


class Session:
    """One diagnosis's client connection (see the module docstring)."""

    def __init__(
        self, endpoint: Endpoint, dialect: Dialect, *, card_key: bytes, clock: MonotonicClock,
        host_time: Callable[[], datetime], rng: random.Random, reopen_for: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.endpoint = endpoint
        self.dialect = dialect
        self.card_key = card_key
        self.clock = clock
        self.host_time = host_time
        self.rng = rng
        self.reopen_for = reopen_for
        self.sleep = sleep
        self.term: Terminal | None = None
        self.stream: CountingStream | None = None
        self.drops = 0
        self.stats: Counter[str] = Counter()
        self.faults: list[LinkFault] = []
        self.bytes_in = 0
        self.bytes_out = 0
        self.failures = 0  # calls that failed (timeout, link failure, refusal)
        self.outages: list[tuple[float, int]] = []  # (seconds, failed calls) before a success
        self._failing_since: float | None = None
        self._failed_run = 0

    @property
    def byte_time(self) -> float:
        return self.endpoint.byte_time

    def _open(self) -> Terminal:
        stream = CountingStream(open_endpoint(self.endpoint))
        try:
            term = Terminal.open(
                stream, card_key=self.card_key, dialect=self.dialect, rng=self.rng,
                clock=self.clock, host_time=self.host_time, heartbeat_interval=None,
            )
        except BaseException:
            stream.close()
            raise
        self.term, self.stream = term, stream
        return term

    def harvest(self) -> None:
        """Move the current link's counters and faults into the session's totals."""
        term, stream = self.term, self.stream
        if term is None or stream is None:
            return
        self.stats.update(term.connection.link.stats)
        term.connection.link.stats.clear()
        for ev in term.diagnostics:
            if isinstance(ev, LinkFault):
                self.faults.append(ev)
        term.diagnostics.clear()
        self.bytes_in += stream.bytes_in
        self.bytes_out += stream.bytes_out
        stream.bytes_in = stream.bytes_out = 0

    def counted(self) -> tuple[int, int]:
        """Bytes in and out so far, over every link."""
        s = self.stream
        return (self.bytes_in + (s.bytes_in if s else 0),
                self.bytes_out + (s.bytes_out if s else 0))

    def terminal(self) -> Terminal:
        """The open client, after opening a new link if the last one ended."""
        if self.term is not None and not self.term.link_closed:
            return self.term
        if self.term is not None:
            self.drops += 1
            self.close()
        deadline = self.clock() + self.reopen_for
        while True:
            try:
                return self._open()
            except (TransportError, LinkFailedError):
                if self.clock() >= deadline:
                    raise
                self.sleep(0.5)

    def call(self, fn: Callable[[Terminal], T]) -> T:
        """``fn`` on the open client. A run of failed calls ended by an answered one is an
        outage: (seconds from the first failed call's start to the answered call's start,
        failed calls) in :attr:`outages`."""
        start = self.clock()
        try:
            result = fn(self.terminal())
        except CLIENT_ERRORS:
            self.failures += 1
            self._failed_run += 1
            if self._failing_since is None:
                self._failing_since = start
            raise
        if self._failing_since is not None:
            self.outages.append((start - self._failing_since, self._failed_run))
            self._failing_since, self._failed_run = None, 0
        return result

    def close(self) -> None:
        self.harvest()
        if self.term is not None:
            try:
                self.term.close()
            except TransportError:
                pass
        self.term = self.stream = None
