"""``stationlink agent referral``: the operator's referral goes into the agent's buffer file
(committed before the command prints); exact output through click's CliRunner."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from stationlink.buffer import Buffer, Entry
from stationlink.cli import agent as agent_cli
from stationlink.cli.main import cli
from stationlink.clock import ManualClock
from stationlink.money import CST

ENTERED = datetime(2026, 10, 7, 23, 59, 30, tzinfo=CST)


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    fixed = ManualClock(ENTERED)
    monkeypatch.setattr(agent_cli, "CLOCK", fixed)
    return fixed


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(
        'station_id = "S9"\ncard_key = "000102030405060708090a0b0c0d0e0f"\n'
        'data_dir = "data"\n\n[hub]\nurl = "http://127.0.0.1:9"\ntoken = "slh_a_b"\n\n'
        '[[terminals]]\nurl = "tcp://127.0.0.1:9"\n', encoding="utf-8")
    return path


def _run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["agent", "referral", "--config", str(config), *args])
    return result.exit_code, result.output


def test_referral_cancel_and_repeats(tmp_path: Path, clock: ManualClock) -> None:
    config = _config(tmp_path)
    code, out = _run(config, "--product", "car_insurance_sale", "--id", "CS-1", "--note", "Sun")
    assert (code, out) == (0, "referral S9-PC-CS-1 (car_insurance_sale) recorded (seq 1); "
                              "the agent uploads it on its next round\n")
    clock.advance(60)  # past midnight: the default id takes the CST day of entry
    code, out = _run(config, "--product", "huinongtong")
    assert (code, out) == (0, "referral S9-PC-20261008-001 (huinongtong) recorded (seq 2); "
                              "the agent uploads it on its next round\n")
    assert _run(config, "--product", "car_insurance_sale", "--id", "CS-1") == (
        0, "referral S9-PC-CS-1 (car_insurance_sale) was already recorded (seq 1); "
           "nothing added\n")
    assert _run(config, "--cancel", "CS-1") == (
        0, "cancellation of referral S9-PC-CS-1 recorded (seq 3); the agent uploads it on its "
           "next round\n")
    assert _run(config, "--cancel", "CS-1")[1] == (
        "cancellation of referral S9-PC-CS-1 was already recorded (seq 3); nothing added\n")
    with Buffer.open(tmp_path / "data" / "buffer.sqlite", create=False) as buf:
        records = list(buf.records())
        rows = {t.txn_id: t.status for t in buf.transactions()}
    assert [(r.entry, r.product, r.account) for r in records] == [
        (Entry.REFERRAL, "car_insurance_sale", "Sun"), (Entry.REFERRAL, "huinongtong", ""),
        (Entry.CANCEL, "car_insurance_sale", "")]
    assert [r.wall_time for r in records] == [ENTERED, clock.now(), clock.now()]
    assert rows["S9-PC-CS-1"] == "reversed"


def test_referral_errors(tmp_path: Path) -> None:
    config = _config(tmp_path)
    code, out = _run(config)
    assert code == 2
    assert "give --product (a new referral) or --cancel ID" in out
    code, out = _run(config, "--product", "mobile")
    assert code == 2
    assert "'mobile' is not one of 'huinongtong'" in out
    code, out = _run(config, "--cancel", "nope")
    assert (code, out) == (8, "Error: no referral 'nope' in this buffer\n")
    code, out = _run(config, "--product", "finance_lead", "--id", "bad id")
    assert code == 8
    assert "referral id 'bad id'" in out
    _run(config, "--product", "finance_lead", "--id", "F1")
    code, out = _run(config, "--product", "huinongtong", "--id", "F1")
    assert code == 8
    assert "'F1' is already stored (seq 1, finance_lead, 0 fen)" in out
