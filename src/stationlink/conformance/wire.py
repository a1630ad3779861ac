"""The kit's end of the link: the station PC at byte level, every byte logged with its time.

Contract:
- :class:`Wire` opens a fresh port or TCP connection (:func:`stationlink.diag.probe.open_endpoint`)
  and drives it with the sans-I/O core of :mod:`stationlink.protocol` only: frames are built
  with :func:`build_frame` from bodies the :class:`Codec` encodes, received bytes go through a
  :class:`Deframer` (one per dialect listened to). Nothing here frames by hand; a case that
  must send a broken frame alters a frame built here (:meth:`Wire.frame`).
- Every write and read is appended to the case's transcript (:class:`~.model.Exchange`).
  Card numbers: every DF40 TLV (a full card number, BCD) in the bytes received, whatever
  the framing and even in a stretch that does not frame, has its middle digits zeroed in
  the transcript and marked ``**`` (first 6 and last 4 digits kept), so no evidence, report
  or export ever carries a full card number.
- One defect is tolerated so that each case checks its own requirement: an ``sl-2`` serial
  frame whose CRC is right but sent low byte first is taken as the frame it is, with a note
  in the transcript; CF-FRAME-SERIAL, which checks the byte order, fails on it. Likewise a
  late ACK only fails CF-ACK-TIMER: :meth:`Wire.await_ack` waits up to T2 unless ``strict``.
- ``auto_ack`` (serial): each good frame from the device is ACKed at once, as a host does; a
  case that withholds ACKs turns it off. What is sent and received is reported to the
  :class:`~.line.Line` (shared by a run's serial links), and :meth:`Wire.drain` settles
  the line before a case uses it: leftovers of earlier cases are read and ACKed until the
  protocol's timers say nothing more can come. The deframer's receive-idle rule (docs/protocol.md
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
    ETX,
    MONEY_MOVING,
    NAK,
    STX,
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
    crc16_ccitt_false,
)
from ..transport.base import ByteStream
from .line import SLACK as ACK_SLACK
from .line import Line
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
        listen: tuple[Dialect, ...] = (), auto_ack: bool = True, line: Line | None = None,
    ) -> None:
        self.stream = stream
        self.dialect = dialect
        self.transport = stream.kind
        self.clock = clock
        self.t0 = t0
        self.transcript = transcript
        self.terminal_id = terminal_id
        self.auto_ack = auto_ack
        self.line = Line() if line is None else line
        self.codecs = {d: Codec(d, card_key) for d in Dialect}
        dialects = (dialect, *[d for d in listen if d is not dialect])
        self.deframers = {d: Deframer(d, self.transport) for d in dialects}
        self.closed = False
        self.seen: list[Got] = []  # everything received, in order
        self._backlog: list[Got] = []  # received but not yet handed to a waiter
        self._last_in = 0.0  # case time of the last bytes read (receive-idle rule)
        self._rx = bytearray()  # every byte received (the deframers' stream offsets)
        self._chunks: list[tuple[int, int]] = []  # (stream offset, transcript index) per read
        self._scanned = 0  # card numbers masked in the transcript up to this stream offset

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
        done = self.clock() + len(data) * self.stream.byte_time
        for ev in Deframer(self.dialect, self.transport).feed(data):  # what the device owes
            if isinstance(ev, FrameEvent) and len(ev.body) >= 3:
                self.line.request_sent(ev.body[0], seq_of(ev.body), done)
            elif isinstance(ev, LinkByte) and ev.code == ACK:
                self.line.host_acked()
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
        self._chunks.append((len(self._rx), len(self.transcript)))
        self._rx += data
        self.transcript.append(Exchange(t, "in", data))
        self._mask_cards()
        for d, deframer in self.deframers.items():
            self._take(t, d, deframer.feed(data))

    def _take(self, t: float, dialect: Dialect, events: list[FrameEvent | LinkByte | Rejected]
              ) -> None:
        for ev in events:
            if isinstance(ev, Rejected) and ev.checksum_failed:
                ev = self._swapped_crc(ev, dialect)
            got = Got(t, ev, dialect)
            self.seen.append(got)
            self._backlog.append(got)
            mine = dialect is self.dialect
            if isinstance(ev, FrameEvent):
                note = self._frame_note(ev.body, dialect)
                self.transcript.append(Exchange(t, "in", b"", f"frame: {note}"))
                if mine:
                    self.line.device_frame(seq_of(ev.body), self.clock(),
                                           len(ev.raw) * self.stream.byte_time)
                if self.auto_ack and self.serial and mine:
                    self.send(bytes((ACK,)), "ACK")
            elif isinstance(ev, LinkByte):
                if mine and ev.code == ACK:
                    self.line.device_ack(self.clock())
                elif mine and ev.code == NAK:
                    self.line.device_nak()
                name = _LINK_NAMES.get(ev.code, hex(ev.code))
                self.transcript.append(Exchange(t, "in", b"", f"link byte {name}"))
            else:
                self.transcript.append(Exchange(t, "in", b"", f"skipped {ev.length} bytes: "
                                                f"{ev.reason}"))

    def _mask_cards(self) -> None:
        """Zero the middle digits of every DF40 value received so far in the transcript."""
        rx = self._rx
        start = max(0, self._scanned - 12)
        while True:
            i = rx.find(b"\xdf\x40", start)
            if i < 0 or i + 3 > len(rx):
                break
            n = rx[i + 2]
            if not 1 <= n <= 12:
                start = i + 1
                continue
            if i + 3 + n > len(rx):
                break  # the value is not all here yet: look again after the next read
            digits = n * 2 - (1 if rx[i + 3 + n - 1] & 0x0F == 0x0F else 0)
            # keep bytes 0..2 (6 digits) and those holding only the last 4 digits
            first, end = i + 3 + 3, i + 3 + (digits - 4 + 1) // 2
            self._mask_range(first, max(first, end))
            start = i + 3 + n
        self._scanned = max(self._scanned, len(rx))

    def _mask_range(self, begin: int, end: int) -> None:
        """Zero stream bytes ``begin..end-1`` in the transcript chunks holding them."""
        for offset, index in self._chunks:
            x = self.transcript[index]
            lo, hi = max(begin, offset), min(end, offset + len(x.data))
            if lo >= hi:
                continue
            data = bytearray(x.data)
            data[lo - offset:hi - offset] = bytes(hi - lo)
            masked = x.masked | set(range(lo - offset, hi - offset))
            self.transcript[index] = Exchange(x.t, x.direction, bytes(data), x.note,
                                              frozenset(masked))

    def _swapped_crc(self, ev: Rejected, dialect: Dialect) -> FrameEvent | Rejected:
        """A damaged ``sl-2`` serial frame whose CRC is only sent low byte first becomes the
        frame (tolerated: see the module docstring); anything else stays rejected."""
        raw = bytes(self._rx[ev.offset:ev.offset + ev.length])
        if dialect is not Dialect.SL_2 or not self.serial or len(raw) < 6 or raw[0] != STX:
            return ev
        if int.from_bytes(raw[1:3], "big") != len(raw) - 6 or raw[-3] != ETX:
            return ev
        if raw[-2:] != crc16_ccitt_false(raw[1:-2]).to_bytes(2, "little"):
            return ev
        self.transcript.append(Exchange(self.now(), "in", b"", "CRC sent low byte first "
                                        "(tolerated here; CF-FRAME-SERIAL fails on it)"))
        return FrameEvent(ev.offset, raw[3:-3], raw)

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
        """Serial: settle the line before a case uses it, so that leftovers of an earlier
        case (a late ACK, an answer, retransmissions) do not count for this one. Reads,
        ACKing every good frame as a host does (so the device stops retransmitting), until
        nothing more can come by the protocol's timers (:meth:`.line.Line.busy_until`) and
        the line has been quiet for ``quiet`` s; a device that keeps talking is given up on
        ``limit`` s after that."""
        if not self.serial:
            return
        deadline = max(self.clock(), self.line.busy_until()) + limit
        mark = len(self.seen)
        auto_ack, self.auto_ack = self.auto_ack, True
        try:
            while self.clock() < deadline and not self.closed:
                before = len(self.transcript)
                self._read(max(quiet, min(self.line.busy_until() - self.clock(), RECEIVE_IDLE)))
                if len(self.transcript) == before and self.clock() >= self.line.busy_until():
                    break
        finally:
            self.auto_ack = auto_ack
        if len(self.seen) > mark:
            self.transcript.append(Exchange(self.now(), "in", b"", "the line settled: the "
                                            "above was left over from earlier exchanges "
                                            "(not counted for this case)"))
        self._backlog.clear()
        del self.seen[mark:]

    # ----------------------------------------------------------------- requests

    def decode(self, got: Got) -> Message:
        assert isinstance(got.event, FrameEvent)  # noqa: S101 - callers check
        try:
            return self.codecs[got.dialect].decode(got.event.body)
        except ProtocolError as exc:
            raise CaseFailed(f"the device's answer does not decode: {exc}") from exc

    def await_ack(self, sent_at: float, size: int, what: str, *, strict: bool = False) -> float:
        """Serial: the case time of the device's ACK of the frame just sent. Fails on NAK or
        no ACK within T1 after its last byte (``strict``; else within T2: a late ACK is
        CF-ACK-TIMER's failure, not every case's)."""
        limit = (T1_DEFAULT if strict else T2_OTHER_DEFAULT) + size * self.stream.byte_time
        limit += ACK_SLACK
        got = self.wait(lambda g: isinstance(g.event, LinkByte) and g.event.code in (ACK, NAK),
                        max(0.0, sent_at + limit - self.now()))
        if got is None:
            raise CaseFailed(f"no ACK of {what} within {limit - ACK_SLACK:.2f} s")
        assert isinstance(got.event, LinkByte)  # noqa: S101 - the predicate
        if got.event.code == NAK:
            raise CaseFailed(f"the device NAKed {what}, a valid frame")
        return got.t

    def answer(self, seq: int, what: str, timeout: float) -> tuple[Message, bytes]:
        """The device's answer (response or ErrorReply) carrying ``seq``, and its body."""
        others: list[int] = []

        def match(g: Got) -> bool:
            if not isinstance(g.event, FrameEvent) or g.dialect is not self.dialect:
                return False
            if seq_of(g.event.body) != seq:
                others.append(seq_of(g.event.body))
                return False
            return True

        got = self.wait(match, timeout)
        if got is None:
            why = "closed the connection" if self.closed else f"no answer within {timeout:g} s"
            if others:
                why += f" (answers with seq {', '.join(map(str, dict.fromkeys(others)))} instead)"
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
            money = msg.header.msg_type in MONEY_MOVING
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


def seq_of(body: bytes) -> int:
    return int.from_bytes(body[1:3], "big") if len(body) >= 3 else -1


def _describe(msg: Message) -> str:
    return f"{msg.header.msg_type.name} seq {msg.header.seq}"
