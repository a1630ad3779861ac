"""The replayer: serves the terminal side of a capture to a host under test (I/O runner).

Contract:
- ``Replayer(capture, against=...)`` opens the terminal side and runs a
  :class:`~.engine.ReplayEngine` in a thread (``start()``). ``against``:
    ``None`` / ``pty``     serial captures: a new pseudo-terminal; the host opens :attr:`url`;
    ``tcp://HOST:PORT``     TCP captures: listen there (port 0: any free port; default
                            ``tcp://127.0.0.1:0``); the host connects to :attr:`url`;
    a serial port / URL     serial captures: a real port cabled to the host.
  A transport that does not match the capture's is a ``ConfigError``.
- ``result(timeout)`` waits until the replay finished (every step done, or the first
  divergence) and returns the :class:`~.report.ReplayResult`; on timeout it returns the
  result so far (``ok`` False). Host bytes arriving after the end of the capture, until
  ``stop()``, are a divergence too. ``stop()`` closes every descriptor and re-raises an I/O
  failure of the thread as :class:`~stationlink.errors.SimulatorError`.
- The thread waits in ``select`` for host bytes, connections and the engine's next deadline;
  it never busy-loops.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable
from pathlib import Path

from stationlink.capture import Capture, read_capture
from stationlink.errors import ConfigError
from stationlink.protocol import Transport
from stationlink.transport import parse_url

from ..ports import PtyPort, TcpPort
from .engine import Close, ReplayEngine, Write
from .hostend import HostEndThread, SerialSide
from .report import ReplayResult


class Replayer(HostEndThread):
    """Serve one capture's terminal side (see the module docstring)."""

    what = "replayer"

    def __init__(
        self,
        capture: Capture | str | Path,
        *,
        against: str | None = None,
        speed: float | None = None,
        stall_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__("stationlink-replayer")
        self.capture = capture if isinstance(capture, Capture) else read_capture(capture)
        self.engine = ReplayEngine(self.capture, speed=speed, stall_timeout=stall_timeout)
        self.clock = clock
        self._finished = threading.Event()
        self._lock = threading.Lock()
        transport = self.capture.header.transport
        if transport is Transport.TCP:
            target = against or "tcp://127.0.0.1:0"
            endpoint = parse_url(target)
            if endpoint.kind is not Transport.TCP:
                raise ConfigError(
                    f"--against: {self.capture.path} was recorded over TCP; give "
                    f"tcp://HOST:PORT to listen on, not {target!r}"
                )
            self._listener = TcpPort(endpoint.host, endpoint.port)
        elif against is None or against == "pty":
            self._pty = PtyPort()
        else:
            if parse_url(against).kind is Transport.TCP:
                raise ConfigError(
                    f"--against: {self.capture.path} was recorded on a serial line; give a "
                    f"serial port or 'pty', not {against!r}"
                )
            self._host_serial = SerialSide(against)
        self._wake_r, self._wake_w = os.pipe()

    @property
    def url(self) -> str:
        """Where the host under test connects: pty path, listen address or serial port."""
        return self.host_url

    # ---------------------------------------------------------------- control

    @property
    def finished(self) -> bool:
        """Every step done, or diverged (or the thread stopped)."""
        return self._finished.is_set()

    def result(self, timeout: float | None = None) -> ReplayResult:
        self._finished.wait(timeout)
        with self._lock:
            return self.engine.result()

    def stop(self, timeout: float = 5.0) -> ReplayResult:
        self._halt(timeout)
        self._close_host()
        self._close_wake()
        self._raise_error()
        with self._lock:
            return self.engine.result()

    # ------------------------------------------------------------------- loop

    def run(self) -> None:
        try:
            super().run()
        finally:
            self._finished.set()

    def _step(self) -> None:
        deadline = self.engine.next_deadline()
        timeout = 0.5 if deadline is None else max(0.0, min(0.5, deadline - self.clock()))
        readable, _, _ = select.select(self._host_fds(), [], [], timeout)
        with self._lock:
            for fd in readable:
                if fd == self._wake_r:
                    continue
                self._readable(fd)
            self._act()
            if self.engine.finished:
                self._finished.set()

    def _readable(self, fd: int) -> None:
        now = self.clock()
        if self._listener is not None and self._listener.is_listener(fd):
            if self._listener.accept():
                self.engine.opened(now)
            return
        data = self._host_read(fd)
        if data is None:
            self.engine.closed(now)
        elif data:
            self.engine.receive(data, now)

    def _act(self) -> None:
        for action in self.engine.poll(self.clock()):
            if isinstance(action, Write):
                self._write(action.data)
            elif isinstance(action, Close) and self._listener is not None:
                self._listener.drop_client()

    def _write(self, data: bytes) -> None:
        if not self._host_write(data):
            self.engine.closed(self.clock())


__all__ = ["Replayer"]
