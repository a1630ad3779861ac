"""Control socket of a running emulated terminal: power-cycle it from another process.

Contract:
- ``stationlink sim terminal ... --control ADDRESS`` (``serve_terminal(control=...)``)
  listens on ADDRESS: a filesystem path (a unix socket; a stale socket there is replaced,
  any other file is a :class:`~stationlink.errors.ConfigError`) or ``tcp://127.0.0.1:PORT``
  (loopback only, for systems without unix sockets; port 0 picks a free one, see
  :attr:`ControlServer.address`).
- The protocol is one line per connection: the client sends a command (``power_cycle`` or
  ``ping``) and a newline, the terminal answers one line, ``ok ...`` or ``error ...``, and
  closes. ``power_cycle`` answers once the terminal serves again (after its ``outage``),
  ``ok power_cycle boot_id=N``, so a conformance kit's ``--power-cycle-cmd`` can carry on
  at once.
- :func:`send_command` is the client (``stationlink sim power-cycle ADDRESS``,
  ``python -m stationlink_sim.control ADDRESS power_cycle``): it returns the ``ok`` line and
  raises :class:`~stationlink.errors.SimulatorError` on an ``error`` answer, a refused or
  broken connection, or no answer within ``timeout``.
- :meth:`ControlServer.close` stops the server thread, closes the socket and removes the
  socket file. Nothing here logs or sends a card number.
"""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import stat
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from stationlink.errors import ConfigError, SimulatorError, StationLinkError

COMMANDS = ("power_cycle", "ping")
MAX_LINE = 256


def _tcp_address(address: str, source: str) -> tuple[str, int] | None:
    if not address.startswith("tcp://"):
        return None
    split = urlsplit(address)
    try:
        host, port = split.hostname, split.port
    except ValueError as exc:
        raise ConfigError(f"{source}: bad port in {address!r}: {exc}") from exc
    if host is None or port is None or split.path not in ("", "/"):
        raise ConfigError(f"{source}: expected a socket path or tcp://127.0.0.1:PORT, "
                          f"not {address!r}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(f"{source}: the control socket listens on loopback only, not {host}")
    return host, port


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline(MAX_LINE).decode("ascii", "replace").strip()
        server: Any = self.server
        try:
            reply = server.on_command(line)
        except StationLinkError as exc:
            reply = f"error {exc}"
        self.wfile.write(reply.replace("\n", " ").encode("utf-8") + b"\n")


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _TcpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class ControlServer:
    """Serve control commands for one terminal (see the module docstring)."""

    def __init__(
        self, address: str, on_command: Callable[[str], str], *, source: str = "--control"
    ) -> None:
        self._path: Path | None = None
        server: socketserver.TCPServer | socketserver.UnixStreamServer
        tcp = _tcp_address(address, source)
        try:
            if tcp is not None:
                server = _TcpServer(tcp, _Handler)
            else:
                self._path = Path(address)
                _clear_stale(self._path, source)
                server = _UnixServer(str(self._path), _Handler)
        except OSError as exc:
            raise ConfigError(f"{source}: cannot listen on {address}: {exc}") from exc
        server.on_command = on_command  # type: ignore[union-attr]
        self._server = server
        self._tcp = tcp
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2},
            name=f"control-{address}", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        """Where clients connect: the socket path, or ``tcp://HOST:PORT``."""
        if self._path is not None:
            return str(self._path)
        assert self._tcp is not None  # noqa: S101 - no path: a TCP server
        port = self._server.socket.getsockname()[1]
        return f"tcp://{self._tcp[0]}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5.0)
        if self._path is not None:
            with contextlib.suppress(OSError):
                self._path.unlink()


def _clear_stale(path: Path, source: str) -> None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ConfigError(f"{source}: {path}: {exc}") from exc
    if not stat.S_ISSOCK(mode):
        raise ConfigError(f"{source}: {path} exists and is not a socket")
    path.unlink()


def send_command(address: str, command: str, *, timeout: float = 30.0) -> str:
    """Send ``command`` to the control socket at ``address``; the ``ok`` answer line."""
    if command not in COMMANDS:
        raise ConfigError(f"unknown control command {command!r}; known: {', '.join(COMMANDS)}")
    tcp = _tcp_address(address, "control address")
    try:
        if tcp is not None:
            sock = socket.create_connection(tcp, timeout=timeout)
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with sock:
            if tcp is None:
                sock.settimeout(timeout)
                sock.connect(os.fspath(address))
            reader = sock.makefile("rb")
            sock.sendall(command.encode("ascii") + b"\n")
            with reader:
                line = reader.readline(MAX_LINE).decode("utf-8", "replace").strip()
    except OSError as exc:
        raise SimulatorError(f"control socket {address}: {command}: {exc}") from exc
    if not line.startswith("ok"):
        raise SimulatorError(
            f"control socket {address}: {command}: {line or 'closed without an answer'}")
    return line


def main(argv: list[str] | None = None) -> int:
    """``python -m stationlink_sim.control ADDRESS COMMAND``: exit 0 on ``ok``, else 10."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m stationlink_sim.control ADDRESS power_cycle|ping",
              file=sys.stderr)
        return 2
    try:
        print(send_command(args[0], args[1]))
    except StationLinkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 10
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
