"""``stationlink rewards ...``: monthly station and branch statements under a reward policy.

A thin layer over :mod:`stationlink.rewards`: parse options, read inputs, compute, render.
Transactions come from a CSV file (``--transactions``) or straight from a hub database
(``--hub``, with ``--include-late`` for the adjusted view), with the same results as from the
hub's export. Exit codes: 3 bad input rows (each listed with file, line, column), 4 a policy
that does not load, 2 a bad option value, 8 a ``--hub`` file that is not a hub database.
Reading a transactions CSV shows a progress bar on standard error when that is a terminal
(never in a pipe or a file). ``explain --json`` and ``check-policy --json`` print one JSON
document (shapes in docs/policies.md). What people read (``compute``'s table, ``explain``, the
``notice`` texts) is in Chinese by default and in English with ``--lang en`` (or the
``STATIONLINK_LANG`` setting); JSON keys and CSV columns never change with the language.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from ..errors import ConfigError, PolicyError
from ..i18n import DEFAULT_LANG, LANGS
from ..rewards import compute, from_csv, load_policy
from ..rewards.engine import compute_months
from ..rewards.explain import explain_branch, explain_station
from ..rewards.from_store import hub_months
from ..rewards.inputs import Inputs, from_hub
from ..rewards.model import Policy
from ..rewards.notice import notices
from ..rewards.quarter import quarter_months, settle_quarter
from ..rewards.render import (
    branch_json,
    csv_text,
    month_json,
    quarter_json,
    quarter_table,
    station_json,
    table,
)
from ..rewards.statements import MonthResult
from ..rewards.tally import gc_paused
from .common import echo_json, handles_errors, stderr
from .hub import hub_db
from .progress import file_progress, lines_with_progress

F = TypeVar("F", bound=Callable[..., Any])
#: ``--lang``: the language of what people read (the operator's setting: STATIONLINK_LANG).
_LANG = click.option("--lang", type=click.Choice(LANGS), default=DEFAULT_LANG,
                     envvar="STATIONLINK_LANG", show_default=True, show_envvar=True,
                     help="Language of the text people read (zh or en); JSON keys stay.")
#: Where the transactions come from: (--transactions, --hub, --include-late).
_Source = tuple[Path | None, Path | str | None, bool]
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _inputs(func: F) -> F:
    """The options every subcommand shares: the three files, the policy, bad-row handling."""
    options = [
        click.option("--month", help="CST calendar month, e.g. 2026-10."),
        click.option("--transactions", "transactions", type=_FILE,
                     help="Transactions CSV (docs/formats.md).  [this or --hub]"),
        click.option("--hub", "hub", metavar="DB", callback=hub_db,
                     help="Hub database (a SQLite file or a postgresql:// URL): its "
                          "transactions of the month (instead of a CSV)."),
        click.option("--include-late", is_flag=True,
                     help="With --hub: include records that arrived after the month closed."),
        click.option("--stations", "stations", required=True, type=_FILE,
                     help="Stations CSV."),
        click.option("--branches", "branches", required=True, type=_FILE,
                     help="Branches CSV."),
        click.option("--policy", "policy_spec", default="dezhou-2014", show_default=True,
                     help="A built-in policy name or a path to a policy TOML file."),
        click.option("--skip-bad-rows", is_flag=True,
                     help="Compute without bad rows instead of failing; say how many."),
        click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write to this file instead of standard output."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _no_cyclic_gc(func: F) -> F:
    """Run a command with the cyclic garbage collector paused.

    A command builds millions of transaction rows that hold no reference cycles (reference
    counting frees them); with the collector on, every collection while the statements are
    built and rendered would rescan all of them (seconds on a province-sized month).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with gc_paused():
            return func(*args, **kwargs)

    return cast(F, wrapper)


