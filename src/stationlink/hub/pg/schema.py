"""The hub's PostgreSQL schema: versioned migrations, monthly partitions of ``records``.

Tables (the same as the SQLite hub's, :mod:`stationlink.hub.hub_schema`)::

    schema_migrations  version PK, applied_at: the migrations applied
    stations           station_id PK, hwm, last_contact, agent_status (jsonb), agent_status_at
    records            the record's columns (from :data:`stationlink.records.fields.RECORD`:
                       int -> bigint, datetime -> timestamptz, the rest text; NOT NULL as
                       declared) plus received_at, ts, affects_month, late, duplicate_of;
                       PARTITION BY RANGE (affects_month), one partition a month
                       (``records_YYYY_MM``); PRIMARY KEY (station_id, seq, affects_month)
    anchors            (station_id, terminal_id, boot_id) -> first live wall time and uptime
    device_status      snapshots as uploaded (jsonb), newest per terminal shown by status
    tokens             token_id PK, station_id, token_hash UNIQUE (SHA-256), created/revoked
    operators          (version 2) the console's operators: name PK, role, argon2 hash,
                       must_change_password, created/password_changed/disabled times
    console_sessions   (version 2) session_hash PK (SHA-256 of the id), operator FK, CSRF
                       token, created_at, expires_at, last_seen, address
    audit              (version 2) id (identity), at, actor, action, target, before/after
                       (jsonb), address
    ref_stations       (version 3) the console's stations reference data: station_id PK,
                       branch, area, village, households, phone
    ref_branches       (version 3) branch_id PK, area, planned stations, county
    month_closes       (version 3) (month, version) PK, policy, closed by/at, re-opened by/at
    statements         (version 3) the frozen statements of a close: (month, version,
                       subject, subject_id) PK (FK to month_closes), statement (jsonb)
    operators.lang     (version 4) the operator's console language (zh, en; NULL: the
                       server's default)

Indexes are the ones the reads need: the primary keys (replay by seq, the conflict join,
month export in (station, seq) order: partition pruning then the key),
``records_identity`` (station, terminal, ident) of non-duplicates (duplicate detection at
ingest; not UNIQUE: a partitioned table's unique index must hold the month, and the
per-station lock of :mod:`.ingest` already serialises a station's writes),
``records_duplicates`` (the few duplicates, for conflicts and status), the newest device
snapshot per terminal, and token lookup by hash.

Contract:
- :data:`MIGRATIONS` is the ordered list of schema versions; :func:`migrate` applies the
  missing ones in one transaction under an advisory lock (several hosts may run it at once;
  idempotent) and refuses a database of a newer version. It never drops or rewrites data.
- :func:`check_schema` raises :class:`~stationlink.errors.StorageError` unless the database
  is at exactly :data:`SCHEMA_VERSION`, telling to run ``stationlink hub migrate`` when it
  is behind (a hub never migrates on its own).
- :func:`ensure_partitions` creates the missing month partitions, each in its own short
  transaction under an advisory lock (never inside an ingest transaction: creating a
  partition locks ``records`` exclusively, see :mod:`.ingest`); one created by another hub
  at the same moment counts as created.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import errors, sql

from ...errors import StorageError
from ...records import fields
from .connect import connect, pg_errors, redact

#: advisory lock keys (arbitrary constants of this application)
MIGRATE_LOCK = 0x5354_4C4E_4D49  # "STLNMI"
PARTITION_LOCK = 0x5354_4C4E_5041  # "STLNPA"


def _pg_type(f: fields.Field) -> str:
    if f.pytype is int:
        return "bigint"
    if f.pytype is datetime:
        return "timestamptz"
    return "text"


def _record_columns() -> str:
    cols = [f"{f.name} {_pg_type(f)}{'' if f.nullable else ' NOT NULL'}"
            for f in fields.RECORD]
    return ",\n    ".join(cols)


#: The hub's columns after the record's, as in the SQLite hub (``hub_schema.EXTRA_COLUMNS``).
EXTRA_DDL = (
    "received_at timestamptz NOT NULL",
    "ts timestamptz NOT NULL",
    "affects_month text NOT NULL CHECK (affects_month ~ '^[0-9]{4}-[0-9]{2}$')",
    "late boolean NOT NULL",
    "duplicate_of bigint",
)

_V1 = (
    """CREATE TABLE stations (
    station_id text PRIMARY KEY,
    hwm bigint NOT NULL DEFAULT 0,
    last_contact timestamptz,
    agent_status jsonb,
    agent_status_at timestamptz)""",
    f"""CREATE TABLE records (
    {_record_columns()},
    {', '.join(EXTRA_DDL)},
    PRIMARY KEY (station_id, seq, affects_month)
) PARTITION BY RANGE (affects_month)""",
    "CREATE INDEX records_identity ON records (station_id, terminal_id, ident) "
    "WHERE duplicate_of IS NULL",
    "CREATE INDEX records_duplicates ON records (station_id, seq) "
    "WHERE duplicate_of IS NOT NULL",
    """CREATE TABLE anchors (
    station_id text NOT NULL,
    terminal_id text NOT NULL,
    boot_id bigint NOT NULL,
    wall_time timestamptz NOT NULL,
    uptime_ms bigint NOT NULL,
    PRIMARY KEY (station_id, terminal_id, boot_id))""",
    """CREATE TABLE device_status (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station_id text NOT NULL,
    terminal_id text NOT NULL,
    received_at timestamptz NOT NULL,
    snapshot jsonb NOT NULL)""",
    "CREATE INDEX device_status_latest ON device_status (station_id, terminal_id, id DESC)",
    """CREATE TABLE tokens (
    token_id text PRIMARY KEY,
    station_id text NOT NULL,
    token_hash text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz)""",
)

#: Version 2: the console's operators, sessions and audit (the SQLite hub's schema version 3,
#: :data:`stationlink.hub.hub_schema.CONSOLE_DDL`: the same columns and checks; times as
#: ``timestamptz``, flags as ``boolean``, before/after as ``jsonb``; plus an index on
#: ``expires_at`` for the sweep of expired sessions at each sign-in).
_V2 = (
    """CREATE TABLE operators (
    name text PRIMARY KEY,
    role text NOT NULL CHECK (role IN ('viewer', 'finance', 'admin')),
    password_hash text NOT NULL,
    must_change_password boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    password_changed_at timestamptz NOT NULL,
    disabled_at timestamptz)""",
    """CREATE TABLE console_sessions (
    session_hash text PRIMARY KEY,
    operator text NOT NULL REFERENCES operators(name),
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    address text)""",
    "CREATE INDEX console_sessions_operator ON console_sessions (operator)",
    "CREATE INDEX console_sessions_expires ON console_sessions (expires_at)",
    """CREATE TABLE audit (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    target text,
    before jsonb,
    after jsonb,
    address text)""",
)

#: Version 3: the console's month tables (the SQLite hub's schema version 4,
#: :data:`stationlink.hub.hub_schema.MONTHS_DDL`: the same columns, keys and checks; times
#: as ``timestamptz``, the frozen statement as ``jsonb``).
_V3 = (
    """CREATE TABLE ref_stations (
    station_id text PRIMARY KEY,
    branch_id text NOT NULL,
    area text NOT NULL,
    village_id text NOT NULL,
    village_households integer,
    phone text)""",
    """CREATE TABLE ref_branches (
    branch_id text PRIMARY KEY,
    area text NOT NULL,
    plan_effective_stations integer NOT NULL,
    county text)""",
    """CREATE TABLE month_closes (
    month text NOT NULL,
    version integer NOT NULL,
    policy text NOT NULL,
    closed_by text NOT NULL,
    closed_at timestamptz NOT NULL,
    reopened_by text,
    reopened_at timestamptz,
    PRIMARY KEY (month, version))""",
    """CREATE TABLE statements (
    month text NOT NULL,
    version integer NOT NULL,
    subject text NOT NULL CHECK (subject IN ('station', 'branch')),
    subject_id text NOT NULL,
    statement jsonb NOT NULL,
    closed_by text NOT NULL,
    closed_at timestamptz NOT NULL,
    PRIMARY KEY (month, version, subject, subject_id),
    FOREIGN KEY (month, version) REFERENCES month_closes (month, version))""",
)

#: Version 4: each operator's console language (the SQLite hub's schema version 5,
#: :data:`stationlink.hub.hub_schema.OPERATOR_LANG_DDL`; NULL: the server's default).
_V4 = (
    "ALTER TABLE operators ADD COLUMN lang text CHECK (lang IN ('zh', 'en'))",
)

#: version -> its statements, in order (append a new version; never edit an applied one).
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = ((1, _V1), (2, _V2), (3, _V3), (4, _V4))
SCHEMA_VERSION = MIGRATIONS[-1][0]

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def current_version(conn: psycopg.Connection[Any]) -> int:
    """The schema version of the database (0: no hub schema at all)."""
    if conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,):
        return 0
    row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return 0 if row is None or row[0] is None else int(row[0])


def migrate(dsn: str) -> tuple[int, int]:
    """Apply the missing migrations (module contract); returns (version before, after)."""
    where = redact(dsn)
    conn = connect(dsn)
    try:
        with pg_errors(where), conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                         "version integer PRIMARY KEY, applied_at timestamptz NOT NULL "
                         "DEFAULT now())")
            before = current_version(conn)
            if before > SCHEMA_VERSION:
                raise StorageError(_newer(where, before))
            for version, statements in MIGRATIONS:
                if version <= before:
                    continue
                for statement in statements:
                    conn.execute(statement.encode())
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
    finally:
        conn.close()
    return before, SCHEMA_VERSION


def _newer(where: str, version: int) -> str:
    return (f"{where}: the hub schema is at version {version}, newer than this stationlink "
            f"knows ({SCHEMA_VERSION}); upgrade stationlink")


def check_schema(conn: psycopg.Connection[Any], dsn: str) -> None:
    """Refuse a database not at :data:`SCHEMA_VERSION` (module contract)."""
    where = redact(dsn)
    with pg_errors(where):
        version = current_version(conn)
        conn.rollback()
    if version > SCHEMA_VERSION:
        raise StorageError(_newer(where, version))
    if version < SCHEMA_VERSION:
        state = "has no hub schema" if version == 0 else f"has hub schema version {version}"
        raise StorageError(
            f"{where} {state}; this stationlink needs version {SCHEMA_VERSION}: run "
            f"'stationlink hub migrate --db {where}' first")


def partition_name(month: str) -> str:
    m = _MONTH.match(month)
    if m is None:
        raise StorageError(f"not a month (YYYY-MM): {month!r}")
    return f"records_{m.group(1)}_{m.group(2)}"


def next_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year + 1:04d}-01" if mon == 12 else f"{year:04d}-{mon + 1:02d}"


def missing_partitions(conn: psycopg.Connection[Any], months: Iterable[str]) -> list[str]:
    """The months of ``months`` that have no partition yet, sorted."""
    wanted = sorted(set(months))
    names = [partition_name(m) for m in wanted]
    rows = conn.execute("SELECT n FROM unnest(%s::text[]) AS n WHERE to_regclass(n) IS NULL",
                        (names,)).fetchall()
    absent = {r[0] for r in rows}
    return [m for m, n in zip(wanted, names, strict=True) if n in absent]


def ensure_partitions(conn: psycopg.Connection[Any], months: Sequence[str], where: str
                      ) -> None:
    """Create the partitions of ``months`` that are missing (module contract); ``conn`` is
    idle (no transaction open)."""
    with pg_errors(where):
        for month in sorted(set(months)):
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
                    if not missing_partitions(conn, [month]):
                        continue
                    conn.execute(sql.SQL(
                        "CREATE TABLE {} PARTITION OF records FOR VALUES FROM ({}) TO ({})"
                    ).format(sql.Identifier(partition_name(month)), sql.Literal(month),
                             sql.Literal(next_month(month))))
            except (errors.DuplicateTable, errors.UniqueViolation):
                pass  # another hub created it meanwhile (its catalog entry was not seen yet)
