"""Referrals through a real hub server: accepted, de-duplicated on identity, exported as
``kind=referral`` rows (equal to the buffer's export), a late cancellation left out of the
paid month; the hub's reading commands leave a file that is no hub database untouched."""

from __future__ import annotations

import copy
import hashlib
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from hub_fixtures import T0, Hub, MakeRecord

from stationlink.buffer import Buffer
from stationlink.cli.main import cli
from stationlink.errors import StorageError
from stationlink.hub.client import HubClient
from stationlink.hub.closing import close_instant
from stationlink.hub.export import hub_transactions, late_items
from stationlink.hub.sqlite_store import SqliteHubStore
from stationlink.hub.wire import batch_to_json
from stationlink.interchange import transactions_to_text


def sync(buf: Buffer, hub: Hub, http: httpx.Client, size: int = 2) -> int:
    client = HubClient(hub.url, hub.tokens["S1"], station_id="S1", http_client=http,
                       clock=hub.clock)
    hwm = 0
    while (batch := buf.next_batch(size)) is not None:
        hwm = client.upload(batch)
        buf.mark_synced(hwm)
    return hwm


def held(hub: Hub) -> list[tuple[object, ...]]:
    return hub.sql("SELECT seq, terminal_id, ident, affects_month, late, duplicate_of "
                   "FROM records ORDER BY seq")


def test_referrals_reach_the_hub_and_export_like_the_buffer(
    hub: Hub, http: httpx.Client, buf: Buffer, make_record: MakeRecord
) -> None:
    buf.record_result("T1", make_record(1), T0)
    buf.record_referral("huinongtong", wall_time=T0 + timedelta(minutes=3), referral_id="H1")
    buf.record_referral("car_insurance_sale", wall_time=T0 + timedelta(minutes=4),
                        referral_id="S1", note="Zhao", amount_fen=250000)
    buf.record_result("T1", make_record(2), T0)
    buf.record_referral("finance_lead", wall_time=T0 + timedelta(minutes=9), referral_id="F1")
    buf.cancel_referral("F1", wall_time=T0 + timedelta(minutes=20))
    assert sync(buf, hub, http) == 6
    assert held(hub) == [
        (1, "T1", "t:R00000000001", "2026-10", 0, None),
        (2, "PC", "r:H1", "2026-10", 0, None),
        (3, "PC", "r:S1", "2026-10", 0, None),
        (4, "T1", "t:R00000000002", "2026-10", 0, None),
        (5, "PC", "r:F1", "2026-10", 0, None),
        (6, "PC", "c:F1", "2026-10", 0, None),
    ]
    hub_rows = list(hub_transactions(hub.path, "2026-10"))
    assert transactions_to_text(hub_rows) == transactions_to_text(buf.transactions())
    referrals = {t.txn_id: (t.terminal_id, t.product, str(t.amount), t.status)
                 for t in hub_rows if t.kind == "referral"}
    assert referrals == {
        "S1-PC-H1": ("", "huinongtong", "0.00", "approved"),
        "S1-PC-S1": ("", "car_insurance_sale", "2500.00", "approved"),
        "S1-PC-F1": ("", "finance_lead", "0.00", "reversed"),
    }
    out = CliRunner().invoke(cli, ["hub", "export", "--db", str(hub.path), "--month", "2026-10"])
    assert out.exit_code == 0, out.output
    assert out.output == transactions_to_text(buf.transactions())


def test_a_referral_sent_again_under_a_new_seq_is_a_duplicate(
    hub: Hub, http: httpx.Client, buf: Buffer
) -> None:
    buf.record_referral("huinongtong", wall_time=T0, referral_id="H1")
    batch = buf.next_batch(5)
    assert batch is not None
    body = batch_to_json(batch)
    headers = hub.headers("S1")
    url = f"{hub.url}/v1/stations/S1/batches"
    assert http.post(url, json=body, headers=headers).json()["accepted"] == 1
    assert http.post(url, json=body, headers=headers).json()["replayed"] == 1  # a replay
    repeat = copy.deepcopy(body)
    repeat["first_seq"] = repeat["last_seq"] = repeat["records"][0]["seq"] = 2
    answer = http.post(url, json=repeat, headers=headers).json()
    assert (answer["duplicates"], answer["high_water_mark"]) == (1, 2)
    assert [t.txn_id for t in hub_transactions(hub.path)] == ["S1-PC-H1"]


Mutation = Callable[[dict[str, Any]], object]


