"""Host scenarios of the captured sessions: a list of client operations, run and summarised.

Contract:
- A scenario is a list of JSON-able operations (``{"op": "pay_bill", "product": ...,
  "account": ..., "amount_fen": ...}``, ``withdraw``, ``balance``, ``reverse_last``,
  ``device_status``, ``journal`` (read every record, acknowledge the last), ``settlement``,
  ``resolve_unknown`` (status query for each earlier ``unknown`` outcome), ``connect``
  (retrying every ``retry_wait`` s up to ``attempts`` times), ``close``, and ``wait``
  (``seconds``: an idle gap between customers)).
- :func:`run_host` runs them with the real blocking client (``stationlink.connect``) against
  ``url`` and returns one **summary** per operation: what the host observed, without the
  values the host chooses at random (client refs, sequence numbers) and without card tokens
  (a replayed capture carries stand-in card numbers, so only the masked number is kept).
  An operation that raises a ``StationLinkError`` is summarised as ``{"error": <class>}``;
  a balance inquiry whose answer was lost as ``{"outcome": "unknown"}``.
- :func:`replay_host` starts a :class:`~.replayer.Replayer`, runs a scenario against it and
  returns the summaries with the replay's result (the replayer stopped either way).
- ``wait`` calls ``skip(seconds)``: given a day's
  :meth:`stationlink_sim.clock.SimulatedClock.skip` it moves that simulated clock; by
  default (replaying) it does nothing.
- :func:`day_ops` derives a normal day at one station from the traffic model
  (:mod:`stationlink_sim.traffic`): the station's bill payments (bill terminal) or
  withdrawals and balance inquiries (card terminal) and their reversals, with the idle gaps
  between them.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import stationlink
from stationlink.client import Outcome, Terminal, TransactionResult
from stationlink.errors import LinkFailedError, StationLinkError
from stationlink.money import CST

if TYPE_CHECKING:
    from .replayer import Replayer
    from .report import ReplayResult

Op = dict[str, Any]
#: journal page size asked for. Emulated terminals now cap a page to one 1024-byte body
#: themselves (``more`` set), so this is no longer needed to keep them alive; it stays 8
#: because every captured session recorded ``max_records=8`` and a replay compares it.
JOURNAL_PAGE = 8


def _txn(r: TransactionResult) -> dict[str, Any]:
    rec = r.record
    return {
        "outcome": r.outcome.value, "result": None if r.result is None else r.result.name,
        "resolved_by": r.resolved_by,
        "ref": None if rec is None else rec.ref,
        "amount_fen": None if rec is None else rec.amount_fen,
        "status": None if rec is None else rec.status.name,
        "card": None if rec is None or rec.card is None else rec.card.masked,
    }


class _Host:
    def __init__(self, url: str, card_key: bytes, seed: int, timers: dict[str, Any],
                 skip: Callable[[float], None], host_time: Callable[[], dt.datetime]) -> None:
        self.url = url
        self.card_key = card_key
        self.rng = random.Random(seed)
        self.timers = timers
        self.skip = skip
        self.host_time = host_time
        self.term: Terminal | None = None
        self.unknown: list[str] = []

    def _t(self) -> Terminal:
        if self.term is None:
            raise LinkFailedError("not connected")
        return self.term

    def connect(self, op: Op) -> dict[str, Any]:
        attempts = int(op.get("attempts", 1))
        for n in range(1, attempts + 1):
            try:
                self.term = stationlink.connect(
                    self.url, card_key=self.card_key, rng=self.rng, host_time=self.host_time,
                    **self.timers,
                )
            except StationLinkError:
                if n == attempts:
                    raise
                time.sleep(float(op.get("retry_wait", 0.3)))
                continue
            info = self.term.info
            return {"attempts": n, "dialect": None if info is None else str(info.dialect),
                    "terminal_id": None if info is None else info.terminal_id}
        raise AssertionError("unreachable")  # pragma: no cover

    def run(self, op: Op) -> dict[str, Any]:
        name = op["op"]
        if name == "connect":
            return self.connect(op)
        if name == "wait":
            self.skip(float(op["seconds"]))
            return {}
        if name == "close":
            if self.term is not None:
                self.term.close()
                self.term = None
            return {}
        term = self._t()
        if name in ("pay_bill", "withdraw", "reverse_last"):
            if name == "pay_bill":
                r = term.pay_bill(op["product"], op["account"], amount_fen=op["amount_fen"])
            elif name == "withdraw":
                r = term.withdraw(amount_fen=op["amount_fen"])
            else:
                r = term.reverse_last()
            if r.outcome is Outcome.UNKNOWN:
                self.unknown.append(r.client_ref)
            return _txn(r)
        if name == "resolve_unknown":
            out = [_txn(term.resolve(ref)) for ref in self.unknown]
            self.unknown = [ref for ref, s in zip(self.unknown, out, strict=True)
                            if s["outcome"] == Outcome.UNKNOWN.value]
            return {"resolved": out}
        if name == "balance":
            b = term.balance()
            if b.result is None or b.record is None:  # the answer was lost: unknown
                return {"outcome": b.outcome.value}
            return {"result": b.result.name, "balance_fen": b.balance_fen,
                    "card": None if b.record.card is None else b.record.card.masked}
        if name == "device_status":
            s = term.device_status()
            return {"boot_id": s.boot_id, "paper_ok": s.paper_ok,
                    "journal_unacked": s.journal_unacked}
        if name == "journal":
            records = list(term.iter_journal(after=0, limit=JOURNAL_PAGE))
            acked = term.ack_journal(records[-1].cursor) if records else None
            return {"records": len(records),
                    "last_cursor": records[-1].cursor if records else None, "acked": acked}
        if name == "settlement":
            totals = term.settlement_totals()
            return {"lines": [[ln.kind.name, ln.product, ln.count, ln.amount_fen]
                              for ln in totals.lines]}
        raise ValueError(f"unknown operation {name!r}")

    def close(self) -> None:
        if self.term is not None:
            self.term.close()
            self.term = None


def run_host(
    url: str,
    ops: list[Op],
    *,
    card_key: bytes,
    seed: int,
    timers: dict[str, Any] | None = None,
    skip: Callable[[float], None] | None = None,
    host_time: Callable[[], dt.datetime] | None = None,
) -> list[dict[str, Any]]:
    """Run ``ops`` against ``url``; one summary per operation (see the module docstring)."""
    host = _Host(url, card_key, seed, dict(timers or {}), skip or (lambda s: None),
                 host_time or (lambda: dt.datetime.now(CST)))
    out: list[dict[str, Any]] = []
    try:
        for op in ops:
            try:
                out.append(host.run(op))
            except StationLinkError as exc:
                out.append({"error": type(exc).__name__})
    finally:
        host.close()
    return out


def replay_host(
    replayer: Replayer,
    ops: list[Op],
    *,
    card_key: bytes,
    seed: int,
    timers: dict[str, Any] | None = None,
    timeout: float = 10.0,
) -> tuple[list[dict[str, Any]], ReplayResult]:
    """Start ``replayer``, run ``ops`` against it (:func:`run_host`) and wait up to
    ``timeout`` s for the replay's result; the replayer is stopped either way."""
    replayer.start()
    try:
        observed = run_host(replayer.url, ops, card_key=card_key, seed=seed, timers=timers)
        result = replayer.result(timeout)
    finally:
        replayer.stop()
    return observed, result


