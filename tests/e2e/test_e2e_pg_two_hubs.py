"""Two hub processes on one PostgreSQL database: two stations' agents, each through its own
NetCut to its own hub; hub A is SIGKILLed mid-upload three times (while it is down its
station is sent to hub B, then back to a restarted A), station B's network is cut and
blackholed; at the end the database holds exactly what the four terminals produced.

The database is the e2e harness's fresh PostgreSQL schema (``pg_hub``, migrated by
``stationlink hub migrate``); without ``STATIONLINK_TEST_PG`` the test is deselected with the
harness's one line.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from e2e_fixtures import HubProcess, Rig, preload

from stationlink_sim.serve import serve_terminal
from stationlink_sim.waiting import wait_until

pytestmark = pytest.mark.slow


def test_two_hubs_one_database_killed_and_cut(tmp_path: Path, pg_hub: str) -> None:
    hubs: dict[str, HubProcess] = {}
    rigs: list[Rig] = []
    with serve_terminal("bill", "sl-2", terminal_id="BILL0001", seed=21) as bill_a, \
            serve_terminal("card", "mispos-1", terminal_id="CARD0001", seed=22) as card_a, \
            serve_terminal("bill", "sl-2", terminal_id="BILL0001", seed=23) as bill_b, \
            serve_terminal("card", "mispos-1", terminal_id="CARD0001", seed=24) as card_b:
        try:
            hubs["A"] = HubProcess(pg_hub, tmp_path / "hubA.log")
            hubs["B"] = HubProcess(pg_hub, tmp_path / "hubB.log")
            a = Rig(tmp_path / "a", bill_a, card_a, pg_hub, station="E2EA")
            b = Rig(tmp_path / "b", bill_b, card_b, pg_hub, station="E2EB")
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
                hubs["A"] = HubProcess(pg_hub, tmp_path / "hubA.log")
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
                if not hub.log.closed:  # also one that died by itself
                    hub.stop(signal.SIGKILL)
