"""The hub's PostgreSQL store: :class:`PgHubStore`.

Contract: implements :class:`stationlink.hub.store.HubStore` (see there) on a PostgreSQL
database whose schema is at :data:`~stationlink.hub.pg.schema.SCHEMA_VERSION` (checked on
open: a database that is behind raises ``StorageError`` saying to run ``stationlink hub
migrate``; a hub never migrates on its own). Connections come from a
``psycopg_pool.ConnectionPool`` (``max_size`` connections, each configured by
:func:`~stationlink.hub.pg.connect.configure`: ``synchronous_commit=on``); every method runs
in its own transaction on a pooled connection, so the hub's request threads work in
parallel and several hub processes may share one database. The pooled connections are in
autocommit mode: a method of several statements opens its transaction explicitly
(``BEGIN`` ... ``COMMIT``); a method of one statement (the token and high-water-mark look-ups
asked on every request, ``touch``) sends just that statement, which is its own transaction
(one round trip instead of three; same atomicity, and durable on return like every commit).
A batch is one transaction (:mod:`.ingest`); it is answered only after ``COMMIT`` returned,
i.e. once durable.
PostgreSQL groups concurrent commits into one WAL flush itself, so there is no
application-level group commit here. :meth:`PgHubStore.console_store` gives the console's
operators, sessions and audit in the same database (:mod:`.console`),
:meth:`PgHubStore.month_store` its month tables (:mod:`.months`). Everything lives in
the database (tokens, device snapshots, agent status, late records): any hub process can
answer any station. Every driver error becomes ``StorageError`` naming the database (never
its password).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from ...buffer.db import ts_parse, ts_required, ts_text
from ...buffer.records import Batch
from ...errors import StorageError
from .. import store_rows
from ..closing import DEFAULT_CLOSE_DAY, check_close_day
from ..ingest import CONTENT_FIELDS, base_rows
from ..store import (
    CappedCount,
    Conflict,
    HubRecord,
    IngestResult,
    MonthTallies,
    StationOverview,
    TokenInfo,
)
from ..store_rows import CONFLICT_COLUMNS, OVERVIEW_COUNTS
from .connect import configure, connect, pg_errors, redact
from .ingest import MissingPartitions, ingest_batch
from .schema import check_schema, ensure_partitions

if TYPE_CHECKING:
    from .console import PgConsoleStore
    from .months import PgMonthStore

T = TypeVar("T")
Conn = psycopg.Connection[Any]

_DIFFERS = " OR ".join(f"d.{c} IS DISTINCT FROM h.{c}" for c in CONTENT_FIELDS)
CONFLICTS = (
    f"SELECT {CONFLICT_COLUMNS} FROM records d "  # noqa: S608
    "JOIN records h ON h.station_id = d.station_id AND h.seq = d.duplicate_of "
    f"AND h.duplicate_of IS NULL WHERE d.duplicate_of IS NOT NULL AND ({_DIFFERS})"
)


class PgHubStore:
    """PostgreSQL implementation of the hub store interface (module contract)."""

    read_only = False

    def __init__(self, dsn: str, *, close_day: int = DEFAULT_CLOSE_DAY, max_size: int = 8
                 ) -> None:
        self.close_day = check_close_day(close_day)
        self.where = redact(dsn)
        probe = connect(dsn)  # StorageError naming the database when unreachable
        try:
            check_schema(probe, dsn)
        finally:
            probe.close()
        self._months: set[str] = set()  # month partitions known to exist
        try:
            self._pool: ConnectionPool[Conn] = ConnectionPool(
                dsn, min_size=1, max_size=max_size, open=True, configure=configure,
                kwargs={"autocommit": True}, timeout=30, name="stationlink-hub")
        except (psycopg.Error, PoolTimeout) as exc:
            raise StorageError(f"{self.where}: {exc}") from exc

    def close(self) -> None:
        self._pool.close()

    def console_store(self) -> PgConsoleStore:
        """The console's operators, sessions and audit in this database (:mod:`.console`)."""
        from .console import PgConsoleStore

        return PgConsoleStore(self.run)

    def month_store(self) -> PgMonthStore:
        """The console's reference data, month closes and frozen statements in this database
        (:mod:`.months`)."""
        from .months import PgMonthStore

        return PgMonthStore(self.run)

    def run(self, work: Callable[[Conn], T]) -> T:
        """``work`` in one transaction on a pooled connection, committed before returning
        (for the console's and other tables kept beside the hub's)."""
        return self._run(work)

    def _run(self, work: Callable[[Conn], T]) -> T:
        """``work`` in one transaction on a pooled connection, committed before returning."""
        with pg_errors(self.where):
            try:
                with self._pool.connection() as conn:
                    with conn.transaction():
                        return work(conn)
            except PoolTimeout as exc:
                raise StorageError(f"{self.where}: no database connection: {exc}") from exc

    def _one(self, query: bytes, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """One statement on its own (autocommit: the statement is its transaction, committed
        before returning); its first row, if any."""
        with pg_errors(self.where):
            try:
                with self._pool.connection() as conn:
                    cur = conn.execute(query, args)
                    return cur.fetchone() if cur.description is not None else None
            except PoolTimeout as exc:
                raise StorageError(f"{self.where}: no database connection: {exc}") from exc

    # ----------------------------------------------------------------- ingest

    def high_water_mark(self, station_id: str) -> int:
        row = self._one(b"SELECT hwm FROM stations WHERE station_id = %s", (station_id,))
        return 0 if row is None else int(row[0])

    def ingest(self, batch: Batch, now: datetime) -> IngestResult:
        rows = base_rows(batch)
        for _ in range(3):
            try:
                return self._run(lambda c: ingest_batch(
                    c, batch, now, self.close_day, self._months, rows))
            except MissingPartitions as need:
                with pg_errors(self.where), self._pool.connection() as conn:
                    ensure_partitions(conn, need.months, self.where)
        raise StorageError(f"{self.where}: month partitions could not be created")

    # ----------------------------------------------------------------- status

    def touch(self, station_id: str, now: datetime) -> None:
        self._one(b"INSERT INTO stations (station_id, last_contact) VALUES (%s, %s) "
                  b"ON CONFLICT (station_id) DO UPDATE SET last_contact = excluded.last_contact",
                  (station_id, ts_text(now)))

    def add_device_status(
        self, station_id: str, snapshots: Sequence[dict[str, Any]], now: datetime
    ) -> int:
        rows = [(station_id, s["terminal_id"], ts_text(now), Jsonb(s)) for s in snapshots]

        def write(c: Conn) -> None:
            with c.cursor() as cur:
                cur.executemany(
                    "INSERT INTO device_status (station_id, terminal_id, received_at, "
                    "snapshot) VALUES (%s, %s, %s, %s)", rows)

        self._run(write)
        return len(snapshots)

    def set_agent_status(self, station_id: str, status: dict[str, Any], now: datetime) -> None:
        self._run(lambda c: c.execute(
            "INSERT INTO stations (station_id, agent_status, agent_status_at) "
            "VALUES (%s, %s, %s) ON CONFLICT (station_id) DO UPDATE SET "
            "agent_status = excluded.agent_status, "
            "agent_status_at = excluded.agent_status_at",
            (station_id, Jsonb(status), ts_text(now))))

    def overview(self) -> list[StationOverview]:
        def read(c: Conn) -> tuple[list[Any], ...]:
            return (
                c.execute("SELECT station_id, hwm, last_contact, agent_status, "
                          "agent_status_at FROM stations ORDER BY station_id").fetchall(),
                c.execute(OVERVIEW_COUNTS).fetchall(),
                [r[0] for r in self._conflict_rows(c, None)],
                c.execute("SELECT DISTINCT ON (station_id, terminal_id) station_id, snapshot "
                          "FROM device_status ORDER BY station_id, terminal_id, id DESC"
                          ).fetchall(),
            )

        stations, counts, conflict_stations, devices = self._run(read)
        return store_rows.overviews(stations, counts, conflict_stations, devices, _json)

    # ----------------------------------------------------------------- reads

    def records(self, month: str | None = None, *, include_late: bool = True
                ) -> Iterator[HubRecord]:
        query, args = store_rows.records_query(month, include_late, "%s")
        rows = self._run(lambda c: c.execute(query.encode(), args).fetchall())
        return (store_rows.hub_record(r) for r in rows)

    def late_records(self, month: str | None = None) -> list[HubRecord]:
        return [r for r in self.records(month) if r.late]

    def month_tallies(self, months: Sequence[str], *, include_late: bool,
                      capped: Sequence[CappedCount]) -> MonthTallies:
        """The months' reward tallies computed in SQL (:mod:`stationlink.hub.month_sql`,
        its PostgreSQL dialect), in one read transaction, its rows streamed in chunks."""
        from .. import month_sql

        return self._run(lambda c: month_sql.month_tallies(
            c, month_sql.POSTGRES, months, include_late=include_late, capped=capped,
            fetch=month_sql.psycopg_rows))

    def _conflict_rows(self, c: Conn, station_id: str | None) -> list[tuple[Any, ...]]:
        query, args = store_rows.conflicts_query(CONFLICTS, station_id, "%s")
        return c.execute(query.encode(), args).fetchall()

    def conflicts(self, station_id: str | None = None) -> list[Conflict]:
        return store_rows.conflicts(self._run(lambda c: self._conflict_rows(c, station_id)))

    # ----------------------------------------------------------------- tokens

    def add_token(self, token_id: str, station_id: str, token_hash: str, now: datetime) -> None:
        self._run(lambda c: c.execute(
            "INSERT INTO tokens (token_id, station_id, token_hash, created_at) "
            "VALUES (%s, %s, %s, %s)", (token_id, station_id, token_hash, ts_text(now))))

    def station_for_token(self, token_hash: str) -> str | None:
        row = self._one(b"SELECT station_id FROM tokens WHERE token_hash = %s "
                        b"AND revoked_at IS NULL", (token_hash,))
        return None if row is None else str(row[0])

    def tokens(self) -> list[TokenInfo]:
        rows = self._run(lambda c: c.execute(
            "SELECT token_id, station_id, created_at, revoked_at FROM tokens "
            "ORDER BY station_id, created_at").fetchall())
        return [TokenInfo(r[0], r[1], ts_required(r[2]), ts_parse(r[3])) for r in rows]

    def revoke_token(self, token_id: str, now: datetime) -> bool:
        cur = self._run(lambda c: c.execute(
            "UPDATE tokens SET revoked_at = %s WHERE token_id = %s AND revoked_at IS NULL",
            (ts_text(now), token_id)))
        return cur.rowcount == 1


def _json(value: Any) -> dict[str, Any]:
    """A jsonb column's value (psycopg gives it decoded; a text is decoded here)."""
    doc = json.loads(value) if isinstance(value, str) else value
    if not isinstance(doc, dict):
        raise StorageError(f"a stored JSON snapshot is not an object: {type(doc).__name__}")
    return doc
