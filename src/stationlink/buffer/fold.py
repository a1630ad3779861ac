"""The effective interchange view of a station's records (used by the buffer and the hub).

Contract (:func:`fold`), over records given in ``seq`` order:
- Every transaction result (entry ``txn``) that is not a reversal becomes one
  :class:`~stationlink.interchange.Transaction` with ``txn_id``
  ``"<station>-<terminal>-<terminal ref>"``, amount in exact yuan, ``card`` = the card token.
- An approved reversal record turns its original (same station and terminal,
  ``original_ref``) from ``approved`` to ``reversed``; the reversal itself is never a row.
  A reversal whose original is not among the records is counted in ``orphan_reversals``.
- Unknown and void records are never rows (an unresolved unknown is counted by the stats).
- A referral record (entry ``referral``) is one row: ``txn_id`` ``"<station>-PC-<referral
  id>"``, an empty ``terminal_id`` (no terminal), kind ``referral``, its product and amount,
  no card, status ``approved``, ``ts`` = the PC's wall time of its entry to the second (the
  time of any record without a terminal clock). A cancellation
  (entry ``cancel``) turns it to ``reversed`` and is never a row itself; one whose referral is
  not among the records is counted in ``orphan_reversals`` too.
- ``ts`` is the terminal's clock, corrected for drift (:func:`effective_ts`): the first *live*
  record of a (station, terminal, boot id) is an anchor pairing the PC's wall time with the
  terminal's monotonic uptime; a later record of the same boot whose terminal clock differs
  from ``anchor wall time + uptime elapsed`` by more than :data:`DRIFT_TOLERANCE` gets the
  anchored time instead. Records before the first anchor of their boot keep their own clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ..interchange import Transaction
from ..money import CST, fen_to_yuan
from .records import Entry, Source, StoredRecord

DRIFT_TOLERANCE = timedelta(minutes=2)

AnchorKey = tuple[str, str, int]
Anchors = dict[AnchorKey, tuple[datetime, int]]


def effective_ts(rec: StoredRecord, anchors: Anchors) -> datetime:
    """The record's transaction time (see module contract); may add an anchor for a live one."""
    if rec.terminal_time is None:  # a host record: the PC's clock, to the second
        return rec.wall_time.replace(microsecond=0).astimezone(CST)
    own = rec.terminal_time
    if rec.boot_id is None or rec.uptime_ms is None:
        return own.astimezone(CST)
    key = (rec.station_id, rec.terminal_id, rec.boot_id)
    anchor = anchors.get(key)
    if anchor is None:
        if rec.source is not Source.LIVE:
            return own.astimezone(CST)
        anchor = (rec.wall_time, rec.uptime_ms)
        anchors[key] = anchor
    estimate = anchor[0] + timedelta(milliseconds=rec.uptime_ms - anchor[1])
    if abs(estimate - own) > DRIFT_TOLERANCE:
        return estimate.astimezone(CST)
    return own.astimezone(CST)


def to_transaction(rec: StoredRecord, ts: datetime) -> Transaction:
    return Transaction(
        txn_id=rec.txn_id,
        station_id=rec.station_id,
        terminal_id=rec.terminal_id,
        ts=ts,
        kind=rec.kind,
        product=rec.product,
        amount=fen_to_yuan(rec.amount_fen),
        card=rec.card_token,
        status=rec.status,
    )


def referral_transaction(rec: StoredRecord, ts: datetime) -> Transaction:
    return Transaction(
        txn_id=rec.txn_id,
        station_id=rec.station_id,
        terminal_id="",
        ts=ts,
        kind=rec.kind,
        product=rec.product,
        amount=fen_to_yuan(rec.amount_fen),
        card="",
        status="approved",
    )


@dataclass
class FoldResult:
    rows: list[Transaction] = field(default_factory=list)
    orphan_reversals: list[StoredRecord] = field(default_factory=list)


def fold(
    records: Iterable[StoredRecord],
    anchors: Anchors | None = None,
    times: dict[tuple[str, int], datetime] | None = None,
) -> FoldResult:
    """Fold records into interchange rows (module contract).

    ``times`` may give a precomputed ``ts`` per (station, seq) (the hub stores it at ingest);
    otherwise :func:`effective_ts` is applied with ``anchors`` (fresh if ``None``).
    """
    anchors = {} if anchors is None else anchors
    rows: dict[tuple[str, str, str], Transaction] = {}
    reversals: list[StoredRecord] = []
    cancels: list[StoredRecord] = []
    txn, referral, cancel = Entry.TXN, Entry.REFERRAL, Entry.CANCEL
    for rec in records:
        entry = rec.entry
        if entry is cancel:
            cancels.append(rec)
            continue
        if entry is not txn and entry is not referral:
            continue
        if times is not None and (rec.station_id, rec.seq) in times:
            ts = times[(rec.station_id, rec.seq)]
        else:
            ts = effective_ts(rec, anchors)
        if entry is referral:
            key = (rec.station_id, rec.terminal_id, "r:" + rec.client_ref)
            rows.setdefault(key, referral_transaction(rec, ts))
            continue
        if rec.kind == "reversal":
            if rec.status == "approved":
                reversals.append(rec)
            continue
        key = (rec.station_id, rec.terminal_id, rec.terminal_ref)
        rows.setdefault(key, to_transaction(rec, ts))
    result = FoldResult()
    for rev in reversals:
        key = (rev.station_id, rev.terminal_id, rev.original_ref)
        original = rows.get(key)
        if original is None:
            result.orphan_reversals.append(rev)
        elif original.status == "approved":
            rows[key] = replace(original, status="reversed")
    for rec in cancels:
        key = (rec.station_id, rec.terminal_id, "r:" + rec.client_ref)
        original = rows.get(key)
        if original is None:
            result.orphan_reversals.append(rec)
        else:
            rows[key] = replace(original, status="reversed")
    result.rows = list(rows.values())
    return result