def _read(source: _Source, stations: Path, branches: Path, skip: bool,
          months: list[str]) -> Inputs:
    transactions, hub, include_late = source
    if hub is not None:
        inputs = from_hub(hub, stations, branches, months, include_late=include_late,
                          skip_bad_rows=skip)
    elif transactions is not None:
        with file_progress(transactions, "reading transactions") as report:
            lines = None if report is None else lines_with_progress(transactions, report)
            inputs = from_csv(transactions, stations, branches, skip_bad_rows=skip, lines=lines)
    else:  # pragma: no cover - _source refuses this
        raise ConfigError("give exactly one of --transactions or --hub")
    if inputs.problems:
        stderr(f"{len(inputs.problems)} bad row(s) skipped:")
        for p in inputs.problems:
            stderr(f"  {p}")
    return inputs


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc}") from exc


def _source(transactions: Path | None, hub: Path | str | None, include_late: bool
            ) -> _Source:
    """Check the transaction source options: exactly one of --transactions and --hub."""
    if (transactions is None) == (hub is None):
        raise ConfigError("give exactly one of --transactions (a CSV file) or --hub "
                          "(a hub database)")
    if include_late and hub is None:
        raise ConfigError("--include-late applies only with --hub")
    return transactions, hub, include_late


def _need_month(month: str | None) -> str:
    if not month:
        raise ConfigError("--month is required (e.g. --month 2026-10)")
    return month


def _month(policy: Policy, inputs: Inputs, month: str) -> MonthResult:
    return compute(policy, inputs.stations, inputs.branches, inputs.transactions, month,
                   info=inputs.info)


def _months(policy: Policy, source: _Source, stations: Path, branches: Path, skip: bool,
            months: list[str]) -> tuple[MonthResult, ...]:
    """The months' statements: with --hub from the hub's SQL tallies
    (:func:`~stationlink.rewards.from_store.hub_months`), falling back to the hub's rows when
    it defers (a bad or unknown station row: reported by file and line as before)."""
    _, hub, include_late = source
    if hub is not None:
        tallied = hub_months(hub, stations, branches, months, policy,
                             include_late=include_late)
        if tallied is not None:
            return tallied
    inputs = _read(source, stations, branches, skip, months)
    return compute_months(policy, inputs.stations, inputs.branches, inputs.transactions,
                          months, info=inputs.info)


@click.group()
def rewards() -> None:
    """Monthly station and branch rewards under a policy file."""


