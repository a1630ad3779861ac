"""The console store's contract (hub/console/store.py) held by each store on a real database:
a SQLite hub file and a PostgreSQL database (``hub_db``; PostgreSQL with STATIONLINK_TEST_PG).
Both stores give equal values for the same calls; the PostgreSQL schema carries the SQLite
console tables' columns; concurrent changes stay whole, each with its audit row."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from console_fixtures import T0
from hub_fixtures import PgServer
from pg_tables import assert_sqlite_columns, migrated_from

from stationlink.errors import OperatorError
from stationlink.hub.console import Role
from stationlink.hub.console.backend import console_store_for
from stationlink.hub.console.store import Actor, ConsoleStore
from stationlink.hub.hub_schema import CONSOLE_DDL, OPERATOR_LANG_DDL
from stationlink.hub.stores import migrate_hub, open_hub_store
from stationlink.money import CST

IDLE = timedelta(hours=2)
ADMIN = Actor("admin", "10.0.0.9")


@pytest.fixture
def console(hub_db: str) -> Iterator[ConsoleStore]:
    store = open_hub_store(hub_db)
    try:
        yield console_store_for(store)
    finally:
        store.close()


def add(console: ConsoleStore, name: str, role: Role = Role.VIEWER) -> None:
    console.add_operator(name, role, f"$argon2id$hash-of-{name}", must_change_password=False,
                         now=T0, actor=ADMIN)


def session(console: ConsoleStore, key: str, name: str, **at: Any) -> None:
    now = T0 + timedelta(**at)
    console.create_session(key, name, "csrf-" + key, now=now,
                           expires_at=now + timedelta(hours=12), actor=Actor(name, "10.0.0.1"))


def test_values_come_back_as_written_in_cst(console: ConsoleStore) -> None:
    op = console.add_operator("李四", Role.FINANCE, "$argon2id$h", must_change_password=True,
                              now=T0, actor=ADMIN)
    assert (op.name, op.role, op.must_change_password, op.enabled) == \
        ("李四", Role.FINANCE, True, True)
    assert op.created_at == op.password_changed_at == T0
    assert op.created_at.utcoffset() == CST.utcoffset(None)
    assert console.operator("李四") == op
    assert console.operators() == [op]
    assert console.password_hash("李四") == "$argon2id$h"
    (entry,) = console.audit()
    assert (entry.at, entry.actor, entry.action, entry.target, entry.address) == \
        (T0, "admin", "operator.add", "李四", "10.0.0.9")
    assert entry.at.utcoffset() == CST.utcoffset(None)
    assert (entry.before, entry.after) == (None, op.snapshot())


def test_a_refused_change_stores_nothing(console: ConsoleStore) -> None:
    add(console, "wang")
    before = (console.operators(), console.audit())
    with pytest.raises(OperatorError, match="exists already"):
        add(console, "wang", Role.ADMIN)
    with pytest.raises(OperatorError, match="no operator 'nobody'"):
        console.set_role("nobody", Role.ADMIN, now=T0, actor=ADMIN)
    with pytest.raises(OperatorError, match="no operator"):
        console.set_enabled("no\x00body", False, now=T0, actor=ADMIN)
    with pytest.raises(OperatorError, match="64"):
        add(console, "x" * 65)
    assert (console.operators(), console.audit()) == before


def test_disabling_deletes_the_sessions_and_a_new_password_keeps_only_the_one_named(
        console: ConsoleStore) -> None:
    add(console, "wang")
    add(console, "fan")
    for key in ("w1", "w2", "w3"):
        session(console, key, "wang")
    session(console, "f1", "fan")
    now = T0 + timedelta(minutes=5)
    console.set_password("wang", "$argon2id$new", must_change_password=False, now=now,
                         actor=Actor("wang"), keep_session="w2")
    alive = [k for k in ("w1", "w2", "w3", "f1")
             if console.session(k, now=now, idle=IDLE) is not None]
    assert alive == ["w2", "f1"]
    assert console.audit()[0].action == "operator.change_password"
    console.set_enabled("wang", False, now=now, actor=ADMIN)
    assert console.session("w2", now=now, idle=IDLE) is None
    assert console.password_hash("wang") is None
    disabled = console.operator("wang")
    assert disabled is not None
    assert disabled.disabled_at == now
    console.set_enabled("wang", True, now=now, actor=ADMIN)
    assert console.session("w2", now=now, idle=IDLE) is None  # gone, not only hidden
    assert console.session("f1", now=now, idle=IDLE) is not None
    assert [e.action for e in console.audit(3)] == \
        ["operator.enable", "operator.disable", "operator.change_password"]


def test_a_session_ends_at_its_end_or_when_idle_and_expired_ones_are_swept(
        console: ConsoleStore) -> None:
    add(console, "wang", Role.ADMIN)
    session(console, "s1", "wang")
    got = console.session("s1", now=T0, idle=IDLE)
    assert got is not None
    assert (got.operator, got.role, got.csrf_token, got.created_at, got.last_seen,
            got.expires_at) == ("wang", Role.ADMIN, "csrf-s1", T0, T0, T0 + timedelta(hours=12))
    assert console.session("s1", now=T0 + IDLE, idle=IDLE) is None
    console.touch_session("s1", T0 + timedelta(hours=1))
    assert console.session("s1", now=T0 + IDLE, idle=IDLE) is not None
    console.set_role("wang", Role.VIEWER, now=T0, actor=ADMIN)
    demoted = console.session("s1", now=T0 + IDLE, idle=IDLE)
    assert demoted is not None
    assert demoted.role == Role.VIEWER
    session(console, "s2", "wang", hours=12)  # sweeps s1 (expired at T0 + 12 h)
    assert console.session("s1", now=T0, idle=IDLE) is None
    assert console.end_session("s2", now=T0 + timedelta(hours=12), actor=Actor("wang"))
    assert not console.end_session("s2", now=T0 + timedelta(hours=12), actor=Actor("wang"))
    assert not console.end_session("no\x00such", now=T0, actor=Actor("wang"))
    assert console.session("no\x00such", now=T0, idle=IDLE) is None
    assert [e.action for e in console.audit(2)] == ["session.sign_out", "session.sign_in"]


def test_rehash_replaces_only_an_unchanged_hash(console: ConsoleStore) -> None:
    add(console, "wang")
    console.rehash_password("wang", "$argon2id$other", "$argon2id$new")
    assert console.password_hash("wang") == "$argon2id$hash-of-wang"
    console.rehash_password("wang", "$argon2id$hash-of-wang", "$argon2id$new")
    assert console.password_hash("wang") == "$argon2id$new"
    assert [e.action for e in console.audit()] == ["operator.add"]  # not audited


def test_concurrent_changes_each_keep_their_audit_row(hub_db: str) -> None:
    """Two hub stores on one database (two hub processes), racing: every change is whole."""
    stores = [open_hub_store(hub_db), open_hub_store(hub_db)]
    try:
        consoles = [console_store_for(s) for s in stores]
        add(consoles[0], "wang")
        start = threading.Barrier(2)
        refused: list[str] = []

        def race(i: int) -> None:
            c = consoles[i]
            start.wait()
            for k in range(10):
                c.set_role("wang", (Role.ADMIN, Role.FINANCE)[i], now=T0, actor=Actor(f"a{i}"))
                try:
                    add(c, f"new{k}")
                except OperatorError:
                    refused.append(f"new{k}")

        threads = [threading.Thread(target=race, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        audit = consoles[1].audit(1000)
        roles = [e for e in audit if e.action == "operator.set_role"]
        assert len(roles) == 20
        # serialised: each row's before is the after of the one just before it
        for newer, older in zip(roles, roles[1:], strict=False):
            assert newer.before == older.after
        adds = [e.target for e in audit if e.action == "operator.add"]
        assert sorted(adds) == sorted(["wang", *(f"new{k}" for k in range(10))])
        assert sorted(refused) == [f"new{k}" for k in range(10)]
    finally:
        for s in stores:
            s.close()


# ----------------------------------------------------------------- PostgreSQL only


def test_the_pg_console_tables_have_the_sqlite_columns(pg_db: str, pg_server: PgServer) -> None:
    migrate_hub(pg_db)
    assert_sqlite_columns(pg_db, pg_server, CONSOLE_DDL + OPERATOR_LANG_DDL,
                          ("operators", "console_sessions", "audit"))


def test_a_pg_database_at_version_1_is_refused_then_migrated_keeping_its_data(
        pg_db: str, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from stationlink.hub.pg import schema

    with migrated_from(1, pg_db, pg_server, monkeypatch) as (report, store):
        assert f"from version 1 to {schema.SCHEMA_VERSION}" in report
        add(console_store_for(store), "wang")
        assert [o.name for o in console_store_for(store).operators()] == ["wang"]
