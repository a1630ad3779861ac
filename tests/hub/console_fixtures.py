"""Fixtures for the console tests: a real hub server with operators, once per store (a SQLite
file and, with ``STATIONLINK_TEST_PG``, a PostgreSQL database: the ``hub_db`` fixture of
hub_fixtures.py), and an httpx client that signs in through the real form (cookies, CSRF
token, Origin)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST

from stationlink.hub import server
from stationlink.hub.app import create_app
from stationlink.hub.closing import DEFAULT_CLOSE_DAY
from stationlink.hub.console import ConsoleOptions, Role
from stationlink.hub.console.backend import console_store_for
from stationlink.hub.console.limiter import LoginLimiter
from stationlink.hub.console.passwords import Passwords
from stationlink.hub.console.security import SESSION_COOKIE, hash_secret, new_secret
from stationlink.hub.console.store import Actor
from stationlink.hub.server import BackgroundServer
from stationlink.hub.stores import open_hub_store, sqlite_path
from stationlink.hub.tokens import hash_token, new_token
from stationlink.money import CST

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=CST)
PASSWORD = "correct horse battery"  # noqa: S105 - a test operator's
ROLES = (Role.VIEWER, Role.FINANCE, Role.ADMIN)
_HIDDEN = re.compile(r'name="csrf_token" value="([^"]*)"')


class Clock:
    """The hub's wall clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def csrf_field(html: str) -> str:
    found = _HIDDEN.search(html)
    assert found is not None, html
    return found.group(1)


class ConsoleHub:
    """A real uvicorn hub (console mounted) on 127.0.0.1:0 over ``db`` (a SQLite file, or a
    ``postgresql://`` URL already migrated); a station token for S1; cheap argon2 parameters
    (still argon2id) so sign-ins are quick; ``close_day`` the store's (``hub serve
    --close-day``; ``pdf_font`` its ``--pdf-font``). ``kind`` is the store, :meth:`sql` a
    query."""

    def __init__(self, db: Path | str, clock: Clock, *, tls: tuple[Path, Path] | None = None,
                 limiter: LoginLimiter | None = None, lang: str = "zh",
                 close_day: int = DEFAULT_CLOSE_DAY, pdf_font: Path | None = None) -> None:
        self.clock = clock
        self.db = db
        file = sqlite_path(db)
        self.kind = "postgresql" if file is None else "sqlite"
        self.path = file
        self.store = open_hub_store(db, close_day=close_day)
        self.console = console_store_for(self.store)
        self.passwords = Passwords(PasswordHasher.from_parameters(CHEAPEST))
        self.limiter = limiter or LoginLimiter(clock)
        token_id, self.station_token = new_token()
        self.store.add_token(token_id, "S1", hash_token(self.station_token), clock())
        app = create_app(self.store, clock=clock, console=ConsoleOptions(
            passwords=self.passwords, limiter=self.limiter, lang=lang, pdf_font=pdf_font))
        self.server = BackgroundServer(app, tls_cert=tls and tls[0], tls_key=tls and tls[1])
        self.url = self.server.url

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        """Rows of ``query`` on the hub's database (SQL both stores understand)."""
        if self.path is not None:
            with closing(sqlite3.connect(self.path)) as conn:
                return conn.execute(query).fetchall()
        import psycopg

        with psycopg.connect(str(self.db)) as conn:
            return conn.execute(query.encode()).fetchall()

    def add_operator(self, name: str, role: Role, password: str = PASSWORD, *,
                     must_change: bool = False) -> None:
        self.console.add_operator(name, role, self.passwords.hash(password),
                                  must_change_password=must_change, now=self.clock(),
                                  actor=Actor("test"))

    def session_for(self, name: str) -> tuple[str, str]:
        """(cookie value, CSRF token) of a session made directly in the store."""
        sid, csrf = new_secret(), new_secret()
        self.console.create_session(hash_secret(sid), name, csrf, now=self.clock(),
                                    expires_at=self.clock() + timedelta(hours=12),
                                    actor=Actor(name))
        return sid, csrf

    def client(self, session: str | None = None, **kw: Any) -> httpx.Client:
        client = httpx.Client(base_url=self.url, follow_redirects=False, timeout=10, **kw)
        if session is not None:
            client.cookies.set(SESSION_COOKIE, session)
        return client

    def origin(self) -> dict[str, str]:
        return {"Origin": self.url}

    def sign_in(self, client: httpx.Client, name: str, password: str = PASSWORD,
                **extra: str) -> httpx.Response:
        page = client.get("/console/login")
        assert page.status_code == 200, page.text
        return client.post("/console/login", headers=self.origin(), data={
            "csrf_token": csrf_field(page.text), "name": name, "password": password, **extra})

    def post(self, client: httpx.Client, path: str, data: dict[str, str],
             csrf: str | None) -> httpx.Response:
        form = dict(data)
        if csrf is not None:
            form["csrf_token"] = csrf
        return client.post(path, data=form, headers=self.origin())

    def close(self) -> None:
        self.server.stop()
        self.store.close()


@pytest.fixture
def console_clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def console_hub(hub_db: str, console_clock: Clock) -> Iterator[ConsoleHub]:
    """A console hub with alice (admin), fan (finance) and wang (viewer), once per store."""
    hub = ConsoleHub(hub_db, console_clock)
    hub.add_operator("alice", Role.ADMIN)
    hub.add_operator("fan", Role.FINANCE)
    hub.add_operator("wang", Role.VIEWER)
    yield hub
    hub.close()


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What 'hub serve' hands to :func:`stationlink.hub.server.serve` (not serving), with no
    language or PDF font from the environment."""
    calls: list[dict[str, Any]] = []

    def fake(db: Any, bind: str, **kw: Any) -> None:
        calls.append({"db": db, "bind": bind, **kw})

    monkeypatch.setattr(server, "serve", fake)
    monkeypatch.delenv("STATIONLINK_LANG", raising=False)
    monkeypatch.delenv("STATIONLINK_PDF_FONT", raising=False)
    return calls
