"""Each operator's console language, on each store (a SQLite file and, with
``STATIONLINK_TEST_PG``, a PostgreSQL database): stored with the operator and audited; the
settings form (CSRF-checked, open to a viewer: it is their own preference); every page,
statement and notice preview in the signed-in operator's language on one server, the server's
default (``ConsoleOptions.lang``, ``hub serve --lang``) for an operator without a setting;
what leaves for the stations (the notices CSV) in the server's language; and the schema
migration that adds the setting to an older hub (SQLite version 4 -> 5, PostgreSQL 3 -> 4)."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from console_fixtures import T0, Clock, ConsoleHub, console_clock, console_hub, csrf_field
from console_month import CLOSE_DAY, MONTH, load_month
from hub_fixtures import PgServer
from pg_tables import migrated_from

from stationlink.errors import OperatorError
from stationlink.hub.console import Role
from stationlink.hub.console.backend import console_store_for
from stationlink.hub.console.pages_settings import SETTINGS
from stationlink.hub.console.routes import ROUTES
from stationlink.hub.console.sqlite import SqliteConsoleStore
from stationlink.hub.console.store import Actor
from stationlink.hub.sqlite_store import SqliteHubStore
from stationlink.hub.stores import open_hub_store
from stationlink.i18n import gettext_for

__all__ = ["console_clock", "console_hub"]
_CJK = re.compile(r"[\u4e00-\u9fff]")
HTML_LANG = re.compile(r'<html lang="([^"]+)">')


def html_lang(page: str) -> str:
    found = HTML_LANG.search(page)
    assert found is not None, page
    return found.group(1)


# ----------------------------------------------------------------- the store


def test_the_language_is_stored_with_the_operator_and_each_change_audited(
        hub_db: str) -> None:
    store = open_hub_store(hub_db)
    try:
        console = console_store_for(store)
        added = console.add_operator("alice", Role.ADMIN, "$argon2id$x",
                                     must_change_password=False, now=T0,
                                     actor=Actor("cli:root"), lang="en")
        assert added.lang == "en"
        console.add_operator("wang", Role.VIEWER, "$argon2id$y", must_change_password=False,
                             now=T0, actor=Actor("cli:root"))
        assert [(o.name, o.lang) for o in console.operators()] == [("alice", "en"),
                                                                   ("wang", None)]
        add_row = next(e for e in console.audit() if e.target == "alice")
        assert add_row.after is not None
        assert add_row.after["lang"] == "en"

        console.create_session("s" * 64, "wang", "c", now=T0, expires_at=T0 + timedelta(hours=12),
                               actor=Actor("wang"))
        session = console.session("s" * 64, now=T0, idle=timedelta(hours=2))
        assert session is not None
        assert session.lang is None
        changed = console.set_lang("wang", "zh", now=T0, actor=Actor("wang", "10.0.0.9"))
        assert changed.lang == "zh"
        # an open session carries the operator's current setting
        session = console.session("s" * 64, now=T0, idle=timedelta(hours=2))
        assert session is not None
        assert session.lang == "zh"
        entry = console.audit()[0]
        assert (entry.actor, entry.action, entry.target, entry.address) == \
            ("wang", "operator.set_lang", "wang", "10.0.0.9")
        assert entry.before is not None
        assert "lang" not in entry.before
        assert entry.after is not None
        assert entry.after["lang"] == "zh"

        back = console.set_lang("wang", None, now=T0, actor=Actor("wang"))
        assert back.lang is None
        assert console.audit()[0].before == entry.after

        rows = len(console.audit())
        for bad in ("fr", ""):
            with pytest.raises(OperatorError, match="choose one of zh, en"):
                console.set_lang("wang", bad, now=T0, actor=Actor("wang"))
        with pytest.raises(OperatorError, match="choose one of zh, en"):
            console.add_operator("li", Role.VIEWER, "$argon2id$z", must_change_password=False,
                                 now=T0, actor=Actor("cli:root"), lang="de")
        with pytest.raises(OperatorError, match="no operator 'nobody'"):
            console.set_lang("nobody", "en", now=T0, actor=Actor("cli:root"))
        assert len(console.audit()) == rows  # refused: nothing stored, nothing audited
        assert [(o.name, o.lang) for o in console.operators()] == [("alice", "en"),
                                                                   ("wang", None)]
    finally:
        store.close()


def test_the_database_refuses_a_language_the_code_does_not_know(hub_db: str) -> None:
    """The column's CHECK: a row written around the store cannot hold another language."""
    store = open_hub_store(hub_db)
    try:
        console_store_for(store).add_operator("wang", Role.VIEWER, "$argon2id$y",
                                              must_change_password=False, now=T0,
                                              actor=Actor("test"))
    finally:
        store.close()
    if hub_db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(hub_db) as conn, pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE operators SET lang = 'fr' WHERE name = 'wang'")
    else:
        with closing(sqlite3.connect(hub_db)) as conn, \
                pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute("UPDATE operators SET lang = 'fr' WHERE name = 'wang'")


