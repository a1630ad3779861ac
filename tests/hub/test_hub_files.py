"""Hub database files: schema versions (fresh, migrated from before versions, newer refused
untouched), read-only media (read, export and compute work; writing says read-only), and
timestamps stored in CST. Real SQLite files and the real CLI."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner
from hub_fixtures import T0, MakeRecord

from stationlink.buffer import Buffer
from stationlink.cli.main import cli
from stationlink.errors import StorageError
from stationlink.hub.hub_schema import SCHEMA_VERSION, _create_tables
from stationlink.hub.sqlite_store import SqliteHubStore


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def user_version(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def make_hub(tmp: Path, make_record: MakeRecord) -> Path:
    """A hub holding S1's October records, received at a UTC clock reading."""
    path = tmp / "hub.sqlite"
    store = SqliteHubStore(path)
    buf = Buffer.open(tmp / "buffer.sqlite", "S1")
    try:
        buf.record_journal_page("T1", [make_record(i, amount_fen=1000 * i) for i in range(1, 6)],
                                T0)
        batch = buf.next_batch(100)
        assert batch is not None
        store.ingest(batch, datetime(2026, 10, 5, 2, 0, tzinfo=UTC))
        store.touch("S1", datetime(2026, 10, 5, 2, 0, tzinfo=UTC))
    finally:
        buf.close()
        store.close()
    assert not Path(str(path) + "-wal").exists()  # closed cleanly: checkpointed
    return path


def reference_files(tmp: Path) -> list[str]:
    (tmp / "s.csv").write_text("station_id,branch_id,area,village_id,village_households\n"
                               "S1,B1,rural,V1,40\n", encoding="utf-8")
    (tmp / "b.csv").write_text("branch_id,area,plan_effective_stations\nB1,rural,1\n",
                               encoding="utf-8")
    return ["--stations", str(tmp / "s.csv"), "--branches", str(tmp / "b.csv")]


@contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """Read-only media that root respects too: the immutable attribute (ext4, xfs, btrfs)."""
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("no chattr: read-only media tested through read_only=True only")
    done: list[Path] = []
    try:
        for p in paths:
            r = subprocess.run([chattr, "+i", str(p)], capture_output=True, check=False)  # noqa: S603
            if r.returncode != 0:
                pytest.skip(f"chattr +i not supported here: {r.stderr.decode().strip()}")
            done.append(p)
        yield
    finally:
        for p in done:
            subprocess.run([chattr, "-i", str(p)], check=True)  # noqa: S603


def test_a_hub_on_read_only_media_is_read_exported_and_computed(
    tmp_path: Path, make_record: MakeRecord
) -> None:
    media = tmp_path / "media"
    media.mkdir()
    hub = make_hub(media, make_record)
    (media / "buffer.sqlite").unlink()
    ref = reference_files(tmp_path)
    before = sha(hub)
    run = CliRunner().invoke
    with immutable(hub, media):
        with pytest.raises(PermissionError):  # really read-only, also for root
            (media / "probe").write_text("x")
        status = run(cli, ["hub", "status", "--db", str(hub)])
        assert status.exit_code == 0, status.output
        assert "read-only" in status.stderr
        assert "not a stationlink hub database" not in status.output
        assert status.stdout.startswith("S1: last contact 2026-10-05T10:00:00+08:00")
        doc = json.loads(run(cli, ["hub", "status", "--db", str(hub), "--json"]).stdout)
        assert doc[0]["records"] == 5
        export = run(cli, ["hub", "export", "--db", str(hub), "--month", "2026-10"])
        assert export.exit_code == 0, export.output
        assert len(export.stdout.splitlines()) == 6
        computed = run(cli, ["rewards", "compute", "--month", "2026-10", "--hub", str(hub),
                             "--format", "json", *ref])
        assert computed.exit_code == 0, computed.output
        assert json.loads(computed.stdout)["info"]["rows"] == 5
        revoke = run(cli, ["hub", "token", "revoke", "--db", str(hub), "t-1"])
        assert revoke.exit_code == 8, revoke.output
        assert "read-only" in revoke.output
        create = run(cli, ["hub", "token", "create", "--db", str(hub), "--station", "S1"])
        assert create.exit_code == 8, create.output
        assert "read-only" in create.output
        assert "Traceback" not in create.output + revoke.output
    assert sha(hub) == before


