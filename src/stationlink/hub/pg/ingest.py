"""One batch into the hub's PostgreSQL tables: :func:`ingest_batch`.

Contract: the rules of :meth:`stationlink.hub.store.HubStore.ingest` (the same as the SQLite
store's :mod:`stationlink.hub.ingest`, whose pure parts — :func:`base_rows`,
:func:`differing` — are shared), run on a connection inside a transaction the caller owns
(commit makes it durable; an exception means roll back). Exactly once under concurrency:
the first statement upserts the station's ``stations`` row, which takes its row lock until
commit, and returns the high-water mark *as committed by whoever held the lock before* (READ
COMMITTED re-reads the locked row), so two hub processes sending the same station's batches
run one after the other and the second sees the first's records as replays. Per batch: that
statement, one query for the replayed seqs, one per terminal for the identities held, one
for the drift anchors, then one ``COPY`` of the new rows straight into ``records`` (no
staging table is needed: under the lock no other writer can insert the station's seqs; the
primary key is the backstop) and the anchors and high-water mark.
Month partitions: when a new row's month has no partition yet, :class:`MissingPartitions`
is raised *before anything is written*; the caller rolls back, creates them
(:func:`~stationlink.hub.pg.schema.ensure_partitions`) and runs the batch again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from ...buffer.db import ts_required, ts_text
from ...buffer.fold import Anchors, effective_ts
from ...buffer.records import Batch, Entry, StoredRecord
from ...buffer.schema import RECORD_COLUMNS, row_ident, row_value
from ...errors import SequenceConflictError, SequenceGapError
from ..closing import is_late
from ..hub_schema import EXTRA_COLUMNS
from ..ingest import REPLAY_FIELDS, base_rows, differing
from ..store import IngestResult
from .schema import missing_partitions

_ALL = RECORD_COLUMNS + EXTRA_COLUMNS
COPY = f"COPY records ({', '.join(_ALL)}) FROM STDIN".encode()
SELECT_HELD = (f"SELECT {', '.join(RECORD_COLUMNS)} FROM records "  # noqa: S608
               "WHERE station_id = %s AND seq BETWEEN %s AND %s").encode()
LOCK_STATION = (b"INSERT INTO stations (station_id) VALUES (%s) ON CONFLICT (station_id) "
                b"DO UPDATE SET hwm = stations.hwm RETURNING hwm")


class MissingPartitions(Exception):  # noqa: N818 - a signal to the store, never seen outside
    """The batch needs month partitions that do not exist yet (module contract)."""

    def __init__(self, months: list[str]) -> None:
        super().__init__(", ".join(months))
        self.months = months


def ingest_batch(
    conn: psycopg.Connection[Any], batch: Batch, now: datetime, close_day: int,
    known_months: set[str], rows: Sequence[tuple[Any, ...]] | None = None,
) -> IngestResult:
    """Store ``batch`` (module contract). ``known_months``: partitions known to exist (the
    caller's cache; months found here are added)."""
    sid = batch.station_id
    found = conn.execute(LOCK_STATION, (sid,)).fetchone()
    hwm = 0 if found is None else int(found[0])
    if batch.first_seq > hwm + 1:
        raise SequenceGapError(sid, batch.first_seq, hwm + 1)
    records = batch.records
    cut = 0
    while cut < len(records) and records[cut].seq <= hwm:
        cut += 1
    old, new = records[:cut], records[cut:]
    if rows is None:
        rows = base_rows(batch)
    if old:
        held = {row_value(row, "seq"): row for row in conn.execute(
            SELECT_HELD, (sid, old[0].seq, old[-1].seq))}
        for rec, sent in zip(old, rows[:cut], strict=True):
            stored = held.get(rec.seq)
            diff = ["seq"] if stored is None else differing(stored, sent, REPLAY_FIELDS)
            if diff:
                raise SequenceConflictError(sid, rec.seq, diff)
    duplicates = late = 0
    if new:
        full, anchors, duplicates, late = _new_rows(conn, sid, new, rows[cut:], now, close_day)
        months = {row[-3] for row in full} - known_months
        if months:
            absent = missing_partitions(conn, months)
            if absent:
                raise MissingPartitions(absent)
            known_months |= months
        with conn.cursor() as cur, cur.copy(COPY) as copy:
            for row in full:
                copy.write_row(row)
        if anchors:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO anchors (station_id, terminal_id, boot_id, wall_time, "
                    "uptime_ms) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", anchors)
    new_hwm = max(hwm, batch.last_seq)
    conn.execute("UPDATE stations SET hwm = %s, last_contact = %s WHERE station_id = %s",
                 (new_hwm, ts_text(now), sid))
    return IngestResult(new_hwm, len(new), len(old), duplicates, late)


def _held_identities(
    conn: psycopg.Connection[Any], sid: str, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, str]]:
    """(terminal, ident) -> (seq, affected month) of the non-duplicate records held."""
    by_terminal: dict[str, list[str]] = {}
    for terminal_id, ident in keys:
        by_terminal.setdefault(terminal_id, []).append(ident)
    held: dict[tuple[str, str], tuple[int, str]] = {}
    for terminal_id, idents in by_terminal.items():
        for ident, seq, month in conn.execute(
            "SELECT ident, seq, affects_month FROM records WHERE station_id = %s "
            "AND terminal_id = %s AND duplicate_of IS NULL AND ident = ANY(%s)",
            (sid, terminal_id, idents),
        ):
            held[(terminal_id, ident)] = (seq, month)
    return held


