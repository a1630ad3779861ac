"""The hub's HTTP API as a Starlette (ASGI) application: :func:`create_app`.

Contract (``docs/hub.md``, ``GET /openapi.json``):
- Every ``/v1/stations/{station_id}/...`` route needs ``Authorization: Bearer <token>``;
  401 without a valid token, 403 when the token belongs to another station.
- ``POST .../batches``: 400 for a body that is not JSON (with line, column, byte offset),
  422 for a batch that does not validate (with the JSON path), 409 for a sequence gap
  (``expected_seq``) or a replayed seq holding a different record; otherwise the batch is
  stored in one transaction and the answer is ``{"high_water_mark": n, ...}``. A rejected
  batch stores nothing.
- Error bodies are ``{"error": <code>, "detail": <text>, ...}``. Store calls run in the
  thread pool; the clock is injected (``clock()`` returns an aware datetime).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import StorageError
from .openapi import openapi_document
from .store import HubStore, SequenceConflictError, SequenceGapError
from .tokens import hash_token, parse_bearer
from .wire import MalformedBatchError, parse_agent_status, parse_batch, parse_device_status

MAX_BODY = 32 * 1024 * 1024
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def error(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": code, "detail": detail, **extra}, status, headers=headers)


class _Reject(Exception):  # noqa: N818 - internal control flow, carries a response
    def __init__(self, response: Response) -> None:
        self.response = response


def create_app(store: HubStore, *, clock: Clock = utc_now) -> Starlette:
    """The hub application over ``store`` (module contract)."""

    async def authorize(request: Request) -> str:
        token = parse_bearer(request.headers.get("authorization"))
        if token is None:
            raise _Reject(error(401, "unauthorized", "missing bearer token"))
        station = await run_in_threadpool(store.station_for_token, hash_token(token))
        if station is None:
            raise _Reject(error(401, "unauthorized", "unknown or revoked token"))
        wanted = request.path_params["station_id"]
        if station != wanted:
            raise _Reject(error(403, "forbidden", f"this token may not act for station {wanted}"))
        return station

    async def body_json(request: Request) -> object:
        body = await request.body()
        if len(body) > MAX_BODY:
            raise _Reject(error(413, "too_large", f"body larger than {MAX_BODY} bytes"))
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Reject(error(400, "malformed_json",
                                f"body is not UTF-8 (byte offset {exc.start})")) from exc
        try:
            # fractions stay exact Decimals, so validation names them (money is integer fen)
            return json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise _Reject(error(
                400, "malformed_json",
                f"{exc.msg} at line {exc.lineno} column {exc.colno} (char offset {exc.pos})",
            )) from exc

    def guarded(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except _Reject as exc:
                return exc.response
            except MalformedBatchError as exc:
                return error(422, "invalid_batch", str(exc), path=exc.path)
            except StorageError as exc:
                return error(503, "storage_unavailable", str(exc))

        return endpoint

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def high_water_mark(request: Request) -> Response:
        station = await authorize(request)
        await run_in_threadpool(store.touch, station, clock())
        hwm = await run_in_threadpool(store.high_water_mark, station)
        return JSONResponse({"station_id": station, "high_water_mark": hwm})

    async def batches(request: Request) -> Response:
        station = await authorize(request)
        batch = parse_batch(await body_json(request), station)
        try:
            result = await run_in_threadpool(store.ingest, batch, clock())
        except SequenceGapError as exc:
            return error(409, "sequence_gap", str(exc), expected_seq=exc.expected,
                         high_water_mark=exc.expected - 1)
        except SequenceConflictError as exc:
            return error(409, "sequence_conflict", str(exc), seq=exc.seq)
        return JSONResponse({
            "high_water_mark": result.high_water_mark, "accepted": result.accepted,
            "replayed": result.replayed, "duplicates": result.duplicates, "late": result.late,
        })

    async def device_status(request: Request) -> Response:
        station = await authorize(request)
        snapshots = parse_device_status(await body_json(request))
        now = clock()
        stored = await run_in_threadpool(store.add_device_status, station, snapshots, now)
        await run_in_threadpool(store.touch, station, now)
        return JSONResponse({"stored": stored})

    async def agent_status(request: Request) -> Response:
        station = await authorize(request)
        status = parse_agent_status(await body_json(request))
        now = clock()
        await run_in_threadpool(store.set_agent_status, station, status, now)
        await run_in_threadpool(store.touch, station, now)
        return JSONResponse({"stored": True})

    routes = [
        Route("/v1/health", guarded(health), methods=["GET"]),
        Route("/openapi.json", guarded(openapi), methods=["GET"]),
        Route("/v1/stations/{station_id}/high-water-mark", guarded(high_water_mark),
              methods=["GET"]),
        Route("/v1/stations/{station_id}/batches", guarded(batches), methods=["POST"]),
        Route("/v1/stations/{station_id}/device-status", guarded(device_status),
              methods=["POST"]),
        Route("/v1/stations/{station_id}/agent-status", guarded(agent_status), methods=["POST"]),
    ]
    return Starlette(routes=routes)
