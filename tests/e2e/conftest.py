"""End-to-end fixtures live in e2e_fixtures.py (a unique module name).

Without ``STATIONLINK_TEST_PG`` the PostgreSQL runs (the ``hub_db`` fixture's ``postgresql``
parameter, and every test using ``pg_hub``) are deselected and the run ends with one line
saying so. ``trylast``: in a whole-suite run the hub tests' conftest, which deselects the
same way, goes first and its one line counts these too.
"""

from __future__ import annotations

import os

import pytest
from e2e_fixtures import PG_ENV, PG_SKIP, hub_db, pg_db, pg_hub, pg_server, rig

__all__ = ["hub_db", "pg_db", "pg_hub", "pg_server", "rig"]

_NOT_RUN = pytest.StashKey[int]()


def _on_pg(item: pytest.Item) -> bool:
    spec = getattr(item, "callspec", None)
    return (spec is not None and spec.params.get("hub_db") == "postgresql") or (
        "pg_db" in getattr(item, "fixturenames", ()))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(PG_ENV):
        return
    pg = [i for i in items if _on_pg(i)]
    if pg:
        items[:] = [i for i in items if not _on_pg(i)]
        config.hook.pytest_deselected(items=pg)
        config.stash[_NOT_RUN] = len(pg)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    if config.stash.get(_NOT_RUN, 0):
        terminalreporter.write_line(f"{PG_SKIP}: {config.stash[_NOT_RUN]} test(s) not run")
