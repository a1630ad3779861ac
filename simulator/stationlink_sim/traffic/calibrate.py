"""Calibration: run the traffic model and compare what it produces with the scenario's targets.

Contract:
- :func:`measure` runs the model over a period and measures, on *approved* bill payments only
  (declined and reversed ones never count, as in the reward policy): stations with traffic,
  bill payments per station per day (over all stations of the network), yuan per bill payment,
  yuan per station per day, and the share of the amount taken by the 10 busiest and the 10
  quietest stations. Amounts are summed exactly in fen; the figures themselves are statistics
  (ratios), reported as floats.
- :func:`calibrate` pairs every target of the scenario with its measured value, the relative
  deviation and whether it lies within the scenario's tolerance.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from stationlink.errors import ConfigError

from .model import TrafficModel
from .scenario import TARGET_NAMES, Scenario


@dataclass(frozen=True)
class Measurement:
    stations: int
    days: int
    bill_payments: int
    amount_fen: int
    per_station_fen: tuple[int, ...]

    def figures(self) -> dict[str, float]:
        n, days = len(self.per_station_fen), self.days
        ranked = sorted(self.per_station_fen)
        total = self.amount_fen
        out = {
            "stations": float(self.stations),
            "bill_payments_per_station_day": self.bill_payments / (n * days),
            "yuan_per_bill_payment": (
                total / 100 / self.bill_payments if self.bill_payments else 0.0
            ),
            "yuan_per_station_day": total / 100 / (n * days),
        }
        if n >= 10 and total:
            out["top10_amount_share"] = sum(ranked[-10:]) / total
            out["bottom10_amount_share"] = sum(ranked[:10]) / total
        return out


@dataclass(frozen=True)
class TargetResult:
    name: str
    description: str
    target: float
    measured: float
    deviation: float  # relative: (measured - target) / target
    tolerance: float

    @property
    def ok(self) -> bool:
        return abs(self.deviation) <= self.tolerance


def measure(model: TrafficModel, start: dt.date, days: int) -> Measurement:
    sim_days = model.days(start, days)
    per_station: list[int] = []
    count = 0
    active = 0
    for station in model.network.stations:
        fen = 0
        n = 0
        for ev in model.station_events(station, sim_days):
            if ev.kind == "bill_payment" and ev.outcome == "approved" and not ev.reversed:
                fen += ev.amount_fen
                n += 1
        per_station.append(fen)
        count += n
        active += n > 0
    return Measurement(active, days, count, sum(per_station), tuple(per_station))


def calibrate(
    scenario: Scenario,
    seed: int,
    start: dt.date | None = None,
    days: int | None = None,
) -> tuple[Measurement, list[TargetResult]]:
    """Measure the scenario's model and compare with each of its targets."""
    if not scenario.targets:
        raise ConfigError(f"{scenario.source}: [calibration.targets] names no target")
    model = TrafficModel(scenario, seed)
    m = measure(
        model,
        start if start is not None else scenario.calibration_start,
        days if days is not None else scenario.calibration_days,
    )
    figures = m.figures()
    results = []
    for name, target in scenario.targets.items():
        measured = figures.get(name, 0.0)
        deviation = (measured - target) / target
        results.append(
            TargetResult(name, TARGET_NAMES[name], target, measured, deviation, scenario.tolerance)
        )
    return m, results
