"""Rewards from the store's SQL tallies = rewards from the hub's exported rows, to the fen.

Every case builds a real hub (station buffer files uploaded through ``HubStore.ingest``,
:mod:`rewards_store_loader`) and compares :func:`stationlink.rewards.from_store.hub_months` (the
month computed where the data is) with the row path (``from_hub``: the export's lines through
the CSV reader, then ``compute_months``), rendered as the JSON ``rewards compute`` prints.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rewards_store_loader import load_hub

from stationlink.hub.closing import close_instant
from stationlink.hub.sqlite_store import SqliteHubStore
from stationlink.interchange import (
    Branch,
    Station,
    Transaction,
    read_transactions,
    write_branches,
    write_stations,
)
from stationlink.money import CST
from stationlink.rewards import compute, compute_months, load_policy
from stationlink.rewards.from_store import compute_from_tallies, hub_months
from stationlink.rewards.inputs import from_hub
from stationlink.rewards.model import Policy
from stationlink.rewards.render import month_json
from stationlink.rewards.statements import MonthResult
from stationlink_sim.traffic import TrafficModel, events_to_transactions, load_scenario

GOLDEN = Path(__file__).parent / "golden"
POLICY = load_policy("dezhou-2014")


def _docs(results: tuple[MonthResult, ...] | list[MonthResult]) -> list[Any]:
    return [json.loads(json.dumps(month_json(r), ensure_ascii=False)) for r in results]


def _row_path(db: Path, sp: Path, bp: Path, months: list[str], include_late: bool,
              policy: Policy = POLICY) -> tuple[MonthResult, ...]:
    inputs = from_hub(db, sp, bp, months, include_late=include_late)
    return compute_months(policy, inputs.stations, inputs.branches, inputs.transactions,
                          months, info=inputs.info)


def _both(db: Path, sp: Path, bp: Path, months: list[str], include_late: bool,
          policy: Policy = POLICY) -> tuple[list[Any], list[Any]]:
    """Both paths' JSON documents, after checking their results are equal objects (every
    fact: counts, amounts, the over-cap card-days, effective status)."""
    store = hub_months(db, sp, bp, months, policy, include_late=include_late)
    assert store is not None
    rows = _row_path(db, sp, bp, months, include_late, policy)
    assert store == rows
    return _docs(store), _docs(rows)


def _over_cap(results: tuple[MonthResult, ...]) -> int:
    """Card-days over a cap in the results (so a test knows the cap was exercised)."""
    return sum(len(c.over_cap) for r in results for s in r.stations
               for c in s.facts.counts.values())


def _files(tmp: Path, stations: list[Station], branches: list[Branch]) -> tuple[Path, Path]:
    sp, bp = tmp / "stations.csv", tmp / "branches.csv"
    with sp.open("w", encoding="utf-8", newline="") as f:
        write_stations(stations, f)
    with bp.open("w", encoding="utf-8", newline="") as f:
        write_branches(branches, f)
    return sp, bp


def _hub(tmp: Path, txns: list[Transaction], *, late: Any = None, noise: bool = False,
         seed: int = 0, month: str = "2026-10") -> Path:
    db = tmp / "hub.sqlite"
    store = SqliteHubStore(db)
    try:
        close = close_instant(month)
        load_hub(store, tmp, txns, on_time_at=close - timedelta(days=1),
                 late_at=close + timedelta(hours=1), late=late or (lambda t: False),
                 noise=noise, seed=seed)
    finally:
        store.close()
    return db


# ------------------------------------------------------------------------ golden case


def test_golden_case_from_the_store_equals_the_csv(tmp_path: Path) -> None:
    """The golden rows loaded into a hub: the store's statements are the golden CSV's
    (figures checked by hand in test_rewards_golden), and equal the hub export's run."""
    txns = read_transactions(GOLDEN / "transactions.csv").rows
    db = _hub(tmp_path, txns, noise=True)
    sp, bp = GOLDEN / "stations.csv", GOLDEN / "branches.csv"
    store, rows = _both(db, sp, bp, ["2026-10"], include_late=False)
    assert store == rows
    from stationlink.rewards import from_csv

    csv_in = from_csv(GOLDEN / "transactions.csv", sp, bp)
    direct = month_json(compute(POLICY, csv_in.stations, csv_in.branches,
                                csv_in.transactions, "2026-10"))
    assert store[0]["stations"] == json.loads(json.dumps(direct["stations"]))
    assert store[0]["branches"] == json.loads(json.dumps(direct["branches"]))
    # the golden month exercises the cap (tokC1: 3 withdrawals on 2026-10-05) and reversals
    assert _over_cap(hub_months(db, sp, bp, ["2026-10"], POLICY) or ()) > 0
    assert store[0]["info"]["reversed"] > 0


# ------------------------------------------------------------------- simulated months


