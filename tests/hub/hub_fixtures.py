"""Fixtures for the hub tests: journal records, a buffer file, a real hub server on port 0.

The ``hub`` fixture is parametrised over the stores, ``["sqlite", "postgresql"]``: every
test using it runs once per store. PostgreSQL comes from ``STATIONLINK_TEST_PG`` (a DSN of a
server the tests may create databases on); the session creates one database with a random
name and drops it at the end, and each test gets its own schema in it (``search_path`` in
the URL). Without the variable every PostgreSQL test is skipped with the one reason
:data:`PG_SKIP` (pytest's ``-ra`` summary shows it as one line).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import pytest
from click.testing import CliRunner

from stationlink.cli.main import cli

if TYPE_CHECKING:
    import trustme

    from stationlink.hub.store import HubStore

_BUFFER_TESTS = str(Path(__file__).resolve().parent.parent / "buffer")
if _BUFFER_TESTS not in sys.path:  # also when only tests/hub is collected
    sys.path.insert(0, _BUFFER_TESTS)

# the journal records and the buffer file of the buffer tests, shared
from buffer_fixtures import CARD, T0, MakeRecord, buf, make_record  # noqa: E402

__all__ = ["CARD", "PG_ENV", "PG_SKIP", "T0", "Clock", "Hub", "HubProcess", "MakeRecord",
           "PgServer", "buf", "clock", "create_token", "hub_db", "http", "hub", "make_record",
           "pg_db", "pg_server", "write_tls_files"]

PG_ENV = "STATIONLINK_TEST_PG"
PG_SKIP = (f"PostgreSQL store tests skipped: {PG_ENV} is not set (a server DSN, e.g. "
           "postgresql://postgres@127.0.0.1:5432/test; .ci/run sets it)")
STORES = ["sqlite", "postgresql"]


class PgServer:
    """The session's PostgreSQL database (random name, dropped at the end); :meth:`new_db`
    gives a test a fresh, empty schema in it as a ``postgresql://`` URL."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.admin = dsn
        self.name = f"stationlink_test_{secrets.token_hex(6)}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {self.name}".encode())
        parts = urlsplit(dsn)
        self.url = urlunsplit((parts.scheme, parts.netloc, "/" + self.name, "", ""))

    def new_db(self) -> str:
        import psycopg

        schema = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}".encode())
        return f"{self.url}?options={quote(f'-c search_path={schema}')}"

    def drop_db(self, url: str) -> None:
        import psycopg

        schema = url.rsplit("%3D", 1)[1]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())

    def sql(self, url: str, query: str) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(url) as conn:
            return conn.execute(query.encode()).fetchall()

    def close(self) -> None:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)".encode())


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    dsn = os.environ.get(PG_ENV)
    if not dsn:
        pytest.skip(PG_SKIP)
    server = PgServer(dsn)
    yield server
    server.close()


@pytest.fixture
def pg_db(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (a schema of its own) as a ``--db`` URL."""
    url = pg_server.new_db()
    yield url
    pg_server.drop_db(url)


@pytest.fixture(params=STORES)
def hub_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new hub database of each store, as a ``--db`` value (PostgreSQL: migrated)."""
    if request.param == "sqlite":
        return str(tmp_path / "hub.sqlite")
    from stationlink.hub.stores import migrate_hub

    url: str = request.getfixturevalue("pg_db")
    migrate_hub(url)
    return url


class Clock:
    """A settable clock for the hub (arrival times decide lateness)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Hub:
    """A real uvicorn hub on 127.0.0.1:0 over a hub database (a SQLite file, or a
    ``postgresql://`` URL already migrated), with tokens for S1 and S2; :meth:`make_app`
    builds the ASGI app it serves (a subclass may wrap or tune it). ``path`` is the ``--db``
    value (a :class:`Path` for SQLite), ``kind`` the store, :meth:`sql` a query on it."""

    def __init__(self, path: Path | str, clock: Clock) -> None:
        from stationlink.hub.server import BackgroundServer
        from stationlink.hub.stores import open_hub_store, sqlite_path
        from stationlink.hub.tokens import hash_token, new_token

        file = sqlite_path(path)
        self.kind = "postgresql" if file is None else "sqlite"
        self.path: Path | str = path if file is None else file
        self.clock = clock
        self.store = open_hub_store(path)
        self.tokens: dict[str, str] = {}
        for station in ("S1", "S2"):
            token_id, token = new_token()
            self.store.add_token(token_id, station, hash_token(token), clock())
            self.tokens[station] = token
        self.server = BackgroundServer(self.make_app(self.store, clock))
        self.url = self.server.url

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        """Rows of ``query`` on the hub's database (plain SQL both stores understand)."""
        if isinstance(self.path, Path):
            with closing(sqlite3.connect(self.path)) as conn:
                rows = conn.execute(query).fetchall()
                conn.commit()
                return rows
        import psycopg

        with psycopg.connect(self.path) as conn:
            cur = conn.execute(query.encode())
            return cur.fetchall() if cur.description is not None else []

    def make_app(self, store: HubStore, clock: Clock) -> Any:
        from stationlink.hub.app import create_app

        return create_app(store, clock=clock)

    def headers(self, station: str = "S1") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[station]}"}

    def close(self) -> None:
        self.server.stop()
        self.store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + timedelta(hours=1))


@pytest.fixture
def hub(hub_db: str, clock: Clock) -> Iterator[Hub]:
    """A real hub server, once per store (see the module docstring)."""
    h = Hub(hub_db, clock)
    yield h
    h.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


class HubProcess:
    def __init__(self, db: Path | str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from stationlink.cli.main import main; main()",
             "hub", "serve", "--db", str(db), "--bind", "127.0.0.1:0"],
            stderr=subprocess.PIPE, text=True,
        )
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        if not line.startswith("hub listening on "):
            self.proc.kill()
            code, rest = self.finish()
            pytest.fail(f"hub did not start (exit {code}): {line}{rest}")
        self.url = line.split()[-1]

    def finish(self) -> tuple[int, str]:
        assert self.proc.stderr is not None
        rest = self.proc.stderr.read()
        self.proc.stderr.close()
        return self.proc.wait(timeout=15), rest


def create_token(db: Path | str, station: str) -> str:
    result = CliRunner().invoke(cli, ["hub", "token", "create", "--db", str(db),
                                      "--station", station])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def write_tls_files(ca: trustme.CA, folder: Path, *hosts: str) -> tuple[Path, Path, Path]:
    """A server certificate of ``ca`` for ``hosts``, written into ``folder``: ``cert.pem``
    (with its chain), ``key.pem`` and the CA's ``ca.pem``, in that order."""
    cert = ca.issue_cert(*hosts)
    cert_file, key_file, ca_file = (folder / n for n in ("cert.pem", "key.pem", "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(str(cert_file), append=True)
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    return cert_file, key_file, ca_file
