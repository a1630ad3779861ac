"""The console's month tables in the hub's PostgreSQL database: :class:`PgMonthStore`.

Contract: implements :class:`stationlink.hub.console.monthstore.MonthStore` with the SQLite
month store's semantics (:class:`~stationlink.hub.console.monthstore.SqliteMonthStore`) on the
tables of PostgreSQL schema version 3 (:mod:`.schema`).
- Every call runs in one transaction on a pooled connection of its
  :class:`~stationlink.hub.pg.store.PgHubStore` (``PgHubStore.run``): a reference import, a
  close (all the month's statements) or a re-open commits together with its audit row, or
  not at all.
- A close or re-open first takes the month's lock (a transaction-level advisory lock keyed
  by the month), then reads the month's closes: two closes of one month at once from any
  number of hub processes are serialised, one wins and the other is refused with
  :class:`~stationlink.errors.OperatorError` ("closed already"), storing nothing. Stored
  statements are never updated: a re-close after a re-open is a new version.
- Times are written as CST text and read back as the same CST values the SQLite store gives
  (:func:`~stationlink.hub.pg.connect.configure`); statements are ``jsonb`` and read back as
  the same dicts.
- An id holding a NUL character (which PostgreSQL text cannot store, and no station id
  contains) has no device history, as in SQLite, never a driver error.
- Driver errors are :class:`~stationlink.errors.StorageError` (``PgHubStore.run``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ...buffer.db import ts_parse, ts_required, ts_text
from ...errors import OperatorError, StorageError
from ...interchange import Branch, Station
from ..console.monthstore import Close, Reference
from ..console.store import Actor
from .console import Conn, Runner, _absent, _audit

#: advisory lock class of a month's close and re-open (the month is the second key)
MONTH_LOCK = 0x53544C4D  # "STLM"
_CLOSES = ("SELECT month, version, policy, closed_by, closed_at, reopened_by, reopened_at "
           "FROM month_closes")


def _close(row: tuple[Any, ...]) -> Close:
    return Close(row[0], int(row[1]), row[2], row[3], ts_required(row[4]), row[5],
                 ts_parse(row[6]))


def _doc(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StorageError(f"a stored JSON document is not an object: {type(value).__name__}")
    return value


def _closes(conn: Conn, month: str) -> list[Close]:
    return [_close(r) for r in conn.execute(
        _CLOSES + " WHERE month = %s ORDER BY version", (month,)).fetchall()]


def _locked_closes(conn: Conn, month: str) -> list[Close]:
    """The month's closes, read after taking the month's lock (module contract)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (MONTH_LOCK, month))
    return _closes(conn, month)


def _one(conn: Conn, month: str, version: int) -> Close:
    row = conn.execute(_CLOSES + " WHERE month = %s AND version = %s",
                       (month, version)).fetchone()
    if row is None:
        raise StorageError(f"close {month} version {version} vanished")
    return _close(row)