@rewards.command("compute")
@_inputs
@click.option("--quarter", help="Calendar quarter in CST, e.g. 2026Q4 (withholding/refund).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="Output format.")
@_LANG
@handles_errors
@_no_cyclic_gc
def compute_cmd(month: str | None, transactions: Path | None, hub: Path | None,
                include_late: bool, stations: Path, branches: Path, policy_spec: str,
                skip_bad_rows: bool, out: Path | None, quarter: str | None, fmt: str,
                lang: str) -> None:
    """Compute every station's and branch's statement for a month (or a quarter)."""
    if bool(month) == bool(quarter):
        raise ConfigError("give exactly one of --month or --quarter")
    source = _source(transactions, hub, include_late)
    months = quarter_months(quarter) if quarter else [_need_month(month)]
    policy = load_policy(policy_spec)
    if quarter and policy.quarter is None:
        raise ConfigError(f"policy {policy.name} has no [quarter] rule; use --month")
    results = _months(policy, source, stations, branches, skip_bad_rows, months)
    if quarter:
        q = settle_quarter(policy, quarter, results)
        text = {"json": lambda: json.dumps(quarter_json(q), ensure_ascii=False) + "\n",
                "csv": lambda: csv_text(q), "table": lambda: quarter_table(q, lang=lang,
                                                            policy=policy)}[fmt]()
    else:
        r = results[0]
        text = {"json": lambda: json.dumps(month_json(r), ensure_ascii=False) + "\n",
                "csv": lambda: csv_text(r), "table": lambda: table(r, policy.calendar, lang=lang,
                                                   policy=policy)}[fmt]()
    _emit(text, out)


@rewards.command("explain")
@_inputs
@click.option("--station", "station_id", help="Explain this station.")
@click.option("--branch", "branch_id", help="Explain this branch.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON document: the statement and the derivation's lines.")
@_LANG
@handles_errors
@_no_cyclic_gc
def explain_cmd(month: str | None, transactions: Path | None, hub: Path | None,
                include_late: bool, stations: Path, branches: Path, policy_spec: str,
                skip_bad_rows: bool, out: Path | None, station_id: str | None,
                branch_id: str | None, as_json: bool, lang: str) -> None:
    """Print the full derivation of one station's or one branch's figures."""
    if bool(station_id) == bool(branch_id):
        raise ConfigError("give exactly one of --station or --branch")
    source = _source(transactions, hub, include_late)
    the_month = _need_month(month)
    policy = load_policy(policy_spec)
    r = _months(policy, source, stations, branches, skip_bad_rows, [the_month])[0]
    text = (explain_station(r, station_id, lang=lang, policy=policy) if station_id
            else explain_branch(r, branch_id or "", lang=lang, policy=policy))
    if as_json:
        doc: dict[str, Any] = {"month": r.month, "policy": r.policy}
        if station_id:
            st = r.station(station_id)
            doc |= {"station_id": station_id, "branch_id": None,
                    "statement": None if st is None else station_json(st)}
        else:
            b = next((x for x in r.branches if x.branch_id == branch_id), None)
            doc |= {"station_id": None, "branch_id": branch_id,
                    "statement": None if b is None else branch_json(b)}
        doc["explanation"] = text.splitlines()
        text = json.dumps(doc, ensure_ascii=False) + "\n"
    _emit(text, out)


@rewards.command("notice")
@_inputs
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
@_LANG
@handles_errors
@_no_cyclic_gc
def notice_cmd(month: str | None, transactions: Path | None, hub: Path | None,
               include_late: bool, stations: Path, branches: Path, policy_spec: str,
               skip_bad_rows: bool, out: Path | None, fmt: str, lang: str) -> None:
    """Render the SMS notice (Chinese, <= 70 characters a segment) for every station."""
    source = _source(transactions, hub, include_late)
    the_month = _need_month(month)
    policy = load_policy(policy_spec)
    r = _months(policy, source, stations, branches, skip_bad_rows, [the_month])[0]
    items = notices(policy, r, lang)
    if fmt == "json":
        text = json.dumps([{"station_id": n.station_id, "text": n.text,
                            "segments": list(n.segments)} for n in items],
                          ensure_ascii=False) + "\n"
    else:
        text = "".join(f"{n.station_id}\t{seg}\n" for n in items for seg in n.segments)
    _emit(text, out)


@rewards.command("check-policy")
@click.argument("policy_spec")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON document, also for a policy that does not load (exit 4).")
@click.pass_context
@handles_errors
def check_policy_cmd(ctx: click.Context, policy_spec: str, as_json: bool) -> None:
    """Load a policy (built-in name or TOML path) and report whether it is valid."""
    if as_json:
        try:
            policy = load_policy(policy_spec)
        except PolicyError as exc:
            echo_json({"policy": policy_spec, "ok": False, "error": str(exc)})
            ctx.exit(exc.exit_code)
        echo_json({
            "policy": policy_spec, "ok": True, "name": policy.name,
            "counts": len(policy.counts), "station_items": len(policy.station_items),
            "branch_items": len(policy.branch.items) if policy.branch else 0,
            "quarter_rule": policy.quarter is not None, "error": None,
        })
        return
    policy = load_policy(policy_spec)
    click.echo(f"{policy.name}: OK ({len(policy.counts)} counts, "
               f"{len(policy.station_items)} station items, "
               f"{len(policy.branch.items) if policy.branch else 0} branch items"
               f"{', quarter rule' if policy.quarter else ''})")
