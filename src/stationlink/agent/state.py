"""The agent's own small state file (``agent-state.sqlite`` next to the buffer).

Contract:
- Holds what the buffer does not: each terminal's link state (connected, identified id and
  dialect, last poll, last error), the last upload (time, high-water mark, records, last
  hub error, next attempt) and the daily settlement checks (day, result, mismatch lines).
- Transactions never live here: losing this file loses no record (the buffer and the
  terminals' journals are the truth). At worst a settlement check runs twice in one day.
- WAL mode, so ``stationlink agent status`` reads it while the agent writes it; every
  write is one short transaction (the tables are created in one too: an agent killed while
  creating the file leaves all of them or none, never a file refused at the next start);
  ``sqlite3.Error`` becomes :class:`~stationlink.errors.StorageError` naming the file.
- One :class:`AgentState` per thread (a connection is not shared between threads).
- Times are stored as ISO 8601 text in CST (``+08:00``), as in the buffer.
- A new file is created readable and writable by its owner only (0600), as are its
  ``-wal`` and ``-shm`` files (SQLite gives them the database file's permissions).
- An existing file is first checked read-only: one that holds tables but not the agent's
  (a buffer, a hub, any other SQLite file) or is not SQLite at all is refused with
  :class:`~stationlink.errors.StorageError` and left byte-identical (no journal-mode change).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..buffer.db import ts_text
from ..errors import StorageError

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS terminals (url TEXT PRIMARY KEY, terminal_id TEXT, "
    "dialect TEXT, connected INTEGER NOT NULL DEFAULT 0, last_poll_at TEXT, "
    "last_error TEXT, last_error_at TEXT, records_pulled INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS upload (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "last_upload_at TEXT, high_water_mark INTEGER, records_uploaded INTEGER NOT NULL "
    "DEFAULT 0, last_error TEXT, last_error_at TEXT, next_attempt_at TEXT)",
    "CREATE TABLE IF NOT EXISTS settlement_checks (terminal_id TEXT NOT NULL, day TEXT "
    "NOT NULL, checked_at TEXT NOT NULL, mismatches TEXT NOT NULL, "
    "PRIMARY KEY (terminal_id, day))",
    "CREATE TABLE IF NOT EXISTS agent (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER, "
    "started_at TEXT, heartbeat_at TEXT, stopped_at TEXT)",
)


TABLES = ("terminals", "upload", "settlement_checks", "agent")


def check_state_file(path: Path) -> None:
    """Raise StorageError unless ``path`` holds the agent's tables or none (read-only)."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            found = {row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StorageError(f"{path}: not an agent state file ({exc}); left untouched") from exc
    if found and not set(TABLES) <= found:
        raise StorageError(
            f"{path}: not an agent state file (it has tables {', '.join(sorted(found))}); "
            "left untouched")


