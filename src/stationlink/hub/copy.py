"""Moving a hub between stores: :func:`copy_hub` (``stationlink hub copy --from --to``).

Contract:
- ``source`` and ``target`` are ``--db`` values (:mod:`stationlink.hub.stores`): a SQLite
  file or a ``postgresql://`` URL, in either direction. The source must be a hub database
  (opened read-only, one read transaction: a consistent snapshot even while a hub serves
  it); a SQLite source at an older schema version is refused with the advice to run
  ``stationlink hub migrate`` on it first (read-only, it cannot be upgraded here); a SQLite
  target is created (or migrated) at this code's schema, a PostgreSQL target
  must already be at it (``stationlink hub migrate``, like ``hub serve``).
- Every table is moved with every column: :data:`TABLES` (stations with their high-water
  marks, records with received_at/ts/affects_month/late/duplicate_of, anchors, device
  status, tokens (hashes only), and the console's tables when the source has them:
  operators, sessions, audit, reference stations and branches, month closes and frozen
  statements). Identity ids are kept (and PostgreSQL's sequences set past them).
- A target holding any row in any of these tables is refused (:class:`StorageError`
  naming the table): a copy never merges into a live hub.
- Rows move in batches of ``batch`` (``COPY`` into PostgreSQL; month partitions created
  first), all in **one** target transaction. Before it commits, each table's row count and
  content checksum are computed again by reading the target back and compared with the
  source's (the checksum: the sum modulo 2**256 of each row's SHA-256 over a normal form —
  instants in CST ISO text, flags as 0/1, JSON canonical — so it is independent of row
  order and of each database's spelling). Any difference rolls everything back and raises
  :class:`StorageError` naming the table; nothing is half-copied.
- ``progress(table, done, total)`` is called after each batch (the CLI draws a bar on a TTY).
- Driver errors become :class:`StorageError` naming the database (never a password).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from ..buffer.db import iso_text
from ..errors import StorageError
from .hub_schema import HUB_COLUMNS, HUB_TIMES, SCHEMA_VERSION, check_hub_file
from .stores import describe, sqlite_path

BATCH = 5000
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    times: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()
    json: frozenset[str] = frozenset()
    identity: str | None = None  # a generated id column (PostgreSQL: GENERATED ALWAYS)
    optional: bool = False  # the console's tables: absent from an older SQLite hub


def _hub(name: str, **kw: Any) -> Table:
    return Table(name, HUB_COLUMNS[name], times=frozenset(HUB_TIMES[name]), **kw)


#: The tables, in an order that satisfies their references.
TABLES = (
    _hub("stations", json=frozenset({"agent_status"})),
    _hub("records", flags=frozenset({"late"})),
    _hub("anchors"),
    _hub("device_status", json=frozenset({"snapshot"}), identity="id"),
    _hub("tokens"),
    Table("operators", ("name", "role", "password_hash", "must_change_password", "created_at",
                        "password_changed_at", "disabled_at", "lang"),
          times=frozenset({"created_at", "password_changed_at", "disabled_at"}),
          flags=frozenset({"must_change_password"}), optional=True),
    Table("console_sessions", ("session_hash", "operator", "csrf_token", "created_at",
                               "expires_at", "last_seen", "address"),
          times=frozenset({"created_at", "expires_at", "last_seen"}), optional=True),
    Table("audit", ("id", "at", "actor", "action", "target", "before", "after", "address"),
          times=frozenset({"at"}), json=frozenset({"before", "after"}), identity="id",
          optional=True),
    Table("ref_stations", ("station_id", "branch_id", "area", "village_id",
                           "village_households", "phone"), optional=True),
    Table("ref_branches", ("branch_id", "area", "plan_effective_stations", "county"),
          optional=True),
    Table("month_closes", ("month", "version", "policy", "closed_by", "closed_at",
                           "reopened_by", "reopened_at"),
          times=frozenset({"closed_at", "reopened_at"}), optional=True),
    Table("statements", ("month", "version", "subject", "subject_id", "statement",
                         "closed_by", "closed_at"),
          times=frozenset({"closed_at"}), json=frozenset({"statement"}), optional=True),
)


@dataclass(frozen=True)
class TableCopy:
    table: str
    rows: int
    checksum: str  # hex; equal on both sides


def _normal(table: Table, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row in the normal form of the checksum (module contract)."""
    out: list[Any] = []
    for col, value in zip(table.columns, row, strict=True):
        if value is None:
            out.append(None)
        elif col in table.times:
            out.append(iso_text(value if isinstance(value, datetime)
                                else datetime.fromisoformat(value)))
        elif col in table.flags:
            out.append(int(bool(value)))
        elif col in table.json:
            doc = json.loads(value) if isinstance(value, str) else value
            out.append(json.dumps(doc, sort_keys=True, ensure_ascii=False,
                                  separators=(",", ":")))
        else:
            out.append(value)
    return tuple(out)


