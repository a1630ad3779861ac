"""The buffer's SQLite schema (created with sqlite-utils) and row <-> record mapping.

Tables::

    records      seq INTEGER PRIMARY KEY (gap-free, per station), identity columns,
                 the transaction fields, wall/terminal time, uptime, boot id;
                 UNIQUE (terminal_id, ident)  -- the same terminal transaction is stored once
    meta         key -> value: station_id, synced_upto (the hub's high-water mark)
    cursors      terminal_id -> last journal cursor stored (same transaction as its records)
    device_status, settlement_mismatches, quarantine, conflicts  (see buffer.health)

Versions (``PRAGMA user_version``, :mod:`stationlink.buffer.versions`): 1 is the tables
above; 2 stores every timestamp in CST (``+08:00``; version 1 files may hold ``+00:00`` texts,
rewritten to the same instants in CST). A file from before versions (0, every table there)
is migrated in place; a file of a newer version is refused.

Contract: :func:`check_buffer_file` reads an existing file without writing it and raises
``StorageError`` naming it unless it is a buffer this code can open (a hub database, any
other SQLite file, a newer buffer: refused, left byte-identical); ``allow_empty``: a
database without any table passes (what a process killed while creating a buffer leaves:
the WAL header, no table, as the tables come in one transaction). :func:`create_schema`
creates or migrates the tables (idempotent); records are only ever inserted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from ..records import fields
from ..records.fields import StoredRecord
from ..records.vocab import Entry, Source
from .db import ts_parse, ts_text
from .versions import FileInfo, check_file, latest, migrate, table_migrations

#: The ``records`` columns, their types and ``NOT NULL`` set, from the one declaration
#: (:data:`stationlink.records.fields.RECORD`); ``seq`` is the primary key.
RECORD_COLUMNS = fields.COLUMNS
RECORD_TYPES: dict[str, Any] = {f.name: f.column_type for f in fields.RECORD}
NOT_NULL = set(fields.NOT_NULL - {"seq"})

SELECT_RECORDS = "SELECT " + ", ".join(RECORD_COLUMNS) + " FROM records"  # noqa: S608
_MARKS = ", ".join("?" for _ in RECORD_COLUMNS)
INSERT_RECORD = f"INSERT INTO records ({', '.join(RECORD_COLUMNS)}) VALUES ({_MARKS})"  # noqa: S608


BUFFER_TABLES: dict[str, tuple[str, ...]] = {
    "records": RECORD_COLUMNS,
    "meta": ("key", "value"),
    "cursors": ("terminal_id", "cursor", "updated_at"),
    "device_status": ("id", "terminal_id", "wall_time", "terminal_time", "synced"),
    "settlement_mismatches": ("id", "terminal_id", "wall_time", "since"),
    "quarantine": ("id", "first_seq", "last_seq", "reason", "wall_time", "released_at"),
    "conflicts": ("id", "terminal_id", "ident", "existing_seq", "wall_time"),
}
BUFFER_TIMES: dict[str, tuple[str, ...]] = {
    "records": tuple(c for c in RECORD_COLUMNS if c in fields.TIME_FIELDS),
    "cursors": ("updated_at",),
    "device_status": ("wall_time", "terminal_time"),
    "settlement_mismatches": ("wall_time", "since"),
    "quarantine": ("wall_time", "released_at"),
    "conflicts": ("wall_time",),
}


def add_column(table: str, column: str) -> Callable[[sqlite3.Connection], None]:
    """A migration step that adds a declared record column (``records.fields``) to ``table``
    of an older file; a file created at this version already has it (its tables are made
    from the declaration), so the step is a no-op there. Buffer and hub both use it."""

    def step(conn: sqlite3.Connection) -> None:
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            sql_type = fields.BY_NAME[column].sql
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")

    return step


def check_buffer_file(path: str | Path, *, allow_empty: bool = False) -> FileInfo:
    """Refuse an existing file that is no buffer this code can open (module contract)."""
    return check_file(Path(path), BUFFER_TABLES, SCHEMA_VERSION, "buffer",
                      allow_empty=allow_empty)


def create_schema(db: sqlite_utils.Database, where: str | None = None) -> None:
    """Create the tables of a new file or migrate an older one (one transaction)."""
    if where is None:
        where = db.execute("PRAGMA database_list").fetchone()[2] or ":memory:"
    migrate(db.conn, where, MIGRATIONS, "buffer")


def _create_tables(db: sqlite_utils.Database) -> None:
    db.table("records").create(RECORD_TYPES, pk="seq", not_null=NOT_NULL, if_not_exists=True)
    db.table("records").create_index(
        ["terminal_id", "ident"], index_name="records_identity", unique=True, if_not_exists=True
    )
    db.table("records").create_index(
        ["terminal_id", "client_ref"], index_name="records_client", if_not_exists=True
    )
    db.table("meta").create({"key": str, "value": str}, pk="key", if_not_exists=True)
    db.table("cursors").create(
        {"terminal_id": str, "cursor": int, "updated_at": str}, pk="terminal_id",
        not_null={"cursor", "updated_at"}, if_not_exists=True,
    )
    db.table("device_status").create(
        {
            "id": int, "terminal_id": str, "wall_time": str, "paper_ok": int,
            "error_counters": str, "signal_dbm": int, "uptime_ms": int, "boot_id": int,
            "terminal_time": str, "journal_unacked": int, "synced": int,
        },
        pk="id", not_null={"terminal_id", "wall_time", "synced"}, defaults={"synced": 0},
        if_not_exists=True,
    )
    db.table("settlement_mismatches").create(
        {
            "id": int, "terminal_id": str, "wall_time": str, "since": str, "kind": str,
            "product": str, "terminal_count": int, "terminal_amount_fen": int,
            "buffer_count": int, "buffer_amount_fen": int,
        },
        pk="id", if_not_exists=True,
    )
    db.table("quarantine").create(
        {
            "id": int, "first_seq": int, "last_seq": int, "http_status": int, "reason": str,
            "wall_time": str, "released_at": str,
        },
        pk="id", not_null={"first_seq", "last_seq", "reason", "wall_time"}, if_not_exists=True,
    )
    db.table("conflicts").create(
        {
            "id": int, "terminal_id": str, "ident": str, "existing_seq": int,
            "wall_time": str, "detail": str,
        },
        pk="id", if_not_exists=True,
    )


MIGRATIONS = table_migrations("buffer", _create_tables, BUFFER_TIMES)
SCHEMA_VERSION = latest(MIGRATIONS)


#: How a :class:`StoredRecord` value becomes its column's value, for the fields that need it
#: (enums as their text, timestamps as CST text; the others are stored as they are).
_TO_COLUMN: dict[str, Callable[[Any], Any]] = {
    **{f.name: str for f in fields.RECORD if f.pytype in (Entry, Source)},
    **{f.name: ts_text for f in fields.RECORD if f.pytype is datetime},  # None stays None
}
#: And back: a column's value as the record's (``None`` stays ``None``).
_FROM_COLUMN: dict[str, Callable[[Any], Any]] = {
    **{f.name: f.pytype for f in fields.RECORD if f.pytype in (Entry, Source)},
    **{f.name: ts_parse for f in fields.RECORD if f.pytype is datetime},
}
_STORED_AT = {name: i for i, name in enumerate(fields.STORED)}
_COLUMN_AT = {name: i for i, name in enumerate(RECORD_COLUMNS)}
#: (position in a record, converter) of each converted field, and where ``ident`` goes.
_ENCODE = tuple((_STORED_AT[name], conv) for name, conv in _TO_COLUMN.items())
_IDENT_AT = _COLUMN_AT["ident"]
#: Where each :class:`StoredRecord` field is in a row of :data:`RECORD_COLUMNS`.
_FROM_ROW = tuple(_COLUMN_AT[name] for name in fields.STORED)
_DECODE = tuple((_STORED_AT[name], conv) for name, conv in _FROM_COLUMN.items())
_make = StoredRecord._make
_FIXED = (timezone, type(None))  # tzinfos under which equal times are alike in every field


def record_row(rec: StoredRecord, ident: str | None = None) -> tuple[Any, ...]:
    """Values for :data:`INSERT_RECORD`, in :data:`RECORD_COLUMNS` order (``ident``: the
    record's own unless given)."""
    values = list(rec)
    for i, conv in _ENCODE:
        values[i] = conv(values[i])
    values.insert(_IDENT_AT, rec.ident if ident is None else ident)
    return tuple(values)


def record_rows(records: Sequence[StoredRecord], idents: Sequence[str]) -> list[tuple[Any, ...]]:
    """``[record_row(r, i) for r, i in zip(records, idents)]`` exactly, column by column: each
    converted field's values are converted with ``map``, once per distinct value when the
    column holds few (entries, sources, a page's wall time) and all share one fixed-offset
    ``tzinfo`` or none (so equal values are alike in every field and give the same text)."""
    if len(records) != len(idents):
        raise ValueError("record_rows needs one identity per record")
    if not records:
        return []
    columns: list[Any] = list(zip(*records, strict=True))
    for i, conv in _ENCODE:
        values = columns[i]
        distinct = set(values)
        zones = {getattr(v, "tzinfo", None) for v in distinct} \
            if len(distinct) * 4 <= len(values) else ()
        if len(zones) == 1 and type(next(iter(zones))) in _FIXED:
            text = {v: conv(v) for v in distinct}
            columns[i] = map(text.__getitem__, values)
        else:
            columns[i] = map(conv, values)
    columns.insert(_IDENT_AT, idents)
    return list(zip(*columns, strict=True))


def row_record(row: Sequence[Any]) -> StoredRecord:
    """A row in :data:`RECORD_COLUMNS` order (as :data:`SELECT_RECORDS` gives it) back into a
    record."""
    values = [row[i] for i in _FROM_ROW]
    for i, conv in _DECODE:
        value = values[i]
        if value is not None:
            values[i] = conv(value)
    return _make(values)


def row_value(row: Sequence[Any], column: str) -> Any:
    """The value of ``column`` in a row in :data:`RECORD_COLUMNS` order."""
    return row[_COLUMN_AT[column]]


def row_ident(row: Sequence[Any]) -> str:
    """The ``ident`` column of a row in :data:`RECORD_COLUMNS` order."""
    return str(row[_IDENT_AT])
