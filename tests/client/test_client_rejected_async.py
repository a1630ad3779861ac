"""Issue 8 §2 for the asyncio client: the same rejected answers, and cancellation.

Defects (as in test_client_rejected_answers.py): late ErrorReply / other-type frames with the
payment's seq raised ``ProtocolError``; answers naming another transaction were accepted and
steered ``reverse_last``. Cancellation defect: a caller cancelled after the payment request
was written lost the outcome and the ``client_ref`` (the flow was abandoned mid-way); the
call must finish in the background and keep its result in ``detached_results``.
"""

from __future__ import annotations

import asyncio
import random

import pytest
from client_rig import KEY, Emulated

from stationlink.client import Outcome, TransactionResult
from stationlink.client import aio as aclient
from stationlink.protocol import Dialect, TxnStatus
from stationlink_sim.script import Script

FAST = {"t2_money": 0.4, "t2_other": 0.3, "t1": 0.2}


def _journal(emu: Emulated, client_ref: str) -> list[TxnStatus]:
    return [r.status for r in emu.journal if r.client_ref == client_ref]


async def _open(url: str, seed: int, t2_other: float = 0.3) -> aclient.AsyncTerminal:
    return await aclient.connect(url, card_key=KEY, dialect="sl-2", rng=random.Random(seed),
                                 **{**FAST, "t2_other": t2_other})


CASES = [
    ("late_error", 1, Outcome.APPROVED),
    ("late_error", 3, Outcome.UNKNOWN),
    ("late_other", 3, Outcome.UNKNOWN),
    ("wrong_ref", 0, Outcome.APPROVED),
    ("wrong_amount", 3, Outcome.UNKNOWN),
]


@pytest.mark.parametrize(("step", "drops", "outcome"), CASES,
                         ids=[f"{s}-{d}" for s, d, _ in CASES])
def test_async_rejected_answer_is_settled_or_unknown(
    serve, step: str, drops: int, outcome: Outcome,  # type: ignore[no-untyped-def]
) -> None:
    faults = Script(money=["ok", step], status=["drop"] * drops)
    with serve(Dialect.SL_2, faults) as (emu, url):
        async def main() -> tuple[TransactionResult, TransactionResult, int]:
            # one dropped query: long enough for the late frame to be in before the next
            term = await _open(url, 21, 1.0 if drops == 1 else 0.3)
            async with term:
                first = await term.pay_bill("mobile", "13800000000", amount_fen=5000)
                result = await term.pay_bill("mobile", "13800000000", amount_fen=5000)
                return first, result, term.rejected_answers

        first, result, rejected = asyncio.run(main())
    assert result.outcome is outcome
    assert rejected == 1
    assert _journal(emu, result.client_ref) == [TxnStatus.APPROVED]  # executed once
    assert emu.requests_seen.count("BillPaymentRequest") == 2  # never resent
    if outcome is Outcome.APPROVED:
        assert result.record is not None
        assert result.record.client_ref == result.client_ref
    else:
        assert result.record is None
    assert _journal(emu, first.client_ref) == [TxnStatus.APPROVED]


@pytest.mark.parametrize("drops", [0, 3])
def test_async_reverse_last_after_a_mismatching_answer(serve, drops: int) -> None:  # type: ignore[no-untyped-def]
    faults = Script(money=["ok", "wrong_ref"], status=["drop"] * drops)
    with serve(Dialect.MISPOS_1, faults) as (emu, url):
        async def main() -> tuple[TransactionResult, TransactionResult, object]:
            term = await aclient.connect(url, card_key=KEY, dialect="mispos-1",
                                         rng=random.Random(22), **FAST)
            async with term:
                first = await term.withdraw(amount_fen=1000)
                second = await term.withdraw(amount_fen=1000)
                try:
                    reversal: object = await term.reverse_last()
                except ValueError as exc:
                    reversal = exc
                return first, second, reversal

        first, second, reversal = asyncio.run(main())
    assert _journal(emu, first.client_ref) == [TxnStatus.APPROVED]  # never the wrong one
    if drops:
        assert second.outcome is Outcome.UNKNOWN
        assert isinstance(reversal, ValueError)
        assert "ReversalRequest" not in emu.requests_seen
        assert _journal(emu, second.client_ref) == [TxnStatus.APPROVED]
    else:
        assert isinstance(reversal, TransactionResult)
        assert reversal.approved
        assert _journal(emu, second.client_ref) == [TxnStatus.REVERSED]


def test_cancelled_caller_does_not_lose_the_payment(serve) -> None:  # type: ignore[no-untyped-def]
    """The caller is cancelled after the terminal executed the payment (its answer is lost):
    the call finishes in the background, resolves by status query, keeps its result; the
    terminal stays usable and nothing is paid twice."""
    faults = Script(money=["drop"])
    with serve(Dialect.SL_2, faults) as (emu, url):
        async def main() -> tuple[list[object], TransactionResult]:
            term = await _open(url, 23)
            async with term:
                call = asyncio.ensure_future(term.pay_bill("water", "A-1", amount_fen=700))
                while emu.executed == 0:  # the request reached the terminal and ran
                    await asyncio.sleep(0.01)
                call.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await call
                nxt = await term.pay_bill("water", "A-1", amount_fen=800)  # waits its turn
                await term.settled()
                return list(term.detached_results), nxt

        detached, nxt = asyncio.run(main())
    [kept] = detached
    assert isinstance(kept, TransactionResult)
    assert kept.outcome is Outcome.APPROVED
    assert kept.resolved_by == "status_query"
    assert _journal(emu, kept.client_ref) == [TxnStatus.APPROVED]
    assert nxt.approved
    assert emu.executed == 2
    assert emu.requests_seen.count("BillPaymentRequest") == 2


def test_cancelled_while_waiting_for_the_terminal_sends_nothing(serve) -> None:  # type: ignore[no-untyped-def]
    faults = Script(money=["drop"])
    with serve(Dialect.SL_2, faults) as (emu, url):
        async def main() -> list[object]:
            term = await _open(url, 24)
            async with term:
                busy = asyncio.ensure_future(term.pay_bill("gas", "G-1", amount_fen=100))
                while emu.executed == 0:
                    await asyncio.sleep(0.01)
                waiting = asyncio.ensure_future(term.withdraw(amount_fen=100))
                await asyncio.sleep(0)  # it is now waiting for the terminal lock
                waiting.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiting
                assert (await busy).approved
                await term.settled()
                return list(term.detached_results)

        detached = asyncio.run(main())
    assert detached == []
    assert "WithdrawalRequest" not in emu.requests_seen
