"""Benchmark of the station buffer (``python benchmarks/buffer.py [--json]``).

1. Durable single-record commits per second: ``Buffer.record_result`` (one BEGIN IMMEDIATE
   transaction per record, WAL, synchronous=FULL) against raw ``sqlite3`` inserting the same
   row with the same pragmas, schema and indexes, one BEGIN IMMEDIATE ... COMMIT per row, in
   the same run. Both start from a ``JournalRecord``: the raw loop builds its row with
   ``from_journal`` + ``record_row``. Goal: ratio >= 0.9.
2. Bulk journal ingest rows per second: ``Buffer.record_journal_page`` with pages of
   ``--page`` records, from ready-made ``JournalRecord`` pages, against raw ``executemany`` of
   ready-made rows, one transaction per page of the same size. Goal: >= 100,000 rows/s (the
   raw figure and ratio are printed for context). The buffer inserts with multi-row
   ``INSERT ... VALUES (...), (...)`` statements binding the page's shared values once
   (``page.insert_page``), cheaper per row than ``executemany``; so a third side, raw
   ``insert_page`` of the same ready-made rows laid out as columns, is printed too: buffer
   against that is the cost of the buffer's own work. ``PageResult.stored`` is built on its
   first read; that read is timed on its own and printed as the rate of a caller that reads it.

The raw baseline does less than the buffer must, by design of the goal: it does no identity
look-up (de-duplication, the ``u:``/``t:`` references), no ``MAX(seq)`` read, no cursor
upsert (bulk), no validation (bulk: rows are built before timing), and builds no
``StoredRecord`` to return (the buffer builds them when ``stored`` is read, timed apart).
Garbage from building the ready-made input is collected before the bulk sides are timed.

Fairness on a shared machine: fsync latency and CPU load drift during a run, so the two sides
are interleaved instead of measured one after the other: single commits alternate commit by
commit (raw n, buffer n; then buffer first) for about ``--seconds`` per side; bulk ingest
alternates page by page the same way. Only each side's own calls are timed; rates are records
over that side's total time. Each side has its own file in one temporary directory on
``--dir`` (default: the system temp), so both see the same disk. The load average is printed:
other jobs' fsyncs and CPU use move both sides, and the absolute bulk figure with them.
For context it also prints each side's CPU time per record (``time.process_time`` of its own
calls; fsync waits excluded) and, for single commits, the median commit latency.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

from stationlink.buffer import Buffer, PageResult
from stationlink.buffer.db import PRAGMAS
from stationlink.buffer.page import PAGE_COLUMNS, insert_page
from stationlink.buffer.records import Source, from_journal
from stationlink.buffer.schema import INSERT_RECORD, RECORD_COLUMNS, record_row
from stationlink.money import CST
from stationlink.protocol import JournalRecord, ResultCode, TxnKind, TxnStatus

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=CST)
PAGE_INDEXES = [RECORD_COLUMNS.index(c) for c in PAGE_COLUMNS]
SHARED_INDEXES = [RECORD_COLUMNS.index(c) for c in ("station_id", "terminal_id", "source",
                                                    "wall_time")]  # insert_page's shared values


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


class Side:
    """One side's timings: wall and CPU time of its own calls, and each call's latency."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self.latencies: list[float] = []

    def timed(self, call: Callable[[], object]) -> None:
        start, cpu = time.perf_counter(), time.process_time()
        call()
        self.cpu += time.process_time() - cpu
        took = time.perf_counter() - start
        self.wall += took
        self.latencies.append(took)


def single(d: Path, seconds: float) -> tuple[Side, Side, int]:
    """Raw and buffer sides of durable single-record commits, alternating commit by commit."""
    conn = raw_db(d / "raw1.sqlite")
    buf = Buffer.open(d / "buf1.sqlite", "S1")

    def raw_commit(n: int, rec: JournalRecord) -> None:
        row = record_row(from_journal("S1", "T1", rec, T0, Source.LIVE))
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(INSERT_RECORD, (n, *row[1:]))
        conn.execute("COMMIT")

    raw, mine = Side(), Side()
    n = 0
    try:
        while raw.wall + mine.wall < 2 * seconds:
            n += 1
            rec = record(n)
            for side in (raw, mine) if n % 2 else (mine, raw):
                if side is raw:
                    side.timed(lambda: raw_commit(n, rec))  # noqa: B023 - called at once
                else:
                    side.timed(lambda: buf.record_result("T1", rec, T0))  # noqa: B023
    finally:
        conn.close()
        buf.close()
    return raw, mine, n


def pages(total: int, page: int) -> list[list[JournalRecord]]:
    """Journal pages as the protocol layer hands them over (built before timing)."""
    return [[record(n) for n in range(s + 1, min(s + page, total) + 1)]
            for s in range(0, total, page)]


