"""Issue 8 §2: money-moving calls never raise after the money may have moved.

Defects: a late frame with the payment's seq that was an ErrorReply or another response
type made ``pay_bill`` raise ``ProtocolError`` with no ``client_ref`` (the terminal had
paid: a caller retrying pays twice); an answer with the payment's seq but another
transaction's client_ref or amount was taken as this payment's result, so ``reverse_last``
then reversed the wrong payment; an ``ErrorReply(INTERNAL)`` raised ``TerminalError``
although the terminal may have executed the payment. Rule: every field the request fixed is
checked; a frame that fails is a protocol error on the link (kept in ``diagnostics``) and the
outcome comes from the journal by status query, or is ``unknown`` with the ``client_ref``.

The simulator's emulated terminal with a script (``stationlink_sim.script.Script``) sends
exactly the misbehaving frames over a real pty and a real TCP socket.
"""

from __future__ import annotations

import random

import pytest
from client_rig import KEY, Emulated

import stationlink
from stationlink.client import Outcome, Terminal, TransactionResult
from stationlink.client._core import AnswerRejected
from stationlink.protocol import Dialect, TxnStatus
from stationlink_sim.script import Script

FAST = {"t1": 0.2, "t2_money": 0.4, "t2_other": 0.3}
PHONE = "13800000000"


def _connect(url: str, seed: int) -> Terminal:
    return stationlink.connect(url, card_key=KEY, dialect=Dialect.SL_2,
                               rng=random.Random(seed), **FAST)


def _journal(emu: Emulated, client_ref: str) -> list[TxnStatus]:
    return [r.status for r in emu.journal if r.client_ref == client_ref]


def _rejected(term: Terminal) -> list[AnswerRejected]:
    return [ev for ev in term.diagnostics if isinstance(ev, AnswerRejected)]


def _check_settled(result: TransactionResult, emu: Emulated, outcome: Outcome) -> None:
    """The payment ran exactly once on the terminal and the result says so (or unknown)."""
    assert result.outcome is outcome
    assert _journal(emu, result.client_ref) == [TxnStatus.APPROVED]  # executed once
    assert emu.requests_seen.count("BillPaymentRequest") == 1  # never resent
    if outcome is Outcome.APPROVED:
        assert result.resolved_by == "status_query"
        assert result.record is not None
        assert (result.record.client_ref, result.record.amount_fen) == (result.client_ref, 5000)
    else:
        assert (result.record, result.resolved_by) == (None, "unresolved")
        assert "journal will resolve" in result.detail


# (step, status queries left unanswered, expected outcome)
LATE = [
    ("late_error", 1, Outcome.APPROVED),  # the case: the 2nd query is answered
    ("late_error", 3, Outcome.UNKNOWN),
    ("late_other", 1, Outcome.APPROVED),  # a StatusResponse(found=False) with the seq
    ("late_other", 3, Outcome.UNKNOWN),
    ("late_wrong_ref", 3, Outcome.UNKNOWN),  # another transaction's answer, late
]


@pytest.mark.parametrize(("step", "drops", "outcome"), LATE,
                         ids=[f"{s}-{d}" for s, d, _ in LATE])
def test_late_frame_with_the_payment_seq_is_never_its_outcome(
    serve, step: str, drops: int, outcome: Outcome,  # type: ignore[no-untyped-def]
) -> None:
    faults = Script(money=[step], status=["drop"] * drops)
    # one dropped query: wait long enough that the late frame is in before the next query
    timers = {**FAST, "t2_other": 1.0} if drops == 1 else FAST
    with serve(Dialect.SL_2, faults) as (emu, url), stationlink.connect(
        url, card_key=KEY, dialect=Dialect.SL_2, rng=random.Random(11), **timers
    ) as term:
        result = term.pay_bill("mobile", PHONE, amount_fen=5000)
        _check_settled(result, emu, outcome)
        [rejected] = _rejected(term)
        assert rejected.client_ref == result.client_ref
        assert "late" in result.detail or result.outcome is Outcome.APPROVED
        assert term.rejected_answers == 1
        assert term.pay_bill("mobile", PHONE, amount_fen=100).approved  # the link goes on
        assert emu.executed == 2


# (step, status queries left unanswered, expected outcome)
AT_ONCE = [
    ("wrong_ref", 0, Outcome.APPROVED),
    ("wrong_ref", 3, Outcome.UNKNOWN),
    ("wrong_amount", 0, Outcome.APPROVED),
    ("wrong_amount", 3, Outcome.UNKNOWN),
    ("error_internal", 0, Outcome.APPROVED),  # INTERNAL: it may have run; it did
    ("error_internal", 3, Outcome.UNKNOWN),
]


@pytest.mark.parametrize(("step", "drops", "outcome"), AT_ONCE,
                         ids=[f"{s}-{d}" for s, d, _ in AT_ONCE])
