"""The agent killed with SIGKILL at random (seeded) instants during a stream of counter
transactions, restarted each time: the hub ends with exactly the terminals' transactions."""

from __future__ import annotations

import random
import signal
import time

import pytest
from e2e_fixtures import Rig, preload

pytestmark = pytest.mark.slow


def test_sigkill_at_random_instants_loses_and_duplicates_nothing(rig: Rig) -> None:
    rng = random.Random(20261005)
    preload(rig, 300, seed=1)  # a backlog, so kills land in pulls and uploads alike
    rig.start_hub()
    rig.write_config(batch_size=25)
    rig.start_traffic(seed=2, pause=0.01)
    kills = 0
    for _ in range(6):
        agent = rig.start_agent()
        time.sleep(rng.uniform(0.6, 1.8))  # the kill instant (not an assertion)
        assert agent.proc.poll() is None, "the agent died by itself"
        agent.kill()
        kills += 1
    assert rig.traffic is not None
    rig.traffic.finish()
    agent = rig.start_agent()
    rig.wait_until_synced(timeout=30)
    assert agent.stop(signal.SIGTERM) == 0
    assert kills == 6
    assert rig.journal_records() > 300
    rig.assert_exactly_once()
    assert rig.bill.device.journal.acked_cursor == rig.bill.device.journal.last_cursor
    assert rig.card.device.journal.acked_cursor == rig.card.device.journal.last_cursor
