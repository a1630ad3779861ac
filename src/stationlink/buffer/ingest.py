"""The buffer's hot path: terminal results straight into ``records`` rows.

Contract:
- :func:`journal_rows` checks each :class:`JournalRecord` with
  :func:`.records.check_journal`, as :func:`.records.from_journal` does (the buffer's one
  copy of its checks: a full card number, a missing ref, a negative amount, a naive time,
  then every rule of a valid transaction, refused with :class:`.records.RefusedRecordError`)
  and builds its :data:`.schema.INSERT_RECORD` row directly (timestamps as :func:`.db.iso_text`),
  with ``seq`` and ``refers_to_seq`` left for :func:`store_one`. Callers run it before
  ``BEGIN IMMEDIATE``: a refused page takes no lock and stores nothing.
- Journal pages go through :mod:`.page` (:func:`.page.journal_page`,
  :func:`.page.store_page`), which uses the look-ups below and falls back on
  :func:`journal_rows` to raise a refused record's error.
- :func:`insert_rows` inserts full :data:`.schema.INSERT_RECORD` rows with multi-row
  ``INSERT`` statements of :data:`BATCH` rows, the remainder with ``executemany``.
- This module imports nothing of :mod:`.page` (the page path builds on it, not the reverse).
- Look-ups are bounded per call: fewer than :data:`SCAN_MIN` records, one ``IN`` for all
  identities; a page, one chunked ``IN`` of its own identities plus :func:`ref_seqs` (a
  covering range scan of the terminal's unknowns when there are no more of them than the
  page's client refs, else probes).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timezone
from itertools import chain
from typing import Any

from ..protocol import JournalRecord, TxnKind, TxnStatus
from .db import HOUR_TEXT, MINSEC_TEXT, iso_text, ts_text
from .records import (
    Entry,
    Source,
    StoredRecord,
    check_journal,
    require_aware,
)
from .schema import INSERT_RECORD, RECORD_COLUMNS, SELECT_RECORDS, row_ident, row_record

CHUNK = 400  # parameters per IN (...) query (well under SQLite's oldest variable limit, 999)
SCAN_MIN = 16  # from this many records on, look up unknowns with one range scan (ref_seqs)
COMPARED = ("kind", "product", "amount_fen", "status", "client_ref", "card_token", "original_ref")
KIND_TEXT: dict[Any, str] = {k: k.value for k in TxnKind}
STATUS_TEXT: dict[Any, str] = {s: s.value for s in TxnStatus}
SOURCE_TEXT: dict[Source, str] = {s: s.value for s in Source}
BATCH = 40  # rows per multi-row INSERT: at most 920 parameters (SQLite's oldest limit is 999)
INSERT_BATCH = (
    f"INSERT INTO records ({', '.join(RECORD_COLUMNS)}) VALUES "  # noqa: S608
    + ", ".join(["(" + ", ".join("?" * len(RECORD_COLUMNS)) + ")"] * BATCH)
)


def aware_text(ts: datetime, name: str) -> str:
    """:func:`iso_text` of an aware timestamp; a naive one is refused (``require_aware``)."""
    if type(ts.tzinfo) is timezone:  # a fixed offset: always aware
        return iso_text(ts)
    return iso_text(require_aware(ts, name))


def journal_rows(
    station_id: str,
    terminal_id: str,
    records: Sequence[JournalRecord],
    wall_time: datetime,
    source: Source,
) -> list[list[Any]]:
    """Checked :data:`INSERT_RECORD` rows (``seq`` 0, ``refers_to_seq`` None), one per record."""
    src = SOURCE_TEXT[source]
    wall_text: str | None = None
    rows: list[list[Any]] = []
    append = rows.append
    hours_get = HOUR_TEXT.get
    for rec in records:
        token, masked = check_journal(terminal_id, rec, wall_time)  # before any text
        ref, amount = rec.ref, rec.amount_fen
        kind = KIND_TEXT.get(rec.kind) or rec.kind.value
        status = STATUS_TEXT.get(rec.status) or rec.status.value
        result = int(rec.result)
        tt = rec.terminal_time
        tz = tt.tzinfo
        if wall_text is None:
            wall_text = aware_text(wall_time, "wall_time")
        # iso_text inlined for the usual case: a fixed offset, whole seconds, hour cached
        parts = None
        if type(tz) is timezone and not tt.microsecond:
            parts = hours_get((tt.year, tt.month, tt.day, tt.hour, tz))
        if parts is None:
            tt_text = aware_text(tt, "terminal_time")
        else:
            tt_text = parts[0] + MINSEC_TEXT[tt.minute * 60 + tt.second] + parts[1]
        values = {
            "seq": 0, "station_id": station_id, "terminal_id": terminal_id, "entry": "txn",
            "ident": "t:" + ref, "terminal_ref": ref, "client_ref": rec.client_ref,
            "kind": kind, "product": rec.product, "account": rec.account,
            "amount_fen": amount, "status": status, "result": result, "card_token": token,
            "card_masked": masked, "original_ref": rec.original_ref, "source": src,
            "wall_time": wall_text, "terminal_time": tt_text, "uptime_ms": rec.uptime_ms,
            "boot_id": rec.boot_id, "journal_cursor": rec.cursor,
        }
        append([values.get(column) for column in RECORD_COLUMNS])  # a column not set: NULL
    return rows


def lookup(
    conn: sqlite3.Connection, terminal_id: str, idents: Sequence[str]
) -> dict[str, StoredRecord]:
    """The stored records of a terminal with these identity keys (chunked ``IN`` queries)."""
    found: dict[str, StoredRecord] = {}
    for i in range(0, len(idents), CHUNK):
        chunk = idents[i : i + CHUNK]
        marks = ",".join("?" * len(chunk))
        sql = SELECT_RECORDS + f" WHERE terminal_id=? AND ident IN ({marks})"  # noqa: S608
        for row in conn.execute(sql, (terminal_id, *chunk)):
            found[row_ident(row)] = row_record(row)
    return found


def next_seq(conn: sqlite3.Connection) -> int:
    """The next gap-free seq (call inside the write transaction)."""
    return int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()[0]) + 1


def note_conflict(conn: sqlite3.Connection, existing: StoredRecord, cand: StoredRecord) -> None:
    """Note a received copy of a stored transaction that differs in a compared field."""
    diffs = [
        f"{name}: stored {getattr(existing, name)!r}, received {getattr(cand, name)!r}"
        for name in COMPARED
        if getattr(existing, name) != getattr(cand, name)
    ]
    if diffs and cand.entry is Entry.TXN:
        conn.execute(
            "INSERT INTO conflicts (terminal_id, ident, existing_seq, wall_time, detail) "
            "VALUES (?, ?, ?, ?, ?)",
            (existing.terminal_id, existing.ident, existing.seq, ts_text(cand.wall_time),
             "; ".join(diffs)),
        )


def ref_seqs(
    conn: sqlite3.Connection, terminal_id: str, client_refs: list[str], original_refs: list[str]
) -> dict[str, int]:
    """Seqs of the unknowns (``u:<client ref>``) and originals (``t:<original ref>``) stored
    for these references, keyed by identity. Unknowns are rare: when there are many client
    refs, one covering range scan of the terminal's unknowns (at most ``len + 1`` index
    entries) replaces a probe per ref; if the terminal has more unknowns, it probes."""
    probes = ["t:" + ref for ref in original_refs]
    found: dict[str, int] = {}
    if len(client_refs) >= SCAN_MIN:
        rows = conn.execute(
            "SELECT ident, seq FROM records WHERE terminal_id=? AND ident >= 'u:' "
            "AND ident < 'u;' LIMIT ?", (terminal_id, len(client_refs) + 1)
        ).fetchall()
        if len(rows) <= len(client_refs):
            found.update(rows)  # every unknown of the terminal
            client_refs = []
    probes += ["u:" + ref for ref in client_refs]
    for i in range(0, len(probes), CHUNK):
        chunk = probes[i : i + CHUNK]
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT ident, seq FROM records WHERE terminal_id=? AND ident IN ({marks})"  # noqa: S608
        found.update(conn.execute(sql, (terminal_id, *chunk)).fetchall())
    return found


def insert_rows(conn: sqlite3.Connection, rows: list[list[Any]]) -> None:
    """Insert rows, :data:`BATCH` at a time with :data:`INSERT_BATCH`, the rest one by one."""
    whole = len(rows) - len(rows) % BATCH
    for i in range(0, whole, BATCH):
        conn.execute(INSERT_BATCH, list(chain.from_iterable(rows[i : i + BATCH])))
    if whole < len(rows):
        conn.executemany(INSERT_RECORD, rows[whole:])
