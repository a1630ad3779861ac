"""The console's JSON answers are what /openapi.json declares, checked with jsonschema.

Every console JSON endpoint's real answers (an open month, the month closed with a record
arriving after the close, the next month carrying the adjustments, the month re-opened) are
validated against the 200 schema the document declares for it (closed objects: a key added
or dropped without its schema fails here); every error answer's status is one the document
lists for that endpoint and its body is an ``Error``; a store without month tables answers
501 exactly where the document says so. The month runs on both stores (``hub_db``).
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from console_fixtures import T0, Clock, ConsoleHub, csrf_field
from console_month import MONTH, signed_in
from jsonschema import Draft202012Validator
from rewards_store_loader import load_hub

from stationlink.hub.app import create_app
from stationlink.hub.console import ROUTES, ConsoleOptions, Role
from stationlink.hub.console.backend import console_store_for
from stationlink.hub.console.limiter import LoginLimiter
from stationlink.hub.console.passwords import Passwords
from stationlink.hub.console.store import Actor
from stationlink.hub.openapi import openapi_document
from stationlink.hub.server import BackgroundServer
from stationlink.hub.sqlite_store import SqliteHubStore
from stationlink.interchange import Transaction

DOC = openapi_document()
JSON_ROUTES = [(e.path, e.method.lower()) for e in ROUTES.entries if e.kind == "json"]


def _template(path: str) -> tuple[str, str]:
    """The documented route (template, method) a concrete GET path is an answer of."""
    path = path.split("?")[0]
    for template, method in JSON_ROUTES:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return template, method
    raise AssertionError(f"{path} is no console JSON route")


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**schema, "components": DOC["components"]})


def check(answer: httpx.Response) -> str:
    """``answer`` is listed for its endpoint and matches the declared schema; its name."""
    template, method = _template(answer.request.url.raw_path.decode())
    responses = DOC["paths"][template][method]["responses"]
    status = str(answer.status_code)
    assert status in responses, (template, status, answer.text)
    schema = responses[status]["content"]["application/json"]["schema"]
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in _validator(schema).iter_errors(answer.json())]
    assert not errors, (template, errors[:5])
    return str(schema["$ref"]).rsplit("/", 1)[-1]



def _every_answer(hub: ConsoleHub, facts: dict[str, Any], month: str) -> list[httpx.Response]:
    with signed_in(hub, "fan") as client:
        m = client.get(f"/v1/console/months/{month}")
        answers = [client.get("/v1/console/whoami"), client.get("/v1/console/months"), m,
                   client.get(f"/v1/console/months/{month}/notices"),
                   client.get("/v1/console/stations"),
                   client.get("/v1/console/stations?problem=silent")]
        answers += [client.get(f"/v1/console/stations/{sid}") for sid in facts["ids"]]
        answers += [client.get(f"/v1/console/months/{month}/stations/{s['station_id']}")
                    for s in m.json()["stations"]]
        answers += [client.get(f"/v1/console/months/{month}/branches/{b['branch_id']}")
                    for b in m.json()["branches"]]
    return answers


def _post(hub: ConsoleHub, name: str, action: str) -> None:
    with signed_in(hub, name) as client:
        page = client.get(f"/console/months/{MONTH}").text
        answer = hub.post(client, f"/console/months/{MONTH}/{action}", {}, csrf_field(page))
        assert answer.status_code == 303, answer.text


def test_every_console_json_answer_matches_its_declared_schema(month_hub, tmp_path) -> None:
    hub, facts = month_hub
    answers = _every_answer(hub, facts, MONTH)  # open: provisional statements
    _post(hub, "fan", "close")
    station = facts["ids"][0]
    hub.clock.advance(hours=1)
    late = Transaction("LATE1", station, f"{station}-LATE", hub.clock() - timedelta(days=20),
                       "bill_payment", "electricity", Decimal("30.00"), "", "approved")
    load_hub(hub.store, tmp_path, [late], on_time_at=hub.clock())
    closed = _every_answer(hub, facts, MONTH)  # frozen, with adjustments
    carrying = _every_answer(hub, facts, "2026-11")  # the adjustments carried
    _post(hub, "alice", "reopen")
    reopened = _every_answer(hub, facts, MONTH)
    seen = {check(a) for a in answers + closed + carrying + reopened}
    assert seen == {DOC["paths"][p][m]["responses"]["200"]["content"]["application/json"][
        "schema"]["$ref"].rsplit("/", 1)[-1] for p, m in JSON_ROUTES}
    # the optional parts were there to be checked
    frozen = closed[2].json()
    assert frozen["closed"] is not None
    assert frozen["adjustments"]
    assert any(s["over_cap"] for s in frozen["stations"])
    assert any(v["carried"] for v in carrying[2].json()["stations"])
    assert any(v["reopened_by"] for v in reopened[2].json()["versions"])


def test_every_console_error_answer_is_listed_and_an_error(month_hub) -> None:
    hub, facts = month_hub
    with hub.client() as anonymous:
        errors = [anonymous.get(p) for p, _m in JSON_ROUTES if "{" not in p]
        errors.append(anonymous.get(f"/v1/console/months/{MONTH}/stations/{facts['ids'][0]}",
                                    headers={"Authorization": f"Bearer {hub.station_token}"}))
    with signed_in(hub, "wang") as viewer:
        errors += [viewer.get(f"/v1/console/months/{MONTH}/notices"),  # finance's
                   viewer.get("/v1/console/months/2026-13"),
                   viewer.get("/v1/console/months/26-10/stations/R1"),
                   viewer.get("/v1/console/months/2026-1x/branches/B1"),
                   viewer.get("/v1/console/months/2026-10x/notices"),
                   viewer.get(f"/v1/console/months/{MONTH}/stations/NOPE"),
                   viewer.get(f"/v1/console/months/{MONTH}/branches/NOPE"),
                   viewer.get("/v1/console/stations/NOPE")]
    assert {a.status_code for a in errors} == {400, 401, 403, 404}
    for answer in errors:
        assert check(answer) == "Error"


class _WithoutMonthTables:
    """A hub store that is not the SQLite one and offers console tables but no month tables."""

    def __init__(self, inner: SqliteHubStore) -> None:
        self._inner = inner

    def console_store(self) -> object:
        return console_store_for(self._inner)

    def __getattr__(self, name: str) -> Any:
        if name == "month_store":
            raise AttributeError(name)
        return getattr(self._inner, name)


def test_a_store_without_month_tables_answers_501_where_the_document_says(tmp_path) -> None:
    inner = SqliteHubStore(tmp_path / "hub.sqlite")
    clock = Clock(T0)
    passwords = Passwords(PasswordHasher.from_parameters(CHEAPEST))
    console_store_for(inner).add_operator("fan", Role.FINANCE, passwords.hash("pw-for-fan-1"),
                                          must_change_password=False, now=clock(),
                                          actor=Actor("test"))
    app = create_app(_WithoutMonthTables(inner), clock=clock, console=ConsoleOptions(
        passwords=passwords, limiter=LoginLimiter(clock)))
    server = BackgroundServer(app)
    try:
        with httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as client:
            page = client.get("/console/login").text
            assert client.post("/console/login", headers={"Origin": server.url}, data={
                "csrf_token": csrf_field(page), "name": "fan", "password": "pw-for-fan-1"}
            ).status_code == 303
            for template, method in JSON_ROUTES:
                path = template.replace("{month}", MONTH).replace(
                    "{subject_id}", "R1").replace("{station_id}", "R1")
                answer = client.get(path)
                listed = "501" in DOC["paths"][template][method]["responses"]
                assert (answer.status_code == 501) == listed, (template, answer.status_code)
                check(answer)
                if listed:
                    assert answer.json()["error"] == "not_available"
    finally:
        server.stop()
        inner.close()
