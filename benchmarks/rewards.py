"""Benchmark: the reward engine's ``compute`` on a province-sized month vs a SQLite GROUP BY.

Generates ``--stations`` stations (10 per branch, 70% rural) and ``--days`` days of traffic,
about 9 transactions per station per day (the county average in stations.md), from a seeded
``random.Random``. Then, in the same run and over the same rows:

- ``compute``: ``stationlink.rewards.compute`` over the in-memory ``Transaction`` rows
  (policy ``dezhou-2014``: tiers, coverage, per-card-per-day cap, branch rules);
- baseline: one ``SELECT station_id, kind, product, count(*), sum(amount_fen) ... WHERE
  status = 'approved' AND ts in month GROUP BY station_id, kind, product`` over the same rows
  in a SQLite file (loading the table is not timed);
- with ``--with-csv``: also writing the three CSV files and timing the whole path
  ``from_csv`` + ``compute`` (what ``stationlink rewards compute`` does).

Prints the figures and ``ratio = compute / sql``; ``--json`` prints one JSON object with keys
``compute_seconds``, ``sql_seconds``, ``ratio_to_sql`` (and ``csv_end_to_end_seconds``).
Each timing is the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from stationlink.interchange import (
    Branch,
    Station,
    Transaction,
    write_branches,
    write_stations,
    write_transactions,
)
from stationlink.money import CST
from stationlink.rewards import compute, from_csv, load_policy

MONTH = "2026-10"
BILL_MIX = [("electricity", 40), ("mobile", 25), ("unicom", 10), ("telecom", 8), ("water", 7),
            ("gas", 5), ("cable_tv", 5)]
KIND_MIX = [("bill_payment", 70), ("withdrawal", 20), ("balance_inquiry", 8), ("referral", 2)]
REFERRALS = ["huinongtong", "finance_lead", "car_insurance_lead", "car_insurance_sale"]


def generate(n_stations: int, days: int, seed: int) -> tuple[list[Station], list[Branch],
                                                              list[Transaction]]:
    rng = random.Random(seed)
    branches = [Branch(f"B{b:04d}", "rural" if b % 10 < 7 else "urban", rng.randint(3, 10))
                for b in range((n_stations + 9) // 10)]
    stations = []
    for i in range(n_stations):
        br = branches[i // 10]
        if br.area == "rural":  # two stations share each village
            stations.append(Station(f"S{i:05d}", br.branch_id, "rural", f"V{i // 2:05d}",
                                    120 + (i // 2) % 200))
        else:
            stations.append(Station(f"S{i:05d}", br.branch_id, "urban", "", None))
    start = datetime(2026, 10, 1, tzinfo=CST)
    minutes = [start + timedelta(minutes=m) for m in range(days * 1440)]
    amounts = [Decimal(rng.randint(500, 20000)) / 100 for _ in range(4096)]
    kinds = [k for k, w in KIND_MIX for _ in range(w)]
    bills = [p for p, w in BILL_MIX for _ in range(w)]
    statuses = ["approved"] * 96 + ["declined"] * 3 + ["reversed"]
    txns: list[Transaction] = []
    n = 0
    for s in stations:
        sid = s.station_id
        per_day = rng.choice((5, 7, 9, 11, 13))
        cards = [f"tok{sid}-{c}" for c in range(40)]
        for day in range(days):
            base = day * 1440
            for _ in range(per_day):
                n += 1
                kind = kinds[rng.randrange(100)]
                ts = minutes[base + rng.randrange(480, 1260)]
                product, card = "", ""
                if kind == "bill_payment":
                    product = bills[rng.randrange(100)]
                elif kind == "referral":
                    product = REFERRALS[rng.randrange(4)]
                else:
                    card = cards[rng.randrange(40)]
                amount = amounts[n & 4095] if kind in ("bill_payment", "withdrawal") \
                    else Decimal("0.00")
                txns.append(Transaction(f"X{n:08d}", sid, sid + "-T", ts, kind, product, amount,
                                        card, statuses[rng.randrange(100)]))
    return stations, list(branches), txns


def sql_baseline(txns: list[Transaction], path: Path, repeat: int) -> float:
    con = sqlite3.connect(path)
    try:
        con.execute("CREATE TABLE txn (txn_id TEXT, station_id TEXT, ts INTEGER, kind TEXT, "
                    "product TEXT, amount_fen INTEGER, card TEXT, status TEXT)")
        con.executemany("INSERT INTO txn VALUES (?,?,?,?,?,?,?,?)", (
            (t.txn_id, t.station_id, int(t.ts.timestamp()), t.kind, t.product,
             int(t.amount * 100), t.card, t.status) for t in txns))
        con.commit()
        lo = int(datetime(2026, 10, 1, tzinfo=CST).timestamp())
        hi = int(datetime(2026, 11, 1, tzinfo=CST).timestamp())
        query = ("SELECT station_id, kind, product, count(*), sum(amount_fen) FROM txn "
                 "WHERE status = 'approved' AND ts >= ? AND ts < ? "
                 "GROUP BY station_id, kind, product")
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            rows = con.execute(query, (lo, hi)).fetchall()
            best = min(best, time.perf_counter() - t0)
        assert rows
        return best
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stations", type=int, default=10000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=2014)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--with-csv", action="store_true", help="also time CSV read + compute")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    t0 = time.perf_counter()
    stations, branches, txns = generate(args.stations, args.days, args.seed)
    gen_s = time.perf_counter() - t0
    policy = load_policy("dezhou-2014")
    best = float("inf")
    result = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = compute(policy, stations, branches, txns, MONTH)
        best = min(best, time.perf_counter() - t0)
    assert result is not None
    total = sum(s.total for s in result.stations)
    with tempfile.TemporaryDirectory() as tmp:
        sql_s = sql_baseline(txns, Path(tmp) / "bench.sqlite", args.repeat)
        csv_s = None
        if args.with_csv:
            tp, sp, bp = (Path(tmp) / n for n in ("t.csv", "s.csv", "b.csv"))
            with tp.open("w", encoding="utf-8", newline="") as f:
                write_transactions(txns, f)
            with sp.open("w", encoding="utf-8", newline="") as f:
                write_stations(stations, f)
            with bp.open("w", encoding="utf-8", newline="") as f:
                write_branches(branches, f)
            t0 = time.perf_counter()
            inputs = from_csv(tp, sp, bp)
            again = compute(policy, inputs.stations, inputs.branches, inputs.transactions, MONTH)
            csv_s = time.perf_counter() - t0
            assert sum(s.total for s in again.stations) == total
    ratio = best / sql_s
    out = {"stations": args.stations, "days": args.days, "transactions": len(txns),
           "generate_seconds": round(gen_s, 3), "compute_seconds": round(best, 3),
           "sql_seconds": round(sql_s, 3), "ratio_to_sql": round(ratio, 2),
           "csv_end_to_end_seconds": None if csv_s is None else round(csv_s, 3),
           "stations_total_yuan": str(total)}
    if args.json:
        print(json.dumps(out))
        return
    print(f"{len(txns):,} transactions, {args.stations:,} stations, {args.days} days "
          f"(generated in {gen_s:.1f} s)")
    print(f"compute (dezhou-2014):      {best:8.3f} s")
    print(f"SQLite GROUP BY baseline:   {sql_s:8.3f} s")
    print(f"ratio compute / sql:        {ratio:8.2f}")
    if csv_s is not None:
        print(f"CSV read + compute:         {csv_s:8.3f} s")
    print(f"sum of station totals: {total} yuan")


if __name__ == "__main__":
    main()
