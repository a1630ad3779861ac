"""SQLite plumbing shared by the station buffer and the hub's SQLite store.

Contract:
- :func:`connect` opens (creating if asked) a SQLite file in WAL mode with
  ``synchronous=FULL``, ``foreign_keys=ON`` and a busy timeout, in autocommit mode so that
  every write happens inside an explicit :func:`immediate` transaction
  (``BEGIN IMMEDIATE`` ... ``COMMIT``; ``ROLLBACK`` on any error).
- Every ``sqlite3.Error`` leaving this module, or raised inside :func:`immediate` /
  :func:`storage_errors`, becomes :class:`~stationlink.errors.StorageError` naming the file.
- Timestamps are stored as ISO 8601 text with their offset (:func:`ts_text`, exactly
  ``isoformat()``; :func:`ts_parse`); :func:`iso_text` / :func:`iso_texts` are faster
  exact ``isoformat`` for fixed-offset zones.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType

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


def iso_text(ts: datetime) -> str:
    """Exactly ``ts.isoformat()``; about twice as fast for a fixed-offset ``timezone`` (the
    terminals' and the PC's), from a small cache of ``YYYY-MM-DDTHH:`` prefixes and offset
    suffixes keyed on the hour and the offset."""
    tz = ts.tzinfo
    if type(tz) is not timezone:
        return ts.isoformat()
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
    """``[ts.isoformat() for ts in stamps]`` exactly; several times faster for a run of
    whole-second times in one hour of one fixed-offset ``timezone`` (a journal page): such a
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
        if type(tz) is timezone:
            start = ts.replace(minute=0, second=0, microsecond=0)
            end = start + HOUR if start.year < 9999 else start  # no hour after 9999
            text = iso_text(start)
            head, tail = text[:14], text[19:]
        else:
            tz = out
    return out


def ts_text(ts: datetime | None) -> str | None:
    return None if ts is None else iso_text(ts)


def ts_parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def ts_required(text: str | None) -> datetime:
    """A NOT NULL timestamp column; a NULL means the file was damaged or edited by hand."""
    if text is None:
        raise StorageError("a required timestamp column is NULL")
    return datetime.fromisoformat(text)
