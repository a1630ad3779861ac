"""``buffer.schema.record_rows`` (column by column, each distinct value converted once when a
column holds few) gives exactly ``record_row`` of each record: on generated records with
repeated and varied wall times, equal instants in different offsets, times in a zone that
is not a fixed offset (with ``fold``), null terminal times and every entry and source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stationlink.buffer.schema import record_row, record_rows
from stationlink.money import CST
from stationlink.records.fields import StoredRecord
from stationlink.records.vocab import Entry, Source


class Shifting(tzinfo):
    """A zone whose offset depends on ``fold`` (as a zone's ambiguous hour does)."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=9 if dt is not None and dt.fold else 8)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "shifting"


T0 = datetime(2026, 10, 5, 9, 0, tzinfo=CST)
SHIFTING = Shifting()
walls = st.sampled_from([
    T0, T0.astimezone(UTC), T0 + timedelta(seconds=1),
    T0.replace(tzinfo=timezone(timedelta(hours=8))),
    datetime(2026, 10, 5, 9, 0, tzinfo=SHIFTING),
    datetime(2026, 10, 5, 9, 0, fold=1, tzinfo=SHIFTING),
])


def record(seq: int, wall: datetime, entry: Entry, source: Source,
           terminal: datetime | None) -> StoredRecord:
    return StoredRecord(
        seq, "S1", "T1", entry, f"R{seq}", f"c{seq}", "bill_payment", "mobile",
        "13800000000", 100, "approved", 0, "", "", "", None, source, wall, terminal, 1, 1, seq,
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(walls, st.sampled_from(list(Entry)), st.sampled_from(list(Source)),
                          st.one_of(st.none(), walls)), max_size=30),
       st.integers(0, 3))
def test_record_rows_is_record_row_of_each(
    specs: list[tuple[datetime, Entry, Source, datetime | None]], repeat: int
) -> None:
    records = [record(i, *spec) for i, spec in enumerate(specs * (repeat + 1))]
    idents = [f"t:R{r.seq}" for r in records]
    expected = [record_row(r, i) for r, i in zip(records, idents, strict=True)]
    assert record_rows(records, idents) == expected


def test_one_page_of_one_wall_time() -> None:
    records = [record(i, T0, Entry.TXN, Source.JOURNAL, T0 + timedelta(seconds=i))
               for i in range(40)]
    idents = [f"t:R{i}" for i in range(40)]
    assert record_rows(records, idents) == [record_row(r, i) for r, i in
                                            zip(records, idents, strict=True)]


def test_record_rows_needs_an_identity_per_record() -> None:
    with pytest.raises(ValueError, match="one identity per record"):
        record_rows([record(1, T0, Entry.TXN, Source.LIVE, None)], [])
