"""What the station buffer stores: :class:`StoredRecord` and its identity.

Contract:
- A record is immutable once stored. Its *identity* is fixed at capture: station id,
  terminal id and an identity key (:attr:`StoredRecord.ident`):
  ``t:<terminal ref>`` for a transaction result, ``u:<client ref>`` for an outcome the host
  could not learn (*unknown*), ``v:<client ref>`` for an unknown later found never to have
  happened (*void*), ``r:<referral id>`` for a referral entered at the station PC and
  ``c:<referral id>`` for its cancellation (both under the pseudo-terminal
  :data:`REFERRAL_TERMINAL`, the referral id in ``client_ref``). The per-station ``seq`` is
  assigned when the record is committed.
- A later fact about an earlier record is a new record that refers to it
  (``refers_to_seq``): a journal result resolving an unknown, a void, a reversal, a
  referral's cancellation.
- Money is integer fen. Timestamps are timezone-aware. A full card number is never
  accepted: :func:`from_journal` refuses a :class:`~stationlink.protocol.messages.ClearPan`
  with :class:`RefusedRecordError`; only the masked number and the keyed token are kept.
- A terminal's record is stored only if it is a valid transaction by the one set of rules
  (:mod:`stationlink.records.rules`, applied by :func:`rule_problem`): the hub applies the
  same rules to what the buffer uploads, so the buffer never holds what the hub refuses
  (but for a station PC clock more than a day ahead of the hub's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..errors import RefusedRecordError
from ..protocol import CardRef, ClearPan, JournalRecord
from ..records import rules
from ..records.fields import IDENT_PREFIX, REFERRAL_ENTRIES, StoredRecord, ident_of
from ..records.fields import INT_RANGES as _RANGES
from ..records.vocab import (
    MAX_TEXT,
    REFERRAL_PRODUCTS,
    STATUSES,
    TERMINAL_KINDS,
    Entry,
    Kind,
    Source,
)

KIND_VALUES = frozenset(TERMINAL_KINDS)
STATUS_VALUES = frozenset(STATUSES)
#: Referrals and their cancellations are kept under this pseudo-terminal id; a real terminal
#: id has 8 characters (the protocol's width), so the two never meet.
REFERRAL_TERMINAL = "PC"
REFERRAL_KIND = Kind.REFERRAL.value
REFERRAL_PRODUCT_VALUES = frozenset(REFERRAL_PRODUCTS)


def require_aware(ts: datetime, name: str) -> datetime:
    if ts.tzinfo is None or ts.tzinfo.utcoffset(ts) is None:
        raise RefusedRecordError(f"{name} has no UTC offset: {ts.isoformat()}")
    return ts


def check_card_fields(token: str, masked: str) -> None:
    """Defence in depth: neither field may carry a full card number (``rules.card_problem``)."""
    for name, value in (("card token", token), ("masked card", masked)):
        problem = rules.card_problem(value)
        if problem is not None:
            raise RefusedRecordError(f"{name} {problem}; refused")


def card_fields(terminal_id: str, rec: JournalRecord) -> tuple[str, str]:
    """(token, masked number) to store for a record's card; a full card number is refused."""
    card = rec.card
    if card is None:
        return "", ""
    if isinstance(card, ClearPan):
        raise RefusedRecordError(
            f"terminal {terminal_id} ref {rec.ref!r}: refusing to store a full card number "
            f"({card.masked}); tokenize it at the protocol boundary"
        )
    token, masked = ("", "")
    if isinstance(card, CardRef):
        token, masked = card.token, card.masked
    check_card_fields(token, masked)
    return token, masked


#: Integer fields of a journal record (attribute, stored field) and their range, from the
#: declaration (``records.fields``; ``docs/formats.md``, "Limits").
INT_RANGES = tuple((attr, *_RANGES[field]) for attr, field in (
    ("uptime_ms", "uptime_ms"), ("boot_id", "boot_id"), ("cursor", "journal_cursor")))


def rule_problem(
    terminal_id: str, rec: JournalRecord, token: str, wall_time: datetime
) -> str | None:
    """The first rule of :mod:`stationlink.records.rules` that a terminal's record breaks,
    as ``"<field> <reason>"``, else ``None``. The window around the time of receipt is the
    hub's to check (against its own clock); the buffer checks the times' range and offset."""
    joined = f"{terminal_id}|{rec.ref}|{rec.client_ref}|{rec.original_ref}"
    # the common case at a glance: short, printable, no formula start, and no space or
    # dash (without which no separated card number exists); else reference by reference
    if (len(joined) > MAX_TEXT or not joined.isprintable() or " " in joined or "-" in joined
            or not rules.FORMULA_START.isdisjoint(
                {terminal_id[:1], rec.ref[:1], rec.client_ref[:1], rec.original_ref[:1]})):
        for name, value in (("terminal_id", terminal_id), ("ref", rec.ref),
                            ("client_ref", rec.client_ref), ("original_ref", rec.original_ref)):
            problem = rules.reference_problem(value)
            if problem is not None:
                return f"{name} {problem}"
    kind, status = rec.kind.value, rec.status.value
    checks = (
        ("product", rules.product_problem(kind, rec.product)),
        ("account", rules.account_problem(kind, rec.product, status, rec.account)),
        ("amount_fen", rules.amount_problem(kind, status, rec.amount_fen)),
        ("card", rules.card_required_problem(kind, status, token)),
        ("wall_time", rules.time_problem(wall_time)),
        ("terminal_time", rules.time_problem(rec.terminal_time)),
    )
    for name, problem in checks:
        if problem is not None:
            return f"{name} {problem}"
    for name, low, high in INT_RANGES:
        problem = rules.integer_problem(getattr(rec, name), low, high)
        if problem is not None:
            return f"{name} {problem}"
    return None


