"""The console's station and month pages on a real hub server with a month loaded.

The statements the pages show equal ``rewards compute --hub`` for the same month, to the fen;
a close freezes them (a record arriving later changes nothing shown, and appears as an
adjustment); re-open is the admin's and audited; notices and their CSV; reference import.
Every test with a month runs on both stores (``hub_db``: SQLite, and PostgreSQL with
``STATIONLINK_TEST_PG``)."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from console_fixtures import ConsoleHub, console_clock, console_hub, csrf_field
from console_month import (  # noqa: F401 - month_hub is a fixture
    MONTH,
    PHONES,
    computed,
    load_month,
    new_console_hub,
    signed_in,
    sqlite_console_hub,
)

__all__ = ["console_clock", "console_hub"]  # fixtures used here
from rewards_store_loader import load_hub

from stationlink.cli.main import cli
from stationlink.errors import OperatorError
from stationlink.hub.console import Actor
from stationlink.hub.console.monthstore import month_store_for
from stationlink.interchange import Transaction
from stationlink.rewards.notice import sms_units


def totals(month: dict) -> dict[str, str]:
    return {**{s["station_id"]: s["total"] for s in month["stations"]},
            **{"branch " + b["branch_id"]: b["total"] for b in month["branches"]}}


def item_amounts(month: dict) -> dict[tuple[str, str], str]:
    return {(s["station_id"], i["code"]): i["amount"] for s in month["stations"]
            for i in s["items"]}


def branch_item_amounts(month: dict) -> dict[tuple[str, str], tuple[int, str]]:
    return {(b["branch_id"], i["code"]): (i["quantity"], i["amount"])
            for b in month["branches"] for i in b["items"]}


def test_branch_statement_items_equal_rewards_compute_to_the_fen(month_hub) -> None:
    hub, facts = month_hub
    expected = computed(facts)
    assert expected["branches"], "the golden month has branch statements"
    with signed_in(hub, "wang") as client:
        page = client.get(f"/v1/console/months/{MONTH}").json()
        answers = {b["branch_id"]: (
            client.get(f"/v1/console/months/{MONTH}/branches/{b['branch_id']}").json(),
            client.get(f"/console/months/{MONTH}/branches/{b['branch_id']}").text)
            for b in expected["branches"]}
    assert branch_item_amounts(page) == branch_item_amounts(expected)
    for b in expected["branches"]:
        one, html = answers[b["branch_id"]]
        assert [(i["code"], i["quantity"], i["amount"]) for i in one["branch"]["items"]] == \
            [(i["code"], i["quantity"], i["amount"]) for i in b["items"]]
        assert all(i["basis"] for i in one["branch"]["items"])
        for item in b["items"]:
            assert (f'<tr data-code="{item["code"]}"><td>') in html
            assert f'<td class="num">{item["amount"]}</td>' in html
        assert f'id="total">{b["total"]}<' in html


def test_month_statements_equal_rewards_compute_to_the_fen(month_hub) -> None:
    hub, facts = month_hub
    with signed_in(hub, "wang") as client:
        page = client.get(f"/v1/console/months/{MONTH}").json()
        html = client.get(f"/console/months/{MONTH}/stations/{facts['ids'][0]}").text
    expected = computed(facts)
    assert expected["stations"], "the golden month has statements"
    assert totals(page) == totals(expected)
    assert item_amounts(page) == item_amounts(expected)
    first = next(s for s in expected["stations"] if s["station_id"] == facts["ids"][0])
    assert f'id="total">{first["total"]}<' in html
    for item in first["items"]:
        assert f'<td class="num">{item["amount"]}</td>' in html
    assert "站点负责人签字 / 日期" in html
    assert "支局核对" in html
    assert "@media print" in html
    assert "size: A4" in html
    # every item shows its Chinese derivation
    statement = client_json(hub, "wang", f"/v1/console/months/{MONTH}/stations/"
                            f"{facts['ids'][0]}")["station"]
    assert all(i["basis"] for i in statement["items"])
    assert any("元" in i["basis"] or "笔" in i["basis"] for i in statement["items"])


def client_json(hub: ConsoleHub, name: str, path: str) -> dict:
    with signed_in(hub, name) as client:
        answer = client.get(path)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_month_lists_late_records_branch_and_county_totals_and_warnings(month_hub) -> None:
    hub, facts = month_hub
    m = client_json(hub, "wang", f"/v1/console/months/{MONTH}")
    assert m["closed"] is None
    assert len(m["late_records"]) == len(facts["late"]) == 2
    with_late = computed(facts, "--include-late")
    assert totals(with_late) != totals(m), "the late rows change a statement"
    counties = {c["county"] for c in m["county_totals"]}
    assert counties == {"陵城区", "德城区"}
    assert Decimal(m["total"]) == sum(Decimal(c["total"]) for c in m["county_totals"]) == \
        sum(Decimal(t) for t in totals(m).values())
    silent = facts["ids"][-1]
    assert any(silent in w and "9" in w for w in m["warnings"])
    assert any(facts["ids"][0] in w and "隔离" in w for w in m["warnings"])


def test_close_freezes_then_a_late_record_is_an_adjustment(month_hub, tmp_path) -> None:
    hub, facts = month_hub
    before = client_json(hub, "wang", f"/v1/console/months/{MONTH}")
    with signed_in(hub, "wang") as viewer:
        page = viewer.get(f"/console/months/{MONTH}").text
        assert 'id="close"' not in page  # a viewer is not offered the close
        refused = hub.post(viewer, f"/console/months/{MONTH}/close", {}, csrf_field(page))
        assert refused.status_code == 403
    with signed_in(hub, "fan") as finance:
        page = finance.get(f"/console/months/{MONTH}").text
        done = hub.post(finance, f"/console/months/{MONTH}/close", {}, csrf_field(page))
        assert done.status_code == 303, done.text
        again = hub.post(finance, f"/console/months/{MONTH}/close", {}, csrf_field(page))
        assert again.status_code == 400
        reopen = hub.post(finance, f"/console/months/{MONTH}/reopen", {}, csrf_field(page))
        assert reopen.status_code == 403
    closed = client_json(hub, "wang", f"/v1/console/months/{MONTH}")
    assert closed["closed"]["version"] == 1
    assert closed["closed"]["closed_by"] == "fan"
    assert totals(closed) == totals(before)
    # every late record is an adjustment of the closed month already
    with_late = computed(facts, "--include-late")
    adjusted = {a["id"]: a for a in closed["adjustments"]}
    for sid, total in totals(with_late).items():
        key = sid.removeprefix("branch ")
        if total != totals(before)[sid]:
            assert adjusted[key]["now"] == total
            assert adjusted[key]["frozen"] == totals(before)[sid]
    # a record arriving after the close: the frozen statement does not move
    station = facts["ids"][0]
    hub.clock.advance(hours=1)
    late = Transaction("LATE1", station, f"{station}-LATE", hub.clock() - timedelta(days=20),
                       "bill_payment", "electricity", Decimal("30.00"),
                       "", "approved")
    load_hub(hub.store, tmp_path, [late], on_time_at=hub.clock())  # the same buffers
    after = client_json(hub, "wang", f"/v1/console/months/{MONTH}")
    assert totals(after) == totals(before)
    assert any(r["station_id"] == station and r["amount"] == "30.00"
               for r in after["late_records"])
    now = computed(facts, "--include-late")
    assert {a["id"]: a["now"] for a in after["adjustments"]}[station] == \
        totals(now)[station]
    statement = client_json(hub, "wang",
                            f"/v1/console/months/{MONTH}/stations/{station}")
    assert statement["station"]["total"] == totals(before)[station]
    assert statement["adjustments"][0]["now"] == totals(now)[station]
    # the next month's statements carry them as separate lines (not in their own total)
    nov = client_json(hub, "wang", "/v1/console/months/2026-11")
    carried = {v.get("station_id") or v["branch_id"]: v["carried"]
               for v in nov["stations"] + nov["branches"]}
    assert {k: [(c["month"], c["adjustment"]) for c in v] for k, v in carried.items() if v} \
        == {a["id"]: [(MONTH, a["adjustment"])] for a in after["adjustments"]}
    nov_station = next(v for v in nov["stations"] if v["station_id"] == station)
    assert Decimal(nov_station["payable"]) == Decimal(nov_station["total"]) + \
        Decimal(carried[station][0]["adjustment"])
    with signed_in(hub, "wang") as client:
        html = client.get(f"/console/months/2026-11/stations/{station}").text
    assert f'id="payable">{nov_station["payable"]}<' in html
    # re-open (admin, audited) and re-close: version 2 with the records held now
    with signed_in(hub, "alice") as admin:
        page = admin.get(f"/console/months/{MONTH}").text
        assert hub.post(admin, f"/console/months/{MONTH}/reopen", {},
                        csrf_field(page)).status_code == 303
        page = admin.get(f"/console/months/{MONTH}").text
        assert hub.post(admin, f"/console/months/{MONTH}/close", {},
                        csrf_field(page)).status_code == 303
    v2 = client_json(hub, "wang", f"/v1/console/months/{MONTH}")
    assert v2["closed"]["version"] == 2
    assert [v["reopened_by"] for v in v2["versions"]] == ["alice", None]
    actions = [e.action for e in hub.console.audit(50)]
    assert {"month.close", "month.reopen"} <= set(actions)
    kept = hub.sql("SELECT version, COUNT(*) FROM statements GROUP BY version ORDER BY version")
    assert [v for v, _ in kept] == [1, 2]  # version 1 stays stored


def test_notices_preview_and_csv(month_hub) -> None:
    hub, facts = month_hub
    with signed_in(hub, "fan") as finance:
        page = finance.get(f"/console/months/{MONTH}/notices")
        data = finance.get(f"/v1/console/months/{MONTH}/notices").json()
        download = finance.get(f"/console/months/{MONTH}/notices.csv")
    assert page.status_code == 200
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    assert download.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    expected = [(n["station_id"], n["phone"], seg) for n in data["notices"]
                for seg in n["segments"]]
    assert [(r["station"], r["phone"], r["text"]) for r in rows] == expected
    assert {n["station_id"]: n["phone"] for n in data["notices"] if n["phone"]} == PHONES
    assert all(sms_units(r["text"]) <= 70 for r in rows)
    for n in data["notices"]:
        assert n["text"] in page.text or all(s in page.text for s in n["segments"])


def test_stations_page_filters_and_station_page(month_hub) -> None:
    hub, facts = month_hub
    ids = facts["ids"]
    with signed_in(hub, "wang") as client:
        all_rows = client.get("/v1/console/stations").json()["stations"]
        b1 = client.get("/v1/console/stations?branch=B1").json()["stations"]
        silent = client.get("/v1/console/stations?problem=silent").json()["stations"]
        paper = client.get("/v1/console/stations?problem=device").json()["stations"]
        html = client.get("/console/stations?problem=silent").text
        one = client.get(f"/v1/console/stations/{ids[0]}").json()
        one_html = client.get(f"/console/stations/{ids[0]}").text
        missing = client.get("/console/stations/NOPE")
    assert [r["station_id"] for r in all_rows] == ids
    assert b1
    assert all(r["branch_id"] == "B1" for r in b1)
    assert len(b1) < len(all_rows)
    assert [r["station_id"] for r in silent] == [ids[-1]]
    assert [r["station_id"] for r in paper] == [ids[0]]
    assert ids[-1] in html
    assert f">{ids[0]}<" not in html
    assert one["backlog"] == 4
    assert one["quarantined_records"] == 1
    assert len(one["device_history"]) == 2
    assert one["device_history"][0]["snapshot"][
        "paper_ok"] is False
    assert '<svg id="chart"' in one_html
    assert "<script" not in one_html
    assert len(one["days"]) == 14
    assert missing.status_code == 404


@pytest.mark.parametrize("path", ["/console/months/2026-13", "/v1/console/months/26-10",
                                  "/console/months/2026-10x/notices"])
def test_a_malformed_month_is_400(month_hub, path: str) -> None:
    with signed_in(month_hub[0], "fan") as client:
        assert client.get(path).status_code == 400


def test_reference_import_refuses_a_bad_phone_and_keeps_what_was_there(month_hub,
                                                                       tmp_path) -> None:
    hub, facts = month_hub
    bad = tmp_path / "bad.csv"
    text = facts["stations"].read_text(encoding="utf-8").replace("13800000002", "1380000")
    bad.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["hub", "stations", "import", "--db", str(facts["db"]),
                                      "--stations", str(bad), "--branches",
                                      str(facts["branches"])])
    assert result.exit_code == 3
    assert "line 3" in result.output
    assert "phone" in result.output
    listed = CliRunner().invoke(cli, ["hub", "stations", "list", "--db", str(facts["db"]),
                                      "--json"])
    assert {r["station_id"]: r["phone"] for r in json.loads(listed.output)
            if r["phone"]} == PHONES


def test_openapi_lists_every_console_json_route_with_its_least_role() -> None:
    from stationlink.hub.console import ROUTES
    from stationlink.hub.openapi import openapi_document

    paths = openapi_document()["paths"]
    listed = {(p, m.upper()) for p, ops in paths.items() if p.startswith("/v1/console/")
              for m in ops}
    table = {(e.path, e.method) for e in ROUTES.entries if e.kind == "json"}
    assert listed == table
    for e in ROUTES.entries:
        if e.kind == "json":
            op = paths[e.path][e.method.lower()]
            assert f"Least role: {e.min_role.label}." in op["description"]
            assert op["security"] == [{"console_session": []}]


@pytest.mark.parametrize("path", ["/console/stations/%3Cscript%3Ex", "/console/months/2026-10/"
                                  "stations/%3Cb%3E", "/console/months/2026-10/branches/%22x"])
def test_an_unknown_id_is_404_with_the_id_escaped(month_hub, path: str) -> None:
    with signed_in(month_hub[0], "wang") as client:
        answer = client.get(path)
    assert answer.status_code == 404
    assert "<script>" not in answer.text
    assert "<b>" not in answer.text


def test_odd_filters_list_nothing_rather_than_fail(month_hub) -> None:
    with signed_in(month_hub[0], "wang") as client:
        for query in ("?problem=nonsense", "?branch=%00", "?branch=" + "B" * 5000):
            answer = client.get("/console/stations" + query)
            assert answer.status_code == 200
            assert "没有符合条件的站点" in answer.text


def test_months_lists_the_last_twelve_and_the_closed_ones(month_hub) -> None:
    hub, _facts = month_hub
    with signed_in(hub, "fan") as client:
        page = client.get("/console/months/2025-03").text
        assert hub.post(client, "/console/months/2025-03/close", {},
                        csrf_field(page)).status_code == 303
        months = client.get("/v1/console/months").json()["months"]
        html = client.get("/console/months").text
    names = [m["month"] for m in months]
    # the hub's clock is 2026-11-03: 2025-12 .. 2026-11, and the closed 2025-03
    assert names == [f"2026-{m:02d}" for m in range(11, 0, -1)] + ["2025-12", "2025-03"]
    assert [m["month"] for m in months if m["closed"]] == ["2025-03"]
    assert 'href="/console/months/2025-03"' in html


def _answers(hub: ConsoleHub, paths: tuple[str, ...]) -> list[httpx.Response]:
    with signed_in(hub, "fan") as client:
        return [client.get(p) for p in paths]


def _close(hub: ConsoleHub) -> None:
    with signed_in(hub, "fan") as client:
        page = client.get(f"/console/months/{MONTH}").text
        assert hub.post(client, f"/console/months/{MONTH}/close", {},
                        csrf_field(page)).status_code == 303


def test_month_pages_on_each_store_equal_sqlite(month_hub, tmp_path: Path) -> None:
    """Each store answers the station and month pages (PostgreSQL: 200, where it answered 501
    before it had the month tables) with the same statements as a SQLite hub holding the
    same month, provisional and frozen by a close."""
    hub, facts = month_hub
    (tmp_path / "lite").mkdir()
    lite = sqlite_console_hub(tmp_path / "lite")
    try:
        load_month(lite, tmp_path / "lite" / "hub.sqlite", tmp_path / "lite")
        station = facts["ids"][0]
        pages = ("/console/stations", "/console/months", f"/console/months/{MONTH}/notices")
        data = ("/v1/console/stations", f"/v1/console/stations/{station}",
                f"/v1/console/months/{MONTH}", f"/v1/console/months/{MONTH}/stations/{station}")
        got, want = _answers(hub, pages + data), _answers(lite, pages + data)
        assert [a.status_code for a in got] == [200] * len(got)
        assert [a.json() for a in got[len(pages):]] == [a.json() for a in want[len(pages):]]
        _close(hub)
        _close(lite)
        frozen = client_json(hub, "wang", f"/v1/console/months/{MONTH}")
        assert frozen["closed"]["version"] == 1
        assert frozen == client_json(lite, "wang", f"/v1/console/months/{MONTH}")
        stored = hub.sql("SELECT subject, subject_id FROM statements ORDER BY 1, 2")
        assert stored == lite.sql("SELECT subject, subject_id FROM statements ORDER BY 1, 2")
        assert stored
        assert month_store_for(hub.store).statements(MONTH, 1) == \
            month_store_for(lite.store).statements(MONTH, 1)
    finally:
        lite.close()


def _wait_for_a_lock_wait(dsn: str) -> None:
    """Until some session of the database waits for a lock (bounded polling, no deadline)."""
    import time

    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(3000):
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                               "current_database() AND wait_event_type = 'Lock'").fetchone()
            if row is not None and row[0] > 0:
                return
            time.sleep(0.01)
    raise AssertionError("the second close never waited for the first")


def test_two_closes_of_one_month_at_once_one_is_refused_cleanly(pg_db: str) -> None:
    """Another hub's close of the month is under way (it holds the month's lock and has
    written its close row, not committed): this hub's close waits for it, then is refused
    as "closed already" storing nothing (before the lock: a driver error, a 500)."""
    import psycopg
    from console_fixtures import T0

    from stationlink.hub.pg.months import MONTH_LOCK
    from stationlink.hub.stores import migrate_hub, open_hub_store

    migrate_hub(pg_db)
    store = open_hub_store(pg_db)
    outcome: list[object] = []

    def close() -> None:
        try:
            outcome.append(month_store_for(store).close_month(
                MONTH, "policy", [("station", "R1", {"total": "1.00"})], now=T0,
                actor=Actor("fan")))
        except Exception as exc:  # the outcome is what is checked
            outcome.append(exc)

    worker = threading.Thread(target=close)
    try:
        with psycopg.connect(pg_db) as other:
            other.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (MONTH_LOCK, MONTH))
            other.execute("INSERT INTO month_closes (month, version, policy, closed_by, "
                          "closed_at) VALUES (%s, 1, 'policy', 'other', now())", (MONTH,))
            worker.start()
            _wait_for_a_lock_wait(pg_db)
            other.commit()
        worker.join()
        assert len(outcome) == 1
        assert isinstance(outcome[0], OperatorError), outcome
        assert "closed already" in str(outcome[0])
        assert [(c.version, c.closed_by) for c in month_store_for(store).closes(MONTH)] == \
            [(1, "other")]
        assert month_store_for(store).statements(MONTH, 1) == {}
    finally:
        store.close()
