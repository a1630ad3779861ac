"""HTTP client of the hub for the sync agent: :class:`HubClient`.

Contract:
- One request per call, no retries (the agent owns the retry loop; see
  :class:`stationlink.agent.backoff.Backoff`). Imports no server framework (the
  agent loads this module; Starlette and uvicorn stay out).
- A network error (connect, read, timeout), HTTP 429 or any 5xx (a server fault says
  nothing about the records sent) raises :class:`~stationlink.errors.HubUnavailableError`
  with ``retry_after`` in seconds when the hub sent ``Retry-After`` (delta seconds or an HTTP
  date, measured with the injected clock).
- Any other 4xx raises :class:`~stationlink.errors.HubRejectedError` carrying the status
  and the hub's reason; a sequence gap is the subclass ``errors.HubGapError`` with the
  ``expected_seq`` the hub wants next.
- ``verify``: TLS verification for ``https://`` hubs (``True``: the system's CAs; a path:
  a CA bundle file, e.g. a private CA's certificate).
- Connections are kept alive and reused between calls (one ``httpx.Client``). A client made
  here sets ``TCP_NODELAY`` (httpx sends a POST's headers and body separately; with Nagle's
  algorithm the body would wait for the hub's delayed ACK, ~40 ms on Linux, per batch).
- An ``httpx.Client`` passed in is used as is; :meth:`close` closes it only with
  ``owns_client=True`` (a client made here is always owned and closed).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from ..buffer.health import DeviceSnapshot
from ..buffer.records import Batch
from ..clock import WallClock, utc_now
from ..errors import ConfigError, HubGapError, HubRejectedError, HubUnavailableError
from .wire import batch_to_json

RETRYABLE = frozenset({429, *range(500, 600)})


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now`` (never negative); ``None`` if absent or bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def tls_context(verify: bool | str | Path) -> ssl.SSLContext:
    """The TLS context of a hub client: the system's CAs, or those of a CA bundle file."""
    if verify is True:
        return ssl.create_default_context()
    if verify is False:
        raise ConfigError("TLS verification of the hub cannot be switched off")
    try:
        return ssl.create_default_context(cafile=str(verify))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot read the CA file {verify}: {exc}") from exc


def nodelay_client(timeout: float, verify: bool | str | Path = True) -> httpx.Client:
    """An ``httpx.Client`` (keep-alive connection pool) whose connections set TCP_NODELAY,
    verifying the hub's certificate with :func:`tls_context`."""
    transport = httpx.HTTPTransport(
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        verify=tls_context(verify))
    return httpx.Client(timeout=timeout, transport=transport)


class HubClient(AbstractContextManager["HubClient"]):
    """See the module contract; ``owns_client=True`` hands ``http_client`` to this object,
    which then closes it in :meth:`close`."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        station_id: str,
        http_client: httpx.Client | None = None,
        clock: WallClock = utc_now,
        timeout: float = 30.0,
        owns_client: bool = False,
        verify: bool | str | Path = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.station_id = station_id
        self._clock = clock
        self._own = http_client is None or owns_client
        self._http = (http_client if http_client is not None
                      else nodelay_client(timeout, verify))
        self._headers = {"Authorization": f"Bearer {token}"}

    def close(self) -> None:
        if self._own:
            self._http.close()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _url(self, tail: str) -> str:
        return f"{self.base_url}/v1/stations/{self.station_id}/{tail}"

    def _call(self, method: str, tail: str, body: Any = None) -> dict[str, Any]:
        url = self._url(tail)
        try:
            resp = self._http.request(method, url, json=body, headers=self._headers)
        except httpx.HTTPError as exc:
            raise HubUnavailableError(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        if resp.status_code in RETRYABLE:
            retry_after = parse_retry_after(resp.headers.get("retry-after"), self._clock())
            raise HubUnavailableError(
                f"{method} {url}: HTTP {resp.status_code}: {_reason(resp)}", retry_after
            )
        if resp.status_code >= 400:
            payload = _payload(resp)
            reason = f"{method} {url}: HTTP {resp.status_code}: {_reason(resp)}"
            expected = payload.get("expected_seq") if payload else None
            if payload and payload.get("error") == "sequence_gap" and isinstance(expected, int):
                raise HubGapError(reason, expected)
            raise HubRejectedError(reason, resp.status_code)
        payload = _payload(resp)
        if payload is None:
            raise HubUnavailableError(f"{method} {url}: HTTP {resp.status_code} without JSON")
        return payload

    def high_water_mark(self) -> int:
        """The hub's high-water mark for this station."""
        return _int(self._call("GET", "high-water-mark"), "high_water_mark")

    def upload(self, batch: Batch) -> int:
        """Send a batch; returns the hub's high-water mark (replays are harmless)."""
        if batch.station_id != self.station_id:
            raise HubRejectedError(
                f"batch of station {batch.station_id} on a client for {self.station_id}", 0
            )
        return _int(self._call("POST", "batches", batch_to_json(batch)), "high_water_mark")

    def upload_device_status(self, snapshots: Sequence[DeviceSnapshot]) -> int:
        body = {"snapshots": [s.to_json() for s in snapshots]}
        return _int(self._call("POST", "device-status", body), "stored")

    def report_agent_status(
        self,
        *,
        backlog: int,
        oldest_unsynced: datetime | None,
        quarantined_records: int,
        unresolved_unknown: int,
        version: str,
        settlement_mismatches: int | None = None,
    ) -> None:
        """The agent's own status; ``settlement_mismatches`` (terminals whose latest
        settlement check differs) is left out of the body when ``None`` (not known)."""
        body: dict[str, Any] = {
            "backlog": backlog,
            "oldest_unsynced": None if oldest_unsynced is None else oldest_unsynced.isoformat(),
            "quarantined_records": quarantined_records,
            "unresolved_unknown": unresolved_unknown,
            "version": version,
        }
        if settlement_mismatches is not None:
            body["settlement_mismatches"] = settlement_mismatches
        self._call("POST", "agent-status", body)


def _payload(resp: httpx.Response) -> dict[str, Any] | None:
    try:
        data = resp.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _reason(resp: httpx.Response) -> str:
    payload = _payload(resp)
    if payload and isinstance(payload.get("detail"), str):
        return str(payload["detail"])
    return resp.text[:200] or resp.reason_phrase


def _int(payload: dict[str, Any], key: str) -> int:
    value = payload.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise HubUnavailableError(f"hub answer without an integer {key!r}: {payload!r}")
    return value
