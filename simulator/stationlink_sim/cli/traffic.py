"""``stationlink sim traffic`` and ``stationlink sim calibrate``: simulated traffic files and
the model's calibration report (``docs/simulator.md``, "Traffic model").

Contract:
- ``sim traffic`` writes the transactions interchange file (``--out``) and the matching stations
  and branches files (default ``<out>.stations.csv`` / ``<out>.branches.csv`` beside it). Each
  file is written to ``<path>.part`` and renamed into place only when complete. Rows are grouped
  station by station, each station's rows in time order (``--order station``, the default and
  fastest), or merged into one time order (``--order time``; implied by ``--realtime``).
- Time is simulated: a month runs as fast as the machine allows. ``--realtime`` paces rows to
  the wall clock (``--speed`` simulated seconds per second) and flushes each one.
- A progress bar goes to stderr when stderr is a terminal; ``--progress`` forces plain progress
  lines elsewhere, ``--no-progress`` silences it. The summary goes to stdout (``--json``).
- ``sim calibrate`` prints each target beside the measured value and exits 1 when any target
  is outside the scenario's tolerance (0 when all are within).
"""

from __future__ import annotations

import calendar
import datetime as dt
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click

from stationlink.cli.common import echo_json, handles_errors
from stationlink.errors import ConfigError, SimulatorError
from stationlink.money import parse_month


class _Progress:
    """A click progress bar on a terminal, plain lines when forced elsewhere, or nothing."""

    def __init__(self, total: int, unit: str, show: bool | None) -> None:
        self.total, self.unit, self.done = max(total, 1), unit, 0
        tty = sys.stderr.isatty()
        self._bar: Any = None
        self._plain = bool(show) and not tty
        self._next_pct = 10
        if (show is None and tty) or (show and tty):
            self._bar = click.progressbar(
                length=self.total, label=f"simulating {total} {unit}", file=sys.stderr
            )
            self._bar.__enter__()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._plain:
            pct = self.done * 100 // self.total
            while pct >= self._next_pct:
                click.echo(
                    f"simulating: {self._next_pct}% ({self.done}/{self.total} {self.unit})",
                    err=True,
                )
                self._next_pct += 10

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


@contextmanager
def _atomic_text(path: Path) -> Iterator[IO[str]]:
    part = path.with_name(path.name + ".part")
    try:
        with open(part, "w", encoding="utf-8", newline="") as handle:
            yield handle
        os.replace(part, path)
    except OSError as exc:
        raise SimulatorError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        if part.exists():
            part.unlink()


def _period(month: str | None, start: dt.datetime | None, days: int | None) -> tuple[dt.date, int]:
    if month is not None and start is not None:
        raise click.UsageError("give --month or --start, not both")
    if month is not None:
        try:
            year, mon = parse_month(month)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--month") from exc
        length = calendar.monthrange(year, mon)[1]
        if days is not None and days != length:
            raise click.UsageError(f"--month {month} has {length} days; leave out --days")
        return dt.date(year, mon, 1), length
    if start is None:
        raise click.UsageError("give --month YYYY-MM, or --start YYYY-MM-DD with --days")
    if days is None:
        raise click.UsageError("--start needs --days")
    return start.date(), days


def _side_path(out: Path, what: str) -> Path:
    stem = out.name[:-4] if out.name.lower().endswith(".csv") else out.name
    return out.with_name(f"{stem}.{what}.csv")


@click.command("traffic")
@click.option("--scenario", default="county", show_default=True,
              help="Packaged scenario name, or a path to a scenario .toml file.")
@click.option("--month", help="Simulate one calendar month (CST), e.g. 2026-10.")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), help="First day (with --days).")
@click.option("--days", type=click.IntRange(min=1), help="Number of days from --start.")
@click.option("--seed", type=int, help="Random seed (default: the scenario's).")
@click.option("--stations", type=click.IntRange(min=1), help="Override the station count.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Transactions file to write.")
@click.option("--stations-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Stations file (default: <out>.stations.csv).")
@click.option("--branches-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Branches file (default: <out>.branches.csv).")
@click.option("--card-key", help="Card-token key (default: the scenario's token_key).")
@click.option("--order", type=click.Choice(["station", "time"]), default="station",
              show_default=True, help="Rows station by station, or merged in time order.")
@click.option("--realtime", is_flag=True, help="Pace rows to the wall clock (time order).")
@click.option("--speed", type=float, default=1.0, show_default=True,
              help="With --realtime: simulated seconds per wall-clock second.")
@click.option("--progress/--no-progress", default=None,
              help="Progress on stderr (default: only when stderr is a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Summary as JSON.")
