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

Three queries, each one pass over the month's records:

1. :func:`cells_sql`: the rows grouped by (month, station, stored status, kind, product):
   count and exact integer sum of ``amount_fen``;
2. :func:`undone_sql`: the (few) rows a reversal or cancellation turns to ``reversed``, found
   through the identity index; Python moves each from its ``approved`` cell to the
   ``reversed`` one (a cell left empty disappears, as it never existed in the fold);
3. :func:`cap_sql`, per capped count (its matching ``(kind, product)`` pairs decided in
   Python by the count's own ``matches`` over the pairs present): the approved matching rows,
   less the undone ones, counted per (station, card, CST day); ``min(rows, cap)`` of each
   card-day are valid, and each card-day with more rows than the cap is listed with its
   total. (Equal to numbering the rows ``ROW_NUMBER() OVER (PARTITION BY station, card, day
   ORDER BY ts, seq)`` and keeping those up to the cap, which the first version did; the
   grouping is about twice as fast on SQLite, as which rows are the valid ones changes no
   count. ``docs/hub.md``, "Rewards from the store".)

Reads only; one connection; the caller holds any lock and wraps driver errors.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .store import CappedCount, MonthTallies


@dataclass(frozen=True)
class Dialect:
    """How one database spells what the queries need."""

    param: str  # a bound parameter
    day: str  # format string: the CST date 'YYYY-MM-DD' of the column {0}
    not_late: str  # the condition "not a late record" on the alias {0}
    key: str  # the text "station|seq" of the alias {0}
    keys: str  # a subquery: the texts of a JSON array parameter


#: The hub's SQLite file: ``ts`` is ISO 8601 text in CST (``+08:00``, schema version 2), so
#: its first 10 characters are the CST date.
SQLITE = Dialect("?", "substr({0}, 1, 10)", "{0}.late = 0",
                 "{0}.station_id || '|' || {0}.seq", "SELECT value FROM json_each(?)")
#: PostgreSQL: ``ts`` is a ``timestamptz``, ``late`` a boolean.
POSTGRES = Dialect("%s", "to_char({0} AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')", "NOT {0}.late",
                   "{0}.station_id || '|' || {0}.seq::text",
                   "SELECT jsonb_array_elements_text(%s::jsonb)")


def _held(d: Dialect, alias: str, months: int, include_late: bool) -> str:
    """The condition "a held record of the months" on ``alias`` (binds the months)."""
    marks = ", ".join([d.param] * months)
    cond = f"{alias}.duplicate_of IS NULL AND {alias}.affects_month IN ({marks})"
    if not include_late:
        cond += " AND " + d.not_late.format(alias)
    return cond


#: A record that is an export row: a terminal result other than a reversal, or a referral.
_ROW = "((r.entry = 'txn' AND r.kind <> 'reversal') OR r.entry = 'referral')"


def cells_sql(d: Dialect, months: int, include_late: bool) -> str:
    """Export rows with their status *as stored* (a referral: approved) grouped by month,
    station, status, kind and product: count and sum of fen. Binds the months."""
    held = _held(d, "r", months, include_late)
    return f"""SELECT r.station_id,
    CASE WHEN r.entry = 'referral' THEN 'approved' ELSE r.status END, r.kind, r.product,
    r.affects_month, COUNT(*), SUM(r.amount_fen)
FROM records r WHERE {held} AND {_ROW} GROUP BY 1, 2, 3, 4, 5"""  # noqa: S608 - fixed text, bound parameters


def undone_sql(d: Dialect, months: int, include_late: bool) -> str:
    """The rows an approved reversal or a cancellation turns to ``reversed``: approved
    terminal results (not reversals) and referrals among the held records, each once; their
    month, station, seq, kind, product, fen. Binds the months twice (x, then o)."""
    return f"""SELECT DISTINCT o.affects_month, o.station_id, o.seq, o.kind, o.product,
    o.amount_fen
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


def cap_sql(d: Dialect, months: int, include_late: bool, pairs: int, cap: int,
            exclude: bool) -> str:
    """Valid swipes and over-cap card-days of one capped count over the approved export rows
    whose (kind, product) is one of ``pairs``: rows counted per (station, card, CST day,
    month); a card-day's valid rows are ``min(rows, cap)`` (the first ``cap`` by time are the
    valid ones, and which ones they are changes no count, so no row is numbered); summed per
    (month, station), plus one row per card-day over the cap with its total. ``exclude``:
    leave out the rows whose ``station|seq`` text is in a JSON array (the rows turned
    ``reversed``; the seq, all digits, follows the last ``|``, so the text names one row).
    Binds the months, the pairs' kind and product, then the JSON array. The cap is a literal
    (an ``int`` from the validated policy, written by ``int``)."""
    p, c = d.param, str(int(cap))
    match = " OR ".join([f"(r.kind = {p} AND r.product = {p})"] * pairs)
    card = "CASE WHEN r.entry = 'referral' THEN '' ELSE COALESCE(r.card_token, '') END"
    skip = f" AND {d.key.format('r')} NOT IN ({d.keys})" if exclude else ""
    return f"""SELECT m, station_id,
    CASE WHEN n > {c} THEN card END, CASE WHEN n > {c} THEN d END, CASE WHEN n > {c} THEN n END,
    SUM(CASE WHEN n > {c} THEN {c} ELSE n END)
