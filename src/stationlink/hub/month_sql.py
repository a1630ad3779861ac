"""The month where the data is: the reward engine's tallies computed by the store in SQL.

Contract: :func:`month_tallies` runs on a DB-API connection to a hub database (SQLite, or
PostgreSQL through a :class:`Dialect` that says how to spell a CST day, a parameter and a
few expressions) and returns :class:`~stationlink.hub.store.MonthTallies` for consecutive
months. The rows it aggregates are exactly the rows ``hub export --month M`` writes for each
month (:func:`stationlink.hub.export.hub_transactions`), folded by the rules of
:func:`stationlink.buffer.fold.fold`:

- held records only (``duplicate_of IS NULL``) whose ``affects_month`` is one of the months,
  without the late ones unless ``include_late``;
- a row per transaction result that is not a reversal (entry ``txn``) and per referral;
  unknown, void, cancel and reversal records are never rows;
- an approved reversal turns its original (same station and terminal, ``terminal_ref`` =
  its ``original_ref``, a non-reversal among the same held records) from ``approved`` to
  ``reversed``; a cancellation turns its referral (same station, terminal and referral id)
  to ``reversed``; a referral is otherwise ``approved`` and has no card;
- a row's month is its ``affects_month`` (for a row record the ingest sets it to the CST
  month of its effective ``ts``); its day is the CST date of ``ts``.

Two queries, each one pass over the month's records:

1. :func:`rows_sql`: the rows grouped by (station, stored status, kind, product, month) with
   count and exact integer sum of ``amount_fen``; an approved row that a capped count may
   count (its ``(kind, product)`` matched by a capped count's own ``matches`` over the
   record vocabulary, the only values a hub accepts) is grouped further by card token and
   CST day, so the per-card-per-day swipes come out of the same pass;
2. :func:`undone_sql`: the (few) rows a reversal or cancellation turns to ``reversed``,
   found through the identity index; Python moves each from its ``approved`` cell (and
   card-day) to the ``reversed`` cell (a cell left empty disappears: the fold never made
   it).

Python then sums each capped count's card-days per (month, station, card, day): ``min(swipes,
cap)`` of each are valid, and each card-day over the cap is listed with its swipes. (The
first version numbered the rows ``ROW_NUMBER() OVER (PARTITION BY station, card, day ORDER
BY ts, seq)`` and kept those up to the cap in a second pass; which rows are the valid ones
changes no count, and one pass is about twice as fast: ``docs/hub.md``, "Rewards from the
store".)

Both queries' results are streamed, never held whole: each group is folded into the tallies
as it comes (:func:`fetch_rows`: SQLite steps its cursor as it is read; :func:`psycopg_rows`:
PostgreSQL's come in chunks of :data:`CHUNK`), so the process holds the tallies, not the
groups.

Reads only; one connection; the caller holds any lock and wraps driver errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from ..records.vocab import BILL_PRODUCTS, REFERRAL_PRODUCTS, Kind
from .store import CappedCount, MonthTallies


@dataclass(frozen=True)
class Dialect:
    """How one database spells what the queries need."""

    param: str  # a bound parameter
    day: str  # format string: the CST date 'YYYY-MM-DD' of the column {0}
    not_late: str  # the condition "not a late record" on the alias {0}
    setup: tuple[str, ...] = ()  # statements run on the connection first
    per_station: bool = False  # group each station's rows apart (see rows_sql)


#: SQLite has no hash aggregation: one GROUP BY over a province month sorts millions of rows
#: (and spills them to temporary files), which grows faster than the rows. Grouped per
#: station (the primary key's prefix), each sort is a few hundred rows in memory: linear,
#: and less CPU (figures: ``docs/hub.md``, "Rewards from the store").
#: The hub's SQLite file: ``ts`` is ISO 8601 text in CST (``+08:00``, schema version 2), so
#: its first 10 characters are the CST date.
SQLITE = Dialect("?", "substr({0}, 1, 10)", "{0}.late = 0", per_station=True)
#: PostgreSQL: ``ts`` is a ``timestamptz``, ``late`` a boolean. The store runs the queries in
#: one transaction, so ``SET LOCAL`` ends with it: with room for a hash table of the
#: province month's groups PostgreSQL hashes instead of sorting (about a third faster).
POSTGRES = Dialect("%s", "to_char({0} AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')",
                   "NOT {0}.late", ("SET LOCAL work_mem = '256MB'",))

#: Every (kind, product) an export row may have (the record vocabulary; ``""``: none).
KINDS = (Kind.BILL_PAYMENT.value, Kind.WITHDRAWAL.value, Kind.BALANCE_INQUIRY.value,
         Kind.REFERRAL.value)
PRODUCTS = ("", *BILL_PRODUCTS, *REFERRAL_PRODUCTS)

#: A record that is an export row: a terminal result other than a reversal, or a referral.
_ROW = "((r.entry = 'txn' AND r.kind <> 'reversal') OR r.entry = 'referral')"
#: The row's status as the fold starts from it (a referral is approved).
_STATUS = "CASE WHEN r.entry = 'referral' THEN 'approved' ELSE r.status END"
#: The row's card (a referral has none).
_CARD = "CASE WHEN r.entry = 'referral' THEN '' ELSE COALESCE(r.card_token, '') END"

#: Rows per chunk when PostgreSQL's rows are streamed (:func:`psycopg_rows`).
CHUNK = 10_000
#: Rows per ``fetchmany`` of :func:`fetch_rows` (SQLite: stations, a few KB each).
ROWS_PER_FETCH = 500

#: How a store runs a query and yields its rows one by one: ``(conn, sql, args)``.
Fetch = Callable[[Any, str, Sequence[Any]], Generator[tuple[Any, ...], None, None]]

CellKey = tuple[str, str, str, str, str]  # month, station, status, kind, product
#: month, station, kind, product, card, CST date
CardDay = tuple[str, str, str, str, str, str]


def _held(d: Dialect, alias: str, months: int, include_late: bool) -> str:
    """The condition "a held record of the months" on ``alias`` (binds the months)."""
    marks = ", ".join([d.param] * months)
    cond = f"{alias}.duplicate_of IS NULL AND {alias}.affects_month IN ({marks})"
    if not include_late:
        cond += " AND " + d.not_late.format(alias)
    return cond


def capped_pairs(capped: Sequence[CappedCount]) -> dict[str, tuple[str, ...] | None]:
    """kind -> the products a capped count may count (``None``: every product of it)."""
    out: dict[str, tuple[str, ...] | None] = {}
    for kind in KINDS:
        products = tuple(p for p in PRODUCTS if any(
            c.cap_per_card_per_day is not None and c.matches(kind, p) for c in capped))
        if products == PRODUCTS:
            out[kind] = None
        elif products:
            out[kind] = products
    return out


def _capflag(d: Dialect, pairs: dict[str, tuple[str, ...] | None]) -> tuple[str, list[str]]:
    """SQL: "an approved row a capped count may count", and its parameters."""
    if not pairs:
        return "1 = 0", []
    parts, args = [], []
    for kind, products in pairs.items():
        if products is None:
            parts.append(f"r.kind = {d.param}")
            args.append(kind)
        else:
            marks = ", ".join([d.param] * len(products))
            parts.append(f"(r.kind = {d.param} AND r.product IN ({marks}))")
            args += [kind, *products]
    return f"({_STATUS} = 'approved' AND ({' OR '.join(parts)}))", args


def rows_sql(d: Dialect, months: int, include_late: bool,
             pairs: dict[str, tuple[str, ...] | None]) -> tuple[str, list[str]]:
    """Export rows with their status *as stored* (a referral: approved) grouped by station,
    status, kind, product, month and, for a row a capped count may count, card and CST day:
    count and sum of fen. Returns the SQL and the parameters that come before the months
    (the cap condition's, twice). With ``d.per_station`` the grouping runs per station (a
    correlated subquery over the primary key's station prefix, its groups as one JSON array
    per station: :func:`station_groups` reads them)."""
    held = _held(d, "r", months, include_late)
    flag, args = _capflag(d, pairs)
    day = d.day.format("r.ts")
    cols = [_STATUS, "r.kind", "r.product", "r.affects_month",
            f"CASE WHEN {flag} THEN {_CARD} END", f"CASE WHEN {flag} THEN {day} END",
            "COUNT(*)", "SUM(r.amount_fen)"]
    if not d.per_station:
        sql = f"""SELECT r.station_id, {', '.join(cols)}
