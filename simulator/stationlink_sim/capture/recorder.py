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
  framing or TCP framing); a contradiction is a ``ConfigError``.
- TCP connections are recorded as events: ``h2t open`` when a host connects, ``h2t close``
  / ``t2h close`` when a side closes (the recorder then closes the other side, as a cable
  pull would). A terminal that refuses the connection gives ``open`` then ``t2h close``.
- Runs in a thread (``start()``); ``stop()`` closes every descriptor, finishes the capture
  and returns its :class:`~stationlink.capture.Trailer`. An I/O failure stops the thread; ``stop()``
  re-raises it as :class:`~stationlink.errors.SimulatorError` (the capture is still closed
  with everything read so far).
- ``clock`` (monotonic seconds) and ``wall`` (aware start time) are injectable.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from stationlink.capture import H2T, T2H, Trailer
from stationlink.errors import ConfigError
from stationlink.money import CST
from stationlink.protocol import Dialect, Transport
from stationlink.transport import parse_url

from ..ports import PtyPort, TcpPort
from .hostend import HostEndThread, SerialSide, send_all
from .writer import SessionWriter

log = logging.getLogger("stationlink_sim.capture")


def _kind(url: str) -> Transport:
    return Transport.TCP if url.startswith("tcp://") else Transport.SERIAL


def _host_port(url: str, what: str) -> tuple[str, int]:
    endpoint = parse_url(url)
    if endpoint.kind is not Transport.TCP:
        raise ConfigError(f"{what}: expected tcp://HOST:PORT, not {url!r}")
    return endpoint.host, endpoint.port


class Recorder(HostEndThread):
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
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(CST),
    ) -> None:
        super().__init__("stationlink-recorder")
        host_kind = Transport.SERIAL if host_side == "pty" else _kind(host_side)
        self.transport = _kind(terminal_side)
        if host_kind is not self.transport:
            raise ConfigError(
                f"--between: host side {host_side!r} is {host_kind} but terminal side "
                f"{terminal_side!r} is {self.transport}; both must be serial or both tcp"
            )
        self.clock = clock
        self._wake_r, self._wake_w = os.pipe()
        self._term_serial: SerialSide | None = None
        self._term_sock: socket.socket | None = None
        self._term_addr: tuple[str, int] | None = None
        self.trailer: Trailer | None = None
        try:
            if host_side == "pty":
                self._pty = PtyPort()
            elif host_kind is Transport.TCP:
                self._listener = TcpPort(*_host_port(host_side, "host side"))
            else:
                self._host_serial = SerialSide(host_side)
            if self.transport is Transport.TCP:
                self._term_addr = _host_port(terminal_side, "terminal side")
            else:
                self._term_serial = SerialSide(terminal_side)
        except BaseException:
            self._close_ports()
            raise
        self.writer = SessionWriter(
            out, transport=self.transport,
            ports={"host": host_side, "terminal": terminal_side}, started=wall(),
            dialect=dialect, redaction_key=redaction_key, meta=meta,
        )
        self._t0 = clock()

    def _t(self) -> float:
        return max(0.0, self.clock() - self._t0)

    # --------------------------------------------------------------- control

    def stop(self, timeout: float = 5.0) -> Trailer:
        self._halt(timeout)
        self._close_ports()
        self._close_wake()
        if self.trailer is None:
            self.trailer = self.writer.close(self._t())
        self._raise_error()
        return self.trailer

    def _close_ports(self) -> None:
        self._close_host()
        if self._term_serial is not None:
            self._term_serial.close()
        self._drop_terminal()

    # ------------------------------------------------------------------ loop

    def _fds(self) -> list[int]:
        fds = self._host_fds()
        if self._term_serial is not None:
            fds.append(self._term_serial.fd)
        if self._term_sock is not None:
            fds.append(self._term_sock.fileno())
        return fds

    def _step(self) -> None:
        readable, _, _ = select.select(self._fds(), [], [], 0.2)
        for fd in readable:
            if fd == self._wake_r:
                continue
            if self._listener is not None and self._listener.is_listener(fd):
                self._accept()
            elif self._term_sock is not None and fd == self._term_sock.fileno():
                self._from_terminal_sock()
            elif self._term_serial is not None and fd == self._term_serial.fd:
                self._forward(T2H, self._term_serial.read())
            else:
                self._from_host(fd)

    # ---------------------------------------------------------------- host side

    def _from_host(self, fd: int) -> None:
        data = self._host_read(fd)
        if data is None:  # the TCP host closed: so does our connection to the terminal
            self.writer.event(self._t(), H2T, "close")
            self._drop_terminal()
        elif data:
            self._forward(H2T, data)

    def _accept(self) -> None:
        assert self._listener is not None  # noqa: S101 - only called for a listener
        had_client = self._listener.connected
        if not self._listener.accept():
            return
        if had_client:  # a new connection replaces the old one
            self.writer.event(self._t(), H2T, "close")
            self._drop_terminal()
        self.writer.event(self._t(), H2T, "open")
        assert self._term_addr is not None  # noqa: S101 - TCP both sides
        try:
            sock = socket.create_connection(self._term_addr, timeout=5.0)
        except OSError as exc:
            log.info("recorder: terminal refused the connection: %s", exc)
            self.writer.event(self._t(), T2H, "close")
            self._listener.drop_client()
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._term_sock = sock

    # ------------------------------------------------------------ terminal side

    def _from_terminal_sock(self) -> None:
        assert self._term_sock is not None  # noqa: S101 - caller checked
        try:
            data = self._term_sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            self._forward(T2H, data)
            return
        self.writer.event(self._t(), T2H, "close")
        self._drop_terminal()
        if self._listener is not None:
            self._listener.drop_client()

    def _drop_terminal(self) -> None:
        if self._term_sock is not None:
            with contextlib.suppress(OSError):
                self._term_sock.close()
            self._term_sock = None

    # ------------------------------------------------------------- forwarding

    def _forward(self, direction: str, data: bytes) -> None:
        if not data:
            return
        t = self._t()
        if direction == H2T:
            self._to_terminal(data)
        else:
            self._to_host(data)
        self.writer.chunk(t, direction, data)

    def _to_terminal(self, data: bytes) -> None:
        if self._term_serial is not None:
            self._term_serial.write(data)
        elif self._term_sock is not None:
            sock = self._term_sock
            if not send_all(sock.fileno(), _sock_writer(sock), data):
                self.writer.event(self._t(), T2H, "close")
                self._drop_terminal()
                if self._listener is not None:
                    self._listener.drop_client()

    def _to_host(self, data: bytes) -> None:
        if not self._host_write(data):  # the TCP host is gone
            self.writer.event(self._t(), H2T, "close")
            self._drop_terminal()


def _sock_writer(sock: socket.socket) -> Callable[[bytes], int]:
    def write(data: bytes) -> int:
        try:
            return sock.send(data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            return -1

    return write


__all__ = ["Recorder"]
