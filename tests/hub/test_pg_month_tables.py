"""PostgreSQL schema version 3: the console's month tables have the SQLite hub's columns
(:data:`stationlink.hub.hub_schema.MONTHS_DDL`), and a version 2 database is migrated to them
keeping its data. Deselected with one line without ``STATIONLINK_TEST_PG``."""

from __future__ import annotations

import sqlite3

import pytest
from hub_fixtures import PgServer

from stationlink.errors import StorageError
from stationlink.hub.console.monthstore import month_store_for
from stationlink.hub.hub_schema import MONTHS_DDL
from stationlink.hub.stores import migrate_hub, open_hub_store

TABLES = ("ref_stations", "ref_branches", "month_closes", "statements")
PRIMARY_KEY = ("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = "
               "i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'TABLE'::regclass "
               "AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)")


def test_the_pg_month_tables_have_the_sqlite_columns_and_keys(pg_db: str,
                                                              pg_server: PgServer) -> None:
    migrate_hub(pg_db)
    lite = sqlite3.connect(":memory:")
    try:
        for statement in MONTHS_DDL:
            lite.execute(statement)
        for table in TABLES:
            info = lite.execute(f"PRAGMA table_info({table})").fetchall()
            cols = [(r[1], bool(r[3]) or bool(r[5])) for r in info]
            where = f"table_name = '{table}' AND table_schema = current_schema()"
            rows = pg_server.sql(pg_db, "SELECT column_name, is_nullable = 'NO' FROM "  # noqa: S608
                                 f"information_schema.columns WHERE {where} "
                                 "ORDER BY ordinal_position")
            assert [(n, nn) for n, nn in rows] == cols, table
            key = [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])]
            pg_key = pg_server.sql(pg_db, PRIMARY_KEY.replace("TABLE", table))
            assert [r[0] for r in pg_key] == key, table
        fks = pg_server.sql(pg_db, "SELECT conrelid::regclass::text, confrelid::regclass::text "
                                   "FROM pg_constraint WHERE contype = 'f' AND "
                                   "conrelid = 'statements'::regclass")
        assert fks == [("statements", "month_closes")]
    finally:
        lite.close()


def test_a_pg_database_at_version_2_is_refused_then_migrated_to_the_month_tables(
        pg_db: str, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from stationlink.hub.pg import schema

    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:2])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 2)
    migrate_hub(pg_db)
    pg_server.sql(pg_db, "INSERT INTO tokens (token_id, station_id, token_hash, created_at) "
                         "VALUES ('t1', 'S1', 'h', now()) RETURNING 1")
    monkeypatch.undo()
    with pytest.raises(StorageError, match="hub migrate"):
        open_hub_store(pg_db)
    assert "from version 2 to 3" in migrate_hub(pg_db)
    store = open_hub_store(pg_db)
    try:
        assert [t.token_id for t in store.tokens()] == ["t1"]
        assert month_store_for(store).all_closes() == []
        assert month_store_for(store).reference().stations == ()
    finally:
        store.close()
