"""Group commit: many writes share one durable commit, each still all-or-nothing and
answered only after the commit; concurrent stations through a real server; and a hub
process SIGKILLed under concurrent load loses nothing it acknowledged."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import httpx
import pytest
from hub_fixtures import T0, Clock, HubProcess, MakeRecord, create_token

from stationlink.buffer import Batch, Buffer
from stationlink.buffer.db import connect
from stationlink.errors import StorageError
from stationlink.hub.app import create_app
from stationlink.hub.group_commit import GroupCommitWriter
from stationlink.hub.server import BackgroundServer
from stationlink.hub.sqlite_store import SqliteHubStore
from stationlink.hub.tokens import hash_token, new_token
from stationlink.hub.wire import batch_to_json


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[GroupCommitWriter]:
    db = connect(tmp_path / "w.sqlite", create=True, check_same_thread=False)
    db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)")
    w = GroupCommitWriter(db.conn, str(tmp_path / "w.sqlite"))
    yield w
    w.close()


def rows(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT k, v FROM t").fetchall())
    finally:
        conn.close()


def hold(writer: GroupCommitWriter) -> tuple[threading.Event, Future[None]]:
    """Occupy the writer thread until the event is set (so later writes queue up)."""
    started, release = threading.Event(), threading.Event()

    def blocking(conn: sqlite3.Connection) -> None:
        started.set()
        release.wait(10)

    future = writer.submit(blocking)
    assert started.wait(10)
    return release, future


def insert(k: str, v: int) -> Callable[[sqlite3.Connection], int]:
    def write(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO t VALUES (?, ?)", (k, v))
        return v

    return write


def test_queued_writes_share_one_commit_and_fail_alone(
    writer: GroupCommitWriter, tmp_path: Path
) -> None:
    path = tmp_path / "w.sqlite"
    release, first = hold(writer)
    seen_at_answer: dict[str, dict[str, int]] = {}

    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES ('half', 1)")
        raise ValueError("refused after writing")

    futures: dict[str, Future[Any]] = {}
    for name, write in [("a", insert("a", 1)), ("bad", half_then_fail),
                        ("dup", insert("a", 9)), ("b", insert("b", 2))]:
        futures[name] = writer.submit(write)
        # a done-callback runs when the answer is given: the row must already be committed
        futures[name].add_done_callback(lambda f, n=name: seen_at_answer.setdefault(n, rows(path)))
    commits = writer.commits
    release.set()
    first.result(10)
    assert futures["a"].result(10) == 1
    assert futures["b"].result(10) == 2
    with pytest.raises(ValueError, match="refused after writing"):
        futures["bad"].result(10)
    with pytest.raises(StorageError, match="UNIQUE constraint failed"):
        futures["dup"].result(10)
    assert writer.commits == commits + 2  # the holding write, then the four queued: one
    writer.run(lambda conn: None)  # the writer ran the done-callbacks before taking this
    assert rows(path) == {"a": 1, "b": 2}  # nothing of the failed writes stayed
    assert seen_at_answer["a"] == {"a": 1, "b": 2}
    assert seen_at_answer["b"] == {"a": 1, "b": 2}


def test_a_write_that_ends_the_transaction_fails_the_group_so_far(
    writer: GroupCommitWriter, tmp_path: Path
) -> None:
    release, first = hold(writer)

    def abort(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES ('x', 1)")
        conn.execute("ROLLBACK")  # as SQLite does itself on some I/O errors
        raise sqlite3.OperationalError("disk I/O error (simulated)")

    ok = writer.submit(insert("a", 1))
    broken = writer.submit(abort)
    after = writer.submit(insert("b", 2))
    release.set()
    first.result(10)
    with pytest.raises(StorageError, match="transaction aborted"):
        ok.result(10)  # it was rolled back with the transaction: never reported stored
    with pytest.raises(StorageError, match="disk I/O error"):
        broken.result(10)
    assert after.result(10) == 2  # a later write gets a fresh transaction
    assert rows(tmp_path / "w.sqlite") == {"b": 2}


def test_closed_writer_refuses(writer: GroupCommitWriter) -> None:
    assert writer.run(insert("a", 1)) == 1
    writer.close()
    with pytest.raises(StorageError, match="closed"):
        writer.submit(insert("b", 2))


def station_batches(tmp: Path, station: str, make_record: MakeRecord, n: int,
                    size: int) -> list[Batch]:
    with Buffer.open(tmp / f"{station}.sqlite", station) as buf:
        buf.record_journal_page("T1", [make_record(i) for i in range(1, n + 1)], T0)
        out = []
        after = 0
        while recs := list(buf.records(after, size)):
            out.append(Batch(station, recs[0].seq, recs[-1].seq, tuple(recs)))
            after = recs[-1].seq
        return out


@pytest.mark.slow
def test_concurrent_stations_through_the_server(tmp_path: Path, make_record: MakeRecord
                                                ) -> None:
    stations = [f"C{i:02d}" for i in range(12)]
    store = SqliteHubStore(tmp_path / "hub.sqlite")
    tokens = {}
    for s in [*stations, "G"]:
        token_id, tokens[s] = new_token()
        store.add_token(token_id, s, hash_token(tokens[s]), T0)
    batches = {s: station_batches(tmp_path, s, make_record, 60, 20) for s in [*stations, "G"]}
    errors: list[str] = []

    def post(http: httpx.Client, s: str, b: Batch) -> httpx.Response:
        return http.post(f"{server.url}/v1/stations/{s}/batches", json=batch_to_json(b),
                         headers={"Authorization": f"Bearer {tokens[s]}"})

    def send(s: str, todo: list[Batch], answers: dict[str, list[httpx.Response]]) -> None:
        with httpx.Client(timeout=30) as http:
            for b in todo:
                r = post(http, s, b)
                answers.setdefault(s, []).append(r)
                if r.status_code != 200:
                    errors.append(f"{s} {b.first_seq}: {r.status_code} {r.text}")

    def run_all(todo: dict[str, list[Batch]]) -> dict[str, list[httpx.Response]]:
        answers: dict[str, list[httpx.Response]] = {}
        threads = [threading.Thread(target=send, args=(s, t, answers)) for s, t in todo.items()]
        for t in threads:
            t.start()
        if not release.is_set():  # the writer is held: let every request queue up first
            deadline = time.monotonic() + 20
            while store.writer.queued() < len(todo) and time.monotonic() < deadline:
                time.sleep(0.01)
            release.set()
        for t in threads:
            t.join(60)
        return answers

    server = BackgroundServer(create_app(store, clock=Clock(T0)))
    try:
        release, first = hold(store.writer)
        commits = store.writer.commits
        # every station's first batch, and station G's second one (a gap), queued together
        first_round = {s: [batches[s][0]] for s in stations} | {"G": [batches["G"][1]]}
        answers = run_all(first_round)
        first.result(10)
        assert store.writer.commits == commits + 2  # the holding write; then one for all
        assert [answers[s][0].json()["high_water_mark"] for s in stations] == [20] * 12
        gap = answers["G"][0]
        assert (gap.status_code, gap.json()["expected_seq"]) == (409, 1)
        assert errors == [f"G 21: 409 {gap.text}"]
        errors.clear()
        # then the rest: a replay of the first batch, then the new ones, all stations at once
        run_all({s: batches[s] for s in stations})
        assert errors == []
    finally:
        server.stop()
    try:
        assert {s: store.high_water_mark(s) for s in stations} == dict.fromkeys(stations, 60)
        assert store.high_water_mark("G") == 0
        held = [(r.record.station_id, r.record.seq) for r in store.records()]
        assert held == [(s, q) for s in stations for q in range(1, 61)]
    finally:
        store.close()


@pytest.mark.slow
def test_sigkill_under_concurrent_load_loses_nothing_acknowledged(
    tmp_path: Path, make_record: MakeRecord
) -> None:
    db = tmp_path / "hub.sqlite"
    stations = [f"K{i}" for i in range(6)]
    tokens = {s: create_token(db, s) for s in stations}
    batches = {s: station_batches(tmp_path, s, make_record, 2000, 50) for s in stations}
    acked: dict[str, int] = dict.fromkeys(stations, 0)
    hub = HubProcess(db)

    errors: list[str] = []

    def upload(s: str) -> None:
        with httpx.Client(timeout=30) as http:
            for b in batches[s]:
                try:
                    r = http.post(f"{hub.url}/v1/stations/{s}/batches", json=batch_to_json(b),
                                  headers={"Authorization": f"Bearer {tokens[s]}"})
                except httpx.HTTPError:
                    return
                if r.status_code != 200:
                    errors.append(f"{s}: {r.status_code} {r.text}")
                    return
                acked[s] = r.json()["high_water_mark"]

    threads = [threading.Thread(target=upload, args=(s,)) for s in stations]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while sum(acked.values()) < 1500 and time.monotonic() < deadline:
        time.sleep(0.005)
    hub.proc.kill()
    for t in threads:
        t.join(30)
    hub.finish()
    assert errors == []
    assert 0 < sum(acked.values()) < 6 * 2000  # killed mid-way, after some answers
    store = SqliteHubStore(db, create=False)
    try:
        for s in stations:
            hwm = store.high_water_mark(s)
            assert hwm >= acked[s]  # every acknowledged batch survived the kill
            assert hwm % 50 == 0  # and no batch is there in part
        seqs: dict[str, list[int]] = {}
        for rec in store.records():
            seqs.setdefault(rec.record.station_id, []).append(rec.record.seq)
        for s in stations:
            assert seqs.get(s, []) == list(range(1, store.high_water_mark(s) + 1))
    finally:
        store.close()
