"""PostgreSQL schema version 3: the console's month tables have the SQLite hub's columns
(:data:`stationlink.hub.hub_schema.MONTHS_DDL`), and a version 2 database is migrated to them
keeping its data. Deselected with one line without ``STATIONLINK_TEST_PG``."""

from __future__ import annotations

import pytest
from hub_fixtures import PgServer
from pg_tables import assert_sqlite_columns, migrated_from

from stationlink.hub.console.monthstore import month_store_for
from stationlink.hub.hub_schema import MONTHS_DDL
from stationlink.hub.stores import migrate_hub

TABLES = ("ref_stations", "ref_branches", "month_closes", "statements")
PRIMARY_KEY = ("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = "
               "i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'TABLE'::regclass "
               "AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)")


def test_the_pg_month_tables_have_the_sqlite_columns_and_keys(pg_db: str,
                                                              pg_server: PgServer) -> None:
    migrate_hub(pg_db)
    info = assert_sqlite_columns(pg_db, pg_server, MONTHS_DDL, TABLES)
    for table in TABLES:
        key = [r[1] for r in sorted((r for r in info[table] if r[5]), key=lambda r: r[5])]
        pg_key = pg_server.sql(pg_db, PRIMARY_KEY.replace("TABLE", table))
        assert [r[0] for r in pg_key] == key, table
    fks = pg_server.sql(pg_db, "SELECT conrelid::regclass::text, confrelid::regclass::text "
                               "FROM pg_constraint WHERE contype = 'f' AND "
                               "conrelid = 'statements'::regclass")
    assert fks == [("statements", "month_closes")]


def test_a_pg_database_at_version_2_is_refused_then_migrated_to_the_month_tables(
        pg_db: str, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with migrated_from(2, pg_db, pg_server, monkeypatch) as (report, store):
        from stationlink.hub.pg import schema

        assert f"from version 2 to {schema.SCHEMA_VERSION}" in report
        assert month_store_for(store).all_closes() == []
        assert month_store_for(store).reference().stations == ()
