"""Benchmark of the sync agent's upload path (``python benchmarks/sync.py [--json]``).

1. One station: records per second from one agent's buffer into the hub over loopback —
   the agent's :class:`~stationlink.agent.uploader.Uploader` (buffer read, JSON, HTTP POST,
   hub validation and durable ingest, ``mark_synced``) against a hub started as its own
   process (``stationlink hub serve --bind 127.0.0.1:0``). Baseline in the same run: the hub
   store's ``ingest`` of the same batches called directly in-process (no HTTP, no JSON) on a
   fresh SQLite file — the floor the HTTP path cannot beat. Ratio printed.
2. Many stations: ``--stations`` (200) simulated stations, each with its own buffer file and
   token, uploading concurrently (``--threads`` client threads) to the same hub process with
   ``--batch`` (500)-record batches. Goal: >= 20,000 records/s in total. The ratio to the
   one-station rate and to the store floor are printed, with the hub process's CPU use
   (Linux ``/proc``) to show what limits the total.

Everything is real: SQLite files with the production pragmas (WAL, synchronous=FULL), a real
uvicorn hub process, real sockets on 127.0.0.1. Records are generated from a seed.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stationlink.agent import ManualClock, SystemClock
from stationlink.agent.config import UploadSettings
from stationlink.agent.uploader import Uploader, hub_client
from stationlink.buffer import Buffer
from stationlink.hub.sqlite_store import SqliteHubStore
from stationlink.hub.tokens import hash_token, new_token
from stationlink.money import CST
from stationlink.protocol.messages import (
    CardRef,
    JournalRecord,
    ResultCode,
    TxnKind,
    TxnStatus,
)

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=CST)
PRODUCTS = ("mobile", "unicom", "electricity", "water", "gas", "cable_tv")
GOAL = 20_000.0


def records(n: int, rng: random.Random) -> list[JournalRecord]:
    out = []
    for i in range(1, n + 1):
        if rng.random() < 0.3:
            kind, product, account = TxnKind.WITHDRAWAL, "", ""
            card: CardRef | None = CardRef("621700*********1234", f"{rng.getrandbits(128):032x}")
            amount = rng.randrange(1, 20) * 10000
        else:
            kind, product, card = TxnKind.BILL_PAYMENT, rng.choice(PRODUCTS), None
            account, amount = f"138{rng.randrange(10**8):08d}", rng.randrange(100, 30000)
        out.append(JournalRecord(
            i, f"0001{i:08d}", "", kind, product, account, amount, TxnStatus.APPROVED,
            ResultCode.APPROVED, T0 + timedelta(seconds=30 * i), 30_000 * i, 1, card, ""))
    return out


def make_buffer(path: Path, station: str, n: int, seed: int) -> None:
    recs = records(n, random.Random(seed))
    with Buffer.open(path, station) as buf:
        for start in range(0, n, 2000):
            buf.record_journal_page("T0000001", recs[start:start + 2000], T0)


class HubProcess:
    def __init__(self, db: Path) -> None:
        cmd = [sys.executable, "-c", "from stationlink.cli.main import main; main()",
               "hub", "serve", "--db", str(db), "--bind", "127.0.0.1:0"]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        if not line.startswith("hub listening on "):
            self.proc.kill()
            raise SystemExit(f"hub did not start: {line}")
        self.url = line.split()[-1]

    def cpu_seconds(self) -> float | None:
        """utime + stime of the hub process (Linux /proc), None elsewhere."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        import os

        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        assert self.proc.stderr is not None
        self.proc.stderr.close()


def upload_all(buffer_path: Path, url: str, token: str, station: str, batch: int) -> int:
    """The agent's uploader until the buffer is synced; returns records uploaded."""
    settings = UploadSettings(batch_size=batch, status_interval=1e9)
    with Buffer.open(buffer_path, station) as buf, \
            hub_client(url, token, station_id=station, timeout=30.0) as client:
        up = Uploader(client, settings, rng=random.Random(1), clock=SystemClock())
        total = 0
        while buf.synced_upto() < buf.last_seq():
            r = up.step(buf, max_batches=1000)
            total += r.uploaded
            if r.waiting:
                time.sleep(max(0.0, up.next_attempt - time.monotonic()))
        return total


