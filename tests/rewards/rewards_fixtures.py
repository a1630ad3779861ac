"""Helpers for reward-engine tests: a builder of stations, branches and transactions.

(A uniquely named module, so ``from rewards_fixtures import Book`` works whichever test
directories run together; ``conftest.py`` re-exports the fixtures.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from stationlink.interchange import (
    Branch,
    Station,
    Transaction,
    write_branches,
    write_stations,
    write_transactions,
)
from stationlink.rewards import MonthResult, compute, load_policy
from stationlink.rewards.model import Policy

CST = timezone(timedelta(hours=8))
GOLDEN = Path(__file__).parent / "golden"


@dataclass
class Book:
    """Stations, branches and transactions for one test; ``run`` computes a month."""

    stations: list[Station] = field(default_factory=list)
    branches: list[Branch] = field(default_factory=list)
    txns: list[Transaction] = field(default_factory=list)

    def branch(self, bid: str, area: str = "rural", plan: int = 0) -> None:
        self.branches.append(Branch(bid, area, plan))

    def station(self, sid: str, bid: str = "B1", area: str = "rural", village: str = "V1",
                households: int | None = 100) -> None:
        if not any(b.branch_id == bid for b in self.branches):
            self.branch(bid, area)
        if area == "urban":
            village, households = "", None
        self.stations.append(Station(sid, bid, area, village, households))

    def add(self, sid: str, kind: str, product: str = "", amount: str = "10.00",
            ts: datetime | str | None = None, card: str = "", status: str = "approved",
            n: int = 1) -> None:
        for _ in range(n):
            if ts is None:
                when = datetime(2026, 10, 15, 10, 0, tzinfo=CST) + timedelta(
                    minutes=len(self.txns))
            elif isinstance(ts, str):
                when = datetime.fromisoformat(ts.replace("Z", "+00:00"))
            else:
                when = ts
            if kind == "withdrawal" and not card:
                card = f"tok{len(self.txns)}"
                self.txns.append(Transaction(f"t{len(self.txns)}", sid, "T", when, kind, product,
                                             Decimal(amount), card, status))
                card = ""
                continue
            self.txns.append(Transaction(f"t{len(self.txns)}", sid, "T", when, kind, product,
                                         Decimal(amount), card, status))

    def run(self, month: str = "2026-10", policy: Policy | None = None) -> MonthResult:
        return compute(policy or load_policy("dezhou-2014"), self.stations, self.branches,
                       self.txns, month)

    def write(self, folder: Path) -> tuple[Path, Path, Path]:
        paths = folder / "t.csv", folder / "s.csv", folder / "b.csv"
        with paths[0].open("w", encoding="utf-8", newline="") as f:
            write_transactions(self.txns, f)
        with paths[1].open("w", encoding="utf-8", newline="") as f:
            write_stations(self.stations, f)
        with paths[2].open("w", encoding="utf-8", newline="") as f:
            write_branches(self.branches, f)
        return paths


@pytest.fixture
def book() -> Book:
    return Book()


@pytest.fixture
def dezhou() -> Policy:
    return load_policy("dezhou-2014")


#: the golden inputs as ``rewards`` command-line options
GOLDEN_ARGS = ("--transactions", str(GOLDEN / "transactions.csv"),
               "--stations", str(GOLDEN / "stations.csv"),
               "--branches", str(GOLDEN / "branches.csv"))


def run_rewards(*args: str, env: dict[str, str] | None = None) -> str:
    """The output of ``stationlink rewards ARGS`` on the golden inputs; it must succeed."""
    from click.testing import CliRunner

    from stationlink.cli.main import cli

    res = CliRunner(env=env).invoke(cli, ["rewards", *args, *GOLDEN_ARGS])
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.fixture
def golden_args() -> list[str]:
    return list(GOLDEN_ARGS)
