"""The daily settlement comparison and small adapters from client results to buffer inputs.

Contract:
- "Once a day" means once per CST calendar day and terminal: the check is due at the
  terminal's first successful poll at or after ``check_at`` (CST time of day, default 23:45,
  late in the business day and before the terminal settles by itself at its midnight). If
  the agent is down at that time, the check runs at the first poll after it comes back the
  same day; a day with no poll after ``check_at`` is not checked (the terminal's totals of
  that period are gone once it has settled). The day is recorded in the agent state only
  after the comparison completed.
- :meth:`DailySettlement.run`: drain the journal, read the totals, drain again; when the
  second drain brought new records the terminal moved on meanwhile and the check is retried
  at the next poll (``None``), so a busy counter never produces a false mismatch. Otherwise
  :meth:`Buffer.check_settlement` compares the totals with the buffer's approved-minus-reversed
  sums since the totals' ``since`` (it stores any mismatch) and the differing lines are
  returned (empty list: the totals agree).
- :func:`device_reading` / :func:`terminal_totals` turn the client's results into the
  buffer's own input types (same fields; no protocol message is rebuilt).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime, time
from typing import Any

from ..buffer import Buffer, DeviceReading, TerminalTotals, TotalsLine
from ..client import DeviceStatus, SettlementTotals, Terminal
from ..money import to_cst
from .state import AgentState


def device_reading(status: DeviceStatus) -> DeviceReading:
    return DeviceReading(
        status.paper_ok, dict(status.error_counters), status.signal_dbm, status.uptime_ms,
        status.boot_id, status.terminal_time, status.journal_unacked,
    )


def terminal_totals(totals: SettlementTotals) -> TerminalTotals:
    return TerminalTotals(totals.since, tuple(
        TotalsLine(str(ln.kind), ln.product, ln.count, ln.amount_fen) for ln in totals.lines))


class DailySettlement:
    """See the module contract."""

    def __init__(self, check_at: time) -> None:
        self.check_at = check_at
        self._done: set[tuple[str, date]] = set()

    @staticmethod
    def day(now: datetime) -> date:
        return to_cst(now).date()

    def due(self, terminal_id: str, now: datetime, state: AgentState | None) -> bool:
        local = to_cst(now)
        if local.time() < self.check_at:
            return False
        key = (terminal_id, local.date())
        if key in self._done:
            return False
        if state is not None and state.settlement_checked(terminal_id, local.date()):
            self._done.add(key)
            return False
        return True

    def run(
        self, terminal_id: str, term: Terminal, buf: Buffer, now: datetime,
        *, pull: Callable[[], int],
    ) -> list[dict[str, Any]] | None:
        pull()
        totals = term.settlement_totals()
        if pull():
            return None
        found = buf.check_settlement(terminal_id, terminal_totals(totals), now)
        self._done.add((terminal_id, self.day(now)))
        return [asdict(m) for m in found]
