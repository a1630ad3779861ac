"""Drive a client flow over the sans-I/O core and the simulator's terminal in memory.

Both helpers run on the manual clock of a :func:`client_rig.loop_emulated` terminal
(``stationlink_sim.loop``): nothing sleeps, every timer is decided by the clock.
"""

from __future__ import annotations

import random
from datetime import datetime

from client_rig import Emulated

from stationlink.client import Terminal, TransactionResult
from stationlink.client._core import Answer, Operations, Report, Send, TakeLate, Wait
from stationlink.clock import ManualClock
from stationlink.money import CST
from stationlink.protocol import (
    HostConnection,
    LateResponse,
    Message,
    RequestFailed,
    ResponseReceived,
    Transport,
)
from stationlink_sim.loop import LoopStream

HOST_TIME = datetime(2026, 5, 1, 9, 0, tzinfo=CST)


def drive(emu: Emulated, transport: Transport, seed: int, clock: ManualClock) -> TransactionResult:
    """One ``pay_bill`` flow of :class:`Operations` over a bare :class:`HostConnection`."""
    loop = LoopStream(emu.session, clock)
    identity = emu.device.identity
    host = HostConnection(identity.dialect, transport, card_key=identity.card_key,
                          clock=clock.monotonic, first_seq=seed * 100 + 1,
                          heartbeat_interval=None)
    ops = Operations(random.Random(seed), host_time=lambda: HOST_TIME)
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
                    back = loop.exchange(host.data_to_send())
                    events = host.receive_data(back) if back else []
                    if not back:
                        deadlines = [d for d in (host.next_deadline(),
                                                 emu.session.next_deadline()) if d is not None]
                        clock.advance(max(0.0, min(deadlines) - clock.monotonic()))
                        events = host.handle_timeout()
                        timed = loop.tick()  # the terminal's own timers (serial resends)
                        if timed:
                            events += host.receive_data(timed)
                    for ev in events:
                        if isinstance(ev, ResponseReceived):
                            answers[ev.seq] = Answer(ev.seq, ev.response, None, request=ev.request)
                        elif isinstance(ev, RequestFailed):
                            answers[ev.seq] = Answer(ev.seq, None, ev, request=ev.request)
                        elif isinstance(ev, LateResponse):
                            late.setdefault(ev.response.header.seq, []).append(ev.response)
                reply = answers.pop(seq)
                loop.exchange(host.data_to_send())  # the ACK of the answer (serial)
            elif isinstance(command, Wait):
                clock.advance(command.seconds)
            elif isinstance(command, TakeLate):
                reply = tuple(late.pop(command.seq, ()))
            elif isinstance(command, Report):
                reports.append(command.event)
            command = flow.send(reply)
    except StopIteration as stop:
        result: TransactionResult = stop.value
        return result


def loop_terminal(emu: Emulated, clock: ManualClock, seed: int, **timers: float) -> Terminal:
    """A real :class:`Terminal` over a fresh :class:`LoopStream` (a new link each time)."""
    stream = LoopStream(emu.session, clock)
    identity = emu.device.identity
    conn = HostConnection(identity.dialect, emu.session.transport, card_key=identity.card_key,
                          clock=clock.monotonic, first_seq=seed * 97 + 1,
                          heartbeat_interval=None, **timers)
    return Terminal(stream, conn, rng=random.Random(seed),  # type: ignore[arg-type]
                    clock=clock.monotonic, host_time=lambda: HOST_TIME, busy_wait=0.5)
