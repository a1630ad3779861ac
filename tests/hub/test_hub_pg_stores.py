"""Which store a ``--db`` value opens (``stationlink.hub.stores``): PostgreSQL URLs, a
``sqlite:///`` URL and a plain path, and a clear error for anything else."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from stationlink.cli.main import cli
from stationlink.errors import ConfigError
from stationlink.hub.sqlite_store import SqliteHubStore
from stationlink.hub.stores import describe, migrate_hub, open_hub_store, sqlite_path


def test_sqlite_url_and_plain_path_name_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite"
    assert sqlite_path(f"sqlite://{path}") == path
    assert sqlite_path(str(path)) == path
    assert sqlite_path("postgresql://u@h/db") is None
    assert sqlite_path("postgres://u@h/db") is None
    store = open_hub_store(f"sqlite://{path}")
    try:
        assert isinstance(store, SqliteHubStore)
        assert store.path == path
    finally:
        store.close()
    assert "hub schema at version" in migrate_hub(str(path))


@pytest.mark.parametrize(("db", "message"), [
    ("mysql://root@localhost/hub", "unknown database URL"),
    ("sqlite://relative/hub.sqlite", "sqlite:///absolute/path"),
])
def test_other_urls_are_refused_with_the_forms(db: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_hub_store(db)
    result = CliRunner().invoke(cli, ["hub", "status", "--db", db])
    assert result.exit_code == ConfigError.exit_code
    assert message in result.output


def test_describe_hides_a_password() -> None:
    assert describe("postgresql://hub:pw@db.example:5433/hub") == \
        "postgresql://hub@db.example:5433/hub"
    assert describe(Path("/srv/hub.sqlite")) == "/srv/hub.sqlite"