def test_answer_carrying_another_transaction_is_rejected(
    serve, step: str, drops: int, outcome: Outcome,  # type: ignore[no-untyped-def]
) -> None:
    faults = Script(money=["ok", step], status=["drop"] * drops)
    with serve(Dialect.MISPOS_1, faults) as (emu, url), stationlink.connect(
        url, card_key=KEY, dialect=Dialect.MISPOS_1, rng=random.Random(12), **FAST
    ) as term:
        first = term.pay_bill("mobile", PHONE, amount_fen=5000)
        emu.requests_seen.clear()
        result = term.pay_bill("mobile", PHONE, amount_fen=5000)
        _check_settled(result, emu, outcome)
        rejected = _rejected(term)
        assert [r.client_ref for r in rejected] == (
            [] if step == "error_internal" else [result.client_ref])
        if step == "wrong_ref":
            assert "client_ref" in rejected[0].reason
        if step == "wrong_amount":
            assert "amount_fen 5001, not 5000" in rejected[0].reason
    assert _journal(emu, first.client_ref) == [TxnStatus.APPROVED]


def test_reverse_last_reverses_the_confirmed_payment_not_the_one_an_answer_named(
    serve,  # type: ignore[no-untyped-def]
) -> None:
    """The 2nd payment's answer carries the 1st payment's record: the 2nd is settled by
    status query, and reverse_last reverses the 2nd, never the 1st."""
    faults = Script(money=["ok", "wrong_ref"])
    with serve(Dialect.SL_2, faults) as (emu, url), _connect(url, 13) as term:
        first = term.pay_bill("mobile", PHONE, amount_fen=5000)
        second = term.pay_bill("mobile", PHONE, amount_fen=5000)
        assert second.resolved_by == "status_query"
        assert second.record is not None
        reversal = term.reverse_last()
        assert reversal.approved
        assert reversal.record is not None
        assert reversal.record.original_ref == second.record.ref
    assert _journal(emu, first.client_ref) == [TxnStatus.APPROVED]
    assert _journal(emu, second.client_ref) == [TxnStatus.REVERSED]
    assert emu.executed == 1


def test_reverse_last_refuses_while_the_last_payment_is_unknown(
    serve,  # type: ignore[no-untyped-def]
) -> None:
    """The 2nd payment's answer names the 1st and no status query is answered: its outcome
    is unknown, so "the last payment" is unknown: nothing is reversed, nothing is sent."""
    faults = Script(money=["ok", "wrong_ref"], status=["drop"] * 3)
    with serve(Dialect.SL_2, faults) as (emu, url), _connect(url, 14) as term:
        first = term.pay_bill("mobile", PHONE, amount_fen=5000)
        second = term.pay_bill("mobile", PHONE, amount_fen=5000)
        assert second.outcome is Outcome.UNKNOWN
        with pytest.raises(ValueError, match=f"unknown.*{second.client_ref}"):
            term.reverse_last()
        assert "ReversalRequest" not in emu.requests_seen
        settled = term.resolve(second.client_ref)  # the journal settles it ...
        assert settled.approved
        reversal = term.reverse_last()  # ... and then it is the one reversed
        assert reversal.approved
        assert reversal.record is not None
        assert settled.record is not None
        assert reversal.record.original_ref == settled.record.ref
    assert _journal(emu, first.client_ref) == [TxnStatus.APPROVED]
    assert _journal(emu, second.client_ref) == [TxnStatus.REVERSED]


@pytest.mark.parametrize("step", ["wrong_ref", "wrong_type"])
def test_balance_answer_of_another_inquiry_is_unknown_not_a_balance(
    serve, step: str,  # type: ignore[no-untyped-def]
) -> None:
    faults = Script(balance=["ok", step])
    with serve(Dialect.SL_2, faults) as (emu, url), _connect(url, 15) as term:
        term.balance()
        lost = term.balance()
        assert lost.outcome is Outcome.UNKNOWN
        assert (lost.result, lost.balance_fen, lost.record) == (None, None, None)
        assert [r.client_ref for r in emu.journal] [-1] == lost.client_ref
        if step == "wrong_ref":
            [rejected] = _rejected(term)
            assert rejected.client_ref == lost.client_ref
        else:  # the connection ignores a wrong type: the answer is lost (T2)
            assert "timeout" in lost.detail
        assert term.balance().outcome is Outcome.APPROVED


def test_reverse_last_after_an_unknown_payment_that_never_ran(
    serve,  # type: ignore[no-untyped-def]
) -> None:
    """The 2nd payment never reached the terminal and no status query was answered: it is
    unknown; once resolve() shows it never ran, the 1st is the last one again."""
    faults = Script(status=["drop"] * 3)
    with serve(Dialect.SL_2, faults) as (emu, url), _connect(url, 16) as term:
        first = term.pay_bill("mobile", PHONE, amount_fen=5000)
        emu.script.money.append("lost")  # the next payment never reaches the terminal
        second = term.pay_bill("mobile", PHONE, amount_fen=6000)
        assert second.outcome is Outcome.UNKNOWN
        with pytest.raises(ValueError, match=second.client_ref):
            term.reverse_last()
        assert term.resolve(second.client_ref).outcome is Outcome.DECLINED
        reversal = term.reverse_last()
        assert reversal.approved
        assert first.record is not None
        assert reversal.record is not None
        assert reversal.record.original_ref == first.record.ref
    assert _journal(emu, first.client_ref) == [TxnStatus.REVERSED]
    assert _journal(emu, second.client_ref) == []
