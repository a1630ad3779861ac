"""Which hub store a ``--db`` value names: :func:`open_hub_store`, :func:`migrate_hub`.

Contract:
- ``postgresql://…`` or ``postgres://…`` (a libpq URL; any libpq parameter may follow ``?``)
  is the PostgreSQL store (:class:`stationlink.hub.pg.PgHubStore`); its schema must be at
  the current version (``stationlink hub migrate`` applies it; opening never migrates).
- ``sqlite:///abs/path`` (as a ``file://`` URL: the path after ``sqlite://``) or a plain
  path is the embedded SQLite store (:class:`stationlink.hub.sqlite_store.SqliteHubStore`),
  with its own rules: ``create=False`` opens only an existing hub file (read-only media
  allowed), ``create=True`` creates or migrates the file.
- Any other ``scheme://`` is a :class:`~stationlink.errors.ConfigError` naming the forms.
- :func:`describe` shows a ``--db`` value for messages (a PostgreSQL password never shown).
- :func:`migrate_hub` brings a database to this code's schema version and says what it did.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import ConfigError
from .closing import DEFAULT_CLOSE_DAY
from .store import HubStore

PG_PREFIXES = ("postgresql://", "postgres://")
SQLITE_PREFIX = "sqlite://"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
FORMS = ("postgresql://user@host[:port]/dbname, sqlite:///absolute/path/hub.sqlite or a plain "
         "file path")


def is_pg_url(db: str | Path) -> bool:
    """Whether ``db`` names a PostgreSQL database (psycopg is imported only when it does)."""
    return isinstance(db, str) and db.startswith(PG_PREFIXES)


def sqlite_path(db: str | Path) -> Path | None:
    """The SQLite file ``db`` names, or ``None`` for a PostgreSQL URL (module contract)."""
    if isinstance(db, Path):
        return db
    if is_pg_url(db):
        return None
    if db.startswith(SQLITE_PREFIX):
        rest = db[len(SQLITE_PREFIX):]
        if not rest.startswith("/"):
            raise ConfigError(f"--db {db}: a sqlite URL is sqlite:///absolute/path "
                              "(or give the file path itself)")
        return Path(rest)
    if _SCHEME.match(db):
        raise ConfigError(f"--db {describe(db)}: unknown database URL; use {FORMS}")
    return Path(db)


def describe(db: str | Path) -> str:
    """``db`` for a message: a PostgreSQL URL without its password, a path as it is."""
    if is_pg_url(db):
        from .pg.connect import redact

        return redact(str(db))
    return str(db)


def open_hub_store(db: str | Path, *, close_day: int = DEFAULT_CLOSE_DAY, create: bool = True
                   ) -> HubStore:
    """The store ``db`` names (module contract)."""
    path = sqlite_path(db)
    if path is None:
        from .pg.store import PgHubStore

        return PgHubStore(str(db), close_day=close_day)
    from .sqlite_store import SqliteHubStore

    return SqliteHubStore(path, close_day=close_day, create=create)


def migrate_hub(db: str | Path) -> str:
    """Apply the missing schema migrations to ``db`` (idempotent); a line saying what."""
    path = sqlite_path(db)
    if path is None:
        from .pg.schema import migrate

        before, after = migrate(str(db))
        if before == after:
            return f"{describe(db)}: hub schema already at version {after}"
        return f"{describe(db)}: hub schema migrated from version {before} to {after}"
    from .hub_schema import SCHEMA_VERSION
    from .sqlite_store import SqliteHubStore

    SqliteHubStore(path, create=True).close()  # creates or migrates the file in place
    return f"{path}: hub schema at version {SCHEMA_VERSION}"
