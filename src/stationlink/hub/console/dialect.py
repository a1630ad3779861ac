"""What differs between the hub's databases under the console's tables: :class:`Dialect`.

Contract: the console store (:mod:`.tables`) and the month store (:mod:`.monthstore`) are
written once, in SQL that both SQLite and PostgreSQL run, with ``?`` parameter markers (no
statement holds a literal ``?`` or ``%``). A :class:`Dialect` supplies only what differs:
- ``run``: the store's transaction: ``run(work)`` calls ``work(connection)`` in one
  transaction and returns its result once committed (SQLite: the hub store's group-commit
  writer; PostgreSQL: a pooled connection, :meth:`~stationlink.hub.pg.store.PgHubStore.run`).
  Driver errors come out of it as :class:`~stationlink.errors.StorageError`.
- ``query``: a statement in the driver's form (SQLite: as written; PostgreSQL: ``%s``
  markers, as bytes).
- ``lock_row``: appended to a ``SELECT`` of rows the transaction then changes (PostgreSQL:
  ``FOR UPDATE``; SQLite: nothing, its one writer serialises every change).
- ``holds_nul``: whether text can hold a NUL character; where it cannot (PostgreSQL), a key
  holding one is simply not found (:meth:`Dialect.absent`), never a driver error.
- ``json_in`` / ``json_out``: a JSON object into a column and back (SQLite: sorted text;
  PostgreSQL: ``jsonb``). :meth:`Dialect.doc` refuses a stored value that is not an object
  with :class:`~stationlink.errors.StorageError`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ...errors import StorageError

T = TypeVar("T")


class Runner(Protocol):
    """Runs ``work(connection)`` in one transaction and returns its result (module contract)."""

    def __call__(self, work: Callable[[Any], T], /) -> T: ...


def json_text(value: dict[str, Any]) -> str:
    """A JSON object as the SQLite hub stores it: UTF-8 text, keys sorted."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class Dialect:
    """One database's transaction, parameter markers, row locks and JSON (module contract)."""

    run: Runner
    query: Callable[[str], Any] = str
    lock_row: str = ""
    holds_nul: bool = True
    json_in: Callable[[dict[str, Any]], Any] = json_text
    json_out: Callable[[Any], Any] = json.loads

    def execute(self, conn: Any, sql: str, args: Sequence[Any] = ()) -> Any:
        """The driver's cursor of ``sql`` (``?`` markers) run with ``args``."""
        return conn.execute(self.query(sql), args)

    def one(self, conn: Any, sql: str, args: Sequence[Any] = ()) -> Any:
        """The first row of ``sql`` (None: no row)."""
        return self.execute(conn, sql, args).fetchone()

    def all(self, conn: Any, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """Every row of ``sql``."""
        return list(self.execute(conn, sql, args).fetchall())

    def many(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """``sql`` once per row of ``rows``."""
        cur = conn.cursor()
        try:
            cur.executemany(self.query(sql), rows)
        finally:
            cur.close()

    def absent(self, key: str) -> bool:
        """Whether ``key`` cannot be stored here, so no row holds it (a NUL character)."""
        return not self.holds_nul and "\x00" in key

    def doc(self, value: Any) -> dict[str, Any]:
        """A stored JSON object, decoded (StorageError when it is not an object)."""
        decoded = self.json_out(value)
        if not isinstance(decoded, dict):
            raise StorageError(f"a stored JSON document is not an object: "
                               f"{type(decoded).__name__}")
        return decoded
