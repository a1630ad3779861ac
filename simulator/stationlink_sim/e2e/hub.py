"""The hub of an end-to-end run: a real HTTP server on 127.0.0.1 over an SQLite file.

Contract:
- :class:`EmbeddedHub` opens (creates) ``hub.sqlite`` in the work directory and serves the
  hub application (``stationlink.hub.app.create_app``, the same app ``stationlink hub
  serve`` runs) with uvicorn on a socket bound to 127.0.0.1 port 0, in a thread of this
  process (``stationlink.hub.server.BackgroundServer``). Agents reach it over real HTTP.
- In-process rather than a ``hub serve`` subprocess for one reason: the hub's clock decides
  which month a record arrives in and whether it is *late* (its month closed); it is the
  run's simulated :class:`~.clock.WorldClock`, so a simulated day of 2014 is on time.
- :meth:`token_for` creates a station's bearer token (``slh_...``; only its hash is stored,
  as ``stationlink hub token create`` does) and returns the plain token once.
- :func:`hub_duplicates` counts the records a hub file kept as duplicates (a new seq whose
  identity it already held: never exported), read on a connection of its own.
- :meth:`close` stops the server, then closes the store (every descriptor released).
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager, closing
from pathlib import Path

from stationlink.errors import StorageError
from stationlink.hub.app import create_app
from stationlink.hub.server import BackgroundServer
from stationlink.hub.sqlite_store import SqliteHubStore
from stationlink.hub.tokens import hash_token, new_token

from .clock import WorldClock


class EmbeddedHub(AbstractContextManager["EmbeddedHub"]):
    """See the module contract."""

    def __init__(self, path: Path, clock: WorldClock) -> None:
        self.path = path
        self.clock = clock
        self.store = SqliteHubStore(path)
        try:
            self.server = BackgroundServer(create_app(self.store, clock=clock.utc_now))
        except BaseException:
            self.store.close()
            raise
        self.url = self.server.url

    def token_for(self, station_id: str) -> str:
        token_id, token = new_token()
        self.store.add_token(token_id, station_id, hash_token(token), self.clock.utc_now())
        return token

    def close(self) -> None:
        try:
            self.server.stop()
        finally:
            self.store.close()

    def __exit__(self, *exc: object) -> None:
        self.close()


def hub_duplicates(path: Path) -> int:
    """See the module contract (``StorageError`` if the file cannot be read)."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            row = conn.execute(
                "SELECT count(*) FROM records WHERE duplicate_of IS NOT NULL").fetchone()
    except sqlite3.Error as exc:
        raise StorageError(f"{path}: cannot count the hub's duplicates: {exc}") from exc
    return int(row[0])
