"""Host-role connection: requests out, matched responses in, timers (sans-I/O, h11 style).

Contract:
- :class:`HostConnection` is the station PC's end of one terminal link. The caller feeds
  received bytes to ``receive_data`` and gets :mod:`~stationlink.protocol.events` back,
  writes ``data_to_send()`` after every call, and calls ``handle_timeout(now)`` once
  ``next_deadline()`` has passed. No I/O, no threads, no sleeping: time is the injected
  ``clock`` (monotonic seconds).
- ``send_request(msg)`` stamps a fresh header on ``msg`` (type from its class, the next
  sequence number, the terminal id: ``"00000000"`` until an IDENTIFY_RESP names it) and
  returns the seq. Every request ends in exactly one
  :class:`ResponseReceived` or :class:`RequestFailed`. A response is matched by seq only
  (and must be of the request's response type or an ErrorReply); a response with an
  unknown or expired seq becomes a :class:`LateResponse` and is never matched to another
  request. A late response's seq is never handed out again while it is remembered (the
  last 256 finished seqs).
- Timers: T1 (link, serial, 1 s) with 3 retransmissions; T2, the response timer, 10 s for
  money-moving requests (``MONEY_MOVING``) and 3 s for the others, started when the request
  frame is ACKed (serial) or queued (TCP). TCP heartbeat: after ``heartbeat_interval``
  (15 s) without any frame in either direction an ECHO goes out; each ECHO left unanswered
  for another interval is a miss, and ``heartbeat_misses`` (2) misses in a row give
  :class:`PeerDead` and fail every pending request. Any good frame from the peer resets the
  count.
- Outstanding requests: one at a time on serial (terminals are half-duplex);
  up to ``max_outstanding`` (8) pipelined on TCP, matched by seq. Heartbeats do not count.
- A request is never resent by this class: a money-moving request that failed has an
  unknown outcome; ask with a ``StatusQuery`` (see ``stationlink.client``).
- TCP: any rejected stretch means the stream lost sync; every pending request fails
  (``FailureReason.LINK``) and the connection is ``broken`` (drop and reconnect).

Request life cycle::

    send_request --> AWAIT_ACK --(ACK; TCP: at once)--> AWAIT_RESPONSE --(response)--> done
                        |                                   |   ResponseReceived
                        | 1 + 3 transmissions not ACKed     | T2 expired / undecodable /
                        v                                   v   peer dead / closed
                     RequestFailed(LINK)                 RequestFailed(...)
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass

from ..clock import MonotonicClock
from ..errors import DecodeError, LinkError, LinkFailedError, ProtocolError
from ._codec import peek_header
from ._end import LinkEnd
from ._framing import Transport
from ._link import (
    MAX_RETRANSMITS_DEFAULT,
    T1_DEFAULT,
    BodyDelivered,
    BodyFailed,
    BodyReceived,
    LinkEvent,
)
from .events import (
    FailureReason,
    HostEvent,
    LateResponse,
    LinkFault,
    PeerDead,
    RequestFailed,
    ResponseReceived,
    UndecodableMessage,
    UnexpectedMessage,
)
from .messages import (
    MONEY_MOVING,
    REQUEST_CODE,
    RESPONSE_CODE,
    Dialect,
    EchoRequest,
    ErrorReply,
    Header,
    IdentifyResponse,
    Message,
    MsgType,
)

T2_MONEY_DEFAULT = 10.0
T2_OTHER_DEFAULT = 3.0
HEARTBEAT_INTERVAL_DEFAULT = 15.0
HEARTBEAT_MISSES_DEFAULT = 2
_REMEMBERED = 256
UNKNOWN_TERMINAL = "00000000"  # header terminal id before IDENTIFY has told us the real one


@dataclass(slots=True)
class _Pending:
    request: Message
    t2: float
    deadline: float | None  # None while waiting for the link ACK


class HostConnection(LinkEnd):
    """The host (station PC) end of one terminal link. See the module docstring."""

    def __init__(
        self,
        dialect: Dialect,
        transport: Transport,
        *,
        card_key: bytes,
        clock: MonotonicClock,
        terminal_id: str = UNKNOWN_TERMINAL,
        first_seq: int = 1,
        t1: float = T1_DEFAULT,
        max_retransmits: int = MAX_RETRANSMITS_DEFAULT,
        t2_money: float = T2_MONEY_DEFAULT,
        t2_other: float = T2_OTHER_DEFAULT,
        heartbeat_interval: float | None = HEARTBEAT_INTERVAL_DEFAULT,
        heartbeat_misses: int = HEARTBEAT_MISSES_DEFAULT,
        max_outstanding: int = 8,
        byte_time: float = 0.0,
    ) -> None:
        super().__init__(
            dialect, transport, terminal_id=terminal_id, card_key=card_key, clock=clock,
            t1=t1, max_retransmits=max_retransmits, byte_time=byte_time,
        )
        self.t2_money, self.t2_other = t2_money, t2_other
        serial = self.transport is Transport.SERIAL
        self.max_outstanding = 1 if serial else max_outstanding
        self.heartbeat_interval = None if serial else heartbeat_interval
        self.heartbeat_misses = heartbeat_misses
        self._next_seq = first_seq % 65536
        self._pending: dict[int, _Pending] = {}
        self._finished: OrderedDict[int, str] = OrderedDict()  # seq -> expired/duplicate
        self._heartbeats: set[int] = set()
        self._hb_seq: int | None = None  # outstanding heartbeat
        self._hb_sent = 0.0
        self._missed = 0
        self._last_activity = clock()
        self.dead = False
        self.broken = False

    # ----------------------------------------------------------------- requests

    @property
    def outstanding(self) -> tuple[int, ...]:
        """Seqs of requests still waiting for an answer."""
        return tuple(self._pending)

    def _alloc_seq(self) -> int:
        for _ in range(65536):
            seq = self._next_seq
            self._next_seq = (seq + 1) % 65536
            if seq not in self._pending and seq not in self._finished:
                if seq not in self._heartbeats:
                    return seq
        raise LinkError("no free sequence number")  # pragma: no cover - needs 65536 pending

    def send_request(
        self, msg: Message, *, timeout: float | None = None, retransmits: int | None = None
    ) -> int:
        """Queue a request; returns its seq. ``msg.header`` is replaced.

        ``timeout`` overrides T2 for this request, ``retransmits`` the serial retransmission
        limit (dialect detection probes with 0). Raises ``LinkFailedError`` when the peer is
        dead or the TCP stream broken, ``LinkError`` when the outstanding limit is reached.
        """
        code = REQUEST_CODE.get(type(msg))
        if code is None:
            raise ValueError(f"{type(msg).__name__} is not a request message")
        if self.dead or self.broken:
            raise LinkFailedError("the connection is dead; reconnect")
        if len(self._pending) >= self.max_outstanding:
            raise LinkError(f"{len(self._pending)} request(s) already outstanding")
        seq = self._alloc_seq()
        stamped: Message = dataclasses.replace(
            msg, header=Header(code, seq, self.terminal_id)
        )
        body = self.codec.encode(stamped)
        t2 = timeout if timeout is not None else (
            self.t2_money if code in MONEY_MOVING else self.t2_other
        )
        now = self.clock()
        serial = self.transport is Transport.SERIAL
        self._pending[seq] = _Pending(stamped, t2, None if serial else now + t2)
        self.link.send_body(body, seq, retransmits=retransmits)
        self._last_activity = now
        return seq

    def _finish(self, seq: int, why: str) -> None:
        self._finished[seq] = why
        self._finished.move_to_end(seq)
        while len(self._finished) > _REMEMBERED:
            self._finished.popitem(last=False)

    def _fail(self, seq: int, reason: FailureReason, detail: str) -> RequestFailed:
        pending = self._pending.pop(seq)
        self.link.cancel(seq)
        self._finish(seq, "expired")
        return RequestFailed(seq, pending.request, reason, detail)

    def _fail_all(self, reason: FailureReason, detail: str) -> list[HostEvent]:
        return [self._fail(seq, reason, detail) for seq in list(self._pending)]

    # ---------------------------------------------------------------- receiving

    def receive_data(self, data: bytes) -> list[HostEvent]:
        """Feed bytes received from the terminal."""
        return self._link_events(self.link.receive_data(data))

    def connection_closed(self) -> list[HostEvent]:
        """The byte stream ended: report leftovers and fail every pending request."""
        failed = self._fail_all(FailureReason.CLOSED, "connection closed")
        events = self._link_events(self.link.close())
        self.broken = True
        return events + failed

    def _link_events(self, link_events: list[LinkEvent]) -> list[HostEvent]:
        events: list[HostEvent] = []
        for ev in link_events:
            if isinstance(ev, BodyReceived):
                events.extend(self._on_body(ev))
            elif isinstance(ev, BodyDelivered):
                pending = self._pending.get(ev.tag)
                if pending is not None and pending.deadline is None:
                    pending.deadline = self.clock() + pending.t2
            elif isinstance(ev, BodyFailed):
                if ev.tag in self._pending:
                    events.append(self._fail(
                        ev.tag, FailureReason.LINK,
                        f"{ev.reason}; not ACKed after {ev.attempts} transmission(s)",
                    ))
            elif isinstance(ev, LinkFault):
                events.append(ev)
                if self.transport is Transport.TCP and not self.broken:
                    self.broken = True
                    events.extend(self._fail_all(
                        FailureReason.LINK, f"TCP stream lost sync at offset {ev.offset}"
                    ))
        return events

    def _on_body(self, ev: BodyReceived) -> list[HostEvent]:
        self._last_activity = self.clock()
        self._missed = 0
        try:
            msg = self.codec.decode(ev.body)
        except ProtocolError as exc:
            return self._undecodable(ev, exc)
        seq = msg.header.seq
        if seq in self._heartbeats:
            self._heartbeats.discard(seq)
            if seq == self._hb_seq:
                self._hb_seq = None
            return []
        if type(msg) not in RESPONSE_CODE:
            return [UnexpectedMessage(msg, "the terminal sent a request to the host")]
        pending = self._pending.get(seq)
        if pending is None:
            return [LateResponse(msg, self._finished.get(seq, "unknown"))]
        expected = REQUEST_CODE[type(pending.request)] | 0x80
        if not isinstance(msg, ErrorReply) and RESPONSE_CODE[type(msg)] != expected:
            return [UnexpectedMessage(
                msg, f"seq {seq} is a {type(pending.request).__name__}, not answered by this"
            )]
        del self._pending[seq]
        self.link.cancel(seq)  # the answer proves the request arrived
        self._finish(seq, "duplicate")
        if isinstance(msg, IdentifyResponse) and self.terminal_id == UNKNOWN_TERMINAL:
            self.terminal_id = msg.header.terminal_id
        return [ResponseReceived(seq, pending.request, msg)]

    def _undecodable(self, ev: BodyReceived, exc: ProtocolError) -> list[HostEvent]:
        try:
            _, seq, _ = peek_header(ev.body)
        except (DecodeError, ProtocolError):
            return [UndecodableMessage(ev.offset, None, str(exc))]
        if seq in self._pending:
            return [self._fail(seq, FailureReason.BAD_RESPONSE, f"offset {ev.offset}: {exc}")]
        return [UndecodableMessage(ev.offset, seq, str(exc))]

    # ------------------------------------------------------------------- timers

    def _heartbeat_deadline(self) -> float | None:
        if self.heartbeat_interval is None or self.dead or self.broken:
            return None
        if self._hb_seq is not None:
            return self._hb_sent + self.heartbeat_interval
        return self._last_activity + self.heartbeat_interval

    def next_deadline(self) -> float | None:
        """The earliest time ``handle_timeout`` must be called, or ``None``."""
        candidates = [self.link.next_deadline(), self._heartbeat_deadline()]
        candidates += [p.deadline for p in self._pending.values()]
        present = [d for d in candidates if d is not None]
        return min(present) if present else None

    def handle_timeout(self, now: float | None = None) -> list[HostEvent]:
        """Run every timer that has expired at ``now`` (default: the clock)."""
        now = self.clock() if now is None else now
        events = self._link_events(self.link.handle_timeout(now))
        for seq, pending in list(self._pending.items()):
            if pending.deadline is not None and now >= pending.deadline:
                events.append(self._fail(
                    seq, FailureReason.TIMEOUT, f"no response within {pending.t2:g} s"
                ))
        hb_deadline = self._heartbeat_deadline()
        if hb_deadline is not None and now >= hb_deadline:
            events.extend(self._heartbeat(now))
        return events

    def _heartbeat(self, now: float) -> list[HostEvent]:
        if self._hb_seq is not None:
            self._missed += 1
            if self._missed >= self.heartbeat_misses:
                self.dead = True
                return [PeerDead(self._missed)] + self._fail_all(
                    FailureReason.PEER_DEAD, f"{self._missed} heartbeats unanswered"
                )
        seq = self._alloc_seq()
        self._hb_seq = seq
        self._heartbeats.add(seq)
        if len(self._heartbeats) > _REMEMBERED:
            self._heartbeats.discard(min(self._heartbeats))
        echo = EchoRequest(Header(MsgType.ECHO, seq, self.terminal_id), b"hb")
        self.link.send_body(self.codec.encode(echo), seq)
        self._hb_sent = now
        return []

    def data_to_send(self) -> bytes:
        """Bytes to write to the terminal now."""
        return self.link.data_to_send()


__all__ = [
    "UNKNOWN_TERMINAL",
    "HEARTBEAT_INTERVAL_DEFAULT",
    "HEARTBEAT_MISSES_DEFAULT",
    "T2_MONEY_DEFAULT",
    "T2_OTHER_DEFAULT",
    "HostConnection",
]
