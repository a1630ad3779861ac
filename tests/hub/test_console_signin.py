"""Signing in to the console over a real HTTP server: cookies, CSRF, rate limit, sessions."""

from __future__ import annotations

import httpx
import pytest
from console_fixtures import PASSWORD, Clock, ConsoleHub, console_clock, console_hub, csrf_field

from stationlink.hub.console import Role
from stationlink.hub.console.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE, hash_secret
from stationlink.hub.console.store import Actor

__all__ = ["console_clock", "console_hub"]


def set_cookie_headers(response: httpx.Response, name: str) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith(name + "=")]


def refused_then_free(hub: ConsoleHub, client: httpx.Client, clock: Clock, name: str,
                      **wait: float) -> None:
    """``name`` signing in from ``client`` is refused (429) now, and succeeds (303) once
    ``wait`` (``timedelta`` arguments) has passed on the hub's clock."""
    assert hub.sign_in(client, name).status_code == 429
    clock.advance(**wait)
    assert hub.sign_in(client, name).status_code == 303


def test_sign_in_sets_a_strict_httponly_session_cookie_and_greets_in_chinese(
        console_hub: ConsoleHub) -> None:
    with console_hub.client() as client:
        page = client.get("/console/login")
        assert page.status_code == 200
        assert "操作员登录" in page.text
        assert 'lang="zh-CN"' in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        answer = console_hub.sign_in(client, "alice")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/"
        (cookie,) = set_cookie_headers(answer, SESSION_COOKIE)
        flags = [f.strip().lower() for f in cookie.split(";")]
        assert "httponly" in flags
        assert "samesite=strict" in flags
        assert "path=/" in flags
        assert "secure" not in flags  # plain HTTP here; see the TLS test
        home = client.get("/console/")
        assert home.status_code == 200
        assert "你好,alice(管理员)" in home.text.replace("，", ",").replace("（", "(").replace(
            "）", ")")
        who = client.get("/v1/console/whoami").json()
        assert who["name"] == "alice"
        assert who["role"] == "admin"


def test_only_the_hash_of_the_session_id_is_stored(console_hub: ConsoleHub) -> None:
    with console_hub.client() as client:
        console_hub.sign_in(client, "wang")
        sid = client.cookies[SESSION_COOKIE]
    assert len(sid) >= 43  # 256 bits, URL-safe base64
    if console_hub.path is not None:  # SQLite: the file's bytes, WAL included
        raw = console_hub.path.read_bytes() + \
            console_hub.path.with_name("hub.sqlite-wal").read_bytes()
    else:  # PostgreSQL: every row of the console's tables, as text
        raw = "\n".join(
            row[0] for table in ("operators", "console_sessions", "audit")
            for row in console_hub.sql(f"SELECT t::text FROM {table} t")).encode()  # noqa: S608
    assert sid.encode() not in raw
    assert hash_secret(sid).encode() in raw
    assert console_hub.sql("SELECT session_hash FROM console_sessions") == [(hash_secret(sid),)]


@pytest.mark.parametrize("password", ["wrong password!", ""])
def test_a_wrong_or_empty_password_gets_no_session(console_hub: ConsoleHub,
                                                   password: str) -> None:
    with console_hub.client() as client:
        answer = console_hub.sign_in(client, "alice", password)
        assert answer.status_code == (400 if not password else 401)
        assert not set_cookie_headers(answer, SESSION_COOKIE)
        assert client.get("/v1/console/whoami").status_code == 401


def test_an_unknown_or_disabled_name_gets_the_same_answer_as_a_wrong_password(
        console_hub: ConsoleHub) -> None:
    console_hub.console.set_enabled("wang", False, now=console_hub.clock(),
                                    actor=Actor("test"))
    with console_hub.client() as client:
        wrong = console_hub.sign_in(client, "alice", "not the password")
        unknown = console_hub.sign_in(client, "nobody")
        disabled = console_hub.sign_in(client, "wang")
    assert wrong.status_code == unknown.status_code == disabled.status_code == 401
    assert "用户名或密码错误" in wrong.text
    assert error_line(wrong) == error_line(unknown) == error_line(disabled)


def error_line(response: httpx.Response) -> str:
    line = next(x for x in response.text.splitlines() if 'id="error"' in x)
    return line


