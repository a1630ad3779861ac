"""The recorder: a byte forwarder between a host and a terminal that writes a capture.

Contract:
- ``Recorder(host_side, terminal_side, out)`` forwards every byte unchanged in both
  directions and hands each read (a *chunk*) to a :class:`~.writer.SessionWriter`, which
  redacts card numbers and writes the capture. Forwarding happens before writing, so the
  capture never delays the line.
- ``host_side`` (URL_A, the side the host opens):
    ``pty``                 a new pseudo-terminal pair; the host opens :attr:`host_url`
                            (``serial:///dev/pts/N``);
    ``tcp://HOST:PORT``     a TCP listen address (port 0: any free port); each host
                            connection gets its own connection to the terminal;
    a serial port / URL     a real port the host is cabled to (``/dev/ttyUSB0``, ...).
  ``terminal_side`` (URL_B): a serial port / pyserial URL (``serial:///dev/ttyS1?baud=9600``),
  or ``tcp://HOST:PORT`` to connect to. Both sides must use the same transport kind (serial
  framing or TCP framing); a contradiction is a ``ConfigError`` (and no capture file is made).
- TCP connections are recorded as events: ``h2t open`` when a host connects, ``h2t close``
  / ``t2h close`` when a side closes (the recorder then closes the other side, as a cable
  pull would). A terminal that refuses the connection gives ``open`` then ``t2h close``.
- Runs in a thread (``start()``); ``stop()`` closes every descriptor, finishes the capture
  and returns its :class:`~stationlink.capture.Trailer`. An I/O failure stops the thread; ``stop()``
  re-raises it as :class:`~stationlink.errors.SimulatorError` (the capture is still closed
  with everything read so far).
- ``clock`` (monotonic seconds) and ``wall`` (aware start time) are injectable.
- Built on the SDK's :class:`stationlink.monitor.tap.Tap` (the one byte forwarder, also
  ``stationlink monitor --tap``'s): the tap owns the ports, the forwarding, the connection
  events, the thread and the times; this module only wires what the tap reports to the
  writer.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from stationlink.capture import Trailer
from stationlink.clock import MonotonicClock, WallClock
from stationlink.errors import SimulatorError, StationLinkError
from stationlink.money import CST
from stationlink.monitor.tap import Tap
from stationlink.protocol import Dialect, Transport

from .writer import SessionWriter


class Recorder:
    """Forward and record one host-terminal link (see the module docstring)."""

    what = "recorder"

    def __init__(
        self,
        host_side: str,
        terminal_side: str,
        out: str | Path,
        *,
        dialect: Dialect | None = None,
        redaction_key: bytes | None = None,
        meta: dict[str, Any] | None = None,
        clock: MonotonicClock = time.monotonic,
        wall: WallClock = lambda: datetime.now(CST),
    ) -> None:
        self.tap = Tap(host_side, terminal_side, self._chunk, self._event,
                       clock=clock, wall=wall, name="--between")
        self.trailer: Trailer | None = None
        try:
            self.writer = SessionWriter(
                out, transport=self.tap.transport,
                ports={"host": host_side, "terminal": terminal_side}, started=self.tap.started,
                dialect=dialect, redaction_key=redaction_key, meta=meta,
            )
        except BaseException:
            self.tap.close()
            raise

    @property
    def host_url(self) -> str:
        """What the host opens: the pty path, the listen address or the serial port."""
        return self.tap.host_url

    @property
    def transport(self) -> Transport:
        return self.tap.transport

    @property
    def error(self) -> BaseException | None:
        """The I/O failure that stopped the thread, if any."""
        return self.tap.error

    def _chunk(self, direction: str, data: bytes, t: float) -> None:
        self.writer.chunk(t, direction, data)

    def _event(self, direction: str, name: str, t: float) -> None:
        self.writer.event(t, direction, name)

    # --------------------------------------------------------------- control

    def start(self) -> None:
        self.tap.start()

    def is_alive(self) -> bool:
        return self.tap.is_alive()

    def stop(self, timeout: float = 5.0) -> Trailer:
        failed = False
        try:
            self.tap.stop(timeout)
        except StationLinkError:
            failed = True
        if self.trailer is None:
            self.trailer = self.writer.close(self.tap.t())
        if failed:
            raise SimulatorError(f"{self.what} failed: {self.error}") from self.error
        return self.trailer


__all__ = ["Recorder"]