def bulk(d: Path, journal: list[list[JournalRecord]]) -> tuple[Side, Side, Side, Side, int]:
    """Raw, buffer and raw multi-row sides of bulk ingest, page by page interleaved (the
    order rotating), one transaction a page; and the buffer's first read of each page's
    ``PageResult.stored`` (built then), timed on its own."""
    rows = [[list(record_row(from_journal("S1", "T1", r, T0, Source.JOURNAL)
                             ._replace(seq=r.cursor))) for r in recs] for recs in journal]
    # the multi-row side: the same rows laid out as the buffer binds them (ingest.insert_page)
    shared = [[chunk[0][i] for i in SHARED_INDEXES] for chunk in rows]
    columns = [[[row[i] for row in chunk] for i in PAGE_INDEXES] for chunk in rows]
    conn = raw_db(d / "raw2.sqlite")
    multi_conn = raw_db(d / "raw3.sqlite")
    buf = Buffer.open(d / "buf2.sqlite", "S1")

    def raw_page(chunk: list[list[Any]]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT_RECORD, chunk)
        conn.execute("COMMIT")

    def multi_page(i: int) -> None:
        multi_conn.execute("BEGIN IMMEDIATE")
        insert_page(multi_conn, shared[i], columns[i])
        multi_conn.execute("COMMIT")

    raw, mine, multi, stored = Side(), Side(), Side(), Side()
    results: list[PageResult] = []
    gc.collect()  # the ready-made input is collected before timing, not inside a side
    order = [raw, mine, multi]
    try:
        for i, (recs, chunk) in enumerate(zip(journal, rows, strict=True)):
            for side in order[i % 3:] + order[: i % 3]:
                if side is raw:
                    side.timed(lambda: raw_page(chunk))  # noqa: B023 - called at once
                elif side is multi:
                    side.timed(lambda: multi_page(i))  # noqa: B023
                else:
                    side.timed(lambda: results.append(
                        buf.record_journal_page("T1", recs, T0)))  # noqa: B023
                    stored.timed(lambda: results.pop().stored)
    finally:
        conn.close()
        multi_conn.close()
        buf.close()
    return raw, mine, multi, stored, sum(map(len, journal))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--seconds", type=float, default=3.0, help="single commits, per side")
    parser.add_argument("--page", type=int, default=1000, help="journal page size")
    parser.add_argument("--rows", type=int, default=200_000, help="bulk ingest rows")
    parser.add_argument("--dir", type=Path, default=None, help="where the files go")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        d = Path(tmp)
        raw1, buf1, n1 = single(d, args.seconds)
        raw2, buf2, multi2, stored2, n2 = bulk(d, pages(args.rows, args.page))
    single_doc = {
        "buffer": round(n1 / buf1.wall), "raw_sqlite3": round(n1 / raw1.wall),
        "ratio": round(raw1.wall / buf1.wall, 3), "goal_ratio": 0.9, "commits_each": n1,
        "median_latency_us": {"buffer": round(median(buf1.latencies) * 1e6),
                              "raw_sqlite3": round(median(raw1.latencies) * 1e6)},
        "cpu_us_per_commit": {"buffer": round(buf1.cpu / n1 * 1e6, 1),
                              "raw_sqlite3": round(raw1.cpu / n1 * 1e6, 1)},
    }
    bulk_doc = {
        "buffer": round(n2 / buf2.wall), "raw_sqlite3": round(n2 / raw2.wall),
        "ratio": round(raw2.wall / buf2.wall, 3), "page": args.page, "rows_each": n2,
        "goal_rows_per_s": 100_000, "raw_multirow": round(n2 / multi2.wall),
        "ratio_vs_multirow": round(multi2.wall / buf2.wall, 3),
        "cpu_us_per_row": {"buffer": round(buf2.cpu / n2 * 1e6, 2),
                           "raw_sqlite3": round(raw2.cpu / n2 * 1e6, 2),
                           "raw_multirow": round(multi2.cpu / n2 * 1e6, 2),
                           "buffer_read_stored": round(stored2.cpu / n2 * 1e6, 2)},
        "buffer_reading_stored": round(n2 / (buf2.wall + stored2.wall)),
    }
    result = {
        "single_commit_per_s": single_doc, "bulk_ingest_rows_per_s": bulk_doc,
        "loadavg_1min": {"start": round(load, 2), "end": round(os.getloadavg()[0], 2)},
    }
    if args.json:
        print(json.dumps(result))
        return
    s, b = single_doc, bulk_doc
    print(f"durable single-record commits/s: buffer {s['buffer']:,}  raw sqlite3 "
          f"{s['raw_sqlite3']:,}  ratio {s['ratio']:.3f} (goal >= 0.9)  "
          f"[median latency {median(buf1.latencies) * 1e6:.0f} vs "
          f"{median(raw1.latencies) * 1e6:.0f} us; CPU {buf1.cpu / n1 * 1e6:.0f} vs "
          f"{raw1.cpu / n1 * 1e6:.0f} us/commit]")
    print(f"bulk journal ingest rows/s:      buffer {b['buffer']:,}  raw sqlite3 "
          f"{b['raw_sqlite3']:,}  ratio {b['ratio']:.3f} (goal >= 100,000 rows/s)  "
          f"[CPU {buf2.cpu / n2 * 1e6:.2f} vs {raw2.cpu / n2 * 1e6:.2f} us/row]")
    print(f"  context: raw multi-row INSERTs as the buffer does them: {b['raw_multirow']:,} rows/s "
          f"(ratio {b['ratio_vs_multirow']:.3f}; "
          f"CPU {multi2.cpu / n2 * 1e6:.2f} us/row)")
    print(f"  context: a caller that reads PageResult.stored (built on first read): "
          f"{b['buffer_reading_stored']:,} rows/s (+{stored2.cpu / n2 * 1e6:.2f} us/row CPU)")
    print(f"load average (1 min): {load:.2f} at start, {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