# ----------------------------------------------------------------- the pages


def test_the_settings_routes_are_every_operators(console_hub: ConsoleHub) -> None:
    table = {(e.method, e.path): e.min_role for e in ROUTES.entries
             if e.handler.__module__ == "stationlink.hub.console.pages_settings"}
    assert table == {("GET", SETTINGS): Role.VIEWER, ("POST", SETTINGS): Role.VIEWER}


def test_an_english_and_a_chinese_operator_on_the_same_server(
        console_hub: ConsoleHub) -> None:
    hub = console_hub  # served in Chinese (the default)
    hub.console.set_lang("alice", "en", now=T0, actor=Actor("test"))
    hub.console.set_lang("fan", "zh", now=T0, actor=Actor("test"))
    pages = {}
    for name in ("alice", "fan", "wang"):
        session, _ = hub.session_for(name)
        with hub.client(session) as client:
            pages[name] = (client.get("/console/"), client.get(SETTINGS),
                           client.get("/v1/console/whoami").json())
    alice, fan, wang = pages["alice"], pages["fan"], pages["wang"]
    assert all(p[0].status_code == p[1].status_code == 200 for p in pages.values())
    assert "Hello, alice (administrator)" in alice[0].text
    assert html_lang(alice[0].text) == "en"
    assert ">Settings</a>" in alice[0].text
    assert ">Sign out<" in alice[0].text
    assert not _CJK.search(re.sub(r"<option[^>]*>[^<]*</option>", "", alice[1].text))
    for chinese in (fan, wang):  # fan chose Chinese; wang has no setting: the server's
        assert "你好" in chinese[0].text
        assert html_lang(chinese[0].text) == "zh-CN"
        assert f">{gettext_for('zh')('Settings')}</a>" in chinese[0].text
    # whoami: the setting itself (JSON keys and values stay language-neutral)
    assert (alice[2]["lang"], fan[2]["lang"], wang[2]["lang"]) == ("en", "zh", None)
    assert alice[2]["role"] == wang[2]["role"].replace("viewer", "admin")
    # the settings page shows each one's choice selected
    assert re.search(r'<option value="en"[^>]*selected', alice[1].text)
    assert re.search(r'<option value=""[^>]*selected', wang[1].text)


def test_on_an_english_server_an_operator_without_a_setting_reads_english(
        tmp_path: Path) -> None:
    hub = ConsoleHub(tmp_path / "hub.sqlite", Clock(T0), lang="en")
    try:
        hub.add_operator("wang", Role.VIEWER)
        hub.add_operator("li", Role.VIEWER)
        hub.console.set_lang("li", "zh", now=T0, actor=Actor("test"))
        with hub.client() as client:  # before sign-in: the server's language
            login = client.get("/console/login")
            assert html_lang(login.text) == "en"
            assert "Sign in" in login.text
        texts = {}
        for name in ("wang", "li"):
            with hub.client() as client:
                assert hub.sign_in(client, name).status_code == 303
                texts[name] = client.get("/console/").text
        assert "Hello, wang (viewer)" in texts["wang"]
        assert "你好" in texts["li"]
        assert html_lang(texts["li"]) == "zh-CN"
    finally:
        hub.close()


def test_the_settings_form_needs_the_csrf_token(console_hub: ConsoleHub) -> None:
    hub = console_hub
    session, csrf = hub.session_for("wang")
    before = hub.console.audit()
    with hub.client(session) as client:
        missing = hub.post(client, SETTINGS, {"lang": "en"}, None)
        wrong = hub.post(client, SETTINGS, {"lang": "en"}, "not-the-token")
        foreign = client.post(SETTINGS, data={"lang": "en", "csrf_token": csrf},
                              headers={"Origin": "https://elsewhere.example"})
    for answer in (missing, wrong, foreign):
        assert answer.status_code == 403, answer.text
    operator = hub.console.operator("wang")
    assert operator is not None
    assert operator.lang is None
    assert hub.console.audit() == before


