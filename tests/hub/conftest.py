"""Hub test fixtures live in hub_fixtures.py (a unique module name).

Without ``STATIONLINK_TEST_PG`` the PostgreSQL runs of the store tests (the ``hub`` fixture's
``postgresql`` parameter, and every test using ``pg_server``/``pg_db``) are deselected and
the run ends with one line saying so, instead of a skip line per test.
"""

from __future__ import annotations

import os

import pytest
from console_fixtures import served
from console_month import month_hub
from hub_fixtures import (
    PG_ENV,
    PG_SKIP,
    buf,
    clock,
    http,
    hub,
    hub_db,
    make_record,
    pg_db,
    pg_server,
)

__all__ = ["buf", "clock", "hub", "hub_db", "http", "make_record", "month_hub", "pg_db",
           "pg_server", "served"]

_NOT_RUN = pytest.StashKey[int]()
_PG_FIXTURES = {"pg_server", "pg_db"}


def _uses_pg(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("hub_db") == "postgresql":
        return True
    return bool(_PG_FIXTURES & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(PG_ENV):
        return
    pg = [i for i in items if _uses_pg(i)]
    if pg:
        items[:] = [i for i in items if not _uses_pg(i)]
        config.hook.pytest_deselected(items=pg)
        config.stash[_NOT_RUN] = config.stash.get(_NOT_RUN, 0) + len(pg)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    n = config.stash.get(_NOT_RUN, 0)
    if n:
        terminalreporter.write_line(f"{PG_SKIP}: {n} test(s) not run")
