"""Benchmark of the sync agent's upload path (``python benchmarks/sync.py [--json]``).

1. One station: records per second from one agent's buffer into the hub over loopback —
   the agent's :class:`~stationlink.agent.uploader.Uploader` (buffer read, JSON, HTTP POST,
   hub validation and durable ingest, ``mark_synced``) against a hub started as its own
   process (``stationlink hub serve --bind 127.0.0.1:0``). Baseline in the same run: the hub
   store's ``ingest`` of the same batches called directly in-process (no HTTP, no JSON) on a
   fresh SQLite file, one batch after the other. Ratio printed.
2. Many stations: ``--stations`` (200) simulated stations, each with its own buffer file and
   token, all uploading at the same time to the same hub process, ``--batch`` (500)-record
   batches, each station one batch after the other (the next only after the hub's answer,
   as the agent does). So that the client side is not what is measured, ``--procs`` (2)
   client processes each drive their share of the stations concurrently (asyncio, one
   keep-alive connection per station, ``TCP_NODELAY``), with every batch's JSON body
   built from the station's buffer before the clock starts. The figure is the hub side:
   records the hub acknowledged (``accepted`` in its answers, checked against what the hub
   file holds afterwards) per second of wall time from the start signal to the last answer.
   Goal: >= 20,000 records/s in total. Printed with the ratios to the one-station rate and to
   the store floor, the hub process's CPU use and the client processes' CPU use (Linux
   ``/proc``; the machine has 2 cores, shared by hub and clients).

3. The stores side by side (with ``--pg URL``, default ``$STATIONLINK_TEST_PG``; skipped
   with one line without it): part 2's 200 concurrent stations again, against a
   PostgreSQL hub served by one process, then by two (``hub serve --workers 2``), each on
   a fresh database created on that server (dropped afterwards), and every batch
   checked against the hub's high-water marks. Printed: records/s of SQLite (part 2),
   PostgreSQL 1 process and 2 processes, the ratios PostgreSQL-1 / SQLite (goal >= 0.8) and
   2 / 1 processes (goal >= 1.5 on 2 cores with the load generator on the same machine),
   and the CPU each side took, in cores busy and in microseconds per record: hub processes
   (parent and workers), the PostgreSQL server's processes (every ``postgres`` process
   visible, so other work on the same server counts too), and the load generator's client
   processes (request bodies pre-encoded: it only sends and reads answers); with the load
   average at the start and end of each run. When the machine's cores are all busy, a
   store's rate follows its total CPU per record, so the ratio PostgreSQL / SQLite is
   bounded by the ratio of those totals.

Everything is real: SQLite files with the production pragmas (WAL, synchronous=FULL), a real
uvicorn hub process, real sockets on 127.0.0.1. Records are generated from a seed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from stationlink.agent import ManualClock, SystemClock
from stationlink.agent.config import UploadSettings
from stationlink.agent.uploader import Uploader, hub_client
from stationlink.buffer import Batch, Buffer
from stationlink.hub.sqlite_store import SqliteHubStore
from stationlink.hub.tokens import hash_token, new_token
from stationlink.hub.wire import batch_to_json
from stationlink.money import CST
from stationlink.protocol import (
    CardRef,
    JournalRecord,
    ResultCode,
    TxnKind,
    TxnStatus,
)

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=CST)
PRODUCTS = ("mobile", "unicom", "electricity", "water", "gas", "cable_tv")
GOAL = 20_000.0
PG_GOAL = 0.8  # PostgreSQL with one hub process vs the SQLite hub
WORKERS_GOAL = 1.5  # two hub processes vs one, on PostgreSQL


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


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def batches_of(buffer_path: Path, station: str, batch: int) -> list[Batch]:
    """The station's records as the agent's upload batches (gap-free, seq order)."""
    out = []
    with Buffer.open(buffer_path, station) as buf:
        after = 0
        while True:
            recs = list(buf.records(after, batch))
            if not recs:
                return out
            out.append(Batch(station, recs[0].seq, recs[-1].seq, tuple(recs)))
            after = recs[-1].seq


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU seconds of a process and all its descendants (Linux /proc), None elsewhere."""
    own = cpu_seconds(pid)
    if own is None:
        return None
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        kids = []
    return own + sum(tree_cpu_seconds(int(k)) or 0.0 for k in kids)


def postgres_cpu_seconds() -> float | None:
    """CPU seconds of every ``postgres`` process visible here (the local server's backends),
    None when there is none to see."""
    total, seen = 0.0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "(postgres)" not in text:
            continue
        fields = text.rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        seen = True
    return total if seen else None


