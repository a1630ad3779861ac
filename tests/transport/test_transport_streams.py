"""Byte streams over a real pty, pyserial loop:// and real TCP sockets."""

from __future__ import annotations

import asyncio
import os
import socket
import tty
from collections.abc import Iterator

import pytest

from stationlink.errors import StreamClosedError, TransportError
from stationlink.transport import open_stream, parse_url
from stationlink.transport.aio import open_async_stream


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    tty.setraw(slave)
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_serial_stream_over_pty(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    stream = open_stream(f"serial://{path}?baud=115200")
    try:
        assert stream.byte_time == pytest.approx(10 / 115200)
        assert stream.read(0.01) == b""
        os.write(master, b"\x02abc\x03")
        assert stream.read(1.0) == b"\x02abc\x03"
        stream.write(b"\x06\x15")
        assert os.read(master, 10) == b"\x06\x15"
    finally:
        stream.close()


def test_loop_url() -> None:
    stream = open_stream("loop://")
    try:
        stream.write(b"hello")
        got = b""
        while len(got) < 5:
            got += stream.read(0.5)
        assert got == b"hello"
    finally:
        stream.close()


def test_missing_device_is_transport_error() -> None:
    with pytest.raises(TransportError, match="cannot open serial port") as info:
        open_stream("/dev/does-not-exist-stationlink")
    assert info.value.__cause__ is not None


def test_tcp_stream_and_peer_close() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stream = open_stream(f"tcp://127.0.0.1:{port}")
    peer, _ = server.accept()
    try:
        assert stream.read(0.01) == b""
        peer.sendall(b"\x00\x0bhello world")
        assert stream.read(1.0) == b"\x00\x0bhello world"
        stream.write(b"back")
        assert peer.recv(10) == b"back"
        peer.close()
        with pytest.raises(StreamClosedError, match="closed by peer"):
            stream.read(1.0)
    finally:
        stream.close()
        server.close()


def test_async_streams(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair

    async def main() -> None:
        serial_stream = await open_async_stream(parse_url(path))
        try:
            assert await serial_stream.read(0.01) == b""
            os.write(master, b"xyz")
            assert await serial_stream.read(1.0) == b"xyz"
            await serial_stream.write(b"ok")
            assert os.read(master, 10) == b"ok"
        finally:
            await serial_stream.close()
        server = socket.create_server(("127.0.0.1", 0))
        port = server.getsockname()[1]
        tcp = await open_async_stream(parse_url(f"tcp://127.0.0.1:{port}"))
        peer, _ = server.accept()
        try:
            peer.sendall(b"abc")
            assert await tcp.read(1.0) == b"abc"
            peer.close()
            with pytest.raises(StreamClosedError):
                await tcp.read(1.0)
        finally:
            await tcp.close()
            server.close()

    asyncio.run(main())
