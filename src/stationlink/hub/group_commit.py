"""Group commit: one writer thread on one SQLite connection; concurrent writes share a commit.

Contract (:class:`GroupCommitWriter`):
- :meth:`~GroupCommitWriter.submit` queues a write (a callable given the connection) and
  returns a :class:`concurrent.futures.Future`; :meth:`~GroupCommitWriter.run` waits for it.
- The writer thread takes every queued write (at most ``max_group``), opens one
  ``BEGIN IMMEDIATE`` transaction and runs them in submission order, each inside its own
  ``SAVEPOINT``: a write that raises is rolled back to its savepoint — nothing it wrote stays —
  and only its future gets the exception (a ``sqlite3.Error`` as
  :class:`~stationlink.errors.StorageError`). Later writes see earlier writes' effects.
- Then ``COMMIT``: one fsync (WAL, ``synchronous=FULL``) for the whole group. **No future is
  resolved before that commit has returned**, so every answer built from a result describes
  durable data. A failed commit (or a failure that ends the transaction) fails every write
  of the group that had run with StorageError; none of them is stored.
- :meth:`~GroupCommitWriter.close` refuses new writes, finishes the queued ones, stops the
  thread and closes the connection. The thread starts on the first write.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import suppress
from typing import Any, TypeVar

from ..errors import StorageError

T = TypeVar("T")
Write = Callable[[sqlite3.Connection], Any]
_Item = tuple[Write, "Future[Any]"]


class GroupCommitWriter:
    """See the module contract."""

    def __init__(self, conn: sqlite3.Connection, where: str, *, max_group: int = 64) -> None:
        self._conn = conn
        self._where = where
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._state = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.commits = 0  # transactions committed (for tests and benchmarks)
        self.writes = 0  # writes that ran in them

    def submit(self, write: Callable[[sqlite3.Connection], T]) -> Future[T]:
        future: Future[T] = Future()
        with self._state:
            if self._closed:
                raise StorageError(f"{self._where}: the store is closed")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="hub-group-commit", daemon=True)
                self._thread.start()
            self._queue.put((write, future))
        return future

    def queued(self) -> int:
        """Writes waiting for the writer thread (approximate; for tests and monitoring)."""
        return self._queue.qsize()

    def run(self, write: Callable[[sqlite3.Connection], T]) -> T:
        """Submit ``write`` and wait for its durable result (or its exception)."""
        return self.submit(write).result()

    def close(self) -> None:
        with self._state:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join()
        self._conn.close()

    # ----------------------------------------------------------------- writer thread

    def _loop(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            group = [first]
            while len(group) < self._max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                group.append(item)
            while group:
                group = self._commit_group(group)

    def _commit_group(self, group: list[_Item]) -> list[_Item]:
        """Run ``group`` in one transaction; returns writes still to run (after an abort)."""
        conn = self._conn
        outcomes: list[tuple[Future[Any], bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            err = StorageError(f"{self._where}: cannot begin transaction: {exc}")
            for _, future in group:
                future.set_exception(err)
            return []
        for index, (write, future) in enumerate(group):
            try:
                conn.execute("SAVEPOINT write")
                result = write(conn)
                conn.execute("RELEASE write")
                outcomes.append((future, True, result))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                if not self._undo_one():
                    self._fail(outcomes, f"transaction aborted: {exc}")
                    # this write and the ones that ran are failed; the rest get a new try
                    future.set_exception(_storage(exc, self._where))
                    return group[index + 1:]
                outcomes.append((future, False, _storage(exc, self._where)))
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            self._fail(outcomes, f"commit failed: {exc}")
            return []
        self.commits += 1
        self.writes += len(group)
        for future, ok, value in outcomes:  # only now: everything above is durable
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        return []

    def _undo_one(self) -> bool:
        """Roll back to the current write's savepoint; False when the transaction is gone."""
        conn = self._conn
        try:
            if not conn.in_transaction:
                return False
            conn.execute("ROLLBACK TO write")
            conn.execute("RELEASE write")
        except sqlite3.Error:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            return False
        return True

    def _fail(self, outcomes: list[tuple[Future[Any], bool, Any]], why: str) -> None:
        with suppress(sqlite3.Error):
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        err = StorageError(f"{self._where}: {why}")
        for future, _, _ in outcomes:
            future.set_exception(err)


def _storage(exc: BaseException, where: str) -> BaseException:
    if isinstance(exc, sqlite3.Error):
        wrapped = StorageError(f"{where}: {exc}")
        wrapped.__cause__ = exc
        return wrapped
    return exc
