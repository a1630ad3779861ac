"""Scripted misbehaviour (stationlink_sim.script) and the knobs a scripted terminal needs.

A real host connection talks to the emulated terminal's session in memory on a manual clock
(stationlink_sim.loop): each script step must put exactly its frame (or nothing, or garbage)
on the wire, after the terminal executed and journaled the request (``lost``: never).
Also: a device offering bill and card services with its own IDENTIFY profile, scripted bank
balances and billers, the journal as of now, settlement lines of reversed transactions, and
a running terminal's readiness after a power cycle.
"""

from __future__ import annotations

import random
from datetime import datetime

import pytest
from sim_terminal_rig import KEY, START, Rig

from stationlink.clock import ManualClock
from stationlink.errors import ConfigError, LinkError, SimulatorError
from stationlink.money import CST
from stationlink.protocol import (
    BalanceInquiryRequest,
    BillPaymentRequest,
    BillPaymentResponse,
    ClearPan,
    Dialect,
    ErrorCode,
    ErrorReply,
    Header,
    HostConnection,
    IdentifyRequest,
    LateResponse,
    Message,
    MsgType,
    RequestFailed,
    ResponseReceived,
    ResultCode,
    ReversalRequest,
    SettlementTotalsRequest,
    StatusQuery,
    StatusResponse,
    Transport,
    TxnKind,
    TxnStatus,
    WithdrawalRequest,
)
from stationlink_sim.clock import TerminalClock
from stationlink_sim.customers import Bank, Billers
from stationlink_sim.device import EmulatedTerminal, TerminalIdentity, TerminalKind
from stationlink_sim.loop import LoopStream, loop_session
from stationlink_sim.script import ANSWER_STEPS, GARBAGE, Script
from stationlink_sim.serve import serve_terminal

CARD = ClearPan("6217000000000000018")


class Wire:
    """A host connection and a terminal session joined in memory."""

    def __init__(self, script: Script, device: EmulatedTerminal | None = None,
                 transport: Transport = Transport.SERIAL) -> None:
        self.clock = ManualClock(START)
        identity = TerminalIdentity(TerminalKind.BILL, Dialect.SL_2, "SCRIPT01", "SN1", KEY)
        self.device = device or EmulatedTerminal(identity, clock=TerminalClock(self.clock),
                                                 billers=Billers(1, any_account=True))
        self.session = loop_session(self.device, transport, self.clock, script=script)
        self.loop = LoopStream(self.session, self.clock)
        self.host = HostConnection(self.device.identity.dialect, transport, card_key=KEY,
                                   clock=self.clock.monotonic, heartbeat_interval=None,
                                   t2_money=1.0, t2_other=1.0)
        self.raw = b""

    def ask(self, msg: Message) -> tuple[int, list[object]]:
        """Send ``msg``; every host event until it is answered or failed."""
        seq = self.host.send_request(msg)
        events: list[object] = []
        for _ in range(200):
            back = self.loop.exchange(self.host.data_to_send())
            self.raw += back
            new = list(self.host.receive_data(back)) if back else []
            if not back:
                deadline = self.host.next_deadline()
                assert deadline is not None
                self.clock.advance(max(0.0, deadline - self.clock.monotonic()))
                new = list(self.host.handle_timeout())
            events += new
            if any(isinstance(e, ResponseReceived | RequestFailed) and e.seq == seq
                   for e in new):
                self.loop.exchange(self.host.data_to_send())  # the ACK
                return seq, events
        raise AssertionError("no answer and no failure")


def pay(client_ref: str, amount_fen: int = 5000) -> BillPaymentRequest:
    return BillPaymentRequest(Header(MsgType.BILL_PAYMENT, 0, "00000000"), client_ref,
                              "mobile", "13800138000", amount_fen)


def query(client_ref: str) -> StatusQuery:
    return StatusQuery(Header(MsgType.STATUS_QUERY, 0, "00000000"), client_ref=client_ref)


