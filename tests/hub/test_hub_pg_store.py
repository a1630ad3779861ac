"""The PostgreSQL store's own promises: versioned migrations (``hub migrate``, a hub that
refuses a schema behind or ahead), exactly-once ingest from several stores (as several hub
processes would be) racing on one station, month partitions created on demand.
The store contract shared with SQLite runs through the parametrised ``hub`` fixture."""

from __future__ import annotations

import random
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hub_fixtures import T0, MakeRecord, PgServer

from stationlink.buffer import Batch, Buffer
from stationlink.cli.main import cli
from stationlink.errors import SequenceGapError, StorageError
from stationlink.hub.pg import schema
from stationlink.hub.pg.store import PgHubStore
from stationlink.hub.stores import open_hub_store


def test_fresh_database_is_refused_until_migrated_and_migrate_is_idempotent(
    pg_db: str, pg_server: PgServer
) -> None:
    with pytest.raises(StorageError, match=r"has no hub schema.*run 'stationlink hub migrate"):
        PgHubStore(pg_db)
    runner = CliRunner()
    served = runner.invoke(cli, ["hub", "serve", "--db", pg_db, "--bind", "127.0.0.1:0"])
    assert served.exit_code != 0
    assert "stationlink hub migrate --db postgresql://" in served.output
    first = runner.invoke(cli, ["hub", "migrate", "--db", pg_db])
    assert first.exit_code == 0, first.output
    assert f"migrated from version 0 to {schema.SCHEMA_VERSION}" in first.output
    tables = pg_server.sql(pg_db, "SELECT tablename FROM pg_tables WHERE schemaname = "
                                  "current_schema() ORDER BY 1")
    again = runner.invoke(cli, ["hub", "migrate", "--db", pg_db])
    assert again.exit_code == 0, again.output
    assert f"already at version {schema.SCHEMA_VERSION}" in again.output
    assert pg_server.sql(pg_db, "SELECT tablename FROM pg_tables WHERE schemaname = "
                                "current_schema() ORDER BY 1") == tables
    assert {"stations", "records", "anchors", "device_status", "tokens",
            "schema_migrations"} <= {t for (t,) in tables}
    open_hub_store(pg_db).close()