def test_a_store_opened_read_only_reads_and_refuses_writes(
    tmp_path: Path, make_record: MakeRecord
) -> None:
    """The same path as read-only media, forced through the documented parameter."""
    hub = make_hub(tmp_path, make_record)
    before = sha(hub)
    store = SqliteHubStore(hub, create=False, read_only=True)
    try:
        assert store.read_only
        assert [o.records for o in store.overview()] == [5]
        assert len(list(store.records("2026-10"))) == 5
        with pytest.raises(StorageError, match="read-only"):
            store.add_token("t1", "S1", "0" * 64, T0)
    finally:
        store.close()
    assert sha(hub) == before
    with pytest.raises(StorageError, match="read-only"):
        SqliteHubStore(hub, read_only=True)  # create=True: the hub would write


def test_a_new_hub_is_at_the_latest_version_and_stores_cst(
    tmp_path: Path, make_record: MakeRecord
) -> None:
    hub = make_hub(tmp_path, make_record)
    assert user_version(hub) == SCHEMA_VERSION >= 2
    with closing(sqlite3.connect(hub)) as conn:
        received, last = conn.execute(
            "SELECT r.received_at, s.last_contact FROM records r JOIN stations s "
            "USING (station_id) LIMIT 1").fetchone()
    assert (received, last) == ("2026-10-05T10:00:00+08:00", "2026-10-05T10:00:00+08:00")


def old_release_hub(path: Path) -> None:
    """A hub as the release before versions wrote it: user_version 0, UTC arrival times."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")  # as every hub file is
        _create_tables(sqlite_utils.Database(conn))
        conn.execute("INSERT INTO stations (station_id, hwm, last_contact) "
                     "VALUES ('S1', 0, '2026-10-31T16:30:00+00:00')")
        conn.execute("INSERT INTO tokens (token_id, station_id, token_hash, created_at) "
                     "VALUES ('t1', 'S1', 'h', '2026-10-01T00:00:00.123456+00:00')")
        conn.commit()


def test_a_hub_from_before_versions_is_read_as_is_and_migrated_when_opened_to_write(
    tmp_path: Path,
) -> None:
    hub = tmp_path / "old.sqlite"
    old_release_hub(hub)
    before = sha(hub)
    status = CliRunner().invoke(cli, ["hub", "status", "--db", str(hub), "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)[0]["last_contact"] == "2026-11-01T00:30:00+08:00"
    assert sha(hub) == before  # reading writes nothing
    SqliteHubStore(hub).close()  # as `hub serve` opens it
    assert user_version(hub) == SCHEMA_VERSION
    with closing(sqlite3.connect(hub)) as conn:
        assert conn.execute("SELECT last_contact FROM stations").fetchone()[0] == \
            "2026-11-01T00:30:00+08:00"
        assert conn.execute("SELECT created_at FROM tokens").fetchone()[0] == \
            "2026-10-01T08:00:00.123456+08:00"


def test_a_newer_hub_is_refused_untouched(tmp_path: Path, make_record: MakeRecord) -> None:
    hub = make_hub(tmp_path, make_record)
    with closing(sqlite3.connect(hub)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 3}")
    before = sha(hub)
    for args in (["hub", "status", "--db", str(hub)],
                 ["hub", "export", "--db", str(hub)],
                 ["hub", "token", "create", "--db", str(hub), "--station", "S1"]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 8, res.output
        assert f"{hub}: this hub database is schema version {SCHEMA_VERSION + 3}" in res.output
        assert f"supports up to version {SCHEMA_VERSION}" in res.output
        assert sha(hub) == before
    with pytest.raises(StorageError, match="upgrade stationlink"):
        SqliteHubStore(hub)
    assert sha(hub) == before


def test_arrival_times_given_in_utc_read_back_as_the_same_instants(
    tmp_path: Path, make_record: MakeRecord
) -> None:
    hub = make_hub(tmp_path, make_record)
    store = SqliteHubStore(hub, create=False)
    try:
        held = list(store.records())
    finally:
        store.close()
    assert {h.received_at for h in held} == {datetime(2026, 10, 5, 2, 0, tzinfo=UTC)}
    assert {h.received_at.utcoffset() for h in held} == {timedelta(hours=8)}
