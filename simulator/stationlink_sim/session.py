"""One emulated terminal on one link, without I/O: device + connection + faults + events.

Contract:
- :class:`TerminalSession` owns the terminal-role
  :class:`~stationlink.protocol.TerminalConnection` (rebuilt on every new TCP
  connection and on a power cycle), feeds it the bytes the runner read (after inbound byte
  faults), executes each :class:`RequestReceived` on the :class:`EmulatedTerminal` and turns
  what the connection wants to send into :class:`~.inject.Chunk` s (after outbound byte
  faults) for the runner to write, each after its delay.
- ``drop_response``: a money-moving request is executed and journaled, and its response is
  never sent (not even when the host repeats the frame): the host must ask with a status
  query. ``EVENT#N`` fires just before the N-th request (counted over the session's life,
  1-based) is executed; ``power_cycle`` / ``disconnect`` then lose that request unexecuted.
  ``EVENT@HH:MM`` is checked on every ``tick`` and before every request.
- ``power_cycle``: the device reboots (journal kept), the connection and everything unsent
  are dropped, and the line stays dead (input discarded) for ``outage`` seconds; on TCP the
  runner also closes the socket. ``disconnect``: TCP closes the socket; on a pty the line is
  dead for ``outage`` and unsent bytes are lost, while the terminal keeps its state.
- A request the device model fails on, or whose response does not encode or exceeds one
  body, is answered with ``ErrorReply(INTERNAL)`` and counted (``stats["internal_errors"]``
  and the device's ``internal_errors`` counter); the terminal keeps serving. A money-moving
  request is left unanswered instead (an ErrorReply would tell the host it was not executed):
  the host learns its fate with a status query.
- Nothing is logged that holds a full card number (messages are logged by type, seq and
  result only). Time for the link timers is the ``monotonic`` callable given.
- ``close_on_garbage`` (TCP, on by default): bytes that do not frame break the connection
  (docs/protocol.md §1.2): nothing after them is executed or answered and the runner closes
  the socket. With ``close_on_garbage=False`` the terminal slides over them like pre-rule
  field firmware. ``stats["connections"]`` counts the byte streams begun (TCP accepts).
- ``script`` (a :class:`~.script.Script`, optional): scripted misbehaviour applied to what
  the device answers (after fault events, instead of ``drop_response`` for the requests it
  scripts); ``stats["scripted_answers"]`` counts the answers it replaced, ``stats["script_lost"]``
  the requests it lost.
- ``deviation`` (a name of :data:`.deviations.DEVIATIONS`): one seeded deviation from
  docs/protocol.md; the hooks here are marked ``# deviation hook``. ``late_ack`` holds the
  ACK back and hands nothing else to the link's output until it has gone, so the answer
  follows the late ACK and its T1 runs from when it is really sent. Output rewritten by a
  deviation (and the other-dialect answers) bypasses the outbound byte faults. The link-level
  ones: ``no_receive_idle`` (no receive-idle timer), ``max_body_off_by_one`` (a receiver
  taking 1023 body bytes for the maximum), ``idle_close`` (TCP closed after
  :data:`~.deviations.IDLE_CLOSE_AFTER` s without a frame), ``status_per_connection``
  (STATUS_QUERY finds only the current TCP connection's transactions),
  ``slides_over_garbage`` (``close_on_garbage`` off).
- ``received`` counts the requests handed up by the link, by message type (duplicates the
  link absorbed are not counted), also those an event then lost: a test can check that a
  host never sent, e.g., a ``JOURNAL_ACK``.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections import Counter, OrderedDict, deque
from collections.abc import Callable

from stationlink.errors import ProtocolError
from stationlink.protocol import (
    MAX_BODY,
    MAX_RETRANSMITS_DEFAULT,
    MIN_BODY,
    MONEY_MOVING,
    Deframer,
    Dialect,
    DuplicateRequest,
    ErrorCode,
    Header,
    LinkFault,
    Message,
    MsgType,
    RequestReceived,
    RequestRejected,
    ResponseFailed,
    StatusResponse,
    TerminalConnection,
    TerminalEvent,
    Transport,
)

from .deviations import IDLE_CLOSE_AFTER, OutboundDeviation
from .device import EmulatedTerminal
from .faults import FaultSpec
from .inject import ByteFaults, Chunk, EventSchedule
from .script import ErrorOut, Out, Script

log = logging.getLogger("stationlink_sim.terminal")


class TerminalSession:
    """The sans-I/O middle of a running emulated terminal (see the module docstring)."""

    def __init__(
        self,
        device: EmulatedTerminal,
        transport: Transport,
        spec: FaultSpec,
        *,
        seed: int,
        monotonic: Callable[[], float],
        byte_time: float = 0.0,
        close_on_garbage: bool = True,
        script: Script | None = None,
        deviation: str | None = None,
    ) -> None:
        self.device = device
        self.deviation = deviation
        self.last_seq: int | None = None  # seq_no_wrap: the previous request's seq
        self._late_until = 0.0  # late_ack: output after a held-back ACK waits until then
        self._money: OrderedDict[int, Message] = OrderedDict()  # duplicate_second_effect
        self._idle_from: float | None = None  # idle_close: last frame on the live connection
        self._conn_floor = 0  # status_per_connection: last cursor before this connection
        self.script = script
        self.transport = transport
        self.spec = spec
        self.monotonic = monotonic
        self.byte_time = byte_time
        # deviation hook: slides_over_garbage keeps the connection and slides on
        self.close_on_garbage = close_on_garbage and deviation != "slides_over_garbage"
        self.rng = random.Random(f"{seed}:faults:{device.terminal_id}")
        self.faults = ByteFaults(spec, self.rng, device.identity.dialect, transport)
        self.schedule = EventSchedule(spec.events)
        self.stats: Counter[str] = Counter()
        self.received: Counter[MsgType] = Counter()
        self.outbox: deque[Chunk] = deque()
        self.dead_until = 0.0
        self.wants_disconnect = False
        self.request_count = 0
        self.conn = self._new_connection()
        self._new_deviant()

    @property
    def name(self) -> str:
        return self.device.terminal_id

    def _new_connection(self) -> TerminalConnection:
        conn = TerminalConnection(
            self.device.identity.dialect,
            self.transport,
            terminal_id=self.device.terminal_id,
            card_key=self.device.identity.card_key,
            clock=self.monotonic,
            byte_time=self.byte_time,
            supported=self.device.supported_types(),
            close_on_garbage=self.close_on_garbage,
            # deviation hooks: no retransmission; ECHO through _request (to see its seq,
            # to answer it after the late ACK)
            max_retransmits=0 if self.deviation == "no_retransmission" else (
                MAX_RETRANSMITS_DEFAULT),
            auto_echo=self.deviation not in ("seq_no_wrap", "late_ack"),
        )
        if self.deviation == "no_receive_idle":  # deviation hook: no receive-idle timer
            conn.link.rx_idle = 1e9
        elif self.deviation == "max_body_off_by_one":  # deviation hook: 1023 taken for the max
            conn.link._deframer = Deframer(  # noqa: SLF001 - the seeded receiver bug
                self.device.identity.dialect, self.transport, max_body=MAX_BODY - 1)
        return conn

    def _new_deviant(self) -> None:
        """The deviation's per-link state: output filter, other-dialect link (or none)."""
        ident = self.device.identity
        self.deviant = OutboundDeviation(
            self.deviation, ident.dialect, self.transport, self.device.pan_for_token)
        self.other: TerminalConnection | None = None
        if self.deviation == "answer_other_dialect":  # deviation hook
            other = Dialect.SL_2 if ident.dialect is Dialect.MISPOS_1 else Dialect.MISPOS_1
            self.other = TerminalConnection(
                other, self.transport, terminal_id=self.device.terminal_id,
                card_key=ident.card_key, clock=self.monotonic, byte_time=self.byte_time,
                supported=self.device.supported_types(), max_retransmits=0,
            )
            self.other_out = OutboundDeviation(
                None, other, self.transport, self.device.pan_for_token, drop_nak=True)

    # ------------------------------------------------------------ connection life

    def connection_made(self) -> None:
        """A new byte stream (TCP client accepted): fresh link state, nothing pending."""
        self.stats["connections"] += 1
        self._late_until = 0.0
        self.conn = self._new_connection()
        self._new_deviant()
        self.outbox.clear()
        self.faults = ByteFaults(self.spec, self.rng, self.device.identity.dialect, self.transport)
        self.wants_disconnect = False
        if self.deviation == "idle_close":  # deviation hook
            self._idle_from = self.monotonic()
        if self.deviation == "status_per_connection":  # deviation hook
            self._conn_floor = self.device.journal.last_cursor

    def connection_lost(self) -> None:
        self._events(self.conn.connection_closed())
        self.outbox.clear()
        self._idle_from = None

    def line_dead(self, now: float) -> bool:
        return now < self.dead_until

    # -------------------------------------------------------------------- input

    def receive(self, data: bytes) -> None:
        """Bytes read from the host."""
        now = self.monotonic()
        if self.line_dead(now):
            self.stats["bytes_lost_dead_line"] += len(data)
            return
        self._clock_events(now)
        if self._idle_from is not None:  # deviation hook: idle_close
            self._idle_from = now
        seen = self.faults.inbound(data)
        if self.other is not None:  # deviation hook: answer_other_dialect
            self._other_events(self.other.receive_data(seen))
        events = self.conn.receive_data(seen)
        if self.deviation == "late_ack":  # deviation hook: the ACK goes out (late) first
            self._collect()
        self._events(events)
        serving_other = self.other is not None and not self.other.broken
        if (self.conn.broken and self.close_on_garbage and not self.wants_disconnect
                and not serving_other):
            self.stats["closed_on_garbage"] += 1
            self.wants_disconnect = True  # the runner closes the socket on its next step
        self._collect()

    def tick(self) -> None:
        """Run link timers and time-of-day events; call at least every few hundred ms."""
        now = self.monotonic()
        self._clock_events(now)
        if self._idle_from is not None and now - self._idle_from > IDLE_CLOSE_AFTER:
            self._idle_from = None  # deviation hook: idle_close drops the connection
            self.wants_disconnect = True
        deadline = self.conn.next_deadline()
        if deadline is not None and now >= deadline and not self.line_dead(now):
            self._events(self.conn.handle_timeout(now))
        other = self.other.next_deadline() if self.other is not None else None
        if self.other is not None and other is not None and now >= other:
            self._other_events(self.other.handle_timeout(now))
        self._collect()

    def next_deadline(self) -> float | None:
        own = self.conn.next_deadline()
        other = self.other.next_deadline() if self.other is not None else None
        late = self._late_until if self._late_until > self.monotonic() else None
        return min((t for t in (own, other, late) if t is not None), default=None)

    def _collect(self) -> None:
        if self.deviation == "late_ack" and self.monotonic() < self._late_until:
            return  # deviation hook: nothing leaves (and no T1 starts) before the late ACK
        data = self.conn.data_to_send()
        other = self.other.data_to_send() if self.other is not None else b""
        now = self.monotonic()
        if self.line_dead(now):
            return
        if data and self._idle_from is not None:  # deviation hook: idle_close
            self._idle_from = now
        if data and not self.deviant.active:
            for chunk in self.faults.outbound(data):
                self.outbox.append(Chunk(chunk.data, chunk.delay, now))
        elif data:  # deviation hook: the rewritten output, each piece after its hold
            for piece, hold in self.deviant.outbound(data):
                self.outbox.append(Chunk(piece, hold, now))
                if hold:  # late_ack: what follows the ACK is handed over after it
                    self._late_until = max(self._late_until, now + hold)
        if other:  # deviation hook: answer_other_dialect
            for piece, hold in self.other_out.outbound(other):
                self.outbox.append(Chunk(piece, hold, now))

    # ------------------------------------------------------------------- events

    def _events(self, events: list[TerminalEvent]) -> None:
        for ev in events:
            if isinstance(ev, RequestReceived):
                if not self._request(ev.message):
                    return  # the link was reset: later events belong to the old link
            elif isinstance(ev, LinkFault):
                self.device.counters["line_errors"] += 1
                if ev.nak_sent:
                    self.device.counters["nak_sent"] += 1
            elif isinstance(ev, DuplicateRequest):
                self.device.counters["duplicate_requests"] += 1
                if self.deviation == "duplicate_second_effect":  # deviation hook
                    self._second_effect(ev)
            elif isinstance(ev, RequestRejected):
                self.device.counters["rejected_requests"] += 1
            elif isinstance(ev, ResponseFailed):
                self.device.counters["responses_not_acked"] += 1

    def _request(self, msg: Message) -> bool:
        """Execute one request; ``False`` when an event reset the link before it."""
        self.request_count += 1
        self.received[MsgType(msg.header.msg_type)] += 1
        self._clock_events(self.monotonic())
        for name in self.schedule.before_request(self.request_count):
            self.apply_event(name)
        if self.line_dead(self.monotonic()) or self.wants_disconnect:
            self.stats["requests_lost_to_events"] += 1
            return False
        mtype = MsgType(msg.header.msg_type)
        # deviation hooks: remember money-moving requests; spot the seq wrap
        if self.deviation == "duplicate_second_effect" and mtype in MONEY_MOVING:
            self._money[msg.header.seq] = msg
            while len(self._money) > 64:
                self._money.popitem(last=False)
        wraps = self.deviation == "seq_no_wrap" and self.last_seq == 0xFFFF and (
            msg.header.seq == 0)
        self.last_seq = msg.header.seq
        if self.script is not None:
            released, execute = self.script.arrived(msg)
            self._send_scripted(released)
            if not execute:
                self.stats["script_lost"] += 1
                return True
        try:
            response = self.device.handle(msg)
        except Exception as exc:  # a fault in the model must not take the terminal down
            log.exception("%s: %s seq %d failed", self.name, mtype.name, msg.header.seq)
            self._internal_error(msg, f"request failed: {type(exc).__name__}")
            return True
        if self.script is not None:
            scripted = self.script.answered(msg, response, self.device)
            if scripted is not None:
                self.stats["scripted_answers"] += 1
                self._send_scripted(scripted)
                return True
        if mtype in MONEY_MOVING and self.faults.hit("drop_response"):
            self.stats["responses_dropped"] += 1
            log.info("%s: fault drop_response: %s seq %d executed, response not sent",
                     self.name, mtype.name, msg.header.seq)
            return True
        if (self.deviation == "status_per_connection" and isinstance(response, StatusResponse)
                and response.record is not None and response.record.cursor <= self._conn_floor):
            response = StatusResponse(response.header, False, None)  # deviation hook
        if wraps:  # deviation hook: seq_no_wrap answers seq 0x0000 with 0xFFFF
            self.stats["seq_not_wrapped"] += 1
            response = dataclasses.replace(response, header=Header(
                response.header.msg_type, 0xFFFF, response.header.terminal_id))
        problem = self._unsendable(response)
        if problem is None:
            try:
                self.conn.send_response(response, unsolicited=wraps)
                return True
            except (ProtocolError, ValueError) as exc:
                problem = str(exc)
        log.error("%s: cannot send %s for seq %d: %s",
                  self.name, type(response).__name__, msg.header.seq, problem)
        self._internal_error(msg, "response did not encode")
        return True

    def _second_effect(self, ev: DuplicateRequest) -> None:
        """Deviation ``duplicate_second_effect``: execute a repeated money-moving request
        again and answer it anew (unless the link replayed the stored answer already)."""
        msg = self._money.get(ev.seq)
        if msg is None or msg.header.msg_type != ev.msg_type:
            return
        response = self.device.handle(msg)
        self.stats["second_effects"] += 1
        if not ev.replayed and self._unsendable(response) is None:
            self.conn.send_response(response, unsolicited=True)

    def _other_events(self, events: list[TerminalEvent]) -> None:
        """Deviation ``answer_other_dialect``: answer what the other dialect's link framed."""
        assert self.other is not None  # noqa: S101 - called only with the other link
        for ev in events:
            if isinstance(ev, RequestReceived):
                response = self.device.handle(ev.message)
                self.stats["other_dialect_answers"] += 1
                try:
                    self.other.send_response(response)
                except (ProtocolError, ValueError) as exc:
                    log.info("%s: no other-dialect answer to seq %d: %s",
                             self.name, ev.message.header.seq, exc)

    def _send_scripted(self, outs: list[Out]) -> None:
        """Send what a script chose: responses and ErrorReplies framed, raw bytes as they are."""
        for out in outs:
            if isinstance(out, bytes):
                self.outbox.append(Chunk(out, 0.0, self.monotonic()))
            elif isinstance(out, ErrorOut):
                self.conn.send_error(out.seq, out.code, out.text)
            else:
                self.conn.send_response(out)

    def _unsendable(self, response: Message) -> str | None:
        """Why ``response`` cannot go out as one frame (encoding, body size); None if it can.

        Checked before ``send_response``, which marks the request answered before framing.
        """
        try:
            body = self.conn.codec.encode(response)
        except (ProtocolError, ValueError) as exc:
            return str(exc)
        if not MIN_BODY <= len(body) <= MAX_BODY:
            return f"body of {len(body)} bytes: a body has {MIN_BODY}..{MAX_BODY} bytes"
        return None

    def _internal_error(self, msg: Message, text: str) -> None:
        """Count an internal error and answer ``msg`` with ErrorReply(INTERNAL).

        A money-moving request is left unanswered instead: it may have been executed, and an
        ErrorReply tells the host it was not, so the host must ask with a status query.
        """
        seq = msg.header.seq
        self.stats["internal_errors"] += 1
        self.device.counters["internal_errors"] += 1
        if MsgType(msg.header.msg_type) in MONEY_MOVING:
            self.stats["responses_unsendable"] += 1
            return
        try:
            self.conn.send_error(seq, ErrorCode.INTERNAL, text)
        except (ProtocolError, ValueError) as exc:  # the request is answered already
            log.error("%s: cannot answer seq %d at all: %s", self.name, seq, exc)
            self.stats["responses_unsendable"] += 1

    # ------------------------------------------------------------ fault events

    def _clock_events(self, now: float) -> None:
        for name in self.schedule.by_clock(self.device.clock.now()):
            self.apply_event(name)

    def apply_event(self, name: str) -> None:
        """Make a scheduled event happen now (also usable directly by tests)."""
        now = self.monotonic()
        self.stats[f"event_{name}"] += 1
        log.info("%s: fault event %s", self.name, name)
        outage = self.spec.duration("outage")
        if name == "power_cycle":
            self.device.power_cycle()
            self.conn = self._new_connection()
            self._new_deviant()
            self.last_seq = None
            self._late_until = 0.0
            self.outbox.clear()
            self.dead_until = now + outage
            self.wants_disconnect = self.transport is Transport.TCP
        elif name == "disconnect":
            self.outbox.clear()
            if self.transport is Transport.TCP:
                self.wants_disconnect = True
            else:
                self.dead_until = now + outage
        elif name == "clock_reset":
            self.device.clock.reset()
            self.schedule.by_clock(self.device.clock.now())  # a jump back fires nothing
        elif name == "paper_out":
            self.device.set_paper(False)
        elif name == "paper_refill":
            self.device.set_paper(True)
        else:  # pragma: no cover - the parser admits only the names above
            raise ValueError(f"unknown event {name!r}")
