"""The emulated terminal's business logic, driven directly on a manual clock (unit tests)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sim_terminal_rig import KEY, START, Rig

from stationlink.errors import ConfigError
from stationlink.protocol import (
    BalanceInquiryRequest,
    BillInquiryRequest,
    BillPaymentRequest,
    CardRef,
    ClearPan,
    DeviceStatusRequest,
    ErrorCode,
    ErrorReply,
    IdentifyRequest,
    JournalAckRequest,
    JournalReadRequest,
    ResultCode,
    ReversalRequest,
    SettlementTotalsRequest,
    StatusQuery,
    TxnKind,
    TxnStatus,
    WithdrawalRequest,
)
from stationlink_sim.clock import RESET_TIME
from stationlink_sim.customers import luhn_valid

PHONE = "13800138000"


def pay(rig: Rig, client_ref: str, amount_fen: int, product: str = "mobile") -> object:
    return rig.ask(
        BillPaymentRequest, client_ref=client_ref, product=product, account=PHONE,
        amount_fen=amount_fen,
    )


def test_payments_get_strictly_increasing_cursors_and_unique_refs(bill: Rig) -> None:
    records = [pay(bill, f"c{i}", 1000 + i).record for i in range(30)]  # type: ignore[attr-defined]
    cursors = [r.cursor for r in records]
    assert cursors == sorted(set(cursors))
    assert cursors[0] >= 1
    refs = [r.ref for r in records]
    assert len(set(refs)) == len(refs)
    assert all(len(r) == 12 for r in refs)
    assert all(r.result is ResultCode.APPROVED for r in records)


def test_journal_pages_cover_everything_once(bill: Rig) -> None:
    for i in range(45):
        pay(bill, f"c{i}", 100 + i)
    seen, after, pages = [], 0, 0
    while True:
        page = bill.ask(JournalReadRequest, after_cursor=after, max_records=7)
        pages += 1
        seen.extend(page.records)
        if not page.more:
            break
        after = page.records[-1].cursor
    assert [r.client_ref for r in seen] == [f"c{i}" for i in range(45)]
    assert pages == -(-45 // 7)
    big = bill.ask(JournalReadRequest, after_cursor=0, max_records=1000)
    assert 0 < len(big.records) < 45
    assert big.more


def test_journal_ack_moves_forward_only_and_counts_unacked(bill: Rig) -> None:
    for i in range(5):
        pay(bill, f"c{i}", 500)
    last = bill.device.journal.last_cursor
    assert bill.ask(DeviceStatusRequest).journal_unacked == 5
    assert bill.ask(JournalAckRequest, upto_cursor=last - 2).acked_cursor == last - 2
    assert bill.ask(JournalAckRequest, upto_cursor=1).acked_cursor == last - 2
    assert bill.ask(DeviceStatusRequest).journal_unacked == 2
    beyond = bill.ask(JournalAckRequest, upto_cursor=last + 1)
    assert isinstance(beyond, ErrorReply)
    assert beyond.code is ErrorCode.INVALID_FIELD


def test_status_by_client_ref_and_by_ref(bill: Rig) -> None:
    rec = pay(bill, "order-77", 2500).record  # type: ignore[attr-defined]
    by_client = bill.ask(StatusQuery, client_ref="order-77")
    by_ref = bill.ask(StatusQuery, ref=rec.ref)
    assert by_client.found
    assert by_client.record == rec
    assert by_ref.found
    assert by_ref.record == rec
    missing = bill.ask(StatusQuery, client_ref="never-sent")
    assert not missing.found
    assert missing.record is None
    assert isinstance(bill.ask(StatusQuery), ErrorReply)


def test_reversal_only_of_the_last_matching_transaction(bill: Rig) -> None:
    first = pay(bill, "a", 1000).record  # type: ignore[attr-defined]
    second = pay(bill, "b", 2000).record  # type: ignore[attr-defined]
    wrong = bill.ask(ReversalRequest, client_ref="r1", original_ref=first.ref)
    assert wrong.result is ResultCode.NOTHING_TO_REVERSE
    assert wrong.record is None
    ok = bill.ask(ReversalRequest, client_ref="r2", original_ref=second.ref)
    assert ok.result is ResultCode.APPROVED
    assert ok.record.kind is TxnKind.REVERSAL
    assert ok.record.original_ref == second.ref
    assert ok.record.amount_fen == 2000
    again = bill.ask(ReversalRequest, client_ref="r3", original_ref=second.ref)
    assert again.result is ResultCode.NOTHING_TO_REVERSE
    assert bill.ask(StatusQuery, ref=second.ref).record.status is TxnStatus.REVERSED
    # the earlier one did not become reversible: only the newest approved one ever is
    assert bill.ask(ReversalRequest, client_ref="r4", original_ref=first.ref).result is (
        ResultCode.NOTHING_TO_REVERSE
    )


def test_settlement_totals_are_approved_minus_reversed(bill: Rig) -> None:
    pay(bill, "a", 1000, "mobile")
    pay(bill, "b", 3000, "electricity")
    last = pay(bill, "c", 500, "mobile").record  # type: ignore[attr-defined]
    pay(bill, "d", 10**7, "mobile")  # above the single-transaction limit: declined
    bill.ask(ReversalRequest, client_ref="r", original_ref=last.ref)
    lines = {(ln.kind, ln.product): (ln.count, ln.amount_fen)
             for ln in bill.ask(SettlementTotalsRequest).lines}
    assert lines == {
        (TxnKind.BILL_PAYMENT, "mobile"): (1, 1000),
        (TxnKind.BILL_PAYMENT, "electricity"): (1, 3000),
    }


def test_settlement_restarts_when_the_terminal_day_changes(bill: Rig) -> None:
    pay(bill, "a", 1000)
    bill.base.advance(24 * 3600)
    totals = bill.ask(SettlementTotalsRequest)
    assert totals.lines == ()
    assert totals.since.date() == (START + timedelta(days=1)).date()


def test_power_cycle_keeps_journal_and_loses_volatile_state(bill: Rig) -> None:
    rec = pay(bill, "a", 1000).record  # type: ignore[attr-defined]
    bill.base.advance(60)
    before = bill.ask(DeviceStatusRequest)
    bill.device.power_cycle()
    bill.base.advance(2)
    after = bill.ask(DeviceStatusRequest)
    assert after.boot_id == before.boot_id + 1
    assert after.uptime_ms < before.uptime_ms
    assert bill.ask(StatusQuery, client_ref="a").record == rec
    newer = pay(bill, "b", 1000).record  # type: ignore[attr-defined]
    assert newer.cursor > rec.cursor
    assert newer.boot_id == after.boot_id


def test_clock_reset_and_drift() -> None:
    rig = Rig("bill", "sl-2")
    rig.clock.set_drift(1000.0)  # 1000 ppm: 3.6 s fast per hour
    rig.base.advance(3600)
    ahead = rig.ask(IdentifyRequest, host_time=rig.base.now()).terminal_time
    assert ahead - rig.base.now() == timedelta(seconds=3.6)
    rig.clock.reset()
    assert rig.clock.now() == RESET_TIME
    rig.base.advance(10)
    rec = pay(rig, "x", 100).record  # type: ignore[attr-defined]
    assert rec.terminal_time.year == 2000
    assert rec.terminal_time > RESET_TIME


def test_paper_out_declines_money_moving_requests(bill: Rig) -> None:
    bill.device.set_paper(False)
    resp = pay(bill, "a", 1000)
    assert resp.result is ResultCode.PAPER_OUT  # type: ignore[attr-defined]
    assert resp.record.status is TxnStatus.DECLINED  # type: ignore[attr-defined]
    assert bill.ask(DeviceStatusRequest).paper_ok is False
    bill.device.set_paper(True)
    assert pay(bill, "b", 1000).result is ResultCode.APPROVED  # type: ignore[attr-defined]


def test_bill_inquiry_is_deterministic_per_seed() -> None:
    a, b, c = Rig("bill", "sl-2", seed=5), Rig("bill", "sl-2", seed=5), Rig("bill", "sl-2", seed=6)
    accounts = [f"{4400000 + i * 37}" for i in range(40)]
    answers = [
        [(r.result, r.amount_owed_fen, r.customer_name) for r in (
            rig.ask(BillInquiryRequest, product="electricity", account=acct) for acct in accounts
        )]
        for rig in (a, b, c)
    ]
    assert answers[0] == answers[1]
    assert answers[0] != answers[2]
    names = [n for res, _, n in answers[0] if res is ResultCode.APPROVED]
    assert names
    assert all("\u4e00" <= ch <= "\u9fff" for n in names for ch in n)


def test_bill_payment_pays_down_what_is_owed(bill: Rig) -> None:
    acct = "37010099"
    owed = bill.ask(BillInquiryRequest, product="water", account=acct)
    assert owed.result is ResultCode.APPROVED
    assert owed.amount_owed_fen > 100
    bill.ask(BillPaymentRequest, client_ref="w", product="water", account=acct, amount_fen=100)
    after = bill.ask(BillInquiryRequest, product="water", account=acct)
    assert after.amount_owed_fen == owed.amount_owed_fen - 100


def test_bill_terminal_refuses_card_requests(bill: Rig) -> None:
    reply = bill.ask(WithdrawalRequest, client_ref="w", amount_fen=100)
    assert isinstance(reply, ErrorReply)
    assert reply.code is ErrorCode.UNSUPPORTED


def test_sl2_card_records_carry_a_card_ref(card: Rig) -> None:
    pan = card.card(seed=1)
    rec = card.ask(WithdrawalRequest, client_ref="w1", amount_fen=100).record
    assert rec.card == pan.to_ref(KEY)
    assert luhn_valid(pan.reveal())
    assert pan.reveal().startswith("621700")


def test_mispos1_card_records_carry_the_full_number() -> None:
    rig = Rig("card", "mispos-1")
    pan = rig.card(seed=2)
    rec = rig.ask(WithdrawalRequest, client_ref="w1", amount_fen=100).record
    assert isinstance(rec.card, ClearPan)
    assert rec.card == pan
    assert pan.reveal() not in repr(rec)  # the repr is masked


def test_withdrawals_decline_on_insufficient_funds_and_without_card(card: Rig) -> None:
    pan = card.card(seed=3)
    balance = card.ask(BalanceInquiryRequest, client_ref="b").balance_fen
    card.cards.put(pan)
    too_much = card.ask(WithdrawalRequest, client_ref="w1", amount_fen=balance + 1)
    if balance + 1 <= 500_000:
        assert too_much.result is ResultCode.INSUFFICIENT_FUNDS
    else:
        assert too_much.result is ResultCode.DECLINED
    none = card.ask(WithdrawalRequest, client_ref="w2", amount_fen=100)  # queue is empty
    assert none.result is ResultCode.CARD_ERROR
    assert none.record.card is None


def test_withdrawal_reversal_restores_the_balance(card: Rig) -> None:
    pan = card.card(seed=4)
    start = card.ask(BalanceInquiryRequest, client_ref="b0").balance_fen
    assert start >= 100, "seed 4's test card should hold at least 1 yuan"
    card.cards.put(pan)
    rec = card.ask(WithdrawalRequest, client_ref="w", amount_fen=100).record
    card.cards.put(pan)
    assert card.ask(BalanceInquiryRequest, client_ref="b1").balance_fen == start - 100
    card.ask(ReversalRequest, client_ref="r", original_ref=rec.ref)
    card.cards.put(pan)
    assert card.ask(BalanceInquiryRequest, client_ref="b2").balance_fen == start


def test_journal_file_keeps_records_without_card_numbers(tmp_path: Path) -> None:
    path = tmp_path / "j" / "journal.jsonl"
    rig = Rig("card", "mispos-1", journal_path=path)
    pans = [rig.card(seed=s) for s in range(3)]
    for i in range(3):
        rig.ask(WithdrawalRequest, client_ref=f"w{i}", amount_fen=100)
    rig.ask(JournalAckRequest, upto_cursor=rig.device.journal.last_cursor - 1)
    text = path.read_text(encoding="utf-8")
    assert all(p.reveal() not in text for p in pans)
    first_boot = rig.device.boot_id
    device = rig.restart()
    assert device.boot_id == first_boot + 1
    assert [r.client_ref for r in device.journal] == ["w0", "w1", "w2"]
    assert all(isinstance(r.card, CardRef) for r in device.journal)
    assert device.journal.unacked() == 1
    rec = rig.ask(WithdrawalRequest, client_ref="w3", amount_fen=100).record
    assert rec.cursor == 4


def test_bad_journal_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    rig = Rig("bill", "sl-2", journal_path=path)
    pay(rig, "a", 100)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"record": {"cursor": "x"}}) + "\n")
    with pytest.raises(ConfigError, match=r"journal.jsonl: line 3: bad journal line"):
        rig.restart()


def test_journal_file_refuses_a_kind_no_terminal_journals(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    rig = Rig("bill", "sl-2", journal_path=path)
    pay(rig, "a", 100)
    lines = path.read_text(encoding="utf-8").splitlines()
    record_line = next(i for i, line in enumerate(lines) if '"record"' in line)
    obj = json.loads(lines[record_line])
    obj["record"]["kind"] = "referral"
    lines[record_line] = json.dumps(obj)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"line {record_line + 1}: .*'referral' is not a kind"):
        rig.restart()
