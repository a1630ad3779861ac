"""The kit's end of the link: the station PC at byte level, every byte logged with its time.

Contract:
- :class:`Wire` opens a fresh port or TCP connection (:func:`stationlink.diag.probe.open_endpoint`)
  and drives it with the sans-I/O core of :mod:`stationlink.protocol` only: frames are built
  with :func:`build_frame` from bodies the :class:`Codec` encodes, received bytes go through a
  :class:`Deframer` (one per dialect listened to). Nothing here frames by hand; a case that
  must send a broken frame alters a frame built here (:meth:`Wire.frame`).
- Every write and read is appended to the case's transcript (:class:`~.model.Exchange`).
- ``auto_ack`` (serial): each good frame from the device is ACKed at once, as a host does; a
  case that withholds ACKs turns it off. The deframer's receive-idle rule (docs/protocol.md
  §1.3) is applied when a read times out with bytes held back.
- :meth:`Wire.request` sends one request and returns the answer with the same seq (or an
  :class:`ErrorReply`), raising :class:`CaseFailed` with the reason when the device does not
  ACK within T1 (serial), NAKs, stays silent past T2, closes the connection or answers
  something that does not decode. The kit never retransmits: a conformance test must see the
  device's first answer.
- :class:`CaseFailed` / :class:`NotApplicable` end a case (the engine turns them into the
  verdict); they are control flow inside the kit and never leave it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..clock import MonotonicClock
from ..errors import ProtocolError, StreamClosedError, TransportError
from ..protocol import (
    ACK,
    NAK,
    T1_DEFAULT,
    T2_MONEY_DEFAULT,
    T2_OTHER_DEFAULT,
    Codec,
    Deframer,
    Dialect,
    ErrorReply,
    FrameEvent,
    Header,
    LinkByte,
    Message,
    MsgType,
    Rejected,
    Transport,
    build_frame,
)
from ..transport.base import ByteStream
from .model import Exchange

RECEIVE_IDLE = 0.5  # docs/protocol.md §1.3
_LINK_NAMES = {ACK: "ACK", NAK: "NAK", 0x04: "EOT"}


class CaseFailed(Exception):  # noqa: N818 - a verdict, not an error
    """The case's verdict is ``fail`` for ``reason``."""


class NotApplicable(Exception):  # noqa: N818 - a verdict, not an error
    """The case does not apply, for ``reason``."""


@dataclass(frozen=True)
class Got:
    """One thing received: a deframer event of ``dialect``, at ``t`` (case seconds)."""

    t: float
    event: FrameEvent | LinkByte | Rejected
    dialect: Dialect