@handles_errors
def traffic(
    scenario: str, month: str | None, start: dt.datetime | None, days: int | None,
    seed: int | None, stations: int | None, out: Path, stations_out: Path | None,
    branches_out: Path | None, card_key: str | None, order: str, realtime: bool, speed: float,
    progress: bool | None, as_json: bool,
) -> None:
    """Simulate customers' transactions and write the interchange files."""
    from stationlink.interchange import write_branches, write_stations
    from stationlink_sim.traffic import TrafficModel, TransactionWriter, load_scenario, paced

    first, ndays = _period(month, start, days)
    if speed <= 0:
        raise click.BadParameter("must be > 0", param_hint="--speed")
    sc = load_scenario(scenario)
    if stations is not None:
        sc = sc.with_stations(stations)
    run_seed = sc.default_seed if seed is None else seed
    model = TrafficModel(sc, run_seed, card_key.encode() if card_key is not None else None)
    sim_days = model.days(first, ndays)
    stations_path = stations_out or _side_path(out, "stations")
    branches_path = branches_out or _side_path(out, "branches")
    if realtime:
        order = "time"
    began = time.perf_counter()
    with _atomic_text(out) as handle:
        writer = TransactionWriter(handle, model.identities)
        if order == "station":
            bar = _Progress(len(model.network.stations), "stations", progress)
            try:
                for st in model.network.stations:
                    writer.write(model.station_events(st, sim_days))
                    bar.advance()
            finally:
                bar.close()
        else:
            bar = _Progress(ndays, "days", progress)
            events = model.generate(first, ndays)
            if realtime:
                events = paced(events, speed=speed)
            try:
                _write_in_time_order(writer, handle, events, bar.advance, flush=realtime)
            finally:
                bar.close()
    with _atomic_text(stations_path) as handle:
        write_stations(model.network.interchange_stations(), handle)
    with _atomic_text(branches_path) as handle:
        write_branches(model.network.branches, handle)
    elapsed = time.perf_counter() - began
    summary = {
        "scenario": sc.name, "seed": run_seed, "start": first.isoformat(), "days": ndays,
        "stations": len(model.network.stations), "branches": len(model.network.branches),
        "transactions": writer.rows, "order": order, "out": str(out),
        "stations_out": str(stations_path), "branches_out": str(branches_path),
    }
    if as_json:
        echo_json(summary)
    else:
        click.echo(
            f"wrote {writer.rows} transactions ({summary['stations']} stations, "
            f"{ndays} days from {first}, seed {run_seed}, {order} order) to {out}"
        )
        click.echo(f"stations: {stations_path}; branches: {branches_path}")
        if progress or (progress is None and sys.stderr.isatty()):
            click.echo(f"{elapsed:.1f} s", err=True)


def _write_in_time_order(
    writer: Any, handle: IO[str], events: Iterator[Any], advance: Callable[[int], None],
    *, flush: bool,
) -> None:
    batch: list[Any] = []
    current = None
    for ev in events:
        if ev.day is not current:
            if current is not None:
                advance(1)
            current = ev.day
        if flush:
            writer.write((ev,))
            handle.flush()
            continue
        batch.append(ev)
        if len(batch) >= 4096:
            writer.write(batch)
            batch.clear()
    writer.write(batch)
    if current is not None:
        advance(1)


@click.command("calibrate")
@click.option("--scenario", default="county", show_default=True,
              help="Packaged scenario name, or a path to a scenario .toml file.")
@click.option("--seed", type=int, help="Random seed (default: the scenario's).")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]),
              help="First day (default: the scenario's calibration start).")
@click.option("--days", type=click.IntRange(min=1),
              help="Days to simulate (default: the scenario's calibration period).")
@click.option("--json", "as_json", is_flag=True, help="Report as JSON.")
@click.pass_context
@handles_errors
def calibrate(
    ctx: click.Context, scenario: str, seed: int | None, start: dt.datetime | None,
    days: int | None, as_json: bool,
) -> None:
    """Run the traffic model and print each calibration target beside the measured value.

    Exit status 0 when every target is within the scenario's tolerance, 1 otherwise.
    """
    from stationlink_sim.traffic import calibrate as run_calibration
    from stationlink_sim.traffic import load_scenario

    sc = load_scenario(scenario)
    run_seed = sc.default_seed if seed is None else seed
    first = start.date() if start is not None else sc.calibration_start
    ndays = days if days is not None else sc.calibration_days
    if not sc.targets:
        raise ConfigError(f"{sc.source}: [calibration.targets] names no target")
    measurement, results = run_calibration(sc, run_seed, first, ndays)
    ok = all(r.ok for r in results)
    if as_json:
        echo_json({
            "scenario": sc.name, "seed": run_seed, "start": first.isoformat(), "days": ndays,
            "stations": len(measurement.per_station_fen),
            "bill_payments": measurement.bill_payments,
            "amount": f"{measurement.amount_fen // 100}.{measurement.amount_fen % 100:02d}",
            "tolerance": sc.tolerance,
            "targets": [
                {"name": r.name, "description": r.description, "target": r.target,
                 "measured": round(r.measured, 6), "deviation": round(r.deviation, 6),
                 "ok": r.ok}
                for r in results
            ],
            "ok": ok,
        })
    else:
        fen = measurement.amount_fen
        click.echo(
            f"scenario {sc.name}, seed {run_seed}, {ndays} days from {first}: "
            f"{measurement.bill_payments} approved bill payments, {fen // 100}.{fen % 100:02d} yuan"
        )
        tol = f"within {sc.tolerance * 100:g}%"
        rows = [("target", "goal", "measured", "deviation", tol)]
        for r in results:
            rows.append((
                r.description, _figure(r.name, r.target), _figure(r.name, r.measured),
                f"{r.deviation * 100:+.2f}%", "yes" if r.ok else "NO",
            ))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        for row in rows:
            click.echo(
                "  ".join(
                    cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                    for i, cell in enumerate(row)
                ).rstrip()
            )
        click.echo("all targets met" if ok else "some targets missed")
    if not ok:
        ctx.exit(1)


def _figure(name: str, value: float) -> str:
    if name.endswith("_share"):
        return f"{value * 100:.2f}%"
    if name == "stations":
        return f"{value:.0f}"
    return f"{value:.2f}"
