"""The I/O loop of one emulated terminal: pumps bytes between a port and its session.

Contract:
- :class:`TerminalRunner` is a thread that owns one :class:`~.ports.PtyPort` or
  :class:`~.ports.TcpPort` and one :class:`~.session.TerminalSession`. It waits in
  ``select`` (never busy-loops) for input, for the next link timer, for the next chunk due
  (fault delays) and for the pacer (``baud``: bytes leave no faster than ``baud / 10`` a
  second), and ticks the session at least every ``TICK`` seconds for time-of-day events.
- TCP: an accepted connection gets a fresh link (``session.connection_made``); a closed or
  reset one is reported (``connection_lost``); a ``disconnect`` / ``power_cycle`` event
  closes it from our side, and connections arriving while the terminal boots (``outage``)
  are closed at once. So do bytes that do not frame when the session has
  ``close_on_garbage`` (the default; docs/protocol.md §1.2: TCP cannot resynchronise).
- A pty terminal with a ``baud`` checks the speed the host set on the line
  (:func:`.uart.line_baud`) on every read and write; when it differs, what crosses the line
  becomes noise (:class:`.uart.Mismatch`, seeded by ``seed``), as on a real cable.
- ``request_event(name)`` (any thread; the control socket, :mod:`.control`) has the loop
  apply a fault event such as ``power_cycle`` on its own thread at its next step; the
  returned ``threading.Event`` is set once it is applied.
- ``stop()`` wakes the loop through a pipe, joins the thread and closes every descriptor
  (port and pipe). An exception inside the loop stops it and is re-raised by ``stop()`` as
  :class:`~stationlink.errors.SimulatorError` (also kept in ``error``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from collections import deque

from stationlink.errors import SimulatorError

from .inject import Chunk
from .pacing import Pacer
from .ports import Port, PtyPort, TcpPort
from .session import TerminalSession
from .uart import Mismatch, line_baud

TICK = 0.1
log = logging.getLogger("stationlink_sim.runner")


class TerminalRunner(threading.Thread):
    """Serve one session on one port in a background thread."""

    def __init__(
        self, session: TerminalSession, port: Port, *, baud: int | None = None, seed: int = 0
    ) -> None:
        super().__init__(name=f"terminal-{session.name}", daemon=True)
        self.session = session
        self.port = port
        self.pacer = Pacer(baud)
        self.uart = Mismatch(baud, seed) if baud and isinstance(port, PtyPort) else None
        self.error: BaseException | None = None
        self._stop_flag = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._current: bytes = b""  # remainder of the chunk being written
        self._due = 0.0  # when the head chunk may start
        self._blocked = False  # the port refused bytes: wait for writability
        self._last_write = 0.0
        self.bytes_in = 0
        self.bytes_out = 0
        self._requested: deque[tuple[str, threading.Event]] = deque()

    def request_event(self, name: str) -> threading.Event:
        """Have the loop apply event ``name`` (e.g. ``power_cycle``) at its next step."""
        if not self.is_alive():
            raise SimulatorError(f"terminal {self.session.name} is not running")
        done = threading.Event()
        self._requested.append((name, done))
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"e")
        return done

    # -------------------------------------------------------------------- control

    def stop(self, timeout: float = 5.0) -> None:
        self._stop_flag.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self.is_alive():
            self.join(timeout)
        self._close()
        if self.error is not None:
            raise SimulatorError(f"terminal {self.session.name} failed: {self.error}") from (
                self.error
            )

    def _close(self) -> None:
        self.port.close()
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._wake_r = self._wake_w = -1

    # ----------------------------------------------------------------------- loop

    def run(self) -> None:
        try:
            while not self._stop_flag.is_set():
                self._step()
        except Exception as exc:  # noqa: BLE001 - kept and re-raised by stop()
            log.exception("terminal %s stopped", self.session.name)
            self.error = exc

    def _head_due(self, head: Chunk) -> float:
        return max(self._last_write, head.queued_at) + head.delay

    def _next_write_time(self, now: float) -> float | None:
        if self._blocked:
            return None
        if self._current:
            return self.pacer.next_ready(now)
        if self.session.outbox:
            return max(self._head_due(self.session.outbox[0]), self.pacer.next_ready(now))
        return None

    def _step(self) -> None:
        now = time.monotonic()
        timeout = TICK
        wake_at = [t for t in (self.session.next_deadline(), self._next_write_time(now)) if t]
        if wake_at:
            timeout = max(0.0, min(timeout, min(wake_at) - now))
        rfds = [self._wake_r, *self.port.read_fds()]
        wfd = self.port.write_fd()
        wfds = [wfd] if wfd is not None and self._blocked else []
        readable, writable, _ = select.select(rfds, wfds, [], timeout)
        if writable:
            self._blocked = False
        for fd in readable:
            if fd == self._wake_r:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 64)
            elif isinstance(self.port, TcpPort) and self.port.is_listener(fd):
                if not self.port.accept():
                    continue
                if self.session.line_dead(time.monotonic()):  # still booting: refuse
                    log.info("terminal %s: connection refused while booting", self.session.name)
                    self.port.drop_client()
                    continue
                log.info("terminal %s: host connected", self.session.name)
                self._reset_output()
                self.session.connection_made()
            else:
                self._read(fd)
        while self._requested:
            name, done = self._requested.popleft()
            self.session.apply_event(name)
            done.set()
        self.session.tick()
        if self.session.wants_disconnect and isinstance(self.port, TcpPort):
            self.session.wants_disconnect = False
            if self.port.connected:
                garbage = self.session.close_on_garbage and self.session.conn.broken
                self._lost("closed on bytes that do not frame" if garbage
                           else "closed by fault event")
        self._write()

    def _read(self, fd: int) -> None:
        data = self.port.read(fd)
        if data is None:
            self._lost("closed by the host")
        elif data:
            self.bytes_in += len(data)
            self.session.receive(self._line(data, inbound=True))

    def _line(self, data: bytes, *, inbound: bool) -> bytes:
        """``data`` as the other end reads it: noise when the host's baud differs."""
        if self.uart is None or not isinstance(self.port, PtyPort):
            return data
        host = line_baud(self.port.master)
        return self.uart.inbound(data, host) if inbound else self.uart.outbound(data, host)

    def _lost(self, why: str) -> None:
        log.info("terminal %s: connection %s", self.session.name, why)
        self.port.drop_client()
        self.session.connection_lost()
        self._reset_output()

    def _reset_output(self) -> None:
        self._current = b""
        self._blocked = False
        self.pacer.reset()

    def _write(self) -> None:
        while True:
            now = time.monotonic()
            if not self._current:
                if not self.session.outbox:
                    return
                head = self.session.outbox[0]
                if now < self._head_due(head):
                    return
                self.session.outbox.popleft()
                self._current = head.data
            allowance = self.pacer.allowance(now)
            if allowance == 0:
                return
            piece = self._current[:allowance]
            out = self._line(piece, inbound=False)
            n = self.port.write(out)
            if n > 0 and out is not piece:
                n = len(piece)  # the noise stood for the whole piece
            if n < 0:
                self._lost("reset by the host")
                return
            if n == 0:
                self._blocked = True  # the port is full: select for writability
                return
            self.pacer.sent(n, now)
            self.bytes_out += n
            self._current = self._current[n:]
            self._last_write = time.monotonic()
