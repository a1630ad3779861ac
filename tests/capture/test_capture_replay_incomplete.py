"""``stationlink replay`` stopped before the host finished: its own outcome, exit code (12)
and message, never a traceback or a "diverged" without a divergence. Real pty / TCP sides."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from stationlink.cli.main import cli
from stationlink_sim.capture.replayer import Replayer
from stationlink_sim.capture.report import EXIT_DIVERGED, EXIT_INCOMPLETE

pytestmark = pytest.mark.slow  # real ptys, sockets or processes

SESSIONS = Path(__file__).resolve().parents[2] / "firmware_fixtures" / "sessions"


@pytest.mark.parametrize("capture", ["day-sl-2-card-tcp.jsonl", "day-mispos-1-bill-serial.jsonl"])
def test_a_host_that_never_connects_is_incomplete_not_diverged(capture: str) -> None:
    path = str(SESSIONS / capture)
    text = CliRunner().invoke(cli, ["replay", path, "--timeout", "0.3"])
    assert text.exit_code == EXIT_INCOMPLETE == 12, text.output
    assert text.exception is None or isinstance(text.exception, SystemExit)
    assert "INCOMPLETE: the host never connected or sent anything" in text.stdout
    assert "Traceback" not in text.output
    as_json = CliRunner().invoke(cli, ["replay", path, "--timeout", "0.3", "--json"])
    assert as_json.exit_code == EXIT_INCOMPLETE != EXIT_DIVERGED
    doc = json.loads(as_json.stdout.splitlines()[-1])
    assert (doc["ok"], doc["outcome"], doc["host_seen"], doc["divergence"]) == (
        False, "incomplete", False, None)
    assert doc["steps_done"] == 0 < doc["steps"]


def test_a_host_that_connects_and_stalls_is_incomplete_with_the_steps_done() -> None:
    replayer = Replayer(SESSIONS / "day-sl-2-card-tcp.jsonl", stall_timeout=60.0)
    replayer.start()
    host, port = replayer.url.removeprefix("tcp://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5):
        replayer.result(timeout=0.3)  # not finished: the host sends nothing
        result = replayer.stop()
    assert (result.outcome, result.host_seen, result.exit_code) == (
        "incomplete", True, EXIT_INCOMPLETE)
    assert result.steps_done < result.steps
    assert (f"INCOMPLETE: stopped after {result.steps_done} of {result.steps} steps without a "
            "divergence") in result.describe()
