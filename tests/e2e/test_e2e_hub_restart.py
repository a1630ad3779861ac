"""The hub stopped (SIGTERM) and killed (SIGKILL) mid-upload and restarted: the agent backs
off, retries, and the hub ends with exactly the terminals' transactions."""

from __future__ import annotations

import signal
import time

import pytest
from e2e_fixtures import Rig, preload

pytestmark = pytest.mark.slow


def wait_for_progress(rig: Rig, above: int, timeout: float = 25) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        held = rig.hub_counts()[0]
        if held > above:
            return held
        time.sleep(0.05)
    logs = {name: (rig.tmp / name).read_text(encoding="utf-8")[-2000:]
            for name in ("agent.log", "hub.log")}
    pytest.fail(f"no upload progress beyond {above} records: {logs}")


def test_hub_stopped_and_killed_mid_upload_then_restarted(rig: Rig) -> None:
    preload(rig, 1500, seed=3)
    rig.start_hub()
    rig.write_config(batch_size=20)  # many small batches: the hub stops between and inside
    rig.start_traffic(seed=4, pause=0.02)
    agent = rig.start_agent()
    for sig in (signal.SIGTERM, signal.SIGKILL, signal.SIGKILL):
        held = wait_for_progress(rig, 0 if sig is signal.SIGTERM else rig.hub_counts()[0])
        assert rig.hub is not None
        code = rig.hub.stop(sig)
        assert code == (0 if sig is signal.SIGTERM else -signal.SIGKILL)
        assert rig.hub_counts()[0] >= held
        time.sleep(0.5)  # the hub is down for a while (the agent backs off meanwhile)
        assert agent.proc.poll() is None, "the agent died while the hub was down"
        rig.start_hub()  # a new port: the proxy follows it, the agent's URL stays
    assert rig.traffic is not None
    rig.traffic.finish()
    rig.wait_until_synced(timeout=30)
    assert agent.stop(signal.SIGINT) == 0
    rig.assert_exactly_once()