class PgMonthStore:
    """Reference data and closes in a :class:`PgHubStore`'s database (module contract)."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    def import_reference(self, ref: Reference, *, now: datetime, actor: Actor) -> None:
        def write(conn: Conn) -> None:
            row = conn.execute("SELECT count(*) FROM ref_stations").fetchone()
            before = 0 if row is None else int(row[0])
            conn.execute("DELETE FROM ref_stations")
            conn.execute("DELETE FROM ref_branches")
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO ref_branches (branch_id, area, plan_effective_stations, "
                    "county) VALUES (%s, %s, %s, %s)",
                    [(b.branch_id, b.area, b.plan_effective_stations,
                      ref.counties.get(b.branch_id)) for b in ref.branches])
                cur.executemany(
                    "INSERT INTO ref_stations (station_id, branch_id, area, village_id, "
                    "village_households, phone) VALUES (%s, %s, %s, %s, %s, %s)",
                    [(s.station_id, s.branch_id, s.area, s.village_id, s.village_households,
                      ref.phones.get(s.station_id)) for s in ref.stations])
            _audit(conn, now, actor, "reference.import", None, {"stations": before},
                   {"stations": len(ref.stations), "branches": len(ref.branches)})

        self._run(write)

    def reference(self) -> Reference:
        def read(conn: Conn) -> Reference:
            branches = conn.execute(
                "SELECT branch_id, area, plan_effective_stations, county FROM ref_branches "
                "ORDER BY branch_id").fetchall()
            stations = conn.execute(
                "SELECT station_id, branch_id, area, village_id, village_households, phone "
                "FROM ref_stations ORDER BY station_id").fetchall()
            return Reference(
                tuple(Station(r[0], r[1], r[2], r[3], r[4]) for r in stations),
                tuple(Branch(r[0], r[1], r[2]) for r in branches),
                {r[0]: r[5] for r in stations if r[5]}, {r[0]: r[3] for r in branches if r[3]})

        result: Reference = self._run(read)
        return result

    def closes(self, month: str) -> list[Close]:
        result: list[Close] = self._run(lambda c: _closes(c, month))
        return result

    def all_closes(self) -> list[Close]:
        """Every close, newest month first."""
        rows = self._run(lambda c: c.execute(
            _CLOSES + " ORDER BY month DESC, version").fetchall())
        return [_close(r) for r in rows]

    def statements(self, month: str, version: int) -> dict[tuple[str, str], dict[str, Any]]:
        """(subject, id) -> the frozen statement of that close."""
        rows = self._run(lambda c: c.execute(
            "SELECT subject, subject_id, statement FROM statements "
            "WHERE month = %s AND version = %s ORDER BY subject, subject_id",
            (month, version)).fetchall())
        return {(r[0], r[1]): _doc(r[2]) for r in rows}

    def close_month(self, month: str, policy: str, statements: list[tuple[str, str, dict[
            str, Any]]], *, now: datetime, actor: Actor) -> Close:
        """Freeze ``statements`` ((subject, id, statement)) as the month's next version;
        OperatorError when the month is closed already."""
        def write(conn: Conn) -> Close:
            rows = _locked_closes(conn, month)
            if rows and rows[-1].in_force:
                raise OperatorError(f"month {month} is closed already (version "
                                    f"{rows[-1].version})")
            version = rows[-1].version + 1 if rows else 1
            at = ts_text(now)
            conn.execute(
                "INSERT INTO month_closes (month, version, policy, closed_by, closed_at) "
                "VALUES (%s, %s, %s, %s, %s)", (month, version, policy, actor.name, at))
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO statements (month, version, subject, subject_id, statement, "
                    "closed_by, closed_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [(month, version, subject, sid, Jsonb(st), actor.name, at)
                     for subject, sid, st in statements])
            _audit(conn, now, actor, "month.close", month, None,
                   {"version": version, "policy": policy, "statements": len(statements)})
            return _one(conn, month, version)

        result: Close = self._run(write)
        return result

    def reopen_month(self, month: str, *, now: datetime, actor: Actor) -> Close:
        """Mark the month's close in force as re-opened (its statements stay stored)."""
        def write(conn: Conn) -> Close:
            rows = _locked_closes(conn, month)
            if not rows or not rows[-1].in_force:
                raise OperatorError(f"month {month} is not closed")
            version = rows[-1].version
            conn.execute("UPDATE month_closes SET reopened_by = %s, reopened_at = %s "
                         "WHERE month = %s AND version = %s",
                         (actor.name, ts_text(now), month, version))
            _audit(conn, now, actor, "month.reopen", month, {"version": version, "closed": True},
                   {"version": version, "closed": False})
            return _one(conn, month, version)

        result: Close = self._run(write)
        return result

    def device_history(self, station_id: str, limit: int = 50
                       ) -> list[tuple[datetime, str, dict[str, Any]]]:
        """The station's newest device status snapshots: (received, terminal, snapshot)."""
        if _absent(station_id):
            return []  # no station id holds a NUL character (PostgreSQL text cannot)
        rows = self._run(lambda c: c.execute(
            "SELECT received_at, terminal_id, snapshot FROM device_status "
            "WHERE station_id = %s ORDER BY id DESC LIMIT %s", (station_id, limit)).fetchall())
        return [(ts_required(r[0]), r[1], _doc(r[2])) for r in rows]
