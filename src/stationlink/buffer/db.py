"""SQLite plumbing shared by the station buffer and the hub's SQLite store.

Contract:
- :func:`connect` opens (creating if asked) a SQLite file in WAL mode with
  ``synchronous=FULL``, ``foreign_keys=ON`` and a busy timeout, in autocommit mode so that
  every write happens inside an explicit :func:`immediate` transaction
  (``BEGIN IMMEDIATE`` ... ``COMMIT``; ``ROLLBACK`` on any error).
- Every ``sqlite3.Error`` leaving this module, or raised inside :func:`immediate` /
  :func:`storage_errors`, becomes :class:`~stationlink.errors.StorageError` naming the file.
- :func:`connect` with ``read_only=True`` (or :func:`connect_read_only`) opens without
  writing anything, also on read-only media: ``mode=ro``, and when that cannot open a WAL
  file because its ``-shm`` cannot be created, ``immutable=1`` (only when no ``-wal`` holds
  un-checkpointed changes; otherwise a StorageError says to copy the file somewhere
  writable). :func:`read_only_media` tells whether a file can be written at all (its
  directory too); it respects read-only mounts and immutable files even for root.
- ``private=True`` creates a missing file readable and writable by its owner only (0600);
  SQLite gives the ``-wal`` and ``-shm`` files the database file's permissions.
- Every timestamp is stored as ISO 8601 text in China Standard Time, ``+08:00``
  (:func:`ts_text`: ``ts.astimezone(CST).isoformat()``; :func:`ts_parse`): one offset in
  every column, so the text sorts in time order and reads as the station's local time; the
  instant is exactly the one given. :func:`iso_text` / :func:`iso_texts` are the fast forms.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType

import sqlite_utils

from ..errors import StorageError
from ..money import CST

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
)


def connect(
    path: str | Path,
    *,
    create: bool,
    check_same_thread: bool = True,
    read_only: bool = False,
    private: bool = False,
) -> sqlite_utils.Database:
    """Open ``path`` with the module's pragmas; ``create=False`` refuses a missing file;
    ``read_only``: open without writing (module contract); ``private``: a new file is 0600."""
    p = Path(path)
    if (read_only or not create) and not p.is_file():
        raise StorageError(f"{p}: no such database file")
    if read_only:
        try:
            conn = connect_read_only(p, check_same_thread=check_same_thread)
            conn.execute("PRAGMA busy_timeout=10000")
        except sqlite3.Error as exc:
            raise StorageError(f"{p}: cannot open database read-only: {exc}") from exc
        return sqlite_utils.Database(conn)
    try:
        if create:
            p.parent.mkdir(parents=True, exist_ok=True)
            if private and not p.exists():
                os.close(os.open(p, os.O_WRONLY | os.O_CREAT, 0o600))
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


def read_only_media(path: str | Path) -> bool:
    """True when ``path`` (an existing file) or its directory cannot be written: read-only
    mount, immutable attribute, or permissions (``access(2)``, which root obeys for the
    first two)."""
    p = Path(path).resolve()
    return not (os.access(p, os.W_OK) and os.access(p.parent, os.W_OK))


def connect_read_only(path: str | Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """A connection that never writes ``path`` (module contract). Raises ``sqlite3.Error``
    (callers name the file) or StorageError for a WAL that cannot be read on read-only media."""
    p = Path(path).resolve()
    uri = p.as_uri()
    try:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=check_same_thread)
    except sqlite3.OperationalError:
        if not read_only_media(p):
            raise
    else:
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            conn.close()
            if not read_only_media(p):
                raise
    wal = p.with_name(p.name + "-wal")
    if wal.is_file() and wal.stat().st_size > 0:
        raise StorageError(
            f"{p}: on read-only media with un-checkpointed changes in {wal.name}; copy "
            "the file and its -wal and -shm files somewhere writable and open the copy"
        )
    # a WAL file on read-only media whose -shm cannot be created: nothing can change it
    conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None,
                           check_same_thread=check_same_thread)
    conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    return conn


@contextmanager
def storage_errors(where: str) -> Iterator[None]:
    """Wrap ``sqlite3.Error`` raised inside as StorageError."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StorageError(f"{where}: {exc}") from exc


