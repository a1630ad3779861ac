"""Upload policy against a real HTTP hub whose answers a test scripts: retry only what is
retryable (honouring Retry-After, with jittered backoff), isolate and quarantine a rejected
record, never drop it, re-send to a hub that lost records."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from agent_fixtures import Hub
from click.testing import CliRunner
from starlette.responses import JSONResponse

from stationlink.agent import ManualClock
from stationlink.agent.config import UploadSettings
from stationlink.agent.uploader import Uploader
from stationlink.buffer import Buffer
from stationlink.cli.main import cli
from stationlink.hub.app import create_app
from stationlink.hub.client import HubClient
from stationlink.hub.server import BackgroundServer
from stationlink.hub.sqlite_store import SqliteHubStore
from stationlink.hub.tokens import hash_token, new_token
from stationlink.money import CST
from stationlink.protocol import JournalRecord, ResultCode, TxnKind, TxnStatus

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=CST)
Scope = dict[str, Any]


class ScriptedHub(Hub):
    """The real hub app behind an ASGI wrapper that can answer batch uploads itself."""

    def __init__(self, path: Path) -> None:
        self.script: list[tuple[int, dict[str, str]]] = []  # answers for the next uploads
        self.reject_seq: int | None = None  # 422 for any batch holding this seq
        self.seen: list[tuple[int, int, int]] = []  # (first, last, status answered)
        super().__init__(path)

    def served(self) -> Any:
        return self

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/batches"):
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        doc = json.loads(body)
        first, last = doc["first_seq"], doc["last_seq"]
        answer: JSONResponse | None = None
        if self.script:
            status, headers = self.script.pop(0)
            answer = JSONResponse({"detail": "scripted"}, status, headers=headers)
        elif self.reject_seq is not None and first <= self.reject_seq <= last:
            answer = JSONResponse({"detail": f"records[{self.reject_seq - first}].kind: bad"},
                                  422)
        if answer is not None:
            self.seen.append((first, last, answer.status_code))
            await answer(scope, receive, send)
            return
        self.seen.append((first, last, 200))
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


@pytest.fixture
def scripted(tmp_path: Path) -> Iterator[ScriptedHub]:
    hub = ScriptedHub(tmp_path / "hub.sqlite")
    yield hub
    hub.close()


def fill(path: Path, n: int) -> Buffer:
    buf = Buffer.open(path, "S1")
    recs = [JournalRecord(i, f"0001{i:08d}", "", TxnKind.BILL_PAYMENT, "mobile", "13800000000",
                          1000 + i, TxnStatus.APPROVED, ResultCode.APPROVED,
                          T0 + timedelta(minutes=i), 60_000 * i, 1, None, "")
            for i in range(1, n + 1)]
    buf.record_journal_page("T1", recs, T0)
    return buf


def uploader(hub: ScriptedHub, clock: ManualClock, seed: int = 1, **settings: Any
             ) -> tuple[Uploader, HubClient]:
    client = HubClient(hub.url, hub.token, station_id="S1", timeout=5)
    opts: dict[str, Any] = {"batch_size": 8, "backoff_base": 1.0, "backoff_cap": 30.0,
                            "status_interval": 3600.0} | settings
    return Uploader(client, UploadSettings(**opts), rng=random.Random(seed), clock=clock), client


@pytest.mark.parametrize("status", [429, 500, 501, 502, 503, 504, 599])
def test_retryable_answers_are_retried_after_backoff_honouring_retry_after(
    scripted: ScriptedHub, tmp_path: Path, status: int
) -> None:
    clock = ManualClock(T0)
    up, client = uploader(scripted, clock)
    with fill(tmp_path / "b.sqlite", 20) as buf, client:
        scripted.script = [(status, {"Retry-After": "7"}), (status, {})]
        first = up.step(buf)
        assert first.waiting
        assert first.uploaded == 0
        wait1 = up.next_attempt - clock.monotonic()
        assert 7.0 <= wait1 <= 30.0
        assert up.step(buf).waiting  # not yet due: no request
        assert len(scripted.seen) == 1
        clock.advance(wait1)
        second = up.step(buf)  # the second scripted failure, no Retry-After: jitter only
        assert second.waiting
        wait2 = up.next_attempt - clock.monotonic()
        assert 0.0 <= wait2 <= 2.0  # attempt 1: uniform in [0, base * 2]
        clock.advance(wait2)
        done = up.step(buf)
        assert done.uploaded == 20
        assert buf.synced_upto() == 20
    assert [s for *_, s in scripted.seen] == [status, status, 200, 200, 200]


def test_backoff_jitter_comes_from_the_seed(scripted: ScriptedHub, tmp_path: Path) -> None:
    waits: list[list[float]] = []
    for seed in (11, 11, 12):
        clock = ManualClock(T0)
        up, client = uploader(scripted, clock, seed=seed)
        with fill(tmp_path / f"b{len(waits)}.sqlite", 3) as buf, client:
            scripted.script = [(503, {})] * 4
            row = []
            for _ in range(4):
                up.step(buf)
                row.append(up.next_attempt - clock.monotonic())
                clock.advance(row[-1])
            waits.append(row)
        scripted.script = []
    assert waits[0] == waits[1]
    assert waits[0] != waits[2]
    assert all(w <= 1.0 * 2**i for i, w in enumerate(waits[0]))


@pytest.mark.parametrize("status", [400, 401, 403, 409, 413, 422])
def test_other_rejections_are_never_retried_as_is(
    scripted: ScriptedHub, tmp_path: Path, status: int
) -> None:
    clock = ManualClock(T0)
    up, client = uploader(scripted, clock, batch_size=4)
    with fill(tmp_path / "b.sqlite", 4) as buf, client:
        scripted.script = [(status, {})] * 3  # every attempt fails the same way
        for _ in range(3):
            up.step(buf)
        tried = [(a, b) for a, b, _ in scripted.seen]
        assert tried == [(1, 4), (1, 2), (1, 1)]  # halved, never the same batch twice
        (entry,) = buf.open_quarantine()
        assert (entry.first_seq, entry.last_seq, entry.http_status) == (1, 1, status)
        assert f"HTTP {status}" in entry.reason
        assert up.step(buf).uploaded == 0  # blocked behind the quarantine, nothing dropped
        assert buf.last_seq() == 4


def test_a_bad_record_is_isolated_quarantined_shown_and_released(
    scripted: ScriptedHub, tmp_path: Path
) -> None:
    clock = ManualClock(T0)
    up, client = uploader(scripted, clock)
    scripted.reject_seq = 5
    data = tmp_path / "data"
    with fill(data / "buffer.sqlite", 12) as buf, client:
        up.step(buf)
        assert buf.synced_upto() == 4
        (entry,) = buf.open_quarantine()
        assert (entry.first_seq, entry.last_seq, entry.http_status) == (5, 5, 422)
        assert "records[0].kind: bad" in entry.reason
        assert [(a, b) for a, b, _ in scripted.seen] == [(1, 8), (1, 4), (5, 8), (5, 6), (5, 5)]
        config = tmp_path / "agent.toml"
        config.write_text(
            f'station_id = "S1"\ncard_key = "{"00" * 16}"\ndata_dir = "data"\n'
            f'[hub]\nurl = "{scripted.url}"\ntoken = "x"\n'
            '[[terminals]]\nurl = "tcp://127.0.0.1:9"\n', encoding="utf-8")
        shown = CliRunner().invoke(cli, ["agent", "status", "--config", str(config), "--lang",
                                         "en"])
        assert shown.exit_code == 0, shown.output
        assert "quarantine: 1 batch(es), 1 record(s)" in shown.output
        assert f"  entry {entry.id}: seq 5..5 HTTP 422: " in shown.output
        assert "records 12, synced up to 4, backlog 8" in shown.output
        as_json = CliRunner().invoke(cli, ["agent", "status", "--config", str(config), "--json"])
        doc = json.loads(as_json.output)
        assert doc["quarantined_records"] == 1
        assert doc["backlog"] == 8
        scripted.reject_seq = None  # the cause is fixed at the hub
        released = CliRunner().invoke(cli, ["agent", "release", "--config", str(config),
                                            str(entry.id)])
        assert released.exit_code == 0, released.output
        again = CliRunner().invoke(cli, ["agent", "release", "--config", str(config),
                                         str(entry.id)])
        assert again.exit_code == 1
        assert f"no open quarantine entry {entry.id}" in again.output
        up.step(buf)
        assert buf.synced_upto() == 12
    assert scripted.store.high_water_mark("S1") == 12


def test_a_hub_that_lost_records_gets_them_again(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    with fill(tmp_path / "b.sqlite", 30) as buf:
        first = ScriptedHub(tmp_path / "hub1.sqlite")
        try:
            up, client = uploader(first, clock)
            with client:
                up.step(buf)
        finally:
            first.close()
        assert buf.synced_upto() == 30
        restored = ScriptedHub(tmp_path / "hub2.sqlite")  # an empty hub: a lost store
        try:
            up, client = uploader(restored, clock)
            with client:
                buf.record_journal_page("T1", [JournalRecord(
                    31, "000100000031", "", TxnKind.BILL_PAYMENT, "water", "12345678", 777,
                    TxnStatus.APPROVED, ResultCode.APPROVED, T0, 1, 1, None, "")], T0)
                up.step(buf, max_batches=50)
                # 31..31 answered 409 sequence_gap (expected 1); then 1.. again
                assert [s[:2] for s in restored.seen[:3]] == [(31, 31), (1, 8), (9, 16)]
            assert restored.store.high_water_mark("S1") == 31
        finally:
            restored.close()


class FailingOnce(SqliteHubStore):
    """The real store, whose first ingest fails the way a hub bug would (an unexpected
    exception: the hub answers a generic 500)."""

    failures = 1

    def ingest(self, batch: Any, now: datetime) -> Any:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("hub bug")
        return super().ingest(batch, now)


def test_a_hub_server_error_is_retried_never_quarantined(tmp_path: Path) -> None:
    """Regression: a 500 used to quarantine the record and stop the station's uploads."""
    store = FailingOnce(tmp_path / "hub.sqlite")
    token_id, token = new_token()
    store.add_token(token_id, "S1", hash_token(token), datetime(2026, 10, 1, tzinfo=UTC))
    clock = ManualClock(T0)
    try:
        with BackgroundServer(create_app(store)) as server, \
                fill(tmp_path / "b.sqlite", 10) as buf, \
                HubClient(server.url, token, station_id="S1", timeout=5) as client:
            up = Uploader(client, UploadSettings(batch_size=8, backoff_base=1.0,
                                                 backoff_cap=30.0, status_interval=3600.0),
                          rng=random.Random(3), clock=clock)
            first = up.step(buf)
            assert first.waiting
            assert first.quarantined == 0
            assert buf.open_quarantine() == []
            assert up.limit == 8  # not halving: nothing is being isolated
            clock.advance(up.next_attempt - clock.monotonic())
            done = up.step(buf)
            assert done.uploaded == 10
            assert buf.synced_upto() == 10
            assert buf.open_quarantine() == []
        assert store.high_water_mark("S1") == 10
    finally:
        store.close()
