"""Blocking serial transport over pyserial (local ports and every pyserial URL).

Contract: :class:`SerialStream` wraps a pyserial port; :func:`open_serial` opens one from an
:class:`~stationlink.transport.url.Endpoint`. Reads wait with ``select`` on the port's file
descriptor when it has one (POSIX ports, ptys), otherwise with pyserial's read timeout
(``loop://``, ``socket://``, Windows). ``SerialException``/``OSError`` become
``TransportError`` (``raise ... from exc``); a vanished device is a ``StreamClosedError``.
"""

from __future__ import annotations

import select

import serial

from ..errors import StreamClosedError, TransportError
from ..protocol import Transport
from .url import Endpoint


def _waiting(port: serial.SerialBase) -> int:
    """Bytes buffered by the driver (every pyserial port class has ``in_waiting``)."""
    return int(getattr(port, "in_waiting", 0))


class SerialStream:
    """One open serial port (see the module docstring)."""

    kind = Transport.SERIAL

    def __init__(self, port: serial.SerialBase, byte_time: float, description: str) -> None:
        self._port = port
        self.byte_time = byte_time
        self.description = description
        try:
            self.fd: int | None = port.fileno()
        except (AttributeError, OSError, NotImplementedError, serial.SerialException):
            self.fd = None
        if self.fd is not None:
            port.timeout = 0

    def read(self, timeout: float | None) -> bytes:
        try:
            if self.fd is not None:
                ready, _, _ = select.select([self.fd], [], [], timeout)
                if not ready:
                    return b""
                data = self._port.read(max(1, _waiting(self._port)))
                if not data:
                    raise StreamClosedError(f"{self.description}: port closed")
                return bytes(data)
            self._port.timeout = timeout
            data = self._port.read(1)
            if data and _waiting(self._port):
                data += self._port.read(_waiting(self._port))
            return bytes(data)
        except StreamClosedError:
            raise
        except (serial.SerialException, OSError, ValueError) as exc:
            raise StreamClosedError(f"{self.description}: read failed: {exc}") from exc

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"{self.description}: write failed: {exc}") from exc

    def close(self) -> None:
        try:
            self._port.close()
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"{self.description}: close failed: {exc}") from exc


def open_serial(endpoint: Endpoint) -> SerialStream:
    """Open the port named by ``endpoint`` (a path, COM name or pyserial URL)."""
    try:
        port = serial.serial_for_url(
            endpoint.target,
            baudrate=endpoint.baudrate,
            bytesize=endpoint.bytesize,
            parity=endpoint.parity,
            stopbits=endpoint.stopbits,
            timeout=0,
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        raise TransportError(f"cannot open serial port {endpoint.target}: {exc}") from exc
    return SerialStream(port, endpoint.byte_time, endpoint.target)
