"""A console hub with a month loaded: the golden stations (with phones and counties) imported
through ``hub stations import``, the golden October 2026 transactions recorded in real station
buffers and uploaded into the real hub store (:mod:`rewards_store_loader`), two of them after
the month's close date (late: the hub's close day is :data:`CLOSE_DAY`), agent and device
status of some stations, and one station that has not been heard from for days. Every record
is received before the hub's "now" (:data:`~console_fixtures.T0`)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from console_fixtures import T0, Clock, ConsoleHub

from stationlink.cli.main import cli
from stationlink.hub.closing import is_late
from stationlink.hub.console import Role
from stationlink.interchange import Transaction, read_transactions
from stationlink.money import CST

_REWARDS_TESTS = Path(__file__).resolve().parent.parent / "rewards"
if str(_REWARDS_TESTS) not in sys.path:
    sys.path.insert(0, str(_REWARDS_TESTS))

from rewards_store_loader import load_hub  # noqa: E402

GOLDEN = _REWARDS_TESTS / "golden"
MONTH = "2026-10"
#: the month hub's close day (``hub serve --close-day 2``): October closes on 2026-11-03 00:00
CLOSE_DAY = 2
ON_TIME = datetime(2026, 11, 1, 10, 0, tzinfo=CST)
#: the morning after October's close date: late, and before the hub's now (T0, 09:00)
LATE_AT = datetime(2026, 11, 3, 8, 0, tzinfo=CST)
PHONES = {"R1": "13800000001", "R2": "13800000002"}


def sqlite_console_hub(tmp: Path) -> ConsoleHub:
    """A console hub over ``tmp/hub.sqlite`` with alice (admin), fan (finance), wang (viewer)."""
    return new_console_hub(tmp / "hub.sqlite")


def new_console_hub(db: Path | str) -> ConsoleHub:
    """A console hub over ``db`` (a SQLite file, or a migrated ``postgresql://`` URL) with
    alice (admin), fan (finance), wang (viewer); its close day is :data:`CLOSE_DAY`."""
    hub = ConsoleHub(db, Clock(T0), close_day=CLOSE_DAY)
    hub.add_operator("alice", Role.ADMIN)
    hub.add_operator("fan", Role.FINANCE)
    hub.add_operator("wang", Role.VIEWER)
    return hub


def write_reference(tmp: Path) -> tuple[Path, Path]:
    """The golden stations and branches files with a phone and a county column added."""
    stations, branches = tmp / "stations.csv", tmp / "branches.csv"
    with (GOLDEN / "stations.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with stations.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, [*rows[0], "phone"])
        w.writeheader()
        for r in rows:
            w.writerow({**r, "phone": PHONES.get(r["station_id"], "")})
    with (GOLDEN / "branches.csv").open(encoding="utf-8") as fh:
        brows = list(csv.DictReader(fh))
    with branches.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, [*brows[0], "county"])
        w.writeheader()
        for i, r in enumerate(brows):
            w.writerow({**r, "county": "陵城区" if i == 0 else "德城区"})
    return stations, branches


def import_reference(db: Path | str, tmp: Path) -> tuple[Path, Path]:
    stations, branches = write_reference(tmp)
    result = CliRunner().invoke(cli, ["hub", "stations", "import", "--db", str(db),
                                      "--stations", str(stations), "--branches",
                                      str(branches)])
    assert result.exit_code == 0, result.output
    return stations, branches


def golden_rows() -> list[Transaction]:
    return list(read_transactions(GOLDEN / "transactions.csv").rows)


def late_rule(rows: list[Transaction]) -> set[str]:
    """The ids of two approved October rows of different stations, uploaded late."""
    picked: dict[str, str] = {}
    for t in rows:
        if t.status == "approved" and t.ts.astimezone(CST).month == 10 \
                and t.station_id not in picked and len(picked) < 2:
            picked[t.station_id] = t.txn_id
    return set(picked.values())


def set_station_contacts(hub: ConsoleHub, ids: list[str]) -> None:
    """Every station but the last was heard 2 hours before the hub's now, the last 9 days
    before (silent); the first reports an agent status and two device snapshots (paper out
    in the newer one)."""
    now = hub.clock()
    for sid in ids[:-1]:
        hub.store.touch(sid, now - timedelta(hours=2))
    hub.store.touch(ids[-1], now - timedelta(days=9))
    hub.store.set_agent_status(ids[0], {"backlog": 4, "oldest_unsynced": None,
                                        "quarantined_records": 1, "unresolved_unknown": 0,
                                        "version": "1.0"}, now)
    for hours, paper in ((30, True), (1, False)):
        hub.store.add_device_status(ids[0], [{
            "terminal_id": f"{ids[0]}-CARD", "wall_time": (now - timedelta(hours=hours))
            .isoformat(), "terminal_time": None, "paper_ok": paper,
            "error_counters": {"jam": 2}, "signal_dbm": -71, "uptime_ms": 1000,
            "boot_id": 1}], now - timedelta(hours=hours))


def load_month(hub: ConsoleHub, db: Path | str, tmp: Path) -> dict[str, object]:
    """The month into ``hub`` (module docstring), made with ``close_day=CLOSE_DAY``."""
    assert not is_late(MONTH, ON_TIME, CLOSE_DAY)
    assert is_late(MONTH, LATE_AT, CLOSE_DAY)
    assert ON_TIME < LATE_AT < hub.clock(), "every record arrives before the hub's now"
    assert hub.store.close_day == CLOSE_DAY, "the hub flags the late records late"
    stations, branches = import_reference(db, tmp)
    rows = golden_rows()
    late = late_rule(rows)
    load_hub(hub.store, tmp, rows, on_time_at=ON_TIME, late_at=LATE_AT,
             late=lambda t: t.txn_id in late)
    ids = sorted({t.station_id for t in rows})
    set_station_contacts(hub, ids)
    return {"stations": stations, "branches": branches, "ids": ids, "late": late}


def computed(facts: dict[str, Any], *extra: str) -> dict[str, Any]:
    """What ``rewards compute --hub`` prints (JSON) for the month :func:`load_month` loaded
    (``facts`` with ``db`` added: the hub's database); a list answer's first entry."""
    result = CliRunner().invoke(cli, [
        "rewards", "compute", "--month", MONTH, "--hub", str(facts["db"]), "--stations",
        str(facts["stations"]), "--branches", str(facts["branches"]), "--format", "json",
        *extra])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    return out[0] if isinstance(out, list) else out  # type: ignore[no-any-return]


@pytest.fixture
def month_hub(hub_db: str, tmp_path: Path) -> Iterator[tuple[ConsoleHub, dict[str, Any]]]:
    """A console hub with the month loaded, once per store (``facts["db"]``: which)."""
    hub = new_console_hub(hub_db)
    try:
        facts = load_month(hub, hub_db, tmp_path)
        facts["db"] = hub_db
        yield hub, facts
    finally:
        hub.close()


@contextmanager
def signed_in(hub: ConsoleHub, name: str) -> Iterator[httpx.Client]:
    """A client of ``hub`` signed in as operator ``name``."""
    with hub.client() as client:
        assert hub.sign_in(client, name).status_code == 303
        yield client
