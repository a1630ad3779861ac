"""The console end to end: an operator added with the CLI signs in to a real ``hub serve``
process (on each store); and a store that cannot be written answers 503, never 500."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from console_fixtures import PASSWORD, T0, Clock, csrf_field

from stationlink.cli.main import cli
from stationlink.hub.app import create_app
from stationlink.hub.console import ConsoleOptions, Role
from stationlink.hub.console.sqlite import SqliteConsoleStore
from stationlink.hub.console.store import Actor
from stationlink.hub.server import BackgroundServer
from stationlink.hub.sqlite_store import SqliteHubStore


@pytest.mark.slow
def test_an_operator_added_with_the_cli_signs_in_to_hub_serve(hub_db: str) -> None:
    """Once per store: a SQLite file, and a PostgreSQL URL (``--db postgresql://...``)."""
    db = hub_db
    added = CliRunner().invoke(cli, ["hub", "operator", "add", "alice", "--role", "admin",
                                     "--password-stdin", "--db", str(db)],
                               input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    proc = subprocess.Popen(
        [sys.executable, "-c", "from stationlink.cli.main import main; main()",
         "hub", "serve", "--db", str(db), "--bind", "127.0.0.1:0"],
        stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith("hub listening on "), line
        url = line.split()[-1]
        with httpx.Client(base_url=url, timeout=10) as client:
            token = csrf_field(client.get("/console/login").text)
            answer = client.post("/console/login", headers={"Origin": url}, data={
                "csrf_token": token, "name": "alice", "password": PASSWORD})
            assert answer.status_code == 303, answer.text
            assert "你好" in client.get("/console/").text
            assert client.get("/v1/console/whoami").json()["role"] == "admin"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        if proc.stderr is not None:
            proc.stderr.close()
    audit = CliRunner().invoke(cli, ["hub", "audit", "--json", "--db", str(db)])
    assert '"session.sign_in"' in audit.stdout


def test_a_store_that_cannot_be_written_answers_503(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite"
    writable = SqliteHubStore(path)
    from argon2 import PasswordHasher
    from argon2.profiles import CHEAPEST

    from stationlink.hub.console.passwords import Passwords

    passwords = Passwords(PasswordHasher.from_parameters(CHEAPEST))
    SqliteConsoleStore(writable).add_operator(
        "alice", Role.ADMIN, passwords.hash(PASSWORD), must_change_password=False, now=T0,
        actor=Actor("test"))
    writable.close()
    store = SqliteHubStore(path, create=False, read_only=True)
    clock = Clock(T0)
    try:
        with BackgroundServer(create_app(store, clock=clock, console=ConsoleOptions(
                passwords=passwords))) as server, \
                httpx.Client(base_url=server.url, timeout=10) as client:
            token = csrf_field(client.get("/console/login").text)
            answer = client.post("/console/login", headers={"Origin": server.url}, data={
                "csrf_token": token, "name": "alice", "password": PASSWORD})
            assert answer.status_code == 503, answer.text
            assert "数据库暂时不可用" in answer.text
            assert str(path) not in answer.text
    finally:
        store.close()
