"""The console's tables in the hub's PostgreSQL database: :class:`PgConsoleStore`.

Contract: implements :class:`stationlink.hub.console.store.ConsoleStore` with the SQLite
console store's semantics (:mod:`stationlink.hub.console.sqlite`) on the tables of PostgreSQL
schema version 2 (:mod:`.schema`).
- Every call runs in one transaction on a pooled connection of its
  :class:`~stationlink.hub.pg.store.PgHubStore` (``PgHubStore.run``, given to the
  constructor): a change and its audit row commit together or not at all.
- A change locks the operator's row (``SELECT ... FOR UPDATE``), so concurrent changes from
  several hub processes are serialised and each audit row's *before* is the state it
  replaced. Disabling an operator deletes their sessions; a new password deletes all but
  ``keep_session``.
- Times are written as CST text and read back as the same CST text the SQLite store gives
  (:func:`~stationlink.hub.pg.connect.configure`), so both stores return equal values.
- A name or session hash holding a NUL character (which PostgreSQL text cannot store, and
  no operator name contains) is simply not found, as in SQLite, never a driver error.
- Driver errors are :class:`~stationlink.errors.StorageError`; refused changes
  :class:`~stationlink.errors.OperatorError`, storing nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ...buffer.db import ts_parse, ts_required, ts_text
from ...errors import OperatorError, StorageError
from ..console.roles import Role
from ..console.store import Actor, AuditEntry, Operator, Session, check_name

Conn = psycopg.Connection[Any]
#: runs its argument in one transaction on a pooled connection (:meth:`PgHubStore.run`)
Runner = Callable[[Callable[[Conn], Any]], Any]
_OPERATOR = ("SELECT name, role, must_change_password, created_at, password_changed_at, "
             "disabled_at FROM operators")


def _operator(row: tuple[Any, ...]) -> Operator:
    return Operator(name=row[0], role=Role[row[1].upper()], must_change_password=bool(row[2]),
                    created_at=ts_required(row[3]), password_changed_at=ts_required(row[4]),
                    disabled_at=ts_parse(row[5]))


def _absent(text: str) -> bool:
    """A name or hash PostgreSQL cannot hold (a NUL character): no row has it. (Valid
    operator names never contain one, :func:`check_name`; a typed sign-in name may.)"""
    return "\x00" in text


def _get(conn: Conn, name: str, *, lock: bool = False) -> Operator:
    if _absent(name):
        raise OperatorError(f"no operator {name!r}")
    query = _OPERATOR + " WHERE name = %s" + (" FOR UPDATE" if lock else "")
    row = conn.execute(query.encode(), (name,)).fetchone()
    if row is None:
        raise OperatorError(f"no operator {name!r}")
    return _operator(row)


def _json(value: Any) -> dict[str, Any] | None:
    """A jsonb column's value: an object or NULL."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise StorageError(f"a stored audit before/after is not an object: "
                           f"{type(value).__name__}")
    return value


def _audit(conn: Conn, now: datetime, actor: Actor, action: str, target: str | None,
           before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    conn.execute(
        "INSERT INTO audit (at, actor, action, target, before, after, address) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (ts_text(now), actor.name, action, target,
         None if before is None else Jsonb(before), None if after is None else Jsonb(after),
         actor.address))


