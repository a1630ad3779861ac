"""The console's tables in the SQLite hub file: :class:`SqliteConsoleStore`.

Contract: implements :class:`stationlink.hub.console.store.ConsoleStore` on the tables of
hub schema version 3 (:data:`stationlink.hub.hub_schema.CONSOLE_DDL`), with the SQL both
stores share (:class:`~.tables.ConsoleTables`); this module supplies only the SQLite
:class:`~.dialect.Dialect` (:func:`sqlite_dialect`). Every call, read or write, runs on the
hub store's group-commit writer (one ``BEGIN IMMEDIATE`` transaction, shared with concurrent
ingests): a change and its audit row commit together, a read sees everything committed, and
changes are serialised without row locks. Console traffic is a few requests per operator
action, so sharing the writer costs the stations nothing measurable and needs no third
connection. Timestamps are stored as CST text (:func:`stationlink.buffer.db.ts_text`),
which sorts in time order; JSON as sorted text.
"""

from __future__ import annotations

from ..sqlite_store import SqliteHubStore
from .dialect import Dialect
from .tables import ConsoleTables


def sqlite_dialect(hub_store: SqliteHubStore) -> Dialect:
    """The console's view of a SQLite hub file: its writer's transactions (module contract)."""
    return Dialect(run=hub_store.writer.run)


class SqliteConsoleStore(ConsoleTables):
    """Console store over a :class:`SqliteHubStore`'s file (module contract)."""

    def __init__(self, hub_store: SqliteHubStore) -> None:
        super().__init__(sqlite_dialect(hub_store))
