"""Benchmark: the reward engine's ``compute`` and the month from the hub's store, on a
province-sized month, vs a SQLite GROUP BY.

Generates ``--stations`` stations (10 per branch, 70% rural) and ``--days`` days of traffic,
about 9 transactions per station per day (the county average in stations.md), from a seeded
``random.Random``. Then, in the same run and over the same rows:

- ``compute``: ``stationlink.rewards.compute`` over the in-memory ``Transaction`` rows
  (policy ``dezhou-2014``: tiers, coverage, per-card-per-day cap, branch rules);
- baseline: one ``SELECT station_id, kind, product, count(*), sum(amount_fen) ... WHERE
  status = 'approved' AND ts in month GROUP BY station_id, kind, product`` over the same rows
  in a SQLite file (loading the table is not timed);
- the month from the store: the same rows as a hub holds them (a ``reversed`` row as its
  original plus a reversal record, a cancelled referral plus its cancellation; written
  straight into the hub's ``records`` table, not timed: the ingest is benchmarks/sync.py's),
  then ``HubStore.month_tallies`` (the tallies in SQL, ``stationlink.hub.month_sql``) and
  ``compute_from_tallies`` (the policy on them), timed together; on the SQLite hub, and on a
  PostgreSQL hub (a database created on the server of ``STATIONLINK_TEST_PG``, migrated,
  filled with ``COPY``, dropped at the end) when that variable is set (``--no-pg``: not);
  the sum of the station totals must equal ``compute``'s to the fen;
- with ``--with-csv``: also writing the three CSV files and timing reading them
  (``from_csv``: every row validated), the path ``from_csv`` + ``compute``, and the whole
  command ``stationlink rewards compute --format json`` in a fresh process (interpreter start,
  read, compute, render), whose CPU time is also given (the machine may be shared); and, with
  ``--reference-reader``, the peer for the reader: the plain one it replaced
  (``csv.DictReader``, every row through ``interchange.check_transaction``), on the same file.

Prints the figures and ``ratio = compute / sql``; ``--json`` prints one JSON object with keys
``compute_seconds``, ``sql_seconds``, ``ratio_to_sql``, ``hub_records``,
``hub_load_seconds``, ``store_sqlite_seconds``, ``ratio_store_sqlite_to_sql``,
``pg_load_seconds``, ``store_pg_seconds``, ``ratio_store_pg_to_sql`` (``null`` without
PostgreSQL) and, with ``--with-csv``,
``read_seconds`` / ``read_cpu_seconds``, ``csv_end_to_end_seconds`` (read + compute in this
process), ``cli_seconds`` / ``cli_cpu_seconds`` (the command end to end) and
``ratio_cli_to_sql`` (plus ``reference_read_seconds`` / ``reference_read_cpu_seconds`` and
``read_speedup``, the ratio of the two readers' CPU times, with ``--reference-reader``).
Each timing is the best of ``--repeat`` runs, except the reference reader's (one run).
Also ``peak_memory_mb``: this process's peak resident set (``getrusage``; Linux counts it in
KiB), which at national scale is mostly the generated rows it holds for ``compute`` and the
check to the fen (about 10 GB of 16.6 at 100,000 stations).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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
from stationlink.interchange import (
    check_transaction as _transaction,
)
from stationlink.money import CST
from stationlink.rewards import compute, from_csv, load_policy
from stationlink.rewards.model import Policy

MONTH = "2026-10"
PG_ENV = "STATIONLINK_TEST_PG"  # a PostgreSQL server DSN, as for the tests
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
                status = statuses[rng.randrange(100)]
                if kind == "referral" and status == "declined":
                    status = "approved"  # a referral is entered, never declined
                txns.append(Transaction(f"X{n:08d}", sid, sid + "-T", ts, kind, product, amount,
                                        card, status))
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


def hub_rows(txns: list[Transaction]) -> tuple[tuple[str, ...], Iterator[tuple[object, ...]]]:
    """The hub's ``records`` columns and rows holding ``txns`` as the hub stores them: one
    record per row (a referral at the PC), a ``reversed`` row as its approved original plus
    an approved reversal record (a cancellation for a referral); every column the ingest
    would write (identity, effective ``ts`` in CST, ``affects_month``, not late, no
    duplicate). The ingest path itself is benchmarks/sync.py's."""
    from stationlink.buffer.db import iso_text
    from stationlink.buffer.schema import RECORD_COLUMNS
    from stationlink.hub.hub_schema import EXTRA_COLUMNS

    cols = RECORD_COLUMNS + EXTRA_COLUMNS
    blank = dict.fromkeys(cols)

    def rows() -> Iterator[tuple[object, ...]]:
        seq: dict[str, int] = {}
        for t in txns:
            st = t.station_id
            ts = iso_text(t.ts)
            n = seq[st] = seq.get(st, 0) + 1
            rec = blank | {"seq": n, "station_id": st, "kind": t.kind, "product": t.product,
                           "account": "", "amount_fen": int(t.amount * 100),
                           "card_token": t.card, "card_masked": "", "original_ref": "",
                           "wall_time": ts, "received_at": ts, "ts": ts,
                           "affects_month": ts[:7], "late": 0}
            if t.kind == "referral":
                rec |= {"terminal_id": "PC", "entry": "referral", "ident": "r:" + t.txn_id,
                        "terminal_ref": "", "client_ref": t.txn_id, "status": "approved",
                        "source": "host"}
            else:
                rec |= {"terminal_id": t.terminal_id, "entry": "txn", "ident": "t:" + t.txn_id,
                        "terminal_ref": t.txn_id, "client_ref": "", "source": "journal",
                        "status": "declined" if t.status == "declined" else "approved",
                        "terminal_time": ts}
            yield tuple(rec[c] for c in cols)
            if t.status != "reversed":
                continue
            n = seq[st] = n + 1
            if t.kind == "referral":
                rev = rec | {"seq": n, "entry": "cancel", "ident": "c:" + t.txn_id,
                             "status": ""}
            else:
                rev = rec | {"seq": n, "kind": "reversal", "ident": "t:R" + t.txn_id,
                             "terminal_ref": "R" + t.txn_id, "original_ref": t.txn_id,
                             "card_token": "", "status": "approved"}
            yield tuple(rev[c] for c in cols)

    return cols, rows()


