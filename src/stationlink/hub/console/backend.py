"""Which console store a hub store carries: :func:`console_store_for`.

Contract: the SQLite hub store's file holds the console tables (hub schema version 3), served
by :class:`~stationlink.hub.console.sqlite.SqliteConsoleStore`; any other hub store offers
its console store through a ``console_store()`` method (the PostgreSQL store, once it
carries the tables). A store with neither raises :class:`~stationlink.errors.ConfigError`.
"""

from __future__ import annotations

from ...errors import ConfigError
from ..sqlite_store import SqliteHubStore
from .sqlite import SqliteConsoleStore
from .store import ConsoleStore


def console_store_for(hub_store: object) -> ConsoleStore:
    """The console store over ``hub_store``'s database (module contract)."""
    if isinstance(hub_store, SqliteHubStore):
        return SqliteConsoleStore(hub_store)
    maker = getattr(hub_store, "console_store", None)
    if callable(maker):
        store: ConsoleStore = maker()
        return store
    raise ConfigError(f"{type(hub_store).__name__} has no console tables (operators, "
                      "sessions, audit)")
