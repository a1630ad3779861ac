"""A simulated month in a console hub: the simulator's traffic model (``county`` scenario,
:data:`STATIONS` stations in two branches, a fixed seed) generates October 2026, which is
recorded in real station buffers and uploaded into the real hub store
(:mod:`rewards_store_loader`), as :func:`console_month.load_month` does for the golden
month: the simulator's stations and branches (with a phone and a county column) imported
through ``hub stations import``, two approved rows of different stations uploaded after the
month's close date (late), the last station silent for days, agent and device status of the
first. (No re-sent duplicates as noise: the loader's buffers would not know their seqs, and
the test uploads a late record through them afterwards.)

:func:`load_simulated_month` returns the same facts as ``load_month`` (``stations``,
``branches``, ``ids``, ``late``), so :func:`console_month.computed` (``rewards compute
--hub``) gives the figures a page must show."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from click.testing import CliRunner
from console_fixtures import ConsoleHub
from console_month import LATE_AT, MONTH, ON_TIME, late_rule, set_station_contacts
from rewards_store_loader import load_hub

from stationlink.cli.main import cli
from stationlink.interchange import write_branches, write_stations
from stationlink.money import CST, month_bounds
from stationlink_sim.traffic import TrafficModel, events_to_transactions, load_scenario

#: the simulated network: 8 stations (``LLS001``..), 6 in branch ``LLB01``, 2 in ``LLB02``
STATIONS = 8
SEED = 20261


def _with_column(text: str, name: str, value: list[str]) -> str:
    rows = list(csv.DictReader(io.StringIO(text)))
    out = io.StringIO()
    w = csv.DictWriter(out, [*rows[0], name], lineterminator="\n")
    w.writeheader()
    for r, v in zip(rows, value, strict=True):
        w.writerow({**r, name: v})
    return out.getvalue()


def load_simulated_month(hub: ConsoleHub, db: Path | str, tmp: Path,
                         seed: int = SEED) -> dict[str, object]:
    """October 2026 of the seeded traffic model into ``hub`` (module docstring)."""
    model = TrafficModel(load_scenario("county").with_stations(STATIONS), seed=seed,
                         token_key=b"browser-test")
    start, end = month_bounds(MONTH)
    days = (end - start).days
    rows = events_to_transactions(model.generate(start.date(), days), model.identities)
    assert rows, "the model made traffic"
    assert all(start <= t.ts < end for t in rows), "October's traffic, in October"
    assert max(t.ts for t in rows) < ON_TIME, "every record is uploaded after it happened"

    stations, branches = tmp / "stations.csv", tmp / "branches.csv"
    ref = model.network.interchange_stations()
    text = io.StringIO()
    write_stations(ref, text)
    stations.write_text(_with_column(text.getvalue(), "phone", [
        f"1390000{i:04d}" for i in range(1, len(ref) + 1)]), encoding="utf-8")
    text = io.StringIO()
    write_branches(list(model.network.branches), text)
    branches.write_text(_with_column(text.getvalue(), "county", [
        "陵城区" for _ in model.network.branches]), encoding="utf-8")
    result = CliRunner().invoke(cli, ["hub", "stations", "import", "--db", str(db),
                                      "--stations", str(stations), "--branches",
                                      str(branches)])
    assert result.exit_code == 0, result.output

    late = late_rule(rows)
    load_hub(hub.store, tmp, rows, on_time_at=ON_TIME, late_at=LATE_AT,
             late=lambda t: t.txn_id in late)
    now = hub.clock()
    ids = sorted(s.station_id for s in ref)
    assert {t.station_id for t in rows} == set(ids), "every simulated station has traffic"
    set_station_contacts(hub, ids)  # the last one silent since late October
    assert now.astimezone(CST) >= end, "the hub's now is after the month: it can be closed"
    return {"stations": stations, "branches": branches, "ids": ids, "late": late}
