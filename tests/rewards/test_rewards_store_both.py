"""The month from each store (SQLite and PostgreSQL) equals the month from its held rows.

One parametrised fixture gives the test fresh hubs of each store (the PostgreSQL one from
``STATIONLINK_TEST_PG``, through the hub tests' session database: ``hub_fixtures``; without
the variable that parameter is skipped with the one reason ``PG_SKIP``). The same rows are
loaded into it through ``HubStore.ingest`` (:mod:`rewards_store_loader`), and the statements
computed from ``month_tallies`` (SQL) are compared with the statements computed from the
store's own held records folded as the export folds them (``records`` + ``fold``), and with
the SQLite hub export's path (``from_hub``) on the same rows.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from rewards_store_loader import load_hub

from stationlink.buffer.fold import fold
from stationlink.hub.closing import close_instant
from stationlink.hub.sqlite_store import SqliteHubStore
from stationlink.hub.store import HubStore
from stationlink.interchange import Branch, Station, Transaction, read_transactions
from stationlink.money import CST
from stationlink.rewards import compute_months, load_policy
from stationlink.rewards.from_store import compute_from_tallies
from stationlink.rewards.inputs import from_hub
from stationlink.rewards.statements import MonthResult
from stationlink_sim.traffic import TrafficModel, events_to_transactions, load_scenario

_HUB_TESTS = str(Path(__file__).resolve().parent.parent / "hub")
if _HUB_TESTS not in sys.path:
    sys.path.insert(0, _HUB_TESTS)

from hub_fixtures import PgServer, pg_server  # noqa: E402, F401 - pg_server: the fixture

GOLDEN = Path(__file__).parent / "golden"
POLICY = load_policy("dezhou-2014")
CAPPED = [c for c in POLICY.counts.values() if c.cap_per_card_per_day is not None]


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store(request: pytest.FixtureRequest, tmp_path: Path
              ) -> Iterator[Callable[[], HubStore]]:
    """Makes new, empty hub stores of one kind (closed and dropped at the end)."""
    opened: list[HubStore] = []
    urls: list[str] = []
    server: PgServer | None = None
    if request.param == "postgresql":
        server = request.getfixturevalue("pg_server")

    def make() -> HubStore:
        if server is None:
            s: HubStore = SqliteHubStore(tmp_path / f"hub{len(opened)}.sqlite")
        else:
            from stationlink.hub.stores import migrate_hub, open_hub_store

            url = server.new_db()
            urls.append(url)
            migrate_hub(url)
            s = open_hub_store(url)
        opened.append(s)
        return s

    try:
        yield make
    finally:
        for s in opened:
            s.close()
        for url in urls:
            assert server is not None
            server.drop_db(url)


def _held_rows(store: HubStore, months: list[str], include_late: bool) -> list[Transaction]:
    """The store's export rows: its held records of each month folded like the export."""
    out: list[Transaction] = []
    for month in months:
        held = list(store.records(month, include_late=include_late))
        times = {(h.record.station_id, h.record.seq): h.ts for h in held}
        out += fold([h.record for h in held], times=times).rows
    return out


def _check(store: HubStore, tmp: Path, stations: list[Station], branches: list[Branch],
           months: list[str]) -> tuple[MonthResult, ...]:
    results: tuple[MonthResult, ...] = ()
    for include_late in (False, True):
        tallies = store.month_tallies(months, include_late=include_late, capped=CAPPED)
        results = compute_from_tallies(POLICY, stations, branches, tallies)
        rows = compute_months(POLICY, stations, branches,
                              _held_rows(store, months, include_late), months)
        assert results == rows
    return results


def _load_both(store: HubStore, tmp: Path, txns: list[Transaction], late_ids: set[str],
               seed: int) -> Path:
    """Load ``txns`` into ``store`` and, the same way, into a SQLite hub file (returned)."""
    close = close_instant("2026-10")
    kw = dict(on_time_at=close - timedelta(days=1), late_at=close + timedelta(hours=1),
              late=lambda t: t.txn_id in late_ids, noise=True, seed=seed)
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    load_hub(store, tmp / "a", txns, **kw)  # type: ignore[arg-type]
    ref = tmp / "b" / "ref.sqlite"
    ref_store = SqliteHubStore(ref)
    try:
        load_hub(ref_store, tmp / "b", txns, **kw)  # type: ignore[arg-type]
    finally:
        ref_store.close()
    return ref


def _golden(store: HubStore, tmp_path: Path) -> None:
    txns = read_transactions(GOLDEN / "transactions.csv").rows
    from stationlink.interchange import read_branches, read_stations

    branches = read_branches(GOLDEN / "branches.csv").rows
    stations = read_stations(GOLDEN / "stations.csv").rows
    ref = _load_both(store, tmp_path, txns, {txns[5].txn_id, txns[40].txn_id}, 0)
    results = _check(store, tmp_path, stations, branches, ["2026-10"])
    inputs = from_hub(ref, GOLDEN / "stations.csv", GOLDEN / "branches.csv", ["2026-10"],
                      include_late=True)
    assert results == compute_months(POLICY, inputs.stations, inputs.branches,
                                     inputs.transactions, ["2026-10"], info=inputs.info)
    assert any(c.over_cap for s in results[0].stations for c in s.facts.counts.values())


def _simulated(store: HubStore, tmp_path: Path) -> None:
    model = TrafficModel(load_scenario("county").with_stations(6), seed=11, token_key=b"k")
    txns = events_to_transactions(model.generate(dt.date(2026, 9, 29), 35), model.identities)
    first = model.network.stations[0].station_id
    term = next(t.terminal_id for t in txns if t.station_id == first and t.kind == "withdrawal")
    start = datetime(2026, 10, 9, 9, 0, tzinfo=CST)
    txns += [Transaction(f"burst{i}", first, term, start + timedelta(minutes=5 * i),
                         "withdrawal", "", Decimal("80.00"), "c" + "7" * 31, "approved")
             for i in range(5)]
    rng = random.Random(11)
    late_ids = {t.txn_id for t in txns if rng.random() < 0.04}
    _load_both(store, tmp_path, txns, late_ids, 11)
    stations = model.network.interchange_stations()
    branches = list(model.network.branches)
    month = _check(store, tmp_path, stations, branches, ["2026-10"])
    assert any(c.over_cap for s in month[0].stations for c in s.facts.counts.values())
    _check(store, tmp_path, stations, branches, ["2026-09", "2026-10", "2026-11"])


@pytest.mark.slow
def test_months_from_each_store(new_store: Callable[[], HubStore], tmp_path: Path) -> None:
    """The golden rows (cap, reversals, two late rows) in one hub; in another a seeded
    simulated month with a card-day burst over the cap, late records, reversals, referrals
    and cancellations, re-sent duplicates: one month, and three months at once."""
    (tmp_path / "golden").mkdir()
    _golden(new_store(), tmp_path / "golden")
    (tmp_path / "sim").mkdir()
    _simulated(new_store(), tmp_path / "sim")
