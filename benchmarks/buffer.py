"""Benchmark of the station buffer (``python benchmarks/buffer.py [--json]``).

1. Durable single-record commits per second: ``Buffer.record_result`` (one BEGIN IMMEDIATE
   transaction per record, WAL, synchronous=FULL) against raw ``sqlite3`` inserting the same
   row with the same pragmas, one transaction per row, in the same run. Goal: ratio >= 0.9.
2. Bulk journal ingest rows per second: ``Buffer.record_journal_page`` with pages of
   ``--page`` records (identity check, seq assignment, cursor, one commit per page), from
   ready-made ``JournalRecord`` pages, against raw ``executemany`` of ready-made rows per
   page (the SQLite floor). Goal: >= 100,000 rows/s.

Single commits run for about ``--seconds`` each (default 3); bulk ingest stores ``--rows``
(default 200,000) twice; the default run stays under 20 s.
Files go to a temporary directory on the same disk as ``--dir`` (default: the system temp).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from stationlink.buffer import Buffer
from stationlink.buffer.db import PRAGMAS
from stationlink.buffer.records import Source, from_journal
from stationlink.buffer.schema import INSERT_RECORD, record_row
from stationlink.money import CST
from stationlink.protocol.messages import JournalRecord, ResultCode, TxnKind, TxnStatus

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=CST)


def record(n: int) -> JournalRecord:
    return JournalRecord(
        n, f"R{n:011d}", f"c{n}", TxnKind.BILL_PAYMENT, "electricity", "0531000123",
        4530, TxnStatus.APPROVED, ResultCode.APPROVED, T0 + timedelta(seconds=n), n * 1000, 1,
    )


def raw_db(path: Path) -> sqlite3.Connection:
    with Buffer.open(path, "S1"):
        pass  # the same schema and indexes
    conn = sqlite3.connect(str(path), isolation_level=None)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return conn


def single_buffer(path: Path, seconds: float) -> float:
    with Buffer.open(path, "S1") as buf:
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            n += 1
            buf.record_result("T1", record(n), T0)
    return n / elapsed


def single_raw(path: Path, seconds: float) -> float:
    conn = raw_db(path)
    try:
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            n += 1
            row = record_row(from_journal("S1", "T1", record(n), T0, Source.LIVE))
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(INSERT_RECORD, (n, *row[1:]))
            conn.execute("COMMIT")
    finally:
        conn.close()
    return n / elapsed


def pages(total: int, page: int) -> list[list[JournalRecord]]:
    """Journal pages as the protocol layer hands them over (built before timing)."""
    return [[record(n) for n in range(s + 1, min(s + page, total) + 1)]
            for s in range(0, total, page)]


def bulk_buffer(path: Path, journal: list[list[JournalRecord]]) -> float:
    """The buffer's path: JournalRecord -> identity check, seq, cursor, one commit per page."""
    with Buffer.open(path, "S1") as buf:
        start = time.perf_counter()
        for recs in journal:
            buf.record_journal_page("T1", recs, T0)
        elapsed = time.perf_counter() - start
    return sum(map(len, journal)) / elapsed


def bulk_raw(path: Path, journal: list[list[JournalRecord]]) -> float:
    """The floor: raw executemany of ready-made rows, one commit per page."""
    rows = [[record_row(from_journal("S1", "T1", r, T0, Source.JOURNAL)._replace(seq=r.cursor))
             for r in recs] for recs in journal]
    conn = raw_db(path)
    try:
        start = time.perf_counter()
        for chunk in rows:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(INSERT_RECORD, chunk)
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
    return sum(map(len, rows)) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--page", type=int, default=1000, help="journal page size")
    parser.add_argument("--rows", type=int, default=200_000, help="bulk ingest rows")
    parser.add_argument("--dir", type=Path, default=None, help="where the files go")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        d = Path(tmp)
        raw_single = single_raw(d / "raw1.sqlite", args.seconds)
        buf_single = single_buffer(d / "buf1.sqlite", args.seconds)
        journal = pages(args.rows, args.page)
        raw_bulk = bulk_raw(d / "raw2.sqlite", journal)
        buf_bulk = bulk_buffer(d / "buf2.sqlite", journal)
    result = {
        "single_commit_per_s": {"buffer": round(buf_single), "raw_sqlite3": round(raw_single),
                                "ratio": round(buf_single / raw_single, 3), "goal_ratio": 0.9},
        "bulk_ingest_rows_per_s": {"buffer": round(buf_bulk), "raw_sqlite3": round(raw_bulk),
                                   "ratio": round(buf_bulk / raw_bulk, 3), "page": args.page,
                                   "goal_rows_per_s": 100_000},
    }
    if args.json:
        print(json.dumps(result))
        return
    s, b = result["single_commit_per_s"], result["bulk_ingest_rows_per_s"]
    print(f"durable single-record commits/s: buffer {s['buffer']:,}  raw sqlite3 "
          f"{s['raw_sqlite3']:,}  ratio {s['ratio']:.3f} (goal >= 0.9)")
    print(f"bulk journal ingest rows/s:      buffer {b['buffer']:,}  raw sqlite3 "
          f"{b['raw_sqlite3']:,}  ratio {b['ratio']:.3f} (goal >= 100,000 rows/s)")


if __name__ == "__main__":
    main()