def hub_file(txns: list[Transaction], path: Path) -> int:
    """A SQLite hub file (schema made by the store itself) holding :func:`hub_rows`, written
    with plain INSERTs in one transaction (not timed); the records written."""
    from stationlink.hub.sqlite_store import SqliteHubStore

    SqliteHubStore(path).close()
    cols, rows = hub_rows(txns)
    insert = (f"INSERT INTO records ({', '.join(cols)}) "  # noqa: S608 - declared columns
              f"VALUES ({', '.join('?' for _ in cols)})")
    con = sqlite3.connect(path)
    try:
        with con:
            con.executemany(insert, rows)
        con.execute("ANALYZE")
        return int(con.execute("SELECT COUNT(*) FROM records").fetchone()[0])
    finally:
        con.close()


def pg_hub(txns: list[Transaction], dsn: str) -> tuple[str, str]:
    """A PostgreSQL hub holding :func:`hub_rows`: a new database (random name) on the server
    of ``dsn``, migrated by ``stationlink.hub.stores.migrate_hub``, its month partition made
    by the store's own function, the rows written with ``COPY`` (not timed). Returns the
    database's URL and its name (to drop)."""
    import secrets
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    from stationlink.hub.pg.schema import ensure_partitions
    from stationlink.hub.stores import migrate_hub

    name = f"stationlink_bench_{secrets.token_hex(6)}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    parts = urlsplit(dsn)
    url = urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))
    migrate_hub(url)
    cols, rows = hub_rows(txns)
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_partitions(conn, sorted({t.ts.astimezone(CST).strftime("%Y-%m")
                                        for t in txns}), name)
        with conn.cursor() as cur, cur.copy(
                f"COPY records ({', '.join(cols)}) FROM STDIN".encode()) as copy:
            for row in rows:
                copy.write_row(row)
        conn.execute("ANALYZE records")
    return url, name


def pg_drop(dsn: str, name: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())


