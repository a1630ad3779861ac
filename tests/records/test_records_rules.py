"""The rules of a valid record (``stationlink.records``) on their own: the card-number
detector against a plain reference, the formats of bill accounts, amounts, times, ids, and
the CSV writers' formula neutralisation."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stationlink.interchange import (
    Branch,
    Station,
    Transaction,
    read_transactions,
    write_branches,
    write_stations,
    write_transactions,
)
from stationlink.money import CST
from stationlink.records import cardnum, rules
from stationlink.records.vocab import CEILING_FEN, REQUEST_MAX_FEN


def reference_luhn(digits: list[int]) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        total += sum(divmod(d * 2, 10)) if i % 2 else d
    return total % 10 == 0


def reference_cards(text: str) -> list[str]:
    """The detector's definition, character by character: maximal runs of digits with single
    spaces or dashes between them, not glued to a Latin letter, 12-19 digits, Luhn-valid."""
    found = []
    i, n = 0, len(text)
    while i < n:
        if not text[i].isdecimal():
            i += 1
            continue
        start, digits, j = i, [int(text[i])], i + 1
        while j < n:
            if text[j].isdecimal():
                digits.append(int(text[j]))
                j += 1
            elif text[j] in " -" and j + 1 < n and text[j + 1].isdecimal():
                digits.append(int(text[j + 1]))
                j += 2
            else:
                break
        before = text[start - 1] if start else ""
        after = text[j] if j < n else ""
        glued = any(c.isascii() and c.isalpha() for c in (before, after))
        if not glued and 12 <= len(digits) <= 19 and reference_luhn(digits):
            found.append(text[start:j])
        i = j
    return found


def with_check_digit(body: str) -> str:
    for d in "0123456789":
        if cardnum.luhn_valid(body + d):
            return body + d
    raise AssertionError


cards = st.builds(with_check_digit, st.text("0123456789", min_size=11, max_size=18))
spelled = st.builds(
    lambda pan, sep, size: sep.join(pan[i:i + size] for i in range(0, len(pan), size)),
    cards, st.sampled_from(["", " ", "-"]), st.sampled_from([4, 3, 6, 19]),
)
chunks = st.one_of(spelled, st.text("0123456789 -ab|\u0664\uff14", max_size=8),
                   st.sampled_from(["卡号", "tok", "T1-", " ", "-", "Z"]))


@settings(max_examples=400, deadline=None)
@given(st.lists(chunks, max_size=6).map("".join))
def test_card_detector_matches_the_reference(text: str) -> None:
    assert list(cardnum.card_numbers(text)) == reference_cards(text)
    assert cardnum.has_card_number(text) == bool(reference_cards(text))
    separated = [r for r in reference_cards(text) if " " in r or "-" in r]
    assert list(cardnum.separated_card_numbers(text)) == separated


@given(spelled)
def test_every_spelling_of_a_card_number_is_found(text: str) -> None:
    assert rules.card_problem(text) is not None
    assert rules.text_problem(f"note: {text}.") is not None
    assert cardnum.masked(text) == "*" * (len(text.replace(" ", "").replace("-", "")) - 4) \
        + text.replace(" ", "").replace("-", "")[-4:]


@pytest.mark.parametrize("pan", ["4111 1111 1111 1111", "4111-1111-1111-1111",
                                 "4111111111111111", "\uff14" + "1" * 15])  # fullwidth 4
def test_card_numbers_in_any_spelling(pan: str) -> None:
    assert rules.card_problem(pan) is not None
    assert rules.text_problem(pan) is not None
    if not pan.isdecimal():
        assert rules.reference_problem(f"ref {pan}") is not None
    assert rules.card_problem("0f" * 16) is None  # a hex token
    assert rules.card_problem("622848******1234") is None  # a masked number
    assert rules.card_problem("123456789012") is not None  # 12 plain digits, any check digit


def test_references_keep_plain_terminal_numbers() -> None:
    # one 12-digit terminal reference in ten passes the Luhn check; it stays a reference
    luhn_ref = with_check_digit("00010000012")
    assert rules.reference_problem(luhn_ref) is None
    assert rules.reference_problem(f"LLS001-LLS001B1-{luhn_ref}") is None
    assert rules.reference_problem("20140610-001") is None
    for bad in ("=1+1", "+1", "-1", "@A", "a\tb", "a\u202eb", "a\u2066b", "a\u200eb",
                "a\u00a0b", "x" * 201):
        assert rules.reference_problem(bad) is not None, bad


@pytest.mark.parametrize(
    ("product", "account", "status", "ok"),
    [
        ("mobile", "13800000000", "approved", True),
        ("unicom", "18612345678", "reversed", True),
        ("telecom", "23800000000", "approved", False),  # not starting with 1
        ("mobile", "1380000000", "approved", False),  # 10 digits
        ("mobile", "138", "declined", True),  # a mistyped number the terminal declined
        ("mobile", "4111111111111111", "declined", False),  # ... but never a card number
        ("electricity", "4111111111111111", "approved", True),  # Luhn alone is no reason
        ("water", "12345", "approved", False),  # 5 digits
        ("gas", "123456789012345678901", "approved", False),  # 21 digits
        ("cable_tv", "0531-88", "approved", False),
    ],
)
def test_bill_accounts_by_product_format(product: str, account: str, status: str,
                                         ok: bool) -> None:
    problem = rules.account_problem("bill_payment", product, status, account)
    assert (problem is None) == ok, problem
    if problem is not None:
        assert "4111111111111111" not in problem


def test_amount_ceilings_apply_when_money_moved() -> None:
    for kind, ceiling in CEILING_FEN.items():
        assert rules.amount_problem(kind, "approved", ceiling) is None
        assert rules.amount_problem(kind, "approved", ceiling + 1) is not None
        assert rules.amount_problem(kind, "reversed", ceiling + 1) is not None
        assert rules.amount_problem(kind, "declined", ceiling + 1) is None
    assert rules.amount_problem("withdrawal", "declined", REQUEST_MAX_FEN + 1) is not None
    assert rules.amount_problem("withdrawal", "", 2**63) is not None


def test_card_required_only_for_an_approved_withdrawal() -> None:
    assert rules.card_required_problem("withdrawal", "approved", "") is not None
    assert rules.card_required_problem("withdrawal", "declined", "") is None
    assert rules.card_required_problem("withdrawal", "reversed", "") is None
    assert rules.card_required_problem("balance_inquiry", "approved", "") is None


def test_time_window() -> None:
    received = datetime(2026, 10, 5, 9, 0, tzinfo=CST)
    assert rules.time_problem(received + timedelta(hours=23), received) is None
    assert rules.time_problem(received + timedelta(days=1, seconds=1), received) is not None
    assert rules.time_problem(datetime(1999, 1, 1, tzinfo=UTC), received) is None  # late
    assert rules.time_problem(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))) \
        is not None
    assert rules.time_problem(datetime(9999, 12, 31, 23, tzinfo=timezone(-timedelta(hours=14))))\
        is not None
    assert rules.time_problem(datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=14)))) \
        is None
    assert rules.time_problem(datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=14,
                                                                            minutes=1)))) \
        is not None
    assert rules.time_problem(datetime(2026, 1, 1, tzinfo=timezone(timedelta(seconds=30)))) \
        is not None
    assert rules.time_problem(datetime(2026, 1, 1)) is not None


def test_csv_writers_neutralise_formula_cells() -> None:
    ts = datetime(2026, 10, 2, 10, tzinfo=CST)
    rows = [Transaction("=HYPERLINK(\"http://x\")", "+S1", "-T", ts, "bill_payment", "@SUM(1)",
                        Decimal("-1.00"), "\tcard", "approved")]
    out = io.StringIO()
    write_transactions(rows, out)
    line = out.getvalue().splitlines()[1]
    cells = line.split(",")
    assert all(c.lstrip('"')[:1] not in "=+-@\t" for c in cells), line
    assert cells[0] == "\"'=HYPERLINK(\"\"http://x\"\")\""
    assert cells[1:3] == ["'+S1", "'-T"]
    assert "'-1.00" in cells
    buf = io.StringIO()
    write_stations([Station("=S", "@B", "rural", "-V", 10)], buf)
    write_branches([Branch("+B", "rural", 1)], buf)
    for cell in buf.getvalue().replace("\n", ",").split(","):
        assert not cell or cell[0] not in "=+-@", buf.getvalue()


def test_valid_rows_round_trip_through_the_writer_unchanged() -> None:
    ts = datetime(2026, 10, 2, 10, tzinfo=CST)
    rows = [Transaction("S1-T1-000100000123", "S1", "T1", ts, "withdrawal", "",
                        Decimal("100.00"), "0f" * 16, "approved"),
            Transaction("S1-PC-20261002-001", "S1", "", ts, "referral", "huinongtong",
                        Decimal("0.00"), "", "approved")]
    out = io.StringIO()
    write_transactions(rows, out)
    assert "'" not in out.getvalue()
    assert read_transactions(io.StringIO(out.getvalue())).rows == rows