def _capped_burst(station: str, terminal: str, day: dt.date, n: int, token: str
                  ) -> list[Transaction]:
    """``n`` approved withdrawals of one card on one CST day (the cap applies)."""
    start = datetime(day.year, day.month, day.day, 9, 0, tzinfo=CST)
    return [Transaction(f"burst-{station}-{token}-{i}", station, terminal,
                        start + timedelta(minutes=7 * i), "withdrawal", "",
                        Decimal("100.00"), token, "approved") for i in range(n)]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_simulated_month_store_equals_export(tmp_path: Path, seed: int) -> None:
    """A seeded simulated month (county scenario, 8 stations, late September to early
    November so rows fall outside the month) with card-day bursts over the cap, reversals,
    referrals and their cancellations, declined card-less withdrawals, late records and
    re-sent duplicates: the store's tallies give the export's statements, with and
    without the late records."""
    model = TrafficModel(load_scenario("county").with_stations(8), seed=seed, token_key=b"k")
    events = list(model.generate(dt.date(2026, 9, 29), 35))
    txns = events_to_transactions(events, model.identities)
    rng = random.Random(seed)
    first = model.network.stations[0]
    term = next(t.terminal_id for t in txns if t.station_id == first.station_id
                and t.kind == "withdrawal")
    txns += _capped_burst(first.station_id, term, dt.date(2026, 10, 8 + seed), 3 + seed,
                          "c" + f"{seed:x}" * 31)
    txns.append(Transaction(f"decl-{seed}", first.station_id, term,
                            datetime(2026, 10, 20, 10, 0, tzinfo=CST), "withdrawal", "",
                            Decimal("50.00"), "", "declined"))
    assert {t.status for t in txns} >= {"approved", "declined", "reversed"}
    assert any(t.kind == "referral" for t in txns)
    late_ids = {t.txn_id for t in txns if rng.random() < 0.03}
    stations = model.network.interchange_stations()
    sp, bp = _files(tmp_path, stations, list(model.network.branches))
    db = _hub(tmp_path, txns, late=lambda t: t.txn_id in late_ids, noise=True, seed=seed)
    for include_late in (False, True):
        store, rows = _both(db, sp, bp, ["2026-10"], include_late)
        assert store == rows
    assert _over_cap(hub_months(db, sp, bp, ["2026-10"], POLICY) or ()) > 0
    store_q, rows_q = _both(db, sp, bp, ["2026-09", "2026-10", "2026-11"], True)
    assert store_q == rows_q


# ------------------------------------------------------------------ properties


_STATIONS = [Station("S1", "B1", "rural", "V1", 90), Station("S2", "B1", "rural", "V1", 90),
             Station("S3", "B2", "urban", "", None)]
_BRANCHES = [Branch("B1", "rural", 2), Branch("B2", "urban", 1)]
_KINDS = [("bill_payment", "mobile"), ("bill_payment", "electricity"), ("withdrawal", ""),
          ("balance_inquiry", ""), ("referral", "huinongtong")]


@st.composite
def _month(draw: st.DrawFn) -> tuple[list[Transaction], set[str]]:
    n = draw(st.integers(0, 25))
    out = []
    late = set()
    start = datetime(2026, 9, 30, 20, 0, tzinfo=CST)
    for i in range(n):
        station = draw(st.sampled_from(["S1", "S2", "S3"]))
        kind, product = draw(st.sampled_from(_KINDS))
        # within a few days of the month's start (and its end: same hours in early Nov)
        hours = draw(st.integers(0, 4 * 24)) + draw(st.sampled_from([0, 31 * 24 - 4 * 24]))
        ts = start + timedelta(hours=hours, minutes=draw(st.integers(0, 59)))
        status = draw(st.sampled_from(["approved", "approved", "declined", "reversed"]))
        if kind == "referral" and status == "declined":
            status = "approved"
        card = ""
        if kind in ("withdrawal", "balance_inquiry"):
            card = draw(st.sampled_from(["a" * 32, "b" * 32, ""])) if status == "declined" \
                else draw(st.sampled_from(["a" * 32, "b" * 32]))
        amount = Decimal(0 if kind == "balance_inquiry" else draw(st.integers(0, 50000))) / 100
        terminal = {"withdrawal": "CARD", "balance_inquiry": "CARD"}.get(kind, "BILL")
        t = Transaction(f"h{i}", station, f"{station}-{terminal}", ts, kind, product,
                        amount, card, status)
        out.append(t)
        if draw(st.booleans()) and draw(st.booleans()):
            late.add(t.txn_id)
    return out, late


@pytest.mark.slow
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(month=_month(), include_late=st.booleans())
def test_random_small_months(tmp_path_factory: pytest.TempPathFactory,
                             month: tuple[list[Transaction], set[str]],
                             include_late: bool) -> None:
    txns, late = month
    tmp = tmp_path_factory.mktemp("m")
    sp, bp = _files(tmp, _STATIONS, _BRANCHES)
    db = _hub(tmp, txns, late=lambda t: t.txn_id in late, noise=True)
    store, rows = _both(db, sp, bp, ["2026-10"], include_late)
    assert store == rows


def test_unknown_station_defers_to_the_row_path(tmp_path: Path) -> None:
    """A hub row whose station the stations file lacks: the store path says "use the row
    path" (None), whose error names the export line; the library call names the station."""
    t = Transaction("x1", "S9", "S9-BILL", datetime(2026, 10, 3, 9, 0, tzinfo=CST),
                    "bill_payment", "mobile", Decimal("10.00"), "", "approved")
    sp, bp = _files(tmp_path, _STATIONS, _BRANCHES)
    db = _hub(tmp_path, [t])
    assert hub_months(db, sp, bp, ["2026-10"], POLICY) is None
    store = SqliteHubStore(db, create=False)
    try:
        tallies = store.month_tallies(["2026-10"], include_late=False, capped=[])
    finally:
        store.close()
    from stationlink.errors import InputDataError

    with pytest.raises(InputDataError, match="'S9': unknown station"):
        compute_from_tallies(POLICY, _STATIONS, _BRANCHES, tallies)