FROM records r WHERE {held} AND {_ROW} GROUP BY 1, 2, 3, 4, 5, 6, 7"""  # noqa: S608 - fixed text, bound parameters
        return sql, args + args
    names = [f"c{i}" for i in range(len(cols))]
    aliased = ", ".join(f"{c} AS {n}" for c, n in zip(cols, names, strict=True))
    sql = f"""SELECT s.station_id, (
  SELECT json_group_array(json_array({', '.join(names)})) FROM (
    SELECT {aliased} FROM records r
    WHERE r.station_id = s.station_id AND {held} AND {_ROW} GROUP BY 1, 2, 3, 4, 5, 6))
FROM (SELECT DISTINCT station_id FROM records) s"""  # noqa: S608 - fixed text, bound parameters
    return sql, args + args


def station_groups(rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """The per-station JSON arrays of :func:`rows_sql` as the flat query's rows."""
    for station, groups in rows:
        for g in json.loads(groups):
            yield (station, *g)


def undone_sql(d: Dialect, months: int, include_late: bool) -> str:
    """The rows an approved reversal or a cancellation turns to ``reversed``: approved
    terminal results (not reversals) and referrals among the held records, each once; their
    month, station, seq, kind, product, fen, card and CST day. Binds the months twice (x,
    then o)."""
    card = _CARD.replace("r.", "o.")
    return f"""SELECT DISTINCT o.affects_month, o.station_id, o.seq, o.kind, o.product,
    o.amount_fen, {card}, {d.day.format("o.ts")}
FROM records x JOIN records o
  ON o.station_id = x.station_id AND o.terminal_id = x.terminal_id
 AND o.ident = CASE WHEN x.entry = 'cancel' THEN 'r:' || x.client_ref
                    ELSE 't:' || x.original_ref END
 AND o.duplicate_of IS NULL
WHERE {_held(d, 'x', months, include_late)}
  AND ((x.entry = 'txn' AND x.kind = 'reversal' AND x.status = 'approved')
       OR x.entry = 'cancel')
  AND {_held(d, 'o', months, include_late)}
  AND (o.entry = 'referral' OR (o.kind <> 'reversal' AND o.status = 'approved'))"""  # noqa: S608 - fixed text and bound parameters only


