"""The hub's HTTP edges on a real server: bodies refused while they stream in, per-station
rate limits (429 + Retry-After), store failures and unexpected errors answered without
internals, and a client's odd body never answered 500."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hub_fixtures import T0, Clock, Hub, MakeRecord

from stationlink.buffer import Buffer
from stationlink.errors import ConfigError, HubUnavailableError
from stationlink.hub.app import create_app
from stationlink.hub.client import HubClient
from stationlink.hub.ratelimit import RateLimiter, parse_rate, retry_after_seconds
from stationlink.hub.server import BackgroundServer
from stationlink.hub.sqlite_store import SqliteHubStore
from stationlink.hub.stores import describe
from stationlink.hub.tokens import hash_token, new_token
from stationlink.hub.wire import batch_to_json

Scope = dict[str, Any]
LIMIT = 256 * 1024
CHUNK = 64 * 1024


class Counting:
    """ASGI wrapper counting the body bytes the app actually took from the server."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.received = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        async def counted() -> dict[str, Any]:
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


class Monotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class LimitedHub(Hub):
    """The fixtures' real hub with a small body limit, an injected-clock rate limiter and
    the body bytes the app took counted (``app.received``)."""

    def __init__(self, path: Path, clock: Clock, rate: float = 2.0, burst: float = 2.0) -> None:
        self.mono = Monotonic()
        self.limiter = RateLimiter(rate, burst, clock=self.mono)
        super().__init__(path, clock)

    def make_app(self, store: SqliteHubStore, clock: Clock) -> Counting:
        self.app = Counting(create_app(store, clock=clock, max_body=LIMIT,
                                       rate_limiter=self.limiter))
        return self.app


@pytest.fixture
def limited(tmp_path: Path, clock: Clock) -> Iterator[LimitedHub]:
    h = LimitedHub(tmp_path / "hub.sqlite", clock, rate=1000.0, burst=1000.0)
    yield h
    h.close()


def test_a_streamed_body_past_the_limit_is_413_without_reading_it_all(
    limited: LimitedHub
) -> None:
    total = 64 * 1024 * 1024
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        block = b"x" * CHUNK
        while sent < total:
            sent += len(block)
            yield block

    with httpx.Client(timeout=30) as http:
        r = http.post(f"{limited.url}/v1/stations/S1/batches", content=chunks(),
                      headers=limited.headers())
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "too_large"
    # the app stopped reading just past the limit (one more chunk as the server read it
    # from the socket: up to a few hundred KiB), not after 64 MiB
    assert LIMIT < limited.app.received <= LIMIT + 1024 * 1024
    assert sent < total


def test_a_declared_content_length_past_the_limit_is_413_before_any_read(
    limited: LimitedHub
) -> None:
    with httpx.Client(timeout=30) as http:
        r = http.post(f"{limited.url}/v1/stations/S1/device-status",
                      content=b"{" + b" " * LIMIT + b"}", headers=limited.headers())
    assert r.status_code == 413
    assert limited.app.received == 0


def test_a_body_within_the_limit_is_read_whole(limited: LimitedHub) -> None:
    body = b'{"snapshots": []}' + b" " * (LIMIT - 100)
    with httpx.Client(timeout=30) as http:
        r = http.post(f"{limited.url}/v1/stations/S1/device-status", content=body,
                      headers=limited.headers())
    assert r.status_code == 200, r.text
    assert limited.app.received == len(body)


def test_rate_limit_per_station_answers_429_with_retry_after(
    tmp_path: Path, clock: Clock
) -> None:
    hub = LimitedHub(tmp_path / "hub.sqlite", clock, rate=2.0, burst=2.0)
    try:
        with httpx.Client(timeout=10) as http:
            def hwm(station: str = "S1") -> httpx.Response:
                return http.get(f"{hub.url}/v1/stations/{station}/high-water-mark",
                                headers=hub.headers(station))

            assert [hwm().status_code for _ in range(2)] == [200, 200]
            r = hwm()
            assert r.status_code == 429
            assert r.headers["retry-after"] == "1"
            assert r.json()["error"] == "rate_limited"
            assert r.json()["retry_after"] == 1
            assert hwm("S2").status_code == 200  # another station has its own bucket
            hub.mono.t += 0.49
            assert hwm().status_code == 429  # 0.98 of a token
            hub.mono.t += 0.02
            assert hwm().status_code == 200
            # unauthenticated requests never touch (or fill) a station's bucket
            assert http.get(f"{hub.url}/v1/stations/S1/high-water-mark").status_code == 401
        # the agent's client sees 429 as "retry later", with the hub's Retry-After
        with HubClient(hub.url, hub.tokens["S1"], station_id="S1") as client:
            with pytest.raises(HubUnavailableError) as info:
                client.high_water_mark()
        assert info.value.retry_after == 1.0
    finally:
        hub.close()