class immediate:  # a class, not @contextmanager: it is on every write's path
    """One ``BEGIN IMMEDIATE`` transaction; committed on normal exit, rolled back otherwise::

        with immediate(conn, where) as conn:
            ...
    """

    __slots__ = ("_conn", "_where")

    def __init__(self, conn: sqlite3.Connection, where: str) -> None:
        self._conn = conn
        self._where = where

    def __enter__(self) -> sqlite3.Connection:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StorageError(f"{self._where}: cannot begin transaction: {exc}") from exc
        return self._conn

    def __exit__(
        self, t: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn = self._conn
        if exc is not None:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StorageError(f"{self._where}: {exc}") from exc
            return  # the exception propagates
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise StorageError(f"{self._where}: commit failed: {err}") from err


MINSEC_TEXT = tuple(f"{m:02d}:{s:02d}" for m in range(60) for s in range(60))
HOUR_TEXT: dict[tuple[int, int, int, int, timezone], tuple[str, str]] = {}
HOUR_TEXT_MAX = 4096


CST_OFFSET = timedelta(hours=8)


def _cst(ts: datetime) -> datetime:
    """``ts`` in CST; kept as given at the ends of the calendar (year 1 / 9999), where the
    same instant has no CST spelling."""
    try:
        return ts.astimezone(CST)
    except OverflowError:
        return ts


def iso_text(ts: datetime) -> str:
    """Exactly ``ts.astimezone(CST).isoformat()`` for an aware ``ts`` (a naive one: its
    ``isoformat()``); about twice as fast for a ``+08:00`` ``timezone`` (the terminals' and
    the PC's), from a small cache of ``YYYY-MM-DDTHH:`` prefixes and offset suffixes keyed on
    the hour and the offset."""
    tz = ts.tzinfo
    if tz is not CST:
        if type(tz) is not timezone or tz.utcoffset(None) != CST_OFFSET:
            if tz is None or ts.utcoffset() is None:
                return ts.isoformat()
            ts = _cst(ts)
            if ts.tzinfo is not CST:  # no CST spelling: as given, never cached
                return ts.isoformat()
            tz = CST
    key = (ts.year, ts.month, ts.day, ts.hour, tz)
    parts = HOUR_TEXT.get(key)
    if parts is None:
        text = ts.replace(minute=0, second=0, microsecond=0).isoformat()
        if len(HOUR_TEXT) >= HOUR_TEXT_MAX:
            HOUR_TEXT.clear()
        parts = HOUR_TEXT[key] = (text[:14], text[19:])
    us = ts.microsecond
    if us:
        return f"{parts[0]}{MINSEC_TEXT[ts.minute * 60 + ts.second]}.{us:06d}{parts[1]}"
    return parts[0] + MINSEC_TEXT[ts.minute * 60 + ts.second] + parts[1]


HOUR = timedelta(hours=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_texts(stamps: Iterable[datetime]) -> list[str]:
    """``[iso_text(ts) for ts in stamps]`` exactly; several times faster for a run of
    whole-second times in one hour of one ``+08:00`` ``timezone`` (a journal page): such a
    time is ``YYYY-MM-DDTHH:`` + ``MM:SS`` (from its distance to the hour) + the offset, the
    two ends taken from the hour's own ``isoformat``. Anything else goes through
    :func:`iso_text` and starts a new run."""
    out: list[str] = []
    append = out.append
    tz: object = out  # matches no tzinfo: the first time starts a run
    start = end = EPOCH
    head = tail = ""
    minsec = MINSEC_TEXT
    for ts in stamps:
        if ts.tzinfo is tz and not ts.microsecond and start <= ts < end:
            append(f"{head}{minsec[(ts - start).seconds]}{tail}")
            continue
        append(iso_text(ts))
        tz = ts.tzinfo
        if type(tz) is timezone and (tz is CST or tz.utcoffset(None) == CST_OFFSET):
            start = ts.replace(minute=0, second=0, microsecond=0)
            end = start + HOUR if start.year < 9999 else start  # no hour after 9999
            text = iso_text(start)
            head, tail = text[:14], text[19:]
        else:
            tz = out
    return out


def ts_text(ts: datetime | None) -> str | None:
    """The stored text of a timestamp: ISO 8601 in CST (module contract)."""
    return None if ts is None else iso_text(ts)


def ts_parse(text: str | None) -> datetime | None:
    """A stored timestamp, in CST (a file from before schema version 2 may hold other
    offsets: the same instant comes back in CST)."""
    if text is None:
        return None
    ts = datetime.fromisoformat(text)
    if text.endswith("+08:00") or ts.tzinfo is None:
        return ts
    return _cst(ts)


def ts_required(text: str | None) -> datetime:
    """A NOT NULL timestamp column; a NULL means the file was damaged or edited by hand."""
    if text is None:
        raise StorageError("a required timestamp column is NULL")
    ts = datetime.fromisoformat(text)
    if text.endswith("+08:00") or ts.tzinfo is None:
        return ts
    return _cst(ts)
