"""``stationlink sim terminal`` / ``sim station``: real subprocesses, and exact CLI errors."""

from __future__ import annotations

import json
import random
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

import stationlink
from stationlink.cli.main import cli
from stationlink.errors import LinkFailedError
from stationlink.protocol import Dialect
from stationlink.transport import detect, parse_url
from stationlink.transport.tcp import TcpStream
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


#: a station file up to its first terminal's id (the rest of the terminal follows)
TERMINAL = 'station_id = "S"\ncard_key = "' + "ab" * 16 + '"\n[[terminals]]\nid = "T0000001"\n'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('station_id = "S"\ncard_key = "00"\nterminals = []\n',
         r"card_key: at least 16 bytes"),
        ('station_id = "S"\ncard_key = "' + "ab" * 16 + '"\nterminals = []\n',
         r"terminals: a station needs at least one terminal"),
        (TERMINAL + 'kind = "atm"\ndialect = "sl-2"\npty = true\n',
         r"terminals\[1\].kind: must be"),
        (TERMINAL + 'kind = "bill"\ndialect = "sl-2"\npty = true\nfaults = "noise=3"\n',
         r"terminals\[1\].faults: item 1 'noise=3'"),
        (TERMINAL + 'kind = "bill"\ndialect = "sl-2"\npty = true\nbaud = "fast"\n',
         r"terminals\[1\].baud: expected an integer"),
        (TERMINAL + 'kind = "bill"\ndialect = "sl-2"\npty = true\nclose_on_garbage = "no"\n',
         r"terminals\[1\].close_on_garbage: expected true or false"),
        (TERMINAL + 'kind = "bill"\ndialect = "sl-2"\n',
         r"terminals\[1\]: give exactly one of pty"),
        ('station_id = "S"\ncolour = 1\n', r"unknown key\(s\) colour"),
        ('station_id = "S"\nterminals = []\n', r"missing key card_key"),
        (TERMINAL + 'kind = "bill"\ndialect = "sl-2"\npty = true\ncolour = 1\n',
         r"terminals\[1\]: unknown key\(s\) colour"),
        (TERMINAL + 'kind = "bill"\npty = true\n', r"terminals\[1\]: missing key dialect"),
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


@pytest.mark.slow
@pytest.mark.parametrize("command", ["terminal", "station"])
def test_sigterm_right_after_the_first_line_stops_cleanly(tmp_path: Path, command: str) -> None:
    """The handlers are installed before the first line is printed: a script that signals as
    soon as it has read it gets exit 0 (a default SIGTERM would kill the process: -15)."""
    if command == "terminal":
        args = ["terminal", "--kind", "bill", "--dialect", "sl-2", "--listen",
                "tcp://127.0.0.1:0"]
    else:
        args = ["station", "--config", str(EXAMPLE / "station.toml")]
    for _ in range(3):
        proc = _start(*args)
        assert proc.stdout is not None
        first = proc.stdout.readline()
        code, err = _stop(proc)
        assert first.startswith(("pty ", "listening ")), err
        assert code == 0, err


def _one_stream_detect(url: str) -> object:
    """Both probes on one TCP stream (no reconnect), at 10:07:00 CST."""
    endpoint = parse_url(url)
    stream = TcpStream(socket.create_connection((endpoint.host, endpoint.port), timeout=5), url)
    try:
        found, _ = detect(stream, card_key=DEFAULT_KEY, clock=time.monotonic,
                          host_time=lambda: datetime(2026, 5, 31, 10, 7, 0,
                                                     tzinfo=timezone(timedelta(hours=8))),
                          probe_timeout=0.5)
        return found.dialect
    except LinkFailedError as exc:
        return str(exc)
    finally:
        stream.close()


@pytest.mark.slow
@pytest.mark.parametrize("lenient", [False, True], ids=["default-closes", "slide-over-garbage"])
def test_sim_terminal_closes_on_garbage_unless_told_to_slide(lenient: bool) -> None:
    """TCP terminals close the connection on bytes that do not frame (docs/protocol.md §1.2),
    so the sl-2 probe ends a one-stream detection at once; ``--slide-over-garbage`` emulates
    pre-rule firmware, which slides over the probe and answers the mispos-1 one behind it."""
    proc = _start("terminal", "--kind", "card", "--dialect", "mispos-1", "--listen",
                  "tcp://127.0.0.1:0", "--json", *(["--slide-over-garbage"] if lenient else []))
    try:
        assert proc.stdout is not None
        outcome = _one_stream_detect(json.loads(proc.stdout.readline())["url"])
    finally:
        code, err = _stop(proc)
    if lenient:
        assert outcome is Dialect.MISPOS_1
    else:
        assert outcome == "connection closed during detection (sl-2: connection closed)"
    assert code == 0, err


def test_station_file_close_on_garbage(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    head = 'station_id = "S"\ncard_key = "' + "ab" * 16 + '"\n'
    term = '[[terminals]]\nid = "{}"\nkind = "card"\ndialect = "mispos-1"\nlisten = "tcp://127.0.0.1:0"\n'
    path.write_text(head + term.format("T0000001") + term.format("T0000002")
                    + "close_on_garbage = false\n", encoding="utf-8")
    station = load_station(path)
    assert [t.close_on_garbage for t in station.terminals] == [True, False]