class AgentState(AbstractContextManager["AgentState"]):
    """See the module contract."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise StorageError(f"{self.path}: no agent state file (has the agent run yet?)")
        if self.path.is_file() and self.path.stat().st_size > 0:
            check_state_file(self.path)
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if not self.path.exists():  # owner only; SQLite copies this to -wal/-shm
                    os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            self._conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=10.0)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"{self.path}: cannot open agent state: {exc}") from exc
        try:
            with self._errors():
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA busy_timeout=10000")
                if create:  # one transaction: a process killed midway leaves no half file
                    self._conn.execute("BEGIN IMMEDIATE")
                    try:
                        for stmt in SCHEMA:
                            self._conn.execute(stmt)
                    except BaseException:
                        self._conn.rollback()
                        raise
                    self._conn.execute("COMMIT")
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        self._conn.close()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: agent state: {exc}") from exc

    def _write(self, sql: str, args: tuple[Any, ...]) -> None:
        with self._errors():
            self._conn.execute(sql, args)

    # ------------------------------------------------------------------ the process

    def note_started(self, pid: int, now: datetime) -> None:
        self._write(
            "INSERT INTO agent (id, pid, started_at, heartbeat_at, stopped_at) "
            "VALUES (1, ?, ?, ?, NULL) ON CONFLICT(id) DO UPDATE SET pid=excluded.pid, "
            "started_at=excluded.started_at, heartbeat_at=excluded.heartbeat_at, stopped_at=NULL",
            (pid, ts_text(now), ts_text(now)),
        )

    def heartbeat(self, now: datetime) -> None:
        self._write("UPDATE agent SET heartbeat_at=? WHERE id=1", (ts_text(now),))

    def note_stopped(self, now: datetime) -> None:
        self._write("UPDATE agent SET stopped_at=? WHERE id=1", (ts_text(now),))

    # ------------------------------------------------------------------ terminals

    def note_terminal(
        self, url: str, *, connected: bool, now: datetime, terminal_id: str | None = None,
        dialect: str | None = None, error: str | None = None, pulled: int = 0,
        polled: bool = False,
    ) -> None:
        self._write(
            "INSERT INTO terminals (url, connected) VALUES (?, 0) ON CONFLICT(url) DO NOTHING",
            (url,),
        )
        sets = ["connected=?", "records_pulled=records_pulled+?"]
        args: list[Any] = [int(connected), pulled]
        if terminal_id is not None:
            sets.append("terminal_id=?")
            args.append(terminal_id)
        if dialect is not None:
            sets.append("dialect=?")
            args.append(dialect)
        if polled:
            sets.append("last_poll_at=?")
            args.append(ts_text(now))
        if error is not None:
            sets += ["last_error=?", "last_error_at=?"]
            args += [error, ts_text(now)]
        sql = f"UPDATE terminals SET {', '.join(sets)} WHERE url=?"  # noqa: S608 - literals
        self._write(sql, (*args, url))

    # ------------------------------------------------------------------ upload

    def note_upload(self, *, now: datetime, high_water_mark: int, records: int) -> None:
        self._write(
            "INSERT INTO upload (id, last_upload_at, high_water_mark, records_uploaded, "
            "next_attempt_at) VALUES (1, ?, ?, ?, NULL) ON CONFLICT(id) DO UPDATE SET "
            "last_upload_at=excluded.last_upload_at, high_water_mark=excluded.high_water_mark, "
            "records_uploaded=records_uploaded+excluded.records_uploaded, next_attempt_at=NULL",
            (ts_text(now), high_water_mark, records),
        )

    def note_upload_error(self, *, now: datetime, error: str, next_attempt: datetime) -> None:
        self._write(
            "INSERT INTO upload (id, last_error, last_error_at, next_attempt_at) "
            "VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET last_error=excluded.last_error, "
            "last_error_at=excluded.last_error_at, next_attempt_at=excluded.next_attempt_at",
            (error, ts_text(now), ts_text(next_attempt)),
        )

    # ------------------------------------------------------------------ settlement

    def settlement_checked(self, terminal_id: str, day: date) -> bool:
        with self._errors():
            row = self._conn.execute(
                "SELECT 1 FROM settlement_checks WHERE terminal_id=? AND day=?",
                (terminal_id, day.isoformat()),
            ).fetchone()
        return row is not None

    def note_settlement(
        self, terminal_id: str, day: date, now: datetime, mismatches: list[dict[str, Any]]
    ) -> None:
        self._write(
            "INSERT OR REPLACE INTO settlement_checks (terminal_id, day, checked_at, "
            "mismatches) VALUES (?, ?, ?, ?)",
            (terminal_id, day.isoformat(), ts_text(now), json.dumps(mismatches)),
        )

    # ------------------------------------------------------------------ reading

    def snapshot(self) -> dict[str, Any]:
        """Everything ``agent status`` shows from this file."""
        with self._errors():
            q = self._conn.execute
            terms = q(
                "SELECT url, terminal_id, dialect, connected, last_poll_at, last_error, "
                "last_error_at, records_pulled FROM terminals ORDER BY url"
            ).fetchall()
            up = q(
                "SELECT last_upload_at, high_water_mark, records_uploaded, last_error, "
                "last_error_at, next_attempt_at FROM upload WHERE id=1"
            ).fetchone()
            agent = q(
                "SELECT pid, started_at, heartbeat_at, stopped_at FROM agent WHERE id=1"
            ).fetchone()
            checks = q(
                "SELECT terminal_id, day, checked_at, mismatches FROM settlement_checks s "
                "WHERE day = (SELECT MAX(day) FROM settlement_checks t "
                "WHERE t.terminal_id = s.terminal_id) ORDER BY terminal_id"
            ).fetchall()
        return {
            "agent": None if agent is None else dict(
                zip(("pid", "started_at", "heartbeat_at", "stopped_at"), agent, strict=True)),
            "terminals": [
                dict(zip(("url", "terminal_id", "dialect", "connected", "last_poll_at",
                          "last_error", "last_error_at", "records_pulled"), row, strict=True))
                | {"connected": bool(row[3])}
                for row in terms
            ],
            "upload": None if up is None else dict(
                zip(("last_upload_at", "high_water_mark", "records_uploaded", "last_error",
                     "last_error_at", "next_attempt_at"), up, strict=True)),
            "settlement_checks": [
                {"terminal_id": r[0], "day": r[1], "checked_at": r[2],
                 "mismatches": json.loads(r[3])}
                for r in checks
            ],
        }
