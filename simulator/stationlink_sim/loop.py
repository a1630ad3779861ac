"""An emulated terminal in memory: a host byte stream wired to a session, on a manual clock.

Contract:
- :func:`loop_session` builds a :class:`~.session.TerminalSession` whose link timers run on
  a :class:`~stationlink.clock.ManualClock` (``clock.monotonic``); the device is any
  :class:`~.device.EmulatedTerminal`, a ``script`` may be attached.
- :class:`LoopStream` is a host-side byte stream (the shape of
  :class:`stationlink.transport.base.ByteStream`) to that session; each one is a new byte
  stream for the terminal (``connection_made``), the journal stays. What the host writes is
  fed to the terminal at once and its answers are buffered; a read with nothing to read
  moves the manual clock on (to the read's timeout or the terminal's next link timer,
  whichever is first) and runs the terminal's timers, instead of sleeping. So the real
  client runner (``Terminal`` over a ``HostConnection`` on the same clock) runs its timers
  deterministically and fast: a property test can run hundreds of exchanges in a second.
- :meth:`LoopStream.exchange` (bytes in, the terminal's bytes out) and :meth:`LoopStream.tick`
  serve a test that drives a sans-I/O host connection by hand.
- Delays of ``split`` faults are not modelled (chunks are delivered at once); when the
  terminal closes the connection (TCP: garbage with ``close_on_garbage``, a ``disconnect``
  or ``power_cycle`` event) a read raises :class:`~stationlink.errors.TransportError`.
"""

from __future__ import annotations

from stationlink.clock import ManualClock
from stationlink.errors import TransportError
from stationlink.protocol import Transport

from .device import EmulatedTerminal
from .faults import FaultSpec
from .script import Script
from .session import TerminalSession


def loop_session(device: EmulatedTerminal, transport: Transport, clock: ManualClock, *,
                 faults: FaultSpec | None = None, script: Script | None = None,
                 seed: int = 0, close_on_garbage: bool = True) -> TerminalSession:
    """A session of ``device`` whose link timers run on ``clock``."""
    return TerminalSession(device, transport, faults or FaultSpec(), seed=seed,
                           monotonic=clock.monotonic, close_on_garbage=close_on_garbage,
                           script=script)


class LoopStream:
    """A host's byte stream to ``session`` in memory (see the module docstring)."""

    byte_time = 0.0
    description = "in-memory loop"

    def __init__(self, session: TerminalSession, clock: ManualClock) -> None:
        self.session, self.clock = session, clock
        self.kind: Transport = session.transport
        self.buffer = b""
        self.closed = False
        session.connection_made()
        self._generation = session.stats["connections"]  # which byte stream is ours

    def _drain(self) -> bytes:
        out = b"".join(chunk.data for chunk in self.session.outbox)
        self.session.outbox.clear()
        if self.session.wants_disconnect:
            self.closed = True
        return out

    def exchange(self, data: bytes) -> bytes:
        """Feed the host's ``data`` to the terminal; every byte it has to send back."""
        if data:
            self.session.receive(data)
        return self._drain()

    def tick(self) -> bytes:
        """Run the terminal's due timers; what it sends because of them."""
        self.session.tick()
        return self._drain()

    def write(self, data: bytes) -> None:
        if self.closed:
            raise TransportError(f"{self.description}: the terminal closed the connection")
        self.buffer += self.exchange(data)

    def read(self, timeout: float | None) -> bytes:
        if not self.buffer:
            if self.closed:
                raise TransportError(f"{self.description}: the terminal closed the connection")
            now = self.clock.monotonic()
            target = now + (1.0 if timeout is None else timeout)
            deadline = self.session.next_deadline()
            if deadline is not None and deadline < target:
                target = max(deadline, now)
            self.clock.advance(target - now)
            self.buffer += self.tick()
        out, self.buffer = self.buffer, b""
        return out

    def close(self) -> None:
        self.buffer = b""
        current = self.session.stats["connections"] == self._generation
        if not self.closed and current:  # a newer stream may have replaced this one
            self.session.connection_lost()
        self.closed = True
