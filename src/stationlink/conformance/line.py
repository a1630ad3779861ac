"""What the device may still send on the serial line, by the protocol's timers: how the kit
knows the link is settled before a case starts.

Contract:
- One :class:`Line` is shared by every serial :class:`~.wire.Wire` of a run (one device, one
  line: what a case leaves pending arrives on the next case's link). The wire reports each
  frame of the device's dialect it sends (:meth:`Line.request_sent`; a damaged, truncated or
  other-dialect frame is owed nothing) and each ACK it sends (:meth:`Line.host_acked`), and
  what it receives (:meth:`Line.device_ack`, :meth:`Line.device_nak`,
  :meth:`Line.device_frame`). Times are the kit's monotonic clock.
- :meth:`Line.busy_until` is the latest time at which the device may still send something,
  by docs/protocol.md §2.1 and §2.3, each limit plus :data:`SLACK` and the frame's wire time:
  a request not yet ACKed may be ACKed until T2 after it was sent (the kit's tolerance for a
  late ACK everywhere but CF-ACK-TIMER, which judges T1), and its answer follows; a request
  ACKed is answered within its T2 (10 s money-moving, 3 s others) of the ACK; a device frame
  the kit has not ACKed is retransmitted within T1 (at most 3 times: after the last, T1 of
  silence ends its budget).
- A request is settled by its answer, by a NAK (a damaged frame is not acted on), or by the
  answer to a later request (stop-and-wait, §2.1: the device answers in order, so an older
  request still unanswered then never will be, e.g. a duplicate whose response was
  delivered). A device frame is settled by the host's ACK.
- Nothing here reads or writes the link; the wire drains it until :meth:`busy_until` has
  passed (:meth:`~.wire.Wire.drain`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..protocol import MONEY_MOVING, T1_DEFAULT, T2_MONEY_DEFAULT, T2_OTHER_DEFAULT

SLACK = 0.25  # seconds of scheduling tolerance on the host running the kit


@dataclass
class _Request:
    seq: int
    money: bool
    sent: float  # when its last byte left (clock)
    acked: float | None = None

    def until(self) -> float:
        if self.acked is None:  # a late ACK may still come, and the answer after it
            return self.sent + T2_OTHER_DEFAULT + SLACK
        return self.acked + (T2_MONEY_DEFAULT if self.money else T2_OTHER_DEFAULT) + SLACK


@dataclass
class Line:
    """The exchanges on the line the device may still add to (see the module docstring)."""

    requests: list[_Request] = field(default_factory=list)
    retransmit_until: float = 0.0  # a device frame not ACKed: its next copy is due by then

    def request_sent(self, msg_type: int, seq: int, done: float) -> None:
        """A frame of the device's dialect sent, its last byte on the wire at ``done``."""
        self.requests = [r for r in self.requests if r.until() > done]  # past their timers
        self.requests.append(_Request(seq, msg_type in MONEY_MOVING, done))

    def host_acked(self) -> None:
        self.retransmit_until = 0.0

    def device_ack(self, at: float) -> None:
        """An ACK: of the oldest request not ACKed yet (ACKs come in order)."""
        waiting = next((r for r in self.requests if r.acked is None), None)
        if waiting is not None:
            waiting.acked = at

    def device_nak(self) -> None:
        """A NAK: the oldest request not ACKed yet was refused and will not be answered."""
        waiting = next((r for r in self.requests if r.acked is None), None)
        if waiting is not None:
            self.requests.remove(waiting)

    def device_frame(self, seq: int, done: float, wire_time: float) -> None:
        """A frame from the device with ``seq``, its last byte read at ``done``: it answers
        that request and every older one; until the host ACKs it, a copy may follow."""
        last = max((i for i, r in enumerate(self.requests) if r.seq == seq), default=-1)
        del self.requests[: last + 1]
        self.retransmit_until = done + T1_DEFAULT + wire_time + SLACK

    def busy_until(self) -> float:
        """The latest time the device may still send something (0.0: nothing pending)."""
        return max([self.retransmit_until, *(r.until() for r in self.requests)])
