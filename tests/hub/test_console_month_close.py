"""Closing a month on the console: only once it has ended (CST, the hub's clock); refusals in
the operator's language; every POST route refuses a form without its CSRF token.

On a real hub server, once per store (``hub_db``: SQLite, and PostgreSQL with
``STATIONLINK_TEST_PG``).
"""

from __future__ import annotations

import re
from datetime import datetime

import httpx
import pytest
from console_fixtures import PASSWORD, Clock, ConsoleHub, console_clock, console_hub, csrf_field
from starlette.routing import Mount

from stationlink.hub.app import create_app
from stationlink.hub.console import Actor, Role
from stationlink.hub.console.monthstore import month_store_for
from stationlink.hub.console.routes import ROUTES, ConsoleRoute
from stationlink.hub.console.security import LOGIN_CSRF_COOKIE
from stationlink.hub.console.web import console_routes  # noqa: F401 - registers the pages
from stationlink.hub.stores import open_hub_store
from stationlink.money import CST

__all__ = ["console_clock", "console_hub"]  # fixtures used here

TABLES = ("operators", "console_sessions", "audit", "month_closes", "statements",
          "ref_stations", "ref_branches")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def state(hub: ConsoleHub) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the console's tables (what a refused POST must not change)."""
    return {t: sorted(hub.sql(f"SELECT * FROM {t}"), key=repr) for t in TABLES}  # noqa: S608


def post(hub: ConsoleHub, who: str, path: str) -> httpx.Response:
    sid, csrf = hub.session_for(who)
    with hub.client(sid) as client:
        return hub.post(client, path, {}, csrf)


def message(answer: httpx.Response) -> str:
    found = re.search(r"<main[^>]*>(.*?)</main>", answer.text, re.S)
    text = found.group(1) if found else answer.text
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip()


# ------------------------------------------------------------ a month that has not ended


def test_a_month_is_closed_only_once_it_has_ended_in_cst(console_hub: ConsoleHub) -> None:
    hub = console_hub
    hub.clock.now = datetime(2026, 11, 30, 23, 59, 59, tzinfo=CST)  # 15:59:59 UTC
    for month in ("2026-11", "2026-12", "2027-03"):
        refused = post(hub, "fan", f"/console/months/{month}/close")
        assert refused.status_code == 400, refused.text
        assert month in message(refused)
    assert "2026-12-01 00:00" in message(post(hub, "fan", "/console/months/2026-11/close"))
    assert hub.sql("SELECT COUNT(*) FROM month_closes") == [(0,)]
    assert hub.sql("SELECT COUNT(*) FROM statements") == [(0,)]
    assert hub.sql("SELECT COUNT(*) FROM audit WHERE action LIKE 'month.%'") == [(0,)]
    hub.clock.now = datetime(2026, 12, 1, 0, 0, tzinfo=CST)  # the month ended
    assert post(hub, "fan", "/console/months/2026-11/close").status_code == 303
    assert hub.sql("SELECT month, version FROM month_closes") == [("2026-11", 1)]


# ------------------------------------------------------------ refusals in two languages


@pytest.fixture
def two_langs(console_hub: ConsoleHub) -> ConsoleHub:
    """The zh console with rose, a finance operator who reads English."""
    console_hub.add_operator("rose", Role.FINANCE)
    console_hub.console.set_lang("rose", "en", now=console_hub.clock(), actor=Actor("test"))
    return console_hub


