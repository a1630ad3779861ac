"""asyncio transports: the same byte streams as the blocking ones, awaitable.

Contract: :func:`open_async_stream` opens an :class:`~stationlink.transport.url.Endpoint`.
TCP uses asyncio streams. Serial ports with a file descriptor (POSIX ports, ptys) are
watched with ``loop.add_reader``; other pyserial URLs (``loop://``, ``socket://``, Windows)
are read in a worker thread in slices of at most 0.2 s. Errors are ``TransportError``
(``from exc``); end of stream is ``StreamClosedError``. An :class:`AsyncTcpStream` opened by
:func:`open_async_stream` can ``reconnect()`` to the same endpoint (fresh connection per
detection probe).
"""

from __future__ import annotations

import asyncio
import socket

from ..errors import StreamClosedError, TransportError
from ..protocol import Transport
from .serial_port import SerialStream, open_serial
from .tcp import received
from .url import Endpoint

_SLICE = 0.2


class AsyncTcpStream:
    kind = Transport.TCP
    byte_time = 0.0

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, description: str,
        endpoint: Endpoint | None = None,
    ) -> None:
        self._reader, self._writer = reader, writer
        self.description = description
        self.endpoint = endpoint

    @property
    def can_reconnect(self) -> bool:
        return self.endpoint is not None

    async def reconnect(self) -> None:
        """Close the connection and connect again to the endpoint it was opened for."""
        if self.endpoint is None:
            raise TransportError(f"{self.description}: cannot reconnect an accepted socket")
        await self.close()
        self._reader, self._writer = await _open_tcp(self.endpoint)

    async def read(self, timeout: float | None) -> bytes:
        try:
            data = await asyncio.wait_for(self._reader.read(65536), timeout)
        except TimeoutError:
            return b""
        except OSError as exc:
            raise StreamClosedError(f"{self.description}: receive failed: {exc}") from exc
        return received(data, self.description)

    async def write(self, data: bytes) -> None:
        try:
            self._writer.write(data)
            await self._writer.drain()
        except OSError as exc:
            raise TransportError(f"{self.description}: send failed: {exc}") from exc

    async def close(self) -> None:
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except OSError as exc:
            raise TransportError(f"{self.description}: close failed: {exc}") from exc


class AsyncSerialStream:
    kind = Transport.SERIAL

    def __init__(self, stream: SerialStream) -> None:
        self._stream = stream
        self.byte_time = stream.byte_time
        self.description = stream.description

    async def read(self, timeout: float | None) -> bytes:
        fd = self._stream.fd
        if fd is None:
            wait = _SLICE if timeout is None else min(timeout, _SLICE)
            return await asyncio.to_thread(self._stream.read, wait)
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, wake)
        try:
            await asyncio.wait_for(ready, timeout)
        except TimeoutError:
            return b""
        finally:
            loop.remove_reader(fd)
        return self._stream.read(0)

    async def write(self, data: bytes) -> None:
        await asyncio.to_thread(self._stream.write, data)

    async def close(self) -> None:
        self._stream.close()


async def open_async_stream(endpoint: Endpoint) -> AsyncTcpStream | AsyncSerialStream:
    """Open ``endpoint`` for use with :class:`~stationlink.client.AsyncTerminal`."""
    if endpoint.kind is Transport.SERIAL:
        return AsyncSerialStream(await asyncio.to_thread(open_serial, endpoint))
    reader, writer = await _open_tcp(endpoint)
    return AsyncTcpStream(reader, writer, f"tcp://{endpoint.target}", endpoint)


async def _open_tcp(endpoint: Endpoint) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(endpoint.host, endpoint.port), endpoint.connect_timeout
        )
    except (OSError, TimeoutError) as exc:
        raise TransportError(f"cannot connect to tcp://{endpoint.target}: {exc}") from exc
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer
