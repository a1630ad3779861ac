"""The fast transactions reader against a plain row-by-row reference, on messy files.

The reference below is the reader as first written: ``csv.DictReader``, every row through
``interchange.check_transaction`` (the rules), then the station and duplicate checks. The fast
reader must accept the same rows (same field values), report the same problems (file, line,
column, reason) in the same order and count the same identical duplicates.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import FrozenInstanceError, astuple
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stationlink.errors import InputDataError, Problem
from stationlink.interchange import (
    TRANSACTION_COLUMNS,
    ReadResult,
    Transaction,
    read_transaction_lines,
    read_transactions,
    transaction_lines,
    transactions_to_text,
)
from stationlink.interchange import (
    check_transaction as _transaction,
)
from stationlink.money import CST

VALUES = {
    "txn_id": ["a1", "a2", "a3", " a1 ", "", "b7", "a2", "=cmd()", "a\u202e", "000100000123",
               "4111 1111 1111 1111", "S1-T1-000100000123", "x" * 201],
    "station_id": ["S1", "S2", " S1", "", "S9", "-S1", "S1\u200e"],
    "terminal_id": ["T", "", " T2 ", "x,y", 'q"uote', "@T", "T\u2066", "4111-1111-1111-1111"],
    "ts": ["2026-10-02T10:00:00+08:00", "2026-10-02T02:00:00Z", "2026-10-02T02:00:00+00:00",
           "2026-10-32T10:00:00+08:00", "2026-10-02T10:00:00", " 2026-10-02T10:00:00+08:00 ",
           "2026-10-02 10:00:00+08:00", "2026-10-02T10:00:00.5+08:00", "", "yesterday",
           "2026-10-02T10:00:00z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
           "2026-10-02T10:00:00+15:00", "1970-01-01T05:00:00+08:00",
           "2099-12-31T23:00:00-14:00", "2026-10-02T10:00:00+08:00:30"],
    "kind": ["bill_payment", "withdrawal", "balance_inquiry", "referral", "payment", "",
             " withdrawal"],
    "product": ["unicom", "", "huinongtong", "car_insurance_sale", "water", "mystery",
                "electricity"],
    "amount": ["10.00", "10", "10.5", "0.00", "", "-1.00", "1O.00", "10.001", "1e2", "NaN",
               " 7.25", "١٢.٠٠", "12.3400", "1e30", "9" * 32, "50000.00", "50000.01",
               "10000.01", "9999999999.99", "10000000000.00", "0.01"],
    "card": ["", "tok1", "6228480000001234", "12345678901", "123456789012", " tok2 ", "٢" * 12,
             "4111 1111 1111 1111", "4111-1111-1111-1111", "tok 4111111111111111", "=tok",
             "ab4111111111111111"],
    "status": ["approved", "declined", "reversed", "ok", "", "APPROVED"],
}


def reference(text: str, name: str, known: set[str] | None) -> ReadResult[Transaction]:
    """The original reader: DictReader, the rules per row, stations, duplicates."""
    result: ReadResult[Transaction] = ReadResult()
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in TRANSACTION_COLUMNS if c not in header]
    if missing:
        raise InputDataError([Problem(name, 1, c, "required column missing from header")
                              for c in missing])
    seen: dict[str, Transaction] = {}
    for raw in reader:
        row = {k: (v or "") for k, v in raw.items() if k is not None}
        txn, column, reason = _transaction(row)
        line = reader.line_num
        if txn is None:
            result.problems.append(Problem(name, line, column, reason))
            continue
        if known is not None and txn.station_id not in known:
            result.problems.append(
                Problem(name, line, "station_id", f"unknown station {txn.station_id!r}"))
            continue
        earlier = seen.get(txn.txn_id)
        if earlier is not None:
            if earlier == txn:
                result.duplicates += 1
            else:
                reason = f"duplicate txn_id {txn.txn_id!r} with different content"
                result.problems.append(Problem(name, line, "txn_id", reason))
            continue
        seen[txn.txn_id] = txn
        result.rows.append(txn)
    return result


def _file(rng: random.Random, n_rows: int) -> str:
    """A header in a shuffled order with an extra column, then messy rows."""
    columns = [*TRANSACTION_COLUMNS, "note"]
    rng.shuffle(columns)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=rng.choice(["\n", "\r\n"]))
    writer.writerow(columns)
    good = {c: v[0] for c, v in VALUES.items()}
    rows: list[list[str]] = []
    for i in range(n_rows):
        roll = rng.random()
        if roll < 0.05 and rows:
            rows.append(list(rng.choice(rows)))  # an exact repeat
            continue
        if roll < 0.08:
            rows.append([])  # a blank line
            continue
        fields = {c: rng.choice(v) if rng.random() < 0.3 else good[c] for c, v in VALUES.items()}
        if rng.random() < 0.7:
            fields["txn_id"] = f"t{i}" if fields["txn_id"] == "a1" else fields["txn_id"]
        if fields["kind"] == "withdrawal" and rng.random() < 0.8:
            fields["card"] = "tok9"
        fields["note"] = rng.choice(["", "multi\nline", "x"])
        row = [fields[c] for c in columns]
        if rng.random() < 0.05:
            row = row[: rng.randrange(len(row))]  # a short row
        elif rng.random() < 0.05:
            row = [*row, "surplus"]
        rows.append(row)
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def _same(fast: ReadResult[Transaction], ref: ReadResult[Transaction]) -> None:
    assert [astuple(t) for t in fast.rows] == [astuple(t) for t in ref.rows]
    assert [str(t.amount) for t in fast.rows] == [str(t.amount) for t in ref.rows]
    assert [t.ts.utcoffset() for t in fast.rows] == [t.ts.utcoffset() for t in ref.rows]
    assert fast.problems == ref.problems
    assert fast.duplicates == ref.duplicates


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 120), st.booleans())
def test_fast_reader_matches_the_reference(seed: int, n_rows: int, with_stations: bool) -> None:
    text = _file(random.Random(seed), n_rows)
    known = {"S1", "S2"} if with_stations else None
    ref = reference(text, "t.csv", known)
    fast = read_transaction_lines(io.StringIO(text, newline=""), "t.csv", known_stations=known,
                                  skip_bad_rows=True)
    _same(fast, ref)


def test_file_reader_matches_the_reference_and_fails_listing_all(tmp_path: Path) -> None:
    text = _file(random.Random(7), 400)
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))  # with a byte-order mark
    ref = reference(text, str(path), {"S1", "S2"})
    assert ref.problems  # the file has bad rows, good rows and identical duplicates
    assert ref.rows
    assert ref.duplicates
    _same(read_transactions(path, known_stations={"S1", "S2"}, skip_bad_rows=True), ref)
    with pytest.raises(InputDataError) as info:
        read_transactions(path, known_stations={"S1", "S2"})
    assert list(info.value.problems) == ref.problems


def test_values_and_types_of_accepted_rows() -> None:
    text = ("txn_id,station_id,terminal_id,ts,kind,product,amount,card,status\n"
            "a,S1,T,2026-10-02T10:00:00+08:00,withdrawal,,100.00,tok,approved\n"
            "b,S1,T,2026-10-02T02:00:00Z,bill_payment,unicom,7,,approved\n"
            "c,S1,T,2026-10-02T10:00:00+08:00,referral,huinongtong,,,approved\n")
    a, b, c = read_transaction_lines(text.splitlines(keepends=True), "x").rows
    assert a == Transaction("a", "S1", "T", datetime(2026, 10, 2, 10, tzinfo=CST), "withdrawal",
                            "", Decimal("100.00"), "tok", "approved")
    assert hash(a) == hash(Transaction(*astuple(a)))
    assert a.ts.tzinfo is CST  # +08:00 comes back as money.CST
    assert b.ts == datetime(2026, 10, 2, 2, tzinfo=UTC)
    assert b.ts.utcoffset() == UTC.utcoffset(None)
    assert str(b.amount) == "7.00"
    assert str(c.amount) == "0.00"
    with pytest.raises(FrozenInstanceError):
        a.amount = Decimal("1.00")  # type: ignore[misc]


def test_missing_column_and_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(InputDataError) as info:
        read_transaction_lines(["txn_id,station_id,ts\n"], "x")
    assert [str(p) for p in info.value.problems][0] == (
        "x: line 1, column terminal_id: required column missing from header")
    path = tmp_path / "t.csv"
    path.write_bytes(b"txn_id,station_id,terminal_id,ts,kind,product,amount,card,status\n"
                     b"a,S\xff1,T,2026-10-02T10:00:00+08:00,withdrawal,,1.00,tok,approved\n")
    with pytest.raises(InputDataError, match="not UTF-8 text"):
        read_transactions(path)


def test_transaction_lines_are_the_written_file() -> None:
    ts = datetime(2026, 10, 2, 10, tzinfo=CST)
    rows = [Transaction("a", "S1", 'x"\r\ny\rz\n', ts, "bill_payment", "unicom",
                        Decimal("1.00"), "", "approved"),
            Transaction("b", "S1", "T", ts, "withdrawal", "", Decimal("1.00"), "", "approved")]
    lines = list(transaction_lines(rows))
    assert "".join(lines) == transactions_to_text(rows)
    from_lines = read_transaction_lines(lines, "x", skip_bad_rows=True)
    from_text = read_transactions(io.StringIO(transactions_to_text(rows), newline=""),
                                  skip_bad_rows=True)
    assert from_lines.rows == from_text.rows == []
    # an id with line breaks (control characters) is refused, at the line its row ends on
    # (5: the first row spans lines 2 to 5); the approved withdrawal without a card is line 6
    expected = [(5, "terminal_id"), (6, "card")]
    assert [(p.line, p.column) for p in from_lines.problems] == expected
    assert [(p.line, p.column) for p in from_text.problems] == expected
    assert "control or invisible character U+000D" in from_text.problems[0].reason


def test_a_field_too_long_for_csv_is_a_bad_file_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    head = "txn_id,station_id,terminal_id,ts,kind,product,amount,card,status\n"
    good = "a,S1,T,2026-10-02T10:00:00+08:00,withdrawal,,1.00,tok,approved\n"
    huge = 'b,S1,"' + "x" * (csv.field_size_limit() + 10) + '",2026-10-02,withdrawal,,,,\n'
    path.write_text(head + good + huge, encoding="utf-8")
    with pytest.raises(InputDataError) as info:
        read_transactions(path)
    assert [(p.line, p.column) for p in info.value.problems] == [(3, "")]
    assert "not readable as CSV: field larger than field limit" in str(info.value)
