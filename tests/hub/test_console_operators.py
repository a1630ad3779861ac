"""Operators managed through the console's page and through the CLI, each change audited
(who, when, what, before/after; never a password or a hash), on each store: a real SQLite
file and a real PostgreSQL database (``hub_db``)."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from console_fixtures import PASSWORD, ConsoleHub, console_clock, console_hub

from stationlink.cli.main import cli
from stationlink.hub.console import Role
from stationlink.hub.console.backend import console_store_for
from stationlink.hub.console.sqlite import SqliteConsoleStore
from stationlink.hub.console.store import Actor
from stationlink.hub.hub_schema import SCHEMA_VERSION
from stationlink.hub.sqlite_store import SqliteHubStore
from stationlink.hub.stores import open_hub_store, sqlite_path

__all__ = ["console_clock", "console_hub"]
ONE_TIME = re.compile(r'id="one-time-password">([^<]+)<')


def admin_client(hub: ConsoleHub):  # type: ignore[no-untyped-def]
    session, csrf = hub.session_for("alice")
    return hub.client(session), csrf


def test_an_admin_adds_an_operator_who_signs_in_with_the_one_time_password(
        console_hub: ConsoleHub) -> None:
    client, csrf = admin_client(console_hub)
    with client:
        page = console_hub.post(client, "/console/operators",
                                {"action": "add", "name": "李四", "role": "finance"}, csrf)
        assert page.status_code == 200, page.text
        found = ONE_TIME.search(page.text)
        assert found is not None
        one_time = found.group(1)
    added = console_hub.console.operator("李四")
    assert added is not None
    assert (added.role, added.must_change_password) == (Role.FINANCE, True)
    with console_hub.client() as new:
        answer = console_hub.sign_in(new, "李四", one_time)
        assert answer.headers["location"] == "/console/password"
    entry = next(e for e in console_hub.console.audit() if e.action == "operator.add")
    assert (entry.actor, entry.target, entry.before) == ("alice", "李四", None)
    assert entry.after == {"name": "李四", "role": "finance", "enabled": True,
                           "must_change_password": True}
    assert entry.address == "127.0.0.1"


@pytest.mark.parametrize(("form", "message"), [
    ({"action": "add", "name": "wang", "role": "viewer"}, "已存在"),
    ({"action": "add", "name": "x" * 65, "role": "viewer"}, "64"),
    ({"action": "add", "name": "a\x01b", "role": "viewer"}, "64"),
    ({"action": "add", "name": "new", "role": "root"}, "未知角色"),
    ({"action": "disable", "name": "nobody"}, "nobody"),
    ({"action": "disable", "name": "alice"}, "不能停用自己"),
    ({"action": "set_role", "name": "alice", "role": "viewer"}, "不能停用自己"),
    ({"action": "drop_table", "name": "wang"}, "未知操作"),
])
def test_a_refused_change_says_why_in_chinese_and_changes_nothing(
        console_hub: ConsoleHub, form: dict[str, str], message: str) -> None:
    before = (console_hub.console.operators(), console_hub.console.audit())
    client, csrf = admin_client(console_hub)
    with client:
        answer = console_hub.post(client, "/console/operators", form, csrf)
    assert answer.status_code == 400
    assert message in answer.text
    assert (console_hub.console.operators(), console_hub.console.audit()[1:]) == \
        (before[0], before[1])  # only the admin's sign-in row was added


def test_disabling_ends_the_operators_sessions_at_once(console_hub: ConsoleHub) -> None:
    wang_session, _ = console_hub.session_for("wang")
    client, csrf = admin_client(console_hub)
    with client, console_hub.client(wang_session) as wang:
        assert wang.get("/v1/console/whoami").status_code == 200
        answer = console_hub.post(client, "/console/operators",
                                  {"action": "disable", "name": "wang"}, csrf)
        assert answer.status_code == 200
        assert wang.get("/v1/console/whoami").status_code == 401
        assert console_hub.sign_in(wang, "wang").status_code == 401
        console_hub.post(client, "/console/operators", {"action": "enable", "name": "wang"},
                         csrf)
        assert console_hub.sign_in(wang, "wang").status_code == 303


def test_a_role_change_applies_to_the_open_session(console_hub: ConsoleHub) -> None:
    wang_session, _ = console_hub.session_for("wang")
    client, csrf = admin_client(console_hub)
    with client, console_hub.client(wang_session) as wang:
        assert wang.get("/console/operators").status_code == 403
        console_hub.post(client, "/console/operators",
                         {"action": "set_role", "name": "wang", "role": "admin"}, csrf)
        assert wang.get("/console/operators").status_code == 200
    entry = console_hub.console.audit()[0]
    assert entry.action == "operator.set_role"
    assert (entry.before or {})["role"] == "viewer"
    assert (entry.after or {})["role"] == "admin"


def test_reset_password_gives_a_one_time_password_and_ends_sessions(
        console_hub: ConsoleHub) -> None:
    fan_session, _ = console_hub.session_for("fan")
    client, csrf = admin_client(console_hub)
    with client:
        page = console_hub.post(client, "/console/operators",
                                {"action": "reset_password", "name": "fan"}, csrf)
    found = ONE_TIME.search(page.text)
    assert found is not None
    with console_hub.client(fan_session) as fan:
        assert fan.get("/v1/console/whoami").status_code == 401
        assert console_hub.sign_in(fan, "fan", PASSWORD).status_code == 401
        assert console_hub.sign_in(fan, "fan", found.group(1)).headers["location"] == \
            "/console/password"


def test_the_audit_page_lists_changes_and_never_a_secret(console_hub: ConsoleHub) -> None:
    client, csrf = admin_client(console_hub)
    with client:
        page = console_hub.post(client, "/console/operators",
                                {"action": "reset_password", "name": "wang"}, csrf)
        one_time = ONE_TIME.search(page.text)
        audit = client.get("/console/audit")
    assert one_time is not None
    assert audit.status_code == 200
    assert "operator.reset_password" in audit.text
    assert "审计记录" in audit.text
    stored = console_hub.console.password_hash("wang")
    assert stored is not None
    for secret in (one_time.group(1), stored, "$argon2"):
        assert secret not in audit.text
    for entry in console_hub.console.audit():
        text = json.dumps([entry.before, entry.after])
        assert "argon2" not in text
        assert "password_hash" not in text


def test_the_audit_page_escapes_what_operators_typed(console_hub: ConsoleHub) -> None:
    client, csrf = admin_client(console_hub)
    with client:
        console_hub.post(client, "/console/operators",
                         {"action": "add", "name": "<script>x</script>", "role": "viewer"},
                         csrf)
        audit = client.get("/console/audit").text
        operators = client.get("/console/operators").text
    assert "<script>" not in audit
    assert "<script>" not in operators
    assert "&lt;script&gt;" in operators


def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]  # noqa: A002
    return CliRunner().invoke(cli, ["hub", *args], input=input)


def stored_text(db: str) -> bytes:
    """Everything the hub database holds of the console: a SQLite file's bytes (WAL
    included), or every row of PostgreSQL's console tables as text."""
    path = sqlite_path(db)
    if path is not None:
        wal = path.with_name(path.name + "-wal")
        return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    import psycopg

    with psycopg.connect(db) as conn:
        return "\n".join(
            row[0] for table in ("operators", "console_sessions", "audit")
            for row in conn.execute(f"SELECT t::text FROM {table} t".encode())  # noqa: S608
        ).encode()


