"""The link dies while a money-moving request is out: *unknown* with its client_ref, never raised.

Integration defect: when the TCP connection closed (or the port failed) after a bill payment,
withdrawal or reversal was written, ``pay_bill``/``withdraw`` raised ``LinkFailedError`` and
the caller lost the ``client_ref``. Rule: once the request may have reached the terminal the
result is ``Outcome.UNKNOWN`` with the ``client_ref``; a new connection's ``resolve`` settles
it. Everything runs against the simulator's emulated terminal over real sockets and ptys.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from decimal import Decimal

import pytest
from stream_faults import Passing

import stationlink
from stationlink.client import Outcome, Terminal, TransactionResult
from stationlink.client import aio as aclient
from stationlink.errors import LinkFailedError, TransportError
from stationlink.protocol import (
    BalanceInquiryRequest,
    BillPaymentRequest,
    Dialect,
    Message,
    ReversalRequest,
    TxnKind,
    TxnStatus,
    WithdrawalRequest,
)
from stationlink.transport import open_stream
from stationlink_sim.serve import RunningTerminal, serve_terminal

KEY = b"link-loss-card-key"
TIMERS = {"t1": 0.3, "t2_money": 1.0, "t2_other": 1.0}
PHONE = "13912345678"


def _connect(url: str, seed: int) -> Terminal:
    return stationlink.connect(url, card_key=KEY, dialect="sl-2", rng=random.Random(seed),
                               **TIMERS)


def _records(t: RunningTerminal, client_ref: str) -> list[TxnStatus]:
    return [r.status for r in t.device.journal if r.client_ref == client_ref]


Op = Callable[[Terminal], TransactionResult]
CASES: list[tuple[str, type[Message], Op]] = [
    ("bill", BillPaymentRequest, lambda h: h.pay_bill("mobile", PHONE, Decimal("50.00"))),
    ("card", WithdrawalRequest, lambda h: h.withdraw(amount_fen=1000)),
]


@pytest.mark.parametrize(("kind", "request_type", "op"), CASES, ids=["pay_bill", "withdraw"])
def test_connection_closed_after_execution_gives_unknown_then_resolve_approves(
    kind: str, request_type: type[Message], op: Op,
) -> None:
    with serve_terminal(kind, "sl-2", seed=21, card_key=KEY) as t:
        t.close_after(request_type)
        with _connect(t.url, 1) as host:
            lost = op(host)
            assert lost.outcome is Outcome.UNKNOWN
            assert lost.resolved_by == "unresolved"
            assert lost.record is None
            assert lost.client_ref
            assert "closed" in lost.detail
            assert host.link_closed
            with pytest.raises(LinkFailedError):  # provably never left: raising is right
                op(host)
        assert t.device.executed == 1
        with _connect(t.url, 2) as again:
            settled = again.resolve(lost.client_ref)
        assert t.runner.error is None
    assert settled.outcome is Outcome.APPROVED
    assert settled.resolved_by == "status_query"
    assert settled.record is not None
    assert settled.record.client_ref == lost.client_ref
    assert _records(t, lost.client_ref) == [TxnStatus.APPROVED]  # executed exactly once
    assert t.device.executed == 1


def test_connection_closed_after_a_reversal_gives_unknown_then_resolves() -> None:
    with serve_terminal("bill", "sl-2", seed=21, card_key=KEY) as t:
        t.close_after(ReversalRequest)
        with _connect(t.url, 1) as host:
            paid = host.pay_bill("mobile", PHONE, amount_fen=2000)
            assert paid.approved
            lost = host.reverse_last()
        assert lost.outcome is Outcome.UNKNOWN
        with _connect(t.url, 2) as again:
            settled = again.resolve(lost.client_ref)
            original = again.status(client_ref=paid.client_ref)
    assert settled.outcome is Outcome.APPROVED
    assert original is not None
    assert original.status is TxnStatus.REVERSED
    assert t.device.executed == 2  # the payment and its one reversal


def test_request_lost_with_the_connection_is_unknown_then_resolves_as_never_executed() -> None:
    # disconnect#1: the connection closes just before the first request, which is lost
    with serve_terminal("bill", "sl-2", seed=21, card_key=KEY, faults="disconnect#1") as t:
        with _connect(t.url, 1) as host:
            lost = host.pay_bill("mobile", PHONE, amount_fen=3000)
        assert lost.outcome is Outcome.UNKNOWN
        with _connect(t.url, 2) as again:
            settled = again.resolve(lost.client_ref)
    assert settled.outcome is Outcome.DECLINED
    assert settled.record is None
    assert "never executed" in settled.detail
    assert t.device.executed == 0
    assert list(t.device.journal) == []


class _FailingWrite(Passing):
    """A real stream whose armed write sends only the first half, then fails."""

    def write(self, data: bytes) -> None:
        if self.fire():
            self.stream.write(data[: len(data) // 2])
            raise TransportError(f"{self.description}: send failed: port unplugged")
        self.stream.write(data)


@pytest.mark.parametrize("use_pty", [False, True], ids=["tcp", "pty"])
def test_write_failing_part_way_through_a_payment_gives_unknown(use_pty: bool) -> None:
    with serve_terminal("bill", "sl-2", pty=use_pty, seed=21, card_key=KEY) as t:
        stream = _FailingWrite(open_stream(t.url))
        with Terminal.open(stream, card_key=KEY, dialect=Dialect.SL_2,
                           rng=random.Random(3), **TIMERS) as host:
            assert host.echo(b"up") == b"up"
            stream.armed = True
            lost = host.pay_bill("mobile", PHONE, amount_fen=4000)
            assert lost.outcome is Outcome.UNKNOWN
            assert "port unplugged" in lost.detail
        with _connect(t.url, 2) as again:
            settled = again.resolve(lost.client_ref)
            assert again.pay_bill("mobile", PHONE, amount_fen=100).approved  # line is fine
    assert settled.outcome is Outcome.DECLINED  # half a frame: never executed
    assert settled.record is None
    assert _records(t, lost.client_ref) == []


def test_async_client_returns_unknown_when_the_connection_closes_after_execution() -> None:
    with serve_terminal("bill", "sl-2", seed=21, card_key=KEY) as t:
        t.close_after(BillPaymentRequest)

        async def main() -> tuple[TransactionResult, TransactionResult]:
            term = await aclient.connect(t.url, card_key=KEY, dialect="sl-2",
                                         rng=random.Random(4), **TIMERS)
            async with term:
                lost = await term.pay_bill("mobile", PHONE, Decimal("20.00"))
                assert term.link_closed
                with pytest.raises(LinkFailedError):
                    await term.echo(b"x")
            again = await aclient.connect(t.url, card_key=KEY, dialect="sl-2",
                                          rng=random.Random(5), **TIMERS)
            async with again:
                return lost, await again.resolve(lost.client_ref)

        lost, settled = asyncio.run(main())
    assert lost.outcome is Outcome.UNKNOWN
    assert lost.record is None
    assert settled.outcome is Outcome.APPROVED
    assert settled.record is not None
    assert settled.record.client_ref == lost.client_ref
    assert t.device.executed == 1


def test_balance_answer_lost_with_the_connection_is_unknown_with_its_client_ref() -> None:
    """Blocking and asyncio: the inquiry is journaled, the connection closes before the
    answer leaves: ``Outcome.UNKNOWN`` naming the client_ref that the journal record carries."""
    with serve_terminal("card", "sl-2", seed=23, card_key=KEY) as t:
        t.close_after(BalanceInquiryRequest)
        with _connect(t.url, 1) as host:
            lost = host.balance()
            assert host.link_closed
        t.close_after(BalanceInquiryRequest)

        async def run() -> tuple[Outcome, str, str, bool]:
            term = await aclient.connect(t.url, card_key=KEY, dialect="sl-2",
                                         rng=random.Random(2), **TIMERS)
            async with term:
                result = await term.balance()
                return result.outcome, result.client_ref, result.detail, term.link_closed

        a_outcome, a_ref, a_detail, a_closed = asyncio.run(run())
        assert t.runner.error is None
    inquiries = [r.client_ref for r in t.device.journal if r.kind is TxnKind.BALANCE_INQUIRY]
    assert inquiries == [lost.client_ref, a_ref]  # each executed once, each ref reported
    assert lost.outcome is Outcome.UNKNOWN
    assert (lost.result, lost.balance_fen, lost.record) == (None, None, None)
    assert "closed" in lost.detail
    assert (a_outcome, a_closed) == (Outcome.UNKNOWN, True)
    assert "closed" in a_detail
