"""Hub ingest over real HTTP: replays, gaps, conflicts, malformed batches, auth."""

from __future__ import annotations

import copy
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hub_fixtures import T0, Hub, MakeRecord

from stationlink.buffer import Buffer
from stationlink.hub.tokens import hash_token
from stationlink.hub.wire import batch_to_json


def batch_json(buf: Buffer, limit: int = 100) -> dict[str, Any]:
    batch = buf.next_batch(limit)
    assert batch is not None
    return batch_to_json(batch)


def post(http: httpx.Client, hub: Hub, body: Any, station: str = "S1",
         acting_as: str = "S1") -> httpx.Response:
    return http.post(f"{hub.url}/v1/stations/{station}/batches", json=body,
                     headers=hub.headers(acting_as))


def accepted_copy(http: httpx.Client, hub: Hub, buf: Buffer, limit: int) -> dict[str, Any]:
    """The batch of ``buf``'s first ``limit`` records, posted and accepted (200): a copy of its
    body, to alter and post again."""
    body = batch_json(buf, limit)
    assert post(http, hub, body).status_code == 200
    return copy.deepcopy(body)


def held(hub: Hub) -> list[tuple[Any, ...]]:
    return hub.sql("SELECT station_id, seq, ident FROM records ORDER BY station_id, seq")


@pytest.fixture
def filled(buf: Buffer, make_record: MakeRecord) -> Buffer:
    buf.record_journal_page("T1", [make_record(i) for i in range(1, 6)], T0)
    return buf


def test_batch_then_replay_and_overlap(hub: Hub, http: httpx.Client, filled: Buffer) -> None:
    first = batch_json(filled, 3)
    r = post(http, hub, first)
    assert r.status_code == 200, r.text
    assert r.json() == {"high_water_mark": 3, "accepted": 3, "replayed": 0, "duplicates": 0,
                        "late": 0}
    again = post(http, hub, first)
    assert again.json()["high_water_mark"] == 3
    assert again.json()["replayed"] == 3
    overlap = batch_json(filled, 5)  # seqs 1..5, hub holds 1..3
    r = post(http, hub, overlap)
    assert r.json() == {"high_water_mark": 5, "accepted": 2, "replayed": 3, "duplicates": 0,
                        "late": 0}
    assert [s for _, s, _ in held(hub)] == [1, 2, 3, 4, 5]
    r = http.get(f"{hub.url}/v1/stations/S1/high-water-mark", headers=hub.headers())
    assert r.json() == {"station_id": "S1", "high_water_mark": 5}


def test_gap_is_409_with_expected_seq(hub: Hub, http: httpx.Client, filled: Buffer) -> None:
    filled.mark_synced(2)
    r = post(http, hub, batch_json(filled))
    assert r.status_code == 409
    assert r.json()["error"] == "sequence_gap"
    assert r.json()["expected_seq"] == 1
    assert held(hub) == []


def test_replayed_seq_with_other_record_is_conflict(
    hub: Hub, http: httpx.Client, filled: Buffer
) -> None:
    forged = accepted_copy(http, hub, filled, 2)
    forged["records"][1]["terminal_ref"] = "R-OTHER"
    r = post(http, hub, forged)
    assert r.status_code == 409
    assert r.json()["error"] == "sequence_conflict"
    assert r.json()["seq"] == 2


def test_same_identity_under_new_seq_is_kept_as_duplicate(
    hub: Hub, http: httpx.Client, filled: Buffer
) -> None:
    repeat = accepted_copy(http, hub, filled, 1)
    repeat["first_seq"] = repeat["last_seq"] = repeat["records"][0]["seq"] = 2
    r = post(http, hub, repeat)
    assert r.json()["duplicates"] == 1
    assert r.json()["high_water_mark"] == 2
    from stationlink.hub.export import hub_transactions

    assert len(list(hub_transactions(hub.path))) == 1


@pytest.mark.parametrize(
    ("mutate", "path", "reason"),
    [
        (lambda b: b["records"][1].__setitem__("amount_fen", 50.5), "records[1].amount_fen",
         "expected an integer, got the fractional number 50.5"),
        (lambda b: b["records"][0].__setitem__("amount_fen", True), "records[0].amount_fen",
         "expected an integer, got a boolean"),
        (lambda b: b["records"][2].pop("kind"), "records[2].kind", "missing field"),
        (lambda b: b["records"][0].__setitem__("color", "red"), "records[0].color",
         "unexpected field"),
        (lambda b: b["records"][1].__setitem__("wall_time", "2026-10-05T09:00:00"),
         "records[1].wall_time", "time without a UTC offset"),
        (lambda b: b["records"][1].__setitem__("seq", 7), "records[1].seq",
         "expected 2 (gap-free from first_seq), got 7"),
        (lambda b: b.__setitem__("last_seq", 4), "records", "3 records for seq 1..4"),
        (lambda b: b["records"][2].__setitem__("card_token", "6228480012345678"),
         "records[2].card_token", "looks like a full card number"),
        (lambda b: b["records"][0].__setitem__("status", "maybe"), "records[0].status",
         "unknown status 'maybe'"),
        (lambda b: b.__setitem__("station_id", "S2"), "station_id",
         "'S2' does not match the URL's 'S1'"),
    ],
)
def test_malformed_batch_rejected_whole_with_path(
    hub: Hub, http: httpx.Client, filled: Buffer, mutate: Any, path: str, reason: str
) -> None:
    body = batch_json(filled, 3)
    mutate(body)
    r = post(http, hub, body)
    assert r.status_code == 422, r.text
    assert r.json()["path"] == path
    assert reason in r.json()["detail"]
    assert held(hub) == []


