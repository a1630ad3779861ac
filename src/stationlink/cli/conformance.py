"""``stationlink conformance URL --kind bill|card``: prove a terminal speaks docs/protocol.md.

Thin layer over :func:`stationlink.conformance.run_conformance`: options in, console text
(or ``--json``) out, ``--junit FILE.xml`` and ``--report FILE.html`` written, and the exit
code of the verdict: 0 every applicable case passed, 1 a case failed, 3 could not connect
(as ``diag``), 2 usage. ``--list`` prints the catalogue (``--json`` as a document) without
touching a device. ``--power-cycle-cmd CMD`` is run (no shell) when CF-JOURNAL-POWER needs
the device power-cycled. docs/conformance.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import click

from ..clock import SystemClock, TimeSource
from ..conformance import (
    CASES,
    KitOptions,
    command_hook,
    render_html,
    render_junit,
    render_text,
    run_conformance,
)
from ..diag.catalogue import Lang
from ..errors import ConfigError
from ..protocol import Dialect
from .common import echo_json

#: The PC's wall clock (report date, IDENTIFY host time); tests may replace it.
CLOCK: TimeSource = SystemClock()
IDS = [c.id for c in CASES]


def _catalogue(as_json: bool, lang: Lang) -> None:
    rows = [{"id": c.id, "section": c.section, "purpose": c.purpose(lang),
             "kinds": list(c.kinds), "transports": [t.value for t in c.transports],
             "money": c.money, "needs_power_cycle": c.needs_power_cycle,
             "applies_to": c.applies_to()} for c in CASES]
    if as_json:
        echo_json({"schema": "stationlink-conformance-catalogue", "cases": rows})
        return
    for r in rows:
        money = "  [money]" if r["money"] else ""
        click.echo(f"{r['id']:<17} §{r['section']:<4} {r['purpose']}{money}")
        click.echo(f"{'':<23}{r['applies_to']}")


@click.command()
@click.argument("url", required=False)
@click.option("--kind", type=click.Choice(["bill", "card"]), default=None,
              help="The kind of terminal under test (required unless --list).")
@click.option("--dialect", type=click.Choice([d.value for d in Dialect]), default=None,
              help="Dialect to try first (default: found by probing).")
@click.option("--only", multiple=True, metavar="ID",
              help="Run only these cases (repeatable, or comma-separated).")
@click.option("--allow-money", is_flag=True,
              help="Run the money-moving cases (1 fen test payments, reversed afterwards).")
@click.option("--power-cycle-cmd", default=None, metavar="CMD",
              help="Command that power-cycles the device (for CF-JOURNAL-POWER).")
@click.option("--bill-product", default="mobile", show_default=True,
              help="Bill product of the test payments (bill terminals).")
@click.option("--bill-account", default="13800000000", show_default=True,
              help="Test account of the test payments (bill terminals).")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write JUnit XML (one testcase per case) to this file.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write a self-contained HTML report to this file.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document (docs/conformance.md).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of the report.")
@click.option("--list", "list_only", is_flag=True, help="Print the catalogue of cases and exit.")
@click.pass_context
def conformance(
    ctx: click.Context, url: str | None, kind: str | None, dialect: str | None,
    only: tuple[str, ...], allow_money: bool, power_cycle_cmd: str | None, bill_product: str,
    bill_account: str, junit_path: Path | None, report_path: Path | None, as_json: bool,
    lang: str, list_only: bool,
) -> None:
    """Run the conformance catalogue against the device at URL.

    Exit codes: 0 every applicable case passed, 1 a case failed, 2 usage, 3 could not
    connect.
    """
    if list_only:
        _catalogue(as_json, cast(Lang, lang))
        return
    if url is None:
        raise click.UsageError("give the device's URL (or --list)")
    if kind is None:
        raise click.UsageError("give --kind bill or --kind card")
    ids = tuple(i.strip() for item in only for i in item.split(",") if i.strip())
    unknown = [i for i in ids if i not in IDS]
    if unknown:
        raise click.UsageError(f"unknown case id {', '.join(unknown)} (see --list)")
    try:
        hook = command_hook(power_cycle_cmd) if power_cycle_cmd is not None else None
    except (ConfigError, ValueError) as exc:
        raise click.UsageError(f"--power-cycle-cmd: {exc}") from exc
    options = KitOptions(
        kind=kind, dialect=None if dialect is None else Dialect(dialect), only=ids,
        allow_money=allow_money, power_cycle=hook, lang=cast(Lang, lang),
        product=bill_product, account=bill_account,
    )
    report = run_conformance(url, options, host_time=CLOCK.now)
    if junit_path is not None:
        junit_path.write_text(render_junit(report), encoding="utf-8")
    if report_path is not None:
        report_path.write_text(render_html(report), encoding="utf-8")
    if as_json:
        echo_json(report.to_json())
    else:
        click.echo(render_text(report))
    ctx.exit(report.exit_code())
