"""Terminal-role connection: requests in (duplicates suppressed), responses out (sans-I/O).

Contract:
- :class:`TerminalConnection` is the terminal's end of a link; the simulator builds its
  emulated terminals on it. Same driving pattern as the host: feed ``receive_data(bytes)``,
  act on the returned events, write ``data_to_send()`` after every call, call
  ``handle_timeout(now)`` once ``next_deadline()`` has passed (serial T1 retransmission of
  responses). No I/O; time is the injected ``clock``.
- Each new request is passed up once as :class:`RequestReceived`. Answer it with
  ``send_response(msg)``: ``msg.header.seq`` must be the request's seq; the message type and
  terminal id of the header are filled in. Answer with ``send_error(...)`` to refuse.
- Duplicates: a request with the same seq *and* the same body as one of the last
  ``dedup_window`` (64) requests is not passed up again (:class:`DuplicateRequest`). On
  serial the link has already ACKed it again; the stored response is replayed only if its
  own delivery failed. On TCP the stored response (if any) is replayed, since TCP has no
  link-level retransmission that could otherwise recover it.
- Automatic answers: a body that does not decode gets ``ErrorReply(MALFORMED)``, an unknown
  message type or one outside ``supported`` gets ``ErrorReply(UNSUPPORTED)``
  (:class:`RequestRejected`); when not even the header's seq can be read, nothing is sent
  (an answer with a guessed seq could be matched to another request). ECHO (the TCP
  heartbeat) is answered automatically unless ``auto_echo=False``.
- A response-type message arriving here gives :class:`UnexpectedMessage`.
- TCP and bytes that do not frame (a rejected stretch, :class:`LinkFault`): TCP has no
  resynchronisation, so docs/protocol.md §1.2 has the terminal close the connection.
  With ``close_on_garbage=True`` (the default) the connection becomes ``broken`` at the
  first rejected stretch: nothing received after it is passed up or answered, and the owner
  must close the connection (the simulator's ``TerminalSession`` does).
  ``close_on_garbage=False`` models field firmware built before that rule, which slides
  over the bytes looking for the next length prefix (and may take digits inside them for
  one); ``broken`` is then still set, for information. Serial ignores the option (it
  resynchronises on STX).

Per request::

    frame --> (ACK by link) --> new?  --no--> DuplicateRequest (replay if needed)
                                  | yes
                       decodes & supported? --no--> ErrorReply queued, RequestRejected
                                  | yes
                          RequestReceived --> send_response --> (serial) ResponseDelivered
                                                                 or ResponseFailed
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Collection

from ..clock import MonotonicClock
from ..errors import ProtocolError, UnsupportedMessageError
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
    DuplicateRequest,
    LinkFault,
    RequestReceived,
    RequestRejected,
    ResponseDelivered,
    ResponseFailed,
    TerminalEvent,
    UnexpectedMessage,
)
from .messages import (
    REQUEST_CODE,
    RESPONSE_CODE,
    Dialect,
    EchoRequest,
    EchoResponse,
    ErrorCode,
    ErrorReply,
    Header,
    Message,
    MsgType,
)

# state of a remembered request's answer
_WAITING, _SENDING, _DELIVERED, _FAILED, _SENT_TCP = range(5)


class TerminalConnection(LinkEnd):
    """The terminal end of one link. See the module docstring."""

    def __init__(
        self,
        dialect: Dialect,
        transport: Transport,
        *,
        terminal_id: str,
        card_key: bytes,
        clock: MonotonicClock,
        t1: float = T1_DEFAULT,
        max_retransmits: int = MAX_RETRANSMITS_DEFAULT,
        byte_time: float = 0.0,
        auto_echo: bool = True,
        supported: Collection[MsgType] | None = None,
        dedup_window: int = 64,
        close_on_garbage: bool = True,
    ) -> None:
        super().__init__(
            dialect, transport, terminal_id=terminal_id, card_key=card_key, clock=clock,
            t1=t1, max_retransmits=max_retransmits, byte_time=byte_time,
        )
        self.auto_echo = auto_echo
        self.supported = None if supported is None else frozenset(supported)
        self.dedup_window = dedup_window
        # (seq, body) -> [state, response body or None]
        self._seen: OrderedDict[tuple[int, bytes], list[object]] = OrderedDict()
        self._by_seq: dict[int, tuple[int, bytes]] = {}  # seq -> key, requests not answered
        self.close_on_garbage = close_on_garbage
        self.broken = False  # TCP: a rejected stretch arrived (see the module docstring)

    # ---------------------------------------------------------------- receiving

    def receive_data(self, data: bytes) -> list[TerminalEvent]:
        """Feed bytes received from the host (ignored once ``broken`` with
        ``close_on_garbage``)."""
        if self._deaf:
            return []
        return self._link_events(self.link.receive_data(data))

    @property
    def _deaf(self) -> bool:
        return self.broken and self.close_on_garbage

    def connection_closed(self) -> list[TerminalEvent]:
        """The byte stream ended (responses not yet ACKed are reported failed)."""
        return self._link_events(self.link.close())

    def _link_events(self, link_events: list[LinkEvent]) -> list[TerminalEvent]:
        events: list[TerminalEvent] = []
        for ev in link_events:
            if self._deaf:
                break  # TCP lost sync: nothing after the rejected stretch counts
            if isinstance(ev, BodyReceived):
                events.extend(self._on_body(ev))
            elif isinstance(ev, LinkFault):
                events.append(ev)
                if self.transport is Transport.TCP:
                    self.broken = True
            elif isinstance(ev, BodyDelivered):
                self._set_state(ev.tag, _DELIVERED)
                events.append(ResponseDelivered(ev.tag))
            elif isinstance(ev, BodyFailed):
                self._set_state(ev.tag, _FAILED)
                events.append(ResponseFailed(ev.tag, ev.reason))
        return events

    def _set_state(self, seq: int, state: int) -> None:
        for key in reversed(self._seen):
            if key[0] == seq:
                entry = self._seen[key]
                if entry[0] == _SENDING:
                    entry[0] = state
                return

    def _on_body(self, ev: BodyReceived) -> list[TerminalEvent]:
        try:
            raw_type, seq, _ = peek_header(ev.body)
        except ProtocolError as exc:
            return [RequestRejected(ev.offset, None, None, ErrorCode.MALFORMED, str(exc), False)]
        key = (seq, ev.body)
        entry = self._seen.get(key)
        if entry is not None:
            return [self._duplicate(seq, raw_type, entry)]
        try:
            msg = self.codec.decode(ev.body)
        except UnsupportedMessageError as exc:
            return [self._reject(ev.offset, seq, raw_type, ErrorCode.UNSUPPORTED, str(exc), key)]
        except ProtocolError as exc:
            return [self._reject(ev.offset, seq, raw_type, ErrorCode.MALFORMED, str(exc), key)]
        code = REQUEST_CODE.get(type(msg))
        if code is None:
            return [UnexpectedMessage(msg, "the host sent a response to the terminal")]
        if self.supported is not None and code not in self.supported and code != MsgType.ECHO:
            reason = f"message type {code.name} is not supported by this terminal"
            return [self._reject(ev.offset, seq, raw_type, ErrorCode.UNSUPPORTED, reason, key)]
        self._remember(key)
        if isinstance(msg, EchoRequest) and self.auto_echo:
            self.send_response(EchoResponse(msg.header, msg.payload))
            return []
        return [RequestReceived(msg)]

    def _remember(self, key: tuple[int, bytes]) -> None:
        self._seen[key] = [_WAITING, None]
        old = self._by_seq.get(key[0])
        if old is not None:
            self._seen.pop(old, None)  # a new request reuses the seq: the old one is over
        self._by_seq[key[0]] = key
        while len(self._seen) > self.dedup_window:
            gone, _ = self._seen.popitem(last=False)
            if self._by_seq.get(gone[0]) == gone:
                del self._by_seq[gone[0]]

    def _duplicate(self, seq: int, raw_type: int, entry: list[object]) -> DuplicateRequest:
        state, body = entry
        replay = isinstance(body, bytes) and state in (_FAILED, _SENT_TCP)
        if replay and isinstance(body, bytes):
            self._queue(seq, body, entry)
        return DuplicateRequest(seq, raw_type, replay)

    def _reject(
        self, offset: int, seq: int, raw_type: int, code: ErrorCode, reason: str,
        key: tuple[int, bytes],
    ) -> RequestRejected:
        self._remember(key)
        self.send_error(seq, code, reason[:120], for_type=raw_type)
        return RequestRejected(offset, seq, raw_type, code, reason, True)

    # ------------------------------------------------------------------ sending

    @property
    def unanswered(self) -> tuple[int, ...]:
        """Seqs of requests passed up and not answered yet."""
        return tuple(
            seq for seq, key in self._by_seq.items() if self._seen[key][0] == _WAITING
        )

    def send_response(self, msg: Message, *, unsolicited: bool = False) -> None:
        """Queue the answer to the request with seq ``msg.header.seq``.

        The header's message type (from the class) and terminal id are filled in. Raises
        ``ValueError`` if no unanswered request has that seq, unless ``unsolicited`` (fault
        injection: a response nobody asked for).
        """
        code = RESPONSE_CODE.get(type(msg))
        if code is None:
            raise ValueError(f"{type(msg).__name__} is not a response message")
        seq = msg.header.seq
        key = self._by_seq.get(seq)
        entry = None if key is None else self._seen.get(key)
        if (entry is None or entry[0] != _WAITING) and not unsolicited:
            raise ValueError(f"no unanswered request with seq {seq}")
        stamped: Message = dataclasses.replace(
            msg, header=Header(code, seq, self.terminal_id)
        )
        body = self.codec.encode(stamped)
        track = entry if entry is not None and entry[0] == _WAITING else None
        if track is not None:
            track[1] = body
        self._queue(seq, body, track)

    def _queue(self, seq: int, body: bytes, entry: list[object] | None) -> None:
        if entry is not None:
            entry[0] = _SENDING if self.transport is Transport.SERIAL else _SENT_TCP
        self.link.send_body(body, seq)

    def send_error(
        self, seq: int, code: ErrorCode, text: str = "", *, for_type: int | None = None
    ) -> None:
        """Answer the request ``seq`` with an :class:`ErrorReply` (e.g. ``BUSY``)."""
        key = self._by_seq.get(seq)
        if for_type is None:
            for_type = peek_header(key[1])[0] if key is not None else 0
        reply = ErrorReply(Header(MsgType.ERROR, seq, self.terminal_id), code, for_type, text)
        self.send_response(reply, unsolicited=key is None)

    # ------------------------------------------------------------------- timers

    def next_deadline(self) -> float | None:
        return self.link.next_deadline()

    def handle_timeout(self, now: float | None = None) -> list[TerminalEvent]:
        return self._link_events(self.link.handle_timeout(now))

    def data_to_send(self) -> bytes:
        return self.link.data_to_send()


__all__ = ["TerminalConnection"]
