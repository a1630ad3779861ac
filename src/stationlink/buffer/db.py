"""SQLite plumbing shared by the station buffer and the hub's SQLite store.

Contract:
- :func:`connect` opens (creating if asked) a SQLite file in WAL mode with
  ``synchronous=FULL``, ``foreign_keys=ON`` and a busy timeout, in autocommit mode so that
  every write happens inside an explicit :func:`immediate` transaction
  (``BEGIN IMMEDIATE`` ... ``COMMIT``; ``ROLLBACK`` on any error).
- Every ``sqlite3.Error`` leaving this module, or raised inside :func:`immediate` /
  :func:`storage_errors`, becomes :class:`~stationlink.errors.StorageError` naming the file.
- Timestamps are stored as ISO 8601 text with their offset (:func:`ts_text`,
  :func:`ts_parse`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

import sqlite_utils

from ..errors import StorageError

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
)


def connect(
    path: str | Path, *, create: bool, check_same_thread: bool = True
) -> sqlite_utils.Database:
    """Open ``path`` with the module's pragmas; ``create=False`` refuses a missing file."""
    p = Path(path)
    if not create and not p.is_file():
        raise StorageError(f"{p}: no such database file")
    try:
        if create:
            p.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            str(p), isolation_level=None, check_same_thread=check_same_thread, timeout=10.0
        )
    except (sqlite3.Error, OSError) as exc:
        raise StorageError(f"{p}: cannot open database: {exc}") from exc
    try:
        for pragma in PRAGMAS:
            conn.execute(pragma)
        return sqlite_utils.Database(conn)
    except sqlite3.Error as exc:
        conn.close()
        raise StorageError(f"{p}: cannot set up database: {exc}") from exc


@contextmanager
def storage_errors(where: str) -> Iterator[None]:
    """Wrap ``sqlite3.Error`` raised inside as StorageError."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StorageError(f"{where}: {exc}") from exc


@contextmanager
def immediate(conn: sqlite3.Connection, where: str) -> Iterator[sqlite3.Connection]:
    """One ``BEGIN IMMEDIATE`` transaction; committed on normal exit, rolled back otherwise."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise StorageError(f"{where}: cannot begin transaction: {exc}") from exc
    try:
        yield conn
    except BaseException as exc:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise StorageError(f"{where}: {exc}") from exc
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise StorageError(f"{where}: commit failed: {exc}") from exc


def ts_text(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat()


def ts_parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def ts_required(text: str | None) -> datetime:
    """A NOT NULL timestamp column; a NULL means the file was damaged or edited by hand."""
    if text is None:
        raise StorageError("a required timestamp column is NULL")
    return datetime.fromisoformat(text)
