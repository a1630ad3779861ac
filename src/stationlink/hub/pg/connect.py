"""Connections to the hub's PostgreSQL database: one place for the DSN, the session settings
and the error wrapping.

Contract:
- :func:`is_pg_url` says whether a ``--db`` value names PostgreSQL (``postgresql://`` or
  ``postgres://``); :func:`redact` shows such a DSN without its password.
- :func:`configure` prepares a new connection: ``synchronous_commit=on`` (a commit returns
  only once durable), ``TimeZone=Asia/Shanghai``, and ``timestamptz`` values read back as the
  hub's CST ISO text (:func:`stationlink.buffer.db.iso_text`) — exactly what the SQLite store
  reads — so row decoding and replay comparison are shared with it.
- :func:`pg_errors` turns a ``psycopg.Error`` raised inside into
  :class:`~stationlink.errors.StorageError` naming the database (``raise ... from``).
- :func:`connect` opens one configured connection (migrations, checks), errors wrapped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.abc import AdaptContext, Buffer
from psycopg.adapt import Loader
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.datetime import TimestamptzLoader

from ...buffer.db import iso_text
from ...errors import StorageError

PREFIXES = ("postgresql://", "postgres://")


def is_pg_url(db: str) -> bool:
    return db.startswith(PREFIXES)


def redact(dsn: str) -> str:
    """``postgresql://user@host:port/dbname`` of ``dsn``, never its password."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "postgresql://(unparsable DSN)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


class CstTextLoader(Loader):
    """``timestamptz`` as the hub's stored text: ISO 8601 in CST."""

    def __init__(self, oid: int, context: AdaptContext | None = None) -> None:
        super().__init__(oid, context)
        self._inner = TimestamptzLoader(oid, context)

    def load(self, data: Buffer) -> str:
        return iso_text(self._inner.load(data))


def configure(conn: psycopg.Connection[Any]) -> None:
    """Session settings and loaders of every hub connection (module contract)."""
    conn.adapters.register_loader("timestamptz", CstTextLoader)
    conn.execute("SET synchronous_commit = on")
    conn.execute("SET TimeZone = 'Asia/Shanghai'")
    if not conn.autocommit:
        conn.commit()


@contextmanager
def pg_errors(where: str) -> Iterator[None]:
    """Wrap ``psycopg.Error`` raised inside as StorageError naming ``where``."""
    try:
        yield
    except psycopg.Error as exc:
        raise StorageError(f"{where}: {exc}".strip()) from exc


def connect(dsn: str, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    """One configured connection to ``dsn`` (StorageError naming it when it fails)."""
    with pg_errors(redact(dsn)):
        conn = psycopg.connect(dsn, autocommit=autocommit, connect_timeout=10)
        try:
            configure(conn)
        except BaseException:
            conn.close()
            raise
    return conn
