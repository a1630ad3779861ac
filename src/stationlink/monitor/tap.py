"""A pass-through tap between the PC software and a terminal: bytes forwarded unchanged, and seen.

Contract:
- ``Tap(host_side, terminal_side, on_bytes, on_event)`` forwards every byte read from one
  side to the other, unchanged and at once (written before anything else is done with it),
  then calls ``on_bytes(direction, data)``; it never writes a byte of its own to either side.
  ``direction`` is ``"h2t"`` (PC→terminal) or ``"t2h"``.
- ``host_side`` (what the PC software opens): ``pty`` (a new pseudo-terminal; the PC opens
  :attr:`host_url`), a serial port or pyserial URL the PC is cabled to (``/dev/ttyUSB0``,
  ``COM3``, ``serial:///dev/ttyS1?baud=9600``), or ``tcp://HOST:PORT`` to listen on (port 0:
  any free port). ``terminal_side``: a serial port / URL, or ``tcp://HOST:PORT`` to connect
  to. Both sides serial or both TCP, else :class:`~stationlink.errors.ConfigError`.
- TCP: each PC connection gets its own connection to the terminal, made when the PC connects
  (``on_event("h2t", "open")``); when one side closes, the other is closed as a cable pull
  would (``on_event(direction, "close")``). A refused terminal connection closes the PC's.
- ``run(stop)`` loops until the ``threading.Event`` is set, calling ``on_idle()`` every
  ``idle`` seconds of silence (0.5 s: the serial receive idle timer); ``close()`` releases
  every descriptor. Failures to open are :class:`~stationlink.errors.TransportError` /
  ``ConfigError``; a side that vanishes while running ends ``run`` with
  :class:`~stationlink.errors.StreamClosedError`.
- POSIX for serial sides and ``pty`` (a port must have a file descriptor to wait on; on
  Windows a serial side is a ``ConfigError``); TCP works everywhere.
- Implemented on :mod:`stationlink.transport` (pyserial streams) and plain sockets: the
  simulator's recorder (``stationlink record``) does the same job but the SDK may not import
  the simulator (``tests/meta/test_meta_layout.py``).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
from collections.abc import Callable

from ..errors import ConfigError, StationLinkError, StreamClosedError, TransportError
from ..protocol import Transport
from ..transport import SerialStream, open_serial, parse_url

READ_SIZE = 65536
WRITE_TIMEOUT = 5.0


def _kind(url: str) -> Transport:
    return Transport.TCP if url.startswith("tcp://") else Transport.SERIAL


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    deadline = time.monotonic() + WRITE_TIMEOUT
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            n = 0
        view = view[n:]
        if view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransportError(f"write blocked for {WRITE_TIMEOUT} s")
            select.select([], [fd], [], left)


class Tap:
    """Forward one PC–terminal link unchanged and report what passes (see the docstring)."""

    def __init__(self, host_side: str, terminal_side: str,
                 on_bytes: Callable[[str, bytes], None],
                 on_event: Callable[[str, str], None] = lambda d, e: None,
                 on_idle: Callable[[], None] = lambda: None, idle: float = 0.5) -> None:
        host_kind = Transport.SERIAL if host_side == "pty" else _kind(host_side)
        self.transport = _kind(terminal_side)
        if host_kind is not self.transport:
            raise ConfigError(f"--tap: {host_side!r} is {host_kind} but {terminal_side!r} is "
                              f"{self.transport}; both must be serial or both tcp")
        self.on_bytes, self.on_event, self.on_idle, self.idle = on_bytes, on_event, on_idle, idle
        self._pty: tuple[int, int] | None = None
        self._host_serial: SerialStream | None = None
        self._term_serial: SerialStream | None = None
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self._term_sock: socket.socket | None = None
        self._term_addr: tuple[str, int] | None = None
        self.host_url = host_side
        try:
            if host_side == "pty":
                import tty  # POSIX only (termios): imported where a pty is asked for

                master, slave = os.openpty()
                self._pty = (master, slave)
                tty.setraw(slave)
                os.set_blocking(master, False)
                self.host_url = f"serial://{os.ttyname(slave)}"
            elif host_kind is Transport.TCP:
                ep = parse_url(host_side)
                self._listener = socket.create_server((ep.host, ep.port))
                host, port = self._listener.getsockname()[:2]
                self.host_url = f"tcp://{host}:{port}"
            else:
                self._host_serial = self._open_serial(host_side)
            if self.transport is Transport.TCP:
                ep = parse_url(terminal_side)
                self._term_addr = (ep.host, ep.port)
            else:
                self._term_serial = self._open_serial(terminal_side)
        except OSError as exc:
            self.close()
            raise TransportError(f"--tap: cannot open {host_side}: {exc}") from exc
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _open_serial(url: str) -> SerialStream:
        stream = open_serial(parse_url(url))
        if stream.fd is None:
            with contextlib.suppress(StationLinkError):
                stream.close()
            raise ConfigError(f"{url}: this port cannot be waited on (no file descriptor)")
        return stream

    # -------------------------------------------------------------------- loop

    def _fds(self) -> list[int]:
        fds: list[int] = []
        if self._pty is not None:
            fds.append(self._pty[0])
        for stream in (self._host_serial, self._term_serial):
            if stream is not None and stream.fd is not None:
                fds.append(stream.fd)
        for sock in (self._listener, self._client, self._term_sock):
            if sock is not None:
                fds.append(sock.fileno())
        return fds

    def run(self, stop: threading.Event) -> None:
        quiet_since = time.monotonic()
        while not stop.is_set():
            readable, _, _ = select.select(self._fds(), [], [], min(0.1, self.idle))
            if not readable:
                if time.monotonic() - quiet_since >= self.idle:
                    self.on_idle()
                    quiet_since = time.monotonic()
                continue
            quiet_since = time.monotonic()
            for fd in readable:
                self._readable(fd)

    def _readable(self, fd: int) -> None:
        if self._listener is not None and fd == self._listener.fileno():
            self._accept()
        elif self._pty is not None and fd == self._pty[0]:
            try:
                data = os.read(fd, READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                return  # no process has the pty open: nothing to read yet
            self._forward("h2t", data)
        elif self._host_serial is not None and fd == self._host_serial.fd:
            self._forward("h2t", self._host_serial.read(0))
        elif self._term_serial is not None and fd == self._term_serial.fd:
            self._forward("t2h", self._term_serial.read(0))
        elif self._client is not None and fd == self._client.fileno():
            self._from_socket(self._client, "h2t")
        elif self._term_sock is not None and fd == self._term_sock.fileno():
            self._from_socket(self._term_sock, "t2h")

    def _accept(self) -> None:
        assert self._listener is not None  # noqa: S101 - caller checked
        sock, _ = self._listener.accept()
        if self._client is not None:  # a new PC connection replaces the old one
            self._drop("h2t")
        self._client = sock
        self.on_event("h2t", "open")
        assert self._term_addr is not None  # noqa: S101 - TCP both sides
        try:
            self._term_sock = socket.create_connection(self._term_addr, timeout=5.0)
        except OSError:
            self._drop("t2h")
            return
        self._term_sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _from_socket(self, sock: socket.socket, direction: str) -> None:
        try:
            data = sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            self._forward(direction, data)
        else:
            self._drop(direction)

    def _drop(self, direction: str) -> None:
        """One side closed: close both, as a cable pull would."""
        for sock in (self._client, self._term_sock):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        self._client = self._term_sock = None
        self.on_event(direction, "close")

    def _forward(self, direction: str, data: bytes) -> None:
        if not data:
            return
        try:
            if direction == "h2t":
                if self._term_serial is not None:
                    self._term_serial.write(data)
                elif self._term_sock is not None:
                    self._term_sock.sendall(data)
            elif self._pty is not None:
                _write_all(self._pty[0], data)
            elif self._host_serial is not None:
                self._host_serial.write(data)
            elif self._client is not None:
                self._client.sendall(data)
        except OSError as exc:
            if self.transport is Transport.TCP:
                self._drop("t2h" if direction == "h2t" else "h2t")
            else:
                raise StreamClosedError(f"--tap: write failed: {exc}") from exc
        self.on_bytes(direction, data)

    def close(self) -> None:
        for stream in (self._host_serial, self._term_serial):
            if stream is not None:
                with contextlib.suppress(StationLinkError):
                    stream.close()
        for sock in (self._listener, self._client, self._term_sock):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        if self._pty is not None:
            for fd in self._pty:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._pty = None
        self._host_serial = self._term_serial = None
        self._listener = self._client = self._term_sock = None


__all__ = ["Tap"]
