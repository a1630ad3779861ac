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
other SQLite file, a newer buffer: refused, left byte-identical). :func:`create_schema`
creates or migrates the tables (idempotent); records are only ever inserted.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from .db import ts_parse, ts_required, ts_text
from .records import Entry, Source, StoredRecord
from .versions import FileInfo, Migration, check_file, latest, migrate

RECORD_COLUMNS = (
    "seq",
    "station_id",
    "terminal_id",
    "entry",
    "ident",
    "terminal_ref",
    "client_ref",
    "kind",
    "product",
    "account",
    "amount_fen",
    "status",
    "result",
    "card_token",
    "card_masked",
    "original_ref",
    "refers_to_seq",
    "source",
    "wall_time",
    "terminal_time",
    "uptime_ms",
    "boot_id",
    "journal_cursor",
)

RECORD_TYPES: dict[str, Any] = {
    "seq": int,
    "station_id": str,
    "terminal_id": str,
    "entry": str,
    "ident": str,
    "terminal_ref": str,
    "client_ref": str,
    "kind": str,
    "product": str,
    "account": str,
    "amount_fen": int,
    "status": str,
    "result": int,
    "card_token": str,
    "card_masked": str,
    "original_ref": str,
    "refers_to_seq": int,
    "source": str,
    "wall_time": str,
    "terminal_time": str,
    "uptime_ms": int,
    "boot_id": int,
    "journal_cursor": int,
}

NOT_NULL = {
    "station_id", "terminal_id", "entry", "ident", "terminal_ref", "client_ref", "kind",
    "product", "account", "amount_fen", "status", "card_token", "card_masked",
    "original_ref", "source", "wall_time",
}

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
    "records": ("wall_time", "terminal_time"),
    "cursors": ("updated_at",),
    "device_status": ("wall_time", "terminal_time"),
    "settlement_mismatches": ("wall_time", "since"),
    "quarantine": ("wall_time", "released_at"),
    "conflicts": ("wall_time",),
}


def _cst_text(text: str | None) -> str | None:
    return None if text is None else ts_text(datetime.fromisoformat(text))


def times_to_cst(conn: sqlite3.Connection, columns: dict[str, tuple[str, ...]]) -> None:
    """Rewrite every stored timestamp not already in ``+08:00`` as the same instant in CST
    (a migration step shared with the hub)."""
    conn.create_function("stationlink_cst", 1, _cst_text, deterministic=True)
    for table, cols in columns.items():
        for col in cols:
            conn.execute(
                f"UPDATE {table} SET {col} = stationlink_cst({col}) "  # noqa: S608
                f"WHERE {col} IS NOT NULL AND {col} NOT LIKE '%+08:00'"
            )


def _v1_tables(conn: sqlite3.Connection) -> None:
    db = sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)
    _create_tables(db)


def _v2_cst(conn: sqlite3.Connection) -> None:
    times_to_cst(conn, BUFFER_TIMES)


MIGRATIONS = (
    Migration(1, "buffer tables (a file from before versions keeps its tables)", _v1_tables),
    Migration(2, "every timestamp in CST (+08:00)", _v2_cst),
)
SCHEMA_VERSION = latest(MIGRATIONS)


def check_buffer_file(path: str | Path) -> FileInfo:
    """Refuse an existing file that is no buffer this code can open (module contract)."""
    return check_file(Path(path), BUFFER_TABLES, SCHEMA_VERSION, "buffer")


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


def record_row(rec: StoredRecord, ident: str | None = None) -> tuple[Any, ...]:
    """Values for :data:`INSERT_RECORD`, in :data:`RECORD_COLUMNS` order."""
    return (
        rec.seq, rec.station_id, rec.terminal_id, str(rec.entry),
        rec.ident if ident is None else ident,
        rec.terminal_ref, rec.client_ref, rec.kind, rec.product, rec.account, rec.amount_fen,
        rec.status, rec.result, rec.card_token, rec.card_masked, rec.original_ref,
        rec.refers_to_seq, str(rec.source), ts_text(rec.wall_time),
        ts_text(rec.terminal_time), rec.uptime_ms, rec.boot_id, rec.journal_cursor,
    )


def row_record(row: tuple[Any, ...] | Any) -> StoredRecord:
    """A row selected with :data:`SELECT_RECORDS` back into a record."""
    wall = ts_required(row[18])
    return StoredRecord(
        seq=row[0], station_id=row[1], terminal_id=row[2], entry=Entry(row[3]),
        terminal_ref=row[5], client_ref=row[6], kind=row[7], product=row[8], account=row[9],
        amount_fen=row[10], status=row[11], result=row[12], card_token=row[13],
        card_masked=row[14], original_ref=row[15], refers_to_seq=row[16],
        source=Source(row[17]), wall_time=wall, terminal_time=ts_parse(row[19]),
        uptime_ms=row[20], boot_id=row[21], journal_cursor=row[22],
    )
