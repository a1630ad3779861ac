"""The console's month tables: reference data and frozen statements.

Contract (SQLite hub schema version 4, :data:`stationlink.hub.hub_schema.MONTHS_DDL`;
PostgreSQL schema version 3, :mod:`stationlink.hub.pg.months`):
- :func:`import_reference` replaces the hub's stations and branches reference data with the
  rows of the interchange files (read by :func:`stationlink.interchange.read_stations` /
  :func:`~stationlink.interchange.read_branches`: any bad row raises
  :class:`~stationlink.errors.InputDataError` naming file, line and field and nothing is
  changed). Optional columns the interchange readers ignore: ``phone`` in the stations file
  (11 digits, for the SMS notices) and ``county`` in the branches file (for the month's
  totals per county).
- :class:`MonthStore` (a protocol: :class:`SqliteMonthStore` here, ``PgMonthStore`` on
  PostgreSQL; :func:`month_store_for` picks the hub store's) reads the reference data and
  the closes, and writes a close (all statements of the month in one transaction, with its
  audit row) or a re-open (audited); stored statements are never updated: a re-close after
  a re-open is a new version. The audit row of a close has as *before* the version it
  replaces (a re-close after a re-open: ``{"version": n, "closed": false}``; a first close:
  none), as *after* the new version (closed, policy, how many statements and carried lines);
  a re-open's *before*/*after* are the version in force, closed and no longer closed.
  Refusals (closed already, not closed) are :class:`~.refused.Refused`, translatable.
- :meth:`MonthStore.carried_for` sums, per (subject, id), the lines carried for a month
  (:mod:`.carry`) that the statements of the closes in force of later months froze (each
  statement's ``carried`` list, the lines whose ``month`` is that month).
- Every close and re-open first takes the lock of :data:`ALL_MONTHS`, then its month's: they
  run one at a time. A close given ``basis`` (the closes in force its carried lines were
  computed with) is refused, storing nothing, when they changed meanwhile.
- :class:`MonthTables` holds that logic once, in SQL both databases run; each store supplies
  only its :class:`~.dialect.Dialect` (the console store's) and, where its transactions are
  not serialised, the month's lock (:meth:`MonthTables._lock_month`). The SQLite store runs
  every call on the hub store's group-commit writer, like the console store, so a close or
  re-open is serialised with any other close of the month; a stored JSON document that is
  not an object is a :class:`~stationlink.errors.StorageError`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ...buffer.db import ts_parse, ts_required, ts_text
from ...errors import InputDataError, Problem, StorageError
from ...interchange import Branch, Station, read_branches, read_stations
from ..sqlite_store import SqliteHubStore
from .backend import offered_store
from .dialect import Dialect
from .refused import Refused
from .sqlite import sqlite_dialect
from .store import Actor
from .tables import write_audit
from .text import N_

T = TypeVar("T")
#: the lock key every close and re-open takes first (then its month's): what a close carries
#: depends on which months are closed, so closes and re-opens run one at a time
ALL_MONTHS = "*"


@dataclass(frozen=True)
class Reference:
    stations: tuple[Station, ...]
    branches: tuple[Branch, ...]
    phones: dict[str, str]  # station id -> phone (stations without one are left out)
    counties: dict[str, str]  # branch id -> county (branches without one are left out)


@dataclass(frozen=True)
class Close:
    month: str
    version: int
    policy: str
    closed_by: str
    closed_at: datetime
    reopened_by: str | None
    reopened_at: datetime | None

    @property
    def in_force(self) -> bool:
        return self.reopened_at is None


def _optional_column(path: Path, column: str, key: str, check: Any) -> dict[str, str]:
    """``key`` -> ``column`` of each row that has a value (line numbers in errors)."""
    out: dict[str, str] = {}
    problems: list[Problem] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or column not in reader.fieldnames:
            return out
        for row in reader:
            value = (row.get(column) or "").strip()
            if not value:
                continue
            reason = check(value)
            if reason:
                problems.append(Problem(str(path), reader.line_num, column, reason))
                continue
            out[(row.get(key) or "").strip()] = value
    if problems:
        raise InputDataError(problems)
    return out


def _phone_problem(value: str) -> str | None:
    return None if value.isascii() and value.isdigit() and len(value) == 11 else \
        "a phone number has 11 digits"


def _county_problem(value: str) -> str | None:
    return None if len(value) <= 64 and value.isprintable() else \
        "a county name has at most 64 printable characters"


def read_reference(stations: Path, branches: Path) -> Reference:
    """The reference files, checked (module contract); raises InputDataError."""
    b = read_branches(branches)
    s = read_stations(stations, known_branches=[x.branch_id for x in b.rows])
    return Reference(tuple(s.rows), tuple(b.rows),
                     _optional_column(stations, "phone", "station_id", _phone_problem),
                     _optional_column(branches, "county", "branch_id", _county_problem))


def _amount(value: object, month: str, subject: str, sid: str) -> Decimal:
    """A stored carried line's amount (yuan text); StorageError when it is not one."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise StorageError(f"a statement of {subject} {sid} carries a line for {month} "
                           f"without an amount: {value!r}")
    return amount