def month_tallies(conn: Any, dialect: Dialect, months: Sequence[str], *, include_late: bool,
                  capped: Sequence[CappedCount], fetch: Fetch | None = None) -> MonthTallies:
    """The months' tallies (module contract); ``conn`` is a DB-API connection, ``fetch`` how
    its rows are streamed (default :func:`fetch_rows`)."""
    fetch = fetch_rows if fetch is None else fetch
    ms = list(months)
    n = len(ms)
    for statement in dialect.setup:
        cur = conn.cursor()
        try:
            cur.execute(statement)
        finally:
            cur.close()
    pairs = capped_pairs(capped)
    sql, flag_args = rows_sql(dialect, n, include_late, pairs)
    cells: dict[CellKey, tuple[int, int]] = {}
    card_days: dict[CardDay, int] = {}
    with closing(fetch(conn, sql, flag_args + ms)) as grouped:
        flat = station_groups(grouped) if dialect.per_station else grouped
        for st, status, kind, product, m, card, day, k, fen in flat:
            key = (m, st, status, kind, product)
            k, fen = int(k), int(fen)  # PostgreSQL's SUM of bigint is numeric (a Decimal)
            had = cells.get(key)
            cells[key] = (k, fen) if had is None else (had[0] + k, had[1] + fen)
            if day is not None:
                card_days[(m, st, kind, product, card, day)] = k
    with closing(fetch(conn, undone_sql(dialect, n, include_late), ms + ms)) as undone:
        for m, st, _, kind, product, fen, card, day in undone:
            _move(cells, (m, st, "approved", kind, product), -1, -int(fen))
            _move(cells, (m, st, "reversed", kind, product), 1, int(fen))
            cd = (m, st, kind, product, card, day)
            if cd in card_days:
                card_days[cd] -= 1
    valid: dict[tuple[str, str, str], int] = {}
    over: list[tuple[str, str, str, str, str, int]] = []
    for count in capped:
        cap = count.cap_per_card_per_day
        if cap is None:
            continue
        swipes: dict[tuple[str, str, str, str], int] = {}
        matching = {kp: count.matches(*kp) for kp in {(c[2], c[3]) for c in card_days}}
        for (m, st, kind, product, card, day), k in card_days.items():
            if k and matching[(kind, product)]:
                day_key = (m, st, card, day)
                swipes[day_key] = swipes.get(day_key, 0) + k
        for (m, st, card, day), k in swipes.items():
            vk = (m, st, count.name)
            valid[vk] = valid.get(vk, 0) + min(k, cap)
            if k > cap:
                over.append((m, st, count.name, card, day, k))
    return MonthTallies(tuple(months), cells, valid, over)


def _move(cells: dict[CellKey, tuple[int, int]], key: CellKey, k: int, fen: int) -> None:
    """Add ``k`` rows and ``fen`` to a cell; a cell left with no row is removed."""
    k0, fen0 = cells.get(key, (0, 0))
    if k0 + k == 0:
        cells.pop(key, None)
    else:
        cells[key] = (k0 + k, fen0 + fen)


def fetch_rows(conn: Any, sql: str, args: Sequence[Any]
               ) -> Generator[tuple[Any, ...], None, None]:
    """``sql``'s rows one by one from a DB-API cursor, read :data:`ROWS_PER_FETCH` at a time
    (``fetchmany``: SQLite steps the statement as it is read, so only those are held; on
    SQLite a row is one station's groups)."""
    cur = conn.cursor()
    try:
        cur.execute(sql, list(args))
        while rows := cur.fetchmany(ROWS_PER_FETCH):
            yield from rows
    finally:
        cur.close()


def psycopg_rows(conn: Any, sql: str, args: Sequence[Any]
                 ) -> Generator[tuple[Any, ...], None, None]:
    """``sql``'s rows one by one from a psycopg 3 connection, streamed :data:`CHUNK` at a time
    (``Cursor.stream``: the server sends them as the query makes them; the client never
    holds the whole result; chunked with libpq 17 or later, row by row before)."""
    cur = conn.cursor()
    try:
        yield from cur.stream(sql, list(args), size=CHUNK)
    finally:
        cur.close()
