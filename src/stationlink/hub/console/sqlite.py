"""The console's tables in the SQLite hub file: :class:`SqliteConsoleStore`.

Contract: implements :class:`stationlink.hub.console.store.ConsoleStore` on the tables of hub
schema version 3 (:data:`stationlink.hub.hub_schema.CONSOLE_DDL`). Every call, read or
write, runs on the hub store's group-commit writer (one ``BEGIN IMMEDIATE`` transaction,
shared with concurrent ingests): a change and its audit row commit together, and a read sees
everything committed. Console traffic is a few requests per operator action, so sharing the
writer costs the stations nothing measurable and needs no third connection. Timestamps are
stored as CST text (:func:`stationlink.buffer.db.ts_text`), which sorts in time order.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from typing import Any, TypeVar

from ...buffer.db import ts_parse, ts_required, ts_text
from ...errors import OperatorError
from ..sqlite_store import SqliteHubStore
from .roles import Role
from .store import Actor, AuditEntry, Operator, Session, check_name

T = TypeVar("T")
_OPERATOR = ("SELECT name, role, must_change_password, created_at, password_changed_at, "
             "disabled_at FROM operators")


def _operator(row: tuple[Any, ...]) -> Operator:
    return Operator(name=row[0], role=Role[row[1].upper()], must_change_password=bool(row[2]),
                    created_at=ts_required(row[3]), password_changed_at=ts_required(row[4]),
                    disabled_at=ts_parse(row[5]))


def _get(conn: sqlite3.Connection, name: str) -> Operator:
    row = conn.execute(_OPERATOR + " WHERE name=?", (name,)).fetchone()
    if row is None:
        raise OperatorError(f"no operator {name!r}")
    return _operator(row)


def _audit(conn: sqlite3.Connection, now: datetime, actor: Actor, action: str,
           target: str | None, before: dict[str, Any] | None, after: dict[str, Any] | None
           ) -> None:
    conn.execute(
        "INSERT INTO audit (at, actor, action, target, before, after, address) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (ts_text(now), actor.name, action, target,
         None if before is None else json.dumps(before, ensure_ascii=False, sort_keys=True),
         None if after is None else json.dumps(after, ensure_ascii=False, sort_keys=True),
         actor.address))


class SqliteConsoleStore:
    """Console store over a :class:`SqliteHubStore`'s file (module contract)."""

    def __init__(self, hub_store: SqliteHubStore) -> None:
        self._writer = hub_store.writer

    def _run(self, fn: Any) -> Any:
        return self._writer.run(fn)

    # ----------------------------------------------------------------- operators

    def add_operator(self, name: str, role: Role, password_hash: str, *,
                     must_change_password: bool, now: datetime, actor: Actor) -> Operator:
        check_name(name)

        def write(conn: sqlite3.Connection) -> Operator:
            if conn.execute("SELECT 1 FROM operators WHERE name=?", (name,)).fetchone():
                raise OperatorError(f"operator {name!r} exists already")
            conn.execute(
                "INSERT INTO operators (name, role, password_hash, must_change_password, "
                "created_at, password_changed_at) VALUES (?, ?, ?, ?, ?, ?)",
                (name, role.label, password_hash, int(must_change_password), ts_text(now),
                 ts_text(now)))
            op = _get(conn, name)
            _audit(conn, now, actor, "operator.add", name, None, op.snapshot())
            return op

        result: Operator = self._run(write)
        return result

    def operators(self) -> list[Operator]:
        rows = self._run(lambda conn: conn.execute(_OPERATOR + " ORDER BY name").fetchall())
        return [_operator(r) for r in rows]

    def operator(self, name: str) -> Operator | None:
        row = self._run(lambda conn: conn.execute(
            _OPERATOR + " WHERE name=?", (name,)).fetchone())
        return None if row is None else _operator(row)

    def password_hash(self, name: str) -> str | None:
        row = self._run(lambda conn: conn.execute(
            "SELECT password_hash FROM operators WHERE name=? AND disabled_at IS NULL",
            (name,)).fetchone())
        return None if row is None else str(row[0])

    def _change(self, name: str, now: datetime, actor: Actor, action: str,
                sql: str, args: tuple[Any, ...], end_sessions: bool = False,
                keep_session: str | None = None) -> Operator:
        def write(conn: sqlite3.Connection) -> Operator:
            before = _get(conn, name)
            conn.execute(sql, (*args, name))
            if end_sessions:
                conn.execute("DELETE FROM console_sessions WHERE operator=? AND "
                             "session_hash IS NOT ?", (name, keep_session))
            after = _get(conn, name)
            _audit(conn, now, actor, action, name, before.snapshot(), after.snapshot())
            return after

        result: Operator = self._run(write)
        return result

    def set_role(self, name: str, role: Role, *, now: datetime, actor: Actor) -> Operator:
        return self._change(name, now, actor, "operator.set_role",
                            "UPDATE operators SET role=? WHERE name=?", (role.label,))

    def set_enabled(self, name: str, enabled: bool, *, now: datetime, actor: Actor
                    ) -> Operator:
        return self._change(
            name, now, actor, "operator.enable" if enabled else "operator.disable",
            "UPDATE operators SET disabled_at=? WHERE name=?",
            (None if enabled else ts_text(now),), end_sessions=not enabled)

    def set_password(self, name: str, password_hash: str, *, must_change_password: bool,
                     now: datetime, actor: Actor, keep_session: str | None = None
                     ) -> Operator:
        action = "operator.change_password" if actor.name == name else "operator.reset_password"
        return self._change(
            name, now, actor, action,
            "UPDATE operators SET password_hash=?, must_change_password=?, "
            "password_changed_at=? WHERE name=?",
            (password_hash, int(must_change_password), ts_text(now)),
            end_sessions=True, keep_session=keep_session)

    def rehash_password(self, name: str, old_hash: str, new_hash: str) -> None:
        self._run(lambda conn: conn.execute(
            "UPDATE operators SET password_hash=? WHERE name=? AND password_hash=?",
            (new_hash, name, old_hash)))

    # ----------------------------------------------------------------- sessions

    def create_session(self, session_hash: str, name: str, csrf_token: str, *,
                       now: datetime, expires_at: datetime, actor: Actor) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO console_sessions (session_hash, operator, csrf_token, "
                "created_at, expires_at, last_seen, address) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_hash, name, csrf_token, ts_text(now), ts_text(expires_at),
                 ts_text(now), actor.address))
            # expired sessions of anyone go at each sign-in: the table stays small
            conn.execute("DELETE FROM console_sessions WHERE expires_at <= ?",
                         (ts_text(now),))
            _audit(conn, now, actor, "session.sign_in", name, None,
                   {"expires_at": expires_at.isoformat()})

        self._run(write)

    def session(self, session_hash: str, *, now: datetime, idle: timedelta
                ) -> Session | None:
        row = self._run(lambda conn: conn.execute(
            "SELECT s.operator, o.role, s.csrf_token, o.must_change_password, s.created_at, "
            "s.expires_at, s.last_seen FROM console_sessions s JOIN operators o "
            "ON o.name = s.operator WHERE s.session_hash=? AND o.disabled_at IS NULL",
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
        self._run(lambda conn: conn.execute(
            "UPDATE console_sessions SET last_seen=? WHERE session_hash=?",
            (ts_text(now), session_hash)))

    def end_session(self, session_hash: str, *, now: datetime, actor: Actor) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT operator FROM console_sessions WHERE session_hash=?",
                               (session_hash,)).fetchone()
            if row is None:
                return False
            conn.execute("DELETE FROM console_sessions WHERE session_hash=?",
                         (session_hash,))
            _audit(conn, now, actor, "session.sign_out", row[0], None, None)
            return True

        done: bool = self._run(write)
        return done

    # ----------------------------------------------------------------- audit

    def audit(self, limit: int = 200) -> list[AuditEntry]:
        rows = self._run(lambda conn: conn.execute(
            "SELECT id, at, actor, action, target, before, after, address FROM audit "
            "ORDER BY id DESC LIMIT ?", (limit,)).fetchall())
        return [AuditEntry(id=r[0], at=ts_required(r[1]), actor=r[2], action=r[3],
                           target=r[4], before=None if r[5] is None else json.loads(r[5]),
                           after=None if r[6] is None else json.loads(r[6]), address=r[7])
                for r in rows]
