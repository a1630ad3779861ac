"""Lost responses: the client asks instead of resending; no payment is ever made twice.

Real transports (a pty pair and a TCP socket on 127.0.0.1) with an emulated terminal that
executes payments and then drops the responses, plus a unit test on the sans-I/O core.
"""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from client_rig import KEY, START, Emulated, loop_emulated
from protocol_helpers_client import drive

import stationlink
from stationlink.client import Outcome
from stationlink.clock import ManualClock
from stationlink.protocol import Dialect, Transport
from stationlink_sim.script import Script

FAST = {"t1": 0.2, "t2_money": 0.4, "t2_other": 0.3}


def refs_in_journal(emu: Emulated, client_ref: str) -> int:
    return sum(1 for r in emu.journal if r.client_ref == client_ref)


@pytest.mark.parametrize("dialect", list(Dialect))
def test_dropped_response_resolved_by_status_query(serve, dialect: Dialect) -> None:  # type: ignore[no-untyped-def]
    with serve(dialect, Script(money=["drop"] * 3)) as (emu, url), stationlink.connect(
        url, card_key=KEY, dialect=dialect, rng=random.Random(1), **FAST
    ) as term:
        results = [term.pay_bill("mobile", "13800000000", Decimal("30.00")) for _ in range(3)]
        assert [r.outcome for r in results] == [Outcome.APPROVED] * 3
        assert {r.resolved_by for r in results} == {"status_query"}
        assert emu.executed == 3
        for r in results:
            assert refs_in_journal(emu, r.client_ref) == 1
            assert r.record is not None
            assert r.record.client_ref == r.client_ref
        assert emu.requests_seen.count("BillPaymentRequest") == 3  # never resent


def test_unknown_outcome_when_status_cannot_be_learned(serve) -> None:  # type: ignore[no-untyped-def]
    script = Script(money=["drop"], status=["drop"] * 3)
    with serve(Dialect.SL_2, script) as (emu, url), stationlink.connect(
        url, card_key=KEY, dialect=Dialect.SL_2, rng=random.Random(2), **FAST
    ) as term:
        lost = term.pay_bill("water", "A-1001", amount_fen=8800)
        assert lost.outcome is Outcome.UNKNOWN
        assert lost.record is None
        assert "journal will resolve" in lost.detail
        assert emu.executed == 1
        assert emu.requests_seen.count("StatusQuery") == 3
        # the journal resolves it: exactly one record carries the client_ref
        matching = [r for r in term.iter_journal() if r.client_ref == lost.client_ref]
        assert len(matching) == 1
        assert matching[0].amount_fen == 8800
        assert term.resolve(lost.client_ref).outcome is Outcome.APPROVED
        nxt = term.pay_bill("water", "A-1001", amount_fen=100)
        assert nxt.outcome is Outcome.APPROVED
        assert nxt.client_ref != lost.client_ref
        assert emu.executed == 2
        assert emu.requests_seen.count("BillPaymentRequest") == 2


def test_request_that_never_arrived_is_reported_not_executed(serve) -> None:  # type: ignore[no-untyped-def]
    with serve(Dialect.MISPOS_1, Script(money=["lost"])) as (emu, url), stationlink.connect(
        url, card_key=KEY, dialect=Dialect.MISPOS_1, **FAST
    ) as term:
        result = term.withdraw(Decimal("100"))
        assert result.outcome is Outcome.DECLINED
        assert result.record is None
        assert "never executed" in result.detail
        assert emu.executed == 0


@pytest.mark.parametrize("transport", list(Transport))
def test_sans_io_core_never_pays_twice(transport: Transport) -> None:
    """Unit level: the flow over HostConnection + emulated terminal with a fake clock."""
    clock = ManualClock(START)
    emu = loop_emulated(Dialect.SL_2, transport,
                        Script(money=["drop"] * 5, status=["drop"] * 3), clock)
    outcomes = []
    for i in range(6):
        result = drive(emu, transport, seed=i, clock=clock)
        outcomes.append(result.outcome)
        assert refs_in_journal(emu, result.client_ref) == 1
    assert emu.executed == 6
    assert outcomes[0] is Outcome.UNKNOWN  # its three status queries were dropped too
    assert outcomes[1:] == [Outcome.APPROVED] * 5


def test_lost_balance_answer_is_unknown_with_its_client_ref(serve) -> None:  # type: ignore[no-untyped-def]
    """The inquiry is journaled, its answer lost: UNKNOWN naming the client_ref it sent."""
    with serve(Dialect.MISPOS_1, Script(balance=["drop"])) as (emu, url), stationlink.connect(
        url, card_key=KEY, dialect=Dialect.MISPOS_1, rng=random.Random(5), **FAST
    ) as term:
        lost = term.balance()
        assert lost.outcome is Outcome.UNKNOWN
        assert (lost.result, lost.balance_fen, lost.balance, lost.record) == (None,) * 4
        assert "timeout" in lost.detail
        assert emu.requests_seen == ["BalanceInquiryRequest"]  # not resent, nothing asked
        [record] = emu.journal
        assert record.client_ref == lost.client_ref
        found = term.status(client_ref=lost.client_ref)
        assert found is not None
        assert (found.ref, found.client_ref) == (record.ref, lost.client_ref)
        again = term.balance()  # the link is fine: the next inquiry is answered
        assert again.outcome is Outcome.APPROVED
        assert again.balance == Decimal("1234.56")
        assert again.record is not None
        assert again.client_ref == again.record.client_ref != lost.client_ref