def store_month(db: str, stations: list[Station], branches: list[Branch], policy: Policy,
                repeat: int) -> tuple[float, Decimal]:
    """The month from the store ``db`` names (a SQLite file or a PostgreSQL URL):
    ``month_tallies`` (SQL) + the policy on the tallies, best of ``repeat``; with the sum of
    the station totals (to check against ``compute``)."""
    from stationlink.hub.stores import open_hub_store
    from stationlink.rewards.from_store import compute_from_tallies

    capped = [c for c in policy.counts.values() if c.cap_per_card_per_day is not None]
    best, total = float("inf"), Decimal(0)
    for _ in range(repeat):
        store = open_hub_store(db, create=False)
        try:
            t0 = time.perf_counter()
            tallies = store.month_tallies([MONTH], include_late=False, capped=capped)
            (result,) = compute_from_tallies(policy, stations, branches, tallies)
            best = min(best, time.perf_counter() - t0)
        finally:
            store.close()
        total = sum((s.total for s in result.stations), Decimal(0))
    return best, total


def reference_read(path: Path, known: set[str]) -> int:
    """The reader as first written: DictReader, the rules per row, stations, duplicates."""
    seen: dict[str, Transaction] = {}
    rows: list[Transaction] = []
    problems = 0
    with path.open(encoding="utf-8-sig", newline="") as f:
        for raw in csv.DictReader(f):
            txn, _, _ = _transaction({k: (v or "") for k, v in raw.items() if k is not None})
            if txn is None or txn.station_id not in known:
                problems += 1
                continue
            earlier = seen.get(txn.txn_id)
            if earlier is not None:
                problems += earlier != txn
                continue
            seen[txn.txn_id] = txn
            rows.append(txn)
    assert problems == 0
    return len(rows)


