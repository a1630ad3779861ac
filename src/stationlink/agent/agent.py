"""The sync agent's main loop as a library class: :class:`Agent`.

Contract:
- ``Agent(config, clock=, rng=, connector=, hub=)``: every time source and every random
  draw (client refs, backoff jitter) comes from the injected ``clock`` and seeded ``rng``.
- :meth:`Agent.run_once` runs one round in the calling thread: each terminal's due duties
  (:class:`~.poller.TerminalPoller`), then one upload round (:class:`~.uploader.Uploader`).
  Unit tests drive it with a manual clock.
- :meth:`Agent.run_forever` runs until ``stop`` is set: one thread per terminal and one
  uploading thread, each with its own buffer connection (SQLite WAL; writes serialise on
  ``BEGIN IMMEDIATE``), waiting on ``stop`` (never busy-looping); a poller that stored new
  records wakes the uploader. An unexpected exception inside a round is logged with its
  traceback and the round retried a second later: nothing a terminal or the hub does stops
  the agent. On ``stop`` the threads finish their current step (a buffer write commits or
  rolls back as a whole) and every link, connection and file is closed.
- Crash safety: every fact is committed to the buffer before it is acknowledged to anyone
  (terminal journal ack, payment result); the synced mark moves only after the hub answered.
  So a SIGKILL at any instant loses nothing, and whatever is repeated after a restart (a
  journal page, a batch) is recognised by identity or seq and not stored twice.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from ..buffer import Buffer
from ..clock import SystemClock, TimeSource
from ..hub.client import HubClient
from .config import AgentConfig
from .poller import Connector, TerminalPoller, default_connector
from .rng import child_rng
from .session import StationSession
from .state import AgentState
from .uploader import Uploader, UploadRound, hub_client

log = logging.getLogger("stationlink.agent")
ERROR_PAUSE = 1.0  # seconds before a round that raised unexpectedly is retried
MAX_WAIT = 1.0  # loops re-check their schedule at least this often


@dataclass
class RoundReport:
    """What :meth:`Agent.run_once` did."""

    waits: list[float] = field(default_factory=list)  # per terminal: seconds until due
    upload: UploadRound = field(default_factory=UploadRound)


class Agent(AbstractContextManager["Agent"]):
    """See the module contract."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        clock: TimeSource | None = None,
        rng: random.Random | None = None,
        connector: Connector = default_connector,
        hub: HubClient | None = None,
    ) -> None:
        self.config = config
        self.clock: TimeSource = clock if clock is not None else SystemClock()
        rng = rng if rng is not None else random.Random()  # noqa: S311 - jitter, not secrets
        self.pollers = [
            TerminalPoller(e, config, rng=child_rng(rng), clock=self.clock,
                           connector=connector)
            for e in config.terminals
        ]
        self._own_hub = hub is None
        self.hub = hub if hub is not None else hub_client(
            config.hub_url, config.hub_token, station_id=config.station_id,
            timeout=config.hub_timeout, ca_file=config.hub_ca_file)
        self.uploader = Uploader(self.hub, config.upload, rng=child_rng(rng),
                                 clock=self.clock)
        self._wake = threading.Event()
        self._buffer: Buffer | None = None
        self._state: AgentState | None = None
        # the buffer must exist (and belong to this station) before anything talks to anyone
        Buffer.open(config.buffer_path, config.station_id).close()

    # ------------------------------------------------------------------ resources

    def _open(self) -> tuple[Buffer, AgentState]:
        buf = Buffer.open(self.config.buffer_path, self.config.station_id)
        try:
            return buf, AgentState(self.config.state_path)
        except BaseException:
            buf.close()
            raise

    def close(self) -> None:
        for poller in self.pollers:
            poller.close()
        if self._buffer is not None:
            self._buffer.close()
            self._buffer = None
        if self._state is not None:
            self._state.close()
            self._state = None
        if self._own_hub:
            self.hub.close()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def session(self) -> StationSession:
        """Pay through the agent's terminal links, results committed before they return."""
        return StationSession(self)

    def wake_uploader(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------ one round

    def run_once(self) -> RoundReport:
        """One round in the calling thread (module contract)."""
        if self._buffer is None or self._state is None:
            self._buffer, self._state = self._open()
        report = RoundReport()
        for poller in self.pollers:
            report.waits.append(poller.step(self._buffer, self._state))
        report.upload = self.uploader.step(self._buffer, self._state)
        return report

    # ------------------------------------------------------------------ forever

    def run_forever(self, stop: threading.Event) -> None:
        """Run until ``stop`` is set (module contract)."""
        with AgentState(self.config.state_path) as state:
            state.note_started(os.getpid(), self.clock.now())
        threads = [
            threading.Thread(target=self._loop, args=(stop, self._poll_step(p)),
                             name=f"agent-terminal-{i}", daemon=True)
            for i, p in enumerate(self.pollers, start=1)
        ]
        threads.append(threading.Thread(target=self._loop, args=(stop, self._upload_step),
                                        name="agent-upload", daemon=True))
        log.info("agent for station %s started: %d terminal(s), hub %s",
                 self.config.station_id, len(self.pollers), self.config.hub_url)
        for t in threads:
            t.start()
        try:
            stop.wait()
        finally:
            stop.set()
            self._wake.set()
            for t in threads:
                t.join(timeout=self.config.hub_timeout + 15.0)
            with AgentState(self.config.state_path) as state:
                state.note_stopped(self.clock.now())
            log.info("agent stopped")

    def _poll_step(self, poller: TerminalPoller) -> Callable[[Buffer, AgentState], float]:
        def step(buf: Buffer, state: AgentState) -> float:
            before = buf.last_seq()
            wait = poller.step(buf, state)
            if buf.last_seq() != before:
                self._wake.set()
            return wait
        return step

    def _upload_step(self, buf: Buffer, state: AgentState) -> float:
        self._wake.clear()
        round_ = self.uploader.step(buf, state)
        state.heartbeat(self.clock.now())
        if round_.waiting:
            return max(0.0, self.uploader.next_attempt - self.clock.monotonic())
        if buf.next_batch(1) is not None and round_.batches:
            return 0.0  # more is pending: go on at once
        self._wake.wait(self.config.upload.interval)
        return 0.0

    def _loop(self, stop: threading.Event, step: Callable[[Buffer, AgentState], float]) -> None:
        buf, state = self._open()
        try:
            while not stop.is_set():
                try:
                    wait = step(buf, state)
                except Exception:  # noqa: BLE001 - log and go on: the agent must not die
                    log.exception("agent round failed; retrying in %.0f s", ERROR_PAUSE)
                    wait = ERROR_PAUSE
                if wait > 0:
                    stop.wait(min(wait, MAX_WAIT))
        finally:
            buf.close()
            state.close()
