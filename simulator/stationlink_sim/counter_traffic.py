"""Customers at a station's counter, paced in simulated time (``sim station --traffic``).

Contract:
- The customers are paced by a :class:`~stationlink_sim.clock.SimulatedClock` running
  ``speed`` simulated seconds per real second from ``start`` (its ``set_speed`` changes the
  rate without a jump). Given to the terminals (``base_clock``), it keeps their own clocks,
  their uptime and their ``@HH:MM`` fault events in step with the customers. Link timers and
  output pacing stay on the real monotonic clock.
- :func:`opening_time` is the first hour of the area's hour-of-day shape with any traffic,
  on a given CST date.
- :func:`busiest_stations` orders the scenario's stations by activity weight (the busiest
  first); station ``i`` of a run serves the customers of the ``i``-th.
- :class:`CounterTraffic` takes the traffic model's events of one simulated day for each
  served station (merged in time order), waits (through the injected ``wait``, which
  returns true when asked to stop) until the paced clock reaches each event's time and
  serves it with :func:`~.standalone.serve_standalone` on the right emulated terminal: bill
  payments on the station's first bill terminal, withdrawals and balance inquiries on its
  first card terminal, a reversal on the terminal of its original (only if the terminal
  approved that original). Referrals are entered at the PC (``stationlink agent
  referral``), never at a terminal: they are skipped, and so are events for a kind of
  terminal the station lacks, each reason announced once through ``notice``. Events before
  ``start`` are not served. It stops after ``customers`` served events (a payment,
  withdrawal, balance inquiry or reversal each count one), at the end of the day's events,
  or when ``wait`` says stop. Each served event is reported through ``on_served``.
- Card terminals get a :class:`CounterCards` source: while a customer is being served (under
  the device lock) it presents exactly that customer's card (none for a wrong PIN); at any
  other time (a payment driven from the PC) a card of the terminal's seeded pool.
- Header sequence numbers come from ``random.Random(f"{seed}|counter|{station_id}")``: the
  same seed, start and speed give the same requests. No card number is reported or logged.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from stationlink.money import CST, fen_to_yuan, format_yuan
from stationlink.protocol import ClearPan, JournalRecord, TxnKind, TxnStatus

from .clock import SimulatedClock
from .customers import CardQueue, CardSource
from .device import EmulatedTerminal
from .standalone import serve_standalone
from .traffic import Scenario, SimEvent, SimStation, TrafficModel


def opening_time(scenario: Scenario, area: str, day: dt.date) -> dt.datetime:
    """The first hour of ``day`` (CST) in which the area's customers come at all."""
    shape = scenario.rural.hour_of_day if area == "rural" else scenario.urban.hour_of_day
    hour = next((h for h, weight in enumerate(shape) if weight > 0), 0)
    return dt.datetime.combine(day, dt.time(hour), CST)


def busiest_stations(model: TrafficModel) -> list[SimStation]:
    return sorted(model.network.stations, key=lambda s: (-s.weight, s.index))


class CounterCards:
    """A card terminal's card source (module contract)."""

    def __init__(self, fallback: CardSource) -> None:
        self.queue = CardQueue()
        self.fallback = fallback
        self.serving = False  # set only while the device lock is held

    def __call__(self) -> ClearPan | None:
        return self.queue() if self.serving else self.fallback()


@dataclass
class CounterStation:
    """One served station: its id, the scenario station whose customers come, its devices."""

    station_id: str
    sim: SimStation
    bill: EmulatedTerminal | None
    card: EmulatedTerminal | None
    cards: CounterCards | None


@dataclass(frozen=True)
class Served:
    """One customer served: the event, where, and the record the terminal made (or none)."""

    station_id: str
    terminal_id: str
    event: SimEvent
    record: JournalRecord | None
    original_ref: str = ""

    def describe(self) -> str:
        ev, rec = self.event, self.record
        what = " ".join(p for p in (ev.kind, ev.product) if p)
        money = format_yuan(fen_to_yuan(ev.amount_fen)) if ev.amount_fen else "-"
        if rec is None:
            outcome = "refused (no record)"
        else:
            result = rec.result.name.lower()
            why = "" if result == rec.status.value else f" ({result})"
            outcome = f"{rec.status.value}{why} ref {rec.ref}"
        tail = f" of {self.original_ref}" if self.original_ref else ""
        return (f"{ev.time:%Y-%m-%d %H:%M:%S} {self.station_id} {self.terminal_id} {what}"
                f"{tail} {money} {outcome}")


