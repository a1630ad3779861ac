"""Helpers of the deviation tests: a raw host end on a real pty or TCP socket.

The tests look at the bytes a terminal sends, so this end does no link logic of its own:
frames are built with the SDK's codec and framing, what comes back is read raw (with the
time each byte arrived) and cut with the SDK's deframer where the frames are valid.
"""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import serial

from stationlink.money import CST
from stationlink.protocol import (
    REQUEST_TYPES,
    Codec,
    Deframer,
    Dialect,
    FrameEvent,
    Header,
    Message,
    Transport,
    build_frame,
)
from stationlink_sim.serve import DEFAULT_CARD_KEY, RunningTerminal

HOST_TIME = datetime(2026, 3, 14, 9, 0, 0, tzinfo=CST)
CODE_OF = {cls: code for code, cls in REQUEST_TYPES.items()}


@dataclass
class Arrival:
    at: float  # monotonic seconds
    data: bytes


class RawHost:
    """The host end of one link to ``running``, raw bytes in and out."""

    def __init__(self, running: RunningTerminal, dialect: str | None = None) -> None:
        self.dialect = Dialect(dialect or running.config.dialect)
        self.transport = running.config.transport
        self.codec = Codec(self.dialect, DEFAULT_CARD_KEY)
        self.sock: socket.socket | None = None
        self.ser: serial.Serial | None = None
        if running.path is not None:
            self.ser = serial.Serial(running.path, 9600, timeout=0)
        else:
            host, port = running.port.url.removeprefix("tcp://").rsplit(":", 1)
            self.sock = socket.create_connection((host, int(port)), timeout=5)
            self.sock.setblocking(False)
        self.arrivals: list[Arrival] = []
        self.closed = False

    def close(self) -> None:
        if self.ser is not None:
            self.ser.close()
        if self.sock is not None:
            self.sock.close()

    def __enter__(self) -> RawHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ sending

    def frame(self, cls: type, seq: int, *, dialect: Dialect | None = None,
              **fields: Any) -> bytes:
        """The framed request ``cls(...)`` (in ``dialect``, default this link's)."""
        d = dialect or self.dialect
        msg: Message = cls(header=Header(CODE_OF[cls], seq, "00000000"), **fields)
        return build_frame(Codec(d, DEFAULT_CARD_KEY).encode(msg), d, self.transport)

    def send(self, data: bytes) -> float:
        """Write ``data``; the monotonic time the write finished."""
        if self.ser is not None:
            self.ser.write(data)
            self.ser.flush()
        else:
            assert self.sock is not None
            self.sock.sendall(data)
        return time.monotonic()

    # ------------------------------------------------------------------ reading

    def _fd(self) -> Any:
        return self.ser.fileno() if self.ser is not None else self.sock

    def read_for(self, seconds: float) -> bytes:
        """Everything that arrives within ``seconds`` (arrivals kept in ``arrivals``)."""
        return self.read_until(lambda _: False, seconds)

    def read_until(self, done: Any, timeout: float) -> bytes:
        """Read until ``done(bytes so far)`` or ``timeout`` seconds; the bytes read."""
        got = bytearray()
        end = time.monotonic() + timeout
        while not done(bytes(got)) and not self.closed:
            left = end - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([self._fd()], [], [], left)
            if not ready:
                continue
            if self.ser is not None:
                data = self.ser.read(4096)
            else:
                assert self.sock is not None
                try:
                    data = self.sock.recv(4096)
                except ConnectionResetError:
                    data = b""
                if not data:
                    self.closed = True
            if data:
                self.arrivals.append(Arrival(time.monotonic(), data))
                got += data
        return bytes(got)

    def frames(self, data: bytes) -> list[FrameEvent]:
        """The valid frames of this link's dialect in ``data``."""
        return [ev for ev in Deframer(self.dialect, self.transport).feed(data)
                if isinstance(ev, FrameEvent)]

    def has_frames(self, n: int, dialect: Dialect | None = None) -> Any:
        d = dialect or self.dialect

        def done(data: bytes) -> bool:
            events = Deframer(d, self.transport).feed(data)
            return sum(isinstance(ev, FrameEvent) for ev in events) >= n
        return done

    def ask(self, cls: type, seq: int, timeout: float = 5.0, **fields: Any) -> Message:
        """Send one request and return the decoded response (ACKing it on serial)."""
        self.send(self.frame(cls, seq, **fields))
        data = self.read_until(self.has_frames(1), timeout)
        frames = self.frames(data)
        assert frames, f"no answer to {cls.__name__} seq {seq}: {data.hex(' ')}"
        if self.transport is Transport.SERIAL:
            self.send(b"\x06")
        return self.codec.decode(frames[0].body)
