"""The console's tables in SQL, once for both hub stores: :class:`ConsoleTables`.

Contract: implements :class:`stationlink.hub.console.store.ConsoleStore` on the tables of
:data:`stationlink.hub.hub_schema.CONSOLE_DDL` (mirrored by the PostgreSQL schema) in SQL
that both databases run; a :class:`~.dialect.Dialect` supplies what differs. The SQLite
store (:mod:`.sqlite`) and the PostgreSQL store (:mod:`stationlink.hub.pg.console`) only
build their dialect.
- Every call runs in one transaction of the dialect's ``run``: a change and its audit row
  (:func:`write_audit`) commit together or not at all; a refused change raises
  :class:`~stationlink.errors.OperatorError` and stores nothing.
- A change reads the operator's row with the dialect's row lock, so concurrent changes are
  serialised and each audit row's *before* is the state it replaced. Disabling an operator
  deletes their sessions; a new password deletes all but ``keep_session``. Two sign-outs of
  one session at once: one of them ends it and writes the audit row, the other returns False.
- An operator's language (``lang``, schema versions 5 / 4) is checked
  (:func:`~.store.check_operator_lang`) before anything is written; the session read joins
  it, so a change applies to the operator's open sessions at once.
- Times are written as CST text (:func:`stationlink.buffer.db.ts_text`) and read back as
  CST datetimes, so both stores return equal values.
- A key the database cannot hold (:meth:`~.dialect.Dialect.absent`) is simply not found.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from ...buffer.db import ts_parse, ts_required, ts_text
from ...errors import OperatorError
from .dialect import Dialect
from .roles import Role
from .store import Actor, AuditEntry, Operator, Session, check_name, check_operator_lang

T = TypeVar("T")
_OPERATOR = ("SELECT name, role, must_change_password, created_at, password_changed_at, "
             "disabled_at, lang FROM operators")


def _operator(row: tuple[Any, ...]) -> Operator:
    return Operator(name=row[0], role=Role[row[1].upper()], must_change_password=bool(row[2]),
                    created_at=ts_required(row[3]), password_changed_at=ts_required(row[4]),
                    disabled_at=ts_parse(row[5]), lang=check_operator_lang(row[6]))


def write_audit(db: Dialect, conn: Any, now: datetime, actor: Actor, action: str,
                target: str | None, before: dict[str, Any] | None,
                after: dict[str, Any] | None) -> None:
    """The audit row of a change, in the change's transaction (``conn``)."""
    db.execute(
        conn, "INSERT INTO audit (at, actor, action, target, before, after, address) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (ts_text(now), actor.name, action, target,
         None if before is None else db.json_in(before),
         None if after is None else db.json_in(after), actor.address))


