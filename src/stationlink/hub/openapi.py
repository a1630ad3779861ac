"""The OpenAPI 3.1 description of the hub API, served at ``GET /openapi.json``.

Contract: :func:`openapi_document` describes exactly the routes of
:func:`stationlink.hub.app.create_app` (a test compares the two) and the JSON shapes of
:mod:`stationlink.hub.wire`; the console's JSON endpoints (tag ``console``, the session
cookie's security, the least role in the description) come from its route table
(:data:`stationlink.hub.console.ROUTES`, ``kind="json"``). ``docs/hub-openapi.json`` is a
copy, kept equal by a test; regenerate it with
``python -m stationlink.hub.openapi > docs/hub-openapi.json``.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from .. import __version__
from ..records import fields
from .wire import AGENT_FIELDS, AGENT_OPTIONAL, DEVICE_FIELDS, RECORD_FIELDS

_INT = {"type": "integer"}
_STR = {"type": "string"}
_TIME = {"type": "string", "format": "date-time"}



def _record_type(f: fields.Field) -> dict[str, Any]:
    """The JSON schema of one record field, from its declaration (``records.fields``)."""
    if f.values:
        return {"enum": [str(v) for v in f.values]}
    if f.pytype is int:
        if f.nullable:
            return {"type": ["integer", "null"]}
        return {"type": "integer", "minimum": f.low}
    if f.pytype is datetime:
        return {"type": ["string", "null"], "format": "date-time"} if f.nullable else _TIME
    return {"type": ["string", "null"]} if f.nullable else _STR


_RECORD_TYPES: dict[str, Any] = {f.name: _record_type(f) for f in fields.RECORD if f.wire}
_DEVICE_TYPES: dict[str, Any] = {
    "terminal_id": _STR, "wall_time": _TIME, "paper_ok": {"type": "boolean"},
    "error_counters": {"type": "object", "additionalProperties": _INT},
    "signal_dbm": _INT, "uptime_ms": _INT, "boot_id": _INT, "terminal_time": _TIME,
    "journal_unacked": _INT,
}
_AGENT_TYPES: dict[str, Any] = {
    "backlog": {"type": "integer", "minimum": 0},
    "oldest_unsynced": {"type": ["string", "null"], "format": "date-time"},
    "quarantined_records": {"type": "integer", "minimum": 0},
    "unresolved_unknown": {"type": "integer", "minimum": 0},
    "version": _STR,
    "settlement_mismatches": {
        "type": "integer", "minimum": 0,
        "description": "Optional: how many of the station's terminals have a latest daily "
                       "settlement check that differs from the buffer (absent: not reported, "
                       "an older agent).",
    },
}


def _object(fields: tuple[str, ...], types: dict[str, Any],
            optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """A closed object: ``fields`` required, ``optional`` allowed, nothing else."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(fields),
        "properties": {f: types.get(f, _STR) for f in (*fields, *optional)},
    }


def _json(ref: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Body is not JSON", 401: "Missing, unknown or revoked token",
            403: "Token belongs to another station",
            409: "Sequence gap, or a replayed seq differing from the record held (fields named)",
            413: "Body too large (refused while it streams in)",
            422: "Body does not validate (path named)",
            429: "Too many requests for this station: retry after Retry-After seconds",
            500: "Internal error of the hub (details only in its log): retry later",
            503: "Store unavailable: retry later"}
    out = {str(c): {"description": text[c], **_json("Error")} for c in codes}
    if 429 in codes:
        out["429"]["headers"] = {"Retry-After": {
            "description": "Seconds to wait", "schema": {"type": "integer", "minimum": 1}}}
    return out


def _station_op(summary: str, body: str | None, answer: str, *codes: int) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "security": [{"bearer": []}],
        "parameters": [{"name": "station_id", "in": "path", "required": True, "schema": _STR}],
        "responses": {"200": {"description": "OK", **_json(answer)},
                      **_errors(401, 403, 429, 500, *codes)},
    }
    if body is not None:
        op["requestBody"] = {"required": True, **_json(body)}
    return op


#: What each console JSON endpoint gives (docs/console.md).
_CONSOLE_SUMMARIES = {
    "/v1/console/whoami": "The signed-in operator",
    "/v1/console/stations": "Every station with its problems (query: branch, problem)",
    "/v1/console/stations/{station_id}": "One station: recent days and device history",
    "/v1/console/months": "The last 12 months and every closed month, with their state",
    "/v1/console/months/{month}": "A month: statements (provisional or frozen), totals, late "
                                  "records, adjustments, warnings",
    "/v1/console/months/{month}/stations/{subject_id}": "One station's statement",
    "/v1/console/months/{month}/branches/{subject_id}": "One branch's statement",
    "/v1/console/months/{month}/notices": "The month's SMS notices with phones and segments",
}


def _session_cookie() -> str:
    from .console.security import SESSION_COOKIE

    return SESSION_COOKIE