class Checksum:
    def __init__(self) -> None:
        self.rows = 0
        self._sum = 0

    def add(self, row: tuple[Any, ...]) -> None:
        text = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
        self._sum = (self._sum + int.from_bytes(hashlib.sha256(text.encode()).digest())) \
            % (1 << 256)
        self.rows += 1

    @property
    def hex(self) -> str:
        return f"{self._sum:064x}"


# ------------------------------------------------------------------ the two kinds of database


class _Side(Protocol):
    """One database of the copy: a SQLite file or a PostgreSQL database."""

    where: str

    def has(self, table: Table) -> bool: ...

    def count(self, table: Table) -> int: ...

    def rows(self, table: Table, batch: int) -> Iterator[list[tuple[Any, ...]]]: ...

    def write(self, table: Table, rows: list[tuple[Any, ...]]) -> None: ...

    def finish_table(self, table: Table) -> None: ...

    def months(self) -> list[str]: ...

    def prepare(self, months: list[str]) -> None: ...

    def commit(self) -> None: ...

    def close(self) -> None: ...


def _select(table: Table) -> str:
    return f"SELECT {', '.join(table.columns)} FROM {table.name}"  # noqa: S608 - our names


class _Sqlite:
    def __init__(self, path: Path, *, target: bool) -> None:
        self.where = str(path)
        try:
            if target:
                from .sqlite_store import SqliteHubStore

                SqliteHubStore(path, create=True).close()  # created or migrated
                self.conn = sqlite3.connect(path, isolation_level=None)
                self.conn.execute("BEGIN IMMEDIATE")
            else:
                check_hub_file(path)
                self.conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                            isolation_level=None)
                self.conn.execute("BEGIN")  # one snapshot for every table
                version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
                if version < SCHEMA_VERSION:
                    self.conn.close()
                    raise StorageError(
                        f"{path}: hub database at schema version {version}, older than this "
                        f"stationlink's {SCHEMA_VERSION}: run 'stationlink hub migrate --db "
                        f"{path}' first (it upgrades the file in place), then copy it")
        except sqlite3.Error as exc:
            raise StorageError(f"{path}: {exc}") from exc

    def _run(self, query: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(query, args)
        except sqlite3.Error as exc:
            raise StorageError(f"{self.where}: {exc}") from exc

    def has(self, table: Table) -> bool:
        return self._run("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                         (table.name,)).fetchone() is not None

    def count(self, table: Table) -> int:
        return int(self._run(f"SELECT count(*) FROM {table.name}").fetchone()[0])  # noqa: S608

    def rows(self, table: Table, batch: int) -> Iterator[list[tuple[Any, ...]]]:
        cur = self._run(_select(table))
        while chunk := cur.fetchmany(batch):
            yield chunk

    def write(self, table: Table, rows: list[tuple[Any, ...]]) -> None:
        ascii_json = table.name not in ("audit", "statements")  # as the SQLite stores do
        out = []
        for row in rows:
            values = []
            for col, value in zip(table.columns, row, strict=True):
                if value is not None and col in table.json:
                    value = json.dumps(value, sort_keys=True, ensure_ascii=ascii_json) \
                        if not isinstance(value, str) else value
                elif value is not None and col in table.flags:
                    value = int(bool(value))
                values.append(value)
            out.append(tuple(values))
        marks = ", ".join("?" * len(table.columns))
        try:
            self.conn.executemany(f"INSERT INTO {table.name} ({', '.join(table.columns)}) "  # noqa: S608
                                  f"VALUES ({marks})", out)
        except sqlite3.Error as exc:
            raise StorageError(f"{self.where}: table {table.name}: {exc}") from exc

    def finish_table(self, table: Table) -> None:
        pass  # INTEGER PRIMARY KEY: the next id follows the largest by itself

    def prepare(self, months: list[str]) -> None:
        pass

    def months(self) -> list[str]:
        return [r[0] for r in self._run("SELECT DISTINCT affects_month FROM records")]

    def commit(self) -> None:
        self._run("COMMIT")

    def close(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        self.conn.close()


class _Postgres:
    def __init__(self, dsn: str, *, target: bool) -> None:
        from .pg.connect import connect, pg_errors, redact
        from .pg.schema import check_schema

        self.dsn = dsn
        self.where = redact(dsn)
        self._errors = pg_errors
        self.conn = connect(dsn)
        try:
            check_schema(self.conn, dsn)
            with pg_errors(self.where):
                if not target:
                    self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, "
                                      "READ ONLY")
        except BaseException:
            self.conn.close()
            raise
        self._n = 0

    def has(self, table: Table) -> bool:
        with self._errors(self.where):
            row = self.conn.execute("SELECT to_regclass(%s)", (table.name,)).fetchone()
        return row is not None and row[0] is not None

    def count(self, table: Table) -> int:
        with self._errors(self.where):
            row = self.conn.execute(f"SELECT count(*) FROM {table.name}".encode()  # noqa: S608
                                    ).fetchone()
        return 0 if row is None else int(row[0])

    def rows(self, table: Table, batch: int) -> Iterator[list[tuple[Any, ...]]]:
        self._n += 1
        with self._errors(self.where), \
                self.conn.cursor(name=f"copy_{self._n}") as cur:
            cur.execute(_select(table).encode())
            while chunk := cur.fetchmany(batch):
                yield chunk

    def prepare(self, months: list[str]) -> None:
        from .pg.schema import ensure_partitions

        self.conn.rollback()  # partitions are made in their own short transactions
        ensure_partitions(self.conn, months, self.where)

    def write(self, table: Table, rows: list[tuple[Any, ...]]) -> None:
        out = []
        for row in rows:
            values = []
            for col, value in zip(table.columns, row, strict=True):
                if value is not None and col in table.json and not isinstance(value, str):
                    value = json.dumps(value)
                elif value is not None and col in table.flags:
                    value = bool(value)
                values.append(value)
            out.append(values)
        with self._errors(f"{self.where}: table {table.name}"), self.conn.cursor() as cur, \
                cur.copy(f"COPY {table.name} ({', '.join(table.columns)}) FROM STDIN".encode()
                         ) as copy:
            for values in out:
                copy.write_row(values)

    def finish_table(self, table: Table) -> None:
        if table.identity is None:
            return
        with self._errors(self.where):  # the next generated id follows the copied ones
            self.conn.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, %s), max({table.identity})) "  # noqa: S608
                f"FROM {table.name} HAVING max({table.identity}) IS NOT NULL".encode(),
                (table.name, table.identity))

    def months(self) -> list[str]:
        with self._errors(self.where):
            return [r[0] for r in self.conn.execute(
                "SELECT DISTINCT affects_month FROM records").fetchall()]

    def commit(self) -> None:
        with self._errors(self.where):
            self.conn.commit()

    def close(self) -> None:
        self.conn.close()