def _anchors(conn: psycopg.Connection[Any], sid: str, new: Sequence[StoredRecord]) -> Anchors:
    wanted = {(r.terminal_id, r.boot_id) for r in new if r.boot_id}
    anchors: Anchors = {}
    if not wanted:
        return anchors
    terminals = sorted({t for t, _ in wanted})
    boots = sorted({b for _, b in wanted})
    for terminal_id, boot_id, wall, uptime in conn.execute(
        "SELECT terminal_id, boot_id, wall_time, uptime_ms FROM anchors WHERE station_id = %s "
        "AND terminal_id = ANY(%s) AND boot_id = ANY(%s)", (sid, terminals, boots),
    ):
        if (terminal_id, boot_id) in wanted:
            anchors[(sid, terminal_id, boot_id)] = (ts_required(wall), int(uptime))
    return anchors


def _new_rows(
    conn: psycopg.Connection[Any], sid: str, new: Sequence[StoredRecord],
    base: Sequence[tuple[Any, ...]], now: datetime, close_day: int,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int, int]:
    """Full rows for new records (ts, affected month, late flag, duplicate link), the new
    anchors' rows, duplicates and late counts — the rules of ``hub.ingest._new_rows``."""
    cancel = Entry.CANCEL
    idents = list(map(row_ident, base))
    keys = {(r.terminal_id, i) for r, i in zip(new, idents, strict=True)}
    keys |= {(r.terminal_id, "t:" + r.original_ref) for r in new if r.original_ref}
    keys |= {(r.terminal_id, "r:" + r.client_ref) for r in new if r.entry is cancel}
    held = _held_identities(conn, sid, keys)
    anchors = _anchors(conn, sid, new)
    known_anchors = set(anchors)
    now_text = ts_text(now)
    late_of: dict[str, bool] = {}
    rows: list[tuple[Any, ...]] = []
    duplicates = late_count = 0
    txn = Entry.TXN
    for rec, ident, row in zip(new, idents, base, strict=True):
        ts = effective_ts(rec, anchors)  # aware, in CST
        month = f"{ts.year:04d}-{ts.month:02d}"
        if rec.kind == "reversal" and rec.entry is txn:
            original = held.get((rec.terminal_id, "t:" + rec.original_ref))
            if original is not None:
                month = original[1]
        elif rec.entry is cancel:  # a referral's cancellation affects the referral's month
            original = held.get((rec.terminal_id, "r:" + rec.client_ref))
            if original is not None:
                month = original[1]
        key = (rec.terminal_id, ident)
        dup = held.get(key)
        if dup is None:
            held[key] = (rec.seq, month)
            duplicate_of = None
        else:
            duplicate_of = dup[0]
            duplicates += 1
        flag = late_of.get(month)
        if flag is None:
            flag = late_of[month] = is_late(month, now, close_day)
        late_count += flag and duplicate_of is None
        rows.append((*row, now_text, ts_text(ts), month, flag, duplicate_of))
    new_anchors = [(k[0], k[1], k[2], ts_text(v[0]), v[1]) for k, v in anchors.items()
                   if k not in known_anchors]
    return rows, new_anchors, duplicates, late_count
