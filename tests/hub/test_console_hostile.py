"""Hostile or broken requests to the console get a 4xx with a reason, never a 500, and change
nothing; sign-in attempt counts stay bounded whatever names are tried."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from console_fixtures import T0, Clock, ConsoleHub, console_clock, console_hub, csrf_field

from stationlink.hub.console.limiter import LoginLimiter
from stationlink.hub.console.security import MAX_FORM

__all__ = ["console_clock", "console_hub"]


@pytest.mark.parametrize(("body", "content_type", "status"), [
    (b"name=a&name=b", "application/x-www-form-urlencoded", 400),
    (b"name=%ff%fe", "application/x-www-form-urlencoded", 400),
    (b"\xff\xfe\x00", "application/x-www-form-urlencoded", 400),
    (b'{"name": "wang"}', "application/json", 400),
    (b"name=wang", None, 400),
    (b"&".join(b"f%d=1" % i for i in range(60)), "application/x-www-form-urlencoded", 400),
    (b"x=" + b"a" * (MAX_FORM + 1), "application/x-www-form-urlencoded", 413),
])
def test_a_broken_form_is_refused_with_a_reason(console_hub: ConsoleHub, body: bytes,
                                                content_type: str | None, status: int) -> None:
    session, _ = console_hub.session_for("alice")
    before = console_hub.console.audit()
    headers = {**console_hub.origin()}
    if content_type is not None:
        headers["Content-Type"] = content_type
    with console_hub.client(session) as client:
        answer = client.post("/console/operators", content=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert 'id="error"' in answer.text
    assert console_hub.console.audit() == before


@pytest.mark.parametrize("path", ["/console/", "/console/operators", "/v1/console/whoami"])
@pytest.mark.parametrize("cookie", ["", "x", "é" * 10, "a" * 5000, "; ;=;"])
def test_a_garbage_session_cookie_is_no_session(console_hub: ConsoleHub, path: str,
                                                cookie: str) -> None:
    raw = f"stationlink_session={cookie}".encode()
    answer = httpx.get(console_hub.url + path, headers={"Cookie": raw})
    assert answer.status_code in (303, 401)


def test_a_huge_or_odd_name_signs_in_to_nothing(console_hub: ConsoleHub) -> None:
    with console_hub.client() as client:
        for name in ("x" * 60_000, "\x00", "alice\n", "' OR 1=1 --"):
            assert console_hub.sign_in(client, name, "whatever pass").status_code == 401


def test_the_limiter_tracks_a_bounded_number_of_names() -> None:
    clock = Clock(T0)
    limiter = LoginLimiter(clock, max_keys=100)
    for i in range(1000):
        limiter.failed(f"name{i}" * 1000, "10.0.0.1")
    assert len(limiter._failures) <= 100  # noqa: SLF001 - the bound is the point
    assert all(len(key[1]) <= 128 for key in limiter._failures)  # noqa: SLF001
    clock.now += timedelta(minutes=15)
    assert limiter.wait("name999" * 1000, "10.0.0.1") == 0


def test_sign_in_from_a_foreign_page_keeps_the_form_working(console_hub: ConsoleHub) -> None:
    """A stale sign-in form (its cookie gone) is refused, and the next form works."""
    with console_hub.client() as client:
        token = csrf_field(client.get("/console/login").text)
        client.cookies.clear()
        stale = client.post("/console/login", headers=console_hub.origin(),
                            data={"csrf_token": token, "name": "alice", "password": "x"})
        assert stale.status_code == 403
        assert console_hub.sign_in(client, "alice").status_code == 303
