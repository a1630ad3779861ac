"""Every route of the console's route table, for every kind of caller: parametrised from the
table itself, so a page registered later is checked here without a new test.

Callers: anonymous, a station's bearer token (also together with an admin's session cookie),
and a session of each role. Expected: anonymous → redirect to sign-in (HTML) or 401 (JSON) on
a non-public route; a station token → 403 everywhere under the console and never a cookie; a
role below the route's least role → 403; any other role → the page's own answer (not 401 or
403, not the sign-in redirect). Each POST carries the session's CSRF token and our Origin, so
it is the role that decides. And the other way round: an operator's session cookie is never
accepted on the station routes. Once per store (SQLite, and PostgreSQL with
``STATIONLINK_TEST_PG``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from console_fixtures import ROLES, T0, Clock, ConsoleHub, csrf_field
from hub_fixtures import STORES, PgServer

from stationlink.hub.console import ROUTES, ConsoleRoute, Role
from stationlink.hub.console.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from stationlink.hub.stores import migrate_hub

CALLERS = ("anonymous", "station", "station+admin", *(r.label for r in ROLES))
CASES = [pytest.param(entry, caller, id=f"{entry.method} {entry.path} as {caller}")
         for entry in ROUTES.entries for caller in CALLERS]


@pytest.fixture(scope="module", params=STORES)
def hub_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[str]:
    """hub_fixtures' ``hub_db`` (each store; PostgreSQL only with STATIONLINK_TEST_PG),
    module-scoped here: the matrix shares one hub per store."""
    if request.param == "sqlite":
        yield str(Path(tmp_path_factory.mktemp("matrix")) / "hub.sqlite")
        return
    server: PgServer = request.getfixturevalue("pg_server")
    url = server.new_db()
    migrate_hub(url)
    yield url
    server.drop_db(url)


@pytest.fixture(scope="module")
def matrix_hub(hub_db: str) -> Iterator[ConsoleHub]:
    hub = ConsoleHub(hub_db, Clock(T0))
    for role in ROLES:
        hub.add_operator(role.label, role)
    hub.add_operator("target", Role.VIEWER)  # for actions that name an operator
    yield hub
    hub.close()


def request(hub: ConsoleHub, client: httpx.Client, entry: ConsoleRoute, csrf: str | None,
            headers: dict[str, str] | None = None) -> httpx.Response:
    if entry.method == "GET":
        return client.get(entry.example, headers=headers)
    if entry.min_role is None:  # the public sign-in form: its own token, its own cookie
        page = httpx.get(hub.url + "/console/login")
        csrf = csrf_field(page.text)
        client.cookies.set(LOGIN_CSRF_COOKIE, page.cookies[LOGIN_CSRF_COOKIE])
    form = {"csrf_token": csrf or "", "name": "target"}
    return client.request(entry.method, entry.example, data=form,
                          headers={**hub.origin(), **(headers or {})})


def is_sign_in_redirect(response: httpx.Response) -> bool:
    return response.status_code == 303 and \
        response.headers["location"].startswith("/console/login?next=")


@pytest.mark.parametrize(("entry", "caller"), CASES)
def test_route_answers_each_caller_as_its_least_role_says(
        matrix_hub: ConsoleHub, entry: ConsoleRoute, caller: str) -> None:
    hub = matrix_hub
    session = csrf = None
    headers: dict[str, str] = {}
    if caller.startswith("station"):
        headers["Authorization"] = f"Bearer {hub.station_token}"
    if caller in ("station+admin", *(r.label for r in ROLES)):
        session, csrf = hub.session_for("admin" if caller == "station+admin" else caller)
    with hub.client(session) as client:
        answer = request(hub, client, entry, csrf, headers)
    assert answer.status_code != 500, answer.text  # never an internal error, on either store
    if caller.startswith("station"):
        assert answer.status_code == 403, answer.text
        assert not answer.headers.get_list("set-cookie")
        if entry.kind == "json":
            assert answer.json()["error"] == "station_token_refused"
        return
    if caller == "anonymous":
        if entry.min_role is None:
            assert answer.status_code not in (401, 403), answer.text
        elif entry.kind == "json":
            assert answer.status_code == 401
            assert answer.json()["error"] == "unauthorized"
        else:
            assert is_sign_in_redirect(answer)
            assert answer.headers["location"].endswith(entry.example.replace("/", "%2F"))
        return
    role = Role[caller.upper()]
    if entry.min_role is not None and role < entry.min_role:
        assert answer.status_code == 403, answer.text
    else:
        assert answer.status_code not in (401, 403), answer.text
        assert not is_sign_in_redirect(answer)
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"


def test_the_table_holds_the_pages_of_this_part_with_their_least_roles() -> None:
    table = {(e.method, e.path): e.min_role for e in ROUTES.entries
             if e.handler.__module__ == "stationlink.hub.console.pages"}
    assert table == {
        ("GET", "/console/login"): None, ("POST", "/console/login"): None,
        ("POST", "/console/logout"): Role.VIEWER, ("GET", "/console/"): Role.VIEWER,
        ("GET", "/console/password"): Role.VIEWER, ("POST", "/console/password"): Role.VIEWER,
        ("GET", "/console/operators"): Role.ADMIN, ("POST", "/console/operators"): Role.ADMIN,
        ("GET", "/console/audit"): Role.ADMIN, ("GET", "/v1/console/whoami"): Role.VIEWER,
    }


@pytest.mark.parametrize("path", ["/v1/stations/S1/high-water-mark", "/v1/conflicts"])
def test_an_operator_session_never_acts_as_a_station(matrix_hub: ConsoleHub,
                                                     path: str) -> None:
    session, _ = matrix_hub.session_for("admin")
    with matrix_hub.client(session) as client:
        answer = client.get(path)
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthorized"


def test_an_operator_session_cannot_upload_a_batch(matrix_hub: ConsoleHub) -> None:
    session, _ = matrix_hub.session_for("admin")
    with matrix_hub.client(session) as client:
        answer = client.post("/v1/stations/S1/batches", json={"records": []})
    assert answer.status_code == 401
    assert matrix_hub.store.high_water_mark("S1") == 0


def test_the_session_cookie_is_only_a_console_cookie(matrix_hub: ConsoleHub) -> None:
    """The station routes do not even read it: the same request without it answers alike."""
    session, _ = matrix_hub.session_for("admin")
    with matrix_hub.client(session) as with_cookie, matrix_hub.client() as without:
        a = with_cookie.get("/v1/stations/S1/high-water-mark")
        b = without.get("/v1/stations/S1/high-water-mark")
    assert (a.status_code, a.json()) == (b.status_code, b.json())
    assert SESSION_COOKIE not in a.headers.get("set-cookie", "")
