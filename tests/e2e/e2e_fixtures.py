"""Real processes for the fault tests: the hub and the agent as subprocesses, emulated
terminals on TCP sockets in the test process with standalone counter traffic, and a
NetCut proxy between agent and hub.

Every test using :func:`rig` runs once per hub store through the one parametrised fixture
:func:`hub_db` (``["sqlite", "postgresql"]``): ``hub serve --db <file>`` and
``hub serve --db postgresql://…``. PostgreSQL comes from ``STATIONLINK_TEST_PG`` through the
hub tests' session database (``hub_fixtures.pg_server``: a database with a random name per
session, dropped after); each test gets a fresh, empty schema in it, migrated by
``stationlink hub migrate`` (:func:`pg_hub`). Without the variable the PostgreSQL runs are
deselected with one line (``conftest.py``).

Expected results are never written down: they are read from the terminals' own journals
when the test ends and compared with what the hub holds.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from stationlink.cli.main import cli
from stationlink.hub.export import hub_transactions
from stationlink.hub.stores import open_hub_store, sqlite_path
from stationlink.hub.tokens import hash_token, new_token
from stationlink.money import fen_to_yuan
from stationlink.protocol import (
    BillPaymentRequest,
    Header,
    MsgType,
    ResultCode,
    ReversalRequest,
    TxnKind,
    WithdrawalRequest,
)
from stationlink_sim.netcut import NetCut
from stationlink_sim.serve import DEFAULT_CARD_KEY, RunningTerminal, serve_terminal

_HUB_TESTS = str(Path(__file__).resolve().parent.parent / "hub")
if _HUB_TESTS not in sys.path:  # also when only tests/e2e is collected
    sys.path.insert(0, _HUB_TESTS)

# the PostgreSQL session database of the hub tests, shared
from hub_fixtures import PG_ENV, pg_db, pg_server  # noqa: E402

__all__ = ["CLI", "PG_ENV", "PG_SKIP", "STATION", "AgentProcess", "HubProcess", "Rig",
           "Traffic", "describe", "hub_db", "pg_db", "pg_hub", "pg_server", "preload", "rig"]

STATION = "E2E1"
CLI = [sys.executable, "-c", "from stationlink.cli.main import main; main()"]
PRODUCTS = ("mobile", "unicom", "electricity", "water")
STORES = ["sqlite", "postgresql"]
PG_SKIP = (f"PostgreSQL end-to-end runs skipped: {PG_ENV} is not set (a server DSN, e.g. "
           "postgresql://postgres@127.0.0.1:5432/test; .ci/run sets it)")
COUNTS = ("SELECT count(*), count(DISTINCT terminal_id || ' ' || ident), "
          "count(*) FILTER (WHERE duplicate_of IS NOT NULL) FROM records WHERE station_id = ")


@pytest.fixture
def pg_hub(pg_db: str) -> str:
    """A fresh, empty PostgreSQL schema migrated by ``stationlink hub migrate``: a ``--db``
    (the command in this process: a new interpreter would add seconds per test)."""
    done = CliRunner().invoke(cli, ["hub", "migrate", "--db", pg_db])
    assert done.exit_code == 0, f"hub migrate failed: {done.output}"
    assert "hub schema migrated from version 0" in done.stdout, done.stdout  # it was empty
    return pg_db


@pytest.fixture(params=STORES)
def hub_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The hub database of the test, once per store, as a ``hub serve --db`` value."""
    if request.param == "sqlite":
        return str(tmp_path / "hub.sqlite")
    url: str = request.getfixturevalue("pg_hub")
    return url


