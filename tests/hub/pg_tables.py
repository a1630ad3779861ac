"""The PostgreSQL store's console tables against the SQLite hub's: the shared steps of the
tests that PostgreSQL carries the SQLite DDL's columns (:func:`assert_sqlite_columns`) and
that each PostgreSQL migration keeps the data and adds its tables (:func:`migrated_from`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from hub_fixtures import PgServer

from stationlink.errors import StorageError
from stationlink.hub.store import HubStore
from stationlink.hub.stores import migrate_hub, open_hub_store


def assert_sqlite_columns(pg_db: str, pg_server: PgServer, ddl: Sequence[str],
                          tables: Sequence[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Assert that each of ``tables`` in (migrated) ``pg_db`` has the columns, in order and
    with their NOT NULL, of the SQLite ``ddl``; returns SQLite's ``table_info`` per table."""
    lite = sqlite3.connect(":memory:")
    try:
        for statement in ddl:
            lite.execute(statement)
        info = {t: lite.execute(f"PRAGMA table_info({t})").fetchall() for t in tables}
    finally:
        lite.close()
    for table in tables:
        cols = [(r[1], bool(r[3]) or bool(r[5])) for r in info[table]]
        where = f"table_name = '{table}' AND table_schema = current_schema()"
        rows = pg_server.sql(pg_db, "SELECT column_name, is_nullable = 'NO' FROM "  # noqa: S608
                             f"information_schema.columns WHERE {where} "
                             "ORDER BY ordinal_position")
        assert [(name, not_null) for name, not_null in rows] == cols, table
    return info


@contextmanager
def migrated_from(version: int, pg_db: str, pg_server: PgServer,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, HubStore]]:
    """``pg_db`` created at schema ``version`` holding token ``t1``; it is refused by
    ``open_hub_store`` until ``hub migrate``; yields migrate's report and the opened store,
    which still holds the token (closed after)."""
    from stationlink.hub.pg import schema

    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:version])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", version)
    migrate_hub(pg_db)
    pg_server.sql(pg_db, "INSERT INTO tokens (token_id, station_id, token_hash, created_at) "
                         "VALUES ('t1', 'S1', 'h', now()) RETURNING 1")
    monkeypatch.undo()
    with pytest.raises(StorageError, match="hub migrate"):
        open_hub_store(pg_db)
    report = migrate_hub(pg_db)
    store = open_hub_store(pg_db)
    try:
        assert [t.token_id for t in store.tokens()] == ["t1"]
        yield report, store
    finally:
        store.close()