def test_month_refusals_are_in_the_operators_language(two_langs: ConsoleHub) -> None:
    hub = two_langs
    assert post(hub, "fan", "/console/months/2026-10/close").status_code == 303
    cases = [  # (path, the English message with its values put in, the values)
        ("/console/months/2026-10/close", "Month 2026-10 is closed already (version 1).",
         ("2026-10", "1")),
        ("/console/months/2026-11/close",
         "Month 2026-11 has not ended yet: it can be closed from 2026-12-01 00:00 (China "
         "time) on.", ("2026-11", "2026-12-01 00:00")),
    ]
    for path, english, values in cases:
        en = post(hub, "rose", path)
        zh = post(hub, "fan", path)
        assert en.status_code == zh.status_code == 400
        assert english in message(en)
        assert english not in message(zh)
        assert _CJK.search(message(zh)), message(zh)
        assert all(v in message(zh) for v in values), message(zh)
    assert "已结账" in message(post(hub, "fan", "/console/months/2026-10/close"))
    # re-opening a month that is not closed: the admin's refusal, likewise
    hub.console.set_lang("alice", "en", now=hub.clock(), actor=Actor("test"))
    en = post(hub, "alice", "/console/months/2026-09/reopen")
    assert en.status_code == 400
    assert "Month 2026-09 is not closed." in message(en)
    hub.console.set_lang("alice", "zh", now=hub.clock(), actor=Actor("test"))
    zh = post(hub, "alice", "/console/months/2026-09/reopen")
    assert zh.status_code == 400
    assert "2026-09" in message(zh)
    assert "未结账" in message(zh)
    assert "not closed" not in message(zh)


# ------------------------------------------------------------ CSRF on every POST route


POSTS = [e for e in ROUTES.entries if e.method == "POST"]
OTHER_PASSWORD = "another correct horse 42"  # noqa: S105 - a test operator's
#: one form every POST route would act on with a valid token (each route reads its fields)
FORM = {"name": "alice", "password": PASSWORD, "action": "disable", "role": "viewer",
        "current": PASSWORD, "new": OTHER_PASSWORD, "again": OTHER_PASSWORD, "lang": "en"}


def test_the_post_routes_are_the_apps(tmp_path) -> None:
    """The CSRF test below covers exactly the POST routes the app serves."""
    store = open_hub_store(tmp_path / "hub.sqlite")
    try:
        app = create_app(store, clock=Clock(datetime(2026, 11, 3, tzinfo=CST)))
        served = {m.path + r.path for m in app.routes if isinstance(m, Mount)
                  and m.path in ("/console", "/v1/console") for r in m.routes
                  if "POST" in (getattr(r, "methods", None) or ())}
    finally:
        store.close()
    assert served == {e.path for e in POSTS}
    assert {"/console/login", "/console/logout", "/console/password", "/console/operators",
            "/console/settings", "/console/months/{month}/close",
            "/console/months/{month}/reopen"} <= served


@pytest.mark.parametrize("entry", POSTS, ids=[e.path for e in POSTS])
def test_every_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(
        console_hub: ConsoleHub, entry: ConsoleRoute) -> None:
    hub = console_hub
    hub.add_operator("root", Role.ADMIN)  # acts on alice (disable, sign in as her)
    if entry.path.endswith("/reopen"):
        months = month_store_for(hub.store)
        months.close_month(entry.example.split("/")[-2], "dezhou-2014", [],
                           now=hub.clock(), actor=Actor("test"))
    public = entry.min_role is None
    sid, csrf = hub.session_for("root")
    _other, stranger = hub.session_for("wang")  # a real token, of another session
    with hub.client(None if public else sid) as client:
        if public:
            csrf = csrf_field(client.get(entry.path).text)  # sets the sign-in cookie
            assert client.cookies.get(LOGIN_CSRF_COOKIE)
        before = state(hub)
        for token in (None, "", stranger, csrf[:-1] + ("A" if csrf[-1] != "A" else "B")):
            answer = hub.post(client, entry.example, FORM, token)
            assert answer.status_code == 403, (entry.path, token, answer.text)
            assert state(hub) == before, (entry.path, token)
        # the same form with the right token does act: the refusals were the token's
        done = hub.post(client, entry.example, FORM, csrf)
        assert done.status_code in (200, 303), (entry.path, done.text)
        assert state(hub) != before, entry.path
