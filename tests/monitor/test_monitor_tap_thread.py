"""The tap in a thread of its own, on real loopback sockets: times from the injected clock,
forwarding before observation, connection events, and a failure re-raised by ``stop()``.

The simulator's recorder is this tap plus its capture writer: its failure is re-raised as
``SimulatorError`` with the capture still closed.
"""

from __future__ import annotations

import queue
import socket
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from stationlink.capture import read_capture
from stationlink.clock import ManualClock
from stationlink.errors import ConfigError, SimulatorError, TransportError
from stationlink.money import CST
from stationlink.monitor.tap import Tap
from stationlink_sim.capture.recorder import Recorder

START = datetime(2026, 3, 16, 9, tzinfo=CST)


def _terminal() -> tuple[socket.socket, str]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(5)
    return server, f"tcp://127.0.0.1:{server.getsockname()[1]}"


def _host(url: str) -> socket.socket:
    host, port = url.removeprefix("tcp://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.settimeout(5)
    return sock


def _until(check: Any, what: str) -> None:
    deadline = time.monotonic() + 5
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _send_until_it_fails(forwarder: Tap | Recorder, server: socket.socket,
                         data: bytes) -> bytes:
    """Connect a host, send ``data``, wait for the forwarder's thread to end; what the
    terminal got."""
    host = _host(forwarder.host_url)
    term, _ = server.accept()
    term.settimeout(5)
    host.sendall(data)
    _until(lambda: not forwarder.is_alive(), "the forwarder's thread to end")
    got = term.recv(64)
    host.close()
    term.close()
    return got


def test_thread_mode_forwards_first_and_stamps_the_injected_clock() -> None:
    clock = ManualClock(START)
    server, term_url = _terminal()
    seen: queue.Queue[tuple[str, object, float]] = queue.Queue()
    release = queue.Queue[None]()

    def on_bytes(direction: str, data: bytes, t: float) -> None:
        seen.put((direction, data, t))
        release.get(timeout=5)  # observation blocked: the line must not wait for it

    def on_event(direction: str, name: str, t: float) -> None:
        seen.put((direction, name, t))

    tap = Tap("tcp://127.0.0.1:0", term_url, on_bytes, on_event,
              clock=clock.monotonic, wall=clock.now)
    assert tap.started == START
    tap.start()
    try:
        clock.advance(2)
        host = _host(tap.host_url)
        assert seen.get(timeout=5) == ("h2t", "open", 2.0)
        term, _ = server.accept()
        term.settimeout(5)
        host.sendall(b"ping")
        assert term.recv(64) == b"ping"  # arrived while on_bytes is still blocked
        assert seen.get(timeout=5) == ("h2t", b"ping", 2.0)
        release.put(None)
        clock.advance(0.5)
        term.sendall(b"pong")
        assert host.recv(64) == b"pong"
        assert seen.get(timeout=5) == ("t2h", b"pong", 2.5)
        release.put(None)
        term.close()
        assert seen.get(timeout=5) == ("t2h", "close", 2.5)
        assert host.recv(64) == b""  # closed as a cable pull would
        host.close()
        assert tap.is_alive()
    finally:
        tap.stop()
        server.close()
    assert not tap.is_alive()
    assert tap.error is None
    tap.stop()  # idempotent


def test_a_refused_terminal_is_open_then_close_and_the_host_is_closed() -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    events: queue.Queue[tuple[str, str, float]] = queue.Queue()
    tap = Tap("tcp://127.0.0.1:0", f"tcp://127.0.0.1:{port}", lambda d, b, t: None,
              lambda d, e, t: events.put((d, e, t)), clock=lambda: 7.0)
    tap.start()
    try:
        host = _host(tap.host_url)
        assert events.get(timeout=5) == ("h2t", "open", 0.0)
        assert events.get(timeout=5) == ("t2h", "close", 0.0)
        assert host.recv(64) == b""
        host.close()
    finally:
        tap.stop()


def test_a_failure_in_the_thread_is_re_raised_by_stop() -> None:
    server, term_url = _terminal()

    def on_bytes(direction: str, data: bytes, t: float) -> None:
        raise ValueError("disk full")

    tap = Tap("tcp://127.0.0.1:0", term_url, on_bytes)
    tap.start()
    try:
        assert _send_until_it_fails(tap, server, b"x") == b"x"  # forwarded before the failure
    finally:
        server.close()
        with pytest.raises(TransportError, match="--tap: disk full"):
            tap.stop()
    assert isinstance(tap.error, ValueError)


def test_mixed_transports_name_the_option() -> None:
    with pytest.raises(ConfigError, match=r"^--between: host side 'pty' is serial but terminal "
                                          r"side 'tcp://127\.0\.0\.1:9' is tcp"):
        Tap("pty", "tcp://127.0.0.1:9", lambda d, b, t: None, name="--between")


def test_recorder_is_the_tap_plus_the_writer(tmp_path: Path) -> None:
    clock = ManualClock(START)
    server, term_url = _terminal()
    out = tmp_path / "s.jsonl"
    rec = Recorder("tcp://127.0.0.1:0", term_url, out, clock=clock.monotonic, wall=clock.now)
    rec.start()
    try:
        clock.advance(1)
        host = _host(rec.host_url)
        term, _ = server.accept()
        term.settimeout(5)
        host.sendall(b"hello")
        assert term.recv(64) == b"hello"
        clock.advance(1)
        term.sendall(b"world")
        assert host.recv(64) == b"world"
        host.close()
        assert term.recv(64) == b""  # the host's close closed the terminal's connection
        term.close()
    finally:
        trailer = rec.stop()
        server.close()
    cap = read_capture(out)
    assert cap.header.started == START
    assert [(c.t, c.dir, c.event or c.data) for c in cap.chunks] == [
        (1.0, "h2t", "open"), (1.0, "h2t", b"hello"), (2.0, "t2h", b"world"),
        (2.0, "h2t", "close")]
    assert (trailer.t, trailer.bytes_h2t, trailer.bytes_t2h) == (2.0, 5, 5)


def test_recorder_failure_is_a_simulator_error_and_the_capture_is_closed(
        tmp_path: Path) -> None:
    server, term_url = _terminal()
    out = tmp_path / "s.jsonl"
    rec = Recorder("tcp://127.0.0.1:0", term_url, out)
    written = rec.writer.chunk

    def chunk(t: float, direction: str, data: bytes) -> None:
        written(t, direction, data)
        raise OSError("disk full")

    rec.writer.chunk = chunk  # type: ignore[method-assign]
    rec.start()
    try:
        assert _send_until_it_fails(rec, server, b"abc") == b"abc"
    finally:
        server.close()
        with pytest.raises(SimulatorError, match="^recorder failed: disk full$"):
            rec.stop()
    cap = read_capture(out)
    assert cap.trailer is not None
    assert cap.trailer.bytes_h2t == 3