def test_not_json_is_400_with_offset(hub: Hub, http: httpx.Client) -> None:
    r = http.post(f"{hub.url}/v1/stations/S1/batches", content=b'{"station_id": "S1",,}',
                  headers=hub.headers())
    assert r.status_code == 400
    assert r.json()["detail"] == (
        "Expecting property name enclosed in double quotes at line 1 column 21 (char offset 20)")
    r = http.post(f"{hub.url}/v1/stations/S1/batches", content=b'{"a": "\xff"}',
                  headers=hub.headers())
    assert r.status_code == 400
    assert "not UTF-8 (byte offset 7)" in r.json()["detail"]


def test_auth(hub: Hub, http: httpx.Client, filled: Buffer) -> None:
    body = batch_json(filled, 2)
    r = http.post(f"{hub.url}/v1/stations/S1/batches", json=body)
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")
    r = http.post(f"{hub.url}/v1/stations/S1/batches", json=body,
                  headers={"Authorization": "Bearer slh_nope_nope"})
    assert r.status_code == 401
    # station S2's token cannot write S1's records, neither via S1's URL nor its own
    assert post(http, hub, body, station="S1", acting_as="S2").status_code == 403
    r = post(http, hub, body, station="S2", acting_as="S2")
    assert r.status_code == 422
    assert held(hub) == []
    token_id = next(t.token_id for t in hub.store.tokens() if t.station_id == "S1")
    assert hub.store.revoke_token(token_id, T0)
    assert post(http, hub, body).status_code == 401


def test_tokens_are_stored_hashed(hub: Hub) -> None:
    stored = {row[0] for row in hub.sql("SELECT token_hash FROM tokens")}
    assert stored == {hash_token(t) for t in hub.tokens.values()}
    if isinstance(hub.path, Path):  # the SQLite file's bytes, its WAL included
        raw = hub.path.read_bytes() + hub.path.with_name("hub.sqlite-wal").read_bytes()
    else:  # PostgreSQL: everything the tokens table holds
        raw = repr(hub.sql("SELECT * FROM tokens")).encode()
    assert all(t.encode() not in raw for t in hub.tokens.values())


def test_device_and_agent_status(hub: Hub, http: httpx.Client) -> None:
    snap = {"terminal_id": "T1", "wall_time": T0.isoformat(), "paper_ok": False,
            "error_counters": {"crc_errors": 2}, "signal_dbm": -80, "uptime_ms": 5,
            "boot_id": 3, "terminal_time": T0.isoformat(), "journal_unacked": 7}
    r = http.post(f"{hub.url}/v1/stations/S1/device-status", json={"snapshots": [snap]},
                  headers=hub.headers())
    assert r.json() == {"stored": 1}
    bad = dict(snap, paper_ok="no")
    r = http.post(f"{hub.url}/v1/stations/S1/device-status", json={"snapshots": [bad]},
                  headers=hub.headers())
    assert (r.status_code, r.json()["path"]) == (422, "snapshots[0].paper_ok")
    status = {"backlog": 12, "oldest_unsynced": T0.isoformat(), "quarantined_records": 0,
              "unresolved_unknown": 1, "version": "0.1.0"}
    r = http.post(f"{hub.url}/v1/stations/S1/agent-status", json=status, headers=hub.headers())
    assert r.status_code == 200
    [s1] = [s for s in hub.store.overview() if s.station_id == "S1"]
    assert s1.agent_status == status
    assert s1.devices == [snap]
    assert s1.last_contact == hub.clock()


def test_big_batch_stores_what_one_record_batches_store(
    tmp_path: Path, buf: Buffer, make_record: MakeRecord
) -> None:
    """A 120-record batch (multi-row inserts, in-batch duplicate identities, reversals,
    a replayed prefix) against the same records sent one per batch: same rows, same answers
    in total."""
    from stationlink.buffer import Batch
    from stationlink.hub.sqlite_store import SqliteHubStore
    from stationlink.protocol import TxnKind

    recs = [make_record(i) for i in range(1, 101)]
    recs += [make_record(100 + i, kind=TxnKind.REVERSAL, original_ref=f"R{i:011d}")
             for i in range(1, 11)]
    buf.record_journal_page("T1", recs, T0)
    stored = list(buf.records(0, 1000))
    # identities the hub already holds, under new seqs (a replaced buffer would do this)
    stored += [r._replace(seq=111 + i) for i, r in enumerate(stored[20:40])]
    assert len(stored) == 130
    now = T0 + timedelta(days=1)

    def dump(path: Path) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(path)
        try:
            return conn.execute("SELECT * FROM records ORDER BY seq").fetchall()
        finally:
            conn.close()

    whole, single = SqliteHubStore(tmp_path / "a.sqlite"), SqliteHubStore(tmp_path / "b.sqlite")
    try:
        head = Batch("S1", 1, 30, tuple(stored[:30]))
        first = whole.ingest(head, now)
        rest = whole.ingest(Batch("S1", 1, stored[-1].seq, tuple(stored)), now)  # overlap
        assert (first.accepted, rest.accepted, rest.replayed) == (30, len(stored) - 30, 30)
        results = [single.ingest(Batch("S1", r.seq, r.seq, (r,)), now) for r in stored]
        assert first.duplicates + rest.duplicates == sum(r.duplicates for r in results) == 20
        assert first.late + rest.late == sum(r.late for r in results)
    finally:
        whole.close()
        single.close()
    assert dump(tmp_path / "a.sqlite") == dump(tmp_path / "b.sqlite")