class HubProcess:
    def __init__(self, db: Path | str, workers: int = 1) -> None:
        cmd = [sys.executable, "-c", "from stationlink.cli.main import main; main()",
               "hub", "serve", "--db", str(db), "--bind", "127.0.0.1:0",
               "--workers", str(workers)]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        if not line.startswith("hub listening on "):
            self.proc.kill()
            raise SystemExit(f"hub did not start: {line}")
        self.url = line.split()[-1]
        self.log: list[str] = []  # drained, so that a chatty hub never blocks on its pipe
        self._drain = threading.Thread(target=self._read, daemon=True)
        self._drain.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log = [*self.log[-50:], line]

    def cpu_seconds(self) -> float | None:
        return tree_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self._drain.join(timeout=10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()
        if self.log[:-1]:  # more than its "hub stopped"
            print("hub log tail:\n" + "".join(self.log[-20:]), file=sys.stderr)


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
    batches = batches_of(buffer_path, station, batch)
    store = SqliteHubStore(db)
    try:
        clock = ManualClock(datetime(2026, 10, 6, tzinfo=UTC))
        start = time.perf_counter()
        for b in batches:
            store.ingest(b, clock.now())
        elapsed = time.perf_counter() - start
        return sum(len(b.records) for b in batches) / elapsed
    finally:
        store.close()


# ---------------------------------------------------------------- many stations

Job = tuple[str, str, int]  # station, token, seed


def prepare_bodies(tmp: Path, jobs: list[Job], per_station: int, batch: int
                   ) -> dict[str, list[bytes]]:
    """Each station's buffer and its batches' request bodies (as HubClient sends them)."""
    bodies: dict[str, list[bytes]] = {}
    for station, _, seed in jobs:
        path = tmp / f"{station}.sqlite"
        make_buffer(path, station, per_station, seed)
        bodies[station] = [
            json.dumps(batch_to_json(b), ensure_ascii=False, separators=(",", ":")).encode()
            for b in batches_of(path, station, batch)
        ]
    return bodies


async def drive(url: str, jobs: list[Job], bodies: dict[str, list[bytes]]) -> tuple[int, int]:
    """All of ``jobs``' stations at once; returns (records acknowledged, batches)."""
    transport = httpx.AsyncHTTPTransport(
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        limits=httpx.Limits(max_connections=len(jobs), max_keepalive_connections=len(jobs)))
    async with httpx.AsyncClient(transport=transport, timeout=300.0) as client:

        async def station(job: Job) -> tuple[int, int]:
            name, token, _ = job
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            accepted = 0
            for body in bodies[name]:
                r = await client.post(f"{url}/v1/stations/{name}/batches", content=body,
                                      headers=headers)
                if r.status_code != 200:
                    raise SystemExit(f"station {name}: HTTP {r.status_code}: {r.text[:300]}")
                accepted += int(r.json()["accepted"])
            return accepted, len(bodies[name])

        done = await asyncio.gather(*(station(j) for j in jobs))
    return sum(d[0] for d in done), sum(d[1] for d in done)


def client_process(url: str, tmp: str, jobs: list[Job], per_station: int, batch: int,
                   barrier: Any, results: Any) -> None:
    """One client process: build its stations' bodies, wait for the start, drive them."""
    bodies = prepare_bodies(Path(tmp), jobs, per_station, batch)
    barrier.wait()
    cpu0 = time.process_time()
    accepted, batches = asyncio.run(drive(url, jobs, bodies))
    results.put((accepted, batches, time.monotonic(), time.process_time() - cpu0))


def many_stations(hub: HubProcess, tmp: Path, jobs: list[Job], args: argparse.Namespace
                  ) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(args.procs + 1)
    results = ctx.Queue()
    procs = [ctx.Process(target=client_process, args=(
        hub.url, str(tmp), jobs[i::args.procs], args.per_station, args.batch, barrier, results))
        for i in range(args.procs)]
    for p in procs:
        p.start()
    try:
        barrier.wait(timeout=600)
        load0 = os.getloadavg()[0]
        cpu0, pg0, start = hub.cpu_seconds(), postgres_cpu_seconds(), time.monotonic()
        got = [results.get(timeout=600) for _ in procs]
        cpu1, pg1 = hub.cpu_seconds(), postgres_cpu_seconds()
        load1 = os.getloadavg()[0]
    finally:
        for p in procs:
            p.join(timeout=60)
        results.close()
        results.join_thread()
    elapsed = max(g[2] for g in got) - start
    hub_cpu = None if cpu0 is None or cpu1 is None else (cpu1 - cpu0) / elapsed
    pg_cpu = None if pg0 is None or pg1 is None else (pg1 - pg0) / elapsed
    return {
        "records": sum(g[0] for g in got), "batches": sum(g[1] for g in got),
        "elapsed": elapsed, "hub_cpu": hub_cpu, "postgres_cpu": pg_cpu,
        "client_cpu": sum(g[3] for g in got) / elapsed, "loadavg": (load0, load1),
    }


def pg_run(admin: str, tmp: Path, stations: list[str], args: argparse.Namespace,
           workers: int) -> dict[str, Any]:
    """Part 3: the many-stations load against a PostgreSQL hub of ``workers`` processes on
    a fresh database (created here, dropped at the end)."""
    import psycopg

    from stationlink.hub.stores import migrate_hub, open_hub_store

    name = f"stationlink_bench_{os.getpid()}_{workers}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}".encode())
        conn.execute(f"CREATE DATABASE {name}".encode())
    parts = urlsplit(admin)
    url = urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))
    try:
        migrate_hub(url)
        store = open_hub_store(url)
        jobs: list[Job] = []
        try:
            for i, station in enumerate(stations):
                token_id, token = new_token()
                store.add_token(token_id, station, hash_token(token), datetime.now(UTC))
                jobs.append((station, token, 100 + i))
        finally:
            store.close()
        run_dir = tmp / f"pg-{workers}"
        run_dir.mkdir()
        hub = HubProcess(url, workers)
        try:
            many = many_stations(hub, run_dir, jobs, args)
        finally:
            hub.stop()
        check = open_hub_store(url)
        try:
            held = sum(check.high_water_mark(s) for s in stations)
        finally:
            check.close()
        expected = args.stations * args.per_station
        if held != expected or many["records"] != expected:
            raise SystemExit(f"PostgreSQL, {workers} process(es): incomplete upload: hub "
                             f"holds {held} and acknowledged {many['records']} of {expected}")
        return many
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())


