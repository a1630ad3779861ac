"""The hub's embedded store: :class:`SqliteHubStore` (one SQLite file, WAL, FULL sync).

Contract: implements :class:`stationlink.hub.store.HubStore` (see there). One connection
shared by the server's worker threads behind a lock; every write is one
``BEGIN IMMEDIATE`` transaction; a batch's new records go in with one ``executemany``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ..buffer.db import connect, immediate, storage_errors, ts_parse, ts_required, ts_text
from ..buffer.fold import Anchors, effective_ts
from ..buffer.records import Batch, Entry, StoredRecord
from ..buffer.schema import RECORD_COLUMNS, record_row, row_record
from ..money import month_of
from .closing import DEFAULT_CLOSE_DAY, check_close_day, is_late
from .hub_schema import EXTRA_COLUMNS, create_hub_schema
from .store import (
    HubRecord,
    IngestResult,
    SequenceConflictError,
    SequenceGapError,
    StationOverview,
    TokenInfo,
)

SELECT = f"SELECT {', '.join(RECORD_COLUMNS)}, {', '.join(EXTRA_COLUMNS)} FROM records"  # noqa: S608
_ALL = RECORD_COLUMNS + EXTRA_COLUMNS
INSERT = f"INSERT INTO records ({', '.join(_ALL)}) VALUES ({', '.join('?' for _ in _ALL)})"  # noqa: S608


class SqliteHubStore:
    """SQLite implementation of the hub store interface."""

    def __init__(self, path: str | Path, *, close_day: int = DEFAULT_CLOSE_DAY,
                 create: bool = True) -> None:
        self.path = Path(path)
        self.close_day = check_close_day(close_day)
        self._where = str(self.path)
        db = connect(self.path, create=create, check_same_thread=False)
        self._conn = db.conn
        self._lock = threading.Lock()
        try:
            with storage_errors(self._where):
                create_hub_schema(db)
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
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
        sid = batch.station_id
        with self._lock, immediate(self._conn, self._where) as conn:
            row = conn.execute("SELECT hwm FROM stations WHERE station_id=?", (sid,)).fetchone()
            hwm = 0 if row is None else int(row[0])
            if batch.first_seq > hwm + 1:
                raise SequenceGapError(sid, batch.first_seq, hwm + 1)
            old = [r for r in batch.records if r.seq <= hwm]
            new = [r for r in batch.records if r.seq > hwm]
            if old:
                held = dict(conn.execute(
                    "SELECT seq, terminal_id || ' ' || ident FROM records "
                    "WHERE station_id=? AND seq BETWEEN ? AND ?",
                    (sid, old[0].seq, old[-1].seq),
                ).fetchall())
                for rec in old:
                    sent = f"{rec.terminal_id} {rec.ident}"
                    if held.get(rec.seq) != sent:
                        raise SequenceConflictError(sid, rec.seq, held.get(rec.seq, "?"), sent)
            rows, duplicates, late = self._prepare(conn, sid, new, now)
            if rows:
                conn.executemany(INSERT, rows)
            new_hwm = max(hwm, batch.last_seq)
            conn.execute(
                "INSERT INTO stations (station_id, hwm, last_contact) VALUES (?, ?, ?) "
                "ON CONFLICT(station_id) DO UPDATE SET hwm=excluded.hwm, "
                "last_contact=excluded.last_contact",
                (sid, new_hwm, ts_text(now)),
            )
        return IngestResult(new_hwm, len(new), len(old), duplicates, late)

    def _prepare(
        self, conn: sqlite3.Connection, sid: str, new: Sequence[StoredRecord], now: datetime
    ) -> tuple[list[tuple[Any, ...]], int, int]:
        """Rows to insert for new records: ts, affected month, late flag, duplicate link."""
        if not new:
            return [], 0, 0
        keys = {(r.terminal_id, r.ident) for r in new}
        keys |= {(r.terminal_id, "t:" + r.original_ref) for r in new if r.original_ref}
        held: dict[tuple[str, str], tuple[int, str]] = {}
        for terminal_id, ident in keys:
            found = conn.execute(
                "SELECT seq, affects_month FROM records WHERE station_id=? AND terminal_id=? "
                "AND ident=? AND duplicate_of IS NULL", (sid, terminal_id, ident),
            ).fetchone()
            if found is not None:
                held[(terminal_id, ident)] = (found[0], found[1])
        anchors: Anchors = {}
        for terminal_id, boot_id in {(r.terminal_id, r.boot_id) for r in new if r.boot_id}:
            a = conn.execute(
                "SELECT wall_time, uptime_ms FROM anchors WHERE station_id=? AND terminal_id=? "
                "AND boot_id=?", (sid, terminal_id, boot_id),
            ).fetchone()
            if a is not None:
                anchors[(sid, terminal_id, boot_id)] = (ts_required(a[0]), int(a[1]))
        known_anchors = set(anchors)
        rows: list[tuple[Any, ...]] = []
        duplicates = late_count = 0
        for rec in new:
            ts = effective_ts(rec, anchors)
            month = month_of(ts)
            if rec.entry is Entry.TXN and rec.kind == "reversal":
                original = held.get((rec.terminal_id, "t:" + rec.original_ref))
                if original is not None:
                    month = original[1]
            dup = held.get((rec.terminal_id, rec.ident))
            duplicate_of = dup[0] if dup is not None else None
            duplicates += duplicate_of is not None
            if duplicate_of is None:
                held[(rec.terminal_id, rec.ident)] = (rec.seq, month)
            late = is_late(month, now, self.close_day)
            late_count += late and duplicate_of is None
            rows.append((*record_row(rec), ts_text(now), ts_text(ts), month, int(late),
                         duplicate_of))
        conn.executemany(
            "INSERT OR IGNORE INTO anchors (station_id, terminal_id, boot_id, wall_time, "
            "uptime_ms) VALUES (?, ?, ?, ?, ?)",
            [(k[0], k[1], k[2], ts_text(v[0]), v[1]) for k, v in anchors.items()
             if k not in known_anchors],
        )
        return rows, duplicates, late_count

    # ----------------------------------------------------------------- status

    def touch(self, station_id: str, now: datetime) -> None:
        with self._lock, immediate(self._conn, self._where) as conn:
            conn.execute(
                "INSERT INTO stations (station_id, hwm, last_contact) VALUES (?, 0, ?) "
                "ON CONFLICT(station_id) DO UPDATE SET last_contact=excluded.last_contact",
                (station_id, ts_text(now)),
            )

    def add_device_status(
        self, station_id: str, snapshots: Sequence[dict[str, Any]], now: datetime
    ) -> int:
        with self._lock, immediate(self._conn, self._where) as conn:
            conn.executemany(
                "INSERT INTO device_status (station_id, terminal_id, received_at, snapshot) "
                "VALUES (?, ?, ?, ?)",
                [(station_id, s["terminal_id"], ts_text(now), json.dumps(s, sort_keys=True))
                 for s in snapshots],
            )
        return len(snapshots)

    def set_agent_status(self, station_id: str, status: dict[str, Any], now: datetime) -> None:
        with self._lock, immediate(self._conn, self._where) as conn:
            conn.execute(
                "INSERT INTO stations (station_id, hwm, agent_status, agent_status_at) "
                "VALUES (?, 0, ?, ?) ON CONFLICT(station_id) DO UPDATE SET "
                "agent_status=excluded.agent_status, agent_status_at=excluded.agent_status_at",
                (station_id, json.dumps(status, sort_keys=True), ts_text(now)),
            )

    def overview(self) -> list[StationOverview]:
        q = self._conn.execute
        with self._lock, storage_errors(self._where):
            stations = q(
                "SELECT station_id, hwm, last_contact, agent_status, agent_status_at "
                "FROM stations ORDER BY station_id"
            ).fetchall()
            counts = {r[0]: (r[1], r[2]) for r in q(
                "SELECT station_id, COUNT(*), SUM(late) FROM records "
                "WHERE duplicate_of IS NULL GROUP BY station_id")}
            devices: dict[str, list[dict[str, Any]]] = {}
            for sid, snap in q(
                "SELECT station_id, snapshot FROM device_status WHERE id IN "
                "(SELECT MAX(id) FROM device_status GROUP BY station_id, terminal_id) "
                "ORDER BY station_id, terminal_id"
            ):
                devices.setdefault(sid, []).append(json.loads(snap))
        return [
            StationOverview(
                station_id=s[0], high_water_mark=s[1], last_contact=ts_parse(s[2]),
                records=counts.get(s[0], (0, 0))[0], late=counts.get(s[0], (0, 0))[1] or 0,
                agent_status=None if s[3] is None else json.loads(s[3]),
                agent_status_at=ts_parse(s[4]), devices=devices.get(s[0], []),
            )
            for s in stations
        ]

    # ----------------------------------------------------------------- reads

    def records(self, month: str | None = None, *, include_late: bool = True
                ) -> Iterator[HubRecord]:
        sql = SELECT + " WHERE duplicate_of IS NULL"
        args: list[Any] = []
        if month is not None:
            sql += " AND affects_month=?"
            args.append(month)
        if not include_late:
            sql += " AND late=0"
        sql += " ORDER BY station_id, seq"
        with self._lock, storage_errors(self._where):
            rows = self._conn.execute(sql, args).fetchall()
        return (_hub_record(r) for r in rows)

    def late_records(self, month: str | None = None) -> list[HubRecord]:
        return [r for r in self.records(month) if r.late]

    # ----------------------------------------------------------------- tokens

    def add_token(self, token_id: str, station_id: str, token_hash: str, now: datetime) -> None:
        with self._lock, immediate(self._conn, self._where) as conn:
            conn.execute(
                "INSERT INTO tokens (token_id, station_id, token_hash, created_at) "
                "VALUES (?, ?, ?, ?)", (token_id, station_id, token_hash, ts_text(now)),
            )

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
        with self._lock, immediate(self._conn, self._where) as conn:
            cur = conn.execute(
                "UPDATE tokens SET revoked_at=? WHERE token_id=? AND revoked_at IS NULL",
                (ts_text(now), token_id),
            )
            return cur.rowcount == 1


def _hub_record(row: tuple[Any, ...]) -> HubRecord:
    n = len(RECORD_COLUMNS)
    return HubRecord(
        row_record(row[:n]), ts_required(row[n]), ts_required(row[n + 1]), row[n + 2],
        bool(row[n + 3]),
    )