def test_rate_limiter_bucket_arithmetic() -> None:
    mono = Monotonic()
    lim = RateLimiter(10.0, clock=mono)  # burst: 2 seconds' worth
    assert lim.burst == 20.0
    assert [lim.acquire("a") for _ in range(20)] == [0.0] * 20
    assert lim.acquire("a") == pytest.approx(0.1)
    mono.t += 0.1
    assert lim.acquire("a") == 0.0
    mono.t += 1000.0  # refills only up to the burst
    assert sum(lim.acquire("a") == 0.0 for _ in range(25)) == 20
    assert retry_after_seconds(0.01) == 1
    assert retry_after_seconds(1.2) == 2


@pytest.mark.parametrize(("text", "per_second"),
                         [("100/s", 100.0), ("600/min", 10.0), ("0.5/s", 0.5), ("off", None)])
def test_parse_rate(text: str, per_second: float | None) -> None:
    assert parse_rate(text) == per_second


@pytest.mark.parametrize("text", ["100", "x/s", "-1/s", "5/h", "nan/s", "inf/s"])
def test_parse_rate_refuses(text: str) -> None:
    with pytest.raises(ConfigError, match="--rate-limit"):
        parse_rate(text)


def test_store_failure_is_503_without_paths_or_sqlite_messages(
    hub: Hub, http: httpx.Client, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    buf: Buffer, make_record: MakeRecord,
) -> None:
    buf.record_journal_page("T1", [make_record(1)], T0)
    batch = buf.next_batch(10)
    assert batch is not None
    body = batch_to_json(batch)
    hub.sql("ALTER TABLE records RENAME TO records_elsewhere")
    cause = {"sqlite": "no such table", "postgresql": 'relation "records" does not exist'}
    with caplog.at_level(logging.ERROR, logger="stationlink.hub"):
        r = http.post(f"{hub.url}/v1/stations/S1/batches", json=body, headers=hub.headers())
        conflicts = http.get(f"{hub.url}/v1/conflicts", headers=hub.headers())
    for answer in (r, conflicts):
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "storage_unavailable"
        for secret in (str(tmp_path), "hub.sqlite", cause[hub.kind], "records", "sqlite",
                       "postgres", "Traceback"):
            assert secret not in answer.text
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert cause[hub.kind] in logged  # the operator finds the cause in the hub's log
    assert describe(hub.path) in logged


class _Broken(SqliteHubStore):
    """A store whose reads fail in a way no store should (unit fake for the 500 path)."""

    def high_water_mark(self, station_id: str) -> int:
        raise RuntimeError(f"secret internals at {self.path}")


def test_unexpected_error_is_a_generic_500_logged(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    store = _Broken(tmp_path / "hub.sqlite")
    token_id, token = new_token()
    store.add_token(token_id, "S1", hash_token(token), clock())
    try:
        with BackgroundServer(create_app(store, clock=clock)) as server, \
                caplog.at_level(logging.ERROR, logger="stationlink.hub"):
            r = httpx.get(f"{server.url}/v1/stations/S1/high-water-mark",
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)
    finally:
        store.close()
    assert r.status_code == 500
    assert r.json()["error"] == "internal_error"
    assert "secret" not in r.text
    assert str(tmp_path) not in r.text
    assert any("secret internals" in (rec.exc_text or "") or rec.exc_info
               for rec in caplog.records)


@pytest.mark.parametrize(
    "body",
    [b"[" * 200_000 + b"]" * 200_000,  # nesting deeper than the decoder's recursion
     b'{"snapshots": ' + b"9" * 5000 + b"}"],  # an integer longer than Python converts
)
def test_odd_client_bodies_are_4xx_never_500(hub: Hub, http: httpx.Client, body: bytes
                                             ) -> None:
    for route in ("batches", "device-status", "agent-status"):
        r = http.post(f"{hub.url}/v1/stations/S1/{route}", content=body,
                      headers=hub.headers())
        assert 400 <= r.status_code < 500, (route, r.status_code, r.text[:200])
        assert "Traceback" not in r.text


def test_rate_limit_default_never_throttles_a_catching_up_agent() -> None:
    """An agent after an outage sends 500-record batches back to back; at the sync
    benchmark's one-station rate (~12,800 records/s: ~26 batches/s) plus status reports, a
    minute of catching up stays under the default limit."""
    from stationlink.hub.ratelimit import DEFAULT_RATE

    mono = Monotonic()
    lim = RateLimiter(DEFAULT_RATE, clock=mono)
    refused = 0
    for _ in range(60 * 30):  # 30 requests per second for a minute
        refused += lim.acquire("S1") > 0
        mono.t += 1 / 30
    assert refused == 0


def test_rate_limiter_refuses_a_non_positive_rate() -> None:
    with pytest.raises(ConfigError):
        RateLimiter(0.0)
