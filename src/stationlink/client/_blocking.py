"""The blocking high-level client: ``stationlink.connect(url)`` gives a :class:`Terminal`.

Contract:
- :func:`connect` opens the port or socket named by ``url`` (forms in
  :mod:`stationlink.transport.url` and ``docs/client.md``), detects the terminal's dialect
  unless ``dialect`` is given (:func:`stationlink.transport.detect`: over TCP every probe
  goes on a fresh connection; the winning connection, the IDENTIFY answer as ``info`` and
  any events after it are kept), and returns a :class:`Terminal` (a context manager;
  ``close`` closes the port). ``card_key`` is the key of the card tokens (required).
- Every method sends one request (or, for money-moving ones, the request plus status
  queries when its response is lost; see :mod:`stationlink.client._core`) and returns a typed
  result from :mod:`stationlink.client._results`, or raises a ``StationLinkError``:
  ``LinkTimeoutError`` (no response within T2), ``LinkFailedError`` (retransmissions
  exhausted, peer dead, connection closed), ``TransportError`` (port/socket failure while
  opening), ``TerminalError`` (an ErrorReply), ``ProtocolError`` (an answer that makes no
  sense).
- A money-moving method (``pay_bill``, ``withdraw``, ``reverse_last``; ``balance``, which
  the terminal journals) never raises once its request may have left, even in part: the
  result is known from an answer that passed every check against the request, or from the
  journal by status query, or it is ``Outcome.UNKNOWN`` with the ``client_ref`` (late or
  mismatching frames, ErrorReply(INTERNAL), timeouts, link loss, an internal error; see
  :mod:`stationlink.client._core` and the outcome table in ``docs/client.md``). A closed
  connection or failed port gives ``unknown`` at once (a status query cannot cross a dead
  link); a new connection's ``resolve(client_ref)`` settles it. It raises only before
  anything left (bad arguments; ``LinkFailedError`` when the link was already known dead)
  and ``TerminalError`` for an ErrorReply refusing this very request with a code meaning
  "not executed". After a link failure ``link_closed`` is true and later calls raise
  ``LinkFailedError`` (``resolve`` returns unknown): reconnect.
- ``KeyboardInterrupt`` (any ``BaseException``) during a blocking money-moving call is not
  caught: the ``client_ref`` is then lost with it; look for the payment in the journal.
- The protocol runs only while a method runs (or during :meth:`Terminal.poll`): TCP
  heartbeats are sent by these calls; an idle blocking client sends none.
- ``clock`` (monotonic seconds), ``rng`` (client refs, first sequence number) and
  ``host_time`` (IDENTIFY's clock) are injectable; the clock must be real time, since the
  port is read with real timeouts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar

from ..errors import TransportError
from ..protocol import Dialect, HostConnection, HostEvent, JournalRecord, Message
from ..transport import detect, open_stream
from ..transport.base import ByteStream
from ._base import HostSide, detected_info, now_cst
from ._core import Answer, Command, Done, Flow, Send, TakeLate, Wait, resume
from ._results import (
    BalanceResult,
    DeviceStatus,
    JournalPage,
    SettlementTotals,
    TerminalInfo,
    TransactionResult,
)

T = TypeVar("T")


class Terminal(HostSide):
    """A connected terminal (blocking). Build with :func:`connect` or :meth:`open`."""

    def __init__(
        self,
        stream: ByteStream,
        connection: HostConnection,
        *,
        rng: random.Random,
        clock: Callable[[], float] = time.monotonic,
        host_time: Callable[[], datetime] = now_cst,
        info: TerminalInfo | None = None,
        status_attempts: int = 3,
        busy_wait: float = 1.0,
    ) -> None:
        super().__init__(connection, rng=rng, clock=clock, host_time=host_time, info=info,
                         status_attempts=status_attempts, busy_wait=busy_wait)
        self.stream = stream

    # ---------------------------------------------------------------- opening

    @classmethod
    def open(
        cls,
        stream: ByteStream,
        *,
        card_key: bytes,
        dialect: Dialect | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        host_time: Callable[[], datetime] = now_cst,
        status_attempts: int = 3,
        busy_wait: float = 1.0,
        **timers: Any,
    ) -> Terminal:
        """Run the protocol over an open ``stream``; ``timers`` go to HostConnection
        (``t1``, ``t2_money``, ``t2_other``, ``heartbeat_interval``, ...)."""
        rng = rng if rng is not None else random.Random()  # noqa: S311 - not for secrets
        first_seq = rng.randrange(1, 65536)
        timers.setdefault("byte_time", stream.byte_time)
        info = None
        leftover: list[HostEvent]
        if dialect is None:  # a fresh TCP connection per probe (transport.detect)
            found, leftover = detect(stream, card_key=card_key, clock=clock,
                                     host_time=host_time, first_seq=first_seq, **timers)
            connection, info = found.connection, detected_info(found)
        else:
            connection = HostConnection(
                Dialect(dialect), stream.kind, card_key=card_key, clock=clock,
                first_seq=first_seq, **timers,
            )
            leftover = []
        term = cls(stream, connection, rng=rng, clock=clock, host_time=host_time, info=info,
                   status_attempts=status_attempts, busy_wait=busy_wait)
        term._handle(leftover)
        return term

    # ------------------------------------------------------------ driving loop

    def _flush(self) -> None:
        data = self.connection.data_to_send()
        if data:
            try:
                self.stream.write(data)
            except TransportError as exc:  # some of the bytes may have left
                self._link_lost(exc)

    def _pump(self, until: float | None) -> None:
        """Read once (at most until the next timer or ``until``) and process."""
        try:
            data = self.stream.read(self._read_timeout(until))
        except TransportError as exc:
            self._link_lost(exc)
            return
        self._after_read(data)
        self._flush()

    def _exchange(self, request: Message) -> Answer:
        """Send ``request`` and wait for its answer; ``sent=False`` when it never left.

        Once written (even in part) a request is never reported unsent: a stream failing
        afterwards gives a ``CLOSED`` failure, so a money-moving flow asks, or says unknown.
        """
        seq = self._begin(request)
        if isinstance(seq, Answer):
            return seq
        try:
            self._flush()
            while self._waiting(seq):
                self._pump(None)
        except Exception as exc:  # the request may be out: fail it, never raise
            self._internal_error(seq, exc)
        return self._settle(seq, request)

    def _do(self, command: Command) -> tuple[object, Exception | None]:
        """What ``command`` gave, or the exception it raised (for :func:`resume`)."""
        try:
            if isinstance(command, Send):
                return self._exchange(command.request), None
            if isinstance(command, Wait):
                self.poll(command.seconds)
            elif isinstance(command, TakeLate):
                return self._take_late(command.seq), None
            else:
                self._report(command.event)
        except Exception as exc:  # the flow decides: raise, or an outcome
            return None, exc
        return None, None

    def _run(self, flow: Flow[T]) -> T:
        """Run ``flow``; an exception while running a command is thrown into it, so a
        money-moving flow turns it into an outcome once its request may have left."""
        step = resume(flow)
        while not isinstance(step, Done):
            step = resume(flow, *self._do(step))
        return step.value

    def poll(self, seconds: float) -> None:
        """Run the protocol for ``seconds`` (heartbeats, late responses into diagnostics)."""
        until = self.clock() + seconds
        while self.clock() < until and self._closed_error is None:
            self._pump(until)

    # ------------------------------------------------------------------- API

    def identify(self) -> TerminalInfo:
        """Ask the terminal who it is (vendor, model, firmware, dialect, capabilities)."""
        self.info = self._run(self.ops.identify())
        return self.info

    def pay_bill(
        self, product: str, account: str, amount: Decimal | None = None, *,
        amount_fen: int | None = None,
    ) -> TransactionResult:
        """Pay ``amount`` (Decimal yuan) or ``amount_fen`` on ``product``/``account``."""
        return self._run(self.ops.pay_bill(product, account, amount, amount_fen))

    def withdraw(
        self, amount: Decimal | None = None, *, amount_fen: int | None = None
    ) -> TransactionResult:
        """Rural cash withdrawal with the card inserted at the terminal."""
        return self._run(self.ops.withdraw(amount, amount_fen))

    def reverse_last(self, original_ref: str | None = None) -> TransactionResult:
        """Reverse this client's last approved payment/withdrawal (or ``original_ref``)."""
        return self._run(self.ops.reverse_last(original_ref))

    def resolve(self, client_ref: str) -> TransactionResult:
        """Ask again what became of a transaction whose outcome was unknown."""
        return self._run(self.ops.resolve(client_ref))

    def balance(self) -> BalanceResult:
        return self._run(self.ops.balance())

    def status(self, ref: str = "", *, client_ref: str = "") -> JournalRecord | None:
        """The journal record with terminal ``ref`` (or ``client_ref``); None if none."""
        return self._run(self.ops.status(ref, client_ref))

    def journal(self, after: int = 0, *, limit: int = 50) -> JournalPage:
        """One page of journal records with cursors after ``after``."""
        return self._run(self.ops.journal(after, limit))

    def iter_journal(self, after: int = 0, *, limit: int = 50) -> Iterator[JournalRecord]:
        """Every journal record after ``after``, page by page."""
        while True:
            page = self.journal(after, limit=limit)
            yield from page.records
            if not page.more or not page.records:
                return
            after = page.next_cursor

    def ack_journal(self, upto: int) -> int:
        """Tell the terminal every record up to ``upto`` is stored; returns its acked cursor."""
        return self._run(self.ops.ack_journal(upto))

    def settlement_totals(self) -> SettlementTotals:
        return self._run(self.ops.settlement_totals())

    def device_status(self) -> DeviceStatus:
        return self._run(self.ops.device_status())

    def echo(self, payload: bytes = b"") -> bytes:
        return self._run(self.ops.echo(payload))

    # ---------------------------------------------------------------- closing

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> Terminal:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def connect(
    url: str,
    *,
    card_key: bytes,
    dialect: Dialect | str | None = None,
    baudrate: int = 9600,
    rng: random.Random | None = None,
    clock: Callable[[], float] = time.monotonic,
    host_time: Callable[[], datetime] = now_cst,
    status_attempts: int = 3,
    **timers: Any,
) -> Terminal:
    """Open ``url`` and return a connected :class:`Terminal` (see the module docstring).

    ``timers``: ``t1`` (1.0), ``max_retransmits`` (3), ``t2_money`` (10.0), ``t2_other``
    (3.0), ``heartbeat_interval`` (15.0, TCP), ``heartbeat_misses`` (2).
    """
    stream = open_stream(url, baudrate=baudrate)
    try:
        return Terminal.open(
            stream, card_key=card_key, dialect=None if dialect is None else Dialect(dialect),
            rng=rng, clock=clock, host_time=host_time, status_attempts=status_attempts,
            **timers,
        )
    except BaseException:
        stream.close()
        raise
