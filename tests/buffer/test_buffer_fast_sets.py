"""The page check's shortcuts (``buffer/_fast.py``) accept only what the reference accepts.

The column-by-column check judges a page first by its sets of values (kinds x products,
kinds x statuses against the ceilings), its accounts joined into one text matched once, and
its references joined and scanned for a formula's first character or a separator. These
tests aim at the seams of those shortcuts: an account holding the newline or tab that joins
them, a formula after the join's ``|``, a page whose sets mix a withdrawal's ceiling with a
bill payment's amount, a single-product page with one malformed account. On each, the page
path's outcome (its columns, or its error) equals the record-by-record path's.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import pytest
from buffer_fixtures import CARD, T0
from hypothesis import given, settings
from hypothesis import strategies as st

from stationlink.buffer import Source
from stationlink.buffer._fast import Unusual, check_columns
from stationlink.buffer.ingest import journal_rows
from stationlink.buffer.page import journal_page, page_from_rows
from stationlink.protocol import JournalRecord, ResultCode, TxnKind, TxnStatus


def bill(n: int, product: str = "electricity", account: str = "0531000123",
         **changes: Any) -> JournalRecord:
    rec = JournalRecord(
        n, f"R{n:011d}", f"c{n}", TxnKind.BILL_PAYMENT, product, account, 4530,
        TxnStatus.APPROVED, ResultCode.APPROVED, T0, n * 1000, 1,
    )
    return replace(rec, **changes)


def withdrawal(n: int, **changes: Any) -> JournalRecord:
    rec = JournalRecord(
        n, f"R{n:011d}", "", TxnKind.WITHDRAWAL, "", "", 10_000, TxnStatus.APPROVED,
        ResultCode.APPROVED, T0, n * 1000, 1, card=CARD,
    )
    return replace(rec, **changes)


def outcome(records: list[JournalRecord], by_page: bool) -> Any:
    try:
        if by_page:
            page = journal_page("S1", "T1", records, T0, Source.JOURNAL)
        else:
            page = page_from_rows(records, journal_rows("S1", "T1", records, T0,
                                                        Source.JOURNAL))
    except Exception as exc:  # the outcome is compared, whatever it is
        return (type(exc), str(exc))
    return [list(getattr(page, f.name)) if f.name not in ("records", "wall_text")
            else getattr(page, f.name) for f in fields(page)]


SEAMS: dict[str, dict[str, Any]] = {
    # two well-formed accounts glued by the join's newline / tab: one account, malformed
    "newline_account": {"account": "0531000123\n0531000123"},
    "tab_account": {"account": "0531000123\telectricity"},
    "newline_tab_account": {"account": "0531000123\nelectricity\t0531000123"},
    "declined_newline_account": {"account": "0531000123\n0531000123",
                                 "status": TxnStatus.DECLINED},
    "short_account": {"account": "12345"},
    "declined_short_account": {"account": "12345", "status": TxnStatus.DECLINED},
    "declined_free_text": {"account": "户号 见备注", "status": TxnStatus.DECLINED},
    "phone_product": {"product": "mobile", "account": "13800000000"},
    "phone_bad": {"product": "mobile", "account": "23800000000"},
    # formulas at the start of the joined references and after a '|'
    "formula_first_ref": {"ref": "=HYPERLINK(1)"},
    "formula_client_ref": {"client_ref": "+1"},
    "formula_original_ref": {"original_ref": "@SUM(A1)"},
    "dash_not_formula": {"client_ref": "c-1"},
    "space_digits": {"client_ref": "c 1 2"},
    "separated_pan": {"client_ref": "4111 1111 1111 1111"},
    # ceilings: fine for a bill payment, too much for a withdrawal
    "big_bill": {"amount_fen": 2_000_000},
    "big_declined": {"amount_fen": 900_000_000_000, "status": TxnStatus.DECLINED},
    "over_bill_ceiling": {"amount_fen": 5_000_001},
}
W_SEAMS: dict[str, dict[str, Any]] = {
    "big_withdrawal": {"amount_fen": 2_000_000},
    "declined_big_withdrawal": {"amount_fen": 2_000_000, "status": TxnStatus.DECLINED},
    "withdrawal_no_card": {"card": None},
    "withdrawal_account": {"account": "0531000123"},
    "withdrawal_product": {"product": "water"},
}


@pytest.mark.parametrize("seam", sorted(SEAMS))
@pytest.mark.parametrize("with_withdrawals", [False, True])
def test_page_seam_as_record_by_record(seam: str, with_withdrawals: bool) -> None:
    records = [withdrawal(n) if with_withdrawals and n % 3 == 0 else bill(n)
               for n in range(1, 13)]
    records[7] = replace(records[7], **SEAMS[seam]) if records[7].kind is \
        TxnKind.BILL_PAYMENT else replace(bill(8), **SEAMS[seam])
    assert outcome(records, by_page=True) == outcome(records, by_page=False)


@pytest.mark.parametrize("seam", sorted(W_SEAMS))
def test_withdrawal_seam_as_record_by_record(seam: str) -> None:
    records = [withdrawal(n) if n % 2 else bill(n, amount_fen=3_000_000) for n in range(1, 9)]
    records[4] = replace(records[4], **W_SEAMS[seam])
    assert outcome(records, by_page=True) == outcome(records, by_page=False)


def test_glued_accounts_take_the_record_by_record_path() -> None:
    """An account holding the join's newline is not passed by the joined match."""
    accounts = ["0531000123", "0531000123\n0531000123"]
    with pytest.raises(Unusual):
        check_columns(
            "T1", ["R1", "R2"], ["", ""], ["", ""], ["bill_payment"] * 2,
            ["electricity"] * 2, accounts, [1, 1], ["approved"] * 2, ("", ""), [T0, T0],
            {T0.tzinfo}, T0, {"uptime_ms": [1, 1], "boot_id": [1, 1], "cursor": [1, 2]},
        )


texts = st.text(st.sampled_from("0123456789 -\n\t=+@|c1"), max_size=14)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["bill", "phone", "withdrawal"]), texts, texts,
                       st.sampled_from([TxnStatus.APPROVED, TxnStatus.DECLINED]),
                       st.sampled_from([0, 4530, 1_000_001, 5_000_001])),
             min_size=1, max_size=12),
)
def test_generated_pages_as_record_by_record(
    rows: list[tuple[str, str, str, TxnStatus, int]],
) -> None:
    records = []
    for n, (shape, account, client_ref, status, amount) in enumerate(rows, start=1):
        if shape == "withdrawal":
            rec = withdrawal(n, status=status, amount_fen=amount, client_ref=client_ref)
        else:
            product = "mobile" if shape == "phone" else "electricity"
            rec = bill(n, product, account, status=status, amount_fen=amount,
                       client_ref=client_ref)
        records.append(rec)
    assert outcome(records, by_page=True) == outcome(records, by_page=False)
