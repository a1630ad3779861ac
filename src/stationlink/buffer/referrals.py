"""Referrals entered at the station PC: :class:`ReferralMixin` of :class:`~.store.Buffer`.

A referral (转介绍: a 惠农通 account opened, a financial or car-insurance lead, a car-insurance
sale) is no terminal transaction; the operator enters it at the PC and the reward engine pays
it (``kind=referral`` rows of ``docs/formats.md``). The buffer keeps it like every other
record, so it reaches the hub with the station's gap-free sequence.

Contract:
- :meth:`ReferralMixin.record_referral` stores one record: entry ``referral``, identity
  ``r:<referral id>``, terminal id :data:`~.records.REFERRAL_TERMINAL` (``"PC"``), the
  referral id in ``client_ref``, kind ``referral``, the product, ``amount_fen`` (0 unless
  given), status ``approved``, source ``host``, the operator's note in ``account``; the next
  gap-free seq; committed before the method returns.
- The referral id is the operator's (``referral_id``) or, when not given, generated inside
  the write transaction: ``<CST date of wall_time, YYYYMMDD>-<n>`` (``20140610-001``), ``n``
  counting that day's referrals and skipping ids already taken. Unique per station.
- Idempotent on identity: the same id again with the same product and amount returns the
  record already stored (its note is kept). The same id with another product or amount is
  refused (:class:`~.records.RefusedRecordError` naming the stored record): a referral is
  never edited.
- :meth:`ReferralMixin.cancel_referral` stores a cancellation: entry ``cancel``, identity
  ``c:<referral id>``, ``refers_to_seq`` = the referral, same kind, product and amount, no
  status. Idempotent; a referral id not in the buffer is refused. Exported, the referral's
  row then has status ``reversed`` (``docs/buffer.md``).
- Refused before anything is written: a product that is not a referral product, a naive
  ``wall_time``, a negative or non-integer amount, an id that is not 1-64 characters of
  ``A-Z a-z 0-9 . _ / : -`` starting with a letter or digit, a note over
  :data:`MAX_NOTE` characters or with control characters, and an id or note holding a run of
  13 or more digits (it could be a card number, which is never stored).
"""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime

from ..interchange import REFERRAL_PRODUCTS
from ..money import to_cst
from ..records import rules
from .db import immediate, storage_errors
from .ingest import next_seq
from .records import (
    REFERRAL_KIND,
    REFERRAL_TERMINAL,
    Entry,
    RefusedRecordError,
    Source,
    StoredRecord,
    require_aware,
)
from .schema import INSERT_RECORD, SELECT_RECORDS, record_row, row_record

MAX_NOTE = 200  # the hub's limit of a text field
REFERRAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:-]{0,63}")
CARD_LIKE = re.compile(r"\d{13,}")


def check_referral_id(referral_id: str) -> str:
    if not isinstance(referral_id, str) or REFERRAL_ID.fullmatch(referral_id) is None:
        raise RefusedRecordError(
            f"referral id {referral_id!r}: use 1-64 characters A-Z a-z 0-9 . _ / : - "
            "starting with a letter or digit")
    if CARD_LIKE.search(referral_id) or rules.reference_problem(referral_id) is not None:
        raise RefusedRecordError(
            f"referral id {rules.shown(referral_id)} holds 13 or more digits in a row or a "
            "card number written with dashes (a card number?)")
    return referral_id


def check_note(note: str) -> str:
    if not isinstance(note, str):
        raise RefusedRecordError(f"a referral note is text, not {type(note).__name__}")
    if len(note) > MAX_NOTE:
        raise RefusedRecordError(f"referral note longer than {MAX_NOTE} characters")
    if not note.isprintable():
        raise RefusedRecordError("referral note with control characters (one line of text)")
    if CARD_LIKE.search(note) or rules.text_problem(note) is not None:
        raise RefusedRecordError(
            "referral note holds 13 or more digits in a row or a card number written with "
            "spaces or dashes (a card number?); refused")
    return note


