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
  a re-open is a new version.
  The SQLite store runs every call on the hub store's group-commit writer, like the
  console store; a close or re-open is serialised with any other close of the month.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from ...buffer.db import ts_parse, ts_required, ts_text
from ...errors import ConfigError, InputDataError, OperatorError, Problem
from ...interchange import Branch, Station, read_branches, read_stations
from ..sqlite_store import SqliteHubStore
from .sqlite import _audit
from .store import Actor


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


def _close(row: tuple[Any, ...]) -> Close:
    return Close(row[0], row[1], row[2], row[3], ts_required(row[4]), row[5],
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

    def close_month(self, month: str, policy: str, statements: list[tuple[str, str, dict[
            str, Any]]], *, now: datetime, actor: Actor) -> Close: ...

    def reopen_month(self, month: str, *, now: datetime, actor: Actor) -> Close: ...

    def device_history(self, station_id: str, limit: int = 50
                       ) -> list[tuple[datetime, str, dict[str, Any]]]: ...


class SqliteMonthStore:
    """Reference data and closes over a :class:`SqliteHubStore`'s file (module contract)."""

    def __init__(self, hub_store: SqliteHubStore) -> None:
        self._writer = hub_store.writer

    def _run(self, fn: Any) -> Any:
        return self._writer.run(fn)

    def import_reference(self, ref: Reference, *, now: datetime, actor: Actor) -> None:
        def write(conn: sqlite3.Connection) -> None:
            before = conn.execute("SELECT COUNT(*) FROM ref_stations").fetchone()[0]
            conn.execute("DELETE FROM ref_stations")
            conn.execute("DELETE FROM ref_branches")
            conn.executemany(
                "INSERT INTO ref_branches (branch_id, area, plan_effective_stations, county) "
                "VALUES (?, ?, ?, ?)",
                [(b.branch_id, b.area, b.plan_effective_stations, ref.counties.get(b.branch_id))
                 for b in ref.branches])
            conn.executemany(
                "INSERT INTO ref_stations (station_id, branch_id, area, village_id, "
                "village_households, phone) VALUES (?, ?, ?, ?, ?, ?)",
                [(s.station_id, s.branch_id, s.area, s.village_id, s.village_households,
                  ref.phones.get(s.station_id)) for s in ref.stations])
            _audit(conn, now, actor, "reference.import", None, {"stations": before},
                   {"stations": len(ref.stations), "branches": len(ref.branches)})

        self._run(write)

    def reference(self) -> Reference:
        def read(conn: sqlite3.Connection) -> Reference:
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
        def read(conn: sqlite3.Connection) -> list[Close]:
            return [_close(r) for r in conn.execute(
                _CLOSES + " WHERE month=? ORDER BY version", (month,))]

        result: list[Close] = self._run(read)
        return result

    def all_closes(self) -> list[Close]:
        """Every close, newest month first."""
        def read(conn: sqlite3.Connection) -> list[Close]:
            return [_close(r) for r in conn.execute(
                _CLOSES + " ORDER BY month DESC, version")]

        result: list[Close] = self._run(read)
        return result

    def statements(self, month: str, version: int) -> dict[tuple[str, str], dict[str, Any]]:
        """(subject, id) -> the frozen statement of that close."""
        def read(conn: sqlite3.Connection) -> dict[tuple[str, str], dict[str, Any]]:
            return {(r[0], r[1]): json.loads(r[2]) for r in conn.execute(
                "SELECT subject, subject_id, statement FROM statements "
                "WHERE month=? AND version=? ORDER BY subject, subject_id", (month, version))}

        result: dict[tuple[str, str], dict[str, Any]] = self._run(read)
        return result

    def close_month(self, month: str, policy: str, statements: list[tuple[str, str, dict[
            str, Any]]], *, now: datetime, actor: Actor) -> Close:
        """Freeze ``statements`` ((subject, id, statement)) as the month's next version;
        OperatorError when the month is closed already."""
        def write(conn: sqlite3.Connection) -> Close:
            rows = [_close(r) for r in conn.execute(
                _CLOSES + " WHERE month=? ORDER BY version", (month,))]
            if rows and rows[-1].in_force:
                raise OperatorError(f"month {month} is closed already (version "
                                    f"{rows[-1].version})")
            version = rows[-1].version + 1 if rows else 1
            at = ts_text(now)
            conn.execute(
                "INSERT INTO month_closes (month, version, policy, closed_by, closed_at) "
                "VALUES (?, ?, ?, ?, ?)", (month, version, policy, actor.name, at))
            conn.executemany(
                "INSERT INTO statements (month, version, subject, subject_id, statement, "
                "closed_by, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(month, version, subject, sid,
                  json.dumps(st, ensure_ascii=False, sort_keys=True), actor.name, at)
                 for subject, sid, st in statements])
            _audit(conn, now, actor, "month.close", month, None,
                   {"version": version, "policy": policy, "statements": len(statements)})
            return _close(conn.execute(_CLOSES + " WHERE month=? AND version=?",
                                       (month, version)).fetchone())

        result: Close = self._run(write)
        return result

    def reopen_month(self, month: str, *, now: datetime, actor: Actor) -> Close:
        """Mark the month's close in force as re-opened (its statements stay stored)."""
        def write(conn: sqlite3.Connection) -> Close:
            rows = [_close(r) for r in conn.execute(
                _CLOSES + " WHERE month=? ORDER BY version", (month,))]
            if not rows or not rows[-1].in_force:
                raise OperatorError(f"month {month} is not closed")
            version = rows[-1].version
            conn.execute("UPDATE month_closes SET reopened_by=?, reopened_at=? "
                         "WHERE month=? AND version=?",
                         (actor.name, ts_text(now), month, version))
            _audit(conn, now, actor, "month.reopen", month, {"version": version, "closed": True},
                   {"version": version, "closed": False})
            return _close(conn.execute(_CLOSES + " WHERE month=? AND version=?",
                                       (month, version)).fetchone())

        result: Close = self._run(write)
        return result

    def device_history(self, station_id: str, limit: int = 50
                       ) -> list[tuple[datetime, str, dict[str, Any]]]:
        """The station's newest device status snapshots: (received, terminal, snapshot)."""
        def read(conn: sqlite3.Connection) -> list[tuple[datetime, str, dict[str, Any]]]:
            return [(ts_required(r[0]), r[1], json.loads(r[2])) for r in conn.execute(
                "SELECT received_at, terminal_id, snapshot FROM device_status "
                "WHERE station_id=? ORDER BY id DESC LIMIT ?", (station_id, limit))]

        result: list[tuple[datetime, str, dict[str, Any]]] = self._run(read)
        return result


def month_store_for(hub_store: object) -> MonthStore:
    """The month tables over ``hub_store``'s database: the SQLite hub file's, or what a
    store offers through ``month_store()`` (the PostgreSQL store's :class:`PgMonthStore`);
    ConfigError for a store with neither."""
    if isinstance(hub_store, SqliteHubStore):
        return SqliteMonthStore(hub_store)
    maker = getattr(hub_store, "month_store", None)
    if callable(maker):
        store: MonthStore = maker()
        return store
    raise ConfigError(f"{type(hub_store).__name__} has no console month tables")