def answer(events: list[object], seq: int) -> Message | None:
    """The response the host took as ``seq``'s answer (None: it failed)."""
    for e in events:
        if isinstance(e, ResponseReceived) and e.seq == seq:
            return e.response
    return None


def late(events: list[object]) -> list[Message]:
    return [e.response for e in events if isinstance(e, LateResponse)]


# (step, what the host takes as the payment's answer, what arrives late at the status query)
def _ok(m: Message | None) -> bool:
    return isinstance(m, BillPaymentResponse) and m.record is not None and (
        m.record.client_ref, m.record.amount_fen) == ("c1", 5000)


EXPECT = {
    "ok": (_ok, []),
    "drop": (lambda m: m is None, []),
    "late_ok": (lambda m: m is None, [_ok]),
    "late_error": (lambda m: m is None, [
        lambda m: isinstance(m, ErrorReply) and m.code is ErrorCode.BUSY]),
    "late_other": (lambda m: m is None, [
        lambda m: isinstance(m, StatusResponse) and not m.found]),
    "late_wrong_ref": (lambda m: m is None, [
        lambda m: isinstance(m, BillPaymentResponse) and m.record is not None
        and m.record.client_ref == "fedcba9876543210" and m.record.ref == "R99999999999"]),
    "wrong_ref": (lambda m: isinstance(m, BillPaymentResponse) and m.record is not None
                  and m.record.client_ref == "c0", []),
    "wrong_amount": (lambda m: isinstance(m, BillPaymentResponse) and m.record is not None
                     and (m.record.client_ref, m.record.amount_fen) == ("c1", 5001), []),
    "wrong_type": (lambda m: m is None, []),  # an EchoResponse the host refuses (T2)
    "error_internal": (lambda m: isinstance(m, ErrorReply) and m.code is ErrorCode.INTERNAL,
                       []),
    "garbage": (lambda m: m is None, []),
}


def test_every_answer_step_is_covered() -> None:
    assert set(EXPECT) == set(ANSWER_STEPS)


@pytest.mark.parametrize("step", ANSWER_STEPS)
def test_each_step_executes_then_sends_its_frame(step: str) -> None:
    script = Script(money=["ok", step])
    w = Wire(script)
    w.ask(pay("c0"))
    seq, events = w.ask(pay("c1"))
    _, at_query = w.ask(query("c1"))
    took, released = EXPECT[step]
    assert took(answer(events, seq)), events
    arrived = late(at_query)
    assert len(arrived) == len(released), at_query
    assert all(check(m) for check, m in zip(released, arrived, strict=True)), arrived
    found = [e.response for e in at_query if isinstance(e, ResponseReceived)]
    assert isinstance(found[-1], StatusResponse)
    assert found[-1].found  # the journal's truth: it ran
    assert [r.client_ref for r in w.device.journal] == ["c0", "c1"]  # executed once each
    assert script.seen == ["BillPaymentRequest", "BillPaymentRequest", "StatusQuery"]
    assert script.money == []
    assert (GARBAGE in w.raw) is (step == "garbage")
    if step == "wrong_type":
        assert any(type(e).__name__ == "UnexpectedMessage" for e in events), events
    assert w.session.stats["scripted_answers"] == (0 if step == "ok" else 1)


def test_lost_request_is_never_executed_and_the_script_can_be_armed_later() -> None:
    script = Script()
    w = Wire(script)
    w.ask(pay("c0"))
    script.money.append("lost")  # armed between requests
    seq, events = w.ask(pay("c1"))
    assert answer(events, seq) is None
    _, at_query = w.ask(query("c1"))
    found = [e.response for e in at_query if isinstance(e, ResponseReceived)]
    assert isinstance(found[-1], StatusResponse)
    assert not found[-1].found
    assert [r.client_ref for r in w.device.journal] == ["c0"]
    assert script.seen == ["BillPaymentRequest", "BillPaymentRequest", "StatusQuery"]
    assert w.session.stats["script_lost"] == 1