class PgConsoleStore:
    """Console store over a :class:`PgHubStore`'s database (module contract)."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    # ----------------------------------------------------------------- operators

    def add_operator(self, name: str, role: Role, password_hash: str, *,
                     must_change_password: bool, now: datetime, actor: Actor) -> Operator:
        check_name(name)

        def write(conn: Conn) -> Operator:
            cur = conn.execute(
                "INSERT INTO operators (name, role, password_hash, must_change_password, "
                "created_at, password_changed_at) VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (name) DO NOTHING",
                (name, role.label, password_hash, must_change_password, ts_text(now),
                 ts_text(now)))
            if cur.rowcount != 1:
                raise OperatorError(f"operator {name!r} exists already")
            op = _get(conn, name)
            _audit(conn, now, actor, "operator.add", name, None, op.snapshot())
            return op

        result: Operator = self._run(write)
        return result

    def operators(self) -> list[Operator]:
        rows = self._run(lambda c: c.execute(_OPERATOR + " ORDER BY name").fetchall())
        return [_operator(r) for r in rows]

    def operator(self, name: str) -> Operator | None:
        if _absent(name):
            return None
        row = self._run(lambda c: c.execute(_OPERATOR + " WHERE name = %s", (name,)).fetchone())
        return None if row is None else _operator(row)

    def password_hash(self, name: str) -> str | None:
        if _absent(name):
            return None
        row = self._run(lambda c: c.execute(
            "SELECT password_hash FROM operators WHERE name = %s AND disabled_at IS NULL",
            (name,)).fetchone())
        return None if row is None else str(row[0])

    def _change(self, name: str, now: datetime, actor: Actor, action: str,
                sql: str, args: tuple[Any, ...], end_sessions: bool = False,
                keep_session: str | None = None) -> Operator:
        def write(conn: Conn) -> Operator:
            before = _get(conn, name, lock=True)
            conn.execute(sql.encode(), (*args, name))
            if end_sessions:
                conn.execute("DELETE FROM console_sessions WHERE operator = %s AND "
                             "session_hash IS DISTINCT FROM %s::text", (name, keep_session))
            after = _get(conn, name)
            _audit(conn, now, actor, action, name, before.snapshot(), after.snapshot())
            return after

        result: Operator = self._run(write)
        return result

    def set_role(self, name: str, role: Role, *, now: datetime, actor: Actor) -> Operator:
        return self._change(name, now, actor, "operator.set_role",
                            "UPDATE operators SET role = %s WHERE name = %s", (role.label,))

    def set_enabled(self, name: str, enabled: bool, *, now: datetime, actor: Actor
                    ) -> Operator:
        return self._change(
            name, now, actor, "operator.enable" if enabled else "operator.disable",
            "UPDATE operators SET disabled_at = %s::timestamptz WHERE name = %s",
            (None if enabled else ts_text(now),), end_sessions=not enabled)

    def set_password(self, name: str, password_hash: str, *, must_change_password: bool,
                     now: datetime, actor: Actor, keep_session: str | None = None
                     ) -> Operator:
        action = "operator.change_password" if actor.name == name else "operator.reset_password"
        return self._change(
            name, now, actor, action,
            "UPDATE operators SET password_hash = %s, must_change_password = %s, "
            "password_changed_at = %s WHERE name = %s",
            (password_hash, must_change_password, ts_text(now)),
            end_sessions=True, keep_session=keep_session)

    def rehash_password(self, name: str, old_hash: str, new_hash: str) -> None:
        if _absent(name) or _absent(old_hash):
            return
        self._run(lambda c: c.execute(
            "UPDATE operators SET password_hash = %s WHERE name = %s AND password_hash = %s",
            (new_hash, name, old_hash)))

    # ----------------------------------------------------------------- sessions

    def create_session(self, session_hash: str, name: str, csrf_token: str, *,
                       now: datetime, expires_at: datetime, actor: Actor) -> None:
        def write(conn: Conn) -> None:
            conn.execute(
                "INSERT INTO console_sessions (session_hash, operator, csrf_token, "
                "created_at, expires_at, last_seen, address) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (session_hash, name, csrf_token, ts_text(now), ts_text(expires_at),
                 ts_text(now), actor.address))
            # expired sessions of anyone go at each sign-in: the table stays small
            conn.execute("DELETE FROM console_sessions WHERE expires_at <= %s",
                         (ts_text(now),))
            _audit(conn, now, actor, "session.sign_in", name, None,
                   {"expires_at": expires_at.isoformat()})

        self._run(write)

    def session(self, session_hash: str, *, now: datetime, idle: timedelta
                ) -> Session | None:
        if _absent(session_hash):
            return None
        row = self._run(lambda c: c.execute(
            "SELECT s.operator, o.role, s.csrf_token, o.must_change_password, s.created_at, "
            "s.expires_at, s.last_seen FROM console_sessions s JOIN operators o "
            "ON o.name = s.operator WHERE s.session_hash = %s AND o.disabled_at IS NULL",
            (session_hash,)).fetchone())
        if row is None:
            return None
        session = Session(operator=row[0], role=Role[row[1].upper()], csrf_token=row[2],
                          must_change_password=bool(row[3]), created_at=ts_required(row[4]),
                          expires_at=ts_required(row[5]), last_seen=ts_required(row[6]))
        if now >= session.expires_at or now >= session.last_seen + idle:
            return None
        return session

    def touch_session(self, session_hash: str, now: datetime) -> None:
        if _absent(session_hash):
            return
        self._run(lambda c: c.execute(
            "UPDATE console_sessions SET last_seen = %s WHERE session_hash = %s",
            (ts_text(now), session_hash)))

    def end_session(self, session_hash: str, *, now: datetime, actor: Actor) -> bool:
        if _absent(session_hash):
            return False

        def write(conn: Conn) -> bool:
            row = conn.execute("DELETE FROM console_sessions WHERE session_hash = %s "
                               "RETURNING operator", (session_hash,)).fetchone()
            if row is None:
                return False
            _audit(conn, now, actor, "session.sign_out", row[0], None, None)
            return True

        done: bool = self._run(write)
        return done

    # ----------------------------------------------------------------- audit

    def audit(self, limit: int = 200) -> list[AuditEntry]:
        rows = self._run(lambda c: c.execute(
            "SELECT id, at, actor, action, target, before, after, address FROM audit "
            "ORDER BY id DESC LIMIT %s", (limit,)).fetchall())
        return [AuditEntry(id=int(r[0]), at=ts_required(r[1]), actor=r[2], action=r[3],
                           target=r[4], before=_json(r[5]), after=_json(r[6]), address=r[7])
                for r in rows]
