"""Fixtures for the hub tests: journal records, a buffer file, a real hub server on port 0."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from click.testing import CliRunner

from stationlink.cli.main import cli

if TYPE_CHECKING:
    from stationlink.hub.sqlite_store import SqliteHubStore

_BUFFER_TESTS = str(Path(__file__).resolve().parent.parent / "buffer")
if _BUFFER_TESTS not in sys.path:  # also when only tests/hub is collected
    sys.path.insert(0, _BUFFER_TESTS)

# the journal records and the buffer file of the buffer tests, shared
from buffer_fixtures import CARD, T0, MakeRecord, buf, make_record  # noqa: E402

__all__ = ["CARD", "T0", "Clock", "Hub", "HubProcess", "MakeRecord", "buf", "clock",
           "create_token", "http", "hub", "make_record"]


class Clock:
    """A settable clock for the hub (arrival times decide lateness)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Hub:
    """A real uvicorn hub on 127.0.0.1:0 over a SQLite file, with tokens for S1 and S2;
    :meth:`make_app` builds the ASGI app it serves (a subclass may wrap or tune it)."""

    def __init__(self, path: Path, clock: Clock) -> None:
        from stationlink.hub.server import BackgroundServer
        from stationlink.hub.sqlite_store import SqliteHubStore
        from stationlink.hub.tokens import hash_token, new_token

        self.path = path
        self.clock = clock
        self.store = SqliteHubStore(path)
        self.tokens: dict[str, str] = {}
        for station in ("S1", "S2"):
            token_id, token = new_token()
            self.store.add_token(token_id, station, hash_token(token), clock())
            self.tokens[station] = token
        self.server = BackgroundServer(self.make_app(self.store, clock))
        self.url = self.server.url

    def make_app(self, store: SqliteHubStore, clock: Clock) -> Any:
        from stationlink.hub.app import create_app

        return create_app(store, clock=clock)

    def headers(self, station: str = "S1") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[station]}"}

    def close(self) -> None:
        self.server.stop()
        self.store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + timedelta(hours=1))


@pytest.fixture
def hub(tmp_path: Path, clock: Clock) -> Iterator[Hub]:
    h = Hub(tmp_path / "hub.sqlite", clock)
    yield h
    h.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


class HubProcess:
    def __init__(self, db: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from stationlink.cli.main import main; main()",
             "hub", "serve", "--db", str(db), "--bind", "127.0.0.1:0"],
            stderr=subprocess.PIPE, text=True,
        )
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        if not line.startswith("hub listening on "):
            self.proc.kill()
            code, rest = self.finish()
            pytest.fail(f"hub did not start (exit {code}): {line}{rest}")
        self.url = line.split()[-1]

    def finish(self) -> tuple[int, str]:
        assert self.proc.stderr is not None
        rest = self.proc.stderr.read()
        self.proc.stderr.close()
        return self.proc.wait(timeout=15), rest


def create_token(db: Path, station: str) -> str:
    result = CliRunner().invoke(cli, ["hub", "token", "create", "--db", str(db),
                                      "--station", station])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()
