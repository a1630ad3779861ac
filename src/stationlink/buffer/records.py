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
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from ..errors import StorageError
from ..interchange import REFERRAL_PRODUCTS
from ..protocol.messages import CardRef, ClearPan, JournalRecord, TxnKind


class RefusedRecordError(StorageError):
    """A record the buffer will not store (full card number, naive time, bad field)."""


class Entry(enum.StrEnum):
    """What a stored record is."""

    TXN = "txn"  # a transaction result as the terminal stored it (live or from its journal)
    UNKNOWN = "unknown"  # a money-moving request whose outcome the host could not learn
    VOID = "void"  # an unknown found (by status query) never to have reached the journal
    REFERRAL = "referral"  # a referral entered by the station operator (no terminal)
    CANCEL = "cancel"  # the cancellation of a referral (refers to it; never an edit)


class Source(enum.StrEnum):
    LIVE = "live"  # the response to our own request
    JOURNAL = "journal"  # read from the terminal's journal
    HOST = "host"  # written by the host itself (unknown, void, referral, cancel)


KIND_VALUES = frozenset(k.value for k in TxnKind)
STATUS_VALUES = frozenset({"approved", "declined", "reversed"})
#: Referrals and their cancellations are kept under this pseudo-terminal id; a real terminal
#: id has 8 characters (the protocol's width), so the two never meet.
REFERRAL_TERMINAL = "PC"
REFERRAL_KIND = "referral"
REFERRAL_ENTRIES = frozenset({Entry.REFERRAL, Entry.CANCEL})
REFERRAL_PRODUCT_VALUES = frozenset(REFERRAL_PRODUCTS)


class StoredRecord(NamedTuple):
    """One immutable buffer record (see module contract). ``seq`` is 0 until committed.

    A ``NamedTuple`` rather than a frozen dataclass: bulk journal ingest builds one per row.
    """

    seq: int
    station_id: str
    terminal_id: str
    entry: Entry
    terminal_ref: str
    client_ref: str
    kind: str
    product: str
    account: str
    amount_fen: int
    status: str  # approved / declined / reversed; approved for a referral; '' otherwise
    result: int | None  # the terminal's ResultCode value, None for host records
    card_token: str
    card_masked: str
    original_ref: str  # reversals: the terminal ref of the reversed transaction
    refers_to_seq: int | None  # the earlier record this one resolves or reverses
    source: Source
    wall_time: datetime  # station PC clock when the record was captured
    terminal_time: datetime | None  # the terminal's own clock
    uptime_ms: int | None  # terminal monotonic uptime
    boot_id: int | None  # terminal boot identifier
    journal_cursor: int | None  # position in the terminal's journal, when known

    @property
    def ident(self) -> str:
        """The identity key, unique per (station, terminal)."""
        return ident_of(self.entry, self.terminal_ref, self.client_ref)

    @property
    def txn_id(self) -> str:
        """The stable interchange ``txn_id`` of a transaction result
        (``<station>-<terminal>-<terminal ref>``) or of a referral (and of the referral a
        cancellation cancels): ``<station>-PC-<referral id>``."""
        if self.entry in REFERRAL_ENTRIES:
            return f"{self.station_id}-{self.terminal_id}-{self.client_ref}"
        return f"{self.station_id}-{self.terminal_id}-{self.terminal_ref}"


IDENT_PREFIX = {Entry.UNKNOWN: "u:", Entry.VOID: "v:", Entry.REFERRAL: "r:", Entry.CANCEL: "c:"}


def ident_of(entry: Entry, terminal_ref: str, client_ref: str) -> str:
    """The identity key: ``t:<terminal ref>`` for a terminal result, else the entry's prefix
    and the host reference (``client_ref``; a referral's id)."""
    if entry is Entry.TXN:
        return "t:" + terminal_ref
    return IDENT_PREFIX[entry] + client_ref


def require_aware(ts: datetime, name: str) -> datetime:
    if ts.tzinfo is None or ts.tzinfo.utcoffset(ts) is None:
        raise RefusedRecordError(f"{name} has no UTC offset: {ts.isoformat()}")
    return ts


def check_card_fields(token: str, masked: str) -> None:
    """Defence in depth: neither field may carry a full card number."""
    for name, value in (("card token", token), ("masked card", masked)):
        if value.isdigit() and len(value) >= 12:
            raise RefusedRecordError(f"{name} looks like a full card number; refused")


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


def from_journal(
    station_id: str,
    terminal_id: str,
    rec: JournalRecord,
    wall_time: datetime,
    source: Source,
) -> StoredRecord:
    """A terminal's journal record as an (uncommitted) buffer record."""
    token, masked = card_fields(terminal_id, rec)
    if not rec.ref:
        raise RefusedRecordError(f"terminal {terminal_id}: journal record without a ref")
    if rec.amount_fen < 0:
        raise RefusedRecordError(f"terminal {terminal_id} ref {rec.ref!r}: negative amount")
    return StoredRecord(
        seq=0,
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
        refers_to_seq=None,
        source=source,
        wall_time=require_aware(wall_time, "wall_time"),
        terminal_time=require_aware(rec.terminal_time, "terminal_time"),
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
