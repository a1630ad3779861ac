"""Real streams passed through with one armed fault, for the client's link-failure tests.

:class:`Passing` (blocking) and :class:`AsyncPassing` (asyncio) hand every call to the real
stream they wrap and copy its ``kind``, ``byte_time`` and ``description``; a subclass
overrides ``read`` or ``write`` to misbehave once :meth:`fire` says the armed fault goes off
(``armed`` is set by the test, cleared when the fault fires).
"""

from __future__ import annotations

from typing import Generic, TypeVar

from stationlink.protocol import Transport
from stationlink.transport.base import AsyncByteStream, ByteStream

S = TypeVar("S", ByteStream, AsyncByteStream)


class _Armed(Generic[S]):
    def __init__(self, stream: S) -> None:
        self.stream = stream
        self.kind: Transport = stream.kind
        self.byte_time = stream.byte_time
        self.description = stream.description
        self.armed = False

    def fire(self) -> bool:
        """True once after the test armed the fault (which is then disarmed)."""
        if self.armed:
            self.armed = False
            return True
        return False


class Passing(_Armed[ByteStream]):
    def read(self, timeout: float | None) -> bytes:
        return self.stream.read(timeout)

    def write(self, data: bytes) -> None:
        self.stream.write(data)

    def close(self) -> None:
        self.stream.close()


class AsyncPassing(_Armed[AsyncByteStream]):
    async def read(self, timeout: float | None) -> bytes:
        return await self.stream.read(timeout)

    async def write(self, data: bytes) -> None:
        await self.stream.write(data)

    async def close(self) -> None:
        await self.stream.close()
