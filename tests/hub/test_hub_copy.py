"""``stationlink hub copy --from --to``: a hub moved between SQLite and PostgreSQL losslessly.

A SQLite hub filled through the real HTTP API (two months, late records, a plain duplicate
and a conflict, device and agent status, a revoked token, operators and their audit rows)
is copied into PostgreSQL and back into a new SQLite file: every store read (records, late,
conflicts, tokens, overview, operators, audit) is equal on all three, the CSV exports are
byte-identical, and the SQLite file that made the round trip holds the very same rows.
A non-empty target, an unmigrated PostgreSQL target and the same database twice are refused;
a copy whose read-back differs rolls back and leaves the target empty.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from console_month import import_reference
from hub_fixtures import T0, Clock, Hub, MakeRecord

from stationlink.buffer import Buffer
from stationlink.cli.main import cli
from stationlink.errors import StorageError
from stationlink.hub import copy as hub_copy
from stationlink.hub.console.monthstore import SqliteMonthStore, month_store_for
from stationlink.hub.console.store import Actor
from stationlink.hub.copy import TABLES, copy_hub
from stationlink.hub.stores import migrate_hub, open_hub_store
from stationlink.hub.wire import batch_to_json
from stationlink.protocol import TxnKind

PASSWORD = "kopie-Passwort-2026"  # noqa: S105 - a test operator


def run(*args: str, stdin: str | None = None) -> Any:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    return result


def fill(path: Path, tmp_path: Path, make_record: MakeRecord) -> None:
    """A SQLite hub with a bit of everything, made through the real API and CLI."""
    clock = Clock(T0 + timedelta(hours=1))
    hub = Hub(path, clock)
    try:
        buf = Buffer.open(tmp_path / "buf.sqlite", "S1")
        month2 = T0 + timedelta(days=35)
        recs = [make_record(i, amount_fen=100 * i) for i in range(1, 21)]
        recs += [make_record(21, kind=TxnKind.WITHDRAWAL, amount_fen=20000),
                 make_record(22, terminal_time=month2),
                 make_record(23, kind=TxnKind.REVERSAL, amount_fen=0, original_ref=recs[2].ref)]
        buf.record_journal_page("T1", recs, T0)
        with httpx.Client(timeout=10) as http:
            def post(body: dict[str, Any]) -> None:
                r = http.post(f"{hub.url}/v1/stations/S1/batches", json=body,
                              headers=hub.headers("S1"))
                assert r.status_code == 200, r.text

            batch = buf.next_batch(100)
            assert batch is not None
            body = batch_to_json(batch)
            post(body)
            buf.mark_synced(batch.last_seq)
            first = body["records"][0]
            post({"station_id": "S1", "first_seq": 24, "last_seq": 25, "records": [
                dict(copy.deepcopy(first), seq=24),  # a plain duplicate
                dict(copy.deepcopy(first), seq=25, amount_fen=1, status="declined"),  # conflict
            ]})
            clock.now = T0 + timedelta(days=80)  # both months closed: what follows is late
            late = [make_record(i, amount_fen=7 * i) for i in range(30, 34)]
            buf.record_journal_page("T2", late, T0)
            batch = buf.next_batch(100)
            assert batch is not None
            body = batch_to_json(batch)
            body["first_seq"] = 26
            body["last_seq"] = 26 + len(body["records"]) - 1
            for n, rec in enumerate(body["records"]):
                rec["seq"] = 26 + n
            post(body)
        buf.close()
        now = clock()
        hub.store.add_device_status("S1", [{"terminal_id": "T1", "paper_ok": True,
                                            "signal_dbm": -71, "journal_unacked": 0,
                                            "boot_id": 1, "wall_time": now.isoformat(),
                                            "名称": "柜台一"}], now)
        hub.store.set_agent_status("S1", {"backlog": 3, "版本": "1.0", "nested": {"b": 1,
                                                                                 "a": [1, 2]}},
                                   now)
        tokens = hub.store.tokens()
        assert hub.store.revoke_token(tokens[-1].token_id, now)
        months = SqliteMonthStore(hub.store)  # type: ignore[arg-type]
        statement = {"station_id": "S1", "总额": "12.30", "items": [{"b": 1, "a": "0.10"}]}
        months.close_month(T0.strftime("%Y-%m"), "city-2026", [("station", "S1", statement)],
                           now=now, actor=Actor("cli:test"))
    finally:
        hub.close()
    import_reference(path, tmp_path)
    for name, role in (("alice", "admin"), ("王五", "viewer")):
        added = run("hub", "operator", "add", name, "--role", role, "--password-stdin",
                    "--db", str(path), stdin=PASSWORD + "\n")
        assert added.exit_code == 0, added.output
    assert run("hub", "operator", "disable", "王五", "--db", str(path)).exit_code == 0


def reads(db: str | Path) -> dict[str, Any]:
    """Everything the hub's stores and CLI read, from ``db``."""
    store = open_hub_store(db, create=False)
    try:
        out: dict[str, Any] = {
            "records": list(store.records()),
            "on_time": list(store.records(include_late=False)),
            "late": store.late_records(),
            "conflicts": store.conflicts(),
            "tokens": store.tokens(),
            "overview": store.overview(),
            "hwm": store.high_water_mark("S1"),
        }
        months = month_store_for(store)
        month = T0.strftime("%Y-%m")
        out["closes"] = months.closes(month)
        out["statements"] = months.statements(month, 1)
        out["ref"] = months.reference()
        out["all_closes"] = months.all_closes()
    finally:
        store.close()
    for key, args in {
        "export": ("hub", "export", "--include-late"),
        "export_month": ("hub", "export", "--month", T0.strftime("%Y-%m")),
        "late_csv": ("hub", "late", "--month", T0.strftime("%Y-%m")),
        "operators": ("hub", "operator", "list", "--json"),
        "audit": ("hub", "audit", "--json"),
    }.items():
        result = run(*args, "--db", str(db))
        assert result.exit_code == 0, result.output
        # --json documents compared as JSON: a jsonb column keeps no key order of its own
        out[key] = json.loads(result.stdout) if "--json" in args else result.stdout_bytes
    return out


def rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with closing(sqlite3.connect(path)) as conn:
        return {t.name: sorted(conn.execute(f"SELECT {', '.join(t.columns)} FROM {t.name}"),  # noqa: S608
                               key=repr) for t in TABLES}


def test_sqlite_to_postgresql_and_back_is_lossless(
    tmp_path: Path, make_record: MakeRecord, pg_db: str
) -> None:
    source = tmp_path / "hub.sqlite"
    fill(source, tmp_path, make_record)
    before = reads(source)
    assert len(before["late"]) == 4
    assert len(before["conflicts"]) == 1
    assert before["overview"][0].duplicates == 2
    assert before["records"]
    assert before["export"].count(b"\n") > 20
    assert {o["name"] for o in before["operators"]} == {"alice", "王五"}
    assert len(before["audit"]) >= 4
    assert all(rows(source)[t] for t in ("ref_stations", "ref_branches", "month_closes",
                                         "statements"))
    migrate_hub(pg_db)

    to_pg = run("hub", "copy", "--from", str(source), "--to", pg_db, "--json")
    assert to_pg.exit_code == 0, to_pg.output
    doc = json.loads(to_pg.stdout)
    counted = {t["table"]: t["rows"] for t in doc["tables"]}
    assert counted == {name: len(r) for name, r in rows(source).items()}
    assert reads(pg_db) == before

    back = tmp_path / "back.sqlite"
    to_sqlite = run("hub", "copy", "--from", pg_db, "--to", str(back), "--json")
    assert to_sqlite.exit_code == 0, to_sqlite.output
    assert json.loads(to_sqlite.stdout)["tables"] == doc["tables"]  # same checksums
    assert reads(back) == before
    assert rows(back) == rows(source)

    # the copied hub works on: a new token authenticates, ids continue after the copied
    with closing(open_hub_store(pg_db)) as store:
        store.add_device_status("S1", [{"terminal_id": "T9"}], T0 + timedelta(days=81))
    import psycopg

    with psycopg.connect(pg_db) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM device_status ORDER BY id")]
    assert len(ids) == 2
    assert ids[1] > ids[0]


