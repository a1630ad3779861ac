"""Hypothesis properties of the engine under dezhou-2014.

- Adding an approved transaction never lowers any station's total. (It holds under the
  policy as resolved: every tier applies uniformly with rates that do not fall as the count or
  coverage rises, percentages round half-up monotonically, the withdrawal cap keeps the valid
  count the same or one higher, and nothing in the policy is subtracted from a station.)
- Every total equals the sum of its items; a branch's head + maintainer equals its total.
- Results do not depend on row order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from stationlink.interchange import Branch, Station, Transaction
from stationlink.rewards import compute, load_policy
from stationlink.rewards.render import month_json

POLICY = load_policy("dezhou-2014")
STATIONS = [Station("S1", "B1", "rural", "V1", 7), Station("S2", "B1", "rural", "V1", 7),
            Station("S3", "B2", "urban", "", None)]
BRANCHES = [Branch("B1", "rural", 2), Branch("B2", "urban", 1)]
START = datetime(2026, 9, 30, 20, 0, tzinfo=UTC)  # a little before October in CST
OFFSETS = [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))]
KINDS = {
    "bill_payment": ["mobile", "unicom", "telecom", "electricity", "water", "gas"],
    "withdrawal": [""], "balance_inquiry": [""],
    "referral": ["huinongtong", "finance_lead", "car_insurance_lead", "car_insurance_sale"],
}


@st.composite
def txn_fields(draw: st.DrawFn) -> tuple[str, datetime, str, str, Decimal, str]:
    kind = draw(st.sampled_from(sorted(KINDS)))
    product = draw(st.sampled_from(KINDS[kind]))
    minutes = draw(st.integers(0, 32 * 24 * 60))
    ts = (START + timedelta(minutes=minutes)).astimezone(draw(st.sampled_from(OFFSETS)))
    amount = Decimal(draw(st.integers(1, 20000))) / 100
    card = draw(st.sampled_from(["c1", "c2", "c3"])) if kind in ("withdrawal",
                                                                 "balance_inquiry") else ""
    return draw(st.sampled_from(["S1", "S2", "S3"])), ts, kind, product, amount, card


@st.composite
def transactions(draw: st.DrawFn) -> list[Transaction]:
    rows = draw(st.lists(txn_fields(), max_size=60))
    statuses = draw(st.lists(st.sampled_from(["approved"] * 4 + ["declined", "reversed"]),
                             min_size=len(rows), max_size=len(rows)))
    return [Transaction(f"t{i}", sid, "T", ts, kind, product, amount, card, status)
            for i, ((sid, ts, kind, product, amount, card), status)
            in enumerate(zip(rows, statuses, strict=True))]


def _totals(rows: list[Transaction]) -> dict[str, Decimal]:
    r = compute(POLICY, STATIONS, BRANCHES, rows, "2026-10")
    return {s.station_id: s.total for s in r.stations}


@settings(max_examples=60, deadline=None)
@given(rows=transactions(), extra=txn_fields())
def test_adding_an_approved_transaction_never_lowers_a_total(
        rows: list[Transaction], extra: tuple[str, datetime, str, str, Decimal, str]) -> None:
    before = _totals(rows)
    sid, ts, kind, product, amount, card = extra
    added = Transaction("new", sid, "T", ts, kind, product, amount, card, "approved")
    after = _totals([*rows, added])
    for station, total in before.items():
        assert after[station] >= total


@settings(max_examples=60, deadline=None)
@given(rows=transactions())
def test_totals_are_sums_of_items(rows: list[Transaction]) -> None:
    r = compute(POLICY, STATIONS, BRANCHES, rows, "2026-10")
    for s in r.stations:
        assert s.total == sum((i.amount for i in s.items), Decimal(0))
    for b in r.branches:
        assert b.total == sum((i.amount for i in b.items), Decimal(0))
        assert b.head + b.maintainer == b.total
        assert b.head == (b.total * Decimal("0.2")).quantize(Decimal("0.01"))  # never a half


@settings(max_examples=40, deadline=None)
@given(rows=transactions(), data=st.data())
def test_results_do_not_depend_on_row_order(rows: list[Transaction], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(rows))
    first = month_json(compute(POLICY, STATIONS, BRANCHES, rows, "2026-10"))
    second = month_json(compute(POLICY, STATIONS, BRANCHES, iter(shuffled), "2026-10"))
    assert first == second
