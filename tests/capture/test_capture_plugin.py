"""The pytest plugin (entry point ``pytest11``) as an integrator uses it, run by pytester."""

from __future__ import annotations

from pathlib import Path

import pytest

SESSIONS = Path(__file__).resolve().parents[2] / "firmware_fixtures" / "sessions"

INTEGRATOR_TESTS = '''
import json
from pathlib import Path

import pytest
import stationlink

CAPTURE = Path({capture!r})
KEY = bytes(32)


def test_pay_against_an_emulated_terminal(stationlink_terminal):
    terminal = stationlink_terminal(kind="bill", dialect="sl-2", transport="serial", seed=4)
    with stationlink.connect(terminal.url, card_key=KEY, t1=0.3) as term:
        assert term.device_status().boot_id == 1
        result = term.pay_bill("mobile", "13800138000", amount_fen=5000)
    assert result.client_ref


def test_my_host_code_replays_the_capture(stationlink_replay):
    from stationlink_sim.capture.hostplay import run_host
    scenario = json.loads(CAPTURE.with_suffix(".host.json").read_text("utf-8"))
    replay = stationlink_replay(CAPTURE, stall_timeout=5)
    observed = run_host(replay.url, scenario["ops"], card_key=KEY, seed=12345,
                        timers=scenario["timers"])
    replay.assert_no_divergence(timeout=10)
    assert observed == scenario["observed"]


def test_a_wrong_host_is_caught(stationlink_replay):
    replay = stationlink_replay(CAPTURE, stall_timeout=1)
    with stationlink.connect(replay.url, card_key=KEY, t1=0.3, t2_other=0.5) as term:
        with pytest.raises(stationlink.errors.LinkTimeoutError):  # the replayer stops
            term.echo(b"not in the capture")
    with pytest.raises(AssertionError, match="DIVERGED"):
        replay.assert_no_divergence(timeout=10)
'''


@pytest.mark.slow
def test_plugin_fixtures_in_an_integrator_test_file(pytester: pytest.Pytester) -> None:
    capture = SESSIONS / "day-sl-2-card-tcp.jsonl"
    pytester.makepyfile(test_integrator=INTEGRATOR_TESTS.format(capture=str(capture)))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=3)


def test_plugin_is_registered_through_the_entry_point() -> None:
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group="pytest11") if ep.name == "stationlink"]
    assert [ep.value for ep in found] == ["stationlink_sim.pytest_plugin"]