def test_a_schema_behind_is_refused_until_migrated(
    pg_db: str, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema.migrate(pg_db)
    v = schema.SCHEMA_VERSION
    future = (*schema.MIGRATIONS, (v + 1, ("CREATE TABLE next_version_marker (x integer)",)))
    monkeypatch.setattr(schema, "MIGRATIONS", future)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", v + 1)
    with pytest.raises(StorageError, match=rf"schema version {v}; this stationlink needs "
                                           rf"version {v + 1}: run 'stationlink hub migrate"):
        open_hub_store(pg_db)
    served = CliRunner().invoke(cli, ["hub", "serve", "--db", pg_db, "--bind", "127.0.0.1:0"])
    assert served.exit_code != 0
    assert "hub migrate" in served.output
    assert schema.migrate(pg_db) == (v, v + 1)
    assert pg_server.sql(pg_db, "SELECT count(*) FROM next_version_marker") == [(0,)]
    open_hub_store(pg_db).close()
    # and this code, one version older, refuses the newer database
    monkeypatch.setattr(schema, "MIGRATIONS", future[:-1])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", v)
    with pytest.raises(StorageError, match="newer than this stationlink knows"):
        open_hub_store(pg_db)
    with pytest.raises(StorageError, match="newer than this stationlink knows"):
        schema.migrate(pg_db)


def _records(buf: Buffer, make_record: MakeRecord, n: int) -> list[Any]:
    # two months: the first half in October, the rest in November (two partitions)
    half = n // 2
    buf.record_journal_page("T1", [make_record(i) for i in range(1, half + 1)], T0)
    later = T0 + timedelta(days=40)  # a new boot, 40 days on
    buf.record_journal_page("T1", [make_record(i, terminal_time=later + timedelta(minutes=i),
                                               boot_id=2) for i in range(half + 1, n + 1)],
                            later)
    return list(buf.records(0, n))


def test_concurrent_overlapping_batches_from_several_hubs_are_stored_exactly_once(
    pg_db: str, pg_server: PgServer, buf: Buffer, make_record: MakeRecord
) -> None:
    """Four stores (separate pools and sessions, as four hub processes) send overlapping
    windows of one station's records at once, each retrying from the high-water mark like an
    agent after a gap: every record is accepted exactly once, the rest are replays."""
    schema.migrate(pg_db)
    stored = _records(buf, make_record, 120)
    assert [r.seq for r in stored] == list(range(1, 121))
    stores = [PgHubStore(pg_db, max_size=2) for _ in range(4)]
    accepted: list[int] = []
    failures: list[BaseException] = []
    start = threading.Barrier(len(stores))
    now = T0 + timedelta(days=41)

    def worker(store: PgHubStore, seed: int) -> None:
        rng = random.Random(seed)
        try:
            start.wait()
            while (hwm := store.high_water_mark("S1")) < len(stored):
                first = max(1, hwm + 1 - rng.randint(0, 8))  # resend some held records
                last = min(len(stored), first + rng.randint(1, 15))
                batch = Batch("S1", first, last, tuple(stored[first - 1:last]))
                try:
                    result = store.ingest(batch, now)
                except SequenceGapError:
                    continue  # another hub moved the mark meanwhile; ask again
                accepted.append(result.accepted)
                assert result.accepted + result.replayed == last - first + 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(s, i)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert failures == []
    assert sum(accepted) == len(stored)
    assert pg_server.sql(pg_db, "SELECT count(*), count(DISTINCT seq), min(seq), max(seq) "
                                "FROM records") == [(120, 120, 1, 120)]
    assert pg_server.sql(pg_db, "SELECT hwm FROM stations") == [(120,)]
    parts = pg_server.sql(pg_db, "SELECT tableoid::regclass::text, count(*) FROM records "
                                 "GROUP BY 1 ORDER BY 1")
    assert parts == [("records_2026_10", 60), ("records_2026_11", 60)]
    store = PgHubStore(pg_db)
    try:
        held = list(store.records())
    finally:
        store.close()
    assert [h.record for h in held] == stored


def test_unreachable_server_is_a_storage_error_without_the_password(tmp_path: Path) -> None:
    url = "postgresql://someone:s3cret@127.0.0.1:1/nowhere"
    with pytest.raises(StorageError) as caught:
        open_hub_store(url)
    assert "s3cret" not in str(caught.value)
    assert "postgresql://someone@127.0.0.1:1/nowhere" in str(caught.value)
    result = CliRunner().invoke(cli, ["hub", "status", "--db", url])
    assert result.exit_code != 0
    assert "s3cret" not in result.output


def test_record_columns_follow_the_declaration(pg_db: str, pg_server: PgServer) -> None:
    """The PostgreSQL ``records`` columns are the declared record's, in order, with the
    declared types and nullability, then the hub's own (nothing written twice by hand)."""
    from datetime import datetime

    from stationlink.hub.hub_schema import EXTRA_COLUMNS
    from stationlink.records import fields

    schema.migrate(pg_db)
    got = pg_server.sql(pg_db, "SELECT column_name, data_type, is_nullable FROM "
                               "information_schema.columns WHERE table_schema = "
                               "current_schema() AND table_name = 'records' "
                               "ORDER BY ordinal_position")
    pg_type = {int: "bigint", datetime: "timestamp with time zone"}
    declared = [(f.name, pg_type.get(f.pytype, "text"), "YES" if f.nullable else "NO")
                for f in fields.RECORD]
    assert got[:len(declared)] == declared
    assert tuple(c for c, _, _ in got[len(declared):]) == EXTRA_COLUMNS