def _console_paths() -> dict[str, Any]:
    from .console import ROUTES  # the package registers every page

    out: dict[str, Any] = {}
    for e in ROUTES.entries:
        if e.kind != "json":
            continue
        names = [part[1:-1] for part in e.path.split("/") if part.startswith("{")]
        out.setdefault(e.path, {})[e.method.lower()] = {
            "summary": _CONSOLE_SUMMARIES.get(e.path, e.path),
            "description": f"Least role: {e.min_role.label if e.min_role else 'none'}. "
                           "Signed-in operators only (session cookie); a station token is "
                           "refused (403).",
            "tags": ["console"],
            "security": [{"console_session": []}],
            "parameters": [{"name": n, "in": "path", "required": True, "schema": _STR}
                           for n in names],
            "responses": {"200": {"description": "OK",
                                  "content": {"application/json": {"schema": {
                                      "type": "object"}}}},
                          **{str(c): {"description": d, **_json("Error")} for c, d in (
                              (400, "Malformed month"), (401, "Not signed in"),
                              (403, "Role too low, station token, or one-time password"),
                              (404, "No such station or statement"),
                              (503, "Store unavailable: retry later"))}},
        }
    return out


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document (module contract)."""
    station = "/v1/stations/{station_id}"
    return {
        "openapi": "3.1.0",
        "info": {"title": "stationlink hub", "version": __version__},
        "paths": {
            "/v1/health": {"get": {"summary": "Liveness", "responses": {
                "200": {"description": "OK", **_json("Health")}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {
                "200": {"description": "OpenAPI document"}}}},
            f"{station}/high-water-mark": {"get": _station_op(
                "The station's high-water mark", None, "HighWaterMark", 503)},
            f"{station}/batches": {"post": _station_op(
                "Ingest a gap-free batch of records (replays are harmless)", "Batch",
                "IngestResult", 400, 409, 413, 422, 503)},
            f"{station}/device-status": {"post": _station_op(
                "Upload device status snapshots", "DeviceStatus", "Stored",
                400, 413, 422, 503)},
            "/v1/conflicts": {"get": {
                "summary": "Conflicting duplicates of the token's own station (no card values)",
                "security": [{"bearer": []}],
                "parameters": [{"name": "station", "in": "query", "required": False,
                                "schema": _STR,
                                "description": "Must be the token's station (else 403)"}],
                "responses": {"200": {"description": "OK", **_json("Conflicts")},
                              **_errors(401, 403, 429, 500, 503)},
            }},
            f"{station}/agent-status": {"post": _station_op(
                "Report the sync agent's own status", "AgentStatus", "Stored",
                400, 413, 422, 503)},
            **_console_paths(),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "console_session": {"type": "apiKey", "in": "cookie",
                                                    "name": _session_cookie()}},
            "schemas": {
                "Record": _object(RECORD_FIELDS, _RECORD_TYPES),
                "Batch": {
                    "type": "object", "additionalProperties": False,
                    "required": ["station_id", "first_seq", "last_seq", "records"],
                    "properties": {
                        "station_id": _STR, "first_seq": {"type": "integer", "minimum": 1},
                        "last_seq": {"type": "integer", "minimum": 1},
                        "records": {"type": "array",
                                    "items": {"$ref": "#/components/schemas/Record"}},
                    },
                },
                "IngestResult": _object(
                    ("high_water_mark", "accepted", "replayed", "duplicates", "late"), {
                        k: _INT for k in ("high_water_mark", "accepted", "replayed",
                                          "duplicates", "late")}),
                "HighWaterMark": _object(("station_id", "high_water_mark"),
                                         {"high_water_mark": _INT}),
                "DeviceSnapshot": _object(DEVICE_FIELDS, _DEVICE_TYPES),
                "DeviceStatus": {
                    "type": "object", "additionalProperties": False, "required": ["snapshots"],
                    "properties": {"snapshots": {
                        "type": "array", "items": {"$ref": "#/components/schemas/DeviceSnapshot"}
                    }},
                },
                "AgentStatus": _object(AGENT_FIELDS, _AGENT_TYPES, AGENT_OPTIONAL),
                "Stored": {"type": "object", "properties": {
                    "stored": {"type": ["integer", "boolean"]}}},
                "Health": {"type": "object", "properties": {"status": _STR}},
                "Conflicts": {
                    "type": "object", "required": ["station_id", "conflicts"],
                    "properties": {"station_id": _STR, "conflicts": {
                        "type": "array", "items": {"$ref": "#/components/schemas/Conflict"}}},
                },
                "Conflict": {
                    "type": "object",
                    "required": ["station_id", "seq", "duplicate_of", "terminal_id", "ident",
                                 "received_at", "fields", "held", "sent"],
                    "properties": {
                        "station_id": _STR, "seq": _INT, "duplicate_of": _INT,
                        "terminal_id": _STR, "ident": _STR, "received_at": _TIME,
                        "fields": {"type": "array", "items": _STR},
                        "held": {"type": "object", "description":
                                 "The record held (exported), without card fields"},
                        "sent": {"type": "object", "description":
                                 "The conflicting duplicate, without card fields"},
                    },
                },
                "Error": {
                    "type": "object", "required": ["error", "detail"],
                    "properties": {
                        "error": _STR, "detail": _STR, "path": _STR, "expected_seq": _INT,
                        "high_water_mark": _INT, "seq": _INT,
                        "fields": {"type": "array", "items": _STR}, "retry_after": _INT,
                    },
                },
            },
        },
    }


def main() -> None:
    """Write the document as ``docs/hub-openapi.json`` holds it, to standard output."""
    sys.stdout.write(json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
