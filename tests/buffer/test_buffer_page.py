"""The column-by-column page path (``buffer.page``) against the record-by-record one.

- :func:`journal_page` gives exactly the values :func:`journal_rows` gives, and for a page
  with refused records the same error (the first in record order), on generated pages;
- :func:`iso_texts` is ``isoformat`` exactly, on runs of times within and across hours;
- a page read past what the buffer holds is stored without identity probes, a page with an
  older record still finds it; times in a zone that is not a fixed ``timezone`` are stored
  as their ``isoformat``;
- ``PageResult.stored`` built on first read equals what the file holds, and behaves as the
  dataclass field it is (equality, hash, copy, pickle, ``replace``);
- :func:`insert_page` refuses columns of the wrong number or length.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

import pytest
from buffer_fixtures import CARD, T0, cst_iso, traced_page
from hypothesis import given, settings
from hypothesis import strategies as st

from stationlink.buffer import Buffer, PageResult, Source
from stationlink.buffer.db import iso_texts
from stationlink.buffer.ingest import SCAN_MIN, journal_rows
from stationlink.buffer.page import PAGE_COLUMNS, insert_page, journal_page, page_from_rows
from stationlink.buffer.records import from_journal
from stationlink.protocol import (
    CardRef,
    ClearPan,
    JournalRecord,
    ResultCode,
    TxnKind,
    TxnStatus,
)


class Shanghai(tzinfo):
    """A zone that is not a fixed ``timezone`` (as a ``zoneinfo`` zone would be)."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=8)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "Asia/Shanghai"


class NoOffset(tzinfo):
    """A zone without an offset: such a time counts as naive."""

    def utcoffset(self, dt: datetime | None) -> None:
        return None

    def dst(self, dt: datetime | None) -> None:
        return None

    def tzname(self, dt: datetime | None) -> str:
        return "nowhere"


def record(n: int, **fields: Any) -> JournalRecord:
    base = JournalRecord(
        n, f"R{n:011d}", f"c{n}" if n % 2 else "", TxnKind.WITHDRAWAL if n % 3 else
        TxnKind.BILL_PAYMENT, "" if n % 3 else "mobile", "" if n % 3 else "13800000000", 100 * n,
        TxnStatus.DECLINED if n % 7 == 0 else TxnStatus.APPROVED, ResultCode.APPROVED,
        T0 + timedelta(seconds=37 * n, microseconds=n % 3), 1000 * n, 1,
        card=CARD if n % 3 else None,
    )
    return replace(base, **fields)


DEFECTS: dict[str, dict[str, Any]] = {
    "clear_pan": {"card": ClearPan("6228480012345678")},
    "card_like_token": {"card": CardRef("622848******1234", "6228480012345678")},
    "no_ref": {"ref": ""},
    "negative": {"amount_fen": -1},
    "naive_time": {"terminal_time": datetime(2026, 10, 5, 9, 0)},
    "no_offset_time": {"terminal_time": datetime(2026, 10, 5, 9, 0, tzinfo=NoOffset())},
    # valid but unusual: take the record-by-record path or the slow time check
    "zone_time": {"terminal_time": datetime(2026, 10, 5, 9, 0, tzinfo=Shanghai())},
    "utc_time": {"terminal_time": datetime(2026, 10, 5, 1, 0, tzinfo=UTC)},
    "no_card": {"card": None},
    # the rules of a valid transaction (stationlink.records.rules)
    "spaced_pan_token": {"card": CardRef("622848******1234", "4111 1111 1111 1111")},
    "dashed_pan_ref": {"client_ref": "4111-1111-1111-1111"},
    "bidi_ref": {"ref": "R1\u202e"},
    "formula_ref": {"original_ref": "=1+2"},
    "pan_account": {"account": "卡 4111111111111111"},
    "short_phone": {"product": "mobile", "account": "138", "kind": TxnKind.BILL_PAYMENT},
    "luhn_utility": {"product": "electricity", "account": "4111111111111111",
                     "kind": TxnKind.BILL_PAYMENT},
    "product_on_card_kind": {"product": "water", "kind": TxnKind.BALANCE_INQUIRY},
    "huge_amount": {"amount_fen": 10**13},
    "over_ceiling": {"amount_fen": 5_000_001},
    "huge_uptime": {"uptime_ms": 2**64},
    "negative_boot": {"boot_id": -1},
    "year_one": {"terminal_time": datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))},
    "offset_15h": {"terminal_time": datetime(2026, 10, 5, tzinfo=timezone(timedelta(hours=15)))},
    "declined_no_card": {"card": None, "status": TxnStatus.DECLINED},
}


