"""Fixtures for the hub tests: journal records, a buffer file, a real hub server on port 0."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from stationlink.buffer import Buffer
from stationlink.cli.main import cli
from stationlink.money import CST
from stationlink.protocol.messages import CardRef, JournalRecord, ResultCode, TxnKind, TxnStatus

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=CST)
CARD = CardRef("622848******1234", "0f" * 16)

MakeRecord = Callable[..., JournalRecord]


@pytest.fixture
def make_record() -> MakeRecord:
    def make(cursor: int, ref: str | None = None, **fields: Any) -> JournalRecord:
        kind = fields.pop("kind", TxnKind.BILL_PAYMENT)
        base: dict[str, Any] = {
            "cursor": cursor,
            "ref": ref if ref is not None else f"R{cursor:011d}",
            "client_ref": "",
            "kind": kind,
            "product": "mobile" if kind is TxnKind.BILL_PAYMENT else "",
            "account": "13800000000" if kind is TxnKind.BILL_PAYMENT else "",
            "amount_fen": 5000,
            "status": TxnStatus.APPROVED,
            "result": ResultCode.APPROVED,
            "terminal_time": T0 + timedelta(minutes=cursor),
            "uptime_ms": 60_000 * cursor,
            "boot_id": 1,
            "card": CARD if kind is TxnKind.WITHDRAWAL else None,
            "original_ref": "",
        }
        base.update(fields)
        return JournalRecord(**base)

    return make


@pytest.fixture
def buf(tmp_path: Path) -> Iterator[Buffer]:
    b = Buffer.open(tmp_path / "buffer.sqlite", "S1")
    yield b
    b.close()


class Clock:
    """A settable clock for the hub (arrival times decide lateness)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Hub:
    """A real uvicorn hub on 127.0.0.1:0 over a SQLite file, with tokens for S1 and S2."""

    def __init__(self, path: Path, clock: Clock) -> None:
        from stationlink.hub.app import create_app
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
        self.server = BackgroundServer(create_app(self.store, clock=clock))
        self.url = self.server.url

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
