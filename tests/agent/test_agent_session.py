"""``StationSession``'s public API against emulated terminals on real TCP sockets and a real
hub: reversals, balance inquiries (journaled, unknown on a lost answer), referrals, and a
link that closes right after the terminal executed a request."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime

import pytest
from agent_fixtures import Hub, MakeConfig, Terminals

from stationlink.agent import Agent, ManualClock
from stationlink.buffer import Buffer, Entry
from stationlink.client import Outcome
from stationlink.hub.export import hub_transactions
from stationlink.money import CST
from stationlink.protocol import (
    BalanceInquiryRequest,
    BillPaymentRequest,
    TxnKind,
    TxnStatus,
)

START = datetime(2026, 10, 5, 9, 0, tzinfo=CST)
BOTH = ["sl-2", "mispos-1"]


@pytest.fixture
def running(
    hub: Hub, terminals: Terminals, make_config: MakeConfig
) -> Iterator[tuple[Agent, ManualClock]]:
    config = make_config([terminals.bill.url, terminals.card.url], dialects=BOTH)
    clock = ManualClock(START)
    with Agent(config, clock=clock, rng=random.Random(11)) as agent:
        agent.run_once()
        yield agent, clock


def hub_rows(hub: Hub) -> dict[str, tuple[str, str, str]]:
    return {t.txn_id: (t.kind, str(t.amount), t.status)
            for t in hub_transactions(hub.path, include_late=True)}


def test_reverse_and_balance_are_recorded_before_returning(
    hub: Hub, terminals: Terminals, running: tuple[Agent, ManualClock]
) -> None:
    agent, clock = running
    with agent.session() as session:
        paid = session.pay_bill("BILL0001", "mobile", "13800000000", amount_fen=4200)
        assert paid.record is not None
        undone = session.reverse("BILL0001", paid.record.ref)
        inquiry = session.balance("CARD0001")
        with Buffer.open(agent.config.buffer_path) as buf:  # committed on return
            live = {r.client_ref: r for r in buf.records() if r.source == "live"}
    assert undone.outcome is Outcome.APPROVED
    assert undone.record is not None
    assert live[undone.client_ref].kind == "reversal"
    assert live[undone.client_ref].refers_to_seq == live[paid.client_ref].seq
    assert inquiry.outcome is Outcome.APPROVED
    assert inquiry.record is not None
    assert inquiry.client_ref == inquiry.record.client_ref
    assert inquiry.record.kind is TxnKind.BALANCE_INQUIRY
    assert live[inquiry.record.client_ref].terminal_ref == inquiry.record.ref
    clock.advance(agent.config.poll.journal_interval)
    agent.run_once()
    with Buffer.open(agent.config.buffer_path) as buf:
        assert buf.last_seq() == 3  # the journal pull added no copy
    rows = hub_rows(hub)
    assert rows[f"S1-BILL0001-{paid.record.ref}"] == ("bill_payment", "42.00", "reversed")
    assert rows[f"S1-CARD0001-{inquiry.record.ref}"] == ("balance_inquiry", "0.00", "approved")


def test_a_lost_balance_answer_is_an_unknown_resolved_by_the_journal(
    terminals: Terminals, running: tuple[Agent, ManualClock],
) -> None:
    agent, clock = running
    terminals.card.close_after(BalanceInquiryRequest)
    with agent.session() as session:
        lost = session.balance("CARD0001")
    assert lost.outcome is Outcome.UNKNOWN
    assert (lost.result, lost.balance_fen, lost.record) == (None, None, None)
    assert "closed" in lost.detail
    [executed] = [r for r in terminals.card.device.journal
                  if r.kind is TxnKind.BALANCE_INQUIRY]
    assert lost.client_ref == executed.client_ref  # the client names the ref it sent
    with Buffer.open(agent.config.buffer_path) as buf:
        [unknown] = buf.unresolved_unknowns()
    assert (unknown.kind, unknown.client_ref) == ("balance_inquiry", executed.client_ref)
    card = next(p for p in agent.pollers if p.terminal_id == "CARD0001")
    assert card.term is None  # dropped for reconnection
    clock.advance(agent.config.poll.reconnect_cap)
    agent.run_once()
    with Buffer.open(agent.config.buffer_path) as buf:
        assert buf.unresolved_unknowns() == []
        [resolved] = [r for r in buf.records() if r.client_ref == executed.client_ref
                      and r.entry is Entry.TXN]
    assert resolved.refers_to_seq == unknown.seq


def test_link_closed_after_execution_is_unknown_and_the_next_call_reconnects(
    hub: Hub, terminals: Terminals, running: tuple[Agent, ManualClock],
) -> None:
    agent, clock = running
    armed = terminals.bill.close_after(BillPaymentRequest)
    bill = next(p for p in agent.pollers if p.terminal_id == "BILL0001")
    with agent.session() as session:
        lost = session.pay_bill("BILL0001", "mobile", "13800000000", amount_fen=1500)
        assert not armed[0]
        assert lost.outcome is Outcome.UNKNOWN
        assert bill.term is None  # the dead link was dropped at once
        with Buffer.open(agent.config.buffer_path) as buf:
            assert [u.client_ref for u in buf.unresolved_unknowns()] == [lost.client_ref]
        clock.advance(agent.config.poll.reconnect_cap)  # past the reconnect backoff
        again = session.pay_bill("BILL0001", "mobile", "13800000000", amount_fen=1600)
    assert again.outcome is Outcome.APPROVED  # reconnected, not LinkFailedError
    assert bill.term is not None
    clock.advance(agent.config.poll.journal_interval)
    agent.run_once()
    with Buffer.open(agent.config.buffer_path) as buf:
        assert buf.unresolved_unknowns() == []  # the journal carried the lost one's record
    executed = [r for r in terminals.bill.device.journal if r.client_ref == lost.client_ref]
    assert [r.status for r in executed] == [TxnStatus.APPROVED]
    assert hub_rows(hub)[f"S1-BILL0001-{executed[0].ref}"] == ("bill_payment", "15.00",
                                                               "approved")


def test_referrals_entered_through_the_session_reach_the_hub(
    hub: Hub, running: tuple[Agent, ManualClock]
) -> None:
    agent, clock = running
    with agent.session() as session:
        rec = session.referral("huinongtong", note="new account")
        lead = session.referral("car_insurance_lead", referral_id="CI-1")
        session.cancel_referral("CI-1")
    assert rec.client_ref == "20261005-001"
    assert lead.txn_id == "S1-PC-CI-1"
    clock.advance(1)
    agent.run_once()
    assert hub_rows(hub) == {"S1-PC-20261005-001": ("referral", "0.00", "approved"),
                             "S1-PC-CI-1": ("referral", "0.00", "reversed")}