class Wire:
    """One open link to the device under test (see the module docstring)."""

    def __init__(
        self, stream: ByteStream, dialect: Dialect, *, card_key: bytes, clock: MonotonicClock,
        t0: float, transcript: list[Exchange], terminal_id: str = "00000000",
        listen: tuple[Dialect, ...] = (), auto_ack: bool = True,
    ) -> None:
        self.stream = stream
        self.dialect = dialect
        self.transport = stream.kind
        self.clock = clock
        self.t0 = t0
        self.transcript = transcript
        self.terminal_id = terminal_id
        self.auto_ack = auto_ack
        self.codecs = {d: Codec(d, card_key) for d in Dialect}
        dialects = (dialect, *[d for d in listen if d is not dialect])
        self.deframers = {d: Deframer(d, self.transport) for d in dialects}
        self.closed = False
        self.seen: list[Got] = []  # everything received, in order
        self._backlog: list[Got] = []  # received but not yet handed to a waiter
        self._last_in = 0.0  # case time of the last bytes read (receive-idle rule)

    @property
    def serial(self) -> bool:
        return self.transport is Transport.SERIAL

    def now(self) -> float:
        return self.clock() - self.t0

    # ------------------------------------------------------------------ sending

    def header(self, msg_type: MsgType, seq: int) -> Header:
        return Header(msg_type, seq, self.terminal_id)

    def body(self, msg: Message, dialect: Dialect | None = None) -> bytes:
        return self.codecs[dialect or self.dialect].encode(msg)

    def frame(self, msg: Message, dialect: Dialect | None = None) -> bytes:
        d = dialect or self.dialect
        return build_frame(self.body(msg, d), d, self.transport)

    def send(self, data: bytes, note: str) -> float:
        """Write ``data``; returns the case time right after the write."""
        self.transcript.append(Exchange(self.now(), "out", data, note))
        try:
            self.stream.write(data)
        except StreamClosedError as exc:
            self.closed = True
            raise CaseFailed(f"the device closed the connection ({note} not sent)") from exc
        except TransportError as exc:
            raise CaseFailed(f"writing {note} failed: {exc}") from exc
        return self.now()

    def send_msg(self, msg: Message, note: str = "") -> float:
        return self.send(self.frame(msg), note or _describe(msg))

    # ---------------------------------------------------------------- receiving

    def _read(self, timeout: float) -> None:
        try:
            data = self.stream.read(max(0.0, timeout))
        except StreamClosedError:
            if not self.closed:
                self.transcript.append(Exchange(self.now(), "in", b"", "connection closed"))
            self.closed = True
            return
        except TransportError as exc:
            raise CaseFailed(f"reading failed: {exc}") from exc
        t = self.now()
        if not data:
            if t - self._last_in >= RECEIVE_IDLE:  # idle line: give up a held-back start
                for d, deframer in self.deframers.items():
                    self._take(t, d, deframer.expire())
            return
        self._last_in = t
        self.transcript.append(Exchange(t, "in", data))
        for d, deframer in self.deframers.items():
            self._take(t, d, deframer.feed(data))

    def _take(self, t: float, dialect: Dialect, events: list[FrameEvent | LinkByte | Rejected]
              ) -> None:
        for ev in events:
            got = Got(t, ev, dialect)
            self.seen.append(got)
            self._backlog.append(got)
            if isinstance(ev, FrameEvent):
                note = self._frame_note(ev.body, dialect)
                self.transcript.append(Exchange(t, "in", b"", f"frame: {note}"))
                if self.auto_ack and self.serial and dialect is self.dialect:
                    self.send(bytes((ACK,)), "ACK")
            elif isinstance(ev, LinkByte):
                name = _LINK_NAMES.get(ev.code, hex(ev.code))
                self.transcript.append(Exchange(t, "in", b"", f"link byte {name}"))
            else:
                self.transcript.append(Exchange(t, "in", b"", f"skipped {ev.length} bytes: "
                                                f"{ev.reason}"))

    def _frame_note(self, body: bytes, dialect: Dialect) -> str:
        try:
            msg = self.codecs[dialect].decode(body)
        except ProtocolError as exc:
            return f"{dialect.value}, undecodable: {exc}"
        return f"{dialect.value}, {_describe(msg)}"

    def wait(self, pred: Callable[[Got], bool], timeout: float) -> Got | None:
        """The first received thing (backlog first) matching ``pred`` within ``timeout``
        seconds; what does not match is dropped from the backlog (it stays in ``seen``)."""
        deadline = self.clock() + timeout
        while True:
            while self._backlog:
                got = self._backlog.pop(0)
                if pred(got):
                    return got
            if self.closed:
                return None
            left = deadline - self.clock()
            if left <= 0:
                return None
            self._read(min(left, RECEIVE_IDLE))

    def listen(self, seconds: float) -> list[Got]:
        """Everything received in the next ``seconds`` (and the backlog)."""
        start = len(self.seen) - len(self._backlog)
        self.wait(lambda g: False, seconds)
        return self.seen[start:]

    def drain(self, quiet: float = 0.2, limit: float = 6.0) -> None:
        """Read until the line has been quiet for ``quiet`` s (at most ``limit`` s): leftovers
        of an earlier case (retransmissions) must not count for this one."""
        if not self.serial:
            return
        deadline = self.clock() + limit
        mark = len(self.seen)
        while self.clock() < deadline and not self.closed:
            before = len(self.transcript)
            self._read(quiet)
            if len(self.transcript) == before:
                break
        self._backlog.clear()
        del self.seen[mark:]

    # ----------------------------------------------------------------- requests

    def decode(self, got: Got) -> Message:
        assert isinstance(got.event, FrameEvent)  # noqa: S101 - callers check
        try:
            return self.codecs[got.dialect].decode(got.event.body)
        except ProtocolError as exc:
            raise CaseFailed(f"the device's answer does not decode: {exc}") from exc

    def await_ack(self, sent_at: float, size: int, what: str) -> float:
        """Serial: the case time of the device's ACK of the frame just sent (fails on NAK or
        no ACK within T1 after its last byte)."""
        limit = T1_DEFAULT + size * self.stream.byte_time + 0.05
        got = self.wait(lambda g: isinstance(g.event, LinkByte) and g.event.code in (ACK, NAK),
                        max(0.0, sent_at + limit - self.now()))
        if got is None:
            raise CaseFailed(f"no ACK of {what} within T1 ({T1_DEFAULT:g} s)")
        assert isinstance(got.event, LinkByte)  # noqa: S101 - the predicate
        if got.event.code == NAK:
            raise CaseFailed(f"the device NAKed {what}, a valid frame")
        return got.t

    def answer(self, seq: int, what: str, timeout: float) -> tuple[Message, bytes]:
        """The device's answer (response or ErrorReply) carrying ``seq``, and its body."""
        got = self.wait(lambda g: isinstance(g.event, FrameEvent)
                        and g.dialect is self.dialect and _seq_of(g.event.body) == seq, timeout)
        if got is None:
            why = "closed the connection" if self.closed else f"no answer within {timeout:g} s"
            raise CaseFailed(f"{what}: {why}")
        assert isinstance(got.event, FrameEvent)  # noqa: S101 - the predicate
        return self.decode(got), got.event.body

    def request(self, msg: Message, *, timeout: float | None = None) -> tuple[Message, bytes]:
        """Send ``msg`` once and return its answer and the answer's body (module docstring)."""
        frame = self.frame(msg)
        what = _describe(msg)
        sent = self.send(frame, what)
        if self.serial:
            self.await_ack(sent, len(frame), what)
        if timeout is None:
            money = msg.header.msg_type in (MsgType.BILL_PAYMENT, MsgType.WITHDRAWAL,
                                            MsgType.REVERSAL)
            timeout = T2_MONEY_DEFAULT if money else T2_OTHER_DEFAULT
        return self.answer(msg.header.seq, what, timeout)

    def call(self, msg: Message, expect: type[Message]) -> Message:
        """:meth:`request`, failing unless the answer is an ``expect``."""
        answer, _ = self.request(msg)
        if not isinstance(answer, expect):
            if isinstance(answer, ErrorReply):
                raise CaseFailed(f"{_describe(msg)} answered with error {answer.code.name}: "
                                 f"{answer.text}")
            raise CaseFailed(f"{_describe(msg)} answered with {type(answer).__name__}")
        return answer

    def close(self) -> None:
        try:
            self.stream.close()
        except TransportError:
            pass


def _seq_of(body: bytes) -> int:
    return int.from_bytes(body[1:3], "big") if len(body) >= 3 else -1


def _describe(msg: Message) -> str:
    return f"{msg.header.msg_type.name} seq {msg.header.seq}"
