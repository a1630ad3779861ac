"""The station's local transaction buffer: :class:`Buffer`.

Contract:
- One SQLite file (WAL, ``synchronous=FULL``); every write is one ``BEGIN IMMEDIATE``
  transaction that has **committed** before the method returns. Callers acknowledge a
  terminal frame (or tell anyone a transaction succeeded) only after that return.
- Each record gets a gap-free per-station ``seq`` at commit, and an identity fixed at capture
  (see :mod:`stationlink.buffer.records`). Storing the same identity again is a no-op that
  returns the record already stored (a differing copy is also noted in ``conflicts``).
- Records are never edited or deleted. A journal result whose ``client_ref`` matches an
  *unknown* refers to it (``refers_to_seq``), as does a *void*; a reversal refers to its
  original when that is in the buffer; a referral's cancellation refers to the referral
  (referrals: :mod:`stationlink.buffer.referrals`).
- A journal page and the terminal's cursor commit in one transaction
  (:meth:`Buffer.record_journal_page`), so "acknowledge the journal only after commit" holds.
- ``unsynced`` hands out records after the hub's high-water mark (``mark_synced``), in seq
  order, stopping before the first open quarantine (the hub needs a gap-free sequence).
- Every ``sqlite3.Error`` becomes :class:`~stationlink.errors.StorageError`.
- :meth:`Buffer.open` first checks an existing file read-only
  (:func:`~stationlink.buffer.schema.check_buffer_file`): a hub database, any other SQLite
  file or a buffer of a newer schema version is refused with ``StorageError`` naming it and
  left byte-identical; an older buffer is migrated in place, and a database without any
  table (a process killed while creating it) is created when ``create``. A new file is
  created readable by its owner only (0600; its ``-wal``/``-shm`` get the same permissions).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from ..errors import ConfigError, StorageError
from ..interchange import Transaction
from ..protocol import JournalRecord
from .db import connect, immediate, storage_errors, ts_text
from .fold import fold
from .health import HealthMixin
from .ingest import journal_rows, lookup, next_seq, note_conflict
from .page import journal_page, store_one, store_page
from .records import (
    Batch,
    Entry,
    RefusedRecordError,
    Source,
    StoredRecord,
    ident_of,
    require_aware,
)
from .referrals import ReferralMixin
from .schema import (
    INSERT_RECORD,
    SELECT_RECORDS,
    check_buffer_file,
    create_schema,
    record_row,
    row_record,
)


def default_path() -> Path:
    """The default buffer file, in the user's data directory (platformdirs)."""
    return Path(platformdirs.user_data_dir("stationlink", appauthor=False)) / "buffer.sqlite"


@dataclass(frozen=True)
class PageResult:
    """Outcome of :meth:`Buffer.record_journal_page`.

    From the buffer, ``stored`` is built when first read (then kept): a caller that does not
    read it does not pay for a thousand records a page. The value is the same either way.
    """

    stored: tuple[StoredRecord, ...]  # newly stored, in seq order
    duplicates: int  # records already in the buffer (or repeated in the page)
    cursor: int | None  # the terminal's journal cursor now stored

    @classmethod
    def _later(
        cls, build: Callable[[], tuple[StoredRecord, ...]], duplicates: int, cursor: int | None
    ) -> PageResult:
        """A result whose ``stored`` is ``build()``, called on first access."""
        result = object.__new__(cls)
        object.__setattr__(result, "duplicates", duplicates)
        object.__setattr__(result, "cursor", cursor)
        object.__setattr__(result, "_build", build)
        return result

    if not TYPE_CHECKING:  # only reached for an attribute not set: ``stored`` not yet built

        def __getattr__(self, name):
            build = self.__dict__.get("_build") if name == "stored" else None
            if build is None:
                raise AttributeError(
                    f"{type(self).__name__!r} object has no attribute {name!r}", name=name,
                    obj=self)
            stored = build()
            object.__setattr__(self, "stored", stored)
            self.__dict__.pop("_build", None)
            return stored


