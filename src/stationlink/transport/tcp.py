"""Blocking plain-TCP transport (length-prefixed frames, no ACK/NAK).

Contract: :func:`open_tcp` connects to ``host:port`` within ``connect_timeout``;
:class:`TcpStream` reads with a per-call timeout. An orderly close by the peer is a
``StreamClosedError``; every ``OSError`` becomes a ``TransportError`` (``from exc``).
A stream opened by :func:`open_tcp` can ``reconnect()``: it closes its socket and connects
again to the same endpoint (dialect detection uses a fresh connection per probe); a stream
built on an accepted socket cannot (``TransportError``).
"""

from __future__ import annotations

import socket

from ..errors import StreamClosedError, TransportError
from ..protocol import Transport
from .url import Endpoint


class TcpStream:
    """One connected TCP socket (also usable with an accepted server-side socket)."""

    kind = Transport.TCP
    byte_time = 0.0

    def __init__(
        self, sock: socket.socket, description: str, endpoint: Endpoint | None = None
    ) -> None:
        self._sock = sock
        self.description = description
        self.endpoint = endpoint
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def can_reconnect(self) -> bool:
        return self.endpoint is not None

    def reconnect(self) -> None:
        """Close the socket and connect again to the endpoint it was opened for."""
        if self.endpoint is None:
            raise TransportError(f"{self.description}: cannot reconnect an accepted socket")
        self.close()
        sock = _connect(self.endpoint)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            sock.close()
            raise TransportError(f"cannot set up {self.description}: {exc}") from exc
        self._sock = sock

    def read(self, timeout: float | None) -> bytes:
        try:
            self._sock.settimeout(timeout)
            data = self._sock.recv(65536)
        except TimeoutError:
            return b""
        except OSError as exc:
            raise StreamClosedError(f"{self.description}: receive failed: {exc}") from exc
        return received(data, self.description)

    def write(self, data: bytes) -> None:
        try:
            self._sock.settimeout(None)
            self._sock.sendall(data)
        except OSError as exc:
            raise TransportError(f"{self.description}: send failed: {exc}") from exc

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError as exc:
            raise TransportError(f"{self.description}: close failed: {exc}") from exc


def received(data: bytes, description: str) -> bytes:
    """What one TCP read gave (blocking or asyncio): an empty read is the peer's close."""
    if not data:
        raise StreamClosedError(f"{description}: connection closed by peer")
    return data


def _connect(endpoint: Endpoint) -> socket.socket:
    try:
        return socket.create_connection(
            (endpoint.host, endpoint.port), timeout=endpoint.connect_timeout
        )
    except OSError as exc:
        raise TransportError(f"cannot connect to tcp://{endpoint.target}: {exc}") from exc


def open_tcp(endpoint: Endpoint) -> TcpStream:
    """Connect to ``endpoint.host:endpoint.port``."""
    sock = _connect(endpoint)
    try:
        return TcpStream(sock, f"tcp://{endpoint.target}", endpoint)
    except OSError as exc:
        sock.close()
        raise TransportError(f"cannot set up tcp://{endpoint.target}: {exc}") from exc
