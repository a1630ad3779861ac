"""The month where the data is: the reward engine's tallies computed by the store in SQL.

Contract: :func:`month_tallies` runs on a DB-API connection to a hub database (SQLite, or
PostgreSQL through a :class:`Dialect` that says how to spell a CST month and day and a
parameter) and returns :class:`~stationlink.hub.store.MonthTallies` for consecutive months.
The rows it aggregates are exactly the rows ``hub export --month M`` writes for each month
(:func:`stationlink.hub.export.hub_transactions`), folded in SQL by the rules of
:func:`stationlink.buffer.fold.fold`:

- held records only (``duplicate_of IS NULL``) whose ``affects_month`` is one of the months,
  without the late ones unless ``include_late``;
- a row per transaction result that is not a reversal (entry ``txn``) and per referral;
  unknown, void, cancel and reversal records are never rows;
- an approved reversal turns its original (same station and terminal, ``terminal_ref`` =
  its ``original_ref``, a non-reversal among the same held records) from ``approved`` to
  ``reversed``; a cancellation turns its referral (same station, terminal and referral id)
  to ``reversed``; a referral is otherwise ``approved`` and has no card;
- the row's time is the stored effective ``ts``; its month and day are CST calendar ones.

Per row group it returns the count and the exact integer sum of ``amount_fen``. For each
capped count (its matching ``(kind, product)`` pairs decided in Python by the count's own
``matches`` over the pairs present), the approved matching swipes are numbered per station,
card token and CST day, ``ROW_NUMBER() OVER (PARTITION BY station, card, day ORDER BY ts,
seq)``; those numbered up to the cap are valid, and every card-day with more swipes than
the cap is listed with its total. Reads only; one connection; the caller holds any lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .store import CappedCount, MonthTallies


@dataclass(frozen=True)
class Dialect:
    """How one database spells what the queries need."""

    param: str  # a bound parameter
    month: str  # format string: the CST month 'YYYY-MM' of the column {0}
    day: str  # format string: the CST date 'YYYY-MM-DD' of the column {0}
    not_late: str  # the condition "not a late record"


#: The hub's SQLite file: ``ts`` is ISO 8601 text in CST (``+08:00``, schema version 2), so
#: its first 7 and 10 characters are the CST month and date.
SQLITE = Dialect("?", "substr({0}, 1, 7)", "substr({0}, 1, 10)", "late = 0")
#: PostgreSQL: ``ts`` is a ``timestamptz``.
POSTGRES = Dialect("%s", "to_char({0} AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')",
                   "to_char({0} AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')", "NOT late")


def _held(d: Dialect, alias: str, months: int, include_late: bool) -> str:
    """The condition "a held record of the months" on ``alias``."""
    marks = ", ".join([d.param] * months)
    cond = f"{alias}.duplicate_of IS NULL AND {alias}.affects_month IN ({marks})"
    if not include_late:
        cond += f" AND {alias}.{d.not_late}"
    return cond


def folded_sql(d: Dialect, months: int, include_late: bool) -> tuple[str, int]:
    """The ``WITH`` clause defining ``folded`` (the export's rows: station_id, seq, kind,
    product, amount_fen, ts, card, status) and how many times the months are bound in it."""
    held = {a: _held(d, a, months, include_late) for a in ("r", "x", "o")}
    sql = f"""WITH undone AS (
  SELECT o.station_id, o.seq FROM records x JOIN records o
    ON o.station_id = x.station_id AND o.terminal_id = x.terminal_id
   AND o.ident = 't:' || x.original_ref AND o.duplicate_of IS NULL
  WHERE {held['x']} AND x.entry = 'txn' AND x.kind = 'reversal' AND x.status = 'approved'
    AND o.kind <> 'reversal' AND {held['o']}
  UNION
  SELECT o.station_id, o.seq FROM records x JOIN records o
    ON o.station_id = x.station_id AND o.terminal_id = x.terminal_id
   AND o.ident = 'r:' || x.client_ref AND o.duplicate_of IS NULL
  WHERE {held['x']} AND x.entry = 'cancel' AND {held['o']}
), folded AS (
  SELECT r.station_id, r.seq, r.kind, r.product, r.amount_fen, r.ts,
    CASE WHEN r.entry = 'referral' THEN '' ELSE COALESCE(r.card_token, '') END AS card,
    CASE WHEN u.seq IS NOT NULL AND (r.entry = 'referral' OR r.status = 'approved')
           THEN 'reversed'
         WHEN r.entry = 'referral' THEN 'approved'
         ELSE r.status END AS status
  FROM records r LEFT JOIN undone u ON u.station_id = r.station_id AND u.seq = r.seq
  WHERE {held['r']} AND ((r.entry = 'txn' AND r.kind <> 'reversal') OR r.entry = 'referral')
)
"""  # noqa: S608 - fixed text and bound parameters only
    return sql, 5


def cells_sql(d: Dialect, months: int, include_late: bool) -> tuple[str, int]:
    head, times = folded_sql(d, months, include_late)
    m = d.month.format("ts")
    select = f"SELECT {m} AS m, station_id, status, kind, product, COUNT(*), SUM(amount_fen) "
    return head + select + "FROM folded GROUP BY 1, 2, 3, 4, 5", times


def cap_sql(d: Dialect, months: int, include_late: bool, pairs: int, cap: int
            ) -> tuple[str, int]:
    """Valid swipes and over-cap card-days of one capped count; parameters: the months
    (``times`` times), then the ``pairs`` (kind, product) pairs. The cap is a literal (an
    ``int`` from the validated policy, written by ``int``)."""
    head, times = folded_sql(d, months, include_late)
    p, c = d.param, str(int(cap))
    match = " OR ".join([f"(kind = {p} AND product = {p})"] * pairs)
    day = d.day.format("ts")
    sql = head + f"""SELECT m, station_id,
    CASE WHEN n > {c} THEN card END, CASE WHEN n > {c} THEN d END, CASE WHEN n > {c} THEN n END,
    SUM(CASE WHEN rn <= {c} THEN 1 ELSE 0 END)
