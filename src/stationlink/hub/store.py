"""The hub's storage interface: :class:`HubStore`, and the values it deals in.

Contract: the hub's HTTP layer, CLI and export speak only to this small interface, so a
PostgreSQL store can follow the embedded SQLite one (:mod:`stationlink.hub.sqlite_store`).
An implementation must:
- ``ingest``: store a validated batch atomically — whole or not at all, inside **one**
  transaction (which may also carry other stations' batches: group commit) — and return only
  once that transaction is durable. ``first_seq > hwm + 1`` raises
  ``errors.SequenceGapError`` (nothing stored). Records at or below the station's high-water
  mark are a replay: each must equal the record stored at its seq in every field
  (``errors.SequenceConflictError`` naming the differing fields otherwise; nothing of the batch
  is stored) and is not stored again. A new seq whose identity the hub already holds (under
  another seq) is kept as a duplicate (``duplicate_of``) and never exported; a duplicate whose
  transaction content differs from the record it duplicates is a *conflict*
  (:meth:`HubStore.conflicts`). Records get ``received_at`` (the injected clock), an
  effective ``ts`` (:func:`stationlink.buffer.fold.effective_ts`), the month they affect
  (a reversal: its original's month) and a ``late`` flag (:mod:`stationlink.hub.closing`).
  Returns the new high-water mark.
- ``records``: stored, non-duplicate records in (station, seq) order, optionally for one
  affected month and excluding late ones.
- ``conflicts``: the conflicting duplicates (optionally of one station) with the fields that
  differ, derived from the stored rows (no extra column).
- tokens: only hashes are stored; ``station_for_token`` ignores revoked tokens.
- ``month_tallies``: the months' transactions folded exactly as ``records`` + the export's
  fold give them (:mod:`stationlink.hub.month_sql`), aggregated in SQL into
  :class:`MonthTallies`; the reward engine applies its policy on them
  (:func:`stationlink.rewards.from_store.hub_months`) with the same results, to the fen, as
  from the exported CSV.
- wrap every driver error as :class:`~stationlink.errors.StorageError`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ..buffer.records import Batch, StoredRecord


@dataclass(frozen=True)
class IngestResult:
    high_water_mark: int
    accepted: int  # new records stored
    replayed: int  # records at or below the previous high-water mark (already held)
    duplicates: int  # new seqs whose identity the hub already held
    late: int  # new records flagged late


@dataclass(frozen=True)
class HubRecord:
    record: StoredRecord
    received_at: datetime
    ts: datetime  # effective transaction time (drift-corrected)
    affects_month: str
    late: bool


@dataclass(frozen=True)
class Conflict:
    """A duplicate (new seq, identity already held) whose transaction content differs from
    the record it duplicates: both are kept, only ``held`` is exported; an operator decides."""

    station_id: str
    seq: int  # the duplicate
    duplicate_of: int  # the seq of the held (exported) record
    terminal_id: str
    ident: str
    received_at: datetime  # when the duplicate arrived
    fields: tuple[str, ...]  # differing record columns, in column order
    held: StoredRecord
    sent: StoredRecord


@dataclass(frozen=True)
class TokenInfo:
    token_id: str
    station_id: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class StationOverview:
    station_id: str
    high_water_mark: int
    last_contact: datetime | None
    records: int
    late: int
    agent_status: dict[str, Any] | None
    agent_status_at: datetime | None
    devices: list[dict[str, Any]] = field(default_factory=list)  # newest snapshot per terminal
    duplicates: int = 0  # records kept aside as duplicates (never exported)
    conflicts: int = 0  # of them, those whose content differs (HubStore.conflicts)


class CappedCount(Protocol):
    """A count with a per-card-per-day cap (the reward policy's ``CountDef`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def cap_per_card_per_day(self) -> int | None: ...

    def matches(self, kind: str, product: str) -> bool: ...


@dataclass(frozen=True)
class MonthTallies:
    """A month's (or consecutive months') transactions, aggregated where they are stored.

    Rows are the export's rows (one per transaction or referral, reversals and cancellations
    folded into their originals' status). ``cells`` keys are (CST month of the row's ``ts``
    — which may lie outside ``months`` —, station, status, kind, product) -> (rows, sum of
    ``amount_fen``). For each capped count: ``valid[(month, station, name)]`` = the swipes
    that count (per station, card token and CST day the first ``cap`` by time), and ``over``
    one ``(month, station, name, card, CST date, swipes)`` per card-day above the cap.
    """

    months: tuple[str, ...]
    cells: dict[tuple[str, str, str, str, str], tuple[int, int]]
    valid: dict[tuple[str, str, str], int]
    over: list[tuple[str, str, str, str, str, int]]


class HubStore(Protocol):
    """The storage interface of the hub (module contract)."""

    def ingest(self, batch: Batch, now: datetime) -> IngestResult: ...

    def high_water_mark(self, station_id: str) -> int: ...

    def touch(self, station_id: str, now: datetime) -> None: ...

    def add_device_status(
        self, station_id: str, snapshots: Sequence[dict[str, Any]], now: datetime
    ) -> int: ...

    def set_agent_status(self, station_id: str, status: dict[str, Any], now: datetime) -> None: ...

    def overview(self) -> list[StationOverview]: ...

    def records(self, month: str | None = None, *, include_late: bool = True
                ) -> Iterator[HubRecord]: ...

    def late_records(self, month: str | None = None) -> list[HubRecord]: ...

    def month_tallies(self, months: Sequence[str], *, include_late: bool,
                      capped: Sequence[CappedCount]) -> MonthTallies: ...

    def conflicts(self, station_id: str | None = None) -> list[Conflict]: ...

    def add_token(self, token_id: str, station_id: str, token_hash: str, now: datetime
                  ) -> None: ...

    def station_for_token(self, token_hash: str) -> str | None: ...

    def tokens(self) -> list[TokenInfo]: ...

    def revoke_token(self, token_id: str, now: datetime) -> bool: ...

    def close(self) -> None: ...
