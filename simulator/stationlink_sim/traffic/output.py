"""From simulated events to the reward engine's interchange files.

Contract:
- One transaction row per customer action except reversals: a reversal does not make a row of
  its own, it turns its original's status into ``reversed`` (the interchange format keeps the
  final status of each transaction). Declined actions are rows with status ``declined``.
- ``card`` is the card's keyed token (:meth:`~.customers.Identities.token`), never a card
  number; cash bill payments and referrals have an empty card. Withdrawals and balance
  inquiries have an empty product; balance inquiries and referrals an amount of 0.00.
- :func:`event_to_transaction` builds an :class:`~stationlink.interchange.Transaction`;
  :class:`TransactionWriter` writes the same rows straight from events, byte for byte what
  :func:`~stationlink.interchange.write_transactions` writes for those transactions
  (a test checks this), without building a ``datetime`` and a ``Decimal`` per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

from stationlink.interchange import TRANSACTION_COLUMNS, Transaction
from stationlink.money import fen_to_yuan

from .customers import Identities
from .model import SimEvent

# "HH:MM:SS" of every second of the day.
_CLOCK = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]
_TOKEN_CACHE_LIMIT = 200_000


def event_status(event: SimEvent) -> str:
    return "reversed" if event.reversed else event.outcome


class TransactionWriter:
    """Writes transaction rows for events (header first), caching card tokens."""

    def __init__(self, out: IO[str], identities: Identities) -> None:
        self._out = out
        self._identities = identities
        self._tokens: dict[tuple[int, int], str] = {}
        self.rows = 0
        out.write(",".join(TRANSACTION_COLUMNS) + "\n")

    def token(self, station: int, card: int) -> str:
        key = (station, card)
        token = self._tokens.get(key)
        if token is None:
            if len(self._tokens) >= _TOKEN_CACHE_LIMIT:
                self._tokens.clear()
            token = self._tokens[key] = self._identities.token(station, card)
        return token

    def write(self, events: Iterable[SimEvent]) -> int:
        """Write the rows of ``events``; returns how many rows were written."""
        lines = []
        clock = _CLOCK
        tokens = self._tokens
        for ev in events:
            kind = ev.kind
            if kind == "reversal":
                continue
            st = ev.station
            day = ev.day
            card = ev.card
            if card >= 0:
                token = tokens.get((st.index, card)) or self.token(st.index, card)
                terminal = st.card_terminal
            else:
                token = ""
                terminal = st.bill_terminal
            fen = ev.amount_fen
            status = "reversed" if ev.reversed else ev.outcome
            lines.append(
                f"{st.station_id}-{day.ymd}-{ev.seq:04d},{st.station_id},{terminal},"
                f"{day.iso_prefix}{clock[ev.ts - day.epoch]}+08:00,{kind},{ev.product},"
                f"{fen // 100}.{fen % 100:02d},{token},{status}\n"
            )
        self._out.write("".join(lines))
        self.rows += len(lines)
        return len(lines)


def event_to_transaction(event: SimEvent, identities: Identities) -> Transaction | None:
    """The interchange transaction of an event; ``None`` for a reversal (see contract)."""
    if event.kind == "reversal":
        return None
    card = "" if event.card < 0 else identities.token(event.station.index, event.card)
    return Transaction(
        txn_id=event.txn_id,
        station_id=event.station.station_id,
        terminal_id=event.terminal_id,
        ts=event.time,
        kind=event.kind,
        product=event.product,
        amount=fen_to_yuan(event.amount_fen),
        card=card,
        status=event_status(event),
    )


def events_to_transactions(
    events: Iterable[SimEvent], identities: Identities
) -> list[Transaction]:
    out = []
    for ev in events:
        txn = event_to_transaction(ev, identities)
        if txn is not None:
            out.append(txn)
    return out