@dataclass
class CounterSummary:
    served: Counter[str] = field(default_factory=Counter)  # "<kind> <status>" -> count
    approved_fen: Counter[str] = field(default_factory=Counter)  # station -> amount
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count
    customers: int = 0
    stopped: bool = False  # by a signal, before the day's traffic ended

    def add(self, served: Served) -> None:
        self.customers += 1
        rec = served.record
        status = "no_record" if rec is None else rec.status.value
        self.served[f"{served.event.kind} {status}"] += 1
        if rec is None or rec.status is not TxnStatus.APPROVED:
            return
        if rec.kind in (TxnKind.BILL_PAYMENT, TxnKind.WITHDRAWAL):
            self.approved_fen[served.station_id] += rec.amount_fen
        elif rec.kind is TxnKind.REVERSAL:
            self.approved_fen[served.station_id] -= rec.amount_fen

    def lines(self) -> list[str]:
        out = [f"customers served: {self.customers}"
               + (" (stopped before the day's traffic ended)" if self.stopped else "")]
        out += [f"  {key}: {n}" for key, n in sorted(self.served.items())]
        for station, fen in sorted(self.approved_fen.items()):
            out.append(f"  {station}: approved payments and withdrawals "
                       f"{format_yuan(fen_to_yuan(fen))} yuan (net of reversals)")
        out += [f"  skipped ({reason}): {n}" for reason, n in sorted(self.skipped.items())]
        return out

    def to_json(self) -> dict[str, object]:
        return {"customers": self.customers, "stopped": self.stopped,
                "served": dict(sorted(self.served.items())),
                "approved_yuan": {s: format_yuan(fen_to_yuan(f))
                                  for s, f in sorted(self.approved_fen.items())},
                "skipped": dict(sorted(self.skipped.items()))}


_SKIP_NOTES = {
    "referral": "referrals are entered at the PC (stationlink agent referral), not at a "
                "terminal: skipped",
    "no_bill_terminal": "station {station} has no bill terminal: its bill payments are skipped",
    "no_card_terminal": "station {station} has no card terminal: its withdrawals and "
                        "balance inquiries are skipped",
    "original_not_approved": "a reversal whose original the terminal did not approve is "
                             "skipped",
}


class CounterTraffic:
    """Serve one simulated day of customers at the given stations (module contract)."""

    def __init__(
        self, model: TrafficModel, stations: Sequence[CounterStation], clock: SimulatedClock,
        start: dt.datetime, *, seed: int, wait: Callable[[float], bool],
        customers: int | None = None, on_served: Callable[[Served], None] = lambda s: None,
        notice: Callable[[str], None] = lambda text: None,
    ) -> None:
        self.model, self.stations, self.clock = model, list(stations), clock
        self.start, self.wait, self.limit = start, wait, customers
        self.on_served, self.notice = on_served, notice
        self.by_index = {s.sim.index: s for s in self.stations}
        self.rngs = {s.station_id: random.Random(f"{seed}|counter|{s.station_id}")
                     for s in self.stations}
        self.summary = CounterSummary()
        self._done: dict[tuple[str, int], tuple[str, EmulatedTerminal]] = {}

    def events(self) -> Iterator[SimEvent]:
        day = self.model.days(self.start.astimezone(CST).date(), 1)
        streams = [self.model.station_events(s.sim, day) for s in self.stations]
        return heapq.merge(*streams, key=lambda e: (e.ts, e.station.index, e.seq))

    def run(self) -> CounterSummary:
        start_ts = self.start.timestamp()
        for ev in self.events():
            if self.limit is not None and self.summary.customers >= self.limit:
                break
            if ev.ts < start_ts:
                continue
            if not self._wait_until(ev.time):
                self.summary.stopped = True
                break
            self.serve(ev)
        return self.summary

    def _wait_until(self, when: dt.datetime) -> bool:
        """Wait until the paced clock reaches ``when``; false when asked to stop."""
        while True:
            ahead = (when - self.clock.now()).total_seconds()
            if ahead <= 0:
                return True
            if self.wait(ahead / self.clock.speed):
                return False

    def _skip(self, reason: str, station: CounterStation) -> None:
        if not self.summary.skipped[reason]:
            self.notice(_SKIP_NOTES[reason].format(station=station.station_id))
        self.summary.skipped[reason] += 1

    def serve(self, ev: SimEvent) -> Served | None:
        """Serve one event now (no waiting); ``None`` when it is skipped."""
        station = self.by_index[ev.station.index]
        if ev.kind == "referral":
            self._skip("referral", station)
            return None
        on_card = ev.card >= 0
        device = station.card if on_card else station.bill
        if device is None:
            self._skip("no_card_terminal" if on_card else "no_bill_terminal", station)
            return None
        original_ref = ""
        if ev.kind == "reversal":
            original = self._done.get((station.station_id, ev.reversal_of))
            if original is None or original[1] is not device:
                self._skip("original_not_approved", station)
                return None
            original_ref = original[0]
        seq = self.rngs[station.station_id].randrange(65536)
        cards = station.cards if on_card else None
        with device.lock:
            if cards is not None:
                cards.serving = True
            try:
                record = serve_standalone(device, ev, self.model.identities,
                                          cards.queue if cards is not None else CardQueue(),
                                          seq, original_ref=original_ref)
            finally:
                if cards is not None:
                    cards.serving = False
        if record is not None and record.status is TxnStatus.APPROVED:
            self._done[(station.station_id, ev.seq)] = (record.ref, device)
        served = Served(station.station_id, device.terminal_id, ev, record, original_ref)
        self.summary.add(served)
        self.on_served(served)
        return served
