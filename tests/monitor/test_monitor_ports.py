"""``stationlink ports``: the holder scan on a real pty, the listing with a fake and a real
``list_ports``, and the CLI's JSON shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from stationlink.cli.main import cli
from stationlink.monitor import ports as ports_module
from stationlink.monitor.holders import port_holders, scan_proc
from stationlink.monitor.ports import list_serial_ports

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")

HOLD = ("import os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)\n"
        "print('held', flush=True)\n"
        "sys.stdin.read()\n")


@pytest.fixture
def held_pty() -> Iterator[tuple[str, int]]:
    """A real pty whose terminal side only a child process holds: (path, child pid)."""
    master, slave = os.openpty()
    path = os.ttyname(slave)
    child = subprocess.Popen(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", HOLD, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"held\n"
        os.close(slave)  # now only the child holds it
        yield path, child.pid
    finally:
        child.communicate(timeout=10)
        os.close(master)


def test_the_scan_finds_the_process_holding_a_pty(held_pty: tuple[str, int]) -> None:
    path, pid = held_pty
    holders = scan_proc(path)
    assert holders.state == "in_use"
    assert [p for p, _ in holders.processes] == [pid]
    assert holders.processes[0][1].startswith("python")
    assert port_holders(path) == holders


def test_a_port_nobody_holds_is_free_and_a_missing_proc_is_unknown(tmp_path: Path) -> None:
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    try:
        assert scan_proc(path).state == "free"
    finally:
        os.close(master)
    assert scan_proc(path, proc_root=tmp_path / "absent").state == "unknown"


@dataclass
class FakePort:
    device: str
    description: str = "n/a"
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    manufacturer: str | None = None


def test_listing_with_a_fake_list_ports(held_pty: tuple[str, int]) -> None:
    path, pid = held_pty
    fake = [FakePort("COM3", "USB-SERIAL CH340 (COM3)", 0x1A86, 0x7523, None, "wch.cn"),
            FakePort(path, "FT232R USB UART", 0x0403, 0x6001, "A50285BI", "FTDI")]
    listed = list_serial_ports(comports=lambda: fake)
    assert [p.device for p in listed] == sorted(["COM3", path])
    by = {p.device: p for p in listed}
    assert by[path].usb_id == "0403:6001"
    assert by[path].serial_number == "A50285BI"
    assert by[path].holders.processes[0][0] == pid
    assert by["COM3"].usb_id == "1a86:7523"
    assert by["COM3"].holders.state in ("free", "unknown")  # no such device here


def test_the_real_list_ports_call_does_not_crash() -> None:
    for port in list_serial_ports(all_ptys=True):
        assert port.device
        assert port.holders.state in ("free", "in_use", "unknown")


def test_cli_json_shape(monkeypatch: pytest.MonkeyPatch, held_pty: tuple[str, int]) -> None:
    path, pid = held_pty
    monkeypatch.setattr(ports_module, "_comports", lambda: [FakePort(path, "FT232R", 0x0403,
                                                                     0x6001, "X1", "FTDI")])
    result = CliRunner().invoke(cli, ["ports", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc == {"ports": [{
        "device": path, "description": "FT232R", "usb_id": "0403:6001", "serial_number": "X1",
        "manufacturer": "FTDI", "holders": {"state": "in_use", "processes": [
            {"pid": pid, "name": doc["ports"][0]["holders"]["processes"][0]["name"]}]},
    }]}
    text = CliRunner().invoke(cli, ["ports", "--lang", "en"])
    assert text.exit_code == 0
    assert f"({pid})" in text.stdout
    assert "0403:6001" in text.stdout


def test_all_adds_ptys(held_pty: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = held_pty
    monkeypatch.setattr(ports_module, "_comports", list)
    plain = CliRunner().invoke(cli, ["ports", "--json"])
    assert json.loads(plain.stdout) == {"ports": []}
    every = CliRunner().invoke(cli, ["ports", "--json", "--all"])
    assert path in [p["device"] for p in json.loads(every.stdout)["ports"]]
    none = CliRunner().invoke(cli, ["ports"])
    assert "没有找到串口" in none.stdout