def _close(row: tuple[Any, ...]) -> Close:
    return Close(row[0], int(row[1]), row[2], row[3], ts_required(row[4]), row[5],
                 ts_parse(row[6]))


_CLOSES = ("SELECT month, version, policy, closed_by, closed_at, reopened_by, reopened_at "
           "FROM month_closes")


class MonthStore(Protocol):
    """The console's month tables over a hub store's database (module contract): the SQLite
    hub file's (:class:`SqliteMonthStore`) or PostgreSQL's
    (:class:`stationlink.hub.pg.months.PgMonthStore`), with the same semantics."""

    def import_reference(self, ref: Reference, *, now: datetime, actor: Actor) -> None: ...

    def reference(self) -> Reference: ...

    def closes(self, month: str) -> list[Close]: ...

    def all_closes(self) -> list[Close]: ...

    def statements(self, month: str, version: int
                   ) -> dict[tuple[str, str], dict[str, Any]]: ...

    def carried_for(self, month: str) -> dict[tuple[str, str], Decimal]: ...

    def close_month(self, month: str, policy: str, statements: list[tuple[str, str, dict[
            str, Any]]], *, now: datetime, actor: Actor,
                    basis: Mapping[str, int] | None = None) -> Close: ...

    def reopen_month(self, month: str, *, now: datetime, actor: Actor) -> Close: ...

    def device_history(self, station_id: str, limit: int = 50
                       ) -> list[tuple[datetime, str, dict[str, Any]]]: ...


