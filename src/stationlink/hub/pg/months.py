"""The console's month tables in the hub's PostgreSQL database: :class:`PgMonthStore`.

Contract: implements :class:`stationlink.hub.console.monthstore.MonthStore` with the SQLite
month store's semantics, in the SQL both stores share
(:class:`~stationlink.hub.console.monthstore.MonthTables`), on the tables of PostgreSQL
schema version 3 (:mod:`.schema`); this module supplies only the PostgreSQL dialect (the
console store's, :func:`.console.pg_dialect`) and the month's lock.
- Every call runs in one transaction on a pooled connection of its
  :class:`~stationlink.hub.pg.store.PgHubStore` (``PgHubStore.run``): a reference import, a
  close (all the month's statements) or a re-open commits together with its audit row, or
  not at all.
- A close or re-open first takes the lock of all months, then the month's lock
  (transaction-level advisory locks of class :data:`MONTH_LOCK` keyed by
  :data:`~stationlink.hub.console.monthstore.ALL_MONTHS` and by the month: closes and
  re-opens run one at a time), then reads the month's closes: two closes of one month
  at once from any number of hub processes are serialised, one wins and the other is
  refused with :class:`~stationlink.errors.OperatorError` ("closed already"), storing
  nothing. Stored statements are never updated: a re-close after a re-open is a new version.
- Times are written as CST text and read back as the same CST values the SQLite store gives
  (:func:`~stationlink.hub.pg.connect.configure`); statements are ``jsonb`` and read back as
  the same dicts.
- An id holding a NUL character (which PostgreSQL text cannot store, and no station id
  contains) has no device history, as in SQLite, never a driver error.
- Driver errors are :class:`~stationlink.errors.StorageError` (``PgHubStore.run``).
"""

from __future__ import annotations

from ..console.dialect import Runner
from ..console.monthstore import MonthTables
from .console import Conn, pg_dialect

#: advisory lock class of a month's close and re-open (the month is the second key)
MONTH_LOCK = 0x53544C4D  # "STLM"


class PgMonthStore(MonthTables):
    """Reference data and closes in a :class:`PgHubStore`'s database (module contract)."""

    def __init__(self, run: Runner) -> None:
        super().__init__(pg_dialect(run))

    def _lock_month(self, conn: Conn, month: str) -> None:
        """The month's advisory lock, held until the transaction ends (module contract)."""
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (MONTH_LOCK, month))