def _open(db: str | Path, *, target: bool) -> _Side:
    path = sqlite_path(db)
    if path is None:
        return _Postgres(str(db), target=target)
    if not target and not path.is_file():
        raise StorageError(f"{path}: no such hub database file")
    return _Sqlite(path, target=target)


def _checksum(side: _Side, table: Table, batch: int) -> Checksum:
    check = Checksum()
    for chunk in side.rows(table, batch):
        for row in chunk:
            check.add(_normal(table, row))
    return check


def copy_hub(source: str | Path, target: str | Path, *, batch: int = BATCH,
             progress: Progress | None = None) -> list[TableCopy]:
    """Copy every table of ``source`` into the empty ``target`` (module contract)."""
    src_file, dst_file = sqlite_path(source), sqlite_path(target)
    same = str(source) == str(target) if src_file is None or dst_file is None \
        else src_file.resolve() == dst_file.resolve()
    if same:
        raise StorageError(f"--from and --to name the same database: {describe(source)}")
    with closing(_open(source, target=False)) as src, closing(_open(target, target=True)) as dst:
        tables = [t for t in TABLES if src.has(t)]
        missing = [t.name for t in TABLES if t.optional is False and t not in tables]
        if missing:
            raise StorageError(f"{src.where}: not a hub database (no table {missing[0]})")
        for t in TABLES:
            if dst.has(t) and dst.count(t):
                raise StorageError(f"{dst.where}: the target is not empty (table {t.name} "
                                   "holds rows); hub copy only fills an empty hub")
        dst.prepare(src.months())
        done: list[TableCopy] = []
        for t in tables:
            total = src.count(t)
            check, copied = Checksum(), 0
            for chunk in src.rows(t, batch):
                dst.write(t, chunk)
                for row in chunk:
                    check.add(_normal(t, row))
                copied += len(chunk)
                if progress is not None:
                    progress(t.name, copied, total)
            dst.finish_table(t)
            again = _checksum(dst, t, batch)
            if (again.rows, again.hex) != (check.rows, check.hex) or check.rows != total:
                raise StorageError(
                    f"{dst.where}: table {t.name} differs after the copy ({again.rows} rows, "
                    f"checksum {again.hex[:16]}; source {check.rows} rows, "
                    f"checksum {check.hex[:16]}); nothing was copied")
            done.append(TableCopy(t.name, check.rows, check.hex))
        dst.commit()
    return done