def day_ops(kind: str, seed: int, date: dt.date, *, station: int = 0) -> list[Op]:
    """A normal day of ``kind`` (``bill`` / ``card``) at one station of the county model."""
    from stationlink_sim.traffic import TrafficModel, load_scenario

    model = TrafficModel(load_scenario("county"), seed=seed, token_key=b"day-ops")
    st = model.network.stations[station]
    events = model.station_day(st, model.days(date, 1)[0])
    wanted = {"bill": {"bill_payment"}, "card": {"withdrawal", "balance_inquiry"}}[kind]
    ops: list[Op] = [{"op": "connect"}, {"op": "device_status"}]
    kinds_by_seq = {ev.seq: ev.kind for ev in events}
    clock = dt.datetime.combine(date, dt.time(0, 0), CST).timestamp()
    for ev in events:
        target = ev.kind if ev.kind != "reversal" else kinds_by_seq.get(ev.reversal_of)
        if target not in wanted:
            continue
        if ev.ts > clock:
            ops.append({"op": "wait", "seconds": ev.ts - clock})
            clock = ev.ts
        if ev.kind == "bill_payment":
            account = model.identities.account(st.index, ev.product, ev.customer)
            ops.append({"op": "pay_bill", "product": ev.product, "account": account,
                        "amount_fen": ev.amount_fen})
        elif ev.kind == "withdrawal":
            ops.append({"op": "withdraw", "amount_fen": ev.amount_fen})
        elif ev.kind == "balance_inquiry":
            ops.append({"op": "balance"})
        else:
            ops.append({"op": "reverse_last"})
    ops += [{"op": "journal"}, {"op": "settlement"}, {"op": "close"}]
    return ops


__all__ = ["Op", "day_ops", "run_host"]
