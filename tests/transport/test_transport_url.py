"""Connection URL parsing."""

from __future__ import annotations

import pytest

from stationlink.errors import ConfigError
from stationlink.protocol import Transport
from stationlink.transport.url import parse_url


def test_tcp_url() -> None:
    ep = parse_url("tcp://192.168.1.20:7001?connect_timeout=2.5")
    assert (ep.kind, ep.host, ep.port, ep.connect_timeout) == (
        Transport.TCP, "192.168.1.20", 7001, 2.5)
    assert ep.byte_time == 0.0


@pytest.mark.parametrize(("url", "target"), [
    ("serial:///dev/ttyUSB0?baud=115200", "/dev/ttyUSB0"),
    ("serial://COM3?baud=115200", "COM3"),
])
def test_serial_url_with_settings(url: str, target: str) -> None:
    ep = parse_url(url)
    assert (ep.kind, ep.target, ep.baudrate) == (Transport.SERIAL, target, 115200)
    assert ep.byte_time == pytest.approx(10 / 115200)


def test_parity_adds_a_bit() -> None:
    ep = parse_url("serial:///dev/ttyS0?baud=9600&parity=e&stopbits=2")
    assert ep.bits_per_byte == 12
    assert ep.parity == "E"


@pytest.mark.parametrize("url", ["/dev/ttyUSB0", "COM3", "loop://", "socket://10.0.0.5:4001",
                                 "rfc2217://10.0.0.5:2217?ign_set_control"])
def test_pyserial_forms_pass_through(url: str) -> None:
    ep = parse_url(url, baudrate=19200)
    assert (ep.kind, ep.target, ep.baudrate) == (Transport.SERIAL, url, 19200)


@pytest.mark.parametrize(("url", "message"), [
    ("tcp://host", "tcp://HOST:PORT"),
    ("tcp://host:99999", "bad port"),
    ("tcp://h:1?x=1", "unknown option"),
    ("serial:///dev/ttyS0?baud=fast", "baud='fast' is not a number"),
    ("serial:///dev/ttyS0?baud=0", "must be positive"),
    ("serial:///dev/ttyS0?parity=Q", "parity"),
    ("serial://", "needs a port"),
    ("http://x", "unknown scheme 'http'"),
    ("", "empty"),
])
def test_bad_urls_name_the_problem(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_url(url)
