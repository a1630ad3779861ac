"""What the hub holds, in the reward engine's transactions interchange format.

Contract:
- :func:`hub_transactions` yields :class:`~stationlink.interchange.Transaction` rows folded
  exactly like the station buffer's export (:func:`stationlink.buffer.fold.fold`), with the
  drift-corrected ``ts`` stored at ingest. With ``month`` it covers the transactions of that
  CST month; by default it leaves out records that arrived after the month closed (late),
  so a paid statement never changes; ``include_late=True`` gives the adjusted view.
  Referrals (and their cancellations) are rows like the terminals' transactions.
- :func:`late_items` lists the late records of a month for adjustment, saying what each does.
- Nothing is written: a missing file, or a file that is not a hub database, is a
  :class:`~stationlink.errors.StorageError` naming it (the file is left untouched).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from ..buffer.fold import fold
from ..buffer.records import Entry
from ..errors import ConfigError
from ..interchange import Transaction
from ..money import fen_to_yuan, parse_month
from .stores import open_hub_store


def _check_month(month: str | None) -> None:
    if month is not None:
        try:
            parse_month(month)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc


def hub_transactions(
    db_path: str | Path, month: str | None = None, *, include_late: bool = False
) -> Iterator[Transaction]:
    """The hub's transactions (module contract)."""
    _check_month(month)
    store = open_hub_store(db_path, create=False)
    try:
        held = list(store.records(month, include_late=include_late))
    finally:
        store.close()
    times = {(h.record.station_id, h.record.seq): h.ts for h in held}
    yield from fold([h.record for h in held], times=times).rows


@dataclass(frozen=True)
class LateItem:
    station_id: str
    seq: int
    txn_id: str
    entry: str
    kind: str
    product: str
    amount: Decimal
    status: str
    ts: datetime
    received_at: datetime
    effect: str

    def as_row(self) -> dict[str, str]:
        """The item as a report row: its fields in order, times in ISO 8601."""
        return {name: _text(getattr(self, name)) for name in LATE_COLUMNS}


#: The late-records report's columns: :class:`LateItem`'s fields, in order.
LATE_COLUMNS = tuple(f.name for f in dataclass_fields(LateItem))


def _text(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def late_items(db_path: str | Path, month: str | None = None) -> list[LateItem]:
    """Records that arrived after their month closed (module contract)."""
    _check_month(month)
    store = open_hub_store(db_path, create=False)
    try:
        held = store.late_records(month)
    finally:
        store.close()
    out = []
    for h in held:
        r = h.record
        if r.entry is Entry.TXN and r.kind == "reversal":
            effect = f"reverses {r.station_id}-{r.terminal_id}-{r.original_ref}"
        elif r.entry is Entry.TXN:
            effect = f"adds a {r.status} transaction"
        elif r.entry is Entry.UNKNOWN:
            effect = "outcome unknown (not a transaction until resolved)"
        elif r.entry is Entry.REFERRAL:
            effect = f"adds a {r.product} referral"
        elif r.entry is Entry.CANCEL:
            effect = f"cancels referral {r.txn_id}"
        else:
            effect = "an unknown outcome resolved as never happened"
        txn_id = r.txn_id if r.entry in (Entry.TXN, Entry.REFERRAL) else ""
        out.append(LateItem(r.station_id, r.seq, txn_id, r.entry.value, r.kind, r.product,
                            fen_to_yuan(r.amount_fen), r.status, h.ts, h.received_at, effect))
    return out