def test_dropped_status_queries_and_balance_steps() -> None:
    script = Script(status=["drop", "ok"], balance=["drop"])
    w = Wire(script, combined())
    seq, events = w.ask(query("nothing"))
    assert answer(events, seq) is None  # dropped
    seq, events = w.ask(query("nothing"))
    assert isinstance(answer(events, seq), StatusResponse)
    seq, events = w.ask(BalanceInquiryRequest(Header(MsgType.BALANCE_INQUIRY, 0, "00000000"),
                                              "b1"))
    assert answer(events, seq) is None
    assert [(r.kind, r.client_ref) for r in w.device.journal] == [
        (TxnKind.BALANCE_INQUIRY, "b1")]  # journaled, answer dropped


@pytest.mark.parametrize(("field", "steps"), [
    ("money", ["ok", "sometimes"]), ("balance", ["lost"]), ("status", ["late_ok"])])
def test_unknown_steps_are_refused_naming_list_number_and_step(
    field: str, steps: list[str],
) -> None:
    with pytest.raises(ConfigError, match=rf"script {field} step {len(steps)}: unknown step"):
        Script(**{field: steps})


# ------------------------------------------------------------- the knobs behind it


def combined(balance_fen: int | None = None) -> EmulatedTerminal:
    identity = TerminalIdentity(TerminalKind.CARD, Dialect.MISPOS_1, "BOTH0001", "SN9", KEY,
                                profile=("EmuCorp", "EMU-1", "1.2.3"),
                                services=frozenset(TerminalKind))
    bank = Bank(4)
    if balance_fen is not None:
        bank.set_balance(CARD, balance_fen)
    return EmulatedTerminal(identity, clock=TerminalClock(ManualClock(START)), bank=bank,
                            card_source=lambda: CARD,
                            billers=Billers(4, any_account=True, unknown=frozenset({"000"})))


def ask(device: EmulatedTerminal, cls: type, *fields: object) -> Message:
    from stationlink.protocol import REQUEST_TYPES

    code = {v: k for k, v in REQUEST_TYPES.items()}[cls]
    return device.handle(cls(Header(code, 1, "HOST0000"), *fields))


def test_a_combined_device_does_bill_and_card_and_identifies_as_its_profile() -> None:
    device = combined(balance_fen=50_000)
    ident = ask(device, IdentifyRequest, datetime(2026, 5, 1, 9, tzinfo=CST))
    assert (ident.vendor, ident.model, ident.firmware) == (  # type: ignore[attr-defined]
        "EmuCorp", "EMU-1", "1.2.3")
    assert {"bill", "card"} <= ident.capabilities  # type: ignore[attr-defined]
    paid = ask(device, BillPaymentRequest, "p1", "water", "A-1001", 800)
    assert paid.result is ResultCode.APPROVED  # type: ignore[attr-defined]
    unknown = ask(device, BillPaymentRequest, "p2", "water", "000", 800)
    assert unknown.result is ResultCode.ACCOUNT_NOT_FOUND  # type: ignore[attr-defined]
    cash = ask(device, WithdrawalRequest, "w1", 20_000)
    assert cash.result is ResultCode.APPROVED  # type: ignore[attr-defined]
    balance = ask(device, BalanceInquiryRequest, "b1")
    assert balance.balance_fen == 30_000  # type: ignore[attr-defined]
    too_much = ask(device, WithdrawalRequest, "w2", 30_001)
    assert too_much.result is ResultCode.INSUFFICIENT_FUNDS  # type: ignore[attr-defined]


def test_a_bill_terminal_still_refuses_card_requests() -> None:
    rig = Rig("bill", "sl-2")
    reply = rig.ask(WithdrawalRequest, client_ref="w", amount_fen=100)
    assert isinstance(reply, ErrorReply)
    assert reply.code is ErrorCode.UNSUPPORTED
    with pytest.raises(ValueError, match="handles bill requests"):
        TerminalIdentity(TerminalKind.BILL, Dialect.SL_2, "X0000001", "S", KEY,
                         services=frozenset({TerminalKind.CARD}))