FROM (
  SELECT r.station_id, {card} AS card, {d.day.format("r.ts")} AS d, r.affects_month AS m,
    COUNT(*) AS n
  FROM records r
  WHERE {_held(d, 'r', months, include_late)} AND {_ROW}
    AND (r.entry = 'referral' OR r.status = 'approved') AND ({match}){skip}
  GROUP BY 1, 2, 3, 4
) card_days
GROUP BY 1, 2, 3, 4, 5"""  # noqa: S608 - fixed text, an int literal and bound parameters


def month_tallies(conn: Any, dialect: Dialect, months: Sequence[str], *, include_late: bool,
                  capped: Sequence[CappedCount]) -> MonthTallies:
    """The months' tallies (module contract); ``conn`` is a DB-API connection."""
    ms = list(months)
    n = len(ms)
    cells: dict[tuple[str, str, str, str, str], tuple[int, int]] = {}
    for st, status, kind, product, m, k, fen in _rows(conn, cells_sql(dialect, n,
                                                                       include_late), ms):
        cells[(m, st, status, kind, product)] = (int(k), int(fen))
    undone = _rows(conn, undone_sql(dialect, n, include_late), ms + ms)
    for m, st, _, kind, product, fen in undone:  # approved -> reversed, one row each
        _move(cells, (m, st, "approved", kind, product), -1, -int(fen))
        _move(cells, (m, st, "reversed", kind, product), 1, int(fen))
    present = sorted({(k, p) for (_, _, status, k, p) in cells if status == "approved"})
    valid: dict[tuple[str, str, str], int] = {}
    over: list[tuple[str, str, str, str, str, int]] = []
    for count in capped:
        cap = count.cap_per_card_per_day
        pairs = [kp for kp in present if count.matches(*kp)]
        if cap is None or not pairs:
            continue
        gone = [f"{st}|{seq}" for _, st, seq, kind, product, _ in undone
                if count.matches(kind, product)]
        sql = cap_sql(dialect, n, include_late, len(pairs), cap, bool(gone))
        args: list[Any] = ms + [v for kp in pairs for v in kp]
        if gone:
            args.append(json.dumps(gone))
        for m, st, card, day, k_over, k in _rows(conn, sql, args):
            key = (m, st, count.name)
            valid[key] = valid.get(key, 0) + int(k)
            if k_over is not None:
                over.append((m, st, count.name, card, day, int(k_over)))
    return MonthTallies(tuple(months), cells, valid, over)


def _move(cells: dict[tuple[str, str, str, str, str], tuple[int, int]],
          key: tuple[str, str, str, str, str], k: int, fen: int) -> None:
    """Add ``k`` rows and ``fen`` to a cell; a cell left with no row is removed."""
    k0, fen0 = cells.get(key, (0, 0))
    if k0 + k == 0:
        cells.pop(key, None)
    else:
        cells[key] = (k0 + k, fen0 + fen)


def _rows(conn: Any, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    try:
        cur.execute(sql, list(args))
        return list(cur.fetchall())
    finally:
        cur.close()