@pytest.mark.parametrize(
    ("mutate", "path", "reason"),
    [
        (lambda r: r.__setitem__("product", "mobile"), "records[0].product",
         "not a referral product: 'mobile'"),
        (lambda r: r.__setitem__("terminal_id", "T1"), "records[0].terminal_id",
         "pseudo-terminal 'PC'"),
        (lambda r: r.__setitem__("kind", "bill_payment"), "records[0].kind",
         "is of kind 'referral'"),
        (lambda r: r.__setitem__("status", "declined"), "records[0].status",
         "a referral's status is 'approved'"),
        (lambda r: r.__setitem__("client_ref", ""), "records[0].client_ref", "must not be empty"),
        (lambda r: r.__setitem__("entry", "referal"), "records[0].entry", "unknown entry"),
    ],
)
def test_malformed_referral_records_are_422_with_the_path(
    hub: Hub, http: httpx.Client, buf: Buffer, mutate: Mutation, path: str, reason: str
) -> None:
    buf.record_referral("huinongtong", wall_time=T0, referral_id="H1")
    batch = buf.next_batch(5)
    assert batch is not None
    body = batch_to_json(batch)
    mutate(body["records"][0])
    r = http.post(f"{hub.url}/v1/stations/S1/batches", json=body, headers=hub.headers("S1"))
    assert r.status_code == 422
    assert r.json()["path"] == path
    assert reason in r.json()["detail"]
    assert held(hub) == []


def test_a_late_cancellation_affects_the_referrals_month_and_is_listed(
    hub: Hub, http: httpx.Client, buf: Buffer
) -> None:
    buf.record_referral("car_insurance_lead", wall_time=T0, referral_id="C1")
    sync(buf, hub, http)
    hub.clock.now = close_instant("2026-10") + timedelta(hours=1)  # October has closed
    buf.cancel_referral("C1", wall_time=hub.clock.now)
    sync(buf, hub, http)
    assert held(hub)[1] == (2, "PC", "c:C1", "2026-10", 1, None)
    paid = list(hub_transactions(hub.path, "2026-10"))
    adjusted = list(hub_transactions(hub.path, "2026-10", include_late=True))
    assert [t.status for t in paid] == ["approved"]
    assert [t.status for t in adjusted] == ["reversed"]
    assert list(hub_transactions(hub.path, "2026-11", include_late=True)) == []
    [item] = late_items(hub.path, "2026-10")
    assert (item.entry, item.txn_id, item.effect) == ("cancel", "", "cancels referral S1-PC-C1")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("kind", ["buffer", "other sqlite", "not sqlite"])
def test_hub_commands_leave_a_file_that_is_no_hub_untouched(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "x.sqlite"
    if kind == "buffer":
        with Buffer.open(path, "S1") as b:
            b.record_referral("huinongtong", wall_time=T0)
    elif kind == "other sqlite":
        with closing(sqlite3.connect(path)) as conn:
            conn.execute("CREATE TABLE records (a INTEGER)")
            conn.commit()
    else:
        path.write_bytes(b"station notes, not a database\n" * 20)
    before = _digest(path)
    with pytest.raises(StorageError, match=rf"{path}: not a stationlink hub database"):
        SqliteHubStore(path, create=False)
    with pytest.raises(StorageError, match="not a stationlink hub database"):
        list(hub_transactions(path))
    with pytest.raises(StorageError, match="not a stationlink hub database"):
        SqliteHubStore(path)  # create=True does not build a hub inside another file either
    for args in (["export", "--month", "2026-10"], ["status"], ["late", "--month", "2026-10"],
                 ["token", "list"]):
        result = CliRunner().invoke(cli, ["hub", *args, "--db", str(path)])
        assert result.exit_code == 8, (args, result.output)
        assert f"{path}: not a stationlink hub database" in result.output
    assert _digest(path) == before  # (a WAL file's read-only reader may leave -wal/-shm)
    if kind != "not sqlite":
        with closing(sqlite3.connect(path)) as conn:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "stations" not in names
        assert "tokens" not in names


def test_an_empty_database_becomes_a_hub_and_a_missing_file_is_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite"
    with closing(sqlite3.connect(empty)) as conn:
        conn.execute("PRAGMA user_version=1")
        conn.commit()
    SqliteHubStore(empty).close()
    assert list(hub_transactions(empty)) == []
    with pytest.raises(StorageError, match="no such hub database file"):
        SqliteHubStore(tmp_path / "missing.sqlite", create=False)
    assert not (tmp_path / "missing.sqlite").exists()