def cores(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def side(run: dict[str, Any], *, postgres: bool) -> dict[str, Any]:
    """One store's figures: records/s; the CPU each side took, in cores busy over the run
    and in microseconds per record acknowledged (hub processes, the PostgreSQL server's
    processes, the load generator's client processes; on a machine whose cores are all busy
    the rates follow the total per record); the 1-minute load average at start and end."""
    per_record = run["elapsed"] / run["records"] * 1e6

    def us(x: float | None) -> float | None:
        return None if x is None else round(x * per_record, 1)

    pg_cpu = run["postgres_cpu"] if postgres else None
    parts = [run["hub_cpu"], pg_cpu, run["client_cpu"]]
    return {
        "records_per_s": round(run["records"] / run["elapsed"]),
        "hub_cpu": cores(run["hub_cpu"]), "postgres_cpu": cores(pg_cpu),
        "generator_cpu": cores(run["client_cpu"]),
        "hub_us_per_record": us(run["hub_cpu"]), "postgres_us_per_record": us(pg_cpu),
        "generator_us_per_record": us(run["client_cpu"]),
        "total_us_per_record": None if run["hub_cpu"] is None
        else us(sum(x or 0.0 for x in parts)),
        "loadavg_start_end": [round(x, 2) for x in run["loadavg"]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--records", type=int, default=10_000, help="one station's records")
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--per-station", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--procs", type=int, default=2, help="client processes (part 2)")
    parser.add_argument("--dir", default=None, help="where the SQLite files go")
    parser.add_argument("--pg", default=os.environ.get("STATIONLINK_TEST_PG"),
                        help="PostgreSQL server DSN for part 3 (databases are created and "
                             "dropped on it); default $STATIONLINK_TEST_PG")
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
        jobs = [(s, tokens[s], 100 + i) for i, s in enumerate(stations)]
        (tmp / "sqlite").mkdir()

        hub = HubProcess(hub_db)
        try:
            start = time.perf_counter()
            one = upload_all(tmp / "one.sqlite", hub.url, tokens["ONE"], "ONE", args.batch)
            one_rate = one / (time.perf_counter() - start)
            many = many_stations(hub, tmp / "sqlite", jobs, args)
        finally:
            hub.stop()
        many_rate = many["records"] / many["elapsed"]
        check = SqliteHubStore(hub_db, create=False)
        try:
            held = sum(check.high_water_mark(s) for s in stations)
        finally:
            check.close()
        expected = args.stations * args.per_station
        if held != expected or many["records"] != expected or one != args.records:
            raise SystemExit(f"incomplete upload: hub holds {held} and acknowledged "
                             f"{many['records']} of {expected}; one station {one}")
        pg = {} if not args.pg else {w: pg_run(args.pg, tmp, stations, args, w) for w in (1, 2)}

    hub_cpu, client_cpu = many["hub_cpu"], many["client_cpu"]
    result: dict[str, Any] = {
        "one_station_records": one,
        "one_station_records_per_s": round(one_rate),
        "store_ingest_floor_records_per_s": round(floor),
        "ratio_one_station_to_store_floor": round(one_rate / floor, 3),
        "stations": args.stations,
        "records_per_station": args.per_station,
        "batch": args.batch,
        "client_processes": args.procs,
        "many_stations_records": many["records"],
        "many_stations_batches": many["batches"],
        "many_stations_records_per_s": round(many_rate),
        "ratio_many_to_one_station": round(many_rate / one_rate, 3),
        "ratio_many_to_store_floor": round(many_rate / floor, 3),
        "hub_process_cpu_share": None if hub_cpu is None else round(hub_cpu, 2),
        "client_processes_cpu_share": round(client_cpu, 2),
        "loadavg_1min": os.getloadavg()[0],
        "goal_records_per_s": GOAL,
        "goal_met": many_rate >= GOAL,
    }
    stores: dict[str, Any] = {"sqlite": side(many, postgres=False)}
    for w, run in pg.items():
        stores[f"postgresql_{w}_process"] = side(run, postgres=True)
    result["stores"] = stores
    if pg:
        p1 = stores["postgresql_1_process"]["records_per_s"]
        p2 = stores["postgresql_2_process"]["records_per_s"]
        result["ratio_pg_1_process_to_sqlite"] = round(p1 / many_rate, 3)
        result["ratio_pg_2_to_1_process"] = round(p2 / p1, 3)
        result["goal_pg_1_process_to_sqlite"] = PG_GOAL
        result["goal_pg_2_to_1_process"] = WORKERS_GOAL
    if args.json:
        print(json.dumps(result))
        return
    print(f"one station: {one} records in {args.batch}-record batches: "
          f"{one_rate:,.0f} records/s")
    print(f"  store ingest floor (no HTTP, same batches, one after the other): "
          f"{floor:,.0f} records/s; ratio {one_rate / floor:.3f}")
    print(f"{args.stations} stations x {args.per_station} records at once "
          f"({many['batches']} batches, {args.procs} client processes): "
          f"{many_rate:,.0f} records/s acknowledged by the hub")
    print(f"  ratio to one station {many_rate / one_rate:.3f}, to the store floor "
          f"{many_rate / floor:.3f}")
    if hub_cpu is not None:
        print(f"  hub process CPU: {hub_cpu:.2f} cores busy; client processes: "
              f"{client_cpu:.2f} cores (load average {os.getloadavg()[0]:.2f})")
    verdict = "met" if many_rate >= GOAL else "NOT met"
    print(f"goal >= {GOAL:,.0f} records/s in total: {verdict}")
    if not pg:
        print("stores side by side: skipped (no --pg / STATIONLINK_TEST_PG)")
        return
    print(f"stores side by side, {args.stations} stations x {args.per_station} records:")
    for label, doc in stores.items():
        print(f"  {label:24} {doc['records_per_s']:>9,} records/s   CPU (cores): hub "
              f"{doc['hub_cpu']}, postgres {doc['postgres_cpu']}, load generator "
              f"{doc['generator_cpu']}; per record (us): hub {doc['hub_us_per_record']}, "
              f"postgres {doc['postgres_us_per_record']}, generator "
              f"{doc['generator_us_per_record']}, total {doc['total_us_per_record']}; "
              f"load average {doc['loadavg_start_end'][0]} -> {doc['loadavg_start_end'][1]}")
    r1, r2 = result["ratio_pg_1_process_to_sqlite"], result["ratio_pg_2_to_1_process"]
    print(f"  PostgreSQL 1 process / SQLite: {r1:.3f} (goal >= {PG_GOAL}: "
          f"{'met' if r1 >= PG_GOAL else 'NOT met'})")
    print(f"  PostgreSQL 2 processes / 1 process: {r2:.3f} (goal >= {WORKERS_GOAL}: "
          f"{'met' if r2 >= WORKERS_GOAL else 'NOT met'})")


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