def test_a_viewer_chooses_english_then_the_servers_default_audited(
        console_hub: ConsoleHub) -> None:
    hub = console_hub
    with hub.client() as client:
        assert hub.sign_in(client, "wang").status_code == 303
        form = client.get(SETTINGS)
        assert form.status_code == 200
        assert "服务器默认(中文)" in form.text
        csrf = csrf_field(form.text)
        saved = hub.post(client, SETTINGS, {"lang": "en"}, csrf)
        assert saved.status_code == 303
        assert saved.headers["location"] == SETTINGS + "?saved=1"
        after = client.get(saved.headers["location"])
        assert 'id="saved">Settings saved.<' in after.text
        assert "The server's default (中文)" in after.text  # autonyms stay as written
        assert "Hello, wang (viewer)" in client.get("/console/").text
        assert client.get("/v1/console/whoami").json()["lang"] == "en"
        refused = hub.post(client, SETTINGS, {"lang": "fr"}, csrf)
        assert refused.status_code == 400
        assert 'id="error">Unknown language.<' in refused.text
        unchanged = len(hub.console.audit())
        assert hub.post(client, SETTINGS, {"lang": "en"}, csrf).status_code == 303
        assert len(hub.console.audit()) == unchanged  # no change: no audit row
        assert hub.post(client, SETTINGS, {"lang": ""}, csrf).status_code == 303
        assert "你好" in client.get("/console/").text
    operator = hub.console.operator("wang")
    assert operator is not None
    assert operator.lang is None
    rows = [e for e in hub.console.audit() if e.action == "operator.set_lang"]
    assert [(e.actor, e.target, e.address) for e in rows] == [("wang", "wang", "127.0.0.1")] * 2
    newest, oldest = rows
    assert oldest.before is not None
    assert "lang" not in oldest.before
    assert oldest.after is not None
    assert oldest.after["lang"] == "en"
    assert newest.before == oldest.after
    assert newest.after == oldest.before
    stored = hub.sql("SELECT action, actor FROM audit WHERE action = 'operator.set_lang'")
    assert stored == [("operator.set_lang", "wang")] * 2


@pytest.fixture
def month_hub(hub_db: str, tmp_path: Path) -> Iterator[tuple[ConsoleHub, dict[str, object]]]:
    hub = ConsoleHub(hub_db, Clock(T0), close_day=CLOSE_DAY)  # served in Chinese
    try:
        hub.add_operator("fan", Role.FINANCE)
        hub.add_operator("rose", Role.FINANCE)
        hub.console.set_lang("rose", "en", now=T0, actor=Actor("test"))
        yield hub, load_month(hub, hub_db, tmp_path)
    finally:
        hub.close()


def test_statements_and_notices_in_each_operators_language(
        month_hub: tuple[ConsoleHub, dict[str, object]]) -> None:
    hub, facts = month_hub
    station = facts["ids"][0]  # type: ignore[index]
    seen = {}
    for name in ("fan", "rose"):
        with hub.client() as client:
            assert hub.sign_in(client, name).status_code == 303
            seen[name] = (
                client.get(f"/console/months/{MONTH}/stations/{station}"),
                client.get(f"/console/months/{MONTH}/notices"),
                client.get(f"/v1/console/months/{MONTH}/notices").json(),
                client.get(f"/console/months/{MONTH}/notices.csv"),
                client.get(f"/v1/console/months/{MONTH}/stations/{station}").json())
    fan, rose = seen["fan"], seen["rose"]
    assert fan[0].status_code == rose[0].status_code == 200
    for en, zh in (("Station manager's signature / date", "站点负责人签字 / 日期"),):
        assert zh in fan[0].text
        assert zh not in rose[0].text
        assert en in rose[0].text
    # the notice preview: each operator's own language, the same figures
    zh_texts = [n["text"] for n in fan[2]["notices"]]
    en_texts = [n["text"] for n in rose[2]["notices"]]
    assert zh_texts != en_texts
    assert all(_CJK.search(t) for t in zh_texts)
    assert not any(_CJK.search(t) for t in en_texts)
    for n in rose[2]["notices"]:
        assert all(seg in rose[1].text for seg in n["segments"])
    assert [(n["station_id"], n["phone"]) for n in fan[2]["notices"]] == \
        [(n["station_id"], n["phone"]) for n in rose[2]["notices"]]
    # JSON: the same keys and figures; only the human text differs
    zh_doc, en_doc = fan[4], rose[4]
    assert zh_doc.keys() == en_doc.keys()
    assert zh_doc["station"]["total"] == en_doc["station"]["total"]
    assert [i["code"] for i in zh_doc["station"]["items"]] == \
        [i["code"] for i in en_doc["station"]["items"]]
    # what the stations receive is in the server's language, whoever downloads it
    assert fan[3].content == rose[3].content
    rows = list(csv.DictReader(io.StringIO(rose[3].content.decode("utf-8-sig"))))
    assert [r["text"] for r in rows] == [s for n in fan[2]["notices"] for s in n["segments"]]


