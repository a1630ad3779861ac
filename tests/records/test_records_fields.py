"""The record declared once (``stationlink.records.fields``): every spelling of the record's
fields agrees with the declaration, on real SQLite files.

- :class:`StoredRecord`'s attributes and their types are the declaration's stored fields.
- The buffer's and the hub's ``records`` tables have exactly the declared columns, types and
  ``NOT NULL`` constraints (read back from the files with ``PRAGMA table_info``).
- A record goes into a row and back unchanged, by column name.
"""

from __future__ import annotations

import re
import sqlite3
import typing
from datetime import datetime, timedelta, timezone
from pathlib import Path

from stationlink.buffer import Buffer
from stationlink.buffer.schema import (
    RECORD_COLUMNS,
    add_column,
    record_row,
    row_ident,
    row_record,
)
from stationlink.hub.hub_schema import EXTRA_COLUMNS
from stationlink.hub.sqlite_store import SqliteHubStore
from stationlink.interchange import TRANSACTION_COLUMNS, Transaction
from stationlink.records import fields
from stationlink.records.fields import RECORD, StoredRecord
from stationlink.records.vocab import Entry, Source

T0 = datetime(2026, 10, 5, 9, 30, tzinfo=timezone(timedelta(hours=8)))


def _table_info(path: Path) -> dict[str, tuple[str, bool, int]]:
    """column -> (declared type, NOT NULL, primary-key position) of the ``records`` table."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("PRAGMA table_info(records)").fetchall()
    finally:
        conn.close()
    return {r[1]: (r[2], bool(r[3]), r[5]) for r in rows}


def test_stored_record_is_the_declared_stored_fields() -> None:
    assert StoredRecord._fields == fields.STORED
    hints = typing.get_type_hints(StoredRecord)
    for f in RECORD:
        if not f.stored:
            continue
        expected: object = f.pytype | None if f.nullable else f.pytype
        assert hints[f.name] == expected, f.name


def test_transaction_row_is_the_declared_columns() -> None:
    assert tuple(Transaction.__slots__) == fields.TRANSACTION_COLUMNS == TRANSACTION_COLUMNS


def test_buffer_table_is_the_declaration(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite"
    Buffer.open(path, "S1").close()
    info = _table_info(path)
    assert tuple(info) == fields.COLUMNS == RECORD_COLUMNS
    for f in RECORD:
        sql_type, not_null, pk = info[f.name]
        assert sql_type == f.sql, f.name
        assert (not_null or pk > 0) == (not f.nullable), f.name


def test_hub_table_is_the_declaration_and_the_hubs_columns(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    SqliteHubStore(path).close()
    info = _table_info(path)
    assert tuple(info) == fields.COLUMNS + EXTRA_COLUMNS
    for f in RECORD:
        sql_type, not_null, _ = info[f.name]
        assert (sql_type, not_null) == (f.sql, not f.nullable), f.name


def test_a_record_goes_into_a_row_and_back_by_name() -> None:
    rec = StoredRecord(
        seq=7, station_id="S1", terminal_id="T1", entry=Entry.TXN, terminal_ref="R1",
        client_ref="c1", kind="bill_payment", product="electricity", account="0531000123",
        amount_fen=4530, status="approved", result=0, card_token="", card_masked="",
        original_ref="", refers_to_seq=None, source=Source.JOURNAL, wall_time=T0,
        terminal_time=T0 - timedelta(seconds=3), uptime_ms=1000, boot_id=2, journal_cursor=9,
    )
    row = record_row(rec)
    by_name = dict(zip(RECORD_COLUMNS, row, strict=True))
    assert by_name["ident"] == row_ident(row) == "t:R1"
    assert by_name["entry"] == "txn"
    assert by_name["source"] == "journal"
    assert by_name["wall_time"] == "2026-10-05T09:30:00+08:00"
    assert by_name["terminal_time"] == "2026-10-05T09:29:57+08:00"
    assert row_record(row) == rec
    assert row_record(record_row(rec._replace(terminal_time=None, result=None))) == rec._replace(
        terminal_time=None, result=None)


def test_docs_field_table_is_the_declaration() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs"
    assert fields.markdown_table(RECORD) in (docs / "buffer.md").read_text(encoding="utf-8")
    text = (docs / "formats.md").read_text(encoding="utf-8")
    section = text[text.index("## transactions"):text.index("## stations")]
    listed = re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)
    assert tuple(listed) == fields.TRANSACTION_COLUMNS == TRANSACTION_COLUMNS


def test_add_column_migrates_an_older_file_and_leaves_a_new_one(tmp_path: Path) -> None:
    """The migration step a new field takes (``buffer.schema.add_column``): an older file
    gets the declared column with its declared type; a file already having it is unchanged."""
    path = tmp_path / "old.sqlite"
    older = [c for c in fields.COLUMNS if c != "journal_cursor"]
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"CREATE TABLE records ({', '.join(older)})")
        step = add_column("records", "journal_cursor")
        step(conn)
        step(conn)  # again: nothing to do
        conn.commit()
    finally:
        conn.close()
    info = _table_info(path)
    assert list(info) == [*older, "journal_cursor"]
    assert info["journal_cursor"][0] == "INTEGER"