class MonthTables:
    """The month tables in the SQL both stores share, over one database's :class:`Dialect`
    (module contract); a store whose database does not serialise its transactions overrides
    :meth:`_lock_month`."""

    def __init__(self, db: Dialect) -> None:
        self._db = db

    def _run(self, work: Callable[[Any], T]) -> T:
        return self._db.run(work)

    def _lock_month(self, conn: Any, month: str) -> None:
        """Serialise this transaction with any other close or re-open of ``month``: nothing
        to do where every change runs on one writer (SQLite)."""

    def _closes(self, conn: Any, month: str) -> list[Close]:
        return [_close(r) for r in self._db.all(
            conn, _CLOSES + " WHERE month = ? ORDER BY version", (month,))]

    def _one(self, conn: Any, month: str, version: int) -> Close:
        row = self._db.one(conn, _CLOSES + " WHERE month = ? AND version = ?", (month, version))
        if row is None:
            raise StorageError(f"close {month} version {version} vanished")
        return _close(row)

    def import_reference(self, ref: Reference, *, now: datetime, actor: Actor) -> None:
        def write(conn: Any) -> None:
            row = self._db.one(conn, "SELECT count(*) FROM ref_stations")
            before = 0 if row is None else int(row[0])
            self._db.execute(conn, "DELETE FROM ref_stations")
            self._db.execute(conn, "DELETE FROM ref_branches")
            self._db.many(
                conn, "INSERT INTO ref_branches (branch_id, area, plan_effective_stations, "
                "county) VALUES (?, ?, ?, ?)",
                [(b.branch_id, b.area, b.plan_effective_stations, ref.counties.get(b.branch_id))
                 for b in ref.branches])
            self._db.many(
                conn, "INSERT INTO ref_stations (station_id, branch_id, area, village_id, "
                "village_households, phone) VALUES (?, ?, ?, ?, ?, ?)",
                [(s.station_id, s.branch_id, s.area, s.village_id, s.village_households,
                  ref.phones.get(s.station_id)) for s in ref.stations])
            write_audit(self._db, conn, now, actor, "reference.import", None,
                        {"stations": before},
                        {"stations": len(ref.stations), "branches": len(ref.branches)})

        self._run(write)

    def reference(self) -> Reference:
        def read(conn: Any) -> Reference:
            branches = self._db.all(
                conn, "SELECT branch_id, area, plan_effective_stations, county "
                "FROM ref_branches ORDER BY branch_id")
            stations = self._db.all(
                conn, "SELECT station_id, branch_id, area, village_id, village_households, "
                "phone FROM ref_stations ORDER BY station_id")
            return Reference(
                tuple(Station(r[0], r[1], r[2], r[3], r[4]) for r in stations),
                tuple(Branch(r[0], r[1], r[2]) for r in branches),
                {r[0]: r[5] for r in stations if r[5]}, {r[0]: r[3] for r in branches if r[3]})

        return self._run(read)

    def closes(self, month: str) -> list[Close]:
        return self._run(lambda c: self._closes(c, month))

    def all_closes(self) -> list[Close]:
        """Every close, newest month first."""
        rows = self._run(lambda c: self._db.all(c, _CLOSES + " ORDER BY month DESC, version"))
        return [_close(r) for r in rows]

    def statements(self, month: str, version: int) -> dict[tuple[str, str], dict[str, Any]]:
        """(subject, id) -> the frozen statement of that close."""
        rows = self._run(lambda c: self._db.all(
            c, "SELECT subject, subject_id, statement FROM statements "
            "WHERE month = ? AND version = ? ORDER BY subject, subject_id", (month, version)))
        return {(r[0], r[1]): self._db.doc(r[2]) for r in rows}

    def carried_for(self, month: str) -> dict[tuple[str, str], Decimal]:
        """(subject, id) -> the sum of the lines for ``month`` carried by the statements of
        the closes in force of later months (module contract)."""
        rows = self._run(lambda c: self._db.all(
            c, "SELECT s.subject, s.subject_id, s.statement FROM statements s "
            "JOIN month_closes c ON c.month = s.month AND c.version = s.version "
            "WHERE c.reopened_at IS NULL AND s.month > ? ORDER BY s.month", (month,)))
        out: dict[tuple[str, str], Decimal] = {}
        for subject, sid, doc in rows:
            for line in self._db.doc(doc).get("carried") or ():
                if isinstance(line, dict) and line.get("month") == month:
                    out[(subject, sid)] = out.get((subject, sid), Decimal(0)) + \
                        _amount(line.get("adjustment"), month, subject, sid)
        return out

    def _in_force(self, conn: Any) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self._db.all(
            conn, "SELECT month, version FROM month_closes WHERE reopened_at IS NULL")}

    def close_month(self, month: str, policy: str, statements: list[tuple[str, str, dict[
            str, Any]]], *, now: datetime, actor: Actor,
                    basis: Mapping[str, int] | None = None) -> Close:
        """Freeze ``statements`` ((subject, id, statement)) as the month's next version;
        OperatorError when the month is closed already, or when ``basis`` (month -> version
        of the closes in force the statements' carried lines were computed with) is no
        longer so: a close or re-open of another month came between (module contract)."""
        def write(conn: Any) -> Close:
            self._lock_month(conn, ALL_MONTHS)
            self._lock_month(conn, month)
            if basis is not None and self._in_force(conn) != dict(basis):
                raise Refused(N_("Another month was closed or re-opened while %(month)s was "
                                 "being closed; nothing was stored: try again."), month=month)
            rows = self._closes(conn, month)
            if rows and rows[-1].in_force:
                raise Refused(N_("Month %(month)s is closed already (version %(version)d)."),
                              month=month, version=rows[-1].version)
            version = rows[-1].version + 1 if rows else 1
            at = ts_text(now)
            self._db.execute(
                conn, "INSERT INTO month_closes (month, version, policy, closed_by, closed_at) "
                "VALUES (?, ?, ?, ?, ?)", (month, version, policy, actor.name, at))
            self._db.many(
                conn, "INSERT INTO statements (month, version, subject, subject_id, statement, "
                "closed_by, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(month, version, subject, sid, self._db.json_in(st), actor.name, at)
                 for subject, sid, st in statements])
            carried = sum(len(st.get("carried") or ()) for _s, _i, st in statements)
            write_audit(self._db, conn, now, actor, "month.close", month,
                        {"version": rows[-1].version, "closed": False} if rows else None,
                        {"version": version, "closed": True, "policy": policy,
                         "statements": len(statements), "carried": carried})
            return self._one(conn, month, version)

        return self._run(write)

    def reopen_month(self, month: str, *, now: datetime, actor: Actor) -> Close:
        """Mark the month's close in force as re-opened (its statements stay stored)."""
        def write(conn: Any) -> Close:
            self._lock_month(conn, ALL_MONTHS)
            self._lock_month(conn, month)
            rows = self._closes(conn, month)
            if not rows or not rows[-1].in_force:
                raise Refused(N_("Month %(month)s is not closed."), month=month)
            version = rows[-1].version
            self._db.execute(conn, "UPDATE month_closes SET reopened_by = ?, reopened_at = ? "
                             "WHERE month = ? AND version = ?",
                             (actor.name, ts_text(now), month, version))
            write_audit(self._db, conn, now, actor, "month.reopen", month,
                        {"version": version, "closed": True},
                        {"version": version, "closed": False})
            return self._one(conn, month, version)

        return self._run(write)

    def device_history(self, station_id: str, limit: int = 50
                       ) -> list[tuple[datetime, str, dict[str, Any]]]:
        """The station's newest device status snapshots: (received, terminal, snapshot)."""
        if self._db.absent(station_id):
            return []
        rows = self._run(lambda c: self._db.all(
            c, "SELECT received_at, terminal_id, snapshot FROM device_status "
            "WHERE station_id = ? ORDER BY id DESC LIMIT ?", (station_id, limit)))
        return [(ts_required(r[0]), r[1], self._db.doc(r[2])) for r in rows]


class SqliteMonthStore(MonthTables):
    """Reference data and closes over a :class:`SqliteHubStore`'s file (module contract)."""

    def __init__(self, hub_store: SqliteHubStore) -> None:
        super().__init__(sqlite_dialect(hub_store))


def month_store_for(hub_store: object) -> MonthStore:
    """The month tables over ``hub_store``'s database: the SQLite hub file's, or what a
    store offers through ``month_store()`` (the PostgreSQL store's :class:`PgMonthStore`);
    ConfigError for a store with neither."""
    store: MonthStore = offered_store(hub_store, SqliteMonthStore, "month_store",
                                      "console month tables")
    return store
