"""The traffic model: timestamped customer actions at every station, day by day.

Contract:
- :class:`TrafficModel` (scenario, seed) owns the network (:mod:`.network`), the customer
  identities (:mod:`.customers`) and the per-area samplers. It reads no clock and no global
  random state: every station-day draws from its own ``random.Random`` seeded with
  ``(seed, station index, date)``, so a day's traffic is the same whether it is simulated alone
  or inside a longer run, and the same for every run with that seed.
- :meth:`TrafficModel.station_events` yields one station's :class:`SimEvent` in time order
  (ties keep creation order: a retry after its decline, a reversal after its original);
  :meth:`TrafficModel.generate` merges all stations into one time-ordered stream (heapq), ties
  broken by station index then sequence number.
- Each station-day: Poisson counts of bill-payment visits, withdrawal sessions, standalone
  balance inquiries and referrals (rates × station weight × day factor, see
  :mod:`.calendar`); times from the area's hour-of-day shape; outcomes from the scenario's
  rates (:mod:`.actions`). Sequence numbers 1, 2, ... follow time order within the day.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random as _random
from collections.abc import Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple

from stationlink.money import CST

from .actions import AreaModel, DayBuilder
from .calendar import day_factors, is_market_day, market_factors, poisson
from .customers import Identities
from .network import Network, SimStation, build_network
from .scenario import Scenario


@dataclass(frozen=True, slots=True)
class SimDay:
    """One simulated calendar day (CST) and its precomputed pieces."""

    date: dt.date
    epoch: int  # Unix seconds of 00:00 CST
    ymd: str  # 20261007, used in transaction ids
    iso_prefix: str  # 2026-10-07T
    bill_factor: float
    withdrawal_factor: float


class SimEvent(NamedTuple):
    """One customer action at a station.

    ``kind`` is ``bill_payment``, ``withdrawal``, ``balance_inquiry``, ``referral`` or
    ``reversal`` (of the event of sequence ``reversal_of`` the same station-day, same product,
    amount and card). ``outcome`` is ``approved`` or ``declined`` (``reason`` says why);
    ``reversed`` marks an approved event that a later reversal undoes. ``customer`` is the
    customer index at the station, ``card`` the card index (-1: paid in cash / no card).
    """

    ts: int
    station: SimStation
    day: SimDay
    seq: int
    kind: str
    product: str
    amount_fen: int
    customer: int
    card: int
    outcome: str
    reason: str
    reversal_of: int
    reversed: bool

    @property
    def txn_id(self) -> str:
        return f"{self.station.station_id}-{self.day.ymd}-{self.seq:04d}"

    @property
    def time(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.ts, CST)

    @property
    def terminal_id(self) -> str:
        """Card actions (and their reversals) run on the card terminal, the rest on the
        bill-payment terminal."""
        return self.station.card_terminal if self.card >= 0 else self.station.bill_terminal


def simulated_days(scenario: Scenario, start: dt.date, days: int) -> list[SimDay]:
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    bill = day_factors(dates, scenario.day_of_week, scenario.bill_day_of_month)
    wd = day_factors(dates, scenario.day_of_week, scenario.withdrawal_day_of_month)
    out = []
    for d, fb, fw in zip(dates, bill, wd, strict=True):
        epoch = int(dt.datetime(d.year, d.month, d.day, tzinfo=CST).timestamp())
        out.append(SimDay(d, epoch, d.strftime("%Y%m%d"), d.isoformat() + "T", fb, fw))
    return out


class TrafficModel:
    """Customers and their transactions for every station of a scenario."""

    def __init__(self, scenario: Scenario, seed: int, token_key: bytes | None = None) -> None:
        self.scenario = scenario
        self.seed = seed
        self.network: Network = build_network(scenario, seed)
        key = token_key if token_key is not None else scenario.card_token_key.encode()
        self.identities = Identities(seed, scenario.card_bins, scenario.pan_length, key)
        self._areas = {
            "rural": AreaModel(scenario, scenario.rural),
            "urban": AreaModel(scenario, scenario.urban),
        }
        self._market = market_factors(scenario.market_cycle_days, scenario.market_day_factor)

    def days(self, start: dt.date, days: int) -> list[SimDay]:
        return simulated_days(self.scenario, start, days)

    def station_events(self, station: SimStation, days: list[SimDay]) -> Iterator[SimEvent]:
        """One station's events over ``days``, in time order."""
        for day in days:
            yield from self.station_day(station, day)

    def station_day(self, station: SimStation, day: SimDay) -> list[SimEvent]:
        rng = _random.Random(f"{self.seed}|{station.index}|{day.date.toordinal()}")
        area = self._areas[station.area]
        factor = station.weight
        if station.area == "rural" and self.scenario.market_cycle_days > 1:
            market = is_market_day(day.date, self.scenario.market_cycle_days, station.market_offset)
            factor *= self._market[0] if market else self._market[1]
        random = rng.random
        builder = DayBuilder(area, rng, station.customers, station.cards)
        builder.bill_visits(poisson(random, area.bill_rate * factor * day.bill_factor))
        wd_factor = factor * day.withdrawal_factor
        builder.withdrawal_sessions(poisson(random, area.withdrawal_rate * wd_factor))
        builder.balance_inquiries(poisson(random, area.inquiry_rate * wd_factor))
        builder.referrals(poisson(random, area.referral_rate * station.weight))
        entries = builder.entries
        if not entries:
            return []
        entries.sort(key=itemgetter(0))
        seq_of: list[int] = []
        if builder.has_reversals:
            seq_of = [0] * len(entries)
            for i, e in enumerate(entries):
                seq_of[e[9]] = i + 1
        epoch = day.epoch
        out = []
        for i, e in enumerate(entries):
            rev_of = e[10]
            out.append(
                SimEvent(
                    epoch + e[0], station, day, i + 1, e[1], e[2], e[3], e[4], e[5], e[6],
                    e[7], seq_of[rev_of] if rev_of >= 0 else 0, e[8],
                )
            )
        return out

    def generate(self, start: dt.date, days: int) -> Iterator[SimEvent]:
        """Every station's events over ``days`` days from ``start``, merged in time order."""
        sim_days = self.days(start, days)
        streams = [self.station_events(s, sim_days) for s in self.network.stations]
        return heapq.merge(*streams, key=_merge_key)


def _merge_key(event: SimEvent) -> tuple[int, int, int]:
    return (event.ts, event.station.index, event.seq)


def generate(
    scenario: Scenario, start: dt.date, days: int, seed: int, token_key: bytes | None = None
) -> Iterator[SimEvent]:
    """Convenience: ``TrafficModel(scenario, seed, token_key).generate(start, days)``."""
    return TrafficModel(scenario, seed, token_key).generate(start, days)