def check_rules(terminal_id: str, rec: JournalRecord, token: str, wall_time: datetime) -> None:
    """:func:`rule_problem`, raised as :class:`RefusedRecordError` naming the record by its
    journal cursor (never by a value that may hold a card number)."""
    problem = rule_problem(terminal_id, rec, token, wall_time)
    if problem is not None:
        raise RefusedRecordError(f"terminal {rules.shown(terminal_id)} record at journal "
                                 f"cursor {rec.cursor}: {problem}")


def from_journal(
    station_id: str,
    terminal_id: str,
    rec: JournalRecord,
    wall_time: datetime,
    source: Source,
) -> StoredRecord:
    """A terminal's journal record as an (uncommitted) buffer record (checked by
    :func:`check_journal`)."""
    token, masked = check_journal(terminal_id, rec, wall_time)
    return journal_record(station_id, terminal_id, rec, token, masked, wall_time, source)


def check_journal(terminal_id: str, rec: JournalRecord, wall_time: datetime) -> tuple[str, str]:
    """Every check a terminal's record passes before it is stored, in this order, the first
    failure raised as :class:`RefusedRecordError`: no full card number, a ref, an amount
    not negative, aware times, then the rules (:func:`check_rules`). Returns the card's
    (token, masked number) to store. The one copy of the buffer's checks: record by record
    (:func:`from_journal`, :func:`.ingest.journal_rows`); the page path's column-by-column
    fast check (:mod:`._fast`) accepts only what this accepts and otherwise defers to it."""
    token, masked = card_fields(terminal_id, rec)
    if not rec.ref:
        raise RefusedRecordError(f"terminal {terminal_id}: journal record without a ref")
    if rec.amount_fen < 0:
        raise RefusedRecordError(f"terminal {terminal_id} ref {rec.ref!r}: negative amount")
    require_aware(wall_time, "wall_time")
    require_aware(rec.terminal_time, "terminal_time")
    check_rules(terminal_id, rec, token, wall_time)
    return token, masked


def journal_record(
    station_id: str, terminal_id: str, rec: JournalRecord, token: str, masked: str,
    wall_time: datetime, source: Source, seq: int = 0, refers_to_seq: int | None = None,
) -> StoredRecord:
    """The record of a terminal's journal record, its card as ``token`` and ``masked``
    (no check: :func:`from_journal` checks first)."""
    return StoredRecord(
        seq=seq,
        station_id=station_id,
        terminal_id=terminal_id,
        entry=Entry.TXN,
        terminal_ref=rec.ref,
        client_ref=rec.client_ref,
        kind=rec.kind.value,
        product=rec.product,
        account=rec.account,
        amount_fen=rec.amount_fen,
        status=rec.status.value,
        result=int(rec.result),
        card_token=token,
        card_masked=masked,
        original_ref=rec.original_ref,
        refers_to_seq=refers_to_seq,
        source=source,
        wall_time=wall_time,
        terminal_time=rec.terminal_time,
        uptime_ms=rec.uptime_ms,
        boot_id=rec.boot_id,
        journal_cursor=rec.cursor,
    )


@dataclass(frozen=True, slots=True)
class Batch:
    """A gap-free run of one station's records, ready to upload."""

    station_id: str
    first_seq: int
    last_seq: int
    records: tuple[StoredRecord, ...]


#: The buffer's record vocabulary; the record itself is declared in :mod:`stationlink.records`
#: (``StoredRecord``, ``Entry``, ``Source``, identities) and re-exported here.
__all__ = [
    "IDENT_PREFIX", "INT_RANGES", "KIND_VALUES", "REFERRAL_ENTRIES", "REFERRAL_KIND",
    "REFERRAL_PRODUCT_VALUES", "REFERRAL_TERMINAL", "STATUS_VALUES", "Batch", "Entry",
    "RefusedRecordError", "Source", "StoredRecord", "card_fields", "check_card_fields",
    "check_journal", "check_rules", "from_journal", "ident_of", "journal_record",
    "require_aware", "rule_problem",
]