def test_a_non_empty_target_is_refused_and_left_alone(
    tmp_path: Path, make_record: MakeRecord
) -> None:
    source = tmp_path / "hub.sqlite"
    fill(source, tmp_path, make_record)
    target = tmp_path / "other.sqlite"
    assert run("hub", "copy", "--from", str(source), "--to", str(target)).exit_code == 0
    held = rows(target)
    again = run("hub", "copy", "--from", str(source), "--to", str(target))
    assert again.exit_code != 0
    assert "not empty" in again.output
    assert "table stations" in again.output
    assert rows(target) == held
    same = run("hub", "copy", "--from", str(source), "--to", f"sqlite://{source}")
    assert same.exit_code != 0
    assert "same database" in same.output


def test_an_unmigrated_postgresql_target_is_refused(
    tmp_path: Path, make_record: MakeRecord, pg_db: str
) -> None:
    source = tmp_path / "hub.sqlite"
    fill(source, tmp_path, make_record)
    result = run("hub", "copy", "--from", str(source), "--to", pg_db)
    assert result.exit_code != 0
    assert "hub migrate" in result.output


def test_a_copy_that_reads_back_different_rolls_back(
    tmp_path: Path, make_record: MakeRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "hub.sqlite"
    fill(source, tmp_path, make_record)
    target = tmp_path / "target.sqlite"
    write = hub_copy._Sqlite.write

    def lossy(self: Any, table: Any, batch: list[tuple[Any, ...]]) -> None:
        write(self, table, batch[:-1] if table.name == "records" else batch)

    monkeypatch.setattr(hub_copy._Sqlite, "write", lossy)
    with pytest.raises(StorageError, match="table records differs"):
        copy_hub(source, target, batch=7)
    assert all(not r for r in rows(target).values())


def test_missing_source_is_a_clear_error(tmp_path: Path) -> None:
    result = run("hub", "copy", "--from", str(tmp_path / "nope.sqlite"), "--to",
                 str(tmp_path / "t.sqlite"))
    assert result.exit_code == 2
    assert "nope.sqlite" in result.output


def test_an_older_sqlite_source_is_refused_with_the_migrate_advice_then_copies(
        tmp_path: Path) -> None:
    from stationlink.buffer.versions import migrate
    from stationlink.hub.hub_schema import MIGRATIONS, SCHEMA_VERSION

    source = tmp_path / "old.sqlite"
    with closing(sqlite3.connect(source)) as conn:
        migrate(conn, str(source), MIGRATIONS[:-1], "hub")
        conn.execute("INSERT INTO stations (station_id, hwm) VALUES ('S1', 0)")
        conn.commit()
        older = conn.execute("PRAGMA user_version").fetchone()[0]
    assert older < SCHEMA_VERSION
    target = tmp_path / "new.sqlite"
    result = run("hub", "copy", "--from", str(source), "--to", str(target))
    assert result.exit_code != 0
    assert f"schema version {older}" in result.output
    assert "stationlink hub migrate --db" in result.output
    assert "no such column" not in result.output
    with closing(sqlite3.connect(source)) as conn:  # the source is left as it was
        assert conn.execute("PRAGMA user_version").fetchone()[0] == older
    assert run("hub", "migrate", "--db", str(source)).exit_code == 0
    assert run("hub", "copy", "--from", str(source), "--to", str(target)).exit_code == 0
    with closing(sqlite3.connect(target)) as conn:
        assert conn.execute("SELECT station_id, hwm FROM stations").fetchall() == [("S1", 0)]