def test_cli_operators_are_added_changed_and_audited(hub_db: str) -> None:
    db = hub_db
    added = run("operator", "add", "alice", "--role", "admin", "--password-stdin",
                "--db", db, input="a long password\n")
    assert added.exit_code == 0, added.output
    generated = run("operator", "add", "bob", "--role", "viewer", "--generate", "--db", db)
    assert generated.exit_code == 0, generated.output
    one_time = generated.stdout.strip()
    assert len(one_time) == 16
    prompted = run("operator", "add", "carol", "--role", "finance", "--db", db,
                   input="another password\nanother password\n")
    assert prompted.exit_code == 0, prompted.output
    mismatch = run("operator", "add", "dave", "--role", "finance", "--db", db,
                   input="another password\ndifferent password\n" * 3)
    assert mismatch.exit_code != 0
    assert run("operator", "set-role", "bob", "finance", "--db", db).exit_code == 0
    assert run("operator", "disable", "carol", "--db", db).exit_code == 0
    listed = json.loads(run("operator", "list", "--json", "--db", db).stdout)
    assert [(o["name"], o["role"], o["enabled"], o["must_change_password"]) for o in listed] \
        == [("alice", "admin", True, False), ("bob", "finance", True, True),
            ("carol", "finance", False, False)]
    audit = json.loads(run("audit", "--json", "--db", db).stdout)
    assert [e["action"] for e in audit] == ["operator.disable", "operator.set_role",
                                            "operator.add", "operator.add", "operator.add"]
    assert all(e["actor"].startswith("cli:") for e in audit)
    text = stored_text(db)
    assert b"$argon2id$" in text  # the hashes are there; the passwords never
    for secret in (b"a long password", b"another password", one_time.encode()):
        assert secret not in text
    store = open_hub_store(db)
    try:
        console = console_store_for(store)
        from stationlink.hub.console.passwords import Passwords

        hashed = console.password_hash("alice")
        assert hashed is not None
        assert hashed.startswith("$argon2id$")
        assert Passwords().verify(hashed, "a long password")
    finally:
        store.close()