class Buffer(HealthMixin, ReferralMixin, AbstractContextManager["Buffer"]):
    """See the module contract. Open with :meth:`open`; close with :meth:`close`."""

    def __init__(self, conn: sqlite3.Connection, path: Path, station_id: str) -> None:
        self._conn = conn
        self._where = str(path)
        self.path = path
        self.station_id = station_id

    @classmethod
    def open(
        cls, path: str | Path, station_id: str | None = None, *, create: bool = True
    ) -> Buffer:
        """Open (or create) a buffer file. A new file needs ``station_id``; an existing one
        must have been created for the same station (``ConfigError`` otherwise)."""
        p = Path(path)
        if p.is_file() and p.stat().st_size > 0:
            # read-only: a hub or any other file is left untouched; one without any table
            # (its creator was killed before the tables' commit) is created when creating
            check_buffer_file(p, allow_empty=create)
        elif p.is_file() and not create:
            raise StorageError(f"{p}: an empty file, not a stationlink buffer database; "
                               "left untouched")
        db = connect(p, create=create, private=True)
        conn = db.conn
        try:
            with storage_errors(str(p)):
                create_schema(db, str(p))
                row = conn.execute("SELECT value FROM meta WHERE key='station_id'").fetchone()
            stored = row[0] if row else None
            if stored is None:
                if not station_id:
                    raise ConfigError(f"{p}: new buffer needs a station id")
                with immediate(conn, str(p)):
                    conn.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES ('station_id', ?)",
                        (station_id,),
                    )
                stored = station_id
            elif station_id and station_id != stored:
                raise ConfigError(f"{p}: buffer belongs to station {stored!r}, not {station_id!r}")
        except BaseException:
            conn.close()
            raise
        return cls(conn, p, stored)

    def close(self) -> None:
        self._conn.close()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ storing records

    def record_result(
        self,
        terminal_id: str,
        record: JournalRecord,
        wall_time: datetime,
        *,
        source: Source = Source.LIVE,
    ) -> StoredRecord:
        """Store one transaction result; committed on return. A duplicate returns the stored one."""
        rows = journal_rows(self.station_id, terminal_id, (record,), wall_time, source)
        with immediate(self._conn, self._where) as conn:
            return store_one(conn, self.station_id, terminal_id, record, rows[0], wall_time, source)

    def record_journal_page(
        self,
        terminal_id: str,
        records: Sequence[JournalRecord],
        wall_time: datetime,
        *,
        cursor: int | None = None,
    ) -> PageResult:
        """Store a page read from a terminal's journal and its cursor in one transaction.

        ``cursor`` defaults to the last record's journal cursor (unchanged for an empty page).
        """
        page = journal_page(self.station_id, terminal_id, records, wall_time, Source.JOURNAL)
        if cursor is None and records:
            cursor = max(page.cursors)
        with immediate(self._conn, self._where) as conn:
            count, build, _ = store_page(
                conn, self.station_id, terminal_id, page, wall_time, Source.JOURNAL
            )
            if cursor is not None:
                self._set_cursor(conn, terminal_id, cursor, wall_time)
        return PageResult._later(build, len(records) - count, cursor)

    def record_unknown(
        self,
        terminal_id: str,
        client_ref: str,
        kind: str,
        product: str,
        account: str,
        amount_fen: int,
        wall_time: datetime,
    ) -> StoredRecord:
        """Note a request whose outcome the host could not learn (identity: ``client_ref``)."""
        if not client_ref:
            raise RefusedRecordError("an unknown outcome needs the request's client_ref")
        if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen < 0:
            raise RefusedRecordError(f"amount_fen must be a whole number >= 0, not {amount_fen!r}")
        cand = self._host_record(Entry.UNKNOWN, terminal_id, client_ref, wall_time)
        cand = cand._replace(kind=kind, product=product, account=account, amount_fen=amount_fen)
        with immediate(self._conn, self._where) as conn:
            stored, _ = self._store(conn, terminal_id, [cand])
        return stored[0]

    def record_void(self, terminal_id: str, client_ref: str, wall_time: datetime) -> StoredRecord:
        """Resolve an unknown as *never happened* (the terminal's journal has no such request)."""
        with immediate(self._conn, self._where) as conn:
            unknown = self._find(conn, terminal_id, ident_of(Entry.UNKNOWN, "", client_ref))
            if unknown is None:
                raise RefusedRecordError(f"terminal {terminal_id}: no unknown {client_ref!r}")
            done = conn.execute(
                "SELECT seq FROM records WHERE terminal_id=? AND client_ref=? AND entry='txn'",
                (terminal_id, client_ref),
            ).fetchone()
            if done is not None:
                raise RefusedRecordError(
                    f"terminal {terminal_id}: {client_ref!r} has a result (seq {done[0]})"
                )
            cand = self._host_record(Entry.VOID, terminal_id, client_ref, wall_time)
            cand = cand._replace(kind=unknown.kind, product=unknown.product,
                                 account=unknown.account, amount_fen=unknown.amount_fen)
            stored, _ = self._store(conn, terminal_id, [cand])
        return stored[0]

    def _host_record(
        self, entry: Entry, terminal_id: str, client_ref: str, wall_time: datetime
    ) -> StoredRecord:
        return StoredRecord(
            0, self.station_id, terminal_id, entry, "", client_ref, "", "", "", 0, "", None,
            "", "", "", None, Source.HOST, require_aware(wall_time, "wall_time"),
            None, None, None, None,
        )

    def _find(self, conn: sqlite3.Connection, terminal_id: str, ident: str) -> StoredRecord | None:
        row = conn.execute(
            SELECT_RECORDS + " WHERE terminal_id=? AND ident=?", (terminal_id, ident)
        ).fetchone()
        return None if row is None else row_record(row)

    def _store(
        self, conn: sqlite3.Connection, terminal_id: str, cands: Sequence[StoredRecord]
    ) -> tuple[list[StoredRecord], list[StoredRecord]]:
        """Insert what is new of host records (unknown, void); terminal results go through
        :func:`.page.store_page`. Returns (stored-or-existing per candidate, new)."""
        idents = [c.ident for c in cands]
        wanted = set(idents) | {"t:" + c.original_ref for c in cands if c.original_ref}
        wanted |= {"u:" + c.client_ref for c in cands
                   if c.client_ref and c.entry is not Entry.UNKNOWN}
        known = lookup(conn, terminal_id, sorted(wanted))
        seq = next_seq(conn)
        out: list[StoredRecord] = []
        new: list[StoredRecord] = []
        new_idents: list[str] = []
        for cand, ident in zip(cands, idents, strict=True):
            existing = known.get(ident)
            if existing is not None:
                note_conflict(conn, existing, cand)
                out.append(existing)
                continue
            refers = None
            if cand.client_ref and cand.entry is not Entry.UNKNOWN:
                unknown = known.get("u:" + cand.client_ref)
                refers = unknown.seq if unknown is not None else None
            if refers is None and cand.original_ref:
                original = known.get("t:" + cand.original_ref)
                refers = original.seq if original is not None else None
            rec = cand._replace(seq=seq, refers_to_seq=refers)
            seq += 1
            known[ident] = rec
            out.append(rec)
            new.append(rec)
            new_idents.append(ident)
        if new:
            rows = [record_row(r, i) for r, i in zip(new, new_idents, strict=True)]
            conn.executemany(INSERT_RECORD, rows)
        return out, new

    # ------------------------------------------------------------------ cursors

    def get_cursor(self, terminal_id: str) -> int | None:
        """The last journal cursor stored for a terminal (``None`` if never read)."""
        with storage_errors(self._where):
            row = self._conn.execute(
                "SELECT cursor FROM cursors WHERE terminal_id=?", (terminal_id,)
            ).fetchone()
        return None if row is None else int(row[0])

    def set_cursor(self, terminal_id: str, cursor: int, wall_time: datetime) -> None:
        with immediate(self._conn, self._where) as conn:
            self._set_cursor(conn, terminal_id, cursor, wall_time)

    @staticmethod
    def _set_cursor(
        conn: sqlite3.Connection, terminal_id: str, cursor: int, when: datetime
    ) -> None:
        conn.execute(
            "INSERT INTO cursors (terminal_id, cursor, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(terminal_id) DO UPDATE SET cursor=excluded.cursor, "
            "updated_at=excluded.updated_at",
            (terminal_id, cursor, ts_text(require_aware(when, "wall_time"))),
        )

    # ------------------------------------------------------------------ reading, syncing

    def last_seq(self) -> int:
        with storage_errors(self._where):
            row = self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()
        return int(row[0])

    def synced_upto(self) -> int:
        """The hub's high-water mark as last acknowledged (0 before the first upload)."""
        with storage_errors(self._where):
            row = self._conn.execute("SELECT value FROM meta WHERE key='synced_upto'").fetchone()
        return 0 if row is None else int(row[0])

    def records(self, after_seq: int = 0, limit: int | None = None) -> Iterator[StoredRecord]:
        """Records with ``seq > after_seq`` in seq order."""
        sql = SELECT_RECORDS + " WHERE seq > ? ORDER BY seq"
        args: tuple[int, ...] = (after_seq,)
        if limit is not None:
            sql += " LIMIT ?"
            args = (after_seq, limit)
        with storage_errors(self._where):
            rows = self._conn.execute(sql, args).fetchall()
        return (row_record(r) for r in rows)

    def transactions(self) -> list[Transaction]:
        """The effective interchange rows of the whole buffer (:func:`.fold.fold`)."""
        return fold(list(self.records())).rows

    def get(self, seq: int) -> StoredRecord | None:
        with storage_errors(self._where):
            row = self._conn.execute(SELECT_RECORDS + " WHERE seq=?", (seq,)).fetchone()
        return None if row is None else row_record(row)

    def unsynced(self, limit: int = 500) -> list[StoredRecord]:
        """Up to ``limit`` records after the high-water mark, in seq order, never past an
        open quarantine."""
        limit = max(1, limit)
        start = self.synced_upto()
        blocked = self.quarantine_block()
        if blocked is not None:
            limit = min(limit, blocked - start - 1)
            if limit < 1:
                return []
        return list(self.records(start, limit))

    def next_batch(self, limit: int = 500) -> Batch | None:
        """The next gap-free batch to upload, or ``None`` when nothing is pending."""
        recs = self.unsynced(limit)
        if not recs:
            return None
        return Batch(self.station_id, recs[0].seq, recs[-1].seq, tuple(recs))

    def mark_synced(self, upto_seq: int) -> int:
        """Record the hub's high-water mark; never moves backwards. Returns the mark stored."""
        with immediate(self._conn, self._where) as conn:
            last = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()[0]
            if upto_seq > last:
                raise StorageError(
                    f"{self._where}: hub high-water mark {upto_seq} is beyond the buffer's last "
                    f"seq {last}; the hub holds records this buffer does not (replaced buffer?)"
                )
            row = conn.execute("SELECT value FROM meta WHERE key='synced_upto'").fetchone()
            current = 0 if row is None else int(row[0])
            mark = max(current, upto_seq)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('synced_upto', ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (str(mark),),
            )
        return mark
