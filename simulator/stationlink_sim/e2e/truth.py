"""What the terminals actually did, as interchange rows, and the check of the hub against it.

Contract:
- :func:`terminal_truth` reads an emulated terminal's own journal (the device model's, not
  anything the host saw) and gives one :class:`~stationlink.interchange.Transaction` per
  payment, withdrawal and balance inquiry, declines included, folded like the buffer's and
  the hub's export: ``txn_id`` ``<station>-<terminal>-<terminal ref>``, an approved reversal
  turns its original's status to ``reversed`` and is not a row itself, ``card`` = the keyed
  card token (a ``mispos-1`` record's full number is tokenised here and never kept), ``ts`` =
  the terminal's own clock at one-second resolution (what it puts on the wire).
- :func:`compare` checks the hub's rows against the truth: rows missing from the hub,
  rows the hub has that no terminal made, rows whose content differs (station, terminal,
  kind, product, amount, card, status), duplicate ``txn_id`` s in the hub's export and the
  hub's internal duplicates; ``ts`` differences are counted apart (``ts_differ``), since the
  hub corrects a drifting terminal clock by design. :attr:`Comparison.ok` is true when
  nothing but ``ts`` differs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from stationlink.interchange import Transaction
from stationlink.money import fen_to_yuan, format_yuan, to_cst
from stationlink.protocol import CardRef, ClearPan, JournalRecord, TxnKind, TxnStatus

from ..journal import Journal

FIELDS = ("station_id", "terminal_id", "kind", "product", "amount", "card", "status")


def _card(record: JournalRecord, card_key: bytes) -> str:
    card = record.card
    if isinstance(card, ClearPan):
        return card.to_ref(card_key).token
    if isinstance(card, CardRef):
        return card.token
    return ""


def terminal_truth(
    station_id: str, terminal_id: str, journal: Journal, card_key: bytes
) -> list[Transaction]:
    """The rows of one terminal's journal (module contract)."""
    rows = []
    for rec in journal:
        if rec.kind is TxnKind.REVERSAL:
            continue
        status = rec.status.value
        if rec.status is TxnStatus.APPROVED and journal.is_reversed(rec.ref):
            status = TxnStatus.REVERSED.value
        rows.append(Transaction(
            txn_id=f"{station_id}-{terminal_id}-{rec.ref}",
            station_id=station_id,
            terminal_id=terminal_id,
            ts=to_cst(rec.terminal_time.replace(microsecond=0)),
            kind=rec.kind.value,
            product=rec.product,
            amount=fen_to_yuan(rec.amount_fen),
            card=_card(rec, card_key),
            status=status,
        ))
    return rows


@dataclass
class Comparison:
    """The hub against the truth (module contract)."""

    truth_rows: int = 0
    hub_rows: int = 0
    truth_by_status: dict[str, int] = field(default_factory=dict)
    hub_by_status: dict[str, int] = field(default_factory=dict)
    truth_approved_amount: Decimal = Decimal("0.00")
    hub_approved_amount: Decimal = Decimal("0.00")
    missing: list[str] = field(default_factory=list)  # txn_ids the hub lacks
    unexpected: list[str] = field(default_factory=list)  # txn_ids no terminal made
    differing: list[str] = field(default_factory=list)  # "txn_id: field truth != hub"
    duplicate_ids: list[str] = field(default_factory=list)  # repeated in the hub export
    hub_duplicates: int = 0  # records the hub kept as duplicates (never exported)
    ts_differ: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.differing or self.duplicate_ids
                    or self.hub_duplicates)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "truth_rows": self.truth_rows,
            "hub_rows": self.hub_rows,
            "truth_by_status": self.truth_by_status,
            "hub_by_status": self.hub_by_status,
            "truth_approved_amount": format_yuan(self.truth_approved_amount),
            "hub_approved_amount": format_yuan(self.hub_approved_amount),
            "missing": self.missing,
            "unexpected": self.unexpected,
            "differing": self.differing,
            "duplicate_ids": self.duplicate_ids,
            "hub_duplicates": self.hub_duplicates,
            "ts_differ": self.ts_differ,
        }

    def lines(self) -> list[str]:
        """The check as text, one finding a line."""
        verdict = "hub == truth" if self.ok else "hub DIFFERS from truth"
        out = [
            f"{verdict}: truth {self.truth_rows} rows, {_statuses(self.truth_by_status)}, "
            f"approved {format_yuan(self.truth_approved_amount)} yuan; hub {self.hub_rows} rows, "
            f"{_statuses(self.hub_by_status)}, approved {format_yuan(self.hub_approved_amount)} "
            "yuan",
            f"  missing from the hub {len(self.missing)}, not made by any terminal "
            f"{len(self.unexpected)}, differing {len(self.differing)}, duplicates "
            f"{len(self.duplicate_ids) + self.hub_duplicates}, times corrected by the hub "
            f"{self.ts_differ}",
        ]
        for label, items in (("missing", self.missing), ("unexpected", self.unexpected),
                             ("differs", self.differing), ("duplicate", self.duplicate_ids)):
            out.extend(f"  {label}: {item}" for item in items[:20])
            if len(items) > 20:
                out.append(f"  {label}: ... and {len(items) - 20} more")
        return out


def _statuses(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts.get(s, 0)} {s}" for s in ("approved", "declined", "reversed"))


def _approved(rows: Iterable[Transaction]) -> Decimal:
    return sum((r.amount for r in rows if r.status == "approved"), Decimal("0.00"))


def compare(
    hub: Sequence[Transaction], truth: Sequence[Transaction], *, hub_duplicates: int = 0
) -> Comparison:
    """Check the hub's rows against the truth (module contract)."""
    result = Comparison(
        truth_rows=len(truth), hub_rows=len(hub),
        truth_by_status=dict(Counter(r.status for r in truth)),
        hub_by_status=dict(Counter(r.status for r in hub)),
        truth_approved_amount=_approved(truth), hub_approved_amount=_approved(hub),
        hub_duplicates=hub_duplicates,
    )
    ids = Counter(r.txn_id for r in hub)
    result.duplicate_ids = sorted(i for i, n in ids.items() if n > 1)
    held = {r.txn_id: r for r in hub}
    want = {r.txn_id: r for r in truth}
    result.missing = sorted(set(want) - set(held))
    result.unexpected = sorted(set(held) - set(want))
    for txn_id in sorted(set(want) & set(held)):
        t, h = want[txn_id], held[txn_id]
        for name in FIELDS:
            if getattr(t, name) != getattr(h, name):
                result.differing.append(
                    f"{txn_id}: {name} {getattr(t, name)!s} != {getattr(h, name)!s}")
        if t.ts != h.ts:
            result.ts_differ += 1
    return result
