"""A UART baud-rate mismatch on a pty: bytes become noise when host and terminal disagree.

Contract:
- :func:`line_baud` reads the speed the host set on the pty (on Linux the slave's termios,
  which pyserial sets on open, is what ``termios.tcgetattr`` on the master returns; checked
  by ``tests/diag/test_sim_uart.py``); ``None`` when the speed is not a known rate or the
  descriptor has no termios (not a tty).
- :class:`Mismatch` garbles bytes crossing a line whose two ends run at different rates,
  the way a real UART mismatch does: every byte is lost and in its place the receiver sees
  noise, about ``receiver_rate / sender_rate`` bytes for each byte sent (a faster receiver
  samples one slow byte as several, a slower one merges several fast bytes into one), at
  least one byte for every chunk. The noise comes from a seeded ``random.Random``, so a run
  is reproducible from its seed. At equal rates bytes pass untouched.
"""

from __future__ import annotations

import random
import termios

#: termios speed constant -> bits per second (every rate a host is likely to set).
_SPEEDS = {
    getattr(termios, f"B{rate}"): rate
    for rate in (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400)
    if hasattr(termios, f"B{rate}")
}


def line_baud(fd: int) -> int | None:
    """The output speed set on the tty behind ``fd`` (None: unknown or not a tty)."""
    try:
        attrs = termios.tcgetattr(fd)
    except (termios.error, OSError):
        return None
    return _SPEEDS.get(attrs[5])


class Mismatch:
    """Garble bytes between a terminal at ``terminal_baud`` and a host at another rate."""

    def __init__(self, terminal_baud: int, seed: int) -> None:
        if terminal_baud <= 0:
            raise ValueError("the terminal's baud rate must be positive")
        self.terminal_baud = terminal_baud
        self.rng = random.Random(f"{seed}:uart")
        self.garbled_in = 0  # bytes the host sent that the terminal could not read
        self.garbled_out = 0  # bytes the terminal sent that the host could not read

    def _noise(self, count: int, sender: int, receiver: int) -> bytes:
        n = max(1, round(count * receiver / sender))
        return bytes(self.rng.randrange(256) for _ in range(n))

    def inbound(self, data: bytes, host_baud: int | None) -> bytes:
        """What the terminal reads of ``data`` sent by a host at ``host_baud``."""
        if not data or host_baud is None or host_baud == self.terminal_baud:
            return data
        self.garbled_in += len(data)
        return self._noise(len(data), host_baud, self.terminal_baud)

    def outbound(self, data: bytes, host_baud: int | None) -> bytes:
        """What a host at ``host_baud`` reads of ``data`` sent by the terminal."""
        if not data or host_baud is None or host_baud == self.terminal_baud:
            return data
        self.garbled_out += len(data)
        return self._noise(len(data), self.terminal_baud, host_baud)
