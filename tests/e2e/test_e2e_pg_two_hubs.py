"""Two hub processes on one PostgreSQL database: two stations' agents, each through its own
NetCut to its own hub; hub A is SIGKILLed mid-upload three times (while it is down its
station is sent to hub B, then back to a restarted A), station B's network is cut and
blackholed; at the end the database holds exactly what the four terminals produced.

Skipped with one line without ``STATIONLINK_TEST_PG``.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from e2e_fixtures import HubProcess, Rig, preload

from stationlink.hub.export import hub_transactions
from stationlink.hub.stores import migrate_hub, open_hub_store
from stationlink.hub.tokens import hash_token, new_token
from stationlink.money import fen_to_yuan
from stationlink.protocol import TxnKind
from stationlink_sim.netcut import NetCut
from stationlink_sim.serve import RunningTerminal, serve_terminal
from stationlink_sim.waiting import wait_until

PG_ENV = "STATIONLINK_TEST_PG"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get(PG_ENV),
                       reason=f"PostgreSQL e2e skipped: {PG_ENV} is not set"),
]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh database on the test server, migrated; dropped afterwards."""
    import psycopg

    admin = os.environ[PG_ENV]
    name = f"stationlink_e2e_{secrets.token_hex(6)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    parts = urlsplit(admin)
    url = urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))
    migrate_hub(url)
    try:
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())


class StationRig(Rig):
    """The e2e :class:`Rig` for one station of a shared PostgreSQL hub (its own station id,
    terminals, NetCut and agent; the hub processes are started by the test)."""

    def __init__(self, tmp: Path, bill: RunningTerminal, card: RunningTerminal, station: str,
                 db: str) -> None:
        tmp.mkdir()
        self.tmp, self.bill, self.card, self.station, self.db = tmp, bill, card, station, db
        self.hub_db = tmp / "unused.sqlite"
        store = open_hub_store(db)
        token_id, self.token = new_token()
        store.add_token(token_id, station, hash_token(self.token),
                        datetime(2026, 10, 1, tzinfo=UTC))
        store.close()
        self.hub = None
        self.proxy = None
        self.agent = None
        self.traffic = None
        self.starts = 0

    def route(self, hub: HubProcess) -> None:
        if self.proxy is None:
            self.proxy = NetCut(hub.address)
        else:
            self.proxy.set_upstream(hub.address)

    def write_config(self, batch_size: int) -> Path:
        path = super().write_config(batch_size)
        text = path.read_text(encoding="utf-8").replace('station_id = "E2E1"',
                                                        f'station_id = "{self.station}"')
        path.write_text(text, encoding="utf-8")
        (self.tmp / "hub.log").touch()
        return path

    def expected(self) -> dict[str, tuple[str, str, str]]:
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

    def at_hub(self) -> dict[str, tuple[str, str, str]]:
        rows = [r for r in hub_transactions(self.db, include_late=True)
                if r.station_id == self.station]
        assert len({r.txn_id for r in rows}) == len(rows), "a transaction exported twice"
        return {r.txn_id: (r.kind, str(r.amount), r.status) for r in rows}

    def hub_counts(self) -> tuple[int, int, int]:
        import psycopg

        with psycopg.connect(self.db) as conn:
            row = conn.execute(
                "SELECT count(*), count(DISTINCT terminal_id || ' ' || ident), "
                "count(*) FILTER (WHERE duplicate_of IS NOT NULL) FROM records "
                "WHERE station_id = %s", (self.station,)).fetchone()
        assert row is not None
        return int(row[0]), int(row[1]), int(row[2])


def test_two_hubs_one_database_killed_and_cut(tmp_path: Path, pg_url: str) -> None:
    hubs: dict[str, HubProcess] = {}
    rigs: list[StationRig] = []
    with serve_terminal("bill", "sl-2", terminal_id="BILL0001", seed=21) as bill_a, \
            serve_terminal("card", "mispos-1", terminal_id="CARD0001", seed=22) as card_a, \
            serve_terminal("bill", "sl-2", terminal_id="BILL0001", seed=23) as bill_b, \
            serve_terminal("card", "mispos-1", terminal_id="CARD0001", seed=24) as card_b:
        try:
            hubs["A"] = HubProcess(pg_url, tmp_path / "hubA.log")
            hubs["B"] = HubProcess(pg_url, tmp_path / "hubB.log")
            a = StationRig(tmp_path / "a", bill_a, card_a, "E2EA", pg_url)
            b = StationRig(tmp_path / "b", bill_b, card_b, "E2EB", pg_url)
            rigs += [a, b]
            for rig, hub, seed in ((a, hubs["A"], 31), (b, hubs["B"], 41)):
                preload(rig, 400, seed=seed)
                rig.route(hub)
                rig.write_config(batch_size=20)
                rig.start_traffic(seed=seed + 1, pause=0.03)
                rig.start_agent()
            assert a.proxy is not None
            assert b.proxy is not None
            for round_ in range(3):
                held = a.hub_counts()[0]
                wait_until(lambda h=held: a.hub_counts()[0] > h, 30,
                           f"station A's uploads through hub A (round {round_})")
                assert hubs["A"].stop(signal.SIGKILL) == -signal.SIGKILL
                a.route(hubs["B"])  # meanwhile station A is served by the other process
                if round_ == 1:  # station B's network: reset, blackholed, refused
                    b.proxy.cut()
                    b.proxy.set_mode("blackhole")
                    time.sleep(2.5)  # an outage lasts a while (not an assertion)
                    b.proxy.set_mode("refuse")
                    time.sleep(0.5)
                    b.proxy.set_mode("pass")
                else:
                    time.sleep(0.5)
                held = a.hub_counts()[0]
                wait_until(lambda h=held: a.hub_counts()[0] > h, 30,
                           "station A's uploads through hub B")
                hubs["A"] = HubProcess(pg_url, tmp_path / "hubA.log")
                a.route(hubs["A"])
                for rig in rigs:
                    assert rig.agent is not None
                    assert rig.agent.proc.poll() is None, f"agent {rig.station} died"
            assert b.proxy.stats["cut"] > 0
            for rig in rigs:
                assert rig.traffic is not None
                rig.traffic.finish()
            for rig in rigs:
                rig.wait_until_synced(timeout=60)
            for rig in rigs:
                assert rig.agent is not None
                assert rig.agent.stop(signal.SIGTERM) == 0
                rig.assert_exactly_once()
            assert a.journal_records() > 400
            assert b.journal_records() > 400
        finally:
            for rig in rigs:
                rig.close()
            for hub in hubs.values():
                if hub.proc.poll() is None:
                    hub.stop(signal.SIGKILL)
