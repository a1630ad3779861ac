"""The hub's SQLite schema (created with sqlite-utils).

Tables::

    stations       station_id PK, hwm (high-water mark), last_contact, agent_status (JSON)
    records        PRIMARY KEY (station_id, seq); the buffer's record columns plus
                   received_at, ts (effective), affects_month, late, duplicate_of;
                   UNIQUE (station_id, terminal_id, ident) WHERE duplicate_of IS NULL
    anchors        (station_id, terminal_id, boot_id) -> first live wall time and uptime
    device_status  snapshots as uploaded (JSON), newest per terminal shown by status
    tokens         token_id PK, station_id, token_hash UNIQUE (SHA-256), created/revoked

Contract: :func:`create_hub_schema` is idempotent. :func:`check_hub_file` opens a file
read-only and raises :class:`~stationlink.errors.StorageError` naming it unless it holds
every hub table with every column (or, if allowed, no table at all); it writes nothing (not
even a journal-mode change).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import sqlite_utils

from ..buffer.schema import NOT_NULL, RECORD_COLUMNS, RECORD_TYPES
from ..errors import StorageError

EXTRA_COLUMNS = ("received_at", "ts", "affects_month", "late", "duplicate_of")
HUB_COLUMNS: dict[str, tuple[str, ...]] = {
    "stations": ("station_id", "hwm", "last_contact", "agent_status", "agent_status_at"),
    "records": RECORD_COLUMNS + EXTRA_COLUMNS,
    "anchors": ("station_id", "terminal_id", "boot_id", "wall_time", "uptime_ms"),
    "device_status": ("id", "station_id", "terminal_id", "received_at", "snapshot"),
    "tokens": ("token_id", "station_id", "token_hash", "created_at", "revoked_at"),
}


def check_hub_file(path: str | Path, *, allow_empty: bool = False) -> None:
    """Raise StorageError unless ``path`` is a hub database (module contract);
    ``allow_empty``: a database without any table passes too (a hub is created in it)."""
    p = Path(path)
    if not p.is_file():
        raise StorageError(f"{p}: no such hub database file")
    try:
        with closing(sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            found = {
                table: {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
                for table in HUB_COLUMNS
            }
    except sqlite3.Error as exc:
        raise StorageError(f"{p}: not a stationlink hub database ({exc})") from exc
    if allow_empty and not any(found.values()):
        return
    problems = []
    for table, columns in HUB_COLUMNS.items():
        if not found[table]:
            problems.append(f"no {table} table")
            continue
        missing = [c for c in columns if c not in found[table]]
        if missing:
            problems.append(f"{table} without {', '.join(missing)}")
    if problems:
        raise StorageError(f"{p}: not a stationlink hub database ({'; '.join(problems)}); "
                           "left untouched")


def create_hub_schema(db: sqlite_utils.Database) -> None:
    db.table("stations").create(
        {"station_id": str, "hwm": int, "last_contact": str, "agent_status": str,
         "agent_status_at": str},
        pk="station_id", not_null={"hwm"}, if_not_exists=True,
    )
    columns = dict(RECORD_TYPES)
    columns.update(
        {"received_at": str, "ts": str, "affects_month": str, "late": int, "duplicate_of": int}
    )
    db.table("records").create(
        columns, pk=("station_id", "seq"),
        not_null=NOT_NULL | {"seq", "received_at", "ts", "affects_month", "late"},
        if_not_exists=True,
    )
    db.execute(
        "CREATE UNIQUE INDEX IF NOT EXISTS records_identity ON records "
        "(station_id, terminal_id, ident) WHERE duplicate_of IS NULL"
    )
    db.table("records").create_index(
        ["affects_month", "late"], index_name="records_month", if_not_exists=True
    )
    db.table("anchors").create(
        {"station_id": str, "terminal_id": str, "boot_id": int, "wall_time": str,
         "uptime_ms": int},
        pk=("station_id", "terminal_id", "boot_id"), not_null={"wall_time", "uptime_ms"},
        if_not_exists=True,
    )
    db.table("device_status").create(
        {"id": int, "station_id": str, "terminal_id": str, "received_at": str, "snapshot": str},
        pk="id", not_null={"station_id", "terminal_id", "received_at", "snapshot"},
        if_not_exists=True,
    )
    db.table("tokens").create(
        {"token_id": str, "station_id": str, "token_hash": str, "created_at": str,
         "revoked_at": str},
        pk="token_id", not_null={"station_id", "token_hash", "created_at"}, if_not_exists=True,
    )
    db.table("tokens").create_index(
        ["token_hash"], index_name="tokens_hash", unique=True, if_not_exists=True
    )