# ----------------------------------------------------------------- migrations


def test_a_version_4_hub_file_gains_the_language_column_keeping_its_operators(
        tmp_path: Path) -> None:
    from stationlink.buffer.versions import migrate
    from stationlink.hub.hub_schema import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "hub.sqlite"
    with closing(sqlite3.connect(path)) as conn:
        migrate(conn, str(path), MIGRATIONS[:4], "hub")
        conn.execute("INSERT INTO operators (name, role, password_hash, must_change_password, "
                     "created_at, password_changed_at) VALUES ('alice', 'admin', 'h', 0, "
                     "'2026-11-01T00:00:00+08:00', '2026-11-01T00:00:00+08:00')")
        conn.commit()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 4
        columns = [r[1] for r in conn.execute("PRAGMA table_info(operators)")]
        assert "lang" not in columns
    store = SqliteHubStore(path)
    try:
        console = SqliteConsoleStore(store)
        alice = console.operator("alice")
        assert alice is not None
        assert (alice.role, alice.lang) == (Role.ADMIN, None)
        assert console.set_lang("alice", "en", now=T0, actor=Actor("test")).lang == "en"
    finally:
        store.close()
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 5
        assert conn.execute("SELECT name, lang FROM operators").fetchall() == [("alice", "en")]


def test_a_pg_database_at_version_3_is_refused_then_migrated_to_the_language_column(
        pg_db: str, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from stationlink.hub.pg import schema

    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:3])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 3)
    from stationlink.hub.stores import migrate_hub

    migrate_hub(pg_db)
    pg_server.sql(pg_db, "INSERT INTO operators (name, role, password_hash, created_at, "
                         "password_changed_at) VALUES ('alice', 'admin', 'h', now(), now()) "
                         "RETURNING 1")
    monkeypatch.undo()
    with migrated_from(3, pg_db, pg_server, monkeypatch) as (report, store):
        assert f"from version 3 to {schema.SCHEMA_VERSION}" in report
        console = console_store_for(store)
        alice = console.operator("alice")
        assert alice is not None
        assert alice.lang is None
        assert console.set_lang("alice", "en", now=T0, actor=Actor("test")).lang == "en"
    assert pg_server.sql(pg_db, "SELECT name, lang FROM operators") == [("alice", "en")]


def test_a_close_by_an_english_operator_freezes_the_servers_language(
        month_hub: tuple[ConsoleHub, dict[str, object]]) -> None:
    """What a close stores leaves for the stations: the server's language (Chinese here),
    whoever closes; the English operator's pages around it stay English."""
    hub, facts = month_hub
    station = facts["ids"][0]  # type: ignore[index]
    path = f"/v1/console/months/{MONTH}/stations/{station}"
    fan_session, _ = hub.session_for("fan")
    with hub.client(fan_session) as fan:
        before = fan.get(path).json()["station"]
    with hub.client() as rose:
        assert hub.sign_in(rose, "rose").status_code == 303
        page = rose.get(f"/console/months/{MONTH}")
        english = rose.get(path).json()["station"]
        closed = hub.post(rose, f"/console/months/{MONTH}/close", {}, csrf_field(page.text))
        assert closed.status_code == 303, closed.text
        after_rose = rose.get(path).json()["station"]
        assert html_lang(rose.get(f"/console/months/{MONTH}").text) == "en"
    assert [i["label"] for i in english["items"]] != [i["label"] for i in before["items"]]
    frozen = {row[0]: row[1] for row in hub.sql(
        "SELECT subject_id, statement FROM statements WHERE subject = 'station'")}
    stored = frozen[station]
    if isinstance(stored, str):  # SQLite: text; PostgreSQL: jsonb, decoded by the driver
        stored = json.loads(stored)
    assert [i["label"] for i in stored["items"]] == [i["label"] for i in before["items"]]
    assert stored["notice"] == before["notice"]
    assert after_rose["items"] == stored["items"]  # shown as stored, never recomputed
