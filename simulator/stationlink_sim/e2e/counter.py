"""The station PC's counter in an end-to-end run: customers paid through the sync agent.

Contract:
- :class:`CounterSession` is the agent's :class:`~stationlink.agent.StationSession` (bill
  payments, withdrawals, reversals, balance inquiries and referrals over the agent's own
  terminal links and buffer, every result committed to the buffer before the call returns,
  an unknown outcome included) plus the cashier's rule below and its tally.
- :meth:`CounterSession.attempt` is the cashier's rule after a link failure: the terminal's
  printer is the witness. When the call failed with a :class:`~stationlink.errors.LinkError`
  and the terminal's journal did not grow (no receipt), the request never executed: wait for
  the agent to reconnect and try again (at most ``attempts`` times). When it did grow, the
  transaction happened: it is not repeated (never resend a money-moving request blindly) and
  reaches the buffer through the journal pull. An ErrorReply (``TerminalError``) means not
  executed: given up. A result without a record whose status query found nothing (outcome
  ``declined``) never reached the terminal either: tried again. ``stats`` counts retries,
  give-ups and how outcomes were learned.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

from stationlink.agent import Agent, StationSession
from stationlink.client import Outcome, TransactionResult
from stationlink.errors import LinkError, TerminalError

from ..journal import Journal

log = logging.getLogger("stationlink_sim.e2e")
T = TypeVar("T")


class CounterSession(StationSession):
    """See the module contract."""

    def __init__(self, agent: Agent) -> None:
        super().__init__(agent)
        self.stats: Counter[str] = Counter()

    def attempt(
        self, journal: Journal, call: Callable[[], T], *, attempts: int = 8, wait: float = 0.25
    ) -> T | None:
        """Run ``call`` under the cashier's rule (module contract); ``None``: no answer."""
        for n in range(attempts):
            before = journal.last_cursor
            try:
                result = call()
            except TerminalError as exc:
                log.info("terminal refused the request (%s); given up", exc)
                self.stats["refused"] += 1
                return None
            except LinkError as exc:
                if journal.last_cursor != before:
                    self.stats["link_failed_after_execution"] += 1
                    return None
                self.stats["retried_after_link_failure"] += 1
                log.info("link failed before the request executed (%s); retry %d", exc, n + 1)
                time.sleep(wait * (n + 1))
                continue
            if isinstance(result, TransactionResult):
                self.stats[f"resolved_by_{result.resolved_by}"] += 1
                if result.record is None and result.outcome is Outcome.DECLINED:
                    # the status query found no such request: it never reached the terminal
                    self.stats["not_received_retried"] += 1
                    continue
            return result
        self.stats["given_up"] += 1
        return None
