"""What both hub stores compute in Python around their own SQL.

Contract: no database. The SQLite store (:mod:`stationlink.hub.sqlite_store`) and the
PostgreSQL one (:mod:`stationlink.hub.pg.store`) read the same columns in the same order
(:data:`RECORDS_SELECT`, :data:`CONFLICT_COLUMNS`, :data:`OVERVIEW_COUNTS`) with their own
SQL dialect and connections, and turn the rows into the interface's values here:
:func:`hub_record` (a ``records`` row), :func:`conflicts` (the conflict query's rows:
station, the duplicate's ``received_at``, the duplicate's and the held record's columns) and
:func:`overviews` (the per-station rows and counts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..buffer.db import ts_parse, ts_required
from ..buffer.schema import RECORD_COLUMNS, row_ident, row_record
from .hub_schema import EXTRA_COLUMNS
from .ingest import CONTENT_FIELDS, differing
from .store import Conflict, HubRecord, StationOverview

RECORDS_SELECT = (f"SELECT {', '.join(RECORD_COLUMNS)}, {', '.join(EXTRA_COLUMNS)} "  # noqa: S608
                  "FROM records WHERE duplicate_of IS NULL")
# the conflict query's columns: the duplicate d's station and arrival, then d's and the held
# record h's record columns
CONFLICT_COLUMNS = "d.station_id, d.received_at, " + ", ".join(
    [f"d.{c}" for c in RECORD_COLUMNS] + [f"h.{c}" for c in RECORD_COLUMNS])
# per station: records kept (not duplicates), of them late, duplicates (SQLite and PostgreSQL)
OVERVIEW_COUNTS = (
    "SELECT station_id, count(*) FILTER (WHERE duplicate_of IS NULL), "
    "count(*) FILTER (WHERE duplicate_of IS NULL AND late), "
    "count(*) FILTER (WHERE duplicate_of IS NOT NULL) FROM records GROUP BY station_id")


def hub_record(row: Sequence[Any]) -> HubRecord:
    """A row of :data:`RECORDS_SELECT` (the record's columns, then the hub's) as a
    HubRecord."""
    extra = dict(zip(EXTRA_COLUMNS, row[len(RECORD_COLUMNS):], strict=True))
    return HubRecord(
        row_record(row), ts_required(extra["received_at"]), ts_required(extra["ts"]),
        extra["affects_month"], bool(extra["late"]),
    )


def conflicts(rows: Iterable[Sequence[Any]]) -> list[Conflict]:
    """The conflict query's rows (:data:`CONFLICT_COLUMNS`) as Conflicts, in their order."""
    n = len(RECORD_COLUMNS)
    out = []
    for r in rows:
        sent, held = r[2:2 + n], r[2 + n:]
        dup, orig = row_record(sent), row_record(held)
        out.append(Conflict(
            station_id=r[0], seq=dup.seq, duplicate_of=orig.seq, terminal_id=dup.terminal_id,
            ident=row_ident(sent), received_at=ts_required(r[1]),
            fields=tuple(differing(held, sent, CONTENT_FIELDS)), held=orig, sent=dup,
        ))
    return out


def overviews(
    stations: Iterable[Sequence[Any]], counts: Iterable[Sequence[Any]],
    conflict_stations: Iterable[str], devices: Iterable[Sequence[Any]],
    decode: Callable[[Any], dict[str, Any]],
) -> list[StationOverview]:
    """One overview per ``stations`` row (station, hwm, last contact, agent status, its
    time), with :data:`OVERVIEW_COUNTS` rows, the station of each conflict and the newest
    device snapshot rows (station, snapshot) per terminal; ``decode`` turns a stored JSON
    value (agent status, snapshot) into a dict."""
    count = {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in counts}
    conflicted: dict[str, int] = {}
    for sid in conflict_stations:
        conflicted[sid] = conflicted.get(sid, 0) + 1
    snapshots: dict[str, list[dict[str, Any]]] = {}
    for sid, snap in devices:
        snapshots.setdefault(sid, []).append(decode(snap))
    out = []
    for sid, hwm, last, agent, agent_at in stations:
        n, late, dups = count.get(sid, (0, 0, 0))
        out.append(StationOverview(
            station_id=sid, high_water_mark=int(hwm), last_contact=ts_parse(last),
            records=n, late=late, agent_status=None if agent is None else decode(agent),
            agent_status_at=ts_parse(agent_at), devices=snapshots.get(sid, []),
            duplicates=dups, conflicts=conflicted.get(sid, 0)))
    return out


def records_query(month: str | None, include_late: bool, param: str
                  ) -> tuple[str, list[Any]]:
    """The query (and its arguments) of ``HubStore.records``: :data:`RECORDS_SELECT` of
    ``month`` (all if ``None``), without late records unless ``include_late``, in (station,
    seq) order; ``param`` is the driver's placeholder (``?`` or ``%s``)."""
    sql = RECORDS_SELECT
    args: list[Any] = []
    if month is not None:
        sql += f" AND affects_month = {param}"
        args.append(month)
    if not include_late:
        sql += f" AND late = {param}"
        args.append(False)
    return sql + " ORDER BY station_id, seq", args


def conflicts_query(select: str, station_id: str | None, param: str
                    ) -> tuple[str, list[Any]]:
    """A store's conflict query ``select`` (its :data:`CONFLICT_COLUMNS` of duplicate ``d``
    and held record ``h``), for one station if ``station_id``, in (station, seq) order;
    ``param`` is the driver's placeholder."""
    args: list[Any] = []
    if station_id is not None:
        select += f" AND d.station_id = {param}"
        args.append(station_id)
    return select + " ORDER BY d.station_id, d.seq", args
