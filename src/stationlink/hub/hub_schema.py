"""The hub's SQLite schema (created with sqlite-utils).

Tables::

    stations       station_id PK, hwm (high-water mark), last_contact, agent_status (JSON)
    records        PRIMARY KEY (station_id, seq); the buffer's record columns plus
                   received_at, ts (effective), affects_month, late, duplicate_of;
                   UNIQUE (station_id, terminal_id, ident) WHERE duplicate_of IS NULL
    anchors        (station_id, terminal_id, boot_id) -> first live wall time and uptime
    device_status  snapshots as uploaded (JSON), newest per terminal shown by status
    tokens         token_id PK, station_id, token_hash UNIQUE (SHA-256), created/revoked

Versions (``PRAGMA user_version``, :mod:`stationlink.buffer.versions`): 1 is the tables
above; 2 stores every timestamp column in CST (``+08:00``; older files may hold ``+00:00``
texts, rewritten to the same instants); 3 adds the console's ``operators``,
``console_sessions`` and ``audit`` tables (:data:`CONSOLE_DDL`; not required by
:func:`check_hub_file`, so read-only commands still open a version-2 file); 4 the console's
month tables (:data:`MONTHS_DDL`); 5 the operators' language setting
(:data:`OPERATOR_LANG_DDL`). A file from
before versions (0, every table there) is migrated in place when the hub opens it for
writing; a newer file is refused.

Contract: :func:`create_hub_schema` creates or migrates the tables (idempotent, one
transaction). :func:`check_hub_file` opens a file read-only (also on read-only media) and
raises :class:`~stationlink.errors.StorageError` naming it when its schema version is newer
than this code's, or unless it holds every hub table with every column (or, if allowed, no
table at all); it writes nothing (not even a journal-mode change).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from ..buffer.schema import RECORD_COLUMNS, RECORD_TYPES
from ..buffer.versions import Migration, check_file, latest, migrate, table_migrations
from ..errors import StorageError
from ..records import fields

#: The hub's columns after the record's (:data:`stationlink.records.fields.RECORD`).
EXTRA_TYPES: dict[str, type[object]] = {
    "received_at": str, "ts": str, "affects_month": str, "late": int, "duplicate_of": int,
}
EXTRA_COLUMNS = tuple(EXTRA_TYPES)
HUB_COLUMNS: dict[str, tuple[str, ...]] = {
    "stations": ("station_id", "hwm", "last_contact", "agent_status", "agent_status_at"),
    "records": RECORD_COLUMNS + EXTRA_COLUMNS,
    "anchors": ("station_id", "terminal_id", "boot_id", "wall_time", "uptime_ms"),
    "device_status": ("id", "station_id", "terminal_id", "received_at", "snapshot"),
    "tokens": ("token_id", "station_id", "token_hash", "created_at", "revoked_at"),
}


HUB_TIMES: dict[str, tuple[str, ...]] = {
    "stations": ("last_contact", "agent_status_at"),
    "records": (*(c for c in RECORD_COLUMNS if c in fields.TIME_FIELDS), "received_at", "ts"),
    "anchors": ("wall_time",),
    "device_status": ("received_at",),
    "tokens": ("created_at", "revoked_at"),
}


def check_hub_file(path: str | Path, *, allow_empty: bool = False) -> None:
    """Raise StorageError unless ``path`` is a hub database (module contract);
    ``allow_empty``: a database without any table passes too (a hub is created in it)."""
    p = Path(path)
    if not p.is_file():
        raise StorageError(f"{p}: no such hub database file")
    check_file(p, HUB_COLUMNS, SCHEMA_VERSION, "hub", allow_empty=allow_empty)


def create_hub_schema(db: sqlite_utils.Database, where: str | None = None) -> None:
    """Create the tables of a new hub file or migrate an older one (one transaction)."""
    if where is None:
        where = db.execute("PRAGMA database_list").fetchone()[2] or ":memory:"
    migrate(db.conn, where, MIGRATIONS, "hub")


def _create_tables(db: sqlite_utils.Database) -> None:
    db.table("stations").create(
        {"station_id": str, "hwm": int, "last_contact": str, "agent_status": str,
         "agent_status_at": str},
        pk="station_id", not_null={"hwm"}, if_not_exists=True,
    )
    db.table("records").create(
        {**RECORD_TYPES, **EXTRA_TYPES}, pk=("station_id", "seq"),
        not_null=fields.NOT_NULL | {"received_at", "ts", "affects_month", "late"},
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


MIGRATIONS = table_migrations("hub", _create_tables, HUB_TIMES)

#: Version 3: the console's operators, their server-side sessions and the audit trail
#: (:mod:`stationlink.hub.console.tables`; docs/console.md). Plain SQL so that the PostgreSQL
#: store carries the same tables (timestamps there as ``timestamptz``, JSON as ``jsonb``).
CONSOLE_DDL = (
    "CREATE TABLE IF NOT EXISTS operators ("
    " name TEXT PRIMARY KEY,"
    " role TEXT NOT NULL CHECK (role IN ('viewer', 'finance', 'admin')),"
    " password_hash TEXT NOT NULL,"
    " must_change_password INTEGER NOT NULL DEFAULT 0,"
    " created_at TEXT NOT NULL,"
    " password_changed_at TEXT NOT NULL,"
    " disabled_at TEXT)",
    "CREATE TABLE IF NOT EXISTS console_sessions ("
    " session_hash TEXT PRIMARY KEY,"
    " operator TEXT NOT NULL REFERENCES operators(name),"
    " csrf_token TEXT NOT NULL,"
    " created_at TEXT NOT NULL,"
    " expires_at TEXT NOT NULL,"
    " last_seen TEXT NOT NULL,"
    " address TEXT)",
    "CREATE INDEX IF NOT EXISTS console_sessions_operator ON console_sessions (operator)",
    "CREATE TABLE IF NOT EXISTS audit ("
    " id INTEGER PRIMARY KEY,"
    " at TEXT NOT NULL,"
    " actor TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " target TEXT,"
    " before TEXT,"
    " after TEXT,"
    " address TEXT)",
)


def _ddl_migration(version: int, description: str, ddl: tuple[str, ...]) -> Migration:
    """The migration to ``version`` that runs the plain-SQL statements ``ddl``."""
    def apply(conn: sqlite3.Connection) -> None:
        for statement in ddl:
            conn.execute(statement)

    return Migration(version, description, apply)


MIGRATIONS = (*MIGRATIONS, _ddl_migration(3, "console operators, sessions and audit",
                                          CONSOLE_DDL))

#: Version 4: the console's month pages (:mod:`stationlink.hub.console.monthstore`;
#: docs/console.md): the stations and branches reference data (``hub stations import``), and
#: the closed months' frozen statements, versioned (a re-close after a re-open is a new
#: version; rows are never updated). Plain SQL, mirrored by the PostgreSQL store.
MONTHS_DDL = (
    "CREATE TABLE IF NOT EXISTS ref_stations ("
    " station_id TEXT PRIMARY KEY,"
    " branch_id TEXT NOT NULL,"
    " area TEXT NOT NULL,"
    " village_id TEXT NOT NULL,"
    " village_households INTEGER,"
    " phone TEXT)",
    "CREATE TABLE IF NOT EXISTS ref_branches ("
    " branch_id TEXT PRIMARY KEY,"
    " area TEXT NOT NULL,"
    " plan_effective_stations INTEGER NOT NULL,"
    " county TEXT)",
    "CREATE TABLE IF NOT EXISTS month_closes ("
    " month TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " policy TEXT NOT NULL,"
    " closed_by TEXT NOT NULL,"
    " closed_at TEXT NOT NULL,"
    " reopened_by TEXT,"
    " reopened_at TEXT,"
    " PRIMARY KEY (month, version))",
    "CREATE TABLE IF NOT EXISTS statements ("
    " month TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " subject TEXT NOT NULL CHECK (subject IN ('station', 'branch')),"
    " subject_id TEXT NOT NULL,"
    " statement TEXT NOT NULL,"
    " closed_by TEXT NOT NULL,"
    " closed_at TEXT NOT NULL,"
    " PRIMARY KEY (month, version, subject, subject_id),"
    " FOREIGN KEY (month, version) REFERENCES month_closes (month, version))",
)


MIGRATIONS = (*MIGRATIONS, _ddl_migration(4, "console months: reference data, frozen statements",
                                          MONTHS_DDL))

#: Version 5: each operator's console language (``zh``/``en``; NULL: the server's default,
#: ``hub serve --lang``). Mirrored by the PostgreSQL store (its version 4).
OPERATOR_LANG_DDL = (
    "ALTER TABLE operators ADD COLUMN lang TEXT CHECK (lang IN ('zh', 'en'))",
)

MIGRATIONS = (*MIGRATIONS, _ddl_migration(5, "console: the operators' language setting",
                                          OPERATOR_LANG_DDL))
SCHEMA_VERSION = latest(MIGRATIONS)