def cli_run(tp: Path, sp: Path, bp: Path, out: Path) -> tuple[float, float]:
    """``stationlink rewards compute --format json`` in a fresh process: (wall, CPU) seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "stationlink", "rewards", "compute", "--month", MONTH,
         "--transactions", str(tp), "--stations", str(sp), "--branches", str(bp),
         "--format", "json", "--out", str(out)], check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _r(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stations", type=int, default=10000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=2014)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--with-csv", action="store_true",
                    help="also time CSV read, read + compute, and the whole CLI command")
    ap.add_argument("--reference-reader", action="store_true",
                    help="with --with-csv: also time the plain reader the fast one replaced")
    ap.add_argument("--no-pg", action="store_true",
                    help=f"skip the PostgreSQL store even when {PG_ENV} is set")
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
        hub_path = Path(tmp) / "hub.sqlite"
        t0 = time.perf_counter()
        hub_records = hub_file(txns, hub_path)
        load_s = time.perf_counter() - t0
        store_s, store_total = store_month(str(hub_path), stations, branches, policy,
                                           args.repeat)
        assert store_total == total, (store_total, total)
        hub_path.unlink()
        pg_s = pg_load_s = None
        dsn = os.environ.get(PG_ENV)
        if dsn and not args.no_pg:
            t0 = time.perf_counter()
            url, name = pg_hub(txns, dsn)
            pg_load_s = time.perf_counter() - t0
            try:
                pg_s, pg_total = store_month(url, stations, branches, policy, args.repeat)
                assert pg_total == total, (pg_total, total)
            finally:
                pg_drop(dsn, name)
        csv_s = read_s = read_cpu = cli_s = cli_cpu = ref_s = ref_cpu = None
        if args.with_csv:
            tp, sp, bp = (Path(tmp) / n for n in ("t.csv", "s.csv", "b.csv"))
            with tp.open("w", encoding="utf-8", newline="") as f:
                write_transactions(txns, f)
            with sp.open("w", encoding="utf-8", newline="") as f:
                write_stations(stations, f)
            with bp.open("w", encoding="utf-8", newline="") as f:
                write_branches(branches, f)
            csv_s = read_s = read_cpu = cli_s = cli_cpu = float("inf")
            for _ in range(args.repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                inputs = from_csv(tp, sp, bp)
                t1 = time.perf_counter()
                read_cpu = min(read_cpu, time.process_time() - c0)
                again = compute(policy, inputs.stations, inputs.branches, inputs.transactions,
                                MONTH, info=inputs.info)
                t2 = time.perf_counter()
                read_s, csv_s = min(read_s, t1 - t0), min(csv_s, t2 - t0)
                assert sum(s.total for s in again.stations) == total
                del inputs, again
            out_json = Path(tmp) / "out.json"
            for _ in range(args.repeat):
                wall, cpu = cli_run(tp, sp, bp, out_json)
                cli_s, cli_cpu = min(cli_s, wall), min(cli_cpu, cpu)
            cli_total = sum(Decimal(s["total"]) for s in
                            json.loads(out_json.read_text(encoding="utf-8"))["stations"])
            assert cli_total == total
            if args.reference_reader:
                known = {s.station_id for s in stations}
                t0, c0 = time.perf_counter(), time.process_time()
                assert reference_read(tp, known) == len(txns)
                ref_s, ref_cpu = time.perf_counter() - t0, time.process_time() - c0
    ratio = best / sql_s
    out = {"stations": args.stations, "days": args.days, "transactions": len(txns),
           "generate_seconds": round(gen_s, 3), "compute_seconds": round(best, 3),
           "sql_seconds": round(sql_s, 3), "ratio_to_sql": round(ratio, 2),
           "hub_records": hub_records, "hub_load_seconds": round(load_s, 3),
           "store_sqlite_seconds": round(store_s, 3),
           "ratio_store_sqlite_to_sql": round(store_s / sql_s, 2),
           "pg_load_seconds": _r(pg_load_s), "store_pg_seconds": _r(pg_s),
           "ratio_store_pg_to_sql": None if pg_s is None else round(pg_s / sql_s, 2),
           "read_seconds": _r(read_s), "read_cpu_seconds": _r(read_cpu),
           "csv_end_to_end_seconds": _r(csv_s),
           "cli_seconds": _r(cli_s), "cli_cpu_seconds": _r(cli_cpu),
           "ratio_cli_to_sql": None if cli_s is None else round(cli_s / sql_s, 2),
           "reference_read_seconds": _r(ref_s), "reference_read_cpu_seconds": _r(ref_cpu),
           "read_speedup": None if ref_cpu is None or read_cpu is None
           else round(ref_cpu / read_cpu, 2),
           "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
           "stations_total_yuan": str(total)}
    if args.json:
        print(json.dumps(out))
        return
    print(f"{len(txns):,} transactions, {args.stations:,} stations, {args.days} days "
          f"(generated in {gen_s:.1f} s)")
    print(f"compute (dezhou-2014):      {best:8.3f} s")
    print(f"SQLite GROUP BY baseline:   {sql_s:8.3f} s")
    print(f"ratio compute / sql:        {ratio:8.2f}")
    print(f"month from the store (SQLite hub, {hub_records:,} records, loaded in "
          f"{load_s:.1f} s): {store_s:8.3f} s (ratio to sql {store_s / sql_s:.2f})")
    if pg_s is not None and pg_load_s is not None:
        print(f"month from the store (PostgreSQL hub, loaded in {pg_load_s:.1f} s): "
              f"{pg_s:8.3f} s (ratio to sql {pg_s / sql_s:.2f})")
    else:
        print(f"month from the store (PostgreSQL): not run ({PG_ENV} not set, or --no-pg)")
    if csv_s is not None and read_s is not None and cli_s is not None:
        print(f"CSV read (from_csv):        {read_s:8.3f} s wall, {read_cpu:.3f} s CPU")
        print(f"CSV read + compute:         {csv_s:8.3f} s")
        print(f"CLI rewards compute --json: {cli_s:8.3f} s wall, {cli_cpu:.3f} s CPU "
              f"(ratio to sql {cli_s / sql_s:.2f})")
    if ref_s is not None and ref_cpu is not None and read_cpu is not None:
        print(f"reference reader (peer):    {ref_s:8.3f} s wall, {ref_cpu:.3f} s CPU "
              f"(fast reader {ref_cpu / read_cpu:.2f}x in CPU time)")
    print(f"peak memory of this process: {out['peak_memory_mb']:,} MB")
    print(f"sum of station totals: {total} yuan")


if __name__ == "__main__":
    main()
