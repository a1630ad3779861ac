"""The asyncio high-level client: ``await stationlink.client.aio.connect(url)``.

Contract: the same methods, results, exceptions and lost-response handling as
:class:`stationlink.client.Terminal` (both run the flows of :mod:`stationlink.client._core`
over the same sans-I/O :class:`~stationlink.protocol.HostConnection`, with the
event handling of :class:`stationlink.client._base.HostSide`), awaitable.
Detection is :func:`stationlink.transport.detect_async` (a fresh TCP connection per probe).
One request runs at a time per terminal (an internal lock serialises concurrent callers).
``async with`` closes the stream. The protocol runs while a method runs or during
:meth:`AsyncTerminal.poll`. Once a money-moving request (or a balance inquiry) may have
left, the call never raises, exactly as the blocking client: a known outcome from a checked
answer or the journal, or ``Outcome.UNKNOWN`` with the ``client_ref``.

Cancellation: a money-moving call (``pay_bill``, ``withdraw``, ``reverse_last``,
``balance``) runs in its own task, shielded from the caller's cancellation. Cancelled while
waiting for the terminal lock, nothing is sent. Cancelled later, the caller gets
``CancelledError`` as asyncio requires, but the call goes on in the background (it keeps the
terminal until it ends: no other request interleaves) and its result, known or ``unknown``
with the ``client_ref``, is appended to :attr:`AsyncTerminal.detached_results` (and logged)
instead of being lost; ``await term.settled()`` waits for such calls. ``close()`` ends the
link under it: the result is then ``unknown``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar

from ..errors import TransportError
from ..protocol import Dialect, HostConnection, HostEvent, JournalRecord, Message
from ..transport import detect_async
from ..transport.aio import open_async_stream
from ..transport.base import AsyncByteStream
from ..transport.url import parse_url
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
R = TypeVar("R", TransactionResult, BalanceResult)

log = logging.getLogger("stationlink.client")


class AsyncTerminal(HostSide):
    """A connected terminal (asyncio). Build with :func:`connect` or :meth:`open`."""

    def __init__(
        self, stream: AsyncByteStream, connection: HostConnection, *, rng: random.Random,
        clock: Callable[[], float] = time.monotonic,
        host_time: Callable[[], datetime] = now_cst, info: TerminalInfo | None = None,
        status_attempts: int = 3, busy_wait: float = 1.0,
    ) -> None:
        super().__init__(connection, rng=rng, clock=clock, host_time=host_time, info=info,
                         status_attempts=status_attempts, busy_wait=busy_wait)
        self.stream = stream
        self._lock = asyncio.Lock()
        #: results of money-moving calls whose caller was cancelled (see the module docs)
        self.detached_results: list[TransactionResult | BalanceResult] = []
        self._detached: set[asyncio.Task[TransactionResult] | asyncio.Task[BalanceResult]] = set()

    @classmethod
    async def open(
        cls, stream: AsyncByteStream, *, card_key: bytes, dialect: Dialect | None = None,
        rng: random.Random | None = None, clock: Callable[[], float] = time.monotonic,
        host_time: Callable[[], datetime] = now_cst, status_attempts: int = 3,
        busy_wait: float = 1.0, **timers: Any,
    ) -> AsyncTerminal:
        """Run the protocol over an open asyncio ``stream`` (see ``Terminal.open``)."""
        rng = rng if rng is not None else random.Random()  # noqa: S311 - not for secrets
        first_seq = rng.randrange(1, 65536)
        timers.setdefault("byte_time", stream.byte_time)
        info = None
        leftover: list[HostEvent] = []
        if dialect is None:  # a fresh TCP connection per probe (transport.detect_async)
            found, leftover = await detect_async(
                stream, card_key=card_key, clock=clock, host_time=host_time,
                first_seq=first_seq, **timers)
            connection, info = found.connection, detected_info(found)
        else:
            connection = HostConnection(Dialect(dialect), stream.kind, card_key=card_key,
                                        clock=clock, first_seq=first_seq, **timers)
        term = cls(stream, connection, rng=rng, clock=clock, host_time=host_time, info=info,
                   status_attempts=status_attempts, busy_wait=busy_wait)
        term._handle(leftover)
        return term

    # ------------------------------------------------------------ driving loop

    async def _flush(self) -> None:
        data = self.connection.data_to_send()
        if data:
            try:
                await self.stream.write(data)
            except TransportError as exc:  # some of the bytes may have left
                self._link_lost(exc)

    async def _pump(self, until: float | None) -> None:
        try:
            data = await self.stream.read(self._read_timeout(until))
        except TransportError as exc:
            self._link_lost(exc)
            return
        self._after_read(data)
        await self._flush()

    async def _exchange(self, request: Message) -> Answer:
        """As ``Terminal._exchange``: once written, a request is never reported unsent."""
        seq = self._begin(request)
        if isinstance(seq, Answer):
            return seq
        try:
            await self._flush()
            while self._waiting(seq):
                await self._pump(None)
        except Exception as exc:  # the request may be out: fail it, never raise
            self._internal_error(seq, exc)
        return self._settle(seq, request)

    async def _do(self, command: Command) -> tuple[object, Exception | None]:
        """What ``command`` gave, or the exception it raised (as ``Terminal._do``)."""
        try:
            if isinstance(command, Send):
                return await self._exchange(command.request), None
            if isinstance(command, Wait):
                await self._poll(command.seconds)
            elif isinstance(command, TakeLate):
                return self._take_late(command.seq), None
            else:
                self._report(command.event)
        except Exception as exc:  # the flow decides: raise, or an outcome
            return None, exc
        return None, None

    async def _drive(self, flow: Flow[T]) -> T:
        """Run ``flow`` to its end (the caller holds the lock); an exception while running
        a command is thrown into the flow (see ``Terminal._run``)."""
        step = resume(flow)
        while not isinstance(step, Done):
            step = resume(flow, *await self._do(step))
        return step.value

    async def _run(self, flow: Flow[T]) -> T:
        async with self._lock:
            return await self._drive(flow)

    async def _run_money(self, flow: Flow[R]) -> R:
        """Run a money-moving flow in a task the caller's cancellation does not stop."""
        await self._lock.acquire()  # cancelled here: nothing was sent
        try:
            task = asyncio.get_running_loop().create_task(self._drive(flow))
        except BaseException:
            self._lock.release()
            raise
        task.add_done_callback(lambda _: self._lock.release())  # held until the call ends
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                self._detached.add(task)
                task.add_done_callback(self._detached_done)
            elif not task.cancelled() and task.exception() is None:
                self._keep(task.result())
            raise

    def _keep(self, result: TransactionResult | BalanceResult) -> None:
        self.detached_results.append(result)
        log.warning("money-moving call finished after its caller was cancelled: %s "
                    "(client_ref %s)", result.outcome.value, result.client_ref)

    def _detached_done(self, task: asyncio.Task[R]) -> None:
        self._detached.discard(task)
        if task.cancelled():
            log.error("a detached money-moving call was cancelled; see the journal")
            return
        exc = task.exception()
        if exc is not None:  # raised before anything was sent (bad arguments, link dead)
            log.warning("a cancelled money-moving call raised: %r", exc)
            return
        result = task.result()
        assert isinstance(result, TransactionResult | BalanceResult)  # noqa: S101
        self._keep(result)

    async def settled(self) -> None:
        """Wait until every money-moving call whose caller was cancelled has ended."""
        while self._detached:
            await asyncio.wait(set(self._detached))

    async def _poll(self, seconds: float) -> None:
        until = self.clock() + seconds
        while self.clock() < until and self._closed_error is None:
            await self._pump(until)

    async def poll(self, seconds: float) -> None:
        """Run the protocol for ``seconds`` (heartbeats, late responses into diagnostics)."""
        async with self._lock:
            await self._poll(seconds)

    # ------------------------------------------------------------------- API

    async def identify(self) -> TerminalInfo:
        self.info = await self._run(self.ops.identify())
        return self.info

    async def pay_bill(self, product: str, account: str, amount: Decimal | None = None, *,
                       amount_fen: int | None = None) -> TransactionResult:
        return await self._run_money(self.ops.pay_bill(product, account, amount, amount_fen))

    async def withdraw(self, amount: Decimal | None = None, *,
                       amount_fen: int | None = None) -> TransactionResult:
        return await self._run_money(self.ops.withdraw(amount, amount_fen))

    async def reverse_last(self, original_ref: str | None = None) -> TransactionResult:
        return await self._run_money(self.ops.reverse_last(original_ref))

    async def resolve(self, client_ref: str) -> TransactionResult:
        return await self._run(self.ops.resolve(client_ref))

    async def balance(self) -> BalanceResult:
        return await self._run_money(self.ops.balance())

    async def status(self, ref: str = "", *, client_ref: str = "") -> JournalRecord | None:
        return await self._run(self.ops.status(ref, client_ref))

    async def journal(self, after: int = 0, *, limit: int = 50) -> JournalPage:
        return await self._run(self.ops.journal(after, limit))

    async def iter_journal(self, after: int = 0, *, limit: int = 50
                           ) -> AsyncIterator[JournalRecord]:
        while True:
            page = await self.journal(after, limit=limit)
            for record in page.records:
                yield record
            if not page.more or not page.records:
                return
            after = page.next_cursor

    async def ack_journal(self, upto: int) -> int:
        return await self._run(self.ops.ack_journal(upto))

    async def settlement_totals(self) -> SettlementTotals:
        return await self._run(self.ops.settlement_totals())

    async def device_status(self) -> DeviceStatus:
        return await self._run(self.ops.device_status())

    async def echo(self, payload: bytes = b"") -> bytes:
        return await self._run(self.ops.echo(payload))

    async def close(self) -> None:
        await self.stream.close()

    async def __aenter__(self) -> AsyncTerminal:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()


async def connect(
    url: str, *, card_key: bytes, dialect: Dialect | str | None = None, baudrate: int = 9600,
    rng: random.Random | None = None, clock: Callable[[], float] = time.monotonic,
    host_time: Callable[[], datetime] = now_cst, status_attempts: int = 3, **timers: Any,
) -> AsyncTerminal:
    """Open ``url`` and return a connected :class:`AsyncTerminal` (URL forms as ``connect``)."""
    stream = await open_async_stream(parse_url(url, baudrate=baudrate))
    try:
        return await AsyncTerminal.open(
            stream, card_key=card_key, dialect=None if dialect is None else Dialect(dialect),
            rng=rng, clock=clock, host_time=host_time, status_attempts=status_attempts,
            **timers,
        )
    except BaseException:
        await stream.close()
        raise
