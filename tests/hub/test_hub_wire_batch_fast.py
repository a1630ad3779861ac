"""The batch-at-once fast path (``hub._wire_fast.fast_batch``) accepts only what the precise
per-field reader accepts, and builds the identical records.

A batch of plain terminal results is checked column by column (sets of values, the texts
joined and scanned once, each distinct time parsed once); a batch it has any doubt about
goes record by record. Each test edits one or two records of a valid batch (tricky values,
values at the seams of the column checks: a newline or tab inside an account, a formula
after the join's ``|``, twelve digits inside a hex token, a ceiling mixed across kinds, a
time far ahead) and compares ``fast_batch`` with ``parse_record`` applied record by record,
and ``parse_batch`` with the record-by-record outcome (the same records or the same error).
"""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hub_fixtures import T0
from hypothesis import given, settings
from hypothesis import strategies as st

from stationlink.buffer.records import Batch, Entry, Source, StoredRecord
from stationlink.hub.wire import (
    RECORD_FIELDS,
    MalformedBatchError,
    fast_batch,
    parse_batch,
    parse_record,
    record_to_json,
)

RECEIVED = T0 + timedelta(hours=1)


def txn(seq: int, kind: str, product: str = "", account: str = "") -> dict[str, Any]:
    withdrawal = kind == "withdrawal"
    return record_to_json(StoredRecord(
        seq=seq, station_id="S1", terminal_id="T0000001", entry=Entry.TXN,
        terminal_ref=f"0001{seq:08d}", client_ref="", kind=kind, product=product,
        account=account, amount_fen={"withdrawal": 20_000, "balance_inquiry": 0}.get(kind, 4530),
        status="approved",
        result=0, card_token=f"{seq:08x}3f2a123456789012b" + "c" * 8 if withdrawal else "",
        card_masked="621700*********1234" if withdrawal else "",
        original_ref="000100000001" if kind == "reversal" else "", refers_to_seq=None,
        source=Source.JOURNAL, wall_time=T0, terminal_time=T0 + timedelta(seconds=30 * seq),
        uptime_ms=30_000 * seq, boot_id=1, journal_cursor=seq,
    ))


def batch_items(first: int = 1) -> list[dict[str, Any]]:
    shapes = [("bill_payment", "mobile", "13852992312"), ("withdrawal", "", ""),
              ("bill_payment", "electricity", "0531000123"), ("balance_inquiry", "", ""),
              ("reversal", "water", "0531000123"), ("bill_payment", "unicom", "13000000000")]
    return [txn(first + i, *shape) for i, shape in enumerate(shapes)]


def by_records(items: list[Any], first: int) -> list[StoredRecord] | str:
    """The reference: each record by the precise reader."""
    out = []
    for i, item in enumerate(items):
        try:
            rec = parse_record(item, f"records[{i}]", "S1", RECEIVED)
        except MalformedBatchError as exc:
            return str(exc)
        if rec.seq != first + i:
            return f"seq {rec.seq}"
        out.append(rec)
    return out


def check(items: list[Any], first: int = 1) -> bool:
    """fast_batch accepts only what the reference accepts, identically; parse_batch's outcome
    is the reference's. Returns whether fast_batch took the batch."""
    slow = by_records(items, first)
    try:
        fast = fast_batch(copy.deepcopy(items), "S1", first, RECEIVED)
    except Exception:  # noqa: BLE001 - parse_batch treats it as a doubt
        fast = None
    if fast is not None:
        assert not isinstance(slow, str), slow
        assert fast == slow
        assert [[type(v) for v in r] for r in fast] == [[type(v) for v in r] for r in slow]
    doc = {"station_id": "S1", "first_seq": first, "last_seq": first + len(items) - 1,
           "records": items}
    try:
        got: Batch | str = parse_batch(doc, "S1", received=RECEIVED)
    except MalformedBatchError as exc:
        got = str(exc)
    if isinstance(slow, str):
        assert isinstance(got, str)
    else:
        assert not isinstance(got, str), got
        assert list(got.records) == slow
    return fast is not None