def check_product(product: str) -> str:
    if product not in REFERRAL_PRODUCTS:
        raise RefusedRecordError(
            f"not a referral product: {product!r} (one of {', '.join(REFERRAL_PRODUCTS)})")
    return product


class ReferralMixin:
    """Referral methods of :class:`~.store.Buffer` (module contract)."""

    _conn: sqlite3.Connection
    _where: str
    station_id: str

    def record_referral(
        self, product: str, *, wall_time: datetime, referral_id: str | None = None,
        note: str = "", amount_fen: int = 0,
    ) -> StoredRecord:
        """Store a referral (module contract); committed on return."""
        check_product(product)
        check_note(note)
        if referral_id is not None:
            check_referral_id(referral_id)
        if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen < 0:
            raise RefusedRecordError(f"amount_fen must be a whole number >= 0, not {amount_fen!r}")
        too_much = rules.amount_problem(REFERRAL_KIND, "approved", amount_fen)
        if too_much is not None:
            raise RefusedRecordError(f"amount_fen {too_much}")
        wall = require_aware(wall_time, "wall_time")
        with immediate(self._conn, self._where) as conn:
            rid = referral_id if referral_id is not None else _new_id(conn, wall)
            existing = _find(conn, "r:" + rid)
            if existing is not None:
                if (existing.product, existing.amount_fen) != (product, amount_fen):
                    raise RefusedRecordError(
                        f"referral {rid!r} is already stored (seq {existing.seq}, "
                        f"{existing.product}, {existing.amount_fen} fen); a referral is never "
                        "edited: cancel it and record a new one")
                return existing
            rec = StoredRecord(
                next_seq(conn), self.station_id, REFERRAL_TERMINAL, Entry.REFERRAL, "", rid,
                REFERRAL_KIND, product, note, amount_fen, "approved", None, "", "", "", None,
                Source.HOST, wall, None, None, None, None,
            )
            conn.execute(INSERT_RECORD, record_row(rec))
        return rec

    def cancel_referral(self, referral_id: str, *, wall_time: datetime) -> StoredRecord:
        """Store the cancellation of a stored referral (module contract); committed on return."""
        check_referral_id(referral_id)
        wall = require_aware(wall_time, "wall_time")
        with immediate(self._conn, self._where) as conn:
            referral = _find(conn, "r:" + referral_id)
            if referral is None:
                raise RefusedRecordError(f"no referral {referral_id!r} in this buffer")
            existing = _find(conn, "c:" + referral_id)
            if existing is not None:
                return existing
            rec = StoredRecord(
                next_seq(conn), self.station_id, REFERRAL_TERMINAL, Entry.CANCEL, "",
                referral_id, REFERRAL_KIND, referral.product, "", referral.amount_fen, "", None,
                "", "", "", referral.seq, Source.HOST, wall, None, None, None, None,
            )
            conn.execute(INSERT_RECORD, record_row(rec))
        return rec

    def referral(self, referral_id: str) -> tuple[StoredRecord | None, StoredRecord | None]:
        """(the referral, its cancellation) stored under ``referral_id``; ``None`` if absent."""
        with storage_errors(self._where):
            return _find(self._conn, "r:" + referral_id), _find(self._conn, "c:" + referral_id)


def _find(conn: sqlite3.Connection, ident: str) -> StoredRecord | None:
    row = conn.execute(
        SELECT_RECORDS + " WHERE terminal_id=? AND ident=?", (REFERRAL_TERMINAL, ident)
    ).fetchone()
    return None if row is None else row_record(row)


def _new_id(conn: sqlite3.Connection, wall: datetime) -> str:
    """``<CST date>-<n>``: the first free id from that day's referral count + 1."""
    day = f"{to_cst(wall):%Y%m%d}-"
    count = conn.execute(
        "SELECT COUNT(*) FROM records WHERE terminal_id=? AND ident >= ? AND ident < ?",
        (REFERRAL_TERMINAL, "r:" + day, "r:" + day[:-1] + "."),
    ).fetchone()[0]
    n = int(count) + 1
    while _find(conn, f"r:{day}{n:03d}") is not None:
        n += 1
    return f"{day}{n:03d}"
