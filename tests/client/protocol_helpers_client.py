"""Drive a client flow over the sans-I/O core and an in-memory emulated terminal."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from client_emulator import EmulatedTerminal

from stationlink.client import Terminal, TransactionResult
from stationlink.client._core import Answer, Operations, Report, Send, TakeLate, Wait
from stationlink.protocol.connection import HostConnection
from stationlink.protocol.events import LateResponse, RequestFailed, ResponseReceived
from stationlink.protocol.framing import Transport
from stationlink.protocol.messages import Message


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def drive(emu: EmulatedTerminal, transport: Transport, seed: int) -> TransactionResult:
    clock = Clock()
    emu.conn.clock = clock
    emu.conn.link.clock = clock
    host = HostConnection(emu.dialect, transport, card_key=emu.card_key, clock=clock,
                          first_seq=seed * 100 + 1, heartbeat_interval=None)
    ops = Operations(random.Random(seed), host_time=lambda: datetime.now(
        timezone(timedelta(hours=8))))
    flow = ops.pay_bill("mobile", "13800000000", None, 5000)
    answers: dict[int, Answer] = {}
    late: dict[int, list[Message]] = {}
    reports: list[object] = []
    command = next(flow)
    try:
        while True:
            reply: object = None
            if isinstance(command, Send):
                seq = host.send_request(command.request)
                while seq not in answers:
                    back = emu.step(host.data_to_send())
                    events = host.receive_data(back) if back else []
                    if not back:
                        deadlines = [d for d in (host.next_deadline(),
                                                 emu.conn.next_deadline()) if d is not None]
                        clock.now = min(deadlines)
                        events = host.handle_timeout()
                        emu.conn.handle_timeout()
                    for ev in events:
                        if isinstance(ev, ResponseReceived):
                            answers[ev.seq] = Answer(ev.seq, ev.response, None, request=ev.request)
                        elif isinstance(ev, RequestFailed):
                            answers[ev.seq] = Answer(ev.seq, None, ev, request=ev.request)
                        elif isinstance(ev, LateResponse):
                            late.setdefault(ev.response.header.seq, []).append(ev.response)
                reply = answers.pop(seq)
                emu.step(host.data_to_send())  # the ACK of the answer (serial)
            elif isinstance(command, Wait):
                clock.now += command.seconds
            elif isinstance(command, TakeLate):
                reply = tuple(late.pop(command.seq, ()))
            elif isinstance(command, Report):
                reports.append(command.event)
            command = flow.send(reply)
    except StopIteration as stop:
        result: TransactionResult = stop.value
        return result


class LoopStream:
    """An in-memory byte stream to an :class:`EmulatedTerminal` on a fake clock.

    What the host writes is fed to the terminal at once; a read with nothing to read moves
    the fake clock on (to the read's timeout or the terminal's next timer) instead of
    sleeping, so the real client runner (:class:`~stationlink.client.Terminal`) runs its
    timers deterministically and fast."""

    byte_time = 0.0
    description = "in-memory loop"

    def __init__(self, emu: EmulatedTerminal, clock: Clock) -> None:
        self.emu, self.clock = emu, clock
        self.kind = emu.transport
        self.buffer = b""
        emu.conn.clock = clock
        emu.conn.link.clock = clock

    def write(self, data: bytes) -> None:
        self.buffer += self.emu.step(data)

    def read(self, timeout: float | None) -> bytes:
        if not self.buffer:
            target = self.clock.now + (1.0 if timeout is None else timeout)
            deadline = self.emu.conn.next_deadline()
            if deadline is not None and deadline < target:
                target = max(deadline, self.clock.now)
            self.clock.now = target
            if deadline is not None and self.clock.now >= deadline:
                self.emu.conn.handle_timeout()
                self.buffer += self.emu.conn.data_to_send()
        out, self.buffer = self.buffer, b""
        return out

    def close(self) -> None:
        self.buffer = b""


def loop_terminal(emu: EmulatedTerminal, clock: Clock, seed: int, **timers: float) -> Terminal:
    """A real :class:`Terminal` over a fresh :class:`LoopStream` (a new link each time)."""
    emu.new_connection()
    stream = LoopStream(emu, clock)
    conn = HostConnection(emu.dialect, emu.transport, card_key=emu.card_key, clock=clock,
                          first_seq=seed * 97 + 1, heartbeat_interval=None, **timers)
    return Terminal(stream, conn, rng=random.Random(seed), clock=clock,  # type: ignore[arg-type]
                    host_time=lambda: datetime(2026, 5, 1, 9, tzinfo=timezone(
                        timedelta(hours=8))), busy_wait=0.5)
