"""``stationlink sim terminal`` / ``sim station``: real subprocesses, and exact CLI errors."""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import stationlink
from stationlink.cli.main import cli
from stationlink_sim.station import load_station

EXAMPLE = Path(__file__).resolve().parents[2] / "simulator" / "stationlink_sim" / "examples"
CLI = [sys.executable, "-c", "from stationlink.cli.main import main; main()"]
DEFAULT_KEY = b"stationlink-sim-card-key"


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "sim", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, err


@pytest.mark.slow
def test_sim_terminal_pty_prints_its_path_and_answers_identify() -> None:
    proc = _start("terminal", "--kind", "card", "--dialect", "mispos-1", "--pty",
                  "--seed", "5", "--terminal-id", "CLI00001")
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        kind, path = first.split(" ", 1)
        assert kind == "pty"
        assert path.startswith("/dev/")
        with stationlink.connect(f"serial://{path}", card_key=DEFAULT_KEY,
                                 rng=random.Random(1)) as host:
            info = host.identify()
    finally:
        code, err = _stop(proc)
    assert info.terminal_id == "CLI00001"
    assert info.dialect.value == "mispos-1"
    assert code == 0, err


@pytest.mark.slow
def test_sim_terminal_listen_json_form() -> None:
    proc = _start("terminal", "--kind", "bill", "--dialect", "sl-2", "--listen",
                  "tcp://127.0.0.1:0", "--json")
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        with stationlink.connect(info["url"], card_key=DEFAULT_KEY, dialect="sl-2",
                                 rng=random.Random(1)) as host:
            status = host.device_status()
    finally:
        code, _ = _stop(proc)
    assert info["listen"] == info["url"]
    assert info["url"].startswith("tcp://127.0.0.1:")
    assert info["kind"] == "bill"
    assert status.paper_ok
    assert code == 0


@pytest.mark.slow
def test_sim_station_brings_up_every_terminal() -> None:
    proc = _start("station", "--config", str(EXAMPLE / "station.toml"), "--json")
    try:
        assert proc.stdout is not None
        lines = [json.loads(proc.stdout.readline()) for _ in range(2)]
        key = load_station(EXAMPLE / "station.toml").card_key
        answers = []
        for line in lines:
            with stationlink.connect(line["url"], card_key=key, dialect=line["dialect"],
                                     rng=random.Random(1)) as host:
                answers.append(host.identify().terminal_id)
    finally:
        code, err = _stop(proc)
    assert answers == [line["terminal_id"] for line in lines] == ["LL000701", "LL000702"]
    assert {line["station_id"] for line in lines} == {"DZ-LL-0007"}
    assert code == 0, err


def test_cli_refuses_serial_faults_on_tcp() -> None:
    result = CliRunner().invoke(cli, [
        "sim", "terminal", "--kind", "bill", "--dialect", "sl-2",
        "--listen", "tcp://127.0.0.1:0", "--faults", "noise=0.1",
    ])
    assert result.exit_code == 2
    assert result.output == (
        "Error: sim terminal: faults noise act on serial lines only (TCP does not corrupt "
        "bytes); serve on a pty to use them\n"
    )


def test_cli_names_the_bad_fault_item() -> None:
    result = CliRunner().invoke(cli, [
        "sim", "terminal", "--kind", "card", "--dialect", "sl-2", "--pty",
        "--faults", "noise=0.1,power_cycle@7:99",
    ])
    assert result.exit_code == 2
    assert result.output == (
        "Error: --faults: item 2 'power_cycle@7:99' (character 11): time of day must be "
        "HH:MM between 00:00 and 23:59\n"
    )


def test_cli_needs_pty_or_listen() -> None:
    result = CliRunner().invoke(cli, ["sim", "terminal", "--kind", "card", "--dialect", "sl-2"])
    assert result.exit_code == 2
    assert result.output == "Error: give exactly one of --pty or --listen tcp://HOST:PORT\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('station_id = "S"\ncard_key = "00"\nterminals = []\n',
         r"card_key: at least 16 bytes"),
        ('station_id = "S"\ncard_key = "' + "ab" * 16 + '"\nterminals = []\n',
         r"terminals: a station needs at least one terminal"),
        ('station_id = "S"\ncard_key = "' + "ab" * 16 + '"\n[[terminals]]\nid = "T0000001"\n'
         'kind = "atm"\ndialect = "sl-2"\npty = true\n', r"terminals\[1\].kind: must be"),
        ('station_id = "S"\ncard_key = "' + "ab" * 16 + '"\n[[terminals]]\nid = "T0000001"\n'
         'kind = "bill"\ndialect = "sl-2"\npty = true\nfaults = "noise=3"\n',
         r"terminals\[1\].faults: item 1 'noise=3'"),
        ('station_id = "S"\ncard_key = "' + "ab" * 16 + '"\n[[terminals]]\nid = "T0000001"\n'
         'kind = "bill"\ndialect = "sl-2"\npty = true\nbaud = "fast"\n',
         r"terminals\[1\].baud: expected an integer"),
        ('station_id = "S"\ncard_key = "' + "ab" * 16 + '"\n[[terminals]]\nid = "T0000001"\n'
         'kind = "bill"\ndialect = "sl-2"\n', r"terminals\[1\]: give exactly one of pty"),
        ('station_id = "S"\ncolour = 1\n', r"unknown key\(s\) colour"),
        ('station_id = "S\n', r"not valid TOML: .*line 1"),
    ],
)
def test_station_file_errors_name_the_key(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "station.toml"
    path.write_text(body, encoding="utf-8")
    result = CliRunner().invoke(cli, ["sim", "station", "--config", str(path)])
    assert result.exit_code == 2
    assert str(path) in result.output
    assert re.search(message, result.output), result.output


def test_example_station_loads_with_derived_seeds() -> None:
    station = load_station(EXAMPLE / "station.toml")
    seeds = [t.seed for t in station.terminals]
    assert seeds == [7 * 1000 + 1, 42]
    assert [t.transport.value for t in station.terminals] == ["serial", "tcp"]
