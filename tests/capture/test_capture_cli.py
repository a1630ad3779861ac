"""``stationlink record`` and ``stationlink replay`` as real processes, and their errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from capture_helpers import KEY
from click.testing import CliRunner

from stationlink.capture import read_capture
from stationlink.cli.main import cli
from stationlink_sim.capture.hostplay import run_host
from stationlink_sim.serve import serve_terminal

SESSIONS = Path(__file__).resolve().parents[2] / "firmware_fixtures" / "sessions"
CMD = [sys.executable, "-c", "from stationlink.cli.main import main; main()"]
TIMERS = {"t1": 0.3, "t2_money": 1.0, "t2_other": 1.0}
OPS = [{"op": "connect"}, {"op": "pay_bill", "product": "mobile", "account": "13800138000",
                           "amount_fen": 5000}, {"op": "journal"}, {"op": "close"}]


@pytest.mark.slow
def test_record_then_replay_as_commands(tmp_path: Path) -> None:
    out = tmp_path / "s.jsonl"
    with serve_terminal("bill", "mispos-1", pty=True, seed=2, card_key=KEY) as terminal:
        rec = subprocess.Popen(
            [*CMD, "record", "--between", "pty", terminal.url, "--out", str(out), "--json",
             "--meta", "site=test"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert rec.stdout is not None
        first = rec.stdout.readline().split()
        assert first[:2] == ["host", "side"]
        observed = run_host(first[2], OPS, card_key=KEY, seed=3, timers=TIMERS)
        rec.send_signal(signal.SIGINT)
        stdout, stderr = rec.communicate(timeout=20)
    assert rec.returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["dialect"] == "mispos-1"
    cap = read_capture(out)
    assert summary["chunks"] == len(cap.chunks)
    assert cap.header.meta == {"site": "test"}
    assert cap.header.ports == {"host": "pty", "terminal": terminal.url}

    rep = subprocess.Popen([*CMD, "replay", str(out), "--json"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    assert rep.stdout is not None
    first = rep.stdout.readline().split()
    assert first[:2] == ["terminal", "side"]
    assert run_host(first[2], OPS, card_key=KEY, seed=9, timers=TIMERS) == observed
    stdout, stderr = rep.communicate(timeout=20)
    assert rep.returncode == 0, stderr
    result = json.loads(stdout)
    assert result["ok"] is True
    assert result["divergence"] is None

    # a host that pays another amount: exit 11 and the divergence printed
    other = [dict(op) for op in OPS]
    other[1]["amount_fen"] = 6000
    rep = subprocess.Popen([*CMD, "replay", str(out), "--stall-timeout", "2"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert rep.stdout is not None
    url = rep.stdout.readline().split()[2]
    run_host(url, other, card_key=KEY, seed=9, timers=TIMERS)
    stdout, _ = rep.communicate(timeout=20)
    assert rep.returncode == 11
    assert "DIVERGED" in stdout
    assert "BillPaymentRequest field amount_fen differs" in stdout


def test_replay_of_a_bad_file_exits_3_naming_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    lines = (SESSIONS / "day-sl-2-card-tcp.jsonl").read_text("utf-8").splitlines()
    lines[4] = lines[4].replace('"hex": "', '"hex": "zz')
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["replay", str(bad)])
    assert result.exit_code == 3
    assert f"{bad}: line 5, column hex: 'hex' is not hex digits" in result.output


def test_replay_options_are_checked() -> None:
    capture = str(SESSIONS / "day-sl-2-card-tcp.jsonl")
    result = CliRunner().invoke(cli, ["replay", capture, "--speed", "2", "--realtime"])
    assert result.exit_code == 2
    assert "give --speed or --realtime, not both" in result.output
    result = CliRunner().invoke(cli, ["replay", capture, "--against", "pty"])
    assert result.exit_code == 2
    assert "was recorded over TCP" in result.output


def test_record_refuses_mixed_transports(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["record", "--between", "pty", "tcp://127.0.0.1:9",
                                      "--out", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 2
    assert "both must be serial or both tcp" in result.output
    assert not (tmp_path / "x.jsonl").exists()
