"""``stationlink demo``: one simulated station's day end to end, with its reward so far.

A thin layer over :func:`stationlink_sim.e2e.run_demo` (``docs/simulator.md``, "End-to-end
run and the demo"). The first line names the work directory (human output); exit status 0
when the hub holds exactly what the terminals did, 1 when not, 10 when the run failed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from stationlink.cli.common import handles_errors

from .run import print_result, start_log, stop_log


@click.command("demo")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Where the files go, new or empty (default: a new temporary directory).")
@click.option("--seed", type=int, help="Random seed (default: the county scenario's).")
@click.option("--date", type=click.DateTime(["%Y-%m-%d"]),
              help="The simulated day (default: 2014-06-10).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("-v", "--verbose", is_flag=True, help="Log to stderr as well as to run.log.")
@click.pass_context
@handles_errors
def demo(ctx: click.Context, directory: Path | None, seed: int | None,
         date: dt.datetime | None, as_json: bool, verbose: bool) -> None:
    """Run a simulated station for a day end to end and print its figures and reward."""
    from stationlink_sim.e2e import DemoOptions, run_demo, work_directory
    from stationlink_sim.e2e.demo import DEMO_DATE
    from stationlink_sim.e2e.report import demo_json, demo_lines

    work = work_directory(directory, "stationlink-demo-")
    if not as_json:
        click.echo(f"stationlink demo: files in {work}")
    handler = start_log(work, verbose)
    try:
        result = run_demo(DemoOptions(directory=work, directory_ready=True, seed=seed,
                                      date=date.date() if date else DEMO_DATE))
    finally:
        stop_log(handler)
    print_result(ctx, result, result.run.ok, as_json, demo_json, demo_lines)
