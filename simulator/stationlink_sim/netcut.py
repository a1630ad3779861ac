"""A TCP proxy whose network you control: :class:`NetCut` (fault tests, integrator drills).

Contract:
- Listens on ``host:0`` (``address`` / ``url`` once constructed) and forwards every accepted
  connection to ``upstream`` (``set_upstream`` changes it for new connections: a restarted
  server on another port), in one background thread using ``selectors`` (Windows and Linux).
- Modes: ``pass`` (forward), ``blackhole`` (accept and read, forward nothing, answer
  nothing: requests vanish and clients time out), ``refuse`` (accept and reset at once).
  :meth:`cut` resets every open connection (``SO_LINGER`` 0: the peers see a reset).
  Switching mode to ``blackhole`` or ``refuse`` also cuts the open connections.
- ``stats``: connections accepted, cut, bytes forwarded each way. :meth:`close` stops the
  thread and closes every socket (no ResourceWarning).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
from collections import Counter
from contextlib import AbstractContextManager
from typing import Literal

from stationlink.errors import TransportError

Mode = Literal["pass", "blackhole", "refuse"]
READ = 65536


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class NetCut(AbstractContextManager["NetCut"]):
    """See the module contract."""

    def __init__(self, upstream: tuple[str, int], *, host: str = "127.0.0.1",
                 connect_timeout: float = 2.0) -> None:
        self.upstream = upstream
        self.connect_timeout = connect_timeout
        self.mode: Mode = "pass"
        self.stats: Counter[str] = Counter()
        try:
            self._listener = socket.create_server((host, 0))
        except OSError as exc:
            raise TransportError(f"netcut: cannot listen on {host}: {exc}") from exc
        self._listener.setblocking(False)
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ, "accept")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._peer: dict[socket.socket, socket.socket | None] = {}  # None: held, not forwarded
        self._client_side: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._commands: list[str] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="netcut", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.address[0]}:{self.address[1]}"

    # ------------------------------------------------------------------ control

    def _command(self, name: str) -> None:
        with self._lock:
            self._commands.append(name)
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        if mode != "pass":
            self._command("cut")

    def set_upstream(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream

    def cut(self) -> None:
        """Reset every open connection (new ones are handled by the current mode)."""
        self._command("cut")

    def close(self) -> None:
        self._stop = True
        self._command("stop")
        self._thread.join(timeout=10.0)
        for sock in list(self._peer):
            _reset(sock)
        self._peer.clear()
        self._sel.close()
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ loop

    def _drop(self, sock: socket.socket) -> None:
        other = self._peer.pop(sock, None)
        self._client_side.discard(sock)
        if other is not None:
            self._client_side.discard(other)
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(sock)
        _reset(sock)
        if other is not None:
            self._peer.pop(other, None)
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(other)
            _reset(other)

    def _cut_all(self) -> None:
        for sock in list(self._peer):
            if sock in self._peer:
                self.stats["cut"] += 1
                self._drop(sock)

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        self.stats["accepted"] += 1
        if self.mode == "refuse":
            _reset(client)
            return
        if self.mode == "blackhole":
            client.setblocking(False)
            self._peer[client] = None
            self._sel.register(client, selectors.EVENT_READ, "conn")
            return
        try:
            up = socket.create_connection(self.upstream, timeout=self.connect_timeout)
        except OSError:
            self.stats["upstream_failed"] += 1
            _reset(client)
            return
        for s in (client, up):
            s.setblocking(True)
            s.settimeout(self.connect_timeout)
        self._peer[client], self._peer[up] = up, client
        self._sel.register(client, selectors.EVENT_READ, "conn")
        self._sel.register(up, selectors.EVENT_READ, "conn")
        self._client_side.add(client)

    def _forward(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(READ)
        except OSError:
            data = b""
        if not data:
            self._drop(sock)
            return
        other = self._peer.get(sock)
        if other is None or self.mode != "pass":
            self.stats["discarded_bytes"] += len(data)
            return
        try:
            other.sendall(data)
        except OSError:
            self._drop(sock)
            return
        side = "up" if sock in self._client_side else "down"
        self.stats[f"bytes_{side}"] += len(data)

    def _run(self) -> None:
        while not self._stop:
            for key, _ in self._sel.select(timeout=0.5):
                role = key.data
                if role == "accept":
                    self._accept()
                elif role == "wake":
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                    with self._lock:
                        commands, self._commands = self._commands, []
                    if "cut" in commands:
                        self._cut_all()
                    if "stop" in commands:
                        return
                elif key.fileobj in self._peer:
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)  # noqa: S101 - registered sockets
                    self._forward(sock)