def test_bank_balance_can_be_set_but_not_negative() -> None:
    bank = Bank(1)
    bank.set_balance(CARD, 0)
    assert bank.balance(CARD) == 0
    with pytest.raises(ValueError, match="negative"):
        bank.set_balance(CARD, -1)


def test_billers_default_to_well_formed_accounts_and_chance() -> None:
    strict, lenient = Billers(3), Billers(3, any_account=True, unknown=frozenset({"12345678"}))
    assert not strict.exists("water", "A-1001")
    assert lenient.exists("water", "A-1001")
    assert not lenient.exists("water", "12345678")
    assert not lenient.exists("lottery", "A-1001")  # still only known products
    accounts = [f"{n:08d}" for n in range(400)]
    assert 0 < sum(not strict.exists("water", a) for a in accounts) < 40  # one in 40 by chance
    assert all(lenient.exists("water", a) for a in accounts if a != "12345678")


def test_journal_now_shows_reversed_payments_and_reversed_lines_vanish_from_totals() -> None:
    """Regression: a withdrawal reversed in the same period left a (withdrawal, 0, 0)
    settlement line; protocol.md: one line per (kind, product) approved, not reversed."""
    device = combined(balance_fen=90_000)
    cash = ask(device, WithdrawalRequest, "w1", 20_000)
    ask(device, BillPaymentRequest, "p1", "mobile", "13800138000", 4530)
    ask(device, ReversalRequest, "r1", "")  # the newest is the payment: nothing to reverse
    paid = [r for r in device.journal if r.client_ref == "p1"][0]
    ask(device, ReversalRequest, "r2", paid.ref)
    assert [(r.client_ref, r.status) for r in device.journal.records_now()] == [
        ("w1", TxnStatus.APPROVED), ("p1", TxnStatus.REVERSED), ("r2", TxnStatus.APPROVED)]
    assert [r.status for r in device.journal] == [TxnStatus.APPROVED] * 3  # as appended
    totals = ask(device, SettlementTotalsRequest)
    assert [(ln.kind, ln.count, ln.amount_fen) for ln in totals.lines] == [  # type: ignore[attr-defined]
        (TxnKind.WITHDRAWAL, 1, 20_000)]
    assert cash.record is not None  # type: ignore[attr-defined]


# ------------------------------------------------------------------- readiness


def test_wait_ready_waits_out_a_power_cycle_instead_of_a_sleep() -> None:
    import stationlink

    with serve_terminal("bill", "sl-2", seed=2, faults="power_cycle#2,outage=200ms",
                        card_key=KEY) as t:
        t.wait_ready()
        with stationlink.connect(t.url, card_key=KEY, dialect="sl-2", t1=0.2, t2_other=0.5,
                                 rng=random.Random(1)) as host:
            boot = host.device_status().boot_id  # request 1
            with pytest.raises(LinkError):  # request 2: the terminal reboots, the socket closes
                host.device_status()
        assert not t.ready  # booting: the line is dead
        t.wait_ready()
        assert t.ready
        with stationlink.connect(t.url, card_key=KEY, dialect="sl-2",
                                 rng=random.Random(2)) as host:
            assert host.device_status().boot_id == boot + 1


def test_wait_ready_gives_up_with_a_clear_error() -> None:
    with serve_terminal("bill", "sl-2", faults="power_cycle#1,outage=1h", card_key=KEY) as t:
        t.session.apply_event("power_cycle")
        with pytest.raises(SimulatorError, match=r"waited 0\.05 s for terminal SIM00001 at "
                                                 r"tcp://127\.0\.0\.1:\d+ to serve, in vain"):
            t.wait_ready(timeout=0.05)
