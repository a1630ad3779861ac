"""Transports: byte pumps between a port or socket and the sans-I/O protocol core.

Contract: nothing here knows about frames or messages, except :mod:`.detection`, which
pumps bytes for the sans-I/O dialect detector and reconnects between TCP probes.
:func:`open_stream` opens a blocking :class:`~stationlink.transport.base.ByteStream` for a
connection URL (:mod:`stationlink.transport.url` lists the forms);
:mod:`stationlink.transport.aio` has the asyncio equivalents. Failures are
``TransportError`` with the OS/pyserial error as cause.
"""

from __future__ import annotations

from ..errors import StreamClosedError
from ..protocol import Transport
from .base import AsyncByteStream, ByteStream
from .detection import detect, detect_async
from .serial_port import SerialStream, open_serial
from .tcp import TcpStream, open_tcp
from .url import Endpoint, parse_url


def open_stream(url: str, *, baudrate: int = 9600) -> SerialStream | TcpStream:
    """Open the port or socket named by ``url`` (blocking)."""
    endpoint = parse_url(url, baudrate=baudrate)
    if endpoint.kind is Transport.TCP:
        return open_tcp(endpoint)
    return open_serial(endpoint)


__all__ = [
    "AsyncByteStream",
    "ByteStream",
    "Endpoint",
    "SerialStream",
    "StreamClosedError",
    "detect",
    "detect_async",
    "TcpStream",
    "open_serial",
    "open_stream",
    "open_tcp",
    "parse_url",
]