def store_floor(buffer_path: Path, db: Path, station: str, batch: int) -> float:
    """Records/s of SqliteHubStore.ingest called directly with the same batches."""
    store = SqliteHubStore(db)
    try:
        with Buffer.open(buffer_path, station) as buf:
            batches = []
            after = 0
            while True:
                recs = list(buf.records(after, batch))
                if not recs:
                    break
                from stationlink.buffer import Batch
                batches.append(Batch(station, recs[0].seq, recs[-1].seq, tuple(recs)))
                after = recs[-1].seq
        clock = ManualClock(datetime(2026, 10, 6, tzinfo=UTC))
        start = time.perf_counter()
        for b in batches:
            store.ingest(b, clock.now())
        elapsed = time.perf_counter() - start
        return sum(len(b.records) for b in batches) / elapsed
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--records", type=int, default=10_000, help="one station's records")
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--per-station", type=int, default=500)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--threads", type=int, default=16, help="client threads (part 2)")
    parser.add_argument("--dir", default=None, help="where the SQLite files go")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="sync-bench-") as tmp_text:
        tmp = Path(tmp_text)
        hub_db = tmp / "hub.sqlite"
        stations = [f"B{i:04d}" for i in range(args.stations)]
        tokens: dict[str, str] = {}
        store = SqliteHubStore(hub_db)
        for station in ["ONE", *stations]:
            token_id, tokens[station] = new_token()
            store.add_token(token_id, station, hash_token(tokens[station]), datetime.now(UTC))
        store.close()

        make_buffer(tmp / "one.sqlite", "ONE", args.records, seed=1)
        floor = store_floor(tmp / "one.sqlite", tmp / "floor.sqlite", "ONE", args.batch)
        for i, station in enumerate(stations):
            make_buffer(tmp / f"{station}.sqlite", station, args.per_station, seed=100 + i)

        hub = HubProcess(hub_db)
        try:
            start = time.perf_counter()
            one = upload_all(tmp / "one.sqlite", hub.url, tokens["ONE"], "ONE", args.batch)
            one_rate = one / (time.perf_counter() - start)

            cpu0 = hub.cpu_seconds()
            start = time.perf_counter()
            with ThreadPoolExecutor(args.threads) as pool:
                done = list(pool.map(
                    lambda s: upload_all(tmp / f"{s}.sqlite", hub.url, tokens[s], s,
                                         args.batch), stations))
            elapsed = time.perf_counter() - start
            cpu1 = hub.cpu_seconds()
        finally:
            hub.stop()
        many = sum(done)
        many_rate = many / elapsed
        check = SqliteHubStore(hub_db)
        try:
            held = sum(check.high_water_mark(s) for s in stations)
        finally:
            check.close()
        if held != args.stations * args.per_station or one != args.records:
            raise SystemExit(f"incomplete upload: hub holds {held}, one station {one}")
        hub_cpu = None if cpu0 is None or cpu1 is None else (cpu1 - cpu0) / elapsed

    result: dict[str, Any] = {
        "one_station_records": one,
        "one_station_records_per_s": round(one_rate),
        "store_ingest_floor_records_per_s": round(floor),
        "ratio_one_station_to_store_floor": round(one_rate / floor, 3),
        "stations": args.stations,
        "records_per_station": args.per_station,
        "batch": args.batch,
        "client_threads": args.threads,
        "many_stations_records": many,
        "many_stations_records_per_s": round(many_rate),
        "ratio_many_to_one_station": round(many_rate / one_rate, 3),
        "ratio_many_to_store_floor": round(many_rate / floor, 3),
        "hub_process_cpu_share": None if hub_cpu is None else round(hub_cpu, 2),
        "goal_records_per_s": GOAL,
        "goal_met": many_rate >= GOAL,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"one station: {one} records in {args.batch}-record batches: "
          f"{one_rate:,.0f} records/s")
    print(f"  store ingest floor (no HTTP, same batches): {floor:,.0f} records/s; "
          f"ratio {one_rate / floor:.3f}")
    print(f"{args.stations} stations x {args.per_station} records, {args.threads} client "
          f"threads: {many_rate:,.0f} records/s")
    print(f"  ratio to one station {many_rate / one_rate:.3f}, to the store floor "
          f"{many_rate / floor:.3f}")
    if hub_cpu is not None:
        print(f"  hub process CPU: {hub_cpu:.2f} cores busy during the run")
    verdict = "met" if many_rate >= GOAL else "NOT met"
    print(f"goal >= {GOAL:,.0f} records/s in total: {verdict}")


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