def columns(page: Any) -> list[list[Any]]:
    return [list(getattr(page, f.name)) if f.name not in ("records", "wall_text")
            else getattr(page, f.name) for f in dataclasses.fields(page)]


def outcome(call: Any) -> Any:
    try:
        return call()
    except Exception as exc:  # the outcome is compared, whatever it is
        return (type(exc), str(exc))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 60),
    st.lists(st.tuples(st.integers(0, 59), st.sampled_from(sorted(DEFECTS))), max_size=3),
    st.booleans(),
)
def test_journal_page_is_journal_rows_column_by_column(
    size: int, defects: list[tuple[int, str]], naive_wall: bool
) -> None:
    records = [record(n) for n in range(1, size + 1)]
    for position, defect in defects:
        if position < size:
            records[position] = replace(records[position], **DEFECTS[defect])
    wall = T0.replace(tzinfo=None) if naive_wall else T0

    def by_rows() -> list[list[Any]]:
        rows = journal_rows("S1", "T1", records, wall, Source.JOURNAL)
        return columns(page_from_rows(records, rows))

    def by_columns() -> list[list[Any]]:
        return columns(journal_page("S1", "T1", records, wall, Source.JOURNAL))

    assert outcome(by_columns) == outcome(by_rows)


def test_journal_page_raises_the_first_error_in_record_order() -> None:
    records = [record(n) for n in range(1, 40)]
    records[30] = replace(records[30], card=ClearPan("6228480012345678"))
    records[12] = replace(records[12], ref="")
    with pytest.raises(Exception, match="journal record without a ref"):
        journal_page("S1", "T1", records, T0, Source.JOURNAL)
    records[5] = replace(records[5], amount_fen=-5)
    with pytest.raises(Exception, match="negative amount"):
        journal_page("S1", "T1", records, T0, Source.JOURNAL)


zones = st.one_of(
    st.none(), st.just(UTC), st.builds(Shanghai),
    st.builds(timezone, st.timedeltas(min_value=timedelta(hours=-23, minutes=-59),
                                      max_value=timedelta(hours=23, minutes=59))),
)


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime(1, 1, 1, 1), timezones=zones),
    st.booleans(),
    st.lists(st.tuples(st.integers(0, 2000), st.sampled_from([0, 0, 0, 1]),
                       st.sampled_from([False] * 5 + [True])), max_size=40),
)
def test_iso_texts_is_isoformat(
    start: datetime, whole: bool, steps: list[tuple[int, int, bool]]
) -> None:
    """Runs within one hour, across hours, with and without microseconds, zones switching."""
    stamps = [start.replace(microsecond=0) if whole else start]
    for seconds, micro, other_zone in steps:
        ts = stamps[-1]
        try:
            ts = ts + timedelta(seconds=seconds, microseconds=micro)
        except OverflowError:
            break
        stamps.append(ts.replace(tzinfo=timezone(timedelta(hours=8))) if other_zone else ts)

    assert iso_texts(stamps) == [cst_iso(ts) for ts in stamps]


def test_iso_texts_at_the_end_of_time() -> None:
    last = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=8)))
    stamps = [last, last + timedelta(minutes=59, seconds=59), last + timedelta(seconds=1)]
    assert iso_texts(stamps) == [ts.isoformat() for ts in stamps]


def identity_probes(buf: Buffer, records: list[JournalRecord]) -> tuple[PageResult, int]:
    page, statements = traced_page(buf, records)
    return page, sum(1 for s in statements if "ident IN ('t:" in s)


