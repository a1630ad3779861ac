"""Fixtures: an emulated terminal served over a real pty or a real TCP socket."""

from __future__ import annotations

import os
import socket
import threading
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from client_emulator import KEY, EmulatedTerminal, Faults, fd_io, socket_io

from stationlink.protocol.framing import Transport
from stationlink.protocol.messages import Dialect

Served = tuple[EmulatedTerminal, str]


@contextmanager
def serve_pty(dialect: Dialect, faults: Faults | None = None) -> Iterator[Served]:
    master, slave = os.openpty()
    tty.setraw(slave)
    term = EmulatedTerminal(dialect, Transport.SERIAL, KEY, faults=faults or Faults())
    stop = threading.Event()
    recv, send = fd_io(master)
    thread = threading.Thread(target=term.serve, args=(recv, send, stop), daemon=True)
    thread.start()
    try:
        yield term, os.ttyname(slave)
    finally:
        stop.set()
        thread.join(5)
        os.close(master)
        os.close(slave)


@contextmanager
def serve_tcp(dialect: Dialect, faults: Faults | None = None, *,
              close_on_garbage: bool = True) -> Iterator[Served]:
    """Serve on 127.0.0.1:0, one connection after another (dialect detection opens a fresh
    connection per probe); each accepted connection gets a fresh link, the journal stays."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    term = EmulatedTerminal(dialect, Transport.TCP, KEY, faults=faults or Faults(),
                            close_on_garbage=close_on_garbage)
    stop = threading.Event()
    conns: list[socket.socket] = []

    def run() -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conns.append(conn)
            term.connections += 1
            term.new_connection()
            recv, send = socket_io(conn)
            try:
                term.serve(recv, send, stop)
            finally:
                conn.close()  # ended by the host, by stop, or on garbage (strict)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield term, f"tcp://127.0.0.1:{port}"
    finally:
        stop.set()
        thread.join(5)
        for c in conns:
            c.close()
        server.close()


@pytest.fixture(params=["pty", "tcp"])
def serve(request: pytest.FixtureRequest) -> Callable[..., object]:
    """Serve an emulated terminal over a pty or over TCP (parametrised)."""
    return serve_pty if request.param == "pty" else serve_tcp
