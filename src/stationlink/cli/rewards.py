"""``stationlink rewards ...``: monthly station and branch statements under a reward policy.

A thin layer over :mod:`stationlink.rewards`: parse options, read inputs, compute, render.
Exit codes: 3 bad input rows (each listed with file, line, column), 4 a policy that does not
load, 2 a bad option value.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import ConfigError
from ..rewards import compute, compute_quarter, from_csv, load_policy
from ..rewards.explain import explain_branch, explain_station
from ..rewards.inputs import Inputs
from ..rewards.model import Policy
from ..rewards.notice import notices
from ..rewards.render import csv_text, month_json, quarter_json, quarter_table, table
from ..rewards.statements import MonthResult
from .common import handles_errors, stderr

F = TypeVar("F", bound=Callable[..., Any])
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _inputs(func: F) -> F:
    """The options every subcommand shares: the three files, the policy, bad-row handling."""
    options = [
        click.option("--month", help="CST calendar month, e.g. 2026-10."),
        click.option("--transactions", "transactions", required=True, type=_FILE,
                     help="Transactions CSV (docs/formats.md)."),
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


def _read(transactions: Path, stations: Path, branches: Path, skip: bool) -> Inputs:
    inputs = from_csv(transactions, stations, branches, skip_bad_rows=skip)
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


def _month(policy: Policy, inputs: Inputs, month: str | None) -> MonthResult:
    if not month:
        raise ConfigError("--month is required (e.g. --month 2026-10)")
    return compute(policy, inputs.stations, inputs.branches, inputs.transactions, month,
                   info=inputs.info)


@click.group()
def rewards() -> None:
    """Monthly station and branch rewards under a policy file."""


@rewards.command("compute")
@_inputs
@click.option("--quarter", help="Calendar quarter in CST, e.g. 2026Q4 (withholding/refund).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="Output format.")
@handles_errors
def compute_cmd(month: str | None, quarter: str | None, transactions: Path, stations: Path,
                branches: Path, policy_spec: str, skip_bad_rows: bool, out: Path | None,
                fmt: str) -> None:
    """Compute every station's and branch's statement for a month (or a quarter)."""
    if bool(month) == bool(quarter):
        raise ConfigError("give exactly one of --month or --quarter")
    policy = load_policy(policy_spec)
    inputs = _read(transactions, stations, branches, skip_bad_rows)
    if quarter:
        q = compute_quarter(policy, inputs.stations, inputs.branches, inputs.transactions,
                            quarter, info=inputs.info)
        text = {"json": lambda: json.dumps(quarter_json(q), ensure_ascii=False) + "\n",
                "csv": lambda: csv_text(q), "table": lambda: quarter_table(q)}[fmt]()
    else:
        r = _month(policy, inputs, month)
        text = {"json": lambda: json.dumps(month_json(r), ensure_ascii=False) + "\n",
                "csv": lambda: csv_text(r), "table": lambda: table(r, policy.calendar)}[fmt]()
    _emit(text, out)


@rewards.command("explain")
@_inputs
@click.option("--station", "station_id", help="Explain this station.")
@click.option("--branch", "branch_id", help="Explain this branch.")
@handles_errors
def explain_cmd(month: str | None, transactions: Path, stations: Path, branches: Path,
                policy_spec: str, skip_bad_rows: bool, out: Path | None,
                station_id: str | None, branch_id: str | None) -> None:
    """Print the full derivation of one station's or one branch's figures."""
    if bool(station_id) == bool(branch_id):
        raise ConfigError("give exactly one of --station or --branch")
    policy = load_policy(policy_spec)
    r = _month(policy, _read(transactions, stations, branches, skip_bad_rows), month)
    text = explain_station(r, station_id) if station_id else explain_branch(r, branch_id or "")
    _emit(text, out)


@rewards.command("notice")
@_inputs
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
@handles_errors
def notice_cmd(month: str | None, transactions: Path, stations: Path, branches: Path,
               policy_spec: str, skip_bad_rows: bool, out: Path | None, fmt: str) -> None:
    """Render the SMS notice (Chinese, <= 70 characters a segment) for every station."""
    policy = load_policy(policy_spec)
    r = _month(policy, _read(transactions, stations, branches, skip_bad_rows), month)
    items = notices(policy, r)
    if fmt == "json":
        text = json.dumps([{"station_id": n.station_id, "text": n.text,
                            "segments": list(n.segments)} for n in items],
                          ensure_ascii=False) + "\n"
    else:
        text = "".join(f"{n.station_id}\t{seg}\n" for n in items for seg in n.segments)
    _emit(text, out)


@rewards.command("check-policy")
@click.argument("policy_spec")
@handles_errors
def check_policy_cmd(policy_spec: str) -> None:
    """Load a policy (built-in name or TOML path) and report whether it is valid."""
    policy = load_policy(policy_spec)
    click.echo(f"{policy.name}: OK ({len(policy.counts)} counts, "
               f"{len(policy.station_items)} station items, "
               f"{len(policy.branch.items) if policy.branch else 0} branch items"
               f"{', quarter rule' if policy.quarter else ''})")