class ConsoleTables:
    """Operators, sessions and audit over one database's :class:`Dialect` (module
    contract)."""

    def __init__(self, db: Dialect) -> None:
        self._db = db

    def _run(self, work: Callable[[Any], T]) -> T:
        return self._db.run(work)

    def _get(self, conn: Any, name: str, *, lock: bool = False) -> Operator:
        row = None if self._db.absent(name) else self._db.one(
            conn, _OPERATOR + " WHERE name = ?" + (self._db.lock_row if lock else ""), (name,))
        if row is None:
            raise OperatorError(f"no operator {name!r}")
        return _operator(row)

    # ----------------------------------------------------------------- operators

    def add_operator(self, name: str, role: Role, password_hash: str, *,
                     must_change_password: bool, now: datetime, actor: Actor,
                     lang: str | None = None) -> Operator:
        check_name(name)
        chosen = check_operator_lang(lang)

        def write(conn: Any) -> Operator:
            cur = self._db.execute(
                conn, "INSERT INTO operators (name, role, password_hash, must_change_password, "
                "created_at, password_changed_at, lang) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (name, role.label, password_hash, must_change_password, ts_text(now),
                 ts_text(now), chosen))
            if cur.rowcount != 1:
                raise OperatorError(f"operator {name!r} exists already")
            op = self._get(conn, name)
            write_audit(self._db, conn, now, actor, "operator.add", name, None, op.snapshot())
            return op

        return self._run(write)

    def operators(self) -> list[Operator]:
        rows = self._run(lambda c: self._db.all(c, _OPERATOR + " ORDER BY name"))
        return [_operator(r) for r in rows]

    def operator(self, name: str) -> Operator | None:
        if self._db.absent(name):
            return None
        row = self._run(lambda c: self._db.one(c, _OPERATOR + " WHERE name = ?", (name,)))
        return None if row is None else _operator(row)

    def password_hash(self, name: str) -> str | None:
        if self._db.absent(name):
            return None
        row = self._run(lambda c: self._db.one(
            c, "SELECT password_hash FROM operators WHERE name = ? AND disabled_at IS NULL",
            (name,)))
        return None if row is None else str(row[0])

    def _change(self, name: str, now: datetime, actor: Actor, action: str,
                sets: str, args: tuple[Any, ...], end_sessions: bool = False,
                keep_session: str | None = None) -> Operator:
        """``UPDATE operators SET <sets>`` of ``name`` with ``args``, audited."""
        def write(conn: Any) -> Operator:
            before = self._get(conn, name, lock=True)
            self._db.execute(conn, f"UPDATE operators SET {sets} WHERE name = ?",  # noqa: S608
                             (*args, name))
            if end_sessions and keep_session is None:
                self._db.execute(conn, "DELETE FROM console_sessions WHERE operator = ?",
                                 (name,))
            elif end_sessions:
                self._db.execute(conn, "DELETE FROM console_sessions WHERE operator = ? AND "
                                 "session_hash <> ?", (name, keep_session))
            after = self._get(conn, name)
            write_audit(self._db, conn, now, actor, action, name, before.snapshot(),
                        after.snapshot())
            return after

        return self._run(write)

    def set_role(self, name: str, role: Role, *, now: datetime, actor: Actor) -> Operator:
        return self._change(name, now, actor, "operator.set_role", "role = ?", (role.label,))

    def set_enabled(self, name: str, enabled: bool, *, now: datetime, actor: Actor
                    ) -> Operator:
        return self._change(
            name, now, actor, "operator.enable" if enabled else "operator.disable",
            "disabled_at = ?", (None if enabled else ts_text(now),), end_sessions=not enabled)

    def set_password(self, name: str, password_hash: str, *, must_change_password: bool,
                     now: datetime, actor: Actor, keep_session: str | None = None
                     ) -> Operator:
        action = "operator.change_password" if actor.name == name else "operator.reset_password"
        return self._change(
            name, now, actor, action,
            "password_hash = ?, must_change_password = ?, password_changed_at = ?",
            (password_hash, must_change_password, ts_text(now)),
            end_sessions=True, keep_session=keep_session)

    def set_lang(self, name: str, lang: str | None, *, now: datetime, actor: Actor
                 ) -> Operator:
        chosen = check_operator_lang(lang)
        return self._change(name, now, actor, "operator.set_lang", "lang = ?", (chosen,))

    def rehash_password(self, name: str, old_hash: str, new_hash: str) -> None:
        if self._db.absent(name) or self._db.absent(old_hash):
            return
        self._run(lambda c: self._db.execute(
            c, "UPDATE operators SET password_hash = ? WHERE name = ? AND password_hash = ?",
            (new_hash, name, old_hash)))

    # ----------------------------------------------------------------- sessions

    def create_session(self, session_hash: str, name: str, csrf_token: str, *,
                       now: datetime, expires_at: datetime, actor: Actor) -> None:
        def write(conn: Any) -> None:
            self._db.execute(
                conn, "INSERT INTO console_sessions (session_hash, operator, csrf_token, "
                "created_at, expires_at, last_seen, address) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_hash, name, csrf_token, ts_text(now), ts_text(expires_at),
                 ts_text(now), actor.address))
            # expired sessions of anyone go at each sign-in: the table stays small
            self._db.execute(conn, "DELETE FROM console_sessions WHERE expires_at <= ?",
                             (ts_text(now),))
            write_audit(self._db, conn, now, actor, "session.sign_in", name, None,
                        {"expires_at": expires_at.isoformat()})

        self._run(write)

    def session(self, session_hash: str, *, now: datetime, idle: timedelta
                ) -> Session | None:
        if self._db.absent(session_hash):
            return None
        row = self._run(lambda c: self._db.one(
            c, "SELECT s.operator, o.role, s.csrf_token, o.must_change_password, "
            "s.created_at, s.expires_at, s.last_seen, o.lang FROM console_sessions s "
            "JOIN operators o "
            "ON o.name = s.operator WHERE s.session_hash = ? AND o.disabled_at IS NULL",
            (session_hash,)))
        if row is None:
            return None
        session = Session(operator=row[0], role=Role[row[1].upper()], csrf_token=row[2],
                          must_change_password=bool(row[3]), created_at=ts_required(row[4]),
                          expires_at=ts_required(row[5]), last_seen=ts_required(row[6]),
                          lang=check_operator_lang(row[7]))
        if now >= session.expires_at or now >= session.last_seen + idle:
            return None
        return session

    def touch_session(self, session_hash: str, now: datetime) -> None:
        if self._db.absent(session_hash):
            return
        self._run(lambda c: self._db.execute(
            c, "UPDATE console_sessions SET last_seen = ? WHERE session_hash = ?",
            (ts_text(now), session_hash)))

    def end_session(self, session_hash: str, *, now: datetime, actor: Actor) -> bool:
        if self._db.absent(session_hash):
            return False

        def write(conn: Any) -> bool:
            row = self._db.one(conn, "SELECT operator FROM console_sessions WHERE "  # noqa: S608
                               "session_hash = ?" + self._db.lock_row, (session_hash,))
            if row is None:
                return False
            self._db.execute(conn, "DELETE FROM console_sessions WHERE session_hash = ?",
                             (session_hash,))
            write_audit(self._db, conn, now, actor, "session.sign_out", row[0], None, None)
            return True

        return self._run(write)

    # ----------------------------------------------------------------- audit

    def audit(self, limit: int = 200) -> list[AuditEntry]:
        rows = self._run(lambda c: self._db.all(
            c, "SELECT id, at, actor, action, target, before, after, address FROM audit "
            "ORDER BY id DESC LIMIT ?", (limit,)))
        return [AuditEntry(id=int(r[0]), at=ts_required(r[1]), actor=r[2], action=r[3],
                           target=r[4], before=None if r[5] is None else self._db.doc(r[5]),
                           after=None if r[6] is None else self._db.doc(r[6]), address=r[7])
                for r in rows]
