"""Which console store a hub store carries: :func:`console_store_for`.

Contract: the SQLite hub store's file holds the console tables (hub schema version 3), served
by :class:`~stationlink.hub.console.sqlite.SqliteConsoleStore`; any other hub store offers
its console store through a ``console_store()`` method (the PostgreSQL store). A store with
neither raises :class:`~stationlink.errors.ConfigError`. :func:`offered_store` is that rule
for any of the console's stores (the month tables' too,
:func:`~stationlink.hub.console.monthstore.month_store_for`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ...errors import ConfigError
from ..sqlite_store import SqliteHubStore
from .sqlite import SqliteConsoleStore
from .store import ConsoleStore

T = TypeVar("T")


def offered_store(hub_store: object, on_sqlite: Callable[[SqliteHubStore], T], method: str,
                  tables: str) -> T:
    """``on_sqlite(hub_store)`` for the SQLite hub store, else what ``hub_store.<method>()``
    gives; ConfigError naming the missing ``tables`` for a store with neither."""
    if isinstance(hub_store, SqliteHubStore):
        return on_sqlite(hub_store)
    maker = getattr(hub_store, method, None)
    if callable(maker):
        store: T = maker()
        return store
    raise ConfigError(f"{type(hub_store).__name__} has no {tables}")


def console_store_for(hub_store: object) -> ConsoleStore:
    """The console store over ``hub_store``'s database (module contract)."""
    store: ConsoleStore = offered_store(hub_store, SqliteConsoleStore, "console_store",
                                        "console tables (operators, sessions, audit)")
    return store
