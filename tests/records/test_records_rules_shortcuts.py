"""The rules' cheap tests decide as the rules as written do.

- ``rules.time_problem`` looks the offset up in the set of accepted offsets and compares the
  local year with a safe range before comparing instants: on generated times (offsets to
  the second within +-24 h, years 1..9999, and the edges of the window) it says what the
  rule as stated says (the spec is written out here, without the shortcuts).
- ``buffer.records.rule_problem`` glances at the four references joined before checking them
  one by one: on generated references it names the same first problem as checking each with
  ``rules.reference_problem``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import example, given, settings
from hypothesis import strategies as st

from stationlink.buffer.records import rule_problem
from stationlink.money import CST
from stationlink.protocol import JournalRecord, ResultCode, TxnKind, TxnStatus
from stationlink.records import rules
from stationlink.records.vocab import FUTURE_WINDOW, MAX_OFFSET, TS_MAX, TS_MIN

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=CST)


def spec_time_problem(ts: datetime, received: datetime | None) -> bool:
    """Whether the rule as stated refuses ``ts``: aware, offset within +-14:00 in whole
    minutes, in [TS_MIN, TS_MAX), at most FUTURE_WINDOW after ``received``."""
    offset = ts.utcoffset()
    if offset is None or abs(offset) > MAX_OFFSET or offset % timedelta(minutes=1):
        return True
    if not TS_MIN <= ts < TS_MAX:
        return True
    return received is not None and ts - received > FUTURE_WINDOW


offsets = st.integers(-24 * 3600 + 1, 24 * 3600 - 1).map(
    lambda s: timezone(timedelta(seconds=s)))
minute_offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@settings(max_examples=400, deadline=None)
@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                 timezones=st.one_of(offsets, minute_offsets, st.just(UTC))),
    st.booleans(),
)
@example(datetime(1970, 1, 1, tzinfo=UTC), False)
@example(datetime(1970, 1, 1, 13, 59, tzinfo=timezone(timedelta(hours=14))), False)
@example(datetime(1971, 1, 1, tzinfo=timezone(timedelta(hours=14))), False)
@example(datetime(2098, 12, 31, 23, 59, tzinfo=timezone(-timedelta(hours=14))), False)
@example(datetime(2099, 12, 31, 10, 0, tzinfo=timezone(-timedelta(hours=14))), False)
@example(datetime(2099, 12, 31, 9, 59, tzinfo=timezone(-timedelta(hours=14))), False)
@example(datetime(2026, 10, 5, tzinfo=timezone(timedelta(hours=14, minutes=1))), False)
@example(datetime(2026, 10, 5, tzinfo=timezone(-timedelta(hours=14, minutes=1))), False)
@example(datetime(2026, 10, 5, tzinfo=timezone(timedelta(hours=8, seconds=30))), False)
def test_time_problem_is_the_rule_as_stated(ts: datetime, with_received: bool) -> None:
    received = T0 if with_received else None
    assert (rules.time_problem(ts, received) is not None) == spec_time_problem(ts, received)


def test_time_problem_refuses_a_naive_time() -> None:
    assert rules.time_problem(datetime(2026, 10, 5, 9)) == "time without a UTC offset"


REF = JournalRecord(
    5, "R00000000005", "c5", TxnKind.BILL_PAYMENT, "electricity", "0531000123", 4530,
    TxnStatus.APPROVED, ResultCode.APPROVED, T0, 5000, 1,
)
refs = st.text(st.sampled_from("0123456789 -=+@|\u202e\t\u3000Rc"), max_size=24) | \
    st.sampled_from(["x" * 201, "x" * 100, "4111 1111 1111 1111", "4111-1111-1111-1111",
                     "=1", "@x", "+1", "-1", "R1", ""])


def by_each(terminal_id: str, rec: JournalRecord) -> str | None:
    for name, value in (("terminal_id", terminal_id), ("ref", rec.ref),
                        ("client_ref", rec.client_ref), ("original_ref", rec.original_ref)):
        problem = rules.reference_problem(value)
        if problem is not None:
            return f"{name} {problem}"
    return None


@settings(max_examples=400, deadline=None)
@given(refs, refs, refs, refs)
def test_rule_problem_names_the_first_bad_reference(
    terminal_id: str, ref: str, client_ref: str, original_ref: str
) -> None:
    rec = replace(REF, ref=ref, client_ref=client_ref, original_ref=original_ref)
    expected = by_each(terminal_id, rec)
    got = rule_problem(terminal_id, rec, "", T0)
    if expected is not None:
        assert got == expected
    else:  # the references pass: whatever else is said is not about them
        assert got is None or not got.startswith(("terminal_id", "ref", "client_ref",
                                                  "original_ref"))
