"""``stationlink sim run`` as a library: many stations end to end into one hub, then the check.

Contract (:func:`run_simulation`):
- The traffic model (scenario, seed, card key = the scenario's ``token_key``) gives each of
  the first ``stations`` stations its events over ``days`` days from ``start``; an
  :class:`~.hub.EmbeddedHub` (real HTTP, SQLite ``hub.sqlite`` in the work directory) gets a
  token per station; :class:`~.driver.StationDriver` runs each station (its terminals on
  ptys or TCP sockets, its agent) in a pool of ``parallel`` threads. Stations are
  independent and each runs on its own simulated clock, so the pool size changes the speed,
  never the result.
- Afterwards the work directory holds ``hub.sqlite``, ``hub.csv`` (the hub's export, late
  records included), the truth (``truth`` path, default ``truth.csv``: what the terminals'
  journals say they did, and the referrals the cashiers entered at the PC, which travel
  through the buffer and the hub like the rest), ``stations.csv`` / ``branches.csv`` (the
  stations run and their branches) and ``stations/<id>/`` (agent.toml, hub token, agent
  buffer and state, terminal journals). :attr:`RunResult.referrals` are the referral rows
  entered.
- ``progress(report, total)`` is called in the calling thread as each station finishes.
- The hub is compared with the truth (:func:`~.truth.compare`); :attr:`RunResult.ok`.
- A station that fails raises after every station finished; the failure is a
  :class:`~stationlink.errors.SimulatorError` naming the station (its cause chained).
- Bad options raise :class:`~stationlink.errors.ConfigError`: unknown scenario, a non-empty
  work directory, bad fault spec (or byte-level faults on TCP), a station count out of range.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from stationlink.errors import ConfigError, SimulatorError
from stationlink.hub.export import hub_transactions
from stationlink.interchange import (
    Transaction,
    write_branches,
    write_stations,
    write_transactions,
)
from stationlink.money import CST

from ..faults import parse_faults
from ..traffic import SimDay, SimStation, TrafficModel, load_scenario
from .clock import WorldClock
from .driver import StationDriver
from .figures import Figures, fault_summary
from .hub import EmbeddedHub, hub_duplicates
from .plan import StationPlan, StationReport, dialects_for, terminal_ids
from .truth import Comparison, compare


@dataclass(frozen=True)
class RunOptions:
    scenario: str = "county"
    days: int = 1
    start: dt.date | None = None  # default: the scenario's calibration start
    seed: int | None = None  # default: the scenario's seed
    stations: int | None = None  # the first N stations; default all
    transport: str = "pty"
    faults: str = ""
    directory: Path | None = None
    directory_ready: bool = False  # ``directory`` came from :func:`work_directory` already
    truth: Path | None = None
    standalone_share: float = 0.1
    parallel: int = 8
    weight: float | None = None  # replace every station's activity weight (the demo's scale)
    pick: Callable[[Sequence[SimStation]], list[SimStation]] | None = None
    bill_dialect: str | None = None  # default: dealt per terminal from the seed
    card_dialect: str | None = None
    bill_faults: str | None = None  # default: ``faults``
    card_faults: str | None = None


@dataclass
class RunResult:
    directory: Path
    scenario: str
    seed: int
    start: dt.date
    days: int
    stations: list[SimStation]
    reports: list[StationReport]
    hub_rows: list[Transaction]
    truth: list[Transaction]
    referrals: list[Transaction]
    comparison: Comparison
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.comparison.ok and not any(r.unsettled for r in self.reports)

    def faults(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for r in self.reports:
            total.update(r.faults)
        return fault_summary(total, len(self.reports))

    def events(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for r in self.reports:
            total.update(r.events)
        return total

    def figures(self) -> Figures:
        return Figures.of(self.hub_rows)


def work_directory(directory: Path | None, prefix: str) -> Path:
    """``directory`` (created; must be empty) or a new temporary directory."""
    if directory is None:
        return Path(tempfile.mkdtemp(prefix=prefix))
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ConfigError(f"--dir {directory}: must be a new or empty directory")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _check(opts: RunOptions) -> None:
    if opts.transport not in ("pty", "tcp"):
        raise ConfigError(f"--transport must be pty or tcp, not {opts.transport!r}")
    if not 0 <= opts.standalone_share <= 1:
        raise ConfigError("--standalone-share lies between 0 and 1")
    for name, spec in (("--faults", opts.faults), ("bill faults", opts.bill_faults),
                       ("card faults", opts.card_faults)):
        if spec is None:
            continue
        parsed = parse_faults(spec, source=name)
        if opts.transport == "tcp" and parsed.serial_only_items():
            raise ConfigError(f"{name}: {', '.join(parsed.serial_only_items())} act on serial "
                              "lines only; use --transport pty")


def _write(path: Path, rows: list[Transaction]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        write_transactions(rows, out)


def run_simulation(
    opts: RunOptions, *, progress: Callable[[StationReport, int], None] | None = None
) -> RunResult:
    """Run the stations end to end and check the hub (module contract)."""
    t0 = time.monotonic()
    _check(opts)
    scenario = load_scenario(opts.scenario)
    seed = scenario.default_seed if opts.seed is None else opts.seed
    start = opts.start or scenario.calibration_start
    key = scenario.card_token_key.encode("utf-8")
    model = TrafficModel(scenario, seed, key)
    network = model.network.stations
    if opts.pick is not None:
        chosen = opts.pick(network)
    else:
        n = len(network) if opts.stations is None else opts.stations
        if not 1 <= n <= len(network):
            raise ConfigError(f"--stations must be 1..{len(network)} for scenario "
                              f"{scenario.name}, not {n}")
        chosen = list(network[:n])
    if opts.weight is not None:
        chosen = [replace(s, weight=opts.weight) for s in chosen]
    directory = opts.directory if opts.directory is not None and opts.directory_ready else \
        work_directory(opts.directory, "stationlink-sim-run-")
    days = model.days(start, opts.days)
    world = WorldClock(dt.datetime.combine(start, dt.time(0), CST))
    reports: list[StationReport] = []
    with EmbeddedHub(directory / "hub.sqlite", world) as hub:
        plans = [_plan(opts, model, s, days, seed, key, directory) for s in chosen]
        tokens = [hub.token_for(p.station.station_id) for p in plans]
        failures: list[tuple[str, BaseException]] = []
        with ThreadPoolExecutor(max_workers=max(1, opts.parallel),
                                thread_name_prefix="sim-station") as pool:
            futures: list[tuple[StationPlan, Future[StationReport]]] = [
                (p, pool.submit(StationDriver(p, model, world, hub.url, t).run))
                for p, t in zip(plans, tokens, strict=True)
            ]
            for plan, fut in futures:
                try:
                    report = fut.result()
                except Exception as exc:  # noqa: BLE001 - reported with its station below
                    failures.append((plan.station.station_id, exc))
                    continue
                reports.append(report)
                if progress is not None:
                    progress(report, len(plans))
        if failures:
            sid, err = failures[0]
            if isinstance(err, ConfigError):
                raise err
            raise SimulatorError(f"station {sid} failed: {err}") from err
    hub_rows = sorted(hub_transactions(directory / "hub.sqlite", include_late=True),
                      key=_order)
    truth = sorted((t for r in reports for t in r.truth), key=_order)
    referrals = sorted((t for r in reports for t in r.referrals), key=_order)
    result = RunResult(directory, scenario.name, seed, start, opts.days, chosen, reports,
                       hub_rows, truth, referrals,
                       compare(hub_rows, truth,
                               hub_duplicates=hub_duplicates(directory / "hub.sqlite")))
    _files(result, opts, model, chosen)
    result.seconds = time.monotonic() - t0
    return result


def _order(t: Transaction) -> tuple[str, dt.datetime, str]:
    return (t.station_id, t.ts, t.txn_id)


def _plan(opts: RunOptions, model: TrafficModel, station: SimStation, days: list[SimDay],
          seed: int, key: bytes, directory: Path) -> StationPlan:
    bill_id, card_id = terminal_ids(station)
    bill_d, card_d = dialects_for(seed, station)
    return StationPlan(
        station=station, events=tuple(model.station_events(station, days)),
        days=tuple(d.date for d in days), seed=seed, card_key=key,
        directory=directory / "stations" / station.station_id, bill_id=bill_id,
        card_id=card_id, bill_dialect=opts.bill_dialect or bill_d,
        card_dialect=opts.card_dialect or card_d,
        bill_faults=opts.faults if opts.bill_faults is None else opts.bill_faults,
        card_faults=opts.faults if opts.card_faults is None else opts.card_faults,
        transport=opts.transport, standalone_share=opts.standalone_share)


def _files(result: RunResult, opts: RunOptions, model: TrafficModel,
           chosen: list[SimStation]) -> None:
    d = result.directory
    files = {"hub_db": d / "hub.sqlite", "hub_export": d / "hub.csv",
             "truth": opts.truth or d / "truth.csv",
             "stations": d / "stations.csv", "branches": d / "branches.csv"}
    try:
        _write(files["hub_export"], result.hub_rows)
        _write(files["truth"], result.truth)
        with files["stations"].open("w", encoding="utf-8", newline="") as out:
            write_stations([s.to_interchange() for s in chosen], out)
        wanted = {s.branch_id for s in chosen}
        with files["branches"].open("w", encoding="utf-8", newline="") as out:
            write_branches([b for b in model.network.branches if b.branch_id in wanted], out)
    except OSError as exc:
        raise SimulatorError(f"cannot write the run's files in {d}: {exc}") from exc
    result.files = files
