"""The OpenAPI 3.1 description of the hub API, served at ``GET /openapi.json``.

Contract: :func:`openapi_document` describes exactly the routes of
:func:`stationlink.hub.app.create_app` (a test compares the two) and the JSON shapes of
:mod:`stationlink.hub.wire`; the console's JSON endpoints (tag ``console``, the session
cookie's security, the least role in the description) come from its route table
(:data:`stationlink.hub.console.ROUTES`, ``kind="json"``), each with its answer's schema
(closed objects, validated against the endpoints' real answers by
tests/hub/test_console_openapi.py) and the error statuses it answers (400 bad month, 404
unknown id, 501 a store without month tables; 401, 403, 500, 503 everywhere); the
console's statement PDFs (``/console/...pdf``, :data:`_CONSOLE_FILES`) with their media
type and error pages.
``docs/hub-openapi.json`` is a copy, kept equal by a test; regenerate it with
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


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _closed(required: dict[str, Any], optional: dict[str, Any] | None = None
            ) -> dict[str, Any]:
    """A closed object of named properties: ``required`` always there, ``optional`` may be."""
    return {"type": "object", "additionalProperties": False, "required": list(required),
            "properties": {**required, **(optional or {})}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


_MONEY = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$",
          "description": "Yuan, exact, two decimals"}
_COUNT = {"type": "integer", "minimum": 0}
_BOOL = {"type": "boolean"}
_TEXTS = _list(_STR)
_MONTH = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}
_DATE = {"type": "string", "format": "date"}
_SUBJECT = {"enum": ["station", "branch"]}


def _console_schemas() -> dict[str, Any]:
    """The JSON shapes of the console's answers (docs/console.md; :mod:`.console.monthview`
    for the statements). Closed objects: a test validates every endpoint's real answers
    against them (tests/hub/test_console_openapi.py), so a key added to or dropped from an
    answer without its schema fails there."""
    from ..i18n import LANGS
    from .console.pages_stations import PROBLEMS
    from .console.roles import Role

    device = {k: _nullable(v) for k, v in _DEVICE_TYPES.items()}
    station_row = {
        "station_id": _STR, "branch_id": _nullable(_STR), "last_contact": _nullable(_TIME),
        "silent_days": _nullable(_INT), "records": _COUNT, "late": _COUNT,
        "backlog": _nullable(_INT), "quarantined_records": _nullable(_INT),
        "settlement_mismatches": _nullable(_INT), "conflicts": _COUNT,
        "devices": _list({**_closed({"terminal_id": _STR}, device),
                          "description": "The latest snapshot of each terminal, as uploaded"}),
        "problems": _list({"enum": list(PROBLEMS)}),
    }
    closed = _nullable(_closed({"version": _COUNT, "closed_by": _STR, "closed_at": _TIME}))
    item = _closed({"code": _STR, "label": _STR, "quantity": _INT, "amount": _MONEY,
                    "basis": {**_STR, "description": "How it is computed, in the "
                              "operator's language (as rewards explain)"}})
    inputs = {
        "by_product": _list(_ref("ConsoleProductSum")),
        "over_cap": _list(_ref("ConsoleOverCapDay")),
        "carried": _list(_ref("ConsoleAdjustment")), "payable": _MONEY,
    }
    adjustment = _closed(
        {"month": _MONTH, "subject": _SUBJECT, "id": _STR, "frozen": _MONEY, "now": _MONEY,
         "adjustment": _MONEY},
        {"carried_before": _MONEY, "into": _MONTH})
    return {
        "ConsoleWhoami": _closed({
            "name": _STR, "role": {"enum": [r.label for r in Role]},
            "must_change_password": _BOOL, "lang": {"enum": [*LANGS, None]},
            "expires_at": _TIME}),
        "ConsoleStations": _closed({"stations": _list(_closed(station_row))}),
        "ConsoleStation": _closed({
            **station_row,
            "days": _list(_closed({"date": _DATE, "transactions": _COUNT,
                                   "amount": _MONEY})),
            "device_history": _list(_closed({
                "received_at": _TIME, "terminal_id": _STR,
                "snapshot": _closed({"terminal_id": _STR}, device)}))}),
        "ConsoleMonths": _closed({"months": _list(_closed({"month": _MONTH,
                                                           "closed": closed}))}),
        "ConsoleLineItem": item,
        "ConsoleProductSum": {**_closed({
            "kind": _STR, "product": _STR, "kind_name": _STR, "product_name": _STR,
            "n": _COUNT, "amount": _MONEY}), "description":
            "Approved transactions of one kind and product in the month (before any cap)"},
        "ConsoleOverCapDay": {**_closed({
            "station_id": _STR, "count": _STR, "label": _STR,
            "card": {**_STR, "description": "The card token (never a card number)"},
            "day": _DATE, "day_text": _STR, "swipes": _COUNT, "cap": _COUNT,
            "over": _COUNT}), "description":
            "One card on one CST day over a count's cap: ``over`` swipes not counted"},
        "ConsoleAdjustment": adjustment,
        "ConsoleStationStatement": _closed({
            "notice": _closed({"text": _STR, "segments": _TEXTS}),
            "station_id": _STR, "branch_id": _STR, "area": _STR,
            "village_id": _nullable(_STR), "total": _MONEY, "effective": _nullable(_BOOL),
            "effective_reasons": _TEXTS, "items": _list(_ref("ConsoleLineItem"))}, inputs),
        "ConsoleBranchStatement": _closed({
            "branch_id": _STR, "area": _STR, "stations": _COUNT,
            "effective_stations": _COUNT, "plan_effective_stations": _COUNT,
            "total": _MONEY, "head": _MONEY, "maintainer": _MONEY,
            "station_status": {"type": "object", "additionalProperties": _closed(
                {"effective": _BOOL, "reasons": _TEXTS})},
            "items": _list(_ref("ConsoleLineItem"))}, inputs),
        "ConsoleMonth": _closed({
            "month": _MONTH, "policy": _STR, "closed": closed,
            "versions": _list(_closed({
                "version": _COUNT, "closed_by": _STR, "closed_at": _TIME,
                "reopened_by": _nullable(_STR), "reopened_at": _nullable(_TIME)})),
            "stations": _list(_ref("ConsoleStationStatement")),
            "branches": _list(_ref("ConsoleBranchStatement")),
            "branch_totals": _list(_closed({"branch_id": _STR, "stations": _MONEY,
                                            "branch": _MONEY, "total": _MONEY})),
            "county_totals": _list(_closed({"county": _STR, "total": _MONEY})),
            "total": _MONEY,
            "late_records": _list(_closed({
                "station_id": _STR, "seq": _INT, "kind": _STR, "product": _STR,
                "amount": _MONEY, "ts": _TIME, "received_at": _TIME})),
            "adjustments": _list(_ref("ConsoleAdjustment")), "warnings": _TEXTS}),
        **{f"Console{name}StatementAnswer": _closed({
            "month": _MONTH, "policy": _STR, "closed": closed,
            subject: _ref(f"Console{name}Statement"),
            "adjustments": _list(_ref("ConsoleAdjustment"))})
           for name, subject in (("Station", "station"), ("Branch", "branch"))},
        "ConsoleNotices": _closed({"month": _MONTH, "notices": _list(_closed({
            "station_id": _STR, "phone": _STR, "text": _STR, "segments": _TEXTS}))}),
    }


#: Each console JSON endpoint (docs/console.md): what it gives, its answer's schema and the
#: error statuses it may answer besides those of every console endpoint (:data:`_CONSOLE_ERRORS`).
_CONSOLE = {
    "/v1/console/whoami": ("The signed-in operator", "ConsoleWhoami", ()),
    "/v1/console/stations": ("Every station with its problems (query: branch, problem)",
                             "ConsoleStations", (501,)),
    "/v1/console/stations/{station_id}": ("One station: recent days and device history",
                                          "ConsoleStation", (404, 501)),
    "/v1/console/months": ("The last 12 months and every closed month, with their state",
                           "ConsoleMonths", (501,)),
    "/v1/console/months/{month}": ("A month: statements (provisional or frozen), totals, late "
                                   "records, adjustments, warnings", "ConsoleMonth",
                                   (400, 501)),
    "/v1/console/months/{month}/stations/{subject_id}": (
        "One station's statement, with the inputs behind its items",
        "ConsoleStationStatementAnswer", (400, 404, 501)),
    "/v1/console/months/{month}/branches/{subject_id}": (
        "One branch's statement, with the inputs behind its items",
        "ConsoleBranchStatementAnswer", (400, 404, 501)),
    "/v1/console/months/{month}/notices": ("The month's SMS notices with phones and segments",
                                           "ConsoleNotices", (400, 501)),
}
_CONSOLE_ERRORS = (401, 403, 500, 503)
_CONSOLE_ERROR_TEXT = {
    400: "Malformed month (error: bad_month)", 401: "Not signed in",
    403: "Role too low, station token, or one-time password",
    404: "No such station or statement (error: not_found)",
    500: "Internal error of the hub (details only in its log)",
    501: "The hub's store has no month tables (error: not_available)",
    503: "Store unavailable: retry later"}


def _session_cookie() -> str:
    from .console.security import SESSION_COOKIE

    return SESSION_COOKIE


def _console_paths() -> dict[str, Any]:
    from .console import ROUTES  # the package registers every page

    out: dict[str, Any] = {}
    for e in ROUTES.entries:
        if e.kind != "json":
            continue
        summary, schema, codes = _CONSOLE[e.path]  # KeyError: an endpoint left undescribed
        names = [part[1:-1] for part in e.path.split("/") if part.startswith("{")]
        out.setdefault(e.path, {})[e.method.lower()] = {
            "summary": summary,
            "description": f"Least role: {e.min_role.label if e.min_role else 'none'}. "
                           "Signed-in operators only (session cookie); a station token is "
                           "refused (403).",
            "tags": ["console"],
            "security": [{"console_session": []}],
            "parameters": [{"name": n, "in": "path", "required": True, "schema": _STR}
                           for n in names],
            "responses": {"200": {"description": "OK", **_json(schema)},
                          **{str(c): {"description": _CONSOLE_ERROR_TEXT[c], **_json("Error")}
                             for c in sorted({*_CONSOLE_ERRORS, *codes})}},
        }
    return out


#: The console's PDF downloads (docs/console.md, "Statements"): what each gives.
_CONSOLE_FILES = {
    "/console/months/{month}/stations/{subject_id}.pdf":
        "One station's statement as a PDF on A4 for signature (operator's language)",
    "/console/months/{month}/branches/{subject_id}.pdf":
        "One branch's statement as a PDF on A4 for signature (operator's language)",
}


def _console_files() -> dict[str, Any]:
    """The PDF routes of the console's table: pages (HTML errors, sign-in redirect)."""
    from .console import ROUTES

    out: dict[str, Any] = {}
    for e in ROUTES.entries:
        if not e.path.endswith(".pdf"):
            continue
        names = [part[1:].split("}")[0] for part in e.path.split("/") if part.startswith("{")]
        out[e.path] = {e.method.lower(): {
            "summary": _CONSOLE_FILES[e.path],  # KeyError: a download left undescribed
            "description": f"Least role: {e.min_role.label if e.min_role else 'none'}. "
                           "Signed-in operators only (session cookie; without one: 303 to "
                           "the sign-in page); a station token is refused (403). A closed "
                           "month's PDF is its frozen statement.",
            "tags": ["console"],
            "security": [{"console_session": []}],
            "parameters": [{"name": n, "in": "path", "required": True, "schema": _STR}
                           for n in names],
            "responses": {
                "200": {"description": "The statement",
                        "content": {"application/pdf": {"schema": {
                            "type": "string", "format": "binary"}}}},
                "303": {"description": "Not signed in: to /console/login?next=..."},
                **{str(c): {"description": text, "content": {"text/html": {}}}
                   for c, text in ((400, "Malformed month"),
                                   (403, "Role too low, station token, or one-time password"),
                                   (404, "No such station or branch in the month"),
                                   (500, "Internal error of the hub (details only in its log)"),
                                   (501, "No CJK font on the hub (error page naming the font "
                                         "to install or --pdf-font), or no month tables"),
                                   (503, "Store unavailable: retry later"))},
            },
        }}
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
            **_console_files(),
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
                **_console_schemas(),
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
