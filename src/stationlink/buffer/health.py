"""Buffer side tables: device status snapshots, settlement mismatches, quarantine, stats.

Contract (methods mixed into :class:`stationlink.buffer.Buffer`):
- The buffer takes its own input types, not protocol messages: a :class:`DeviceReading`
  (what a terminal reported about itself) and :class:`TerminalTotals` of
  :class:`TotalsLine` s (a terminal's settlement totals since its last settlement).
- Device status snapshots (``record_device_status``) are appended, never edited;
  ``unsynced_device_status`` / ``mark_device_status_synced`` let the agent upload them.
- ``check_settlement`` compares a terminal's settlement totals with the buffer's approved,
  not-reversed transactions of that terminal since the totals' ``since`` time, and stores
  one row per (kind, product) that differs.
- ``quarantine`` records a batch the hub rejected for good, with the hub's reason; the
  records stay in the buffer and ``unsynced`` stops before them until ``release_quarantine``.
- ``stats`` counts everything, including unresolved unknowns and the backlog.
- Read-only helpers for the station's health screen (:mod:`stationlink.agent.health`):
  ``last_captured`` (each terminal's newest record), ``cursor_times`` (each terminal's
  journal cursor and when it was stored) and ``latest_settlement_mismatches`` (the lines of
  each terminal's latest differing settlement check). They never write. ``consistent_read``
  makes every query inside it see one snapshot of the file (a read transaction; under WAL
  the agent goes on writing meanwhile).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..money import yuan_to_fen
from .db import immediate, storage_errors, ts_required, ts_text
from .fold import fold
from .records import Batch, StoredRecord, require_aware
from .schema import RECORD_COLUMNS, SELECT_RECORDS, row_record

SNAPSHOT_SQL = (
    "SELECT id, terminal_id, wall_time, paper_ok, error_counters, signal_dbm, "
    "uptime_ms, boot_id, terminal_time, journal_unacked FROM device_status "
)
UNRESOLVED_SQL = (
    "FROM records u WHERE u.entry='unknown' AND NOT EXISTS (SELECT 1 FROM records r "
    "WHERE r.terminal_id=u.terminal_id AND r.client_ref=u.client_ref AND r.entry IN "
    "('txn','void'))"
)


@dataclass(frozen=True)
class DeviceReading:
    """A terminal's report about itself, as the buffer stores it."""

    paper_ok: bool
    error_counters: Mapping[str, int]
    signal_dbm: int
    uptime_ms: int
    boot_id: int
    terminal_time: datetime  # aware
    journal_unacked: int


@dataclass(frozen=True)
class TotalsLine:
    """One line of a terminal's settlement totals: a kind and product, count and sum."""

    kind: str  # a transaction kind (``bill_payment``, ``withdrawal``, ...)
    product: str
    count: int
    amount_fen: int


@dataclass(frozen=True)
class TerminalTotals:
    """A terminal's settlement totals since ``since`` (its time of the last settlement)."""

    since: datetime  # aware
    lines: tuple[TotalsLine, ...]


@dataclass(frozen=True, kw_only=True)
class DeviceSnapshot(DeviceReading):
    """A stored :class:`DeviceReading`: its row ``id``, the terminal that reported it and the
    station PC's ``wall_time`` when it was stored (keyword arguments after the reading's)."""

    id: int
    terminal_id: str
    wall_time: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "terminal_id": self.terminal_id,
            "wall_time": self.wall_time.isoformat(),
            "paper_ok": self.paper_ok,
            "error_counters": self.error_counters,
            "signal_dbm": self.signal_dbm,
            "uptime_ms": self.uptime_ms,
            "boot_id": self.boot_id,
            "terminal_time": self.terminal_time.isoformat(),
            "journal_unacked": self.journal_unacked,
        }


@dataclass(frozen=True)
class Mismatch:
    kind: str
    product: str
    terminal_count: int
    terminal_amount_fen: int
    buffer_count: int
    buffer_amount_fen: int