def test_login_csrf_the_form_needs_its_cookie_token_and_our_origin(
        console_hub: ConsoleHub) -> None:
    with console_hub.client() as client:
        token = csrf_field(client.get("/console/login").text)
        form = {"csrf_token": token, "name": "alice", "password": PASSWORD}
        # a token that is not the cookie's (its last character changed: never equal by luck)
        forged = token[:-1] + ("A" if token[-1] != "A" else "B")
        assert forged != token
        bad = client.post("/console/login", headers=console_hub.origin(),
                          data={**form, "csrf_token": forged})
        # no Origin and no Referer
        no_origin = client.post("/console/login", data=form)
        # another site's Origin
        other = client.post("/console/login", data=form,
                            headers={"Origin": "http://evil.example"})
        for answer in (bad, no_origin, other):
            assert answer.status_code == 403
            assert not set_cookie_headers(answer, SESSION_COOKIE)
        # the Referer of our own page is enough when the browser sends no Origin
        ok = client.post("/console/login", data=form,
                         headers={"Referer": console_hub.url + "/console/login"})
        assert ok.status_code == 303
        assert set_cookie_headers(ok, SESSION_COOKIE)
        assert any("max-age=0" in h.lower() or "expires=" in h.lower()
                   for h in set_cookie_headers(ok, LOGIN_CSRF_COOKIE))


def test_a_form_without_the_session_csrf_token_changes_nothing(
        console_hub: ConsoleHub) -> None:
    sid, csrf = console_hub.session_for("alice")
    before = console_hub.console.audit()
    with console_hub.client(sid) as client:
        data = {"action": "disable", "name": "wang"}
        missing = console_hub.post(client, "/console/operators", data, None)
        wrong = console_hub.post(client, "/console/operators", data, "x" * 43)
        foreign = client.post("/console/operators", data={**data, "csrf_token": csrf},
                              headers={"Origin": "http://evil.example"})
        for answer in (missing, wrong, foreign):
            assert answer.status_code == 403, answer.text
        assert console_hub.console.operator("wang").enabled  # type: ignore[union-attr]
        assert console_hub.console.audit() == before
        done = console_hub.post(client, "/console/operators", data, csrf)
        assert done.status_code == 200, done.text
    assert not console_hub.console.operator("wang").enabled  # type: ignore[union-attr]


def test_attempts_are_limited_per_account_with_the_injected_clock(
        console_hub: ConsoleHub, console_clock: Clock) -> None:
    with console_hub.client() as client:
        for _ in range(5):
            assert console_hub.sign_in(client, "alice", "bad password").status_code == 401
        locked = console_hub.sign_in(client, "alice")  # even the right password
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) == 15 * 60 + 1
        assert "登录失败次数过多" in locked.text
        assert "15" in locked.text
        assert not set_cookie_headers(locked, SESSION_COOKIE)
        # another account from the same address is not locked (address limit is 20)
        with console_hub.client() as other:
            assert console_hub.sign_in(other, "wang").status_code == 303
        console_clock.advance(minutes=14, seconds=59)
        refused_then_free(console_hub, client, console_clock, "alice", seconds=1)


def test_attempts_are_limited_per_address_across_accounts(console_hub: ConsoleHub,
                                                          console_clock: Clock) -> None:
    with console_hub.client() as client:
        for i in range(20):
            name = f"guess{i % 4}"  # 5 per name: each name at its own limit too
            assert console_hub.sign_in(client, name, "bad password").status_code == 401
        refused_then_free(console_hub, client, console_clock, "wang", minutes=16)


def test_a_session_expires_when_idle_and_at_its_end(console_hub: ConsoleHub,
                                                    console_clock: Clock) -> None:
    with console_hub.client() as client:
        console_hub.sign_in(client, "wang")
        for _ in range(6):  # active every 1 h 50: never idle for 2 h
            console_clock.advance(hours=1, minutes=50)
            assert client.get("/v1/console/whoami").status_code == 200
        console_clock.advance(hours=1)  # 12 h after sign-in: the session's end
        assert client.get("/v1/console/whoami").status_code == 401
        console_hub.sign_in(client, "wang")
        console_clock.advance(hours=2)
        assert client.get("/v1/console/whoami").status_code == 401
        page = client.get("/console/operators")
        assert page.status_code == 303
        assert page.headers["location"] == "/console/login?next=%2Fconsole%2Foperators"


