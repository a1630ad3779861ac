"""Once a payment request may have left, ``pay_bill`` never raises and never resends.

- A stream whose read fails with an unexpected exception (not a ``TransportError``: a bug,
  a codec error that escaped) after the payment was written: before the fix the exception
  escaped ``pay_bill`` and the ``client_ref`` was lost; now the link is closed and the
  result is ``unknown`` with the client_ref, for the blocking and the asyncio client.
- Property (hypothesis, seeded): over any sequence of peer behaviours per payment (answered,
  lost, late, late ErrorReply, late other type, late other transaction, another
  transaction's record, wrong amount, wrong type, ErrorReply(INTERNAL), garbage) and any
  number of unanswered status queries, on serial and TCP framing, every ``pay_bill``
  returns; the terminal saw each payment request exactly once; and the outcome is the
  journal's truth or ``unknown``. This runs the real blocking client over an in-memory
  stream with a manual clock (``stationlink_sim.loop.LoopStream``); the same paths run
  over real ptys and sockets in test_client_rejected_answers.py.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from client_rig import KEY, START, loop_emulated
from hypothesis import given, settings
from hypothesis import strategies as st
from protocol_helpers_client import loop_terminal
from stream_faults import AsyncPassing, Passing

import stationlink
from stationlink.client import Outcome, Terminal, TransactionResult
from stationlink.client import aio as aclient
from stationlink.clock import ManualClock
from stationlink.errors import EncodeError
from stationlink.protocol import Dialect, HostConnection, Message, StatusQuery, Transport, TxnStatus
from stationlink.transport import open_stream
from stationlink.transport.base import AsyncByteStream, ByteStream
from stationlink_sim.script import ANSWER_STEPS, Script
from stationlink_sim.serve import RunningTerminal, serve_terminal
from stationlink_sim.waiting import wait_until

TIMERS = {"t1": 0.3, "t2_money": 1.0, "t2_other": 1.0}


def _executed(t: RunningTerminal) -> None:
    """Wait until the terminal has executed the payment (so the test does not race it)."""
    wait_until(lambda: t.device.executed, 5.0, "the terminal to execute the payment")


class _BrokenRead(Passing):
    """A real stream whose armed read, once the terminal executed the payment, raises an
    unexpected (non-stationlink) exception."""

    def __init__(self, stream: ByteStream, t: RunningTerminal) -> None:
        super().__init__(stream)
        self.t = t

    def read(self, timeout: float | None) -> bytes:
        if self.fire():
            _executed(self.t)
            raise RuntimeError("decoder bug")
        return self.stream.read(timeout)


def test_unexpected_exception_after_the_payment_left_gives_unknown() -> None:
    with serve_terminal("bill", "sl-2", seed=21, card_key=KEY) as t:
        stream = _BrokenRead(open_stream(t.url), t)
        with Terminal.open(stream, card_key=KEY, dialect=Dialect.SL_2,  # type: ignore[arg-type]
                           rng=random.Random(3), **TIMERS) as host:
            assert host.echo(b"up") == b"up"
            stream.armed = True
            lost = host.pay_bill("mobile", "13912345678", amount_fen=4000)
            assert lost.outcome is Outcome.UNKNOWN
            assert "decoder bug" in lost.detail
            assert host.link_closed
        with Terminal.open(open_stream(t.url), card_key=KEY, dialect=Dialect.SL_2,
                           rng=random.Random(4), **TIMERS) as again:
            settled = again.resolve(lost.client_ref)
    assert settled.outcome is Outcome.APPROVED  # it had reached the terminal
    assert [r.client_ref for r in t.device.journal] == [lost.client_ref]


class _BrokenAsyncRead(AsyncPassing):
    def __init__(self, stream: AsyncByteStream, t: RunningTerminal) -> None:
        super().__init__(stream)
        self.t = t

    async def read(self, timeout: float | None) -> bytes:
        if self.fire():
            while not self.t.device.executed:
                await asyncio.sleep(0.01)
            raise KeyError("decoder bug")
        return await self.stream.read(timeout)


def test_async_unexpected_exception_after_the_payment_left_gives_unknown() -> None:
    from stationlink.transport.aio import open_async_stream
    from stationlink.transport.url import parse_url

    with serve_terminal("bill", "sl-2", seed=21, card_key=KEY) as t:
        async def main() -> tuple[TransactionResult, bool]:
            stream = _BrokenAsyncRead(await open_async_stream(parse_url(t.url)), t)
            term = await aclient.AsyncTerminal.open(
                stream, card_key=KEY, dialect=Dialect.SL_2,  # type: ignore[arg-type]
                rng=random.Random(5), **TIMERS)
            async with term:
                assert await term.echo(b"up") == b"up"
                stream.armed = True
                return await term.pay_bill("mobile", "13912345678", amount_fen=4100), (
                    term.link_closed)

        lost, closed = asyncio.run(main())
    assert lost.outcome is Outcome.UNKNOWN
    assert "decoder bug" in lost.detail
    assert closed
    assert [r.client_ref for r in t.device.journal] == [lost.client_ref]


# ----------------------------------------------------------------------- property


@settings(derandomize=True, deadline=None, max_examples=80)
@given(
    transport=st.sampled_from(list(Transport)),
    dialect=st.sampled_from(list(Dialect)),
    steps=st.lists(st.sampled_from(ANSWER_STEPS), min_size=1, max_size=4),
    status_drops=st.integers(0, 4),
    seed=st.integers(0, 2**16),
)
def test_pay_bill_never_raises_after_sending_and_never_sends_twice(
    transport: Transport, dialect: Dialect, steps: list[str], status_drops: int, seed: int,
) -> None:
    clock = ManualClock(START)
    emu = loop_emulated(dialect, transport,
                        Script(money=list(steps), status=["drop"] * status_drops), clock)
    term = loop_terminal(emu, clock, seed, **TIMERS)
    for i in range(len(steps)):
        if term.link_closed:  # garbage on TCP drops the stream: reconnect
            term = loop_terminal(emu, clock, seed + i + 1, **TIMERS)
        sent_before = emu.requests_seen.count("BillPaymentRequest")
        result = term.pay_bill("mobile", "13800000000", amount_fen=1000 + i)  # never raises
        assert emu.requests_seen.count("BillPaymentRequest") == sent_before + 1
        mine = [r for r in emu.journal if r.client_ref == result.client_ref]
        assert len(mine) == 1  # executed exactly once
        truth = mine[0]
        assert truth.status is TxnStatus.APPROVED
        if result.outcome is Outcome.UNKNOWN:
            assert result.record is None
            assert result.client_ref in result.detail or result.detail
        else:  # known: exactly the journal's truth, never another transaction's record
            assert result.outcome is Outcome.APPROVED
            assert result.record is not None
            assert (result.record.ref, result.record.client_ref, result.record.amount_fen) == (
                truth.ref, truth.client_ref, truth.amount_fen)
    assert emu.executed == len(steps)


@pytest.mark.parametrize("client", ["blocking", "asyncio"])
def test_status_query_that_cannot_be_queued_gives_unknown_not_an_exception(
    serve, monkeypatch: pytest.MonkeyPatch, client: str,  # type: ignore[no-untyped-def]
) -> None:
    """The payment's answer is lost and queuing the status query raises (here an
    EncodeError; any error of the connection): before the fix it escaped ``pay_bill``
    after the payment had run; now the result is unknown with the client_ref."""
    real = HostConnection.send_request

    def send_request(self: HostConnection, msg: Message, **kw: Any) -> int:
        if isinstance(msg, StatusQuery):
            raise EncodeError("status query field out of range")
        return real(self, msg, **kw)

    monkeypatch.setattr(HostConnection, "send_request", send_request)
    fast = {"t1": 0.2, "t2_money": 0.4, "t2_other": 0.3}
    with serve(Dialect.SL_2, Script(money=["drop"])) as (emu, url):
        if client == "blocking":
            with stationlink.connect(url, card_key=KEY, dialect="sl-2",
                                     rng=random.Random(6), **fast) as term:
                lost = term.pay_bill("mobile", "13800000000", amount_fen=300)
        else:
            async def main() -> TransactionResult:
                aterm = await aclient.connect(url, card_key=KEY, dialect="sl-2",
                                              rng=random.Random(6), **fast)
                async with aterm:
                    return await aterm.pay_bill("mobile", "13800000000", amount_fen=300)

            lost = asyncio.run(main())
    assert lost.outcome is Outcome.UNKNOWN
    assert "status query field out of range" in lost.detail
    assert [r.client_ref for r in emu.journal] == [lost.client_ref]
    assert emu.requests_seen == ["BillPaymentRequest"]
