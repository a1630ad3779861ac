"""The hub's HTTP API as a Starlette (ASGI) application: :func:`create_app`.

Contract (``docs/hub.md``, ``GET /openapi.json``):
- Every ``/v1/stations/{station_id}/...`` route needs ``Authorization: Bearer <token>``;
  401 without a valid token, 403 when the token belongs to another station.
- ``POST .../batches``: 400 for a body that is not JSON (with line, column, byte offset),
  422 for a batch that does not validate (with the JSON path), 409 for a sequence gap
  (``expected_seq``) or a replayed seq whose record differs from the one held (``seq`` and
  ``fields``, the differing columns, never card values); otherwise the batch is stored in one
  transaction and the answer is ``{"high_water_mark": n, ...}``. A rejected batch stores
  nothing.
- ``GET /v1/conflicts``: the conflicting duplicates of the token's own station
  (:mod:`stationlink.hub.conflicts`); ``?station=`` naming another station is 403.
- Bodies are read as a stream and refused with 413 as soon as they pass ``max_body`` bytes
  (or when ``Content-Length`` announces more): never buffered whole first.
- With a ``rate_limiter``, each authenticated station's requests go through its token bucket
  (:mod:`stationlink.hub.ratelimit`): 429 with ``Retry-After`` when empty.
- Error bodies are ``{"error": <code>, "detail": <text>, ...}`` and never carry internals (file
  paths, SQLite messages, tracebacks): those go to the ``stationlink.hub`` log. A store
  failure is 503 (retry later); anything unexpected while reading or validating the client's
  body is 4xx (it is the body's doing); any other unexpected exception is a generic 500.
- Store calls run in the thread pool; the clock is injected (``clock()`` returns an aware
  datetime).
- The operator console (``/console/...``, ``/v1/console/...``; :mod:`stationlink.hub.console`,
  ``docs/console.md``) is mounted when the store carries its tables; station tokens are
  refused there, and a console session is never accepted on the station routes above.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..clock import WallClock, utc_now
from ..errors import SequenceConflictError, SequenceGapError, StorageError
from .conflicts import conflict_to_json
from .console import ConsoleOptions, console_routes
from .openapi import openapi_document
from .ratelimit import RateLimiter, retry_after_seconds
from .sqlite_store import SqliteHubStore
from .store import HubStore
from .tokens import hash_token, parse_bearer
from .wire import (
    MalformedBatchError,
    MalformedJsonError,
    loads,
    parse_agent_status,
    parse_batch,
    parse_device_status,
)

MAX_BODY = 32 * 1024 * 1024
T = TypeVar("T")
_PATH = "\0path"  # authorize(): the station of the URL path
log = logging.getLogger("stationlink.hub")


def error(status: int, code: str, detail: str, *, headers: dict[str, str] | None = None,
          **extra: Any) -> JSONResponse:
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return JSONResponse({"error": code, "detail": detail, **extra}, status, headers=headers)


class _Reject(Exception):  # noqa: N818 - internal control flow, carries a response
    def __init__(self, response: Response) -> None:
        self.response = response


def create_app(
    store: HubStore, *, clock: WallClock = utc_now, max_body: int = MAX_BODY,
    rate_limiter: RateLimiter | None = None, console: ConsoleOptions | None = None,
) -> Starlette:
    """The hub application over ``store`` (module contract); ``console``: tuning of the
    operator console (:mod:`stationlink.hub.console`), mounted over a store that carries its
    tables."""

    async def authorize(request: Request, wanted: str | None = _PATH) -> str:
        """The token's station; 401/403 unless it may act for ``wanted`` (default: the URL's
        station; ``None``: its own), then its rate limit (429)."""
        token = parse_bearer(request.headers.get("authorization"))
        if token is None:
            raise _Reject(error(401, "unauthorized", "missing bearer token"))
        station = await run_in_threadpool(store.station_for_token, hash_token(token))
        if station is None:
            raise _Reject(error(401, "unauthorized", "unknown or revoked token"))
        if wanted is _PATH:
            wanted = request.path_params["station_id"]
        if wanted is not None and station != wanted:
            raise _Reject(error(403, "forbidden", f"this token may not act for station {wanted}"))
        if rate_limiter is not None:
            wait = rate_limiter.acquire(station)
            if wait > 0:
                after = retry_after_seconds(wait)
                raise _Reject(error(
                    429, "rate_limited",
                    f"too many requests for station {station}; retry after {after} s",
                    headers={"Retry-After": str(after)}, retry_after=after))
        return station

    def too_large() -> _Reject:
        return _Reject(error(413, "too_large", f"body larger than {max_body} bytes",
                             headers={"Connection": "close"}))

    async def read_body(request: Request) -> bytes:
        """The body, counted while it streams in: 413 once past ``max_body``."""
        declared = request.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > max_body:
            raise too_large()
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_body:
                    raise too_large()
                chunks.append(chunk)
        except ClientDisconnect as exc:
            raise _Reject(error(400, "incomplete_body",
                                "the client disconnected before the body ended")) from exc
        return b"".join(chunks)

    async def body_json(request: Request) -> object:
        body = await read_body(request)
        try:
            # not JSON text: 400; beyond a limit (depth, duplicate key, digits): 422 with path
            return loads(body)
        except MalformedJsonError as exc:
            raise _Reject(error(400, "malformed_json", exc.reason)) from exc

    async def parsed(request: Request, parse: Callable[[object], T]) -> T:
        """The body decoded and validated by ``parse``; a fault inside the validator is
        still this body's doing: 422, logged, never a 500."""
        doc = await body_json(request)
        try:
            return parse(doc)
        except MalformedBatchError:
            raise
        except Exception as exc:
            log.exception("validator fault on a body for %s", request.url.path)
            raise _Reject(error(422, "invalid_body",
                                "the body could not be validated")) from exc

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
                log.error("store failure on %s %s: %s", request.method, request.url.path, exc)
                return error(503, "storage_unavailable",
                             "the hub's store is unavailable; retry later")
            except Exception:
                log.exception("unexpected error on %s %s", request.method, request.url.path)
                return error(500, "internal_error",
                             "internal error of the hub; its log has the details")

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
        batch = await parsed(request, lambda doc: parse_batch(doc, station, received=clock()))
        try:
            result = await run_in_threadpool(store.ingest, batch, clock())
        except SequenceGapError as exc:
            return error(409, "sequence_gap", str(exc), expected_seq=exc.expected,
                         high_water_mark=exc.expected - 1)
        except SequenceConflictError as exc:
            return error(409, "sequence_conflict", str(exc), seq=exc.seq,
                         fields=list(exc.fields))
        return JSONResponse({
            "high_water_mark": result.high_water_mark, "accepted": result.accepted,
            "replayed": result.replayed, "duplicates": result.duplicates, "late": result.late,
        })

    async def device_status(request: Request) -> Response:
        station = await authorize(request)
        snapshots = await parsed(request, parse_device_status)
        now = clock()
        stored = await run_in_threadpool(store.add_device_status, station, snapshots, now)
        await run_in_threadpool(store.touch, station, now)
        return JSONResponse({"stored": stored})

    async def agent_status(request: Request) -> Response:
        station = await authorize(request)
        status = await parsed(request, parse_agent_status)
        now = clock()
        await run_in_threadpool(store.set_agent_status, station, status, now)
        await run_in_threadpool(store.touch, station, now)
        return JSONResponse({"stored": True})

    async def conflicts(request: Request) -> Response:
        station = await authorize(request, request.query_params.get("station"))
        items = await run_in_threadpool(store.conflicts, station)
        return JSONResponse({"station_id": station,
                             "conflicts": [conflict_to_json(c) for c in items]})

    routes = [
        Route("/v1/health", guarded(health), methods=["GET"]),
        Route("/openapi.json", guarded(openapi), methods=["GET"]),
        Route("/v1/stations/{station_id}/high-water-mark", guarded(high_water_mark),
              methods=["GET"]),
        Route("/v1/stations/{station_id}/batches", guarded(batches), methods=["POST"]),
        Route("/v1/stations/{station_id}/device-status", guarded(device_status),
              methods=["POST"]),
        Route("/v1/stations/{station_id}/agent-status", guarded(agent_status), methods=["POST"]),
        Route("/v1/conflicts", guarded(conflicts), methods=["GET"]),
    ]
    served: list[BaseRoute] = [*routes]
    if console is not None or isinstance(store, SqliteHubStore) \
            or callable(getattr(store, "console_store", None)):
        served.extend(console_routes(store, clock, console))
    return Starlette(routes=served)
