"""``stationlink diag URL``: find out what is wrong with a terminal, for a field technician.

Thin layer over :func:`stationlink.diag.run_diag`: options in, console text (or ``--json``)
out, ``--report FILE.html`` written, and the exit code of the verdict: 0 all ok, 1
warnings, 2 failures, 3 could not connect (docs/diag.md). ``--buffer`` / ``--config``
add the station-buffer check (``--config`` also gives the agent state and the card key).
An unreadable agent config is a usage error (exit 2, like any bad option).
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import click

from ..agent.config import load_config
from ..clock import SystemClock, TimeSource
from ..diag import DiagOptions, render_html, render_text, run_diag
from ..diag.catalogue import Lang
from ..errors import ConfigError
from ..protocol import Dialect
from .common import echo_json

#: The PC's wall clock the terminal clock is compared with; tests may replace it.
CLOCK: TimeSource = SystemClock()


@click.command()
@click.argument("url")
@click.option("--baud", type=click.IntRange(min=1), default=None,
              help="Baud rate to use (default: the URL's ?baud=, else found by probing).")
@click.option("--dialect", type=click.Choice([d.value for d in Dialect]), default=None,
              help="Dialect to use (default: found by probing).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (docs/diag.md).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write a self-contained HTML report to this file.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of verdicts and advice.")
@click.option("--buffer", "buffer_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Station buffer to check against the terminal.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Agent config (agent.toml): its buffer, state and card key.")
@click.option("--echo", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Echo exchanges per payload size.")
@click.pass_context
def diag(
    ctx: click.Context, url: str, baud: int | None, dialect: str | None, as_json: bool,
    report_path: Path | None, lang: str, buffer_path: Path | None, config_path: Path | None,
    echo: int,
) -> None:
    """Diagnose the terminal at URL: connection, identity, device, link, clock, buffer.

    Exit codes: 0 all ok, 1 warnings, 2 failures, 3 could not connect.
    """
    if buffer_path is not None and config_path is not None:
        raise click.UsageError("give --buffer or --config, not both")
    state_path = None
    card_key = None
    if config_path is not None:
        try:
            config = load_config(config_path)
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from exc
        buffer_path, state_path, card_key = config.buffer_path, config.state_path, (
            config.card_key)
    options = DiagOptions(
        baud=baud, dialect=None if dialect is None else Dialect(dialect), echo=echo,
        lang=cast(Lang, lang), buffer=buffer_path, agent_state=state_path, card_key=card_key,
    )
    report = run_diag(url, options, host_time=CLOCK.now)
    if report_path is not None:
        report_path.write_text(render_html(report), encoding="utf-8")
    if as_json:
        echo_json(report.to_json())
    else:
        click.echo(render_text(report))
        if report_path is not None:
            click.echo(f"report: {report_path}", err=True)
    ctx.exit(report.exit_code())
