"""Schema versions of stationlink's SQLite files (the station buffer and the hub).

Contract:
- A file's schema version is ``PRAGMA user_version``. Version 0 is a file written before
  versions existed (or a new, empty file); :data:`Migration` lists, in order, what brings a
  file from one version to the next.
- :func:`inspect_file` opens an existing file **read-only** (writes nothing, not even a
  journal-mode change; works on read-only media) and returns its version and its tables'
  columns. :func:`check_file` raises :class:`~stationlink.errors.StorageError` naming the
  file when its version is newer than the code supports (``... is version N; this
  stationlink supports up to M``), or when it is not a database of the expected kind
  (a table or column missing: ``not a stationlink <kind> database (...)``); the file is left
  byte-identical either way.
- :func:`migrate` runs every migration after the file's version in one ``BEGIN IMMEDIATE``
  transaction, setting ``user_version`` in the same transaction: a file is at the old
  version or the new one, never half-way. It re-checks the version inside the transaction
  (another process may have migrated it meanwhile) and refuses a newer one; a file without
  any table gets every migration (a new file, whatever its ``user_version``).
- :func:`table_migrations` is the history buffer and hub share: 1 creates the tables (a
  file from before versions keeps its tables), 2 rewrites every timestamp not in ``+08:00``
  as the same instant in CST (:func:`times_to_cst`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlite_utils

from ..errors import StorageError
from .db import connect_read_only, immediate, ts_text


@dataclass(frozen=True)
class Migration:
    """Brings a file from ``version - 1`` to ``version``; ``apply`` runs inside the
    migration's transaction and must not commit."""

    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]


@dataclass(frozen=True)
class FileInfo:
    version: int
    columns: dict[str, set[str]]  # table -> its columns (empty set: no such table)


def latest(migrations: Sequence[Migration]) -> int:
    """The version the code writes (the last migration's)."""
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migrations must be numbered 1, 2, ... in order, not {versions}")
    return len(versions)


def inspect_file(path: Path, tables: Sequence[str], kind: str) -> FileInfo:
    """Version and columns of an existing file, read without writing (module contract)."""
    try:
        with closing(connect_read_only(path)) as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            columns = {t: {row[1] for row in conn.execute(f"PRAGMA table_info({t})")}
                       for t in tables}
    except sqlite3.Error as exc:
        raise StorageError(f"{path}: not a stationlink {kind} database ({exc})") from exc
    return FileInfo(version, columns)


def refuse_newer(path: Path, version: int, supported: int, kind: str) -> None:
    if version > supported:
        raise StorageError(
            f"{path}: this {kind} database is schema version {version}; this stationlink "
            f"supports up to version {supported} (upgrade stationlink to open it); "
            "left untouched"
        )


def check_file(
    path: Path,
    required: Mapping[str, Sequence[str]],
    supported: int,
    kind: str,
    *,
    allow_empty: bool = False,
) -> FileInfo:
    """Refuse a file that lacks a ``required`` table or column (another kind of file, judged
    first: a hub's version says nothing about a buffer) or is newer than ``supported``
    (module contract); ``allow_empty``: a file without any table passes."""
    info = inspect_file(path, list(required), kind)
    if allow_empty and not any(info.columns.values()):
        refuse_newer(path, info.version, supported, kind)
        return info
    problems = []
    for table, cols in required.items():
        found = info.columns[table]
        if not found:
            problems.append(f"no {table} table")
            continue
        missing = [c for c in cols if c not in found]
        if missing:
            problems.append(f"{table} without {', '.join(missing)}")
    if problems:  # judged before the version: another kind of file (a hub) has one too
        raise StorageError(f"{path}: not a stationlink {kind} database "
                           f"({'; '.join(problems)}); left untouched")
    refuse_newer(path, info.version, supported, kind)
    return info


def migrate(
    conn: sqlite3.Connection, where: str, migrations: Sequence[Migration], kind: str
) -> int:
    """Bring the open file up to date (module contract); returns the version it is at."""
    target = latest(migrations)
    try:
        current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error as exc:
        raise StorageError(f"{where}: cannot read the schema version: {exc}") from exc
    refuse_newer(Path(where), current, target, kind)
    if current == target:
        return current
    with immediate(conn, where) as tx:
        current = int(tx.execute("PRAGMA user_version").fetchone()[0])
        refuse_newer(Path(where), current, target, kind)
        if tx.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0:
            current = 0  # no table at all: a new file, whatever its user_version says
        for m in migrations:
            if m.version > current:
                m.apply(tx)
        tx.execute(f"PRAGMA user_version = {target:d}")
    return target


def _cst_text(text: str | None) -> str | None:
    return None if text is None else ts_text(datetime.fromisoformat(text))


def times_to_cst(conn: sqlite3.Connection, columns: Mapping[str, Sequence[str]]) -> None:
    """Rewrite every stored timestamp not already in ``+08:00`` as the same instant in CST."""
    conn.create_function("stationlink_cst", 1, _cst_text, deterministic=True)
    for table, cols in columns.items():
        for col in cols:
            conn.execute(
                f"UPDATE {table} SET {col} = stationlink_cst({col}) "  # noqa: S608
                f"WHERE {col} IS NOT NULL AND {col} NOT LIKE '%+08:00'"
            )


def table_migrations(
    kind: str,
    create_tables: Callable[[sqlite_utils.Database], None],
    times: Mapping[str, Sequence[str]],
) -> tuple[Migration, ...]:
    """The migrations of a ``kind`` of file (module contract): ``create_tables`` makes its
    tables (``if_not_exists``), ``times`` names its timestamp columns, table by table."""

    def tables(conn: sqlite3.Connection) -> None:
        create_tables(sqlite_utils.Database(conn, recursive_triggers=False,
                                            execute_plugins=False))

    def cst(conn: sqlite3.Connection) -> None:
        times_to_cst(conn, times)

    return (
        Migration(1, f"{kind} tables (a file from before versions keeps its tables)", tables),
        Migration(2, "every timestamp in CST (+08:00)", cst),
    )
