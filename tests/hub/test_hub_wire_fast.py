"""The batch validator's fast path agrees with the precise per-field reader on valid and
broken records (so a fast accept is always a precise accept, and errors stay precise)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hub_fixtures import T0
from hypothesis import given, settings
from hypothesis import strategies as st

from stationlink.buffer.records import Entry, Source, StoredRecord
from stationlink.hub.wire import (
    RECORD_FIELDS,
    MalformedBatchError,
    fast_record,
    parse_batch,
    parse_record,
    record_to_json,
)


def sample(seq: int, entry: Entry = Entry.TXN, kind: str = "bill_payment") -> dict[str, Any]:
    txn = entry is Entry.TXN
    referral = entry in (Entry.REFERRAL, Entry.CANCEL)
    card_kind = kind in ("withdrawal", "balance_inquiry")  # no product, no account
    rec = StoredRecord(
        seq=seq, station_id="S1", terminal_id="PC" if referral else "T1", entry=entry,
        terminal_ref=f"R{seq:06d}" if txn else "", client_ref="" if txn else f"C{seq}",
        kind=kind, product="huinongtong" if referral else "" if card_kind else "mobile",
        account="" if card_kind else "13800000000",
        amount_fen=0 if referral else 5000,
        status="approved" if txn or entry is Entry.REFERRAL else "",
        result=0 if txn else None,
        card_token="ab" * 16 if kind == "withdrawal" else "",
        card_masked="622848******1234" if kind == "withdrawal" else "",
        original_ref="R000001" if kind == "reversal" else "", refers_to_seq=None,
        source=Source.LIVE if txn else Source.HOST, wall_time=T0 + timedelta(seconds=seq),
        terminal_time=T0 + timedelta(seconds=seq) if txn else None,
        uptime_ms=1000 * seq if txn else None, boot_id=1 if txn else None,
        journal_cursor=seq if txn else None,
    )
    return record_to_json(rec)


TRICKY: list[Any] = [
    None, True, False, 0, -1, 1, 7, 2**70, Decimal("50.5"), Decimal("1E+2"), "", "x" * 201,
    "T1", "6228480012345678", "622848******1234", "2026-10-05T09:00:00",
    "2026-10-05T09:00:00+08:00", "2026-10-05 09:00:00Z", "not a time", "txn", "unknown",
    "void", "live", "journal", "host", "reversal", "withdrawal", "approved", "declined",
    "R000009", [], {}, "referral", "cancel", "huinongtong", "car_insurance_sale", "PC",
]


def precise(obj: object, seq: int) -> StoredRecord | str:
    try:
        rec = parse_record(obj, "records[0]", "S1")
    except MalformedBatchError as exc:
        return str(exc)
    return rec if rec.seq == seq else f"seq {rec.seq}"


@settings(max_examples=300, deadline=None)
@given(
    base=st.sampled_from([(Entry.TXN, "bill_payment"), (Entry.TXN, "withdrawal"),
                          (Entry.TXN, "reversal"), (Entry.UNKNOWN, "withdrawal"),
                          (Entry.VOID, "bill_payment"), (Entry.REFERRAL, "referral"),
                          (Entry.CANCEL, "referral")]),
    edits=st.lists(
        st.tuples(st.sampled_from([*RECORD_FIELDS, "extra"]),
                  st.one_of(st.sampled_from(TRICKY), st.just("<delete>"))),
        max_size=3,
    ),
)
def test_fast_path_agrees_with_precise_reader(
    base: tuple[Entry, str], edits: list[tuple[str, Any]]
) -> None:
    obj = sample(7, *base)
    for key, value in edits:
        if value == "<delete>":
            obj.pop(key, None)
        else:
            obj[key] = copy.deepcopy(value)
    fast = fast_record(obj, "S1", 7)
    slow = precise(obj, 7)
    if isinstance(slow, str):
        assert fast is None, slow
    else:
        assert fast == slow
        assert fast is not None
        assert [type(v) for v in fast] == [type(v) for v in slow]


BASES = [(Entry.TXN, "bill_payment"), (Entry.TXN, "withdrawal"), (Entry.TXN, "reversal"),
         (Entry.UNKNOWN, "withdrawal"), (Entry.VOID, "bill_payment"),
         (Entry.REFERRAL, "referral"), (Entry.CANCEL, "referral")]


@pytest.mark.parametrize("base", BASES)
def test_every_single_edit_agrees(base: tuple[Entry, str]) -> None:
    accepted = rejected = 0
    for key in [*RECORD_FIELDS, "extra"]:
        for value in [*TRICKY, "<delete>"]:
            obj = sample(7, *base)
            if value == "<delete>":
                obj.pop(key, None)
            else:
                obj[key] = copy.deepcopy(value)
            fast, slow = fast_record(obj, "S1", 7), precise(obj, 7)
            if isinstance(slow, str):
                assert fast is None, (key, value, slow)
                rejected += 1
            else:
                assert fast == slow, (key, value)
                accepted += 1
    assert accepted > 50
    assert rejected > 500


def test_unedited_samples_take_the_fast_path() -> None:
    for entry, kind in BASES:
        obj = sample(3, entry, kind)
        rec = fast_record(obj, "S1", 3)
        assert rec is not None
        assert rec == parse_record(obj, "r", "S1")
        assert record_to_json(rec) == obj


@pytest.mark.parametrize(
    ("index", "field", "value", "path", "reason"),
    [
        (1, "amount_fen", 50.5, "records[1].amount_fen",
         "expected an integer, got the fractional number 50.5"),
        (2, "boot_id", True, "records[2].boot_id", "expected an integer, got a boolean"),
        (0, "wall_time", "2026-10-05T09:00:00", "records[0].wall_time",
         "time without a UTC offset"),
        (2, "seq", 9, "records[2].seq", "expected 3 (gap-free from first_seq), got 9"),
    ],
)
def test_batch_errors_stay_precise(
    index: int, field: str, value: Any, path: str, reason: str
) -> None:
    body = {"station_id": "S1", "first_seq": 1, "last_seq": 3,
            "records": [sample(1), sample(2), sample(3)]}
    body["records"][index][field] = value  # type: ignore[index]
    obj = json.loads(json.dumps(body), parse_float=Decimal)
    with pytest.raises(MalformedBatchError) as info:
        parse_batch(obj, "S1")
    assert info.value.path == path
    assert reason in info.value.reason


@pytest.mark.parametrize("name", ["client_ref", "journal_cursor"])
def test_fields_read_generically_agree_on_both_paths(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A field the declaration marks as generic (``records.fields.GENERIC``: how a new field is
    validated without naming it in either path) is read by both paths alike: by its range or
    its check, null only if nullable. Tried here on an existing text and integer field."""
    from stationlink.hub import _wire_fast
    from stationlink.records import fields, rules

    declared = replace(fields.BY_NAME[name], check=rules.reference_problem)
    monkeypatch.setattr(fields, "GENERIC", (declared,))
    monkeypatch.setattr(_wire_fast, "_GENERIC", (
        (name, *(fields.INT_RANGES.get(name) or (None, None)), declared.check),))
    seen: set[bool] = set()
    for value in [None, "=cmd()", "x" * 201, "ok", -1, 0, 2**63, True, 7]:
        obj = sample(7, Entry.UNKNOWN, "withdrawal")
        obj[name] = value
        fast, slow = fast_record(obj, "S1", 7), precise(obj, 7)
        if isinstance(slow, str):
            assert fast is None, (value, slow)
        else:
            assert fast == slow, value
            assert getattr(slow, name) == value
        seen.add(isinstance(slow, str))
    assert seen == {True, False}
