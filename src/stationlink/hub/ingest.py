"""One batch into the hub's SQLite tables, set-based: :func:`ingest_batch`.

Contract: the rules of :meth:`stationlink.hub.store.HubStore.ingest`, run on a connection
that is already inside a transaction (the caller owns ``BEGIN``/``COMMIT``; an exception
means the caller must roll back what this wrote). Per batch, whatever its size: one query
for the high-water mark, one for the replayed seqs (compared column by column with what was
sent: :func:`differing`), one per terminal (and 400 identities)
for the identities already held, one per (terminal, boot) for drift anchors, and
multi-row ``INSERT``s of 35 records for the new ones.
The rules themselves need no database and serve both stores (the PostgreSQL one is
:mod:`stationlink.hub.pg.ingest`): :func:`plan_batch` runs them with the store's look-ups
passed in (:func:`replay_cut`, :func:`check_replays`, :func:`identity_keys`, then
:func:`new_rows`: effective time, affected month, duplicate link, late flag, new anchors);
:func:`base_rows` may be computed outside the writer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from itertools import chain
from typing import Any, NamedTuple

from ..buffer.db import ts_required, ts_text
from ..buffer.fold import Anchors, effective_ts
from ..buffer.records import IDENT_PREFIX, Batch, Entry, StoredRecord
from ..buffer.schema import RECORD_COLUMNS, record_rows, row_ident, row_value
from ..errors import SequenceConflictError, SequenceGapError
from ..records import fields
from .closing import is_late
from .hub_schema import EXTRA_COLUMNS
from .store import IngestResult

_ALL = RECORD_COLUMNS + EXTRA_COLUMNS
_ROW = f"({', '.join('?' for _ in _ALL)})"
INSERT = f"INSERT INTO records ({', '.join(_ALL)}) VALUES {_ROW}"  # noqa: S608
ROWS_PER_INSERT = 999 // len(_ALL)  # multi-row INSERTs within SQLite's oldest parameter limit
INSERT_MANY = INSERT + f", {_ROW}" * (ROWS_PER_INSERT - 1)
CHUNK = 400  # identities per lookup query (well under SQLite's bound-parameter limit)


_PREFIX = {Entry.TXN: "t:", **IDENT_PREFIX}
SELECT_HELD = f"SELECT {', '.join(RECORD_COLUMNS)} FROM records"  # noqa: S608
TIME_FIELDS = fields.TIME_FIELDS
# a replayed seq must match the held record in every column (ident is derived from the refs)
REPLAY_FIELDS = tuple(c for c in RECORD_COLUMNS if c not in ("seq", "ident"))
# a duplicate (same identity, new seq) conflicts when the transaction itself differs; capture
# metadata (when and how the station PC read it: source, wall time, cursor, ...) may differ
CONTENT_FIELDS = fields.CONTENT
CARD_FIELDS = frozenset({"card_token", "card_masked"})


def differing(held: Sequence[Any], sent: Sequence[Any], fields: Sequence[str]) -> list[str]:
    """The ``fields`` (record columns) in which two rows in :data:`RECORD_COLUMNS` order
    differ, in column order; times compare as instants (``+08:00`` equals the same ``Z``)."""
    out = []
    for name in fields:
        a, b = row_value(held, name), row_value(sent, name)
        if a == b:
            continue
        if name in TIME_FIELDS and a is not None and b is not None \
                and ts_required(a) == ts_required(b):
            continue
        out.append(name)
    return out


def base_rows(batch: Batch) -> list[tuple[Any, ...]]:
    """The buffer-column part of every record's row (no database needed); the identity
    (:attr:`StoredRecord.ident`, column ``ident``) is computed once here."""
    txn, prefix = Entry.TXN, _PREFIX
    idents = [("t:" + r.terminal_ref if r.entry is txn else prefix[r.entry] + r.client_ref)
              for r in batch.records]
    return record_rows(batch.records, idents)


def replay_cut(batch: Batch, hwm: int) -> int:
    """How many of ``batch``'s records (a gap-free run in seq order) are at or below the
    station's high-water mark ``hwm``, i.e. replays; ``SequenceGapError`` if the batch
    starts beyond ``hwm + 1``."""
    if batch.first_seq > hwm + 1:
        raise SequenceGapError(batch.station_id, batch.first_seq, hwm + 1)
    records, cut = batch.records, 0
    while cut < len(records) and records[cut].seq <= hwm:
        cut += 1
    return cut


def check_replays(
    sid: str, old: Sequence[StoredRecord], sent: Sequence[tuple[Any, ...]],
    stored: Iterable[Sequence[Any]],
) -> None:
    """``SequenceConflictError`` naming the first replayed record (``old``, their
    :func:`base_rows` ``sent``) that the ``stored`` rows (:data:`RECORD_COLUMNS` of the
    station's held records in their seq range) lack or hold otherwise
    (:data:`REPLAY_FIELDS`)."""
    held = {row_value(row, "seq"): row for row in stored}
    for rec, row in zip(old, sent, strict=True):
        found = held.get(rec.seq)
        fields = ["seq"] if found is None else differing(found, row, REPLAY_FIELDS)
        if fields:
            raise SequenceConflictError(sid, rec.seq, fields)


class Plan(NamedTuple):
    """What a batch adds (:func:`plan_batch`): the replays' count and, for the new records,
    :func:`new_rows`' rows, anchors rows and counts."""

    replayed: int
    rows: list[tuple[Any, ...]]
    anchors: list[tuple[str, str, int, str | None, int]]
    duplicates: int
    late: int


def plan_batch(
    batch: Batch, hwm: int, rows: Sequence[tuple[Any, ...]] | None, now: datetime,
    close_day: int, *,
    stored: Callable[[int, int], Iterable[Sequence[Any]]],
    identities: Callable[[dict[str, list[str]]], dict[tuple[str, str], tuple[int, str]]],
    anchors: Callable[[Sequence[StoredRecord]], Anchors],
) -> Plan:
    """The ingest rules for ``batch`` against a station at high-water mark ``hwm``, with the
    store's own look-ups: ``stored(first, last)`` the held rows (:data:`RECORD_COLUMNS`) of
    the station's seqs in that range, ``identities`` as :func:`held_identities`,
    ``anchors`` the drift anchors of the new records' (terminal, boot)s. Raises
    ``SequenceGapError`` / ``SequenceConflictError`` before the store writes anything;
    ``rows``: :func:`base_rows` if precomputed."""
    cut = replay_cut(batch, hwm)
    old, new = batch.records[:cut], batch.records[cut:]
    rows = base_rows(batch) if rows is None else rows
    if old:
        check_replays(batch.station_id, old, rows[:cut], stored(old[0].seq, old[-1].seq))
    if not new:
        return Plan(cut, [], [], 0, 0)
    base = rows[cut:]
    held = identities(identity_keys(new, base))
    return Plan(cut, *new_rows(new, base, held, anchors(new), now, close_day))


def ingest_batch(
    conn: sqlite3.Connection, batch: Batch, now: datetime, close_day: int,
    rows: Sequence[tuple[Any, ...]] | None = None,
) -> IngestResult:
    """Store ``batch`` (module contract); ``rows`` from :func:`base_rows` if precomputed."""
    sid = batch.station_id
    found = conn.execute("SELECT hwm FROM stations WHERE station_id=?", (sid,)).fetchone()
    hwm = 0 if found is None else int(found[0])
    plan = plan_batch(
        batch, hwm, rows, now, close_day,
        stored=lambda first, last: conn.execute(
            f"{SELECT_HELD} WHERE station_id=? AND seq BETWEEN ? AND ?",  # noqa: S608
            (sid, first, last)),
        identities=lambda wanted: held_identities(conn, sid, wanted),
        anchors=lambda new: _anchors(conn, sid, new),
    )
    if plan.rows:
        insert_rows(conn, plan.rows)
        conn.executemany(
            "INSERT OR IGNORE INTO anchors (station_id, terminal_id, boot_id, wall_time, "
            "uptime_ms) VALUES (?, ?, ?, ?, ?)", plan.anchors,
        )
    new_hwm = max(hwm, batch.last_seq)
    conn.execute(
        "INSERT INTO stations (station_id, hwm, last_contact) VALUES (?, ?, ?) "
        "ON CONFLICT(station_id) DO UPDATE SET hwm=excluded.hwm, "
        "last_contact=excluded.last_contact",
        (sid, new_hwm, ts_text(now)),
    )
    return IngestResult(new_hwm, len(plan.rows), plan.replayed, plan.duplicates, plan.late)


def insert_rows(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Rows into ``records`` with multi-row INSERTs (a fraction of ``executemany``'s per-row
    statement work; the remainder goes with ``executemany``)."""
    n = ROWS_PER_INSERT
    whole = len(rows) - len(rows) % n
    for start in range(0, whole, n):
        conn.execute(INSERT_MANY, list(chain.from_iterable(rows[start:start + n])))
    if whole < len(rows):
        conn.executemany(INSERT, rows[whole:])


def held_identities(
    conn: sqlite3.Connection, sid: str, wanted: dict[str, list[str]]
) -> dict[tuple[str, str], tuple[int, str]]:
    """(terminal, ident) -> (seq, affected month) of the non-duplicate records held among
    the ``wanted`` identities per terminal (:func:`identity_keys`)."""
    held: dict[tuple[str, str], tuple[int, str]] = {}
    for terminal_id, idents in wanted.items():
        for start in range(0, len(idents), CHUNK):
            part = idents[start:start + CHUNK]
            marks = ", ".join("?" * len(part))
            for ident, seq, month in conn.execute(
                "SELECT ident, seq, affects_month FROM records WHERE station_id=? "  # noqa: S608
                f"AND terminal_id=? AND duplicate_of IS NULL AND ident IN ({marks})",
                (sid, terminal_id, *part),
            ):
                held[(terminal_id, ident)] = (seq, month)
    return held


def _anchors(conn: sqlite3.Connection, sid: str, new: Sequence[StoredRecord]) -> Anchors:
    anchors: Anchors = {}
    for terminal_id, boot_id in {(r.terminal_id, r.boot_id) for r in new if r.boot_id}:
        a = conn.execute(
            "SELECT wall_time, uptime_ms FROM anchors WHERE station_id=? AND terminal_id=? "
            "AND boot_id=?", (sid, terminal_id, boot_id),
        ).fetchone()
        if a is not None:
            anchors[(sid, terminal_id, boot_id)] = (ts_required(a[0]), int(a[1]))
    return anchors


def identity_keys(
    new: Sequence[StoredRecord], base: Sequence[tuple[Any, ...]]
) -> dict[str, list[str]]:
    """Per terminal, the identities (sorted) :func:`new_rows` needs looked up among the
    records held: each new record's own, the originals its reversals name and the referrals
    its cancellations name (``base``: their :func:`base_rows`)."""
    cancel = Entry.CANCEL
    keys = {(r.terminal_id, row_ident(row)) for r, row in zip(new, base, strict=True)}
    keys |= {(r.terminal_id, "t:" + r.original_ref) for r in new if r.original_ref}
    keys |= {(r.terminal_id, "r:" + r.client_ref) for r in new if r.entry is cancel}
    by_terminal: dict[str, list[str]] = {}
    for terminal_id, ident in sorted(keys):
        by_terminal.setdefault(terminal_id, []).append(ident)
    return by_terminal


class NewRows(NamedTuple):
    """What :func:`new_rows` computes for a batch's new records."""

    rows: list[tuple[Any, ...]]  # full rows in RECORD_COLUMNS + EXTRA_COLUMNS order
    anchors: list[tuple[str, str, int, str | None, int]]  # anchors rows first seen here
    duplicates: int
    late: int


def new_rows(
    new: Sequence[StoredRecord], base: Sequence[tuple[Any, ...]],
    held: dict[tuple[str, str], tuple[int, str]], anchors: Anchors,
    now: datetime, close_day: int,
) -> NewRows:
    """Full rows for new records (ts, affected month, late flag, duplicate link), the
    ``anchors`` rows (station, terminal, boot, wall time text, uptime) first seen among
    them, and the duplicates and late counts. No database: ``base`` are their
    :func:`base_rows`, ``held`` the (terminal, ident) -> (seq, affected month) of the
    non-duplicate records already stored among :func:`identity_keys`, ``anchors`` the drift
    anchors stored for their (terminal, boot)s. ``held`` and ``anchors`` are updated with
    the new records' own."""
    idents = list(map(row_ident, base))
    known_anchors = set(anchors)
    now_text = ts_text(now)
    late_of: dict[str, bool] = {}
    rows: list[tuple[Any, ...]] = []
    duplicates = late_count = 0
    txn, cancel, reversal = Entry.TXN, Entry.CANCEL, "reversal"
    for rec, ident, row in zip(new, idents, base, strict=True):
        ts = effective_ts(rec, anchors)  # aware, in CST
        month = f"{ts.year:04d}-{ts.month:02d}"
        if rec.kind == reversal and rec.entry is txn:
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
    return NewRows(rows, new_anchors, duplicates, late_count)
