"""The hub's embedded store: :class:`SqliteHubStore` (one SQLite file, WAL, FULL sync).

Contract: implements :class:`stationlink.hub.store.HubStore` (see there). Two connections:
- every write (a batch, a status, a token) goes through a
  :class:`~stationlink.hub.group_commit.GroupCommitWriter`: one writer thread and connection,
  writes from concurrent requests share one ``BEGIN IMMEDIATE`` transaction and one fsync,
  each write in its own savepoint (a batch is stored whole or not at all) and answered only
  after the commit is durable;
- reads use a second connection behind a lock; WAL lets them run while the writer writes, and
  they see exactly what was committed (so an answered batch is always visible).
A batch's set-based ingest is :func:`stationlink.hub.ingest.ingest_batch`.
``create=False`` opens only an existing hub database. An existing file is first checked
read-only (:func:`~stationlink.hub.hub_schema.check_hub_file`; with ``create=True`` an empty
database passes too), so a file that is no hub database (a station buffer, any other file)
raises ``StorageError`` naming it and is never written; ``create=False`` never creates tables.
A database file the store creates is created readable by the owner only (0600 on POSIX;
SQLite gives its ``-wal``/``-shm`` files the database file's mode); an existing file keeps
its mode.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ..buffer.db import connect, read_only_media, storage_errors, ts_parse, ts_required, ts_text
from ..buffer.records import Batch
from ..errors import StorageError
from . import month_sql, store_rows
from .closing import DEFAULT_CLOSE_DAY, check_close_day
from .group_commit import GroupCommitWriter
from .hub_schema import check_hub_file, create_hub_schema
from .ingest import CONTENT_FIELDS, base_rows, ingest_batch
from .store import (
    CappedCount,
    Conflict,
    HubRecord,
    IngestResult,
    MonthTallies,
    StationOverview,
    TokenInfo,
)
from .store_rows import CONFLICT_COLUMNS, OVERVIEW_COUNTS

_DIFFERS = " OR ".join(f"d.{c} IS NOT h.{c}" for c in CONTENT_FIELDS)
CONFLICTS = (  # duplicates whose content differs from the record they duplicate
    f"SELECT {CONFLICT_COLUMNS} FROM records d "  # noqa: S608
    "JOIN records h ON h.station_id = d.station_id AND h.seq = d.duplicate_of "
    f"WHERE d.duplicate_of IS NOT NULL AND ({_DIFFERS})"
)


def create_owner_only(path: Path) -> None:
    """Create an empty ``path`` (and its directory) readable and writable by the owner only
    (0600 on POSIX; on Windows the file inherits its directory's access list)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # created meanwhile by someone else: its mode is theirs
    except OSError as exc:
        raise StorageError(f"{path}: cannot create the hub database: {exc}") from exc


class SqliteHubStore:
    """SQLite implementation of the hub store interface."""

    def __init__(self, path: str | Path, *, close_day: int = DEFAULT_CLOSE_DAY,
                 create: bool = True, read_only: bool | None = None) -> None:
        self.path = Path(path)
        self.close_day = check_close_day(close_day)
        self._where = str(self.path)
        if not create or (self.path.is_file() and self.path.stat().st_size > 0):
            # read-only first: a file that is no hub database is left untouched
            check_hub_file(self.path, allow_empty=create)
        # read_only (None: when the file or its directory cannot be written, e.g. read-only
        # media): reads work, every write raises StorageError saying the file is read-only
        if read_only is None:
            read_only = self.path.is_file() and read_only_media(self.path)
        if read_only and create:
            raise StorageError(f"{self.path}: the hub database is read-only (read-only media "
                               "or no write permission); it can be read (hub status, hub "
                               "export, rewards --hub) but not written")
        self.read_only = read_only
        if create and not self.path.exists():
            create_owner_only(self.path)  # SQLite gives -wal/-shm the same mode
        db = connect(self.path, create=create, check_same_thread=False, read_only=read_only)
        self._conn = db.conn
        self._lock = threading.Lock()
        try:
            if create:
                with storage_errors(self._where):
                    create_hub_schema(db)
            writer = connect(self.path, create=False, check_same_thread=False,
                             read_only=read_only).conn
        except BaseException:
            self._conn.close()
            raise
        self._writer = GroupCommitWriter(
            writer, self._where + (" (read-only media)" if read_only else ""))

    @property
    def writer(self) -> GroupCommitWriter:
        """The group-commit writer (its ``commits``/``writes`` counters show the grouping)."""
        return self._writer

    def close(self) -> None:
        self._writer.close()
        with self._lock:
            self._conn.close()

    # ----------------------------------------------------------------- ingest

    def high_water_mark(self, station_id: str) -> int:
        with self._lock, storage_errors(self._where):
            row = self._conn.execute(
                "SELECT hwm FROM stations WHERE station_id=?", (station_id,)
            ).fetchone()
        return 0 if row is None else int(row[0])

    def ingest(self, batch: Batch, now: datetime) -> IngestResult:
        rows = base_rows(batch)  # computed by the caller's thread, outside the writer
        close_day = self.close_day
        return self._writer.run(lambda conn: ingest_batch(conn, batch, now, close_day, rows))

    # ----------------------------------------------------------------- status

    def touch(self, station_id: str, now: datetime) -> None:
        self._writer.run(lambda conn: conn.execute(
            "INSERT INTO stations (station_id, hwm, last_contact) VALUES (?, 0, ?) "
            "ON CONFLICT(station_id) DO UPDATE SET last_contact=excluded.last_contact",
            (station_id, ts_text(now)),
        ))

    def add_device_status(
        self, station_id: str, snapshots: Sequence[dict[str, Any]], now: datetime
    ) -> int:
        rows = [(station_id, s["terminal_id"], ts_text(now), json.dumps(s, sort_keys=True))
                for s in snapshots]
        self._writer.run(lambda conn: conn.executemany(
            "INSERT INTO device_status (station_id, terminal_id, received_at, snapshot) "
            "VALUES (?, ?, ?, ?)", rows,
        ))
        return len(snapshots)

    def set_agent_status(self, station_id: str, status: dict[str, Any], now: datetime) -> None:
        args = (station_id, json.dumps(status, sort_keys=True), ts_text(now))
        self._writer.run(lambda conn: conn.execute(
            "INSERT INTO stations (station_id, hwm, agent_status, agent_status_at) "
            "VALUES (?, 0, ?, ?) ON CONFLICT(station_id) DO UPDATE SET "
            "agent_status=excluded.agent_status, agent_status_at=excluded.agent_status_at",
            args,
        ))

    def overview(self) -> list[StationOverview]:
        q = self._conn.execute
        with self._lock, storage_errors(self._where):
            stations = q(
                "SELECT station_id, hwm, last_contact, agent_status, agent_status_at "
                "FROM stations ORDER BY station_id"
            ).fetchall()
            counts = q(OVERVIEW_COUNTS).fetchall()
            conflict_stations = [r[0] for r in self._conflict_rows(None)]
            devices = q(
                "SELECT station_id, snapshot FROM device_status WHERE id IN "
                "(SELECT MAX(id) FROM device_status GROUP BY station_id, terminal_id) "
                "ORDER BY station_id, terminal_id"
            ).fetchall()
        return store_rows.overviews(stations, counts, conflict_stations, devices, json.loads)

    # ----------------------------------------------------------------- reads

    def records(self, month: str | None = None, *, include_late: bool = True
                ) -> Iterator[HubRecord]:
        sql, args = store_rows.records_query(month, include_late, "?")
        with self._lock, storage_errors(self._where):
            rows = self._conn.execute(sql, args).fetchall()
        return (store_rows.hub_record(r) for r in rows)

    def late_records(self, month: str | None = None) -> list[HubRecord]:
        return [r for r in self.records(month) if r.late]

    def month_tallies(self, months: Sequence[str], *, include_late: bool,
                      capped: Sequence[CappedCount]) -> MonthTallies:
        """The months' reward tallies computed in SQL (:mod:`stationlink.hub.month_sql`)."""
        with self._lock, storage_errors(self._where):
            return month_sql.month_tallies(self._conn, month_sql.SQLITE, months,
                                           include_late=include_late, capped=capped)

    def _conflict_rows(self, station_id: str | None) -> list[tuple[Any, ...]]:
        """The rows (:data:`~stationlink.hub.store_rows.CONFLICT_COLUMNS`) of every duplicate
        whose content differs; the caller holds the read lock."""
        sql, args = store_rows.conflicts_query(CONFLICTS, station_id, "?")
        return self._conn.execute(sql, args).fetchall()

    def conflicts(self, station_id: str | None = None) -> list[Conflict]:
        with self._lock, storage_errors(self._where):
            rows = self._conflict_rows(station_id)
        return store_rows.conflicts(rows)

    # ----------------------------------------------------------------- tokens

    def add_token(self, token_id: str, station_id: str, token_hash: str, now: datetime) -> None:
        args = (token_id, station_id, token_hash, ts_text(now))
        self._writer.run(lambda conn: conn.execute(
            "INSERT INTO tokens (token_id, station_id, token_hash, created_at) "
            "VALUES (?, ?, ?, ?)", args,
        ))

    def station_for_token(self, token_hash: str) -> str | None:
        with self._lock, storage_errors(self._where):
            row = self._conn.execute(
                "SELECT station_id FROM tokens WHERE token_hash=? AND revoked_at IS NULL",
                (token_hash,),
            ).fetchone()
        return None if row is None else str(row[0])

    def tokens(self) -> list[TokenInfo]:
        with self._lock, storage_errors(self._where):
            rows = self._conn.execute(
                "SELECT token_id, station_id, created_at, revoked_at FROM tokens "
                "ORDER BY station_id, created_at"
            ).fetchall()
        out = []
        for r in rows:
            out.append(TokenInfo(r[0], r[1], ts_required(r[2]), ts_parse(r[3])))
        return out

    def revoke_token(self, token_id: str, now: datetime) -> bool:
        args = (ts_text(now), token_id)
        return self._writer.run(lambda conn: conn.execute(
            "UPDATE tokens SET revoked_at=? WHERE token_id=? AND revoked_at IS NULL", args,
        ).rowcount == 1)

