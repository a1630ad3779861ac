"""The byte-stream interface the clients drive the sans-I/O core with.

Contract: a :class:`ByteStream` only moves bytes. ``read(timeout)`` returns the bytes
available (waiting at most ``timeout`` seconds, forever for ``None``), ``b""`` when none
arrived in time, and raises ``errors.StreamClosedError`` at end of stream. ``write(data)``
returns once the bytes are handed to the OS (serial: transmitted, via ``flush``).
Every OS or pyserial failure is raised as ``TransportError`` with the original as cause.
``kind`` tells the core which framing applies; ``byte_time`` is the wire time of a byte.
A TCP stream that can open a fresh connection to the same peer is :class:`Reconnectable`
(:class:`AsyncReconnectable`).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..protocol import Transport


class ByteStream(Protocol):
    kind: Transport
    byte_time: float
    description: str

    def read(self, timeout: float | None) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class AsyncByteStream(Protocol):
    kind: Transport
    byte_time: float
    description: str

    async def read(self, timeout: float | None) -> bytes: ...

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class Reconnectable(Protocol):
    @property
    def can_reconnect(self) -> bool: ...

    def reconnect(self) -> None: ...


@runtime_checkable
class AsyncReconnectable(Protocol):
    @property
    def can_reconnect(self) -> bool: ...

    async def reconnect(self) -> None: ...
