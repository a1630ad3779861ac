"""Drive a client flow over the sans-I/O core and an in-memory emulated terminal."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from client_emulator import EmulatedTerminal

from stationlink.client_core import Answer, Operations, Send, TakeLate, Wait
from stationlink.client_results import TransactionResult
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
    late: dict[int, Message] = {}
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
                            answers[ev.seq] = Answer(ev.seq, ev.response, None)
                        elif isinstance(ev, RequestFailed):
                            answers[ev.seq] = Answer(ev.seq, None, ev)
                        elif isinstance(ev, LateResponse):
                            late[ev.response.header.seq] = ev.response
                reply = answers.pop(seq)
                emu.step(host.data_to_send())  # the ACK of the answer (serial)
            elif isinstance(command, Wait):
                clock.now += command.seconds
            elif isinstance(command, TakeLate):
                reply = late.pop(command.seq, None)
            command = flow.send(reply)
    except StopIteration as stop:
        result: TransactionResult = stop.value
        return result
