"""The OS side of an emulated terminal: a real pseudo-terminal or a TCP listen socket.

Contract:
- :class:`PtyPort` opens a pty pair with ``os.openpty()``, puts the slave in raw mode
  (``tty.setraw``) and keeps the slave open itself, so the master never reads EIO while no
  host has the device open and bytes written meanwhile wait in the line like on a real
  cable. ``path`` is what a host opens with pyserial. The master is non-blocking.
- :class:`TcpPort` listens on ``host:port`` (port 0: the OS picks one, see ``address``) and
  serves one host at a time: a new connection replaces the current one (a host reconnecting
  after a half-open link must get through).
- Both expose ``read_fds()`` / ``write_fd()`` for the runner's ``select``, ``read(fd)``
  (``None`` at end of stream), ``write(data) -> int`` (bytes taken; -1: the TCP peer is
  gone) and ``close()``; every OS error is wrapped in
  :class:`~stationlink.errors.SimulatorError` or reported as a lost connection.
  ``close()`` closes every descriptor they opened.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tty

from stationlink.errors import SimulatorError

READ_SIZE = 4096


class PtyPort:
    """A real pseudo-terminal pair; the host opens :attr:`path`."""

    is_tcp = False

    def __init__(self) -> None:
        try:
            self.master, self.slave = os.openpty()
        except OSError as exc:
            raise SimulatorError(f"cannot open a pseudo-terminal: {exc}") from exc
        try:
            tty.setraw(self.slave)
            os.set_blocking(self.master, False)
            self.path = os.ttyname(self.slave)
        except OSError as exc:
            self.close()
            raise SimulatorError(f"cannot set up the pseudo-terminal: {exc}") from exc

    @property
    def url(self) -> str:
        return f"serial://{self.path}"

    @property
    def connected(self) -> bool:
        return True

    def read_fds(self) -> list[int]:
        return [self.master]

    def write_fd(self) -> int | None:
        return self.master

    def read(self, fd: int) -> bytes | None:
        try:
            return os.read(fd, READ_SIZE)
        except BlockingIOError:
            return b""
        except OSError as exc:
            raise SimulatorError(f"{self.path}: read failed: {exc}") from exc

    def write(self, data: bytes) -> int:
        try:
            return os.write(self.master, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            raise SimulatorError(f"{self.path}: write failed: {exc}") from exc

    def accept(self) -> bool:
        return False

    def drop_client(self) -> None:
        """A pty has no connection to drop (the line-dead outage stands in for it)."""

    def close(self) -> None:
        for fd in (getattr(self, "master", -1), getattr(self, "slave", -1)):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master = self.slave = -1


class TcpPort:
    """A TCP listen socket serving one host connection at a time."""

    is_tcp = True

    def __init__(self, host: str, port: int) -> None:
        try:
            self.listener = socket.create_server((host, port))
        except OSError as exc:
            raise SimulatorError(f"cannot listen on {host}:{port}: {exc}") from exc
        self.listener.setblocking(False)
        self.client: socket.socket | None = None
        bound = self.listener.getsockname()
        self.host, self.port = str(bound[0]), int(bound[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self.client is not None

    def read_fds(self) -> list[int]:
        fds = [self.listener.fileno()]
        if self.client is not None:
            fds.append(self.client.fileno())
        return fds

    def write_fd(self) -> int | None:
        return None if self.client is None else self.client.fileno()

    def accept(self) -> bool:
        """Take a pending connection (replacing the current one); ``True`` if one came."""
        try:
            conn, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as exc:
            raise SimulatorError(f"{self.url}: accept failed: {exc}") from exc
        self.drop_client()
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client = conn
        return True

    def is_listener(self, fd: int) -> bool:
        return fd == self.listener.fileno()

    def read(self, fd: int) -> bytes | None:
        if self.client is None:
            return b""
        try:
            data = self.client.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:
            return None  # reset by the peer: the connection is gone
        return data if data else None

    def write(self, data: bytes) -> int:
        if self.client is None:
            return len(data)  # nobody listening: the bytes are lost, like on a dead line
        try:
            return self.client.send(data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            return -1  # the peer is gone: the runner drops the connection

    def drop_client(self) -> None:
        if self.client is not None:
            with contextlib.suppress(OSError):
                self.client.close()
            self.client = None

    def close(self) -> None:
        self.drop_client()
        with contextlib.suppress(OSError):
            self.listener.close()


Port = PtyPort | TcpPort
