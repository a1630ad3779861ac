"""The link layer: frames out, bodies in, ACK/NAK and retransmission on serial (sans-I/O).

Contract:
- :class:`Link` turns message bodies into frames (``framing.build_frame``) and received bytes
  into :data:`LinkEvent` s (``framing.Deframer``). It never touches a port or a socket: the
  caller feeds ``receive_data(bytes)``, writes whatever ``data_to_send()`` returns, and calls
  ``handle_timeout(now)`` once ``next_deadline()`` has passed. Time comes from the injected
  ``clock`` (monotonic seconds).
- Serial rules: a good frame is answered with ACK (0x06), a frame whose checksum fails with
  NAK (0x15); other garbage is skipped silently (reported as :class:`~.events.LinkFault`) and the
  deframer resynchronises on the next STX whose frame checks out. One frame at a time is in
  flight; it is retransmitted on NAK or when no ACK arrives within ``t1`` (1.0 s by default,
  plus the frame's own wire time ``len(frame) * byte_time``), at most ``max_retransmits``
  (3) times, then reported as :class:`BodyFailed` and the next queued frame goes out.
  Duplicate suppression is *not* done here (a retransmitted frame is ACKed again and passed
  up again); the connection layer suppresses it by sequence number.
- TCP: frames are written as they are queued; there is no ACK/NAK, no retransmission and
  no :class:`BodyDelivered` event. Rejected stretches are still reported.
- T1 runs from the moment ``data_to_send()`` hands the frame to the caller.
- Serial receive idle timer: when received bytes are held back (a candidate frame that is
  not complete yet) and nothing more arrives for ``rx_idle`` seconds (0.5 s), the deframer
  is told to give up on them (``Deframer.expire``) so the frames behind a false STX are
  recovered. TCP never expires a partial frame (segments may be slow).

Serial sender, one frame in flight::

                send_body / next in queue
      IDLE ----------------------------------> QUEUED (frame in output buffer)
       ^                                          | data_to_send(): T1 armed
       |   ACK: BodyDelivered                     v
       +------------------------------------- AWAIT_ACK <-----------------+
       |                                          | NAK or T1 expired     |
       |   attempts > max_retransmits:            v                       |
       +------------ BodyFailed ------------ attempts <= max? -- yes -----+
                                                  (retransmit, T1 re-armed)

A stray ACK/NAK (nothing in flight) is counted in :attr:`Link.stats` and otherwise ignored.
Note that ACKs carry no sequence number: a late ACK for a retransmitted frame may be taken
for the ACK of the next frame. The connection layer copes (response timer, status query).
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass

from ..clock import MonotonicClock
from ._framing import ACK, NAK, Deframer, FrameEvent, LinkByte, Rejected, Transport, build_frame
from .events import LinkFault
from .messages import Dialect

T1_DEFAULT = 1.0
RX_IDLE_DEFAULT = 0.5  # s of silence after which a partial serial frame is dropped (§1.3)
MAX_RETRANSMITS_DEFAULT = 3


@dataclass(frozen=True, slots=True)
class BodyReceived:
    """A frame that checked out; ``offset`` is its position in the received byte stream."""

    offset: int
    body: bytes


@dataclass(frozen=True, slots=True)
class BodyDelivered:
    """Serial only: the peer ACKed the frame sent with ``tag``."""

    tag: int


@dataclass(frozen=True, slots=True)
class BodyFailed:
    """The frame sent with ``tag`` was not ACKed after ``attempts`` transmissions, or the
    link was closed before it was."""

    tag: int
    attempts: int
    reason: str


#: A stretch of received bytes that was skipped is the public :class:`~.events.LinkFault`
#: (``nak_sent`` if it was answered by NAK): both connections pass it up as it is.
LinkEvent = BodyReceived | BodyDelivered | BodyFailed | LinkFault


@dataclass(slots=True)
class _Outgoing:
    tag: int
    frame: bytes
    retransmits: int
    attempts: int = 0  # transmissions handed out so far
    handed_out: bool = False  # at least one copy left through data_to_send()
    arm_pending: bool = False  # a copy sits in the output buffer; arm T1 on hand-out
    deadline: float | None = None


class Link:
    """One end of a framed link; the same class serves host and terminal.

    ``byte_time`` is the wire time of one byte in seconds (``10 / baud`` on serial, 0 for
    TCP); it extends T1 by the frame's own transmission time.
    """

    def __init__(
        self,
        dialect: Dialect,
        transport: Transport,
        clock: MonotonicClock,
        *,
        t1: float = T1_DEFAULT,
        max_retransmits: int = MAX_RETRANSMITS_DEFAULT,
        byte_time: float = 0.0,
        max_body: int = 1024,
        rx_idle: float = RX_IDLE_DEFAULT,
    ) -> None:
        if t1 <= 0 or max_retransmits < 0 or byte_time < 0:
            raise ValueError("t1 must be > 0, max_retransmits and byte_time >= 0")
        self.dialect = dialect
        self.transport = transport
        self.clock = clock
        self.t1 = t1
        self.max_retransmits = max_retransmits
        self.byte_time = byte_time
        self._deframer = Deframer(dialect, transport, max_body=max_body)
        self._out = bytearray()
        self._queue: deque[_Outgoing] = deque()
        self._inflight: _Outgoing | None = None
        self._closed = False
        self.rx_idle = rx_idle
        self._rx_total = 0  # bytes fed to the deframer
        self._rx_accounted = 0  # stream offset up to which events have been reported
        self._rx_idle_deadline: float | None = None
        self.stats: Counter[str] = Counter()

    # ------------------------------------------------------------------ sending

    @property
    def serial(self) -> bool:
        return self.transport is Transport.SERIAL

    def send_body(self, body: bytes, tag: int, *, retransmits: int | None = None) -> None:
        """Queue ``body`` for sending; events about it carry ``tag``.

        ``retransmits`` overrides ``max_retransmits`` for this frame (serial only; dialect
        detection probes with 0).
        """
        if self._closed:
            raise ValueError("link is closed")
        frame = build_frame(body, self.dialect, self.transport)
        self.stats["frames_sent"] += 1
        if not self.serial:
            self._out += frame
            return
        limit = self.max_retransmits if retransmits is None else retransmits
        self._queue.append(_Outgoing(tag, frame, limit))
        self._start_next()

    def cancel(self, tag: int) -> bool:
        """Stop sending/retransmitting the frame with ``tag`` (e.g. its answer arrived, which
        proves the peer got it). Returns whether anything was cancelled. A copy already in
        the output buffer still goes out."""
        if self._inflight is not None and self._inflight.tag == tag:
            self._inflight = None
            self._start_next()
            return True
        for item in self._queue:
            if item.tag == tag:
                self._queue.remove(item)
                return True
        return False

    def pending_tags(self) -> tuple[int, ...]:
        """Tags of frames queued or in flight (serial)."""
        head = () if self._inflight is None else (self._inflight.tag,)
        return head + tuple(item.tag for item in self._queue)

    def data_to_send(self) -> bytes:
        """Bytes to write now (frames, ACKs, NAKs). Arms T1 for a frame handed out."""
        data = bytes(self._out)
        self._out.clear()
        item = self._inflight
        if item is not None and item.arm_pending:
            item.arm_pending = False
            item.handed_out = True
            item.deadline = self.clock() + self.t1 + len(item.frame) * self.byte_time
        return data

    def _start_next(self) -> None:
        if self._inflight is None and self._queue:
            self._inflight = self._queue.popleft()
            self._transmit(self._inflight)

    def _transmit(self, item: _Outgoing) -> None:
        item.attempts += 1
        item.arm_pending = True
        item.deadline = None
        self._out += item.frame
        if item.attempts > 1:
            self.stats["retransmissions"] += 1

    def _retry_or_fail(self, item: _Outgoing, reason: str) -> list[LinkEvent]:
        if item.attempts <= item.retransmits:
            self._transmit(item)
            return []
        self._inflight = None
        self.stats["send_failures"] += 1
        self._start_next()
        return [BodyFailed(item.tag, item.attempts, reason)]

    # ---------------------------------------------------------------- receiving

    def receive_data(self, data: bytes) -> list[LinkEvent]:
        """Feed received bytes; returns what they meant."""
        self._rx_total += len(data)
        events = self._interpret(self._deframer.feed(data))
        if self.serial and self._rx_accounted < self._rx_total:
            self._rx_idle_deadline = self.clock() + self.rx_idle
        else:
            self._rx_idle_deadline = None
        return events

    def _interpret(self, deframed: list[FrameEvent | LinkByte | Rejected]) -> list[LinkEvent]:
        events: list[LinkEvent] = []
        for ev in deframed:
            end = ev.offset + (
                len(ev.raw) if isinstance(ev, FrameEvent)
                else ev.length if isinstance(ev, Rejected) else 1
            )
            self._rx_accounted = max(self._rx_accounted, end)
            if isinstance(ev, FrameEvent):
                self.stats["frames_received"] += 1
                if self.serial:
                    self._out.append(ACK)
                    self.stats["ack_sent"] += 1
                events.append(BodyReceived(ev.offset, ev.body))
            elif isinstance(ev, Rejected):
                events.append(self._rejected(ev))
            elif isinstance(ev, LinkByte):
                events.extend(self._link_byte(ev))
        return events

    def _rejected(self, ev: Rejected) -> LinkFault:
        nak = self.serial and ev.checksum_failed
        self.stats["rejected"] += 1
        if nak:
            self._out.append(NAK)
            self.stats["nak_sent"] += 1
        return LinkFault(ev.offset, ev.length, ev.reason, nak)

    def _link_byte(self, ev: LinkByte) -> list[LinkEvent]:
        item = self._inflight
        if ev.code == ACK:
            self.stats["ack_received"] += 1
            if item is None or not item.handed_out:
                self.stats["stray_link_bytes"] += 1
                return []
            self._inflight = None
            self._start_next()
            return [BodyDelivered(item.tag)]
        if ev.code == NAK:
            self.stats["nak_received"] += 1
            if item is None or not item.handed_out or item.arm_pending:
                self.stats["stray_link_bytes"] += 1
                return []
            return self._retry_or_fail(item, "NAK")
        self.stats["other_link_bytes"] += 1
        return []

    # ------------------------------------------------------------------- timers

    def next_deadline(self) -> float | None:
        """When ``handle_timeout`` must be called next, or ``None``."""
        item = self._inflight
        deadlines = [self._rx_idle_deadline, None if item is None else item.deadline]
        present = [d for d in deadlines if d is not None]
        return min(present) if present else None

    def handle_timeout(self, now: float | None = None) -> list[LinkEvent]:
        """Retransmit (or give up on) the frame in flight if its T1 has expired; give up on
        held-back received bytes after ``rx_idle``."""
        now = self.clock() if now is None else now
        events: list[LinkEvent] = []
        if self._rx_idle_deadline is not None and now >= self._rx_idle_deadline:
            self._rx_idle_deadline = None
            self.stats["rx_expired"] += 1
            events.extend(self._interpret(self._deframer.expire()))
        item = self._inflight
        if item is None or item.deadline is None or now < item.deadline:
            return events
        self.stats["t1_expired"] += 1
        return events + self._retry_or_fail(item, f"no ACK within T1 ({self.t1:g} s)")

    # -------------------------------------------------------------------- close

    def close(self) -> list[LinkEvent]:
        """The byte stream ended: report a trailing partial frame and fail unsent frames."""
        events: list[LinkEvent] = [self._rejected(r) for r in self._deframer.close()]
        self._out.clear()
        pending = ([self._inflight] if self._inflight is not None else []) + list(self._queue)
        self._inflight = None
        self._queue.clear()
        self._closed = True
        events.extend(BodyFailed(p.tag, p.attempts, "link closed") for p in pending)
        return events
