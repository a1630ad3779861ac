"""The network between agent and hub cut (connections reset), blackholed (requests vanish,
the agent times out) and refused, then restored: exactly-once at the hub."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest
from e2e_fixtures import CLI, Rig, preload

from stationlink_sim.waiting import wait_until

pytestmark = pytest.mark.slow


def test_network_cut_blackholed_and_restored(rig: Rig) -> None:
    preload(rig, 600, seed=5)
    rig.start_hub()
    config = rig.write_config(batch_size=30)
    rig.start_traffic(seed=6, pause=0.02)
    agent = rig.start_agent()
    proxy = rig.proxy
    assert proxy is not None
    wait_until(lambda: rig.hub_counts()[0] > 0, 15, "the agent's first upload to the hub")
    for mode, outage in (("refuse", 1.0), ("blackhole", 3.0), ("pass", 0.0)):
        for _ in range(3):
            proxy.cut()  # reset whatever is in flight
            time.sleep(0.2)
        proxy.set_mode(mode)  # type: ignore[arg-type]
        time.sleep(outage)  # the outage lasts a while (not an assertion)
        proxy.set_mode("pass")
        assert agent.proc.poll() is None, "the agent died during the outage"
    assert proxy.stats["cut"] > 0
    status = subprocess.run([*CLI, "agent", "status", "--config", str(config), "--json"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert status.returncode == 0, status.stderr
    doc = json.loads(status.stdout)  # read while the agent runs
    assert doc["station_id"] == "E2E1"
    assert [t["terminal_id"] for t in doc["terminals"]] == ["BILL0001", "CARD0001"]
    assert doc["upload"]["last_error"]  # the outages were noticed
    assert rig.traffic is not None
    rig.traffic.finish()
    rig.wait_until_synced(timeout=30)
    assert agent.stop(signal.SIGTERM) == 0
    assert "agent stopped" in (rig.tmp / "agent.log").read_text(encoding="utf-8")
    rig.assert_exactly_once()
