"""``sim station --traffic``: a station's terminals serving paced customers in a thread.

Contract:
- :class:`CounterRun` (station configs, scenario name or path, speed, seed, start, customer
  limit) loads the scenario and the :class:`~.traffic.TrafficModel` (seed: the scenario's
  unless given), gives station ``i`` the customers of the ``i``-th busiest scenario station,
  and makes the :class:`~.clock.SimulatedClock` (start: ``start`` or the opening hour
  of today's CST date in that station's area, "today" read from the injected ``now``, the
  machine's clock by default) and the card terminals' card sources, which
  the :class:`~.station.StationRunner` must be built with (``clock``, ``card_sources``).
- :meth:`CounterRun.start` finds each station's first bill and first card terminal among the
  running ones and serves the day in a daemon thread; when the day's traffic is over (limit
  reached or events exhausted) the paced clock drops to real time (speed 1) so the terminal
  clocks run on from the simulated time reached, and ``on_done`` is called with the summary.
  :meth:`CounterRun.stop` stops the thread (at its next wait) and returns the summary; an
  exception in the thread is re-raised there as :class:`~stationlink.errors.SimulatorError`.
- :func:`parse_start` reads ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM[:SS]`` (CST unless an offset
  is given); a bad value is a :class:`~stationlink.errors.ConfigError` naming ``--start``.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections.abc import Callable

from stationlink.clock import MonotonicClock, WallClock
from stationlink.errors import ConfigError, SimulatorError
from stationlink.money import CST

from .clock import SimulatedClock
from .counter_traffic import (
    CounterCards,
    CounterStation,
    CounterSummary,
    CounterTraffic,
    Served,
    busiest_stations,
    opening_time,
)
from .customers import CardSource, SeededCards
from .device import EmulatedTerminal, TerminalKind
from .serve import TerminalConfig
from .station import StationConfig, StationRunner
from .traffic import SimStation, TrafficModel, load_scenario


def parse_start(text: str) -> dt.datetime | dt.date:
    try:
        if "T" not in text:
            return dt.date.fromisoformat(text)
        when = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"--start: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM, not {text!r}") from (
            exc
        )
    return when.replace(tzinfo=CST) if when.tzinfo is None else when


class CounterRun:
    """See the module contract."""

    def __init__(
        self, stations: list[StationConfig], scenario: str, *, speed: float,
        seed: int | None = None, start: dt.datetime | dt.date | None = None,
        customers: int | None = None, monotonic: MonotonicClock = time.monotonic,
        now: WallClock | None = None,
    ) -> None:
        self.scenario = load_scenario(scenario)
        self.seed = self.scenario.default_seed if seed is None else seed
        self.model = TrafficModel(self.scenario, self.seed)
        ranked = busiest_stations(self.model)
        if len(stations) > len(ranked):
            raise ConfigError(f"--traffic {scenario}: {len(stations)} stations, but the "
                              f"scenario has only {len(ranked)}")
        self.stations = stations
        self.served: list[tuple[str, SimStation]] = [
            (st.station_id, sim) for st, sim in zip(stations, ranked, strict=False)]
        if isinstance(start, dt.datetime):
            self.start_time = start.astimezone(CST)
        else:
            wall = now if now is not None else lambda: dt.datetime.now(CST)
            day = start if start is not None else wall().astimezone(CST).date()
            self.start_time = opening_time(self.scenario, self.served[0][1].area, day)
        self.speed = speed
        self.customers = customers
        self.clock = SimulatedClock(self.start_time, speed=speed, real=monotonic)
        self.card_sources: dict[tuple[str, str], CardSource] = {}
        self._cards: dict[tuple[str, str], CounterCards] = {}
        for st in stations:
            card = _first(st, TerminalKind.CARD)
            if card is not None:
                pool = SeededCards(random.Random(f"{card.seed}:cards:{card.terminal_id}"))
                self._cards[(st.station_id, card.terminal_id)] = CounterCards(pool)
        self.card_sources.update(self._cards)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.traffic: CounterTraffic | None = None

    def counter_stations(self, runner: StationRunner) -> list[CounterStation]:
        devices: dict[tuple[str, str], EmulatedTerminal] = {
            (sid, t.config.terminal_id): t.device for sid, t in runner.running}
        out = []
        for st, (sid, sim) in zip(self.stations, self.served, strict=True):
            bill, card = _first(st, TerminalKind.BILL), _first(st, TerminalKind.CARD)
            out.append(CounterStation(
                sid, sim,
                devices[(sid, bill.terminal_id)] if bill is not None else None,
                devices[(sid, card.terminal_id)] if card is not None else None,
                self._cards.get((sid, card.terminal_id)) if card is not None else None,
            ))
        return out

    def start(
        self, runner: StationRunner, *, on_served: Callable[[Served], None],
        notice: Callable[[str], None], on_done: Callable[[CounterSummary], None],
    ) -> None:
        self.traffic = CounterTraffic(
            self.model, self.counter_stations(runner), self.clock, self.start_time,
            seed=self.seed, wait=self._stop.wait, customers=self.customers,
            on_served=on_served, notice=notice)
        traffic = self.traffic

        def run() -> None:
            try:
                summary = traffic.run()
                if not summary.stopped:
                    self.clock.set_speed(1.0)
                    on_done(summary)
            except BaseException as exc:  # noqa: BLE001 - re-raised by stop()
                self._error = exc

        self._thread = threading.Thread(target=run, name="counter-traffic", daemon=True)
        self._thread.start()

    def failed(self) -> bool:
        return self._error is not None

    def stop(self) -> CounterSummary:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._error is not None:
            raise SimulatorError(f"counter traffic failed: {self._error}") from self._error
        return self.traffic.summary if self.traffic is not None else CounterSummary()


def _first(station: StationConfig, kind: TerminalKind) -> TerminalConfig | None:
    return next((t for t in station.terminals if t.kind is kind), None)
