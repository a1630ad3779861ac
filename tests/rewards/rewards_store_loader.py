"""Interchange rows into a real hub, the way a station's rows reach one.

:func:`load_hub` takes :class:`~stationlink.interchange.Transaction` rows (a golden CSV, the
simulator's traffic model, hypothesis) and, per station, records them in a real station
buffer file (terminal results as journal pages, referrals at the PC) and uploads the
buffer's batches into a real hub store through ``HubStore.ingest``:

- a ``reversed`` terminal row becomes its approved original plus an approved reversal record
  (``original_ref``) one minute later; a ``reversed`` referral a referral plus its cancellation;
- rows for which ``late(row)`` holds are recorded after the others and uploaded at ``late_at``
  (after the month closed: the hub flags them late); the rest at ``on_time_at``;
- ``noise`` adds what must never count: a declined reversal, a reversal of a declined row,
  an orphan reversal, and re-sent copies of held records at new seqs (duplicates, one with a
  changed amount: a conflict).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path

from stationlink.buffer import Buffer
from stationlink.buffer.records import Batch
from stationlink.hub.store import HubStore
from stationlink.interchange import Transaction
from stationlink.protocol import CardRef, JournalRecord, ResultCode, TxnKind, TxnStatus
from stationlink.records.vocab import PHONE_PRODUCTS

MASKED = "622848******1234"


def _fen(t: Transaction) -> int:
    return int(t.amount * 100)


def _account(product: str) -> str:
    if not product:
        return ""
    return "13800000000" if product in PHONE_PRODUCTS else "3700123456"


class _Terminal:
    def __init__(self) -> None:
        self.cursor = 0

    def record(self, t: Transaction, *, kind: TxnKind | None = None, status: TxnStatus,
               when: datetime, original_ref: str = "", card: bool = True) -> JournalRecord:
        self.cursor += 1
        c = self.cursor
        k = kind or TxnKind(t.kind)
        approved = status is TxnStatus.APPROVED
        return JournalRecord(
            cursor=c, ref=f"R{c:011d}", client_ref="", kind=k, product=t.product,
            account=_account(t.product), amount_fen=_fen(t), status=status,
            result=ResultCode.APPROVED if approved else ResultCode.DECLINED,
            terminal_time=when, uptime_ms=1000 * c, boot_id=1,
            card=CardRef(MASKED, t.card) if t.card and card else None,
            original_ref=original_ref)


def _journal(term: _Terminal, rows: list[Transaction], rng: random.Random, noise: bool
             ) -> list[JournalRecord]:
    out: list[JournalRecord] = []
    for t in sorted(rows, key=lambda t: t.ts):
        reversed_ = t.status == "reversed"
        status = TxnStatus.DECLINED if t.status == "declined" else TxnStatus.APPROVED
        rec = term.record(t, status=status, when=t.ts)
        out.append(rec)
        if reversed_:
            out.append(term.record(t, kind=TxnKind.REVERSAL, status=TxnStatus.APPROVED,
                                   when=t.ts + timedelta(minutes=1), original_ref=rec.ref,
                                   card=False))
        elif noise and rng.random() < 0.05:
            # a declined reversal, or a reversal of a declined row: neither changes anything
            out.append(term.record(t, kind=TxnKind.REVERSAL, status=TxnStatus.DECLINED
                                   if status is TxnStatus.APPROVED else TxnStatus.APPROVED,
                                   when=t.ts + timedelta(minutes=2), original_ref=rec.ref,
                                   card=False))
    if noise and out and rows:
        t = rows[0]
        out.append(term.record(t, kind=TxnKind.REVERSAL, status=TxnStatus.APPROVED,
                               when=t.ts + timedelta(minutes=3), original_ref="R99999999999",
                               card=False))  # orphan: reverses nothing held
    return out


def _store_rows(buf: Buffer, rows: list[Transaction], rng: random.Random, noise: bool,
                terminals: dict[str, _Terminal], referral_ids: set[str]) -> None:
    by_terminal: dict[str, list[Transaction]] = defaultdict(list)
    for t in rows:
        if t.kind == "referral":
            rid = f"ref{len(referral_ids) + 1:05d}"
            referral_ids.add(rid)
            buf.record_referral(t.product, wall_time=t.ts, referral_id=rid,
                                amount_fen=_fen(t))
            if t.status == "reversed":
                buf.cancel_referral(rid, wall_time=t.ts + timedelta(minutes=1))
        else:
            by_terminal[t.terminal_id or "T1"].append(t)
    for tid, trows in sorted(by_terminal.items()):
        term = terminals.setdefault(tid, _Terminal())
        page = _journal(term, trows, rng, noise)
        if page:
            buf.record_journal_page(tid, page, trows[0].ts)


def _upload(buf: Buffer, store: HubStore, now: datetime) -> None:
    while (batch := buf.next_batch(50)) is not None:
        buf.mark_synced(store.ingest(batch, now).high_water_mark)


def load_hub(store: HubStore, tmp: Path, txns: Iterable[Transaction], *, on_time_at: datetime,
             late_at: datetime | None = None,
             late: Callable[[Transaction], bool] = lambda t: False,
             noise: bool = False, seed: int = 0) -> None:
    """Record ``txns`` in station buffers and upload them into ``store`` (module doc)."""
    rng = random.Random(seed)
    by_station: dict[str, list[Transaction]] = defaultdict(list)
    for t in txns:
        by_station[t.station_id].append(t)
    for station, rows in sorted(by_station.items()):
        buf = Buffer.open(tmp / f"buffer-{station}.sqlite", station)
        try:
            terminals: dict[str, _Terminal] = {}
            referral_ids: set[str] = set()
            _store_rows(buf, [t for t in rows if not late(t)], rng, noise, terminals,
                        referral_ids)
            _upload(buf, store, on_time_at)
            late_rows = [t for t in rows if late(t)]
            if late_rows:
                assert late_at is not None
                _store_rows(buf, late_rows, rng, noise, terminals, referral_ids)
                _upload(buf, store, late_at)
            if noise:
                held = [r for r in buf.records() if r.entry.value in ("txn", "referral")]
                copies = rng.sample(held, min(3, len(held)))
                hwm = store.high_water_mark(station)
                recs = tuple(
                    r._replace(seq=hwm + 1 + i,
                               amount_fen=r.amount_fen + (1 if i == 0 else 0))
                    for i, r in enumerate(copies))
                if recs:
                    store.ingest(Batch(station, hwm + 1, hwm + len(recs), recs), on_time_at)
        finally:
            buf.close()
