"""HubClient error mapping against real HTTP servers, and the Backoff helper."""

from __future__ import annotations

import random
import socket
from datetime import UTC, datetime

import httpx
import pytest
from hub_fixtures import T0, Hub, MakeRecord
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from stationlink.agent.backoff import Backoff
from stationlink.buffer import Buffer
from stationlink.errors import ConfigError, HubGapError, HubRejectedError, HubUnavailableError
from stationlink.hub.client import HubClient, parse_retry_after
from stationlink.hub.server import BackgroundServer

NOW = datetime(2026, 10, 5, 1, 0, tzinfo=UTC)


def canned_app(status: int, headers: dict[str, str], body: str) -> Starlette:
    async def answer(request: Request) -> Response:
        return PlainTextResponse(body, status, headers=headers)

    async def json_answer(request: Request) -> Response:
        return JSONResponse({"error": "x", "detail": body}, status, headers=headers)

    return Starlette(routes=[
        Route("/v1/stations/S1/high-water-mark", answer, methods=["GET"]),
        Route("/v1/stations/S1/batches", json_answer, methods=["POST"]),
    ])


def test_retry_after_forms() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after("Mon, 05 Oct 2026 01:00:30 GMT", NOW) == 30.0
    assert parse_retry_after("Mon, 05 Oct 2026 00:59:00 GMT", NOW) == 0.0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


@pytest.mark.parametrize("status", [429, 500, 501, 502, 503, 504, 599])
def test_retryable_statuses(status: int) -> None:
    app = canned_app(status, {"Retry-After": "Mon, 05 Oct 2026 01:00:07 GMT"}, "busy")
    with BackgroundServer(app) as server, HubClient(
        server.url, "t", station_id="S1", clock=lambda: NOW
    ) as client:
        with pytest.raises(HubUnavailableError) as info:
            client.high_water_mark()
    assert info.value.retry_after == 7.0
    assert f"HTTP {status}: busy" in str(info.value)


@pytest.mark.parametrize("status", [400, 401, 404, 409, 413, 422])
def test_other_errors_are_rejections_with_reason(status: int, buf: Buffer,
                                                 make_record: MakeRecord) -> None:
    buf.record_result("T1", make_record(1), T0)
    batch = buf.next_batch()
    assert batch is not None
    with BackgroundServer(canned_app(status, {}, "records[0].kind: bad")) as server, HubClient(
        server.url, "t", station_id="S1"
    ) as client:
        with pytest.raises(HubRejectedError) as info:
            client.upload(batch)
    assert info.value.status == status
    assert str(info.value).endswith(f"HTTP {status}: records[0].kind: bad")


def test_network_error_is_unavailable() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with HubClient(f"http://127.0.0.1:{port}", "t", station_id="S1") as client:
        with pytest.raises(HubUnavailableError, match="ConnectError") as info:
            client.high_water_mark()
    assert info.value.retry_after is None


def test_gap_and_success_against_real_hub(hub: Hub, buf: Buffer, make_record: MakeRecord) -> None:
    buf.record_journal_page("T1", [make_record(i) for i in range(1, 5)], T0)
    with httpx.Client() as http:
        client = HubClient(hub.url, hub.tokens["S1"], station_id="S1", http_client=http)
        buf.mark_synced(2)
        batch = buf.next_batch()
        assert batch is not None
        with pytest.raises(HubGapError) as info:
            client.upload(batch)
        assert info.value.expected_seq == 1
        assert client.high_water_mark() == 0
        wrong = HubClient(hub.url, hub.tokens["S2"], station_id="S1", http_client=http)
        with pytest.raises(HubRejectedError) as denied:
            wrong.high_water_mark()
        assert denied.value.status == 403
        client.close()  # a passed-in client stays open
        assert not http.is_closed


def test_backoff_full_jitter_cap_and_retry_after() -> None:
    rng_a, rng_b = random.Random(7), random.Random(7)
    a = Backoff(rng_a, base=1.0, cap=8.0)
    ceilings = []
    delays = []
    for _ in range(6):
        ceilings.append(a.ceiling())
        delays.append(a.next_delay())
    assert ceilings == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert all(0.0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    expected = [rng_b.uniform(0.0, c) for c in ceilings]
    assert delays == expected
    assert a.next_delay(retry_after=30.0) == 30.0
    capped = Backoff(random.Random(1), max_retry_after=10.0)
    assert capped.next_delay(retry_after=500.0) == 10.0
    a.reset()
    assert a.ceiling() == 1.0
    with pytest.raises(ConfigError):
        Backoff(random.Random(1), base=5.0, cap=1.0)
