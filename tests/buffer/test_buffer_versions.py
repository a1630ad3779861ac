"""Buffer files: schema versions, migration of old files, refusal of newer and foreign files,
owner-only permissions, timestamps stored in CST. Real SQLite files throughout."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils
from buffer_fixtures import T0, MakeRecord
from click.testing import CliRunner

from stationlink.buffer import Buffer
from stationlink.buffer.db import connect
from stationlink.buffer.schema import SCHEMA_VERSION, _create_tables
from stationlink.buffer.versions import Migration, migrate
from stationlink.cli.main import cli
from stationlink.errors import StorageError
from stationlink.hub.sqlite_store import SqliteHubStore
from stationlink.money import CST


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def user_version(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_a_new_buffer_is_at_the_latest_version_and_private(tmp_path: Path,
                                                           make_record: MakeRecord) -> None:
    path = tmp_path / "new" / "buffer.sqlite"
    with Buffer.open(path, "S1") as buf:
        buf.record_journal_page("T1", [make_record(1)], T0)
        for name in (path.name, path.name + "-wal", path.name + "-shm"):
            mode = stat.S_IMODE((path.parent / name).stat().st_mode)
            assert mode == 0o600, (name, oct(mode))
    assert user_version(path) == SCHEMA_VERSION >= 2


def old_release_buffer(path: Path) -> None:
    """A buffer as the release before versions wrote it: the same tables, user_version 0,
    a record and a quarantine entry stamped in UTC (``datetime.now(UTC)`` in old CLIs)."""
    with closing(sqlite3.connect(path)) as conn:
        _create_tables(sqlite_utils.Database(conn))
        conn.execute("INSERT INTO meta (key, value) VALUES ('station_id', 'S1')")
        conn.execute(
            "INSERT INTO records (seq, station_id, terminal_id, entry, ident, terminal_ref, "
            "client_ref, kind, product, account, amount_fen, status, result, card_token, "
            "card_masked, original_ref, source, wall_time, terminal_time) VALUES (1, 'S1', "
            "'T1', 'txn', 't:R1', 'R1', '', 'bill_payment', 'mobile', '138', 4530, "
            "'approved', 0, '', '', '', 'journal', '2026-10-31T17:30:00+00:00', "
            "'2026-11-01T01:29:00+08:00')")
        conn.execute(
            "INSERT INTO quarantine (first_seq, last_seq, http_status, reason, wall_time, "
            "released_at) VALUES (1, 1, 422, 'bad', '2026-11-01T02:00:00+08:00', "
            "'2026-10-31T18:05:00+00:00')")
        conn.commit()
    assert user_version(path) == 0


def test_a_file_from_before_versions_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old_release_buffer(path)
    with Buffer.open(path, "S1") as buf:
        rec = buf.get(1)
        assert rec is not None
        assert rec.amount_fen == 4530
        assert rec.wall_time == datetime(2026, 10, 31, 17, 30, tzinfo=UTC)  # same instant
    assert user_version(path) == SCHEMA_VERSION
    with closing(sqlite3.connect(path)) as conn:
        texts = conn.execute("SELECT wall_time, terminal_time FROM records").fetchone()
        released = conn.execute("SELECT released_at FROM quarantine").fetchone()[0]
    # one offset per file: the station's, CST
    assert texts == ("2026-11-01T01:30:00+08:00", "2026-11-01T01:29:00+08:00")
    assert released == "2026-11-01T02:05:00+08:00"


def test_every_stored_time_is_cst_whatever_zone_it_was_given_in(tmp_path: Path,
                                                                make_record: MakeRecord) -> None:
    utc_wall = datetime(2026, 10, 5, 1, 0, tzinfo=UTC)
    with Buffer.open(tmp_path / "b.sqlite", "S1") as buf:
        buf.record_journal_page("T1", [make_record(1, terminal_time=utc_wall)], utc_wall)
        buf.record_unknown("T1", "c-1", "bill_payment", "mobile", "138", 100, utc_wall)
        buf.quarantine(buf.next_batch(10), "bad", 422, utc_wall)  # type: ignore[arg-type]
        buf.release_quarantine(1, utc_wall + timedelta(minutes=5))
        assert buf.get(1).wall_time == utc_wall  # type: ignore[union-attr]
    with closing(sqlite3.connect(tmp_path / "b.sqlite")) as conn:
        texts = [t for row in conn.execute(
            "SELECT wall_time, terminal_time FROM records UNION ALL "
            "SELECT wall_time, released_at FROM quarantine UNION ALL "
            "SELECT updated_at, NULL FROM cursors") for t in row if t is not None]
    assert len(texts) == 6  # txn 2, unknown 1, quarantine 2, cursor 1
    assert all(t.endswith("+08:00") for t in texts), texts
    assert "2026-10-05T09:00:00+08:00" in texts


def test_a_newer_file_is_refused_and_left_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "newer.sqlite"
    Buffer.open(path, "S1").close()
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = sha(path)
    with pytest.raises(StorageError) as err:
        Buffer.open(path, "S1")
    message = str(err.value)
    assert str(path) in message
    assert f"version {SCHEMA_VERSION + 1}" in message
    assert f"up to version {SCHEMA_VERSION}" in message
    assert sha(path) == before
    res = CliRunner().invoke(cli, ["buffer", "stats", "--db", str(path)])
    assert res.exit_code == 8, res.output
    assert f"up to version {SCHEMA_VERSION}" in res.output
    assert sha(path) == before


def test_a_failed_migration_leaves_the_old_version(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"

    def create(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE a (x)")

    def fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO a VALUES (1)")
        raise sqlite3.OperationalError("disk on fire")

    db = connect(path, create=True)
    with pytest.raises(StorageError, match="disk on fire"):
        migrate(db.conn, str(path), [Migration(1, "a", create), Migration(2, "b", fail)], "x")
    assert db.conn.execute("PRAGMA user_version").fetchone()[0] == 0
    assert db.conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
    assert migrate(db.conn, str(path), [Migration(1, "a", create)], "x") == 1
    db.conn.close()


def foreign_files(tmp_path: Path) -> list[Path]:
    hub = tmp_path / "hub.sqlite"
    SqliteHubStore(hub).close()
    other = tmp_path / "other.sqlite"
    with closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        conn.execute("INSERT INTO notes (text) VALUES ('keep me')")
        conn.commit()
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 50, encoding="utf-8")
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    return [hub, other, text, empty]


@pytest.mark.parametrize("command", [["stats"], ["stats", "--json"], ["export"],
                                     ["release", "1"]])
def test_buffer_commands_refuse_files_that_are_not_buffers(tmp_path: Path,
                                                           command: list[str]) -> None:
    for path in foreign_files(tmp_path):
        before = sha(path)
        res = CliRunner().invoke(cli, ["buffer", command[0], "--db", str(path), *command[1:]])
        assert res.exit_code == 8, (path, res.output)
        assert f"{path}: " in res.output
        assert "not a stationlink buffer database" in res.output
        assert "Traceback" not in res.output
        assert sha(path) == before, path
    with closing(sqlite3.connect(tmp_path / "other.sqlite")) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    assert names == ["notes"]  # no buffer table added


def test_a_hub_file_passed_to_the_agent_buffer_is_refused(tmp_path: Path) -> None:
    hub = tmp_path / "hub.sqlite"
    SqliteHubStore(hub).close()
    before = sha(hub)
    with pytest.raises(StorageError, match="not a stationlink buffer database"):
        Buffer.open(hub, "S1")  # create=True, as the agent opens it
    assert sha(hub) == before


def test_times_in_cst_sort_as_text(tmp_path: Path, make_record: MakeRecord) -> None:
    """One offset per column: text order is time order (the reason for the convention)."""
    times = [datetime(2026, 10, 5, 23, 30, tzinfo=UTC), datetime(2026, 10, 6, 0, 10, tzinfo=CST)]
    with Buffer.open(tmp_path / "b.sqlite", "S1") as buf:
        for i, t in enumerate(times, 1):
            buf.record_journal_page("T1", [make_record(i, terminal_time=t)], t)
    with closing(sqlite3.connect(tmp_path / "b.sqlite")) as conn:
        by_text = [r[0] for r in conn.execute(
            "SELECT terminal_ref FROM records ORDER BY terminal_time")]
    assert by_text == ["R00000000002", "R00000000001"]  # 00:10 CST is before 07:30 CST