@dataclass(frozen=True)
class Captured:
    """The newest record a terminal produced (live or read from its journal)."""

    seq: int
    terminal_id: str
    wall_time: datetime


@dataclass(frozen=True)
class MismatchCheck:
    """The differing lines of one settlement check of one terminal."""

    terminal_id: str
    wall_time: datetime
    lines: tuple[Mismatch, ...]


@dataclass(frozen=True)
class Quarantined:
    """An open quarantine entry: the batch ``first_seq``..``last_seq`` the hub refused."""

    id: int
    first_seq: int
    last_seq: int
    http_status: int
    reason: str
    wall_time: datetime

    @property
    def records(self) -> int:
        return self.last_seq - self.first_seq + 1


class HealthMixin:
    _conn: sqlite3.Connection
    _where: str
    station_id: str

    # -------------------------------------------------------------- device status

    def record_device_status(
        self, terminal_id: str, status: DeviceReading, wall_time: datetime
    ) -> int:
        """Append a device status snapshot; returns its id."""
        counters = json.dumps(dict(status.error_counters), sort_keys=True)
        with immediate(self._conn, self._where) as conn:
            cur = conn.execute(
                "INSERT INTO device_status (terminal_id, wall_time, paper_ok, error_counters, "
                "signal_dbm, uptime_ms, boot_id, terminal_time, journal_unacked, synced) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (terminal_id, ts_text(require_aware(wall_time, "wall_time")),
                 int(status.paper_ok), counters, status.signal_dbm, status.uptime_ms,
                 status.boot_id, ts_text(require_aware(status.terminal_time, "terminal_time")),
                 status.journal_unacked),
            )
            return int(cur.lastrowid or 0)

    def _snapshots(self, where: str, args: tuple[Any, ...]) -> list[DeviceSnapshot]:
        sql = SNAPSHOT_SQL + where  # ``where`` is always a literal from this module
        with storage_errors(self._where):
            rows = self._conn.execute(sql, args).fetchall()
        return [
            DeviceSnapshot(bool(r[3]), json.loads(r[4]), r[5], r[6], r[7], _ts(r[8]), r[9],
                           id=r[0], terminal_id=r[1], wall_time=_ts(r[2]))
            for r in rows
        ]

    def unsynced_device_status(self, limit: int = 100) -> list[DeviceSnapshot]:
        return self._snapshots("WHERE synced=0 ORDER BY id LIMIT ?", (limit,))

    def latest_device_status(self) -> list[DeviceSnapshot]:
        """The newest snapshot of each terminal."""
        return self._snapshots(
            "WHERE id IN (SELECT MAX(id) FROM device_status GROUP BY terminal_id) "
            "ORDER BY terminal_id", ()
        )

    def mark_device_status_synced(self, ids: list[int]) -> None:
        with immediate(self._conn, self._where) as conn:
            conn.executemany("UPDATE device_status SET synced=1 WHERE id=?", [(i,) for i in ids])

    # -------------------------------------------------------------- settlement

    def check_settlement(
        self, terminal_id: str, totals: TerminalTotals, wall_time: datetime
    ) -> list[Mismatch]:
        """Compare terminal totals with the buffer; store and return every differing line."""
        since = require_aware(totals.since, "since")
        ours: dict[tuple[str, str], list[int]] = {}
        with storage_errors(self._where):
            rows = self._conn.execute(
                SELECT_RECORDS + " WHERE terminal_id=? ORDER BY seq", (terminal_id,)
            ).fetchall()
        recs = [row_record(r) for r in rows]
        own_clock = {(r.station_id, r.seq): r.terminal_time or r.wall_time for r in recs}
        for row in fold(recs, times=own_clock).rows:
            if row.status != "approved" or row.ts < since:
                continue
            fen = yuan_to_fen(row.amount)
            acc = ours.setdefault((row.kind, row.product), [0, 0])
            acc[0] += 1
            acc[1] += fen
        theirs = {(str(ln.kind), ln.product): (ln.count, ln.amount_fen) for ln in totals.lines}
        out: list[Mismatch] = []
        for key in sorted(set(ours) | set(theirs)):
            t_count, t_fen = theirs.get(key, (0, 0))
            b_count, b_fen = ours.get(key, [0, 0])
            if (t_count, t_fen) != (b_count, b_fen):
                out.append(Mismatch(key[0], key[1], t_count, t_fen, b_count, b_fen))
        if out:
            with immediate(self._conn, self._where) as conn:
                conn.executemany(
                    "INSERT INTO settlement_mismatches (terminal_id, wall_time, since, kind, "
                    "product, terminal_count, terminal_amount_fen, buffer_count, "
                    "buffer_amount_fen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(terminal_id, ts_text(require_aware(wall_time, "wall_time")),
                      ts_text(since), m.kind, m.product, m.terminal_count,
                      m.terminal_amount_fen, m.buffer_count, m.buffer_amount_fen) for m in out],
                )
        return out

    # -------------------------------------------------------------- quarantine

    def quarantine(self, batch: Batch, reason: str, http_status: int, wall_time: datetime) -> int:
        """Keep a batch the hub rejected for good, with its reason; returns the entry id."""
        with immediate(self._conn, self._where) as conn:
            cur = conn.execute(
                "INSERT INTO quarantine (first_seq, last_seq, http_status, reason, wall_time) "
                "VALUES (?, ?, ?, ?, ?)",
                (batch.first_seq, batch.last_seq, http_status, reason,
                 ts_text(require_aware(wall_time, "wall_time"))),
            )
            return int(cur.lastrowid or 0)

    def open_quarantine(self) -> list[Quarantined]:
        with storage_errors(self._where):
            rows = self._conn.execute(
                "SELECT id, first_seq, last_seq, http_status, reason, wall_time FROM quarantine "
                "WHERE released_at IS NULL ORDER BY first_seq"
            ).fetchall()
        return [Quarantined(r[0], r[1], r[2], r[3] or 0, r[4], _ts(r[5])) for r in rows]

    def quarantine_block(self) -> int | None:
        """The first seq that an open quarantine holds back, if any."""
        entries = self.open_quarantine()
        return entries[0].first_seq if entries else None

    def release_quarantine(self, entry_id: int, wall_time: datetime) -> bool:
        """Let a quarantined batch be uploaded again (after the cause was fixed)."""
        with immediate(self._conn, self._where) as conn:
            cur = conn.execute(
                "UPDATE quarantine SET released_at=? WHERE id=? AND released_at IS NULL",
                (ts_text(require_aware(wall_time, "wall_time")), entry_id),
            )
            return cur.rowcount == 1

    # -------------------------------------------------------------- health (read-only)

    @contextmanager
    def consistent_read(self) -> Iterator[None]:
        """Every query inside sees the same snapshot (module contract); only reads inside."""
        if self._conn.in_transaction:  # already inside one: that one is the snapshot
            yield
            return
        with storage_errors(self._where):
            self._conn.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            with storage_errors(self._where):
                self._conn.execute("COMMIT")  # ends the read; nothing was written

    def last_captured(self) -> dict[str, Captured]:
        """Each terminal's newest record from the terminal itself (live or journal), by id."""
        with storage_errors(self._where):
            rows = self._conn.execute(
                "SELECT seq, terminal_id, wall_time FROM records WHERE seq IN (SELECT MAX(seq) "
                "FROM records WHERE source IN ('live', 'journal') GROUP BY terminal_id) "
                "ORDER BY terminal_id"
            ).fetchall()
        return {r[1]: Captured(r[0], r[1], _ts(r[2])) for r in rows}

    def cursor_times(self) -> dict[str, tuple[int, datetime]]:
        """Each terminal's stored journal cursor and when it was stored."""
        with storage_errors(self._where):
            rows = self._conn.execute(
                "SELECT terminal_id, cursor, updated_at FROM cursors ORDER BY terminal_id"
            ).fetchall()
        return {r[0]: (int(r[1]), _ts(r[2])) for r in rows}

    def latest_settlement_mismatches(self) -> list[MismatchCheck]:
        """The differing lines of each terminal's latest differing check (a check that
        agreed stores nothing here: the agent state knows whether a later one agreed)."""
        with storage_errors(self._where):
            rows = self._conn.execute(
                "SELECT terminal_id, wall_time, kind, product, terminal_count, "
                "terminal_amount_fen, buffer_count, buffer_amount_fen FROM "
                "settlement_mismatches s WHERE wall_time = (SELECT MAX(wall_time) FROM "
                "settlement_mismatches t WHERE t.terminal_id = s.terminal_id) "
                "ORDER BY terminal_id, kind, product, id"
            ).fetchall()
        checks: dict[str, MismatchCheck] = {}
        for r in rows:
            line = Mismatch(r[2], r[3], r[4], r[5], r[6], r[7])
            old = checks.get(r[0])
            checks[r[0]] = MismatchCheck(r[0], _ts(r[1]), (*old.lines, line) if old else (line,))
        return list(checks.values())

    # -------------------------------------------------------------- stats

    def unresolved_unknowns(self) -> list[StoredRecord]:
        columns = ", ".join("u." + c for c in RECORD_COLUMNS)
        sql = f"SELECT {columns} {UNRESOLVED_SQL} ORDER BY u.seq"  # noqa: S608
        with storage_errors(self._where):
            return [row_record(r) for r in self._conn.execute(sql).fetchall()]

    def stats(self) -> dict[str, Any]:
        """Counts, oldest unsynced record, backlog, unresolved unknowns, quarantine."""
        q = self._conn.execute
        with storage_errors(self._where):
            synced_row = q("SELECT value FROM meta WHERE key='synced_upto'").fetchone()
            synced = 0 if synced_row is None else int(synced_row[0])
            last = int(q("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()[0])
            by_entry = dict(q("SELECT entry, COUNT(*) FROM records GROUP BY entry").fetchall())
            by_status = dict(q(
                "SELECT status, COUNT(*) FROM records WHERE entry='txn' AND kind!='reversal' "
                "GROUP BY status").fetchall())
            reversals = q("SELECT COUNT(*) FROM records WHERE kind='reversal'").fetchone()[0]
            oldest = q("SELECT seq, wall_time FROM records WHERE seq > ? ORDER BY seq LIMIT 1",
                       (synced,)).fetchone()
            unresolved = q("SELECT COUNT(*) " + UNRESOLVED_SQL).fetchone()[0]
            conflicts = q("SELECT COUNT(*) FROM conflicts").fetchone()[0]
            mismatches = q("SELECT COUNT(*) FROM settlement_mismatches").fetchone()[0]
            snapshots = q("SELECT COUNT(*) FROM device_status").fetchone()[0]
            cursors = dict(q("SELECT terminal_id, cursor FROM cursors ORDER BY 1").fetchall())
        quarantined = self.open_quarantine()
        return {
            "station_id": self.station_id,
            "records": last,
            "transactions": by_entry.get("txn", 0) - reversals,
            "reversals": reversals,
            "by_status": {k: by_status[k] for k in sorted(by_status)},
            "unknown": by_entry.get("unknown", 0),
            "unresolved_unknown": unresolved,
            "void": by_entry.get("void", 0),
            "referrals": by_entry.get("referral", 0),
            "referrals_cancelled": by_entry.get("cancel", 0),
            "synced_upto": synced,
            "backlog": last - synced,
            "oldest_unsynced": None if oldest is None else {"seq": oldest[0],
                                                            "wall_time": oldest[1]},
            "quarantined_batches": len(quarantined),
            "quarantined_records": sum(e.last_seq - e.first_seq + 1 for e in quarantined),
            "quarantine": [
                {"id": e.id, "first_seq": e.first_seq, "last_seq": e.last_seq,
                 "http_status": e.http_status, "reason": e.reason} for e in quarantined
            ],
            "conflicts": conflicts,
            "settlement_mismatches": mismatches,
            "device_snapshots": snapshots,
            "journal_cursors": cursors,
        }


def _ts(text: str) -> datetime:
    return ts_required(text)
