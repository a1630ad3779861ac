"""One terminal as the agent sees it: :class:`TerminalPoller`.

Contract:
- Owns the link to one terminal (``stationlink.connect``: dialect detected unless
  configured) behind ``lock``; :class:`~stationlink.agent.session.StationSession` borrows the
  same link for payments, because a terminal serves one host connection at a time.
- :meth:`step` does whatever is due: (re)connect, pull the journal after the buffer's cursor
  (each page and the cursor committed in one buffer transaction, **then** acknowledged to the
  terminal), ask about unknown outcomes older than ``unknown_grace`` (not in the journal =
  void), read device status, and once a day compare settlement totals (``settlement``).
- A link failure (:class:`~stationlink.errors.LinkError`, a protocol error, an error reply)
  never escapes: the link is closed (:meth:`TerminalPoller.drop`, also used by the station
  session), logged, noted in the agent state, and reopened after a capped exponential backoff
  with jitter. A buffer failure (``StorageError``) is logged and
  retried later; nothing is acknowledged that was not committed.
- A configured terminal id that differs from the identified one is a configuration error
  reported on every attempt (the link is not used: its records would land under a wrong id).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import datetime

from ..buffer import Buffer
from ..client import Terminal
from ..client import connect as client_connect
from ..clock import TimeSource
from ..errors import ConfigError, StationLinkError, StorageError
from .backoff import Backoff
from .config import AgentConfig, TerminalEntry
from .rng import child_rng
from .settlement import DailySettlement, device_reading
from .state import AgentState

log = logging.getLogger("stationlink.agent.terminal")
MAX_PAGES_PER_STEP = 50

Connector = Callable[[TerminalEntry, bytes, random.Random], Terminal]


def default_connector(entry: TerminalEntry, card_key: bytes, rng: random.Random) -> Terminal:
    """``stationlink.connect`` for one configured terminal (dialect detected if not given)."""
    return client_connect(entry.url, card_key=card_key, dialect=entry.dialect,
                          baudrate=entry.baudrate, rng=rng)


class TerminalPoller:
    """See the module contract."""

    def __init__(
        self, entry: TerminalEntry, config: AgentConfig, *, rng: random.Random,
        clock: TimeSource, connector: Connector = default_connector,
    ) -> None:
        self.entry = entry
        self.config = config
        self.settings = config.poll
        self.clock = clock
        self.rng = rng
        self.connector = connector
        self.lock = threading.RLock()
        self.term: Terminal | None = None
        self.terminal_id: str | None = None
        self.acked: int | None = None  # what the terminal has acknowledged, when known
        self.reconnect = Backoff(rng, base=self.settings.reconnect_base,
                                 cap=self.settings.reconnect_cap)
        self.next_connect = 0.0
        self.next_journal = 0.0
        self.next_device = 0.0
        self.settlement = DailySettlement(self.settings.settlement_check_at)
        self.last_error: str | None = None

    # ------------------------------------------------------------------ link

    def close(self) -> None:
        with self.lock:
            if self.term is not None:
                self.term.close()
                self.term = None

    def drop(self, exc: BaseException, state: AgentState | None = None) -> None:
        """Close the link after ``exc`` (logged, noted in ``state``); the next
        :meth:`ensure_link` after the reconnect backoff opens a new one."""
        if self.term is not None:
            self.term.close()
            self.term = None
        delay = self.reconnect.next_delay()
        self.next_connect = self.clock.monotonic() + delay
        self.last_error = f"{type(exc).__name__}: {exc}"
        log.warning("terminal %s (%s): %s; reconnecting in %.1f s",
                    self.terminal_id or "?", self.entry.url, self.last_error, delay)
        if state is not None:
            state.note_terminal(self.entry.url, connected=False, now=self.clock.now(),
                                error=self.last_error)

    def ensure_link(self, state: AgentState | None = None) -> Terminal | None:
        """The open link, connecting first if due; ``None`` while backing off."""
        if self.term is not None:
            return self.term
        if self.clock.monotonic() < self.next_connect:
            return None
        try:
            term = self.connector(self.entry, self.config.card_key,
                                  child_rng(self.rng))
        except StationLinkError as exc:
            self.drop(exc, state)
            return None
        try:
            info = term.info if term.info is not None else term.identify()
            if self.entry.terminal_id and info.terminal_id != self.entry.terminal_id:
                raise ConfigError(
                    f"{self.config.source}: {self.entry.where}: {self.entry.url} identifies "
                    f"as {info.terminal_id!r}, not {self.entry.terminal_id!r}")
        except StationLinkError as exc:
            term.close()
            self.drop(exc, state)
            return None
        self.term, self.terminal_id, self.acked = term, info.terminal_id, None
        self.reconnect.reset()
        self.last_error = None
        log.info("terminal %s connected at %s (%s %s, %s)", info.terminal_id, self.entry.url,
                 info.vendor, info.model, info.dialect.value)
        if state is not None:
            state.note_terminal(self.entry.url, connected=True, now=self.clock.now(),
                                terminal_id=info.terminal_id, dialect=info.dialect.value)
        return term

    # ------------------------------------------------------------------ duties

    def step(self, buf: Buffer, state: AgentState | None = None) -> float:
        """Do what is due; returns seconds until something is due again."""
        with self.lock:
            term = self.ensure_link(state)
            if term is None:
                return max(0.0, self.next_connect - self.clock.monotonic())
            now_m = self.clock.monotonic()
            try:
                if now_m >= self.next_journal:
                    pulled = self.pull_journal(term, buf)
                    self.resolve_unknowns(term, buf)
                    self.next_journal = self.clock.monotonic() + self.settings.journal_interval
                    if state is not None:
                        state.note_terminal(self.entry.url, connected=True, polled=True,
                                            now=self.clock.now(), pulled=pulled)
                if now_m >= self.next_device:
                    self.poll_device(term, buf)
                    self.next_device = self.clock.monotonic() + (
                        self.settings.device_status_interval)
                self.settle_if_due(term, buf, state)
            except StorageError as exc:
                self.next_journal = self.clock.monotonic() + self.settings.journal_interval
                log.error("terminal %s: buffer failed: %s (nothing acknowledged; retrying)",
                          self.terminal_id, exc)
                if state is not None:
                    state.note_terminal(self.entry.url, connected=True, now=self.clock.now(),
                                        error=f"buffer: {exc}")
            except StationLinkError as exc:
                self.drop(exc, state)
                return max(0.0, self.next_connect - self.clock.monotonic())
            return max(0.0, min(self.next_journal, self.next_device) - self.clock.monotonic())

    def pull_journal(self, term: Terminal, buf: Buffer) -> int:
        """Read every journal record after the buffer's cursor; commit, then acknowledge."""
        tid = self._tid()
        cursor = buf.get_cursor(tid) or 0
        stored = 0
        for _ in range(MAX_PAGES_PER_STEP):
            page = term.journal(cursor, limit=self.settings.page_limit)
            if page.records:
                result = buf.record_journal_page(tid, page.records, self.clock.now(),
                                                 cursor=page.next_cursor)
                stored += len(result.stored)
                cursor = page.next_cursor
            if cursor > 0 and (self.acked is None or cursor > self.acked):
                self.acked = term.ack_journal(cursor)  # only after the commit above
            if not page.more or not page.records:
                break
        if stored:
            log.info("terminal %s: %d new journal record(s), cursor %d", tid, stored, cursor)
        return stored

    def resolve_unknowns(self, term: Terminal, buf: Buffer) -> None:
        """Unknown outcomes of this terminal, after the journal pull: absent = void.

        A present record needs nothing here: the journal pull stores it with the request's
        ``client_ref``, which resolves the unknown in the buffer.
        """
        tid = self._tid()
        now = self.clock.now()
        for unknown in buf.unresolved_unknowns():
            if unknown.terminal_id != tid:
                continue
            age = (now - unknown.wall_time).total_seconds()
            if age < self.settings.unknown_grace:
                continue
            if term.status(client_ref=unknown.client_ref) is None:
                buf.record_void(tid, unknown.client_ref, now)
                log.info("terminal %s: request %s never reached the journal: void", tid,
                         unknown.client_ref)

    def poll_device(self, term: Terminal, buf: Buffer) -> None:
        tid = self._tid()
        status = term.device_status()
        buf.record_device_status(tid, device_reading(status), self.clock.now())
        if not status.paper_ok:
            log.warning("terminal %s: paper out", tid)

    def settle_if_due(self, term: Terminal, buf: Buffer, state: AgentState | None) -> None:
        tid = self._tid()
        now = self.clock.now()
        if not self.settlement.due(tid, now, state):
            return
        done = self.settlement.run(tid, term, buf, now, pull=lambda: self.pull_journal(term, buf))
        if done is None:
            return  # new records arrived meanwhile: try again at the next poll
        if state is not None:
            state.note_settlement(tid, self.settlement.day(now), now, done)
        if done:
            log.warning("terminal %s: settlement totals differ from the buffer: %s", tid, done)
        else:
            log.info("terminal %s: settlement totals agree with the buffer", tid)

    def _tid(self) -> str:
        if self.terminal_id is None:
            raise ConfigError(f"terminal at {self.entry.url} was never identified")
        return self.terminal_id

    def wall_time(self) -> datetime:
        return self.clock.now()
