"""Bulk journal ingest: a page of terminal results handled column by column.

Contract:
- :func:`journal_page` checks a page of :class:`JournalRecord` exactly as
  :func:`.ingest.journal_rows` does (the same checks with the same errors; when any check
  fails, or a value is not of the usual kind, it runs :func:`.ingest.journal_rows` itself,
  which raises the first error in record order) and returns the page as columns
  (:class:`Page`), with the texts the file stores. Callers run it before ``BEGIN IMMEDIATE``:
  a refused page takes no lock and stores nothing.
- :func:`store_page` runs inside the caller's ``BEGIN IMMEDIATE`` transaction with the
  semantics of the generic ``Buffer._store`` (module contract of :mod:`.store`): a record whose
  identity ``t:<ref>`` is already stored (or repeated in the page) is not inserted, and the
  stored record is given back for it (a differing copy is noted in ``conflicts``); a new
  record refers to the unknown ``u:<client ref>`` it resolves, else to the original
  ``t:<original ref>`` it reverses (on file, or earlier in the same page); seqs are gap-free
  from ``MAX(seq) + 1``. Look-ups are those of :mod:`.ingest` (bounded per page).
- :func:`insert_page` inserts rows of :data:`PAGE_COLUMNS` with multi-row ``INSERT``
  statements of :data:`.ingest.BATCH` rows that bind the page's station, terminal, source and wall
  time once per statement (entry ``txn`` is a literal): about 18 parameters a row, not 23.
- The per-row work is done column by column (a comprehension per field, then ``zip``, ``map``,
  ``compress``); Python loops run only over records that need one (a card, a reference to
  resolve, a duplicate).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache, partial
from itertools import compress, repeat
from operator import attrgetter
from typing import Any

from ..errors import StorageError
from ..protocol import JournalRecord
from ..records import fields
from ._fast import Unusual, check_columns
from .db import iso_texts
from .ingest import (
    BATCH,
    KIND_TEXT,
    SCAN_MIN,
    SOURCE_TEXT,
    STATUS_TEXT,
    aware_text,
    journal_rows,
    lookup,
    next_seq,
    note_conflict,
    ref_seqs,
)
from .records import (
    Entry,
    Source,
    StoredRecord,
    card_fields,
    from_journal,
    journal_record,
)
from .schema import RECORD_COLUMNS, row_ident, row_value

RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)  # INSERT ... RETURNING
_AT = {name: i for i, name in enumerate(RECORD_COLUMNS, start=1)}  # ?<n> of each column
#: Two more parameters after the columns: the identity of the unknown a result may resolve,
#: and that of the original a reversal reverses.
_UNKNOWN, _ORIGINAL = f"?{len(_AT) + 1}", f"?{len(_AT) + 2}"
_ONE_VALUES = ", ".join(
    "(SELECT COALESCE(MAX(seq), 0) + 1 FROM records)" if name == "seq"
    else f"COALESCE((SELECT seq FROM records WHERE terminal_id = ?{_AT['terminal_id']} "  # noqa: S608
         f"AND ident = {_UNKNOWN}), (SELECT seq FROM records "
         f"WHERE terminal_id = ?{_AT['terminal_id']} AND ident = {_ORIGINAL}))"
    if name == "refers_to_seq" else f"?{i}"
    for name, i in _AT.items()
)
# One live result in one statement: seq = MAX + 1, refers_to_seq = the unknown it resolves,
# else the original it reverses; nothing inserted (no row returned) when its identity is
# already stored.
INSERT_ONE = (
    f"INSERT INTO records ({', '.join(RECORD_COLUMNS)}) VALUES ({_ONE_VALUES}) "  # noqa: S608
    "ON CONFLICT DO NOTHING RETURNING seq, refers_to_seq"
)

#: Columns bound once per statement (``?1`` .. ``?4``) and the literal ``entry``.
SHARED = {"station_id": "?1", "terminal_id": "?2", "source": "?3", "wall_time": "?4",
          "entry": "'txn'"}
#: The columns of a row for :func:`insert_page`, in :data:`.schema.RECORD_COLUMNS` order.
PAGE_COLUMNS = tuple(c for c in RECORD_COLUMNS if c not in SHARED)

_TZINFO = attrgetter("tzinfo")
_MAKE = partial(tuple.__new__, StoredRecord)  # a StoredRecord from a tuple of its fields


@lru_cache(maxsize=64)
def insert_sql(rows: int) -> str:
    """The ``INSERT`` of ``rows`` rows of :data:`PAGE_COLUMNS` (shared values ``?1``-``?4``)."""
    values = []
    n = len(SHARED) - 1  # the literal takes no parameter
    for _ in range(rows):
        marks = []
        for column in RECORD_COLUMNS:
            if column in SHARED:
                marks.append(SHARED[column])
            else:
                n += 1
                marks.append(f"?{n}")
        values.append("(" + ", ".join(marks) + ")")
    return f"INSERT INTO records ({', '.join(RECORD_COLUMNS)}) VALUES " + ", ".join(values)  # noqa: S608


def insert_page(
    conn: sqlite3.Connection, shared: Sequence[Any], columns: Sequence[Sequence[Any]]
) -> None:
    """Insert rows given as ``columns`` (one sequence per :data:`PAGE_COLUMNS` column, all of
    one length), all with the same ``shared`` values (station id, terminal id, source text,
    wall time text) and entry ``txn``. The parameters are laid out with one strided slice
    assignment per column, not row by row."""
    width = len(PAGE_COLUMNS)
    if len(columns) != width or len(shared) != len(SHARED) - 1:
        raise ValueError(f"insert_page needs {width} columns and {len(SHARED) - 1} shared values")
    count = len(columns[0])
    flat: list[Any] = [None] * (width * count)
    for j, column in enumerate(columns):
        flat[j::width] = column  # ValueError unless the column has ``count`` values
    head = list(shared)
    whole = count - count % BATCH
    step = width * BATCH
    sql = insert_sql(BATCH)
    for i in range(0, whole * width, step):
        conn.execute(sql, head + flat[i : i + step])
    if whole < count:
        conn.execute(insert_sql(count - whole), head + flat[whole * width :])


@dataclass(slots=True)
class Page:
    """A checked journal page, one sequence per field (see module contract)."""

    records: Sequence[JournalRecord]
    wall_text: str
    idents: list[str]
    refs: Sequence[str]
    client_refs: Sequence[str]
    kinds: Sequence[str]
    products: Sequence[str]
    accounts: Sequence[str]
    amounts: Sequence[int]
    statuses: Sequence[str]
    results: Sequence[int]
    tokens: Sequence[str]
    masked: Sequence[str]
    original_refs: Sequence[str]
    times: Sequence[datetime]
    time_texts: Sequence[str]
    uptimes: Sequence[int]
    boots: Sequence[int]
    cursors: Sequence[int]


def store_one(
    conn: sqlite3.Connection,
    station_id: str,
    terminal_id: str,
    rec: JournalRecord,
    row: list[Any],
    wall_time: datetime,
    source: Source,
) -> StoredRecord:
    """:func:`store_page` of one record (a live result; ``row`` from
    :func:`.ingest.journal_rows`) in one statement, :data:`INSERT_ONE`, where SQLite
    has ``RETURNING``. Call inside ``BEGIN IMMEDIATE``."""
    if not RETURNING:
        page = page_from_rows((rec,), [row])
        _, build, dups = store_page(conn, station_id, terminal_id, page, wall_time, source)
        return dups[0] if dups else build()[0]
    cref, oref = row_value(row, "client_ref"), row_value(row, "original_ref")
    got = conn.execute(INSERT_ONE, (
        *row, "u:" + cref if cref else None, "t:" + oref if oref else None,
    )).fetchall()
    if not got:
        ident = row_ident(row)
        existing = lookup(conn, terminal_id, [ident]).get(ident)
        if existing is None:  # only the identity index can conflict (seq is MAX + 1)
            raise StorageError(f"terminal {terminal_id}: {ident} conflicts but is not stored")
        note_conflict(conn, existing, from_journal(station_id, terminal_id, rec, wall_time, source))
        return existing
    seq, refers = got[0]
    return journal_record(station_id, terminal_id, rec, row_value(row, "card_token"),
                          row_value(row, "card_masked"), wall_time, source, seq, refers)


def journal_page(
    station_id: str,
    terminal_id: str,
    records: Sequence[JournalRecord],
    wall_time: datetime,
    source: Source,
) -> Page:
    """The checked page (module contract); raises what :func:`.ingest.journal_rows` raises."""
    if not records:
        return page_from_rows(records, [], "")
    try:
        return _columns(terminal_id, records, wall_time)
    except Exception:  # any doubt: the record-by-record path decides (and raises)
        rows = journal_rows(station_id, terminal_id, records, wall_time, source)
        return page_from_rows(records, rows)


def _columns(terminal_id: str, records: Sequence[JournalRecord], wall_time: datetime) -> Page:
    n = len(records)
    # one comprehension a field: specialised attribute loads, and no tuple a record
    refs = [r.ref for r in records]
    client_refs = [r.client_ref for r in records]
    kinds = [r.kind for r in records]
    products = [r.product for r in records]
    accounts = [r.account for r in records]
    amounts = [r.amount_fen for r in records]
    statuses = [r.status for r in records]
    results = [r.result for r in records]
    times = [r.terminal_time for r in records]
    uptimes = [r.uptime_ms for r in records]
    boots = [r.boot_id for r in records]
    cursors = [r.cursor for r in records]
    cards = [r.card for r in records]
    original_refs = [r.original_ref for r in records]
    if not all(refs) or min(amounts) < 0:
        raise Unusual
    if cards.count(None) == n:
        tokens = masked = ("",) * n
    else:
        pairs = [("", "") if card is None else card_fields(terminal_id, rec)
                 for card, rec in zip(cards, records, strict=True)]
        tokens, masked = zip(*pairs, strict=True)
    kind_texts = list(map(KIND_TEXT.__getitem__, kinds))
    status_texts = list(map(STATUS_TEXT.__getitem__, statuses))
    result_ints = list(map(int, results))
    zones = set(map(_TZINFO, times))
    if not all(type(tz) is timezone for tz in zones):  # not all fixed offsets: record by record
        raise Unusual
    check_columns(terminal_id, refs, client_refs, original_refs, kind_texts, products,
                  accounts, amounts, status_texts, tokens, times, zones, wall_time,
                  {"uptime_ms": uptimes, "boot_id": boots, "cursor": cursors})
    wall_text = aware_text(wall_time, "wall_time")
    return Page(
        records, wall_text, list(map("t:".__add__, refs)), refs, client_refs, kind_texts,
        products, accounts, amounts, status_texts, result_ints, tokens, masked, original_refs,
        times, iso_texts(times), uptimes, boots, cursors,
    )


def page_from_rows(
    records: Sequence[JournalRecord], rows: list[list[Any]], wall: str | None = None
) -> Page:
    """A :class:`Page` of rows made by :func:`.ingest.journal_rows` for these records
    (``wall``: the wall time text, else the rows' own)."""
    if not rows:
        return Page(records, wall or "", [], *([()] * 16))
    c = dict(zip(RECORD_COLUMNS, zip(*rows, strict=True), strict=True))
    if wall is None:
        wall = c["wall_time"][0]
    return Page(
        records, wall, list(c["ident"]), c["terminal_ref"], c["client_ref"], c["kind"],
        c["product"], c["account"], c["amount_fen"], c["status"], c["result"],
        c["card_token"], c["card_masked"], c["original_ref"],
        [r.terminal_time for r in records], c["terminal_time"], c["uptime_ms"], c["boot_id"],
        c["journal_cursor"],
    )


def store_page(
    conn: sqlite3.Connection,
    station_id: str,
    terminal_id: str,
    page: Page,
    wall_time: datetime,
    source: Source,
) -> tuple[int, Callable[[], tuple[StoredRecord, ...]], dict[int, StoredRecord]]:
    """Store a checked page (module contract). Returns how many records are new, a function
    that builds them (in seq order; from the page's columns, no database access) and, by
    position in the page, the stored record of each duplicate. Call inside ``BEGIN
    IMMEDIATE``."""
    idents = page.idents
    n = len(idents)
    if not n:
        return 0, tuple, {}
    client_refs = list(filter(None, page.client_refs))
    original_refs = list(filter(None, page.original_refs))
    if n < SCAN_MIN:  # a few records: one statement for all identities
        wanted = idents + ["u:" + ref for ref in client_refs]
        wanted += ["t:" + ref for ref in original_refs]
        known = lookup(conn, terminal_id, wanted)
        refs = {ident: rec.seq for ident, rec in known.items()}
    else:
        known = lookup_page(conn, terminal_id, idents)
        refs = ref_seqs(conn, terminal_id, client_refs, original_refs)
    first = next_seq(conn)
    cols: list[Sequence[Any]] = [
        idents, page.refs, page.client_refs, page.kinds, page.products, page.accounts,
        page.amounts, page.statuses, page.results, page.tokens, page.masked,
        page.original_refs, page.times, page.time_texts, page.uptimes, page.boots,
        page.cursors,
    ]
    dups: dict[int, StoredRecord] = {}
    if known.keys().isdisjoint(idents) and len(set(idents)) == n:
        refers: Sequence[int | None] = _refers_all_new(page, refs, first) \
            if refs or original_refs else (None,) * n
    else:
        keep, refers = _dedupe(conn, station_id, terminal_id, page, known, refs, first,
                               wall_time, source, dups)
        cols = [list(compress(col, keep)) for col in cols]
    (idents_, trefs, crefs, kinds, products, accounts, amounts, statuses, results, tokens,
     masked, orefs, times, time_texts, uptimes, boots, cursors) = cols
    seqs = range(first, first + len(idents_))
    build = partial(_records, {
        "seq": seqs, "station_id": repeat(station_id), "terminal_id": repeat(terminal_id),
        "entry": repeat(Entry.TXN), "terminal_ref": trefs, "client_ref": crefs, "kind": kinds,
        "product": products, "account": accounts, "amount_fen": amounts, "status": statuses,
        "result": results, "card_token": tokens, "card_masked": masked, "original_ref": orefs,
        "refers_to_seq": refers, "source": repeat(source), "wall_time": repeat(wall_time),
        "terminal_time": times, "uptime_ms": uptimes, "boot_id": boots,
        "journal_cursor": cursors,
    })
    by_column: dict[str, Sequence[Any]] = {
        "seq": seqs, "ident": idents_, "terminal_ref": trefs, "client_ref": crefs,
        "kind": kinds, "product": products, "account": accounts, "amount_fen": amounts,
        "status": statuses, "result": results, "card_token": tokens, "card_masked": masked,
        "original_ref": orefs, "refers_to_seq": refers, "terminal_time": time_texts,
        "uptime_ms": uptimes, "boot_id": boots, "journal_cursor": cursors,
    }
    nulls = (None,) * len(seqs)  # a column the journal does not fill
    insert_page(
        conn, (station_id, terminal_id, SOURCE_TEXT[source], page.wall_text),
        [by_column.get(column, nulls) for column in PAGE_COLUMNS],
    )
    return len(seqs), build, dups


def _records(columns: dict[str, Iterable[Any]]) -> tuple[StoredRecord, ...]:
    """The :class:`StoredRecord` of each stored row, from its columns by field name (a field
    without a column is ``None``; ``seq`` is finite, the others may repeat)."""
    values = [columns.get(name, repeat(None)) for name in fields.STORED]
    return tuple(map(_MAKE, zip(*values, strict=False)))  # the repeats are endless


def lookup_page(
    conn: sqlite3.Connection, terminal_id: str, idents: Sequence[str]
) -> dict[str, StoredRecord]:
    """:func:`.ingest.lookup` of a page's ``t:`` identities, without probing when every one
    sorts after the terminal's greatest stored ``t:`` identity (a journal read past what the
    buffer holds: one index seek). SQLite compares text bytewise, UTF-8 keeps code point order,
    so Python's ``min`` and SQLite's ``MAX`` agree."""
    top = conn.execute(
        "SELECT MAX(ident) FROM records WHERE terminal_id=? AND ident >= 't:' AND ident < 't;'",
        (terminal_id,),
    ).fetchone()[0]
    if top is None or min(idents) > top:
        return {}
    return lookup(conn, terminal_id, idents)


def _refers_all_new(page: Page, refs: dict[str, int], first: int) -> list[int | None]:
    """``refers_to_seq`` of a page whose records are all new (seq = ``first`` + position):
    the unknown a record resolves, else the original it reverses (on file or earlier in the
    page). Only records with an unknown or an original reference are visited."""
    n = len(page.idents)
    refers: list[int | None] = [None] * n
    unknowns = {ident[2:] for ident in refs if ident.startswith("u:")}
    crefs, orefs = page.client_refs, page.original_refs
    visit = set(compress(range(n), orefs))
    if unknowns:
        visit.update(compress(range(n), map(unknowns.__contains__, crefs)))
    position = dict(zip(page.idents, range(n), strict=True)) if any(orefs) else {}
    for i in sorted(visit):
        cref, oref = crefs[i], orefs[i]
        found = refs.get("u:" + cref) if cref else None
        if found is None and oref:
            found = refs.get("t:" + oref)
            if found is None:  # an original earlier in this page
                j = position.get("t:" + oref)
                found = first + j if j is not None and j < i else None
        refers[i] = found
    return refers


def _dedupe(
    conn: sqlite3.Connection, station_id: str, terminal_id: str, page: Page,
    known: dict[str, StoredRecord], refs: dict[str, int], first: int, wall_time: datetime,
    source: Source, dups: dict[int, StoredRecord],
) -> tuple[list[bool], list[int | None]]:
    """Record by record: which to insert, and the ``refers_to_seq`` of those; each duplicate's
    stored record goes into ``dups`` (a differing copy is noted in ``conflicts``)."""
    keep: list[bool] = []
    refers: list[int | None] = []
    fresh: dict[str, tuple[int, int, int | None]] = {}  # ident -> (position, seq, refers)
    seq = first
    for i, ident in enumerate(page.idents):
        rec = page.records[i]
        existing = known.get(ident)
        if existing is None and ident in fresh:  # repeated in the page
            j, s, r = fresh[ident]
            existing = from_journal(station_id, terminal_id, page.records[j], wall_time,
                                    source)._replace(seq=s, refers_to_seq=r)
        if existing is not None:
            note_conflict(conn, existing, from_journal(station_id, terminal_id, rec, wall_time,
                                                       source))
            dups[i] = existing
            keep.append(False)
            continue
        cref, oref = page.client_refs[i], page.original_refs[i]
        found = refs.get("u:" + cref) if cref else None
        if found is None and oref:
            found = refs.get("t:" + oref)
            if found is None:  # an original stored earlier in this page
                earlier = fresh.get("t:" + oref)
                found = None if earlier is None else earlier[1]
        fresh[ident] = (i, seq, found)
        seq += 1
        keep.append(True)
        refers.append(found)
    return keep, refers
