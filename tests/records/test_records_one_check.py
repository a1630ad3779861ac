"""One rule set wherever a Transaction is produced: what the buffer stores, folded into an
interchange row, is a row the transactions reader's rule function accepts unchanged.

Producers of :class:`~stationlink.interchange.Transaction`: the CSV readers (through
``interchange.check_transaction``), the buffer's and the hub's fold (``buffer.fold``, of
records the buffer's ``check_journal`` / the hub's ``wire.parse_record`` accepted by the same
``stationlink.records.rules``), the simulator's traffic writer. The property below is the
bridge between the stored record's checks and ``check_transaction``: hypothesis generates
terminal records across every kind, status, product, amount and card shape; each one the
buffer accepts must come out of the fold as a row ``check_transaction`` accepts, equal.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from stationlink.buffer.fold import fold
from stationlink.buffer.records import RefusedRecordError, Source, from_journal
from stationlink.interchange import check_transaction
from stationlink.protocol import CardRef, JournalRecord, ResultCode, TxnKind, TxnStatus
from stationlink.records.vocab import BILL_PRODUCTS, CEILING_FEN, PHONE_PRODUCTS, TERMINAL_KINDS

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 10, 5, 9, 30, tzinfo=CST)

ACCOUNTS = ["", "13800000000", "0531000123", "1234", "4111 1111 1111 1111", "=1+2"]
CARDS = [None, CardRef("622848******1234", "ab" * 16), CardRef("", ""),
         CardRef("622848******1234", "")]


def usually(valid: list[str], hostile: list[str]) -> st.SearchStrategy[str]:
    """Mostly a valid value, sometimes a hostile one."""
    return st.sampled_from(valid * 8 + hostile)


@st.composite
def journal_records(draw: st.DrawFn) -> JournalRecord:
    kind = draw(st.sampled_from([TxnKind(k) for k in TERMINAL_KINDS if k != TxnKind.REVERSAL]))
    bill = kind is TxnKind.BILL_PAYMENT
    product = draw(usually(list(BILL_PRODUCTS) if bill else [""],
                           ["", "huinongtong", "beer", "mobile"]))
    account = draw(usually(
        ["13800000000" if product in PHONE_PRODUCTS else "0531000123" if bill else ""],
        ACCOUNTS))
    ceiling = CEILING_FEN[kind.value]
    return JournalRecord(
        cursor=draw(st.integers(0, 10**6)),
        ref=draw(usually(["R000000000001"], ["-R3", "R\u202e"])),
        client_ref=draw(usually(["", "c1"], ["@c"])),
        kind=kind,
        product=product,
        account=account,
        amount_fen=draw(st.one_of(st.integers(0, ceiling), st.integers(0, ceiling + 1),
                                  st.just(10**12))),
        status=draw(st.sampled_from(list(TxnStatus))),
        result=draw(st.sampled_from(list(ResultCode))),
        terminal_time=T0 + timedelta(seconds=draw(st.integers(-10**6, 10**6))),
        uptime_ms=draw(st.integers(0, 10**9)),
        boot_id=draw(st.integers(0, 9)),
        card=draw(st.sampled_from(CARDS)),
    )


@settings(max_examples=300, deadline=None)
@given(journal_records())
def test_what_the_buffer_stores_folds_into_rows_the_reader_accepts(rec: JournalRecord) -> None:
    try:
        stored = from_journal("S1", "T1", rec, T0, Source.JOURNAL)
    except RefusedRecordError:
        return  # refused by the buffer: never a row
    rows = fold([stored._replace(seq=1)]).rows
    assert len(rows) == 1
    txn, column, reason = check_transaction(rows[0].as_row())
    assert (column, reason) == ("", "")
    assert txn == rows[0]
