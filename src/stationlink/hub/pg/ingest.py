"""One batch into the hub's PostgreSQL tables: :func:`ingest_batch`.

Contract: the rules of :meth:`stationlink.hub.store.HubStore.ingest` (the same as the SQLite
store's :mod:`stationlink.hub.ingest`, whose pure parts — :func:`base_rows`,
:func:`plan_batch` with :func:`new_rows` and the replay checks — are
shared; this module has only the PostgreSQL look-ups and writes), run on a connection inside
a transaction the caller owns (commit makes it durable; an exception means roll back).
Exactly once under concurrency:
the first statement upserts the station's ``stations`` row, which takes its row lock until
commit, and returns the high-water mark *as committed by whoever held the lock before* (READ
COMMITTED re-reads the locked row), so two hub processes sending the same station's batches
run one after the other and the second sees the first's records as replays. Per batch: that
statement, one query for the replayed seqs, one per terminal for the identities held, one
for the drift anchors, then one ``COPY`` of the new rows straight into ``records`` (no
staging table is needed: under the lock no other writer can insert the station's seqs; the
primary key is the backstop) and the anchors and high-water mark (both in one pipeline: one
round trip).
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
from ...buffer.fold import Anchors
from ...buffer.records import Batch, StoredRecord
from ...buffer.schema import RECORD_COLUMNS
from ..hub_schema import EXTRA_COLUMNS
from ..ingest import plan_batch
from ..store import IngestResult
from .schema import missing_partitions

_ALL = RECORD_COLUMNS + EXTRA_COLUMNS
COPY = f"COPY records ({', '.join(_ALL)}) FROM STDIN".encode()
SELECT_HELD = (f"SELECT {', '.join(RECORD_COLUMNS)} FROM records "  # noqa: S608
               "WHERE station_id = %s AND seq BETWEEN %s AND %s").encode()
HELD_IDENTITIES = (b"SELECT ident, seq, affects_month FROM records WHERE station_id = %s "
                   b"AND terminal_id = %s AND duplicate_of IS NULL AND ident = ANY(%s)")
INSERT_ANCHORS = (b"INSERT INTO anchors (station_id, terminal_id, boot_id, wall_time, uptime_ms) "
                  b"VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING")
SET_HWM = b"UPDATE stations SET hwm = %s, last_contact = %s WHERE station_id = %s"
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
    plan = plan_batch(
        batch, hwm, rows, now, close_day,
        stored=lambda first, last: conn.execute(SELECT_HELD, (sid, first, last)),
        identities=lambda wanted: _held_identities(conn, sid, wanted),
        anchors=lambda new: _anchors(conn, sid, new),
    )
    if plan.rows:
        months = {row[-3] for row in plan.rows} - known_months
        if months:
            absent = missing_partitions(conn, months)
            if absent:
                raise MissingPartitions(absent)
            known_months |= months
        with conn.cursor() as cur, cur.copy(COPY) as copy:
            for row in plan.rows:
                copy.write_row(row)
    new_hwm = max(hwm, batch.last_seq)
    with conn.pipeline(), conn.cursor() as cur:  # results checked when the pipeline ends
        if plan.anchors:
            cur.executemany(INSERT_ANCHORS, plan.anchors)
        cur.execute(SET_HWM, (new_hwm, ts_text(now), sid))
    return IngestResult(new_hwm, len(plan.rows), plan.replayed, plan.duplicates, plan.late)


def _held_identities(
    conn: psycopg.Connection[Any], sid: str, wanted: dict[str, list[str]]
) -> dict[tuple[str, str], tuple[int, str]]:
    """(terminal, ident) -> (seq, affected month) of the non-duplicate records held among
    the ``wanted`` identities per terminal (:func:`~stationlink.hub.ingest.identity_keys`)."""
    held: dict[tuple[str, str], tuple[int, str]] = {}
    for terminal_id, idents in wanted.items():
        for ident, seq, month in conn.execute(HELD_IDENTITIES, (sid, terminal_id, idents)):
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
