"""The console's tables in the hub's PostgreSQL database: :class:`PgConsoleStore`.

Contract: implements :class:`stationlink.hub.console.store.ConsoleStore` with the SQLite
console store's semantics, in the SQL both stores share
(:class:`~stationlink.hub.console.tables.ConsoleTables`), on the tables of PostgreSQL schema
version 2 (:mod:`.schema`); this module supplies only the PostgreSQL
:class:`~stationlink.hub.console.dialect.Dialect` (:func:`pg_dialect`).
- Every call runs in one transaction on a pooled connection of its
  :class:`~stationlink.hub.pg.store.PgHubStore` (``PgHubStore.run``, given to the
  constructor): a change and its audit row commit together or not at all.
- A change locks the operator's row (``SELECT ... FOR UPDATE``), so concurrent changes from
  several hub processes are serialised and each audit row's *before* is the state it
  replaced. Disabling an operator deletes their sessions; a new password deletes all but
  ``keep_session``.
- Times are written as CST text and read back as the same CST text the SQLite store gives
  (:func:`~stationlink.hub.pg.connect.configure`), so both stores return equal values; JSON
  is ``jsonb``.
- A name or session hash holding a NUL character (which PostgreSQL text cannot store, and
  no operator name contains) is simply not found, as in SQLite, never a driver error.
- Driver errors are :class:`~stationlink.errors.StorageError`; refused changes
  :class:`~stationlink.errors.OperatorError`, storing nothing.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ..console.dialect import Dialect, Runner
from ..console.tables import ConsoleTables

Conn = psycopg.Connection[Any]


def _query(sql: str) -> bytes:
    """A statement with ``?`` markers in psycopg's form (``%s``)."""
    return sql.replace("?", "%s").encode()


def _stored(value: Any) -> Any:
    """A ``jsonb`` value as read: already decoded by psycopg."""
    return value


def pg_dialect(run: Runner) -> Dialect:
    """The console's view of the PostgreSQL database behind ``run`` (module contract)."""
    return Dialect(run=run, query=_query, lock_row=" FOR UPDATE", holds_nul=False,
                   json_in=Jsonb, json_out=_stored)


class PgConsoleStore(ConsoleTables):
    """Console store over a :class:`PgHubStore`'s database (module contract)."""

    def __init__(self, run: Runner) -> None:
        super().__init__(pg_dialect(run))