def test_a_plain_batch_takes_the_batch_path() -> None:
    assert check(batch_items())
    assert check(batch_items(41), 41)


SEAMS: list[tuple[int, str, Any]] = [
    (0, "account", "13852992312\n13852992312"),
    (2, "account", "0531000123\tmobile"),
    (2, "account", "0531000123\nmobile\t13852992312"),
    (0, "account", "23852992312"),
    (3, "account", "0531000123"),
    (3, "product", "water"),
    (1, "product", "mobile"),
    (0, "client_ref", "=1+2"),
    (0, "client_ref", "+1"),
    (5, "original_ref", "@A1"),
    (0, "terminal_ref", "-1"),
    (0, "client_ref", "c-1"),
    (0, "client_ref", "4111 1111 1111 1111"),
    (0, "client_ref", "4111111111111111"),
    (1, "card_token", "4111111111111111"),
    (1, "card_token", "ab" + "4111111111111111"),
    (1, "card_token", "4111111111111111" + "ab"),
    (1, "card_token", "x 4111111111111111"),
    (1, "card_token", "４１１１１１１１１１１１１１１１"),
    (1, "card_masked", "6217001234561234"),
    (1, "card_token", ""),
    (1, "amount_fen", 2_000_000),
    (0, "amount_fen", 2_000_000),
    (0, "amount_fen", 5_000_001),
    (0, "amount_fen", -1),
    (0, "amount_fen", True),
    (0, "amount_fen", Decimal("45.30")),
    (4, "original_ref", ""),
    (0, "wall_time", (T0 + timedelta(days=2)).isoformat()),
    (0, "wall_time", "2026-10-05T09:00:00"),
    (0, "terminal_time", "2099-12-31T23:59:59-14:00"),
    (0, "terminal_time", "1970-01-01T00:00:00+00:01"),
    (0, "terminal_time", "2026-10-05T09:00:00+08:00:30"),
    (0, "terminal_time", None),
    (0, "uptime_ms", 2**63),
    (0, "boot_id", None),
    (0, "refers_to_seq", 0),
    (0, "refers_to_seq", 3),
    (0, "result", None),
    (0, "entry", "unknown"),
    (0, "source", "nowhere"),
    (0, "source", ["journal"]),
    (0, "status", "declined"),
    (0, "status", ""),
    (0, "kind", "referral"),
    (0, "terminal_id", ""),
    (0, "terminal_id", "T\u202e1"),
    (0, "seq", 7),
    (0, "seq", True),
    (0, "product", "x" * 201),
]


@pytest.mark.parametrize(("index", "field", "value"), SEAMS)
def test_seam_edits_agree(index: int, field: str, value: Any) -> None:
    items = batch_items()
    items[index][field] = value
    check(items)


def test_a_record_that_is_not_an_object_or_lacks_a_field() -> None:
    items: list[Any] = batch_items()
    items[3] = [items[3]]
    check(items)
    items = batch_items()
    del items[2]["boot_id"]
    check(items)
    items = batch_items()
    items[2]["extra"] = 1
    check(items)


TRICKY: list[Any] = [
    None, True, 0, -1, 7, 2**70, Decimal("50.5"), "", "x" * 201, "T1", "6228480012345678",
    "622848******1234", "6228 4800 1234 5678", "2026-10-05T09:00:00",
    "2026-10-05T09:00:00+08:00", "not a time", "txn", "unknown", "journal", "reversal",
    "withdrawal", "bill_payment", "approved", "declined", "mobile", "water", "13800000000",
    "0531000123", "=1", "a|b", "a\nb", "a\tb", [], {},
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(RECORD_FIELDS),
                          st.sampled_from(TRICKY)), max_size=3))
def test_generated_edits_agree(edits: list[tuple[int, str, Any]]) -> None:
    items = batch_items()
    for index, field, value in edits:
        items[index][field] = copy.deepcopy(value)
    check(items)
