"""Fixtures for the agent tests: a real hub (uvicorn on 127.0.0.1:0 over a SQLite file),
emulated terminals on real TCP sockets, and agent configurations pointing at them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stationlink.agent import AgentConfig, parse_config
from stationlink.hub.app import create_app
from stationlink.hub.server import BackgroundServer
from stationlink.hub.sqlite_store import SqliteHubStore
from stationlink.hub.tokens import hash_token, new_token
from stationlink.protocol import BillPaymentRequest, Header, MsgType, WithdrawalRequest
from stationlink_sim.serve import DEFAULT_CARD_KEY, RunningTerminal, serve_terminal

STATION = "S1"
MakeConfig = Callable[..., AgentConfig]


class Hub:
    """The real hub app over a SQLite file, with a token for :data:`STATION`, served on
    127.0.0.1 (a subclass serves what :meth:`served` returns: a wrapper of :attr:`app`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.store = SqliteHubStore(path)
        token_id, self.token = new_token()
        self.store.add_token(token_id, STATION, hash_token(self.token),
                             datetime(2026, 10, 1, tzinfo=UTC))  # any fixed time
        self.app = create_app(self.store)
        self.server = BackgroundServer(self.served())
        self.url = self.server.url

    def served(self) -> Any:
        """The ASGI application the server runs: the hub app itself."""
        return self.app

    def close(self) -> None:
        self.server.stop()
        self.store.close()


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    h = Hub(tmp_path / "hub.sqlite")
    yield h
    h.close()


class Terminals:
    """A bill terminal (sl-2) and a card terminal (mispos-1) on TCP, driven directly."""

    def __init__(self, bill: RunningTerminal, card: RunningTerminal) -> None:
        self.bill, self.card = bill, card
        self.seq = 0

    def pay(self, amount_fen: int, account: str = "13800000000", client_ref: str = "") -> Any:
        self.seq += 1
        req = BillPaymentRequest(Header(MsgType.BILL_PAYMENT, self.seq % 65536, "BILL0001"),
                                 client_ref, "mobile", account, amount_fen)
        return self.bill.device.handle(req)

    def withdraw(self, amount_fen: int) -> Any:
        self.seq += 1
        req = WithdrawalRequest(Header(MsgType.WITHDRAWAL, self.seq % 65536, "CARD0001"), "",
                                amount_fen)
        return self.card.device.handle(req)


@pytest.fixture
def terminals() -> Iterator[Terminals]:
    with serve_terminal("bill", "sl-2", terminal_id="BILL0001", seed=1) as bill, \
            serve_terminal("card", "mispos-1", terminal_id="CARD0001", seed=2) as card:
        yield Terminals(bill, card)


@pytest.fixture
def make_config(tmp_path: Path, hub: Hub) -> MakeConfig:
    def make(urls: list[str], *, dialects: list[str] | None = None, **sections: Any
             ) -> AgentConfig:
        """``dialects``: configured per terminal; without them the agent detects them."""
        data: dict[str, Any] = {
            "station_id": STATION,
            "card_key": DEFAULT_CARD_KEY.hex(),
            "data_dir": str(tmp_path / "agent-data"),
            "hub": {"url": hub.url, "token": hub.token, "timeout": 5},
            "terminals": [{"url": u} for u in urls],
        }
        for entry, dialect in zip(data["terminals"], dialects or [], strict=False):
            entry["dialect"] = dialect
        for key, value in sections.items():
            data[key] = {**data.get(key, {}), **value}
        return parse_config(data, source="agent.toml", base=tmp_path)

    return make