class HubProcess:
    """``stationlink hub serve --bind 127.0.0.1:0`` as a subprocess."""

    def __init__(self, db: str, log: Path) -> None:
        self.log = log.open("a", encoding="utf-8")
        self.proc = subprocess.Popen(
            [*CLI, "hub", "serve", "--db", db, "--bind", "127.0.0.1:0"],
            stderr=subprocess.PIPE, stdout=self.log, text=True,
        )
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        if not line.startswith("hub listening on "):
            self.proc.kill()
            self.proc.wait(timeout=15)
            self.proc.stderr.close()
            self.log.close()
            pytest.fail(f"hub did not start: {line}")
        host, port = line.split()[-1].removeprefix("http://").rsplit(":", 1)
        self.address = (host, int(port))
        self._drain = threading.Thread(target=self._copy, daemon=True)
        self._drain.start()

    def _copy(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.write(line)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self._drain.join(timeout=10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()
        self.log.close()
        return code


class AgentProcess:
    """``stationlink agent run --config agent.toml`` as a subprocess, logging to a file."""

    def __init__(self, config: Path, log: Path, seed: int) -> None:
        self.log = log.open("a", encoding="utf-8")
        self.proc = subprocess.Popen(
            [*CLI, "agent", "run", "--config", str(config), "--seed", str(seed)],
            stdout=self.log, stderr=self.log,
        )

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL: no cleanup at all
        self.proc.wait(timeout=20)
        self.log.close()

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self.log.close()
        return code


class Traffic(threading.Thread):
    """Customers at the counter: standalone payments, withdrawals and reversals."""

    def __init__(self, bill: RunningTerminal, card: RunningTerminal, seed: int,
                 pause: float) -> None:
        super().__init__(name="traffic", daemon=True)
        self.bill, self.card = bill, card
        self.rng = random.Random(seed)
        self.pause = pause
        self.stop_flag = threading.Event()
        self.count = 0
        self.error: BaseException | None = None

    def one(self) -> None:
        rng, self.count = self.rng, self.count + 1
        seq = self.count % 65536
        roll = rng.random()
        if roll < 0.6:
            self.bill.device.handle(BillPaymentRequest(
                Header(MsgType.BILL_PAYMENT, seq, "BILL0001"), "", rng.choice(PRODUCTS),
                f"138{rng.randrange(10**8):08d}", rng.randrange(100, 30000)))
        elif roll < 0.9:
            self.card.device.handle(WithdrawalRequest(
                Header(MsgType.WITHDRAWAL, seq, "CARD0001"), "", rng.randrange(1, 20) * 10000))
        else:  # the operator reverses the last transaction of one terminal
            term = rng.choice((self.bill, self.card))
            records = list(term.device.journal)
            last = next((r for r in reversed(records) if r.kind is not TxnKind.REVERSAL
                         and r.result is ResultCode.APPROVED), None)
            if last is not None:
                term.device.handle(ReversalRequest(
                    Header(MsgType.REVERSAL, seq, term.config.terminal_id), "", last.ref))

    def run(self) -> None:
        try:
            while not self.stop_flag.wait(self.rng.uniform(0, 2 * self.pause)):
                self.one()
        except BaseException as exc:  # noqa: BLE001 - reported by finish()
            self.error = exc

    def finish(self) -> None:
        self.stop_flag.set()
        self.join(timeout=10)
        assert self.error is None, self.error


class Rig:
    """One station on a hub database (``db``, a ``--db`` value of either store) with its
    token, two emulated terminals, and an agent.toml pointing at a NetCut; the hub process
    is :meth:`start_hub`'s, or a test's own routed to with :meth:`route`."""

    def __init__(self, tmp: Path, bill: RunningTerminal, card: RunningTerminal, db: str,
                 station: str = STATION) -> None:
        tmp.mkdir(exist_ok=True)
        self.tmp, self.bill, self.card, self.db, self.station = tmp, bill, card, db, station
        store = open_hub_store(db)  # a SQLite file is created (PostgreSQL: migrated)
        token_id, self.token = new_token()
        store.add_token(token_id, station, hash_token(self.token),
                        datetime(2026, 10, 1, tzinfo=UTC))
        store.close()
        self.hub: HubProcess | None = None
        self.proxy: NetCut | None = None
        self.agent: AgentProcess | None = None
        self.traffic: Traffic | None = None
        self.starts = 0

    def route(self, hub: HubProcess) -> None:
        """Send the agent's traffic to ``hub`` (the proxy follows; the agent's URL stays)."""
        if self.proxy is None:
            self.proxy = NetCut(hub.address)
        else:
            self.proxy.set_upstream(hub.address)

    def start_hub(self) -> HubProcess:
        self.hub = HubProcess(self.db, self.tmp / "hub.log")
        self.route(self.hub)
        return self.hub

    def write_config(self, batch_size: int) -> Path:
        assert self.proxy is not None
        path = self.tmp / "agent.toml"
        path.write_text(f"""
station_id = "{self.station}"
card_key = "{DEFAULT_CARD_KEY.hex()}"
data_dir = "agent-data"

[hub]
url = "{self.proxy.url}"
token = "{self.token}"
timeout = 2

[poll]
journal_interval = 0.2
device_status_interval = 1
reconnect_base = 0.1
reconnect_cap = 1

[upload]
interval = 0.2
batch_size = {batch_size}
backoff_base = 0.1
backoff_cap = 1
status_interval = 1

[[terminals]]
url = "{self.bill.url}"

[[terminals]]
url = "{self.card.url}"
dialect = "mispos-1"
""", encoding="utf-8")
        return path

    def start_agent(self) -> AgentProcess:
        self.starts += 1
        self.agent = AgentProcess(self.tmp / "agent.toml", self.tmp / "agent.log",
                                  seed=self.starts)
        return self.agent

    def start_traffic(self, seed: int, pause: float) -> Traffic:
        self.traffic = Traffic(self.bill, self.card, seed, pause)
        self.traffic.start()
        return self.traffic

    # ------------------------------------------------------------------ checking

    def expected(self) -> dict[str, tuple[str, str, str]]:
        """txn_id -> (kind, amount, status) from the terminals' journals."""
        out: dict[str, tuple[str, str, str]] = {}
        for term in (self.bill, self.card):
            journal = term.device.journal
            for rec in journal:
                if rec.kind is TxnKind.REVERSAL:
                    continue
                status = "reversed" if journal.is_reversed(rec.ref) else rec.status.value
                out[f"{self.station}-{term.config.terminal_id}-{rec.ref}"] = (
                    rec.kind.value, str(fen_to_yuan(rec.amount_fen)), status)
        return out

    def journal_records(self) -> int:
        return len(self.bill.device.journal) + len(self.card.device.journal)

    def at_hub(self) -> dict[str, tuple[str, str, str]]:
        rows = [r for r in hub_transactions(self.db, include_late=True)
                if r.station_id == self.station]
        assert len({r.txn_id for r in rows}) == len(rows), "a transaction exported twice"
        return {r.txn_id: (r.kind, str(r.amount), r.status) for r in rows}

    def hub_counts(self) -> tuple[int, int, int]:
        """(records, distinct identities, duplicates) the hub stores for the station."""
        file = sqlite_path(self.db)
        if file is not None:
            with closing(sqlite3.connect(file)) as conn:
                row = conn.execute(COUNTS + "?", (self.station,)).fetchone()
        else:
            import psycopg

            with psycopg.connect(self.db) as pg:
                row = pg.execute((COUNTS + "%s").encode(), (self.station,)).fetchone()
        assert row is not None
        return int(row[0]), int(row[1]), int(row[2])

    def wait_until_synced(self, timeout: float) -> None:
        """Poll (never a fixed sleep) until the hub holds every journal record."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.hub_counts()[0] >= self.journal_records() and (
                    self.at_hub() == self.expected()):
                return
            time.sleep(0.2)
        missing = set(self.expected()) - set(self.at_hub())
        log = (self.tmp / "agent.log").read_text(encoding="utf-8")[-3000:]
        hub_log = self.tmp / "hub.log"
        if hub_log.exists():  # absent when the test runs its own hubs
            log += "\nhub log tail:\n" + hub_log.read_text(encoding="utf-8")[-1500:]
        pytest.fail(f"hub not complete after {timeout} s: {len(missing)} missing; "
                    f"agent log tail:\n{log}")

    def assert_exactly_once(self) -> None:
        expected = self.expected()
        assert self.at_hub() == expected
        records, identities, duplicates = self.hub_counts()
        assert duplicates == 0
        assert records == identities == self.journal_records()

    def close(self) -> None:
        if self.traffic is not None:
            self.traffic.stop_flag.set()
            self.traffic.join(timeout=10)
        if self.agent is not None and not self.agent.log.closed:  # also one that died
            self.agent.kill()
        if self.hub is not None and not self.hub.log.closed:
            self.hub.stop(signal.SIGKILL)
        if self.proxy is not None:
            self.proxy.close()


@pytest.fixture
def rig(tmp_path: Path, hub_db: str) -> Iterator[Rig]:
    """The station rig on a new hub database, once per store (:func:`hub_db`)."""
    with serve_terminal("bill", "sl-2", terminal_id="BILL0001", seed=11) as bill, \
            serve_terminal("card", "mispos-1", terminal_id="CARD0001", seed=12) as card:
        r = Rig(tmp_path, bill, card, hub_db)
        try:
            yield r
        finally:
            r.close()


def preload(rig: Rig, n: int, seed: int) -> None:
    """Transactions made while no agent ran (the journal keeps them)."""
    traffic = Traffic(rig.bill, rig.card, seed, 0.0)
    for _ in range(n):
        traffic.one()


def describe(rig: Rig) -> dict[str, Any]:
    return {"journal": rig.journal_records(), "hub": rig.hub_counts()}
