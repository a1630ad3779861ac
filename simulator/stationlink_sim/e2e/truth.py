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
  nothing but ``ts`` differs. :meth:`Comparison.lines` renders it in ``lang`` (``en`` unless
  asked; ids stay as they are).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from stationlink.i18n import check_lang, gettext_for
from stationlink.i18n import format_yuan as yuan_for
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

    def lines(self, lang: str = "en") -> list[str]:
        """The check as text, one finding a line, in ``lang`` (``en`` unless asked)."""
        _ = gettext_for(lang)

        def money(amount: Decimal) -> str:
            return yuan_for(amount, lang) if check_lang(lang) == "zh" \
                else f"{format_yuan(amount)} yuan"

        verdict = _("hub == truth") if self.ok else _("hub DIFFERS from truth")
        out = [
            _("{verdict}: truth {truth_rows} rows, {truth_statuses}, approved {truth_amount}; "
              "hub {hub_rows} rows, {hub_statuses}, approved {hub_amount}").format(
                verdict=verdict, truth_rows=self.truth_rows,
                truth_statuses=_statuses(self.truth_by_status, lang),
                truth_amount=money(self.truth_approved_amount), hub_rows=self.hub_rows,
                hub_statuses=_statuses(self.hub_by_status, lang),
                hub_amount=money(self.hub_approved_amount)),
            _("  missing from the hub {missing}, not made by any terminal {unexpected}, "
              "differing {differing}, duplicates {duplicates}, times corrected by the hub "
              "{ts_differ}").format(
                missing=len(self.missing), unexpected=len(self.unexpected),
                differing=len(self.differing),
                duplicates=len(self.duplicate_ids) + self.hub_duplicates,
                ts_differ=self.ts_differ),
        ]
        for label, items in (("missing", self.missing), ("unexpected", self.unexpected),
                             ("differs", self.differing), ("duplicate", self.duplicate_ids)):
            out.extend(f"  {label}: {item}" for item in items[:20])
            if len(items) > 20:
                out.append(_("  {label}: ... and {n} more").format(
                    label=label, n=len(items) - 20))
        return out


def N_(text: str) -> str:  # noqa: N802 - the gettext convention: marked for extraction only
    return text


#: The statuses as people read them (the codes themselves in en).
STATUS_NAMES = {"approved": N_("approved"), "declined": N_("declined"),
                "reversed": N_("reversed")}


def _statuses(counts: dict[str, int], lang: str = "en") -> str:
    _ = gettext_for(lang)
    sep = "，" if check_lang(lang) == "zh" else ", "
    return sep.join(f"{counts.get(s, 0)} {_(name)}" for s, name in STATUS_NAMES.items())


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
