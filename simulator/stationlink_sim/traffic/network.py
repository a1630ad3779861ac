"""The simulated station network: branches, stations, villages and station activity weights.

Contract:
- :func:`build_network` is a pure function of (scenario, seed).
- Stations are grouped ``stations_per_branch`` at a time into branches; the first
  ``round(urban_branch_share × branches)`` branches are urban (the county town), the rest rural.
  Every station has its branch's area.
- A rural station stands in a village of ``households_min..households_max`` households (uniform);
  with probability ``shared_village_share`` it shares the village of the station before it in
  the same branch (two stations in one village, which halves each one's effective households
  in the electricity tier). Its customers are the village's effective households. An urban
  station serves ``urban_customers`` customers and has no village.
- Station activity weights are the deterministic quantiles ``(i + 0.5) / n`` of a lognormal
  distribution with ``weight_sigma``, normalised to mean 1, and dealt to stations in a seeded
  random order. The set of weights is the same for every seed, so the concentration of traffic
  on the busiest stations is stable across seeds; which station is busy is not.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from statistics import NormalDist

from stationlink.interchange import Branch, Station

from .scenario import Scenario


@dataclass(frozen=True, slots=True)
class SimStation:
    """One simulated station and what drives its traffic."""

    index: int
    station_id: str
    branch_id: str
    area: str
    village_id: str
    village_households: int | None
    weight: float
    market_offset: int
    customers: int
    cards: int
    bill_terminal: str
    card_terminal: str

    def to_interchange(self) -> Station:
        return Station(
            self.station_id, self.branch_id, self.area, self.village_id, self.village_households
        )


@dataclass(frozen=True)
class Network:
    stations: tuple[SimStation, ...]
    branches: tuple[Branch, ...]

    def interchange_stations(self) -> list[Station]:
        return [s.to_interchange() for s in self.stations]


def station_weights(n: int, sigma: float) -> list[float]:
    """Lognormal quantile weights, ascending, with mean exactly 1."""
    normal = NormalDist()
    raw = [math.exp(sigma * normal.inv_cdf((i + 0.5) / n)) for i in range(n)]
    mean = sum(raw) / n
    return [w / mean for w in raw]


def build_network(scenario: Scenario, seed: int) -> Network:
    rng = random.Random(f"network|{seed}")
    n = scenario.stations
    per_branch = scenario.stations_per_branch
    n_branches = math.ceil(n / per_branch)
    n_urban = round(scenario.urban_branch_share * n_branches)
    prefix = scenario.id_prefix
    bwidth = max(2, len(str(n_branches)))
    swidth = max(3, len(str(n)))
    branch_ids = [f"{prefix}B{b + 1:0{bwidth}d}" for b in range(n_branches)]
    weights = station_weights(n, scenario.weight_sigma)
    rng.shuffle(weights)

    # Villages first: (village id, households, market offset) per rural station.
    village_of: list[int] = []
    villages: list[tuple[str, int, int]] = []
    sharing: dict[int, int] = {}
    for i in range(n):
        b = i // per_branch
        if b < n_urban:
            village_of.append(-1)
            continue
        prev = village_of[-1] if i % per_branch else -1
        if prev >= 0 and sharing[prev] == 1 and rng.random() < scenario.shared_village_share:
            village_of.append(prev)
            sharing[prev] += 1
            continue
        households = rng.randint(scenario.households_min, scenario.households_max)
        offset = rng.randrange(max(1, scenario.market_cycle_days))
        villages.append((f"{prefix}V{len(villages) + 1:0{swidth}d}", households, offset))
        village_of.append(len(villages) - 1)
        sharing[len(villages) - 1] = 1

    stations: list[SimStation] = []
    for i in range(n):
        b = i // per_branch
        sid = f"{prefix}S{i + 1:0{swidth}d}"
        v = village_of[i]
        village_households: int | None
        if v < 0:
            area, vid, village_households, offset = "urban", "", None, 0
            customers = scenario.urban_customers
        else:
            vid, hh, offset = villages[v]
            area, village_households = "rural", hh
            customers = max(1, hh // sharing[v])
        cards = max(1, round(customers * scenario.cards_per_household))
        stations.append(
            SimStation(
                i, sid, branch_ids[b], area, vid, village_households, weights[i], offset,
                customers, cards, f"{sid}-BP", f"{sid}-POS",
            )
        )
    branches = []
    for b, bid in enumerate(branch_ids):
        size = min(per_branch, n - b * per_branch)
        area = "urban" if b < n_urban else "rural"
        branches.append(Branch(bid, area, round(scenario.plan_effective_share * size)))
    return Network(tuple(stations), tuple(branches))
