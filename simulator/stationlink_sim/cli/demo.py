"""``stationlink demo``: one simulated station's day end to end, with its reward so far.

A thin layer over :func:`stationlink_sim.e2e.run_demo` (``docs/simulator.md``, "End-to-end
run and the demo"). The first line names the work directory (human output); the summary
(figures, faults survived, the check, the reward with each item's derivation as ``rewards
explain`` gives it) is in ``--lang``, Chinese by default; ``--json`` is the same in every
language. Exit status 0
when the hub holds exactly what the terminals did, 1 when not, 10 when the run failed.

Then, on a terminal (standard input and output both terminals, no ``--json``) or with
``--serve``, and when the run is good: the console's URL (the month's page) and a one-time
password of operator ``demo`` (admin) are printed, and the hub serves the run's database
(station API and console, docs/console.md; in ``--lang``, Chinese by default) on ``--bind``
until Ctrl-C (exit 0).
``--no-serve`` (scripts, tests) ends right after the figures.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from stationlink.cli.common import handles_errors
from stationlink.i18n import DEFAULT_LANG, LANGS, gettext_for

from .run import print_result, start_log, stop_log

if TYPE_CHECKING:
    from stationlink_sim.e2e.demo import DemoResult


@click.command("demo")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Where the files go, new or empty (default: a new temporary directory).")
@click.option("--seed", type=int, help="Random seed (default: the county scenario's).")
@click.option("--date", type=click.DateTime(["%Y-%m-%d"]),
              help="The simulated day (default: 2014-06-10).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("-v", "--verbose", is_flag=True, help="Log to stderr as well as to run.log.")
@click.option("--serve/--no-serve", default=None,
              help="Then serve the console until Ctrl-C  [default: --serve on a terminal]")
@click.option("--bind", default="127.0.0.1:8400", show_default=True,
              help="host:port of the console when serving.")
@click.option("--lang", type=click.Choice(LANGS), default=DEFAULT_LANG,
              envvar="STATIONLINK_LANG", show_default=True, show_envvar=True,
              help="The language of the summary and of the console when serving.")
@click.pass_context
@handles_errors
def demo(ctx: click.Context, directory: Path | None, seed: int | None,
         date: dt.datetime | None, as_json: bool, verbose: bool, serve: bool | None,
         bind: str, lang: str) -> None:
    """Run a simulated station for a day end to end and print its figures and reward."""
    from stationlink_sim.e2e import DemoOptions, run_demo, work_directory
    from stationlink_sim.e2e.demo import DEMO_DATE
    from stationlink_sim.e2e.report import demo_json, demo_lines

    work = work_directory(directory, "stationlink-demo-")
    if not as_json:
        _ = gettext_for(lang)
        click.echo(_("stationlink demo: files in {directory}").format(directory=work))
    handler = start_log(work, verbose)
    try:
        result = run_demo(DemoOptions(directory=work, directory_ready=True, seed=seed,
                                      date=date.date() if date else DEMO_DATE))
    finally:
        stop_log(handler)
    print_result(ctx, result, result.run.ok, as_json, demo_json,
                 lambda r: demo_lines(r, lang))
    if serve is None:
        serve = not as_json and sys.stdin.isatty() and sys.stdout.isatty()
    if serve:
        serve_demo(result, bind, lang)


def serve_demo(result: DemoResult, bind: str, lang: str = DEFAULT_LANG) -> None:
    """Print the console's URL and a one-time password, then serve until Ctrl-C."""
    from stationlink_sim.e2e.demo import DEMO_OPERATOR, demo_clock, prepare_console, serve_console

    clock = demo_clock(result)
    password = prepare_console(result, now=clock())

    def ready(url: str) -> None:
        click.echo(f"console: {url}/console/months/{result.month}")
        click.echo(f"operator {DEMO_OPERATOR}, one-time password: {password} "
                   "(change it at the first sign-in)")
        click.echo("serving until Ctrl-C", err=True)

    serve_console(result, bind, ready, clock=clock, lang=lang)
    click.echo("console stopped", err=True)
