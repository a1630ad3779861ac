"""The hub's PostgreSQL store (PostgreSQL 14 or newer, psycopg 3 and its pool).

Contract: :class:`~stationlink.hub.pg.store.PgHubStore` implements
:class:`stationlink.hub.store.HubStore` with the SQLite store's semantics; the schema is
versioned (:mod:`.schema`: :func:`~stationlink.hub.pg.schema.migrate` applies it, a store
refuses a database whose schema is behind or ahead); one batch is one transaction
(:mod:`.ingest`), serialised per station by a row lock on its ``stations`` row, so several
hub processes ingest exactly once.
"""

from .schema import SCHEMA_VERSION, migrate
from .store import PgHubStore

__all__ = ["SCHEMA_VERSION", "PgHubStore", "migrate"]