FROM (
  SELECT {d.month.format("ts")} AS m, station_id, card, {day} AS d,
    ROW_NUMBER() OVER (PARTITION BY station_id, card, {day} ORDER BY ts, seq) AS rn,
    COUNT(*) OVER (PARTITION BY station_id, card, {day}) AS n
  FROM folded WHERE status = 'approved' AND ({match})
) swipes
GROUP BY 1, 2, 3, 4, 5"""  # noqa: S608 - fixed text, an int literal and bound parameters
    return sql, times


def month_tallies(conn: Any, dialect: Dialect, months: Sequence[str], *, include_late: bool,
                  capped: Sequence[CappedCount]) -> MonthTallies:
    """The months' tallies (module contract); ``conn`` is a DB-API connection."""
    month_args = list(months)
    sql, times = cells_sql(dialect, len(month_args), include_late)
    cells: dict[tuple[str, str, str, str, str], tuple[int, int]] = {}
    for m, st, status, kind, product, n, fen in _rows(conn, sql, month_args * times):
        cells[(m, st, status, kind, product)] = (int(n), int(fen))
    present = sorted({(k, p) for (_, _, status, k, p) in cells if status == "approved"})
    valid: dict[tuple[str, str, str], int] = {}
    over: list[tuple[str, str, str, str, str, int]] = []
    for count in capped:
        cap = count.cap_per_card_per_day
        pairs = [kp for kp in present if count.matches(*kp)]
        if cap is None or not pairs:
            continue
        sql, times = cap_sql(dialect, len(month_args), include_late, len(pairs), cap)
        flat = [v for kp in pairs for v in kp]
        for m, st, card, day, n, k in _rows(conn, sql, month_args * times + flat):
            key = (m, st, count.name)
            valid[key] = valid.get(key, 0) + int(k)
            if n is not None:
                over.append((m, st, count.name, card, day, int(n)))
    return MonthTallies(tuple(months), cells, valid, over)


def _rows(conn: Any, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    try:
        cur.execute(sql, list(args))
        return list(cur.fetchall())
    finally:
        cur.close()
