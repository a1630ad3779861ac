"""``stationlink sim run``: simulated traffic end to end through terminals, agents and a hub.

A thin layer over :func:`stationlink_sim.e2e.run_simulation` (``docs/simulator.md``,
"End-to-end run and the demo"). Exit status: 0 when the hub holds exactly what the
terminals did, 1 when it differs (or a station did not finish syncing), 2 for a bad option,
10 when a station's run failed; the run's log is ``run.log`` in the work directory.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from stationlink.cli.common import echo_json, handles_errors, stderr

R = TypeVar("R")

def start_log(directory: Path, verbose: bool) -> logging.Handler:
    """Log the run to ``run.log`` in the work directory (and to stderr with ``-v``)."""
    handler = logging.FileHandler(directory / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(threadName)s %(name)s "
                                           "%(levelname)s %(message)s"))
    root = logging.getLogger("stationlink")
    sim = logging.getLogger("stationlink_sim")
    for logger in (root, sim):
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = verbose
    if verbose:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    return handler


def stop_log(handler: logging.Handler) -> None:
    for name in ("stationlink", "stationlink_sim"):
        logging.getLogger(name).removeHandler(handler)
        logging.getLogger(name).propagate = True
    handler.close()


def print_result(ctx: click.Context, result: R, ok: bool, as_json: bool,
                 to_json: Callable[[R], dict[str, Any]],
                 to_lines: Callable[[R], list[str]]) -> None:
    """Print a run's ``result`` as one JSON object or as lines; exit status 1 unless ``ok``
    (``sim run`` and ``demo``)."""
    if as_json:
        echo_json(to_json(result))
    else:
        for line in to_lines(result):
            click.echo(line)
    if not ok:
        ctx.exit(1)


@click.command("run")
@click.option("--scenario", default="county", show_default=True,
              help="Packaged scenario name or a scenario .toml file.")
@click.option("--days", type=click.IntRange(min=1), default=1, show_default=True,
              help="Simulated days.")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]),
              help="First day (default: the scenario's calibration start).")
@click.option("--seed", type=int, help="Random seed (default: the scenario's).")
@click.option("--stations", type=click.IntRange(min=1),
              help="Run the first N stations of the scenario (default: all).")
@click.option("--transport", type=click.Choice(["pty", "tcp"]), default="pty",
              show_default=True, help="Terminals on pseudo-terminals or TCP sockets.")
@click.option("--faults", default="", help="Fault spec applied to every terminal.")
@click.option("--standalone-share", type=click.FloatRange(0, 1), default=0.1,
              show_default=True,
              help="Share of card-terminal customers served by the terminal on its own.")
@click.option("--parallel", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Stations run at the same time (the result does not depend on it).")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Work directory, new or empty (default: a new temporary directory).")
@click.option("--truth", type=click.Path(dir_okay=False, path_type=Path),
              help="Write what the terminals approved here (default: DIR/truth.csv).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--progress/--no-progress", default=None,
              help="Progress on stderr (default: a bar when stderr is a terminal).")
@click.option("-v", "--verbose", is_flag=True, help="Log to stderr as well as to run.log.")
@click.pass_context
@handles_errors
def run(
    ctx: click.Context, scenario: str, days: int, start: dt.datetime | None, seed: int | None,
    stations: int | None, transport: str, faults: str, standalone_share: float,
    parallel: int, directory: Path | None, truth: Path | None, as_json: bool,
    progress: bool | None, verbose: bool,
) -> None:
    """Drive simulated traffic through emulated terminals, station agents and a hub."""
    from stationlink_sim.e2e import RunOptions, run_simulation, work_directory
    from stationlink_sim.e2e.report import run_json, run_lines

    work = work_directory(directory, "stationlink-sim-run-")
    handler = start_log(work, verbose)
    bar: Any = None
    done = [0]
    try:
        opts = RunOptions(
            scenario=scenario, days=days, start=start.date() if start else None, seed=seed,
            stations=stations, transport=transport, faults=faults, directory=work,
            directory_ready=True, truth=truth, standalone_share=standalone_share,
            parallel=parallel)
        def note(report: Any, total: int) -> None:
            nonlocal bar
            done[0] += 1
            if progress is None and sys.stderr.isatty():
                if bar is None:
                    bar = click.progressbar(length=total, label="stations", file=sys.stderr)
                bar.update(1)
            elif progress:
                stderr(f"running: {done[0]}/{total} stations (station {report.station_id}, "
                       f"{report.seconds:.1f} s)")

        result = run_simulation(opts, progress=note)
    finally:
        if bar is not None:
            bar.render_finish()
        stop_log(handler)
    print_result(ctx, result, result.ok, as_json, run_json, run_lines)
