"""Property: over a link that drops, duplicates and garbles bytes, no request is executed
twice and no response is matched to the wrong request (sans-I/O core, fake clock)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocol_helpers import KEY, FakeClock, paid, payment

from stationlink.protocol._connection import HostConnection
from stationlink.protocol._framing import Transport
from stationlink.protocol._terminal import TerminalConnection
from stationlink.protocol.events import RequestFailed, RequestReceived, ResponseReceived
from stationlink.protocol.messages import BillPaymentRequest, BillPaymentResponse, Dialect

OPS = st.sampled_from(["ok", "ok", "ok", "drop", "dup", "garble", "split"])


class Channel:
    def __init__(self, ops: list[str], garble_at: list[int]) -> None:
        self.ops, self.garble_at, self.i = ops, garble_at, 0

    def carry(self, data: bytes) -> list[bytes]:
        if not data:
            return []
        op = self.ops[self.i % len(self.ops)]
        pos = self.garble_at[self.i % len(self.garble_at)] % len(data)
        self.i += 1
        if op == "drop":
            return []
        if op == "dup":
            return [data, data]
        if op == "garble":
            return [data[:pos] + bytes([data[pos] ^ 0x5A]) + data[pos + 1 :]]
        if op == "split":
            return [data[:pos], data[pos:]]
        return [data]


def run(dialect: Dialect, ops: list[str], garble_at: list[int], n_requests: int
        ) -> tuple[dict[str, int], list[object]]:
    clock = FakeClock()
    host = HostConnection(dialect, Transport.SERIAL, card_key=KEY, clock=clock, first_seq=1)
    term = TerminalConnection(dialect, Transport.SERIAL, terminal_id="T0000001",
                              card_key=KEY, clock=clock)
    up, down = Channel(ops, garble_at), Channel(ops[::-1], garble_at[::-1])
    executed: dict[str, int] = {}
    finished: list[object] = []
    refs = [f"{i:016x}" for i in range(n_requests)]
    host.send_request(payment(refs[0]))
    for _ in range(400):
        for chunk in up.carry(host.data_to_send()):
            for ev in term.receive_data(chunk):
                if isinstance(ev, RequestReceived):
                    req = ev.message
                    assert isinstance(req, BillPaymentRequest)
                    executed[req.client_ref] = executed.get(req.client_ref, 0) + 1
                    term.send_response(paid(req, cursor=len(executed)))
        for chunk in down.carry(term.data_to_send()):
            finished += [e for e in host.receive_data(chunk)
                         if isinstance(e, ResponseReceived | RequestFailed)]
        if not host.outstanding:
            done = len(finished)
            if done == n_requests:
                break
            host.send_request(payment(refs[done]))
            continue
        deadlines = [d for d in (host.next_deadline(), term.next_deadline()) if d is not None]
        clock.now = max(clock.now, min(deadlines)) if deadlines else clock.now + 1
        finished += [e for e in host.handle_timeout()
                     if isinstance(e, ResponseReceived | RequestFailed)]
        term.handle_timeout()
    return executed, finished


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    dialect=st.sampled_from(list(Dialect)),
    ops=st.lists(OPS, min_size=1, max_size=30),
    garble_at=st.lists(st.integers(0, 500), min_size=1, max_size=10),
    n_requests=st.integers(1, 4),
)
def test_lossy_serial_link_never_executes_twice(
    dialect: Dialect, ops: list[str], garble_at: list[int], n_requests: int
) -> None:
    executed, finished = run(dialect, ops, garble_at, n_requests)
    assert len(finished) == n_requests  # every request ended, one way or the other
    assert all(count == 1 for count in executed.values()), executed
    for ev in finished:
        if isinstance(ev, ResponseReceived):
            assert isinstance(ev.response, BillPaymentResponse)
            assert ev.response.record.client_ref == ev.request.client_ref  # type: ignore[union-attr]
            assert executed[ev.response.record.client_ref] == 1


def test_clean_channel_delivers_everything() -> None:
    executed, finished = run(Dialect.SL_2, ["ok"], [0], 3)
    assert executed == {f"{i:016x}": 1 for i in range(3)}
    assert [type(e) for e in finished] == [ResponseReceived] * 3


def test_every_request_frame_dropped_once_still_executes_once() -> None:
    executed, finished = run(Dialect.MISPOS_1, ["drop", "ok", "ok"], [0], 2)
    assert all(v == 1 for v in executed.values())
    assert len(finished) == 2