def test_sign_out_ends_the_session_on_the_server(console_hub: ConsoleHub) -> None:
    with console_hub.client() as client:
        console_hub.sign_in(client, "fan")
        sid = client.cookies[SESSION_COOKIE]
        csrf = csrf_field(client.get("/console/").text)
        out = console_hub.post(client, "/console/logout", {}, csrf)
        assert out.status_code == 303
        assert out.headers["location"] == "/console/login"
    with console_hub.client(sid) as replay:  # the old cookie, kept by an attacker
        assert replay.get("/v1/console/whoami").status_code == 401
    actions = [e.action for e in console_hub.console.audit()]
    assert actions[:2] == ["session.sign_out", "session.sign_in"]


def test_signing_in_again_replaces_the_session_no_fixation(console_hub: ConsoleHub) -> None:
    planted, _ = console_hub.session_for("wang")  # a session id an attacker knows
    with console_hub.client() as client:
        token = csrf_field(client.get("/console/login").text)
        client.cookies.set(SESSION_COOKIE, planted)  # planted in the victim's browser
        answer = client.post("/console/login", headers=console_hub.origin(), data={
            "csrf_token": token, "name": "alice", "password": PASSWORD})
        assert answer.status_code == 303
        fresh = answer.cookies[SESSION_COOKIE]
    assert fresh != planted
    with console_hub.client(planted) as old:
        assert old.get("/v1/console/whoami").status_code == 401
    with console_hub.client(fresh) as new:
        assert new.get("/v1/console/whoami").json()["name"] == "alice"


@pytest.mark.parametrize(("target", "landing"), [
    ("/console/audit", "/console/audit"),
    ("https://evil.example/", "/console/"),
    ("//evil.example/console/", "/console/"),
    ("/console/..//evil.example", "/console/"),
    ("/v1/stations/S1/batches", "/console/"),
])
def test_after_sign_in_only_a_console_path_is_followed(console_hub: ConsoleHub, target: str,
                                                       landing: str) -> None:
    with console_hub.client() as client:
        answer = console_hub.sign_in(client, "alice", next=target)
        assert answer.headers["location"] == landing


def test_a_one_time_password_must_be_changed_before_anything_else(
        console_hub: ConsoleHub) -> None:
    console_hub.add_operator("zhao", Role.FINANCE, "one-time-pass-123", must_change=True)
    with console_hub.client() as client:
        answer = console_hub.sign_in(client, "zhao", "one-time-pass-123")
        assert answer.headers["location"] == "/console/password"
        assert client.get("/console/").headers["location"] == "/console/password"
        assert client.get("/v1/console/whoami").json()["must_change_password"] is True
        page = client.get("/console/password")
        csrf = csrf_field(page.text)
        short = console_hub.post(client, "/console/password", {
            "current": "one-time-pass-123", "new": "short", "again": "short"}, csrf)
        assert short.status_code == 400
        assert "10" in short.text
        done = console_hub.post(client, "/console/password", {
            "current": "one-time-pass-123", "new": "my own secret 42",
            "again": "my own secret 42"}, csrf)
        assert done.status_code == 303, done.text
        assert client.get("/console/").status_code == 200  # this session stays
    with console_hub.client() as client:
        assert console_hub.sign_in(client, "zhao", "one-time-pass-123").status_code == 401
        assert console_hub.sign_in(client, "zhao", "my own secret 42").headers[
            "location"] == "/console/"
    entry = console_hub.console.audit()[1]
    assert entry.action == "operator.change_password"
    assert entry.before is not None
    assert entry.before["must_change_password"] is True
    assert entry.after is not None
    assert entry.after["must_change_password"] is False


def test_a_rehash_upgrades_an_old_hash_at_sign_in(console_hub: ConsoleHub) -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    console_hub.console.set_password("wang", weak, must_change_password=False,
                                     now=console_hub.clock(), actor=Actor("test"))
    with console_hub.client() as client:
        assert console_hub.sign_in(client, "wang").status_code == 303
    stored = console_hub.console.password_hash("wang")
    assert stored is not None
    assert stored != weak
    assert not console_hub.passwords.needs_rehash(stored)
    assert console_hub.passwords.verify(stored, PASSWORD)