def test_page_past_the_stored_refs_needs_no_identity_probe(buf: Buffer) -> None:
    first, probes = identity_probes(buf, [record(n) for n in range(1, 41)])
    assert (len(first.stored), probes) == (40, 0)
    later, probes = identity_probes(buf, [record(n) for n in range(41, 81)])
    assert (len(later.stored), later.duplicates, probes) == (40, 0, 0)
    # one older record among new ones: probed, found, not stored again
    mixed, probes = identity_probes(buf, [record(n) for n in range(81, 100)] + [record(7)])
    assert (len(mixed.stored), mixed.duplicates, probes) == (19, 1, 1)
    assert [r.seq for r in mixed.stored] == list(range(81, 100))
    # the greatest stored ref itself, then new ones: probed too
    again, probes = identity_probes(buf, [record(n) for n in range(99, 99 + SCAN_MIN + 1)])
    assert (len(again.stored), again.duplicates, probes) == (SCAN_MIN, 1, 1)
    assert buf.last_seq() == 99 + SCAN_MIN
    assert buf.get(7) == first.stored[6]


@pytest.mark.parametrize("repeated", [False, True])  # all new / with a record twice
def test_reversal_before_its_original_in_a_page_refers_to_nothing(
    buf: Buffer, repeated: bool
) -> None:
    """An original is found on file or earlier in the page, never later in it."""
    records = [record(n) for n in range(1, SCAN_MIN + 1)]
    later = replace(records[0], kind=TxnKind.REVERSAL, original_ref=records[5].ref, card=None)
    earlier = replace(records[9], kind=TxnKind.REVERSAL, original_ref=records[3].ref, card=None)
    records[0], records[9] = later, earlier
    if repeated:
        records.insert(7, records[2])
    page = buf.record_journal_page("T1", records, T0)
    assert page.duplicates == int(repeated)
    assert [r.refers_to_seq for r in page.stored if r.kind == "reversal"] == [None, 4]
    assert [r.refers_to_seq for r in buf.records() if r.kind == "reversal"] == [None, 4]


def test_page_with_zone_times_is_stored_as_isoformat(buf: Buffer) -> None:
    records = [record(n, terminal_time=datetime(2026, 10, 5, 9, n, tzinfo=Shanghai()))
               for n in range(1, SCAN_MIN + 5)]
    page = buf.record_journal_page("T1", records, T0)
    texts = [row[0] for row in buf._conn.execute("SELECT terminal_time FROM records ORDER BY seq")]
    assert texts == [r.terminal_time.isoformat() for r in records]
    for got, rec in zip(page.stored, records, strict=True):
        assert got == from_journal("S1", "T1", rec, T0, Source.JOURNAL)._replace(seq=got.seq)
        assert got.terminal_time is rec.terminal_time


def test_page_result_builds_stored_on_first_read(buf: Buffer) -> None:
    buf.record_journal_page("T1", [record(n) for n in range(1, 6)], T0)
    result = buf.record_journal_page("T1", [record(n) for n in range(4, 30)], T0, cursor=99)
    assert "stored" not in vars(result)  # not built yet
    twin = pickle.loads(pickle.dumps(result))  # noqa: S301 - our own object
    clone = copy.copy(result)
    stored = result.stored
    assert result.stored is stored  # built once, then kept
    assert "stored" in vars(result)
    assert "_build" not in vars(result)
    assert stored == tuple(buf.records(5))
    assert [r.seq for r in stored] == list(range(6, 30))
    assert (result.duplicates, result.cursor) == (2, 99)
    assert result == PageResult(stored, 2, 99) == twin == clone
    assert hash(result) == hash(PageResult(stored, 2, 99))
    assert replace(result, cursor=5) == PageResult(stored, 2, 5)
    assert dataclasses.asdict(result)["duplicates"] == 2
    assert "StoredRecord(seq=6" in repr(result)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        result.nothing  # type: ignore[attr-defined]  # noqa: B018


def test_insert_page_refuses_ragged_columns(tmp_path: Path) -> None:
    with Buffer.open(tmp_path / "b.sqlite", "S1"):
        pass
    conn = sqlite3.connect(tmp_path / "b.sqlite")
    try:
        shared = ("S1", "T1", "journal", T0.isoformat())
        with pytest.raises(ValueError, match=f"needs {len(PAGE_COLUMNS)} columns"):
            insert_page(conn, shared, [[1] for _ in PAGE_COLUMNS[1:]])
        ragged: list[list[Any]] = [[n, n + 1] for n in range(len(PAGE_COLUMNS))]
        ragged[-1] = [1, 2, 3]
        with pytest.raises(ValueError, match="extended slice"):
            insert_page(conn, shared, ragged)
        assert conn.execute("SELECT COUNT(*) FROM records").fetchone() == (0,)
    finally:
        conn.close()
