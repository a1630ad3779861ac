"""A pass-through tap between the PC software and a terminal: bytes forwarded unchanged, and seen.

Contract:
- ``Tap(host_side, terminal_side, on_bytes, on_event, on_idle, idle)`` forwards every byte
  read from one side to the other, unchanged and at once (written before anything else is
  done with it), then calls ``on_bytes(direction, data, t)``; it never writes a byte of its
  own to either side. ``direction`` is ``"h2t"`` (PC→terminal) or ``"t2h"``; ``t`` is the
  seconds since the tap opened when the bytes were read, on ``clock`` (a monotonic clock,
  injectable); :attr:`started` is ``wall()`` (an aware time, injectable) at opening.
- ``host_side`` (what the PC software opens): ``pty`` (a new pseudo-terminal; the PC opens
  :attr:`host_url`), a serial port or pyserial URL the PC is cabled to (``/dev/ttyUSB0``,
  ``COM3``, ``serial:///dev/ttyS1?baud=9600``), or ``tcp://HOST:PORT`` to listen on (port 0:
  any free port). ``terminal_side``: a serial port / URL, or ``tcp://HOST:PORT`` to connect
  to. Both sides serial or both TCP, else :class:`~stationlink.errors.ConfigError`.
- TCP: each PC connection gets its own connection to the terminal, made when the PC connects
  (``on_event("h2t", "open", t)``); when one side closes, the other is closed as a cable pull
  would (``on_event(direction, "close", t)``; a new PC connection closes the current one
  first). A refused terminal connection closes the PC's (``open`` then ``t2h close``).
  Bytes read from a side whose peer is found gone while forwarding them are reported before
  the ``close``.
- In the caller's thread: ``run(stop)`` loops until the ``threading.Event`` is set, calling
  ``on_idle()`` every ``idle`` seconds of silence (0.5 s: the serial receive idle timer); a
  failure ends ``run`` with its exception; ``close()`` releases every descriptor.
  In a thread of its own: ``start()``; ``stop(timeout)`` ends the loop at once (a wake pipe
  is among the descriptors waited on), closes every descriptor and re-raises a failure of
  the thread, kept in :attr:`error` (a :class:`~stationlink.errors.StationLinkError` as it
  is, an ``OSError`` / ``ValueError`` — from the I/O or from a callback — as
  :class:`~stationlink.errors.TransportError`). Both are idempotent.
- Failures: opening, :class:`~stationlink.errors.TransportError` / ``ConfigError`` (the
  message starts with ``name``, the option that named the sides: ``--tap``); a serial side
  or pty that vanishes while running, :class:`~stationlink.errors.StreamClosedError`; a
  write blocked for :data:`WRITE_TIMEOUT` s, ``TransportError``. A TCP side that closes or
  fails is a ``close`` event, not a failure.
- POSIX for serial sides and ``pty`` (a port must have a file descriptor to wait on; on
  Windows a serial side is a ``ConfigError``); TCP works everywhere.
- Implemented on :mod:`stationlink.transport` (pyserial streams) and plain non-blocking
  sockets. :func:`write_all` (all of a chunk to a non-blocking descriptor, within
  :data:`WRITE_TIMEOUT`) is also the simulator replayer's. The simulator's recorder
  (``stationlink record``) is this tap plus its capture writer; the SDK never imports the
  simulator (``tests/meta/test_meta_layout.py``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime

from ..clock import MonotonicClock, WallClock
from ..errors import ConfigError, StationLinkError, StreamClosedError, TransportError
from ..money import CST
from ..protocol import Transport
from ..transport import SerialStream, open_serial, parse_url

log = logging.getLogger("stationlink.monitor")
READ_SIZE = 65536
WRITE_TIMEOUT = 5.0


def _kind(url: str) -> Transport:
    return Transport.TCP if url.startswith("tcp://") else Transport.SERIAL


def write_all(fd: int, write: Callable[[bytes], int], data: bytes) -> bool:
    """Write all of ``data`` to a non-blocking descriptor ``fd`` through ``write`` (bytes
    taken; 0: would block; -1: the peer is gone). False when the peer is gone;
    :class:`~stationlink.errors.TransportError` when blocked over :data:`WRITE_TIMEOUT`."""
    view = memoryview(data)
    deadline = time.monotonic() + WRITE_TIMEOUT
    while view:
        n = write(bytes(view))
        if n < 0:
            return False
        view = view[n:]
        if view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransportError(f"write blocked for {WRITE_TIMEOUT} s")
            select.select([], [fd], [], left)
    return True


def _fd_writer(fd: int) -> Callable[[bytes], int]:
    """Writes to a pty master: a failure is the line gone."""
    def write(data: bytes) -> int:
        try:
            return os.write(fd, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            raise StreamClosedError(f"pty write failed: {exc}") from exc

    return write


def _sock_writer(sock: socket.socket) -> Callable[[bytes], int]:
    """Writes to a socket: a failure is the peer gone (-1)."""
    def write(data: bytes) -> int:
        try:
            return sock.send(data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            return -1

    return write


class Tap:
    """Forward one PC–terminal link unchanged and report what passes (see the docstring)."""

    def __init__(self, host_side: str, terminal_side: str,
                 on_bytes: Callable[[str, bytes, float], None],
                 on_event: Callable[[str, str, float], None] = lambda d, e, t: None,
                 on_idle: Callable[[], None] = lambda: None, idle: float = 0.5, *,
                 clock: MonotonicClock = time.monotonic,
                 wall: WallClock = lambda: datetime.now(CST), name: str = "--tap") -> None:
        host_kind = Transport.SERIAL if host_side == "pty" else _kind(host_side)
        self.transport = _kind(terminal_side)
        if host_kind is not self.transport:
            raise ConfigError(f"{name}: host side {host_side!r} is {host_kind} but terminal "
                              f"side {terminal_side!r} is {self.transport}; both must be "
                              "serial or both tcp")
        self.on_bytes, self.on_event, self.on_idle, self.idle = on_bytes, on_event, on_idle, idle
        self.name, self.clock = name, clock
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pty: tuple[int, int] | None = None
        self._host_serial: SerialStream | None = None
        self._term_serial: SerialStream | None = None
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self._term_sock: socket.socket | None = None
        self._term_addr: tuple[str, int] | None = None
        self._wake = os.pipe()
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
                self._listener.setblocking(False)
                host, port = self._listener.getsockname()[:2]
                self.host_url = f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"
            else:
                self._host_serial = self._open_serial(host_side)
            if self.transport is Transport.TCP:
                ep = parse_url(terminal_side)
                self._term_addr = (ep.host, ep.port)
            else:
                self._term_serial = self._open_serial(terminal_side)
        except OSError as exc:
            self.close()
            raise TransportError(f"{name}: cannot open {host_side}: {exc}") from exc
        except BaseException:
            self.close()
            raise
        self.started = wall()
        self._t0 = clock()

    @staticmethod
    def _open_serial(url: str) -> SerialStream:
        stream = open_serial(parse_url(url))
        if stream.fd is None:
            with contextlib.suppress(StationLinkError):
                stream.close()
            raise ConfigError(f"{url}: this port cannot be waited on (no file descriptor)")
        return stream

    def t(self) -> float:
        """Seconds since the tap opened, on its clock."""
        return max(0.0, self.clock() - self._t0)

    # ------------------------------------------------------------ own thread

    def start(self) -> None:
        """Run the loop in a daemon thread until :meth:`stop`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run_thread, daemon=True,
                                            name=f"stationlink-tap {self.host_url}")
            self._thread.start()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run_thread(self) -> None:
        try:
            self.run(self._stop)
        except (StationLinkError, OSError, ValueError) as exc:
            log.exception("%s: the tap stopped", self.name)
            self.error = exc

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread at once, close everything, re-raise the thread's failure."""
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._wake[1], b"x")
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout)
        self.close()
        if isinstance(self.error, StationLinkError):
            raise self.error
        if self.error is not None:
            raise TransportError(f"{self.name}: {self.error}") from self.error

    # -------------------------------------------------------------------- loop

    def _fds(self) -> list[int]:
        fds = [self._wake[0]]
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
        if fd == self._wake[0]:
            return  # a stop: the loop condition ends it
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
        try:
            sock, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return  # the connection went away before it was taken
        if self._client is not None:  # a new PC connection replaces the old one
            self._drop("h2t")
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client = sock
        self.on_event("h2t", "open", self.t())
        assert self._term_addr is not None  # noqa: S101 - TCP both sides
        try:
            term = socket.create_connection(self._term_addr, timeout=5.0)
        except OSError as exc:
            log.info("%s: the terminal refused the connection: %s", self.name, exc)
            self._drop("t2h")
            return
        term.setblocking(False)
        term.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._term_sock = term

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
        self.on_event(direction, "close", self.t())

    def _forward(self, direction: str, data: bytes) -> None:
        if not data:
            return
        t = self.t()
        delivered = self._send(direction, data)
        self.on_bytes(direction, data, t)
        if not delivered:  # the TCP peer it was for is gone
            self._drop("t2h" if direction == "h2t" else "h2t")

    def _send(self, direction: str, data: bytes) -> bool:
        """Write ``data`` to the other side; False when it is a TCP peer that is gone."""
        if direction == "h2t":
            if self._term_serial is not None:
                self._term_serial.write(data)
            elif self._term_sock is not None:
                return write_all(self._term_sock.fileno(), _sock_writer(self._term_sock), data)
        elif self._pty is not None:
            write_all(self._pty[0], _fd_writer(self._pty[0]), data)
        elif self._host_serial is not None:
            self._host_serial.write(data)
        elif self._client is not None:
            return write_all(self._client.fileno(), _sock_writer(self._client), data)
        return True

    def close(self) -> None:
        for stream in (self._host_serial, self._term_serial):
            if stream is not None:
                with contextlib.suppress(StationLinkError):
                    stream.close()
        for sock in (self._listener, self._client, self._term_sock):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        for fd in (*(self._pty or ()), *self._wake):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._pty = None
        self._wake = (-1, -1)
        self._host_serial = self._term_serial = None
        self._listener = self._client = self._term_sock = None


__all__ = ["WRITE_TIMEOUT", "Tap", "write_all"]
