"""``stationlink hub stations import|list``: the stations and branches the console computes with.

``stations import --stations FILE.csv --branches FILE.csv --db DB`` replaces the hub's
reference data with the interchange files (docs/formats.md; optional columns ``phone`` in the
stations file for the SMS notices, ``county`` in the branches file for the totals per
county); a bad row exits 3 naming file, line and column, and nothing is changed. The import
is audited (actor ``cli:<system user>``). ``stations list`` prints them (``--json``).
Registered on the ``hub`` group by :mod:`stationlink.cli.hub`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ..errors import StorageError
from ..hub.console.monthstore import month_store_for, read_reference
from ..hub.stores import open_hub_store, sqlite_path
from .common import echo_json, handles_errors
from .hub_console import DB, cli_actor

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def stations() -> None:
    """The stations and branches reference data held by the hub (for the console)."""


def _open(db_path: str) -> Any:
    path = sqlite_path(db_path)
    if path is not None and not path.is_file():
        raise StorageError(f"{path}: no such hub database file")
    return open_hub_store(db_path)


@stations.command("import")
@DB
@click.option("--stations", "stations_file", required=True, type=_FILE,
              help="Stations CSV (optional column phone).")
@click.option("--branches", "branches_file", required=True, type=_FILE,
              help="Branches CSV (optional column county).")
@handles_errors
def import_cmd(db_path: str, stations_file: Path, branches_file: Path) -> None:
    """Replace the hub's stations and branches with the files' rows."""
    ref = read_reference(stations_file, branches_file)
    store = _open(db_path)
    try:
        month_store_for(store).import_reference(ref, now=datetime.now(UTC),
                                                actor=cli_actor())
    finally:
        store.close()
    click.echo(f"imported {len(ref.stations)} station(s), {len(ref.branches)} branch(es)")


@stations.command("list")
@DB
@click.option("--json", "as_json", is_flag=True)
@handles_errors
def list_cmd(db_path: str, as_json: bool) -> None:
    """The stations the hub holds, with branch, area and phone."""
    store = _open(db_path)
    try:
        ref = month_store_for(store).reference()
    finally:
        store.close()
    rows = [{"station_id": s.station_id, "branch_id": s.branch_id, "area": s.area,
             "village_id": s.village_id, "village_households": s.village_households,
             "phone": ref.phones.get(s.station_id)} for s in ref.stations]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['station_id']}\t{r['branch_id']}\t{r['area']}\t{r['phone'] or ''}")