@pytest.mark.parametrize(("args", "message"), [
    (("operator", "add", "x", "--role", "admin", "--password-stdin"), "at least 10"),
    (("operator", "add", "x", "--role", "root", "--generate"), "'root'"),
    (("operator", "disable", "nobody"), "no operator 'nobody'"),
    (("operator", "set-role", "nobody", "admin"), "no operator 'nobody'"),
    (("operator", "reset-password", "nobody", "--generate"), "no operator 'nobody'"),
    (("operator", "add", "x", "--role", "admin", "--generate", "--password-stdin"),
     "exclude each other"),
])
def test_cli_refusals_exit_2_with_a_reason(hub_db: str, args: tuple[str, ...],
                                           message: str) -> None:
    db = hub_db
    assert run("operator", "add", "root", "--role", "admin", "--generate",
               "--db", db).exit_code == 0
    result = run(*args, "--db", db, input="short\n")
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_cli_reset_password_ends_sessions_and_is_audited(hub_db: str) -> None:
    db = hub_db
    assert run("operator", "add", "alice", "--role", "admin", "--generate",
               "--db", str(db)).exit_code == 0
    from console_fixtures import T0

    store = open_hub_store(db)
    try:
        console = console_store_for(store)
        console.create_session("h" * 64, "alice", "c", now=T0,
                               expires_at=T0 + timedelta(hours=12), actor=Actor("alice"))
        assert console.session("h" * 64, now=T0, idle=timedelta(hours=2)) is not None
    finally:
        store.close()
    reset = run("operator", "reset-password", "alice", "--password-stdin", "--db", str(db),
                input="brand new password\n")
    assert reset.exit_code == 0, reset.output
    assert reset.stdout == ""  # a chosen password is never echoed
    audit = json.loads(run("audit", "--json", "--db", str(db)).stdout)
    assert audit[0]["action"] == "operator.reset_password"
    assert audit[0]["before"]["must_change_password"] is True
    assert audit[0]["after"]["must_change_password"] is False
    store = open_hub_store(db)
    try:
        assert console_store_for(store).session(
            "h" * 64, now=T0, idle=timedelta(hours=2)) is None
    finally:
        store.close()


def test_a_version_2_hub_file_gets_the_console_tables_keeping_its_data(tmp_path: Path) -> None:
    """A hub file written before the console (schema version 2) is migrated in place."""
    from stationlink.buffer.versions import migrate
    from stationlink.hub.hub_schema import MIGRATIONS

    path = tmp_path / "hub.sqlite"
    conn = sqlite3.connect(path)
    migrate(conn, str(path), MIGRATIONS[:2], "hub")
    conn.execute("INSERT INTO tokens (token_id, station_id, token_hash, created_at) "
                 "VALUES ('t1', 'S1', 'h', '2026-11-01T00:00:00+08:00')")
    conn.commit()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()
    store = SqliteHubStore(path)
    try:
        assert [t.token_id for t in store.tokens()] == ["t1"]
        console = SqliteConsoleStore(store)
        from console_fixtures import T0

        console.add_operator("alice", Role.ADMIN, "$argon2id$x", must_change_password=False,
                             now=T0, actor=Actor("test"))
        assert [o.name for o in console.operators()] == ["alice"]
    finally:
        store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 3
    conn.close()


@pytest.mark.parametrize("args", [("audit",), ("operator", "list"),
                                  ("operator", "disable", "x"),
                                  ("operator", "reset-password", "x", "--generate")])
def test_cli_commands_other_than_add_never_create_a_hub_file(tmp_path: Path,
                                                             args: tuple[str, ...]) -> None:
    missing = tmp_path / "typo.sqlite"
    result = run(*args, "--db", str(missing))
    assert result.exit_code == 8, result.output
    assert "no such hub database file" in result.output
    assert not missing.exists()


def test_cli_on_a_pg_database_without_the_hub_schema_says_to_migrate(pg_db: str) -> None:
    result = run("operator", "add", "alice", "--role", "admin", "--generate", "--db", pg_db)
    assert result.exit_code == 8, result.output
    assert "stationlink hub migrate" in result.output
    import psycopg

    with psycopg.connect(pg_db) as conn:  # nothing created: the hub never migrates itself
        assert conn.execute("SELECT to_regclass('operators')").fetchone() == (None,)
