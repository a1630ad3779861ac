"""The simulator's baud-rate mismatch: a pty terminal garbles a host at another rate."""

from __future__ import annotations

import os
import tty

import pytest
import serial

from stationlink.client import connect
from stationlink.errors import LinkError
from stationlink_sim.serve import DEFAULT_CARD_KEY, serve_terminal
from stationlink_sim.uart import Mismatch, line_baud


def test_the_master_sees_the_speed_the_host_set_on_the_slave() -> None:
    master, slave = os.openpty()
    try:
        tty.setraw(slave)
        with serial.Serial(os.ttyname(slave), baudrate=19200) as host:
            assert line_baud(master) == 19200
            host.baudrate = 57600
            assert line_baud(master) == 57600
    finally:
        os.close(master)
        os.close(slave)


def test_line_baud_of_a_descriptor_that_is_no_tty_is_none() -> None:
    r, w = os.pipe()
    try:
        assert line_baud(r) is None
    finally:
        os.close(r)
        os.close(w)


def test_a_mismatch_turns_bytes_into_noise_scaled_by_the_rates() -> None:
    uart = Mismatch(9600, seed=1)
    data = bytes(range(100))
    assert uart.inbound(data, 9600) == data  # same rate: untouched
    assert uart.inbound(data, None) == data  # unknown rate: untouched
    slow_host = uart.inbound(data, 2400)  # a slow byte spans four terminal bytes
    fast_host = uart.outbound(data, 115200)  # the host samples each slow byte 12 times
    assert len(slow_host) == 400
    assert len(fast_host) == 1200
    assert data not in slow_host
    assert (uart.garbled_in, uart.garbled_out) == (100, 100)
    assert Mismatch(9600, seed=1).inbound(data, 2400) == slow_host  # seeded


@pytest.mark.slow
def test_a_terminal_answers_only_at_its_own_rate() -> None:
    with serve_terminal("bill", "sl-2", pty=True, baud=19200) as t:
        assert t.path is not None
        with connect(f"serial://{t.path}?baud=9600", card_key=DEFAULT_CARD_KEY,
                     dialect="sl-2", t2_other=1.0) as wrong, pytest.raises(LinkError):
            wrong.identify()
        with connect(f"serial://{t.path}?baud=19200", card_key=DEFAULT_CARD_KEY,
                     dialect="sl-2") as term:
            assert term.identify().terminal_id == t.config.terminal_id
        assert t.runner.uart is not None
        assert t.runner.uart.garbled_in > 0
