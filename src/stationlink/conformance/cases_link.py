"""Cases on the link layer: framing, ACK/NAK and retransmission, garbage, the other dialect,
resynchronisation, sequence numbers, heartbeats, the maximum frame (docs/protocol.md §1-2, §4).

Contract: each function takes the :class:`~.context.Ctx`, returns a line saying what it
checked (the ``pass`` reason) or raises :class:`~.wire.CaseFailed`. Only ECHO and IDENTIFY
(and DEVICE_STATUS to compare state) are sent: nothing here moves money or changes the
device. Timing limits are the protocol's (T1 1.0 s, T2 3 s, receive idle 0.5 s) with a
tolerance of :data:`SLACK` for scheduling on the host running the kit.
"""

from __future__ import annotations

from ..protocol import (
    ACK,
    MAX_BODY,
    NAK,
    STX,
    T1_DEFAULT,
    Dialect,
    EchoRequest,
    EchoResponse,
    FrameEvent,
    IdentifyRequest,
    LinkByte,
    MsgType,
    Rejected,
    bcd_encode,
    crc16_ccitt_false,
    lrc,
)
from .context import Ctx
from .line import SLACK  # seconds of scheduling tolerance on timers measured by the kit
from .wire import RECEIVE_IDLE, CaseFailed, Got, Wire, seq_of

QUIET = T1_DEFAULT + 0.5  # how long "silence" is listened for
HEARTBEAT_IDLE = QUIET  # idle before each heartbeat ECHO (the host's 15 s is a maximum)
RESYNC_PAYLOAD = 200  # CF-RESYNC: the truncated ECHO announces this payload and more ...
RESYNC_CUT = 16  # ... of which only this many frame bytes are sent


def _echo(ctx: Ctx, w: Wire, payload: bytes, seq: int | None = None) -> EchoResponse:
    seq = ctx.seq() if seq is None else seq
    msg = w.call(EchoRequest(w.header(MsgType.ECHO, seq), payload), EchoResponse)
    assert isinstance(msg, EchoResponse)  # noqa: S101 - call checked it
    if msg.header.seq != seq:
        raise CaseFailed(f"ECHO seq {seq} answered with seq {msg.header.seq}")
    if msg.payload != payload:
        raise CaseFailed(f"ECHO seq {seq}: payload not echoed unchanged")
    return msg


def _payload(ctx: Ctx, n: int = 8) -> bytes:
    return ctx.rng.randbytes(n)


def _frames(got: list[Got]) -> list[Got]:
    return [g for g in got if isinstance(g.event, FrameEvent)]


def _new_frames(w: Wire, got: list[Got]) -> list[Got]:
    """Frames in ``got`` that are not a retransmission of a frame received before them (a
    late copy of an earlier answer is not an answer to what a silence check sent)."""
    earlier = {g.event.raw for g in w.seen[: len(w.seen) - len(got)]
               if isinstance(g.event, FrameEvent)}
    return [g for g in _frames(got) if isinstance(g.event, FrameEvent)
            and g.event.raw not in earlier]


def _identify(w: Wire, ctx: Ctx, seq: int) -> IdentifyRequest:
    return IdentifyRequest(w.header(MsgType.IDENTIFY, seq), ctx.host_time())


def frame_serial(ctx: Ctx) -> str:
    """IDENTIFY and ECHO answered in frames whose layout and check value are right."""
    w = ctx.wire(auto_ack=False)
    checked = 0
    for msg in (_identify(w, ctx, ctx.seq()), EchoRequest(w.header(MsgType.ECHO, ctx.seq()),
                                                          _payload(ctx))):
        frame = w.frame(msg)
        sent = w.send(frame, f"{msg.header.msg_type.name} seq {msg.header.seq}")
        w.await_ack(sent, len(frame), msg.header.msg_type.name)
        got = w.wait(lambda g: isinstance(g.event, FrameEvent | Rejected), 3.0)
        if got is None:
            raise CaseFailed(f"no answer to {msg.header.msg_type.name}")
        if isinstance(got.event, Rejected):
            raise CaseFailed(_why_bad_frame(w, got.event))
        assert isinstance(got.event, FrameEvent)  # noqa: S101 - the predicate
        _check_serial_frame(w.dialect, got.event.raw)
        w.send(bytes((ACK,)), "ACK")
        checked += 1
    return f"{checked} answers framed {w.dialect.value} serial, check values right"


def _check_serial_frame(dialect: Dialect, raw: bytes) -> None:
    """The layout of §1.1, checked independently of the deframer's verdict."""
    body_len = len(raw) - (5 if dialect is Dialect.MISPOS_1 else 6)
    if raw[0] != STX:
        raise CaseFailed("frame does not start with STX")
    if dialect is Dialect.MISPOS_1:
        if raw[1:3] != bcd_encode(body_len, 2):
            raise CaseFailed(f"LEN {raw[1:3].hex()} is not {body_len} in BCD")
        if raw[-2] != 0x03 or raw[-1] != lrc(raw[1:-1]):
            raise CaseFailed("ETX or LRC wrong")
    else:
        if int.from_bytes(raw[1:3], "big") != body_len:
            raise CaseFailed(f"LEN {raw[1:3].hex()} is not {body_len} big-endian")
        crc = crc16_ccitt_false(raw[1:-2])
        if raw[-3] == 0x03 and raw[-2:] == crc.to_bytes(2, "little") != raw[-2:][::-1]:
            raise CaseFailed(f"CRC sent low byte first ({raw[-2:].hex()}; §1.1 asks "
                             f"{crc.to_bytes(2, 'big').hex()}, high byte first)")
        if raw[-3] != 0x03 or raw[-2:] != crc.to_bytes(2, "big"):
            raise CaseFailed("ETX or CRC wrong")


def _why_bad_frame(w: Wire, ev: Rejected) -> str:
    """Explain a stretch the deframer refused (e.g. a CRC sent low byte first)."""
    data = b"".join(x.data for x in w.transcript if x.direction == "in")
    start = data.find(bytes((STX,)))
    raw = data[start:] if start >= 0 else data
    if w.dialect is Dialect.SL_2 and len(raw) >= 14:
        n = int.from_bytes(raw[1:3], "big")
        frame = raw[: n + 6]
        if len(frame) == n + 6 and frame[-3] == 0x03:
            crc = crc16_ccitt_false(frame[1:-2])
            if frame[-2:] == crc.to_bytes(2, "little") and frame[-2] != frame[-1]:
                return (f"CRC sent low byte first ({frame[-2:].hex()}; §1.1 asks "
                        f"{crc.to_bytes(2, 'big').hex()}, high byte first)")
            return f"CRC {frame[-2:].hex()} wrong (computed {crc:04x})"
    return f"the answer is not a valid frame: {ev.reason}"


def frame_tcp(ctx: Ctx) -> str:
    """IDENTIFY and ECHO answered with the dialect's length prefix, nothing else around."""
    w = ctx.wire()
    for msg in (_identify(w, ctx, ctx.seq()), EchoRequest(w.header(MsgType.ECHO, ctx.seq()),
                                                          _payload(ctx))):
        answer, body = w.request(msg)
        if answer.header.msg_type != msg.header.msg_type | 0x80:
            raise CaseFailed(f"{msg.header.msg_type.name} answered with type "
                             f"{answer.header.msg_type:02x}")
    bad = [g for g in w.seen if isinstance(g.event, Rejected)]
    if bad:
        assert isinstance(bad[0].event, Rejected)  # noqa: S101 - filtered
        raise CaseFailed(f"bytes that do not frame: {bad[0].event.reason}")
    return f"2 answers framed {w.dialect.value} TCP, length prefixes right"


def ack_timer(ctx: Ctx) -> str:
    w = ctx.wire()
    delays = []
    for _ in range(3):
        msg = EchoRequest(w.header(MsgType.ECHO, ctx.seq()), _payload(ctx))
        frame = w.frame(msg)
        sent = w.send(frame, f"ECHO seq {msg.header.seq}")
        at = w.await_ack(sent, len(frame), f"ECHO seq {msg.header.seq}", strict=True)
        delays.append(at - sent)
        w.answer(msg.header.seq, "ECHO", 3.0)
    return f"ACK after {max(delays) * 1000:.0f} ms at most (T1 {T1_DEFAULT * 1000:.0f} ms)"


def retransmission(ctx: Ctx) -> str:
    """Withhold the ACK of an answer: 3 retransmissions, T1 apart, identical, then none."""
    w = ctx.wire(auto_ack=False)
    msg = EchoRequest(w.header(MsgType.ECHO, ctx.seq()), _payload(ctx))
    frame = w.frame(msg)
    sent = w.send(frame, f"ECHO seq {msg.header.seq} (its answer will not be ACKed)")
    w.await_ack(sent, len(frame), "ECHO")
    horizon = 3.0 + 4 * (T1_DEFAULT + SLACK) + QUIET
    got = _frames(w.listen(horizon))
    if not got:
        raise CaseFailed("no answer to the ECHO")
    raws = [g.event.raw for g in got if isinstance(g.event, FrameEvent)]
    times = [g.t for g in got]
    if len(got) == 1:
        raise CaseFailed("the unACKed answer was never retransmitted (§2.1: 3 times)")
    other = [seq_of(g.event.body) for g in got if isinstance(g.event, FrameEvent)
             and seq_of(g.event.body) != msg.header.seq]
    if other:
        raise CaseFailed(f"a frame with seq {other[0]} among the transmissions of the answer "
                         f"to ECHO seq {msg.header.seq}")
    if any(r != raws[0] for r in raws):
        raise CaseFailed("a retransmission differs from the first transmission")
    if len(got) != 4:
        raise CaseFailed(f"{len(got)} transmissions of the unACKed answer (§2.1: 4 in all)")
    wire_time = len(raws[0]) * w.stream.byte_time
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    for gap in gaps:
        if not T1_DEFAULT - SLACK <= gap <= T1_DEFAULT + wire_time + SLACK:
            raise CaseFailed(f"retransmissions {gap:.2f} s apart (§2.1: T1 = {T1_DEFAULT:g} s "
                             "after the last byte)")
    return (f"4 transmissions, gaps {', '.join(f'{g:.2f}' for g in gaps)} s, then silence "
            f"for {QUIET:g} s")


def nak_bad_checksum(ctx: Ctx) -> str:
    w = ctx.wire()
    bad_seq = ctx.seq()
    frame = bytearray(w.frame(EchoRequest(w.header(MsgType.ECHO, bad_seq), _payload(ctx))))
    frame[-1] ^= 0xFF
    w.send(bytes(frame), f"ECHO seq {bad_seq} with a wrong check value")
    got = w.wait(lambda g: isinstance(g.event, LinkByte | FrameEvent), T1_DEFAULT + SLACK)
    if got is None:
        raise CaseFailed("no NAK of a frame with a wrong check value (§1.3 rule 6)")
    if isinstance(got.event, FrameEvent):
        raise CaseFailed("the device answered a frame with a wrong check value")
    assert isinstance(got.event, LinkByte)  # noqa: S101 - the predicate
    if got.event.code != NAK:
        raise CaseFailed(f"the device answered a wrong check value with {got.event.code:#04x}, "
                         "not NAK")
    _echo(ctx, w, _payload(ctx))
    acted = [g for g in _frames(w.seen) if isinstance(g.event, FrameEvent)
             and seq_of(g.event.body) == bad_seq]
    if acted:
        raise CaseFailed(f"the damaged ECHO seq {bad_seq} was answered")
    return "NAK, not answered; the next request answered"


def _unacked(ctx: Ctx) -> int:
    w = ctx.wire()
    n = ctx.status(w).journal_unacked
    w.close()
    return n


def garbage(ctx: Ctx) -> str:
    before = _unacked(ctx)
    w = ctx.wire()
    junk = bytes(b for b in ctx.rng.randbytes(96) if b not in (0x02, 0x04, 0x06, 0x15)
                 and not 0x30 <= b <= 0x39 and b > 0x04)[:32]
    w.send(junk, "garbage")
    got = w.listen(QUIET)
    replies = _new_frames(w, got) + [g for g in got if isinstance(g.event, LinkByte)]
    if replies:
        raise CaseFailed("the device answered garbage")
    if not ctx.serial and not w.closed:
        raise CaseFailed(f"the connection stayed open {QUIET:g} s after bytes that do not frame "
                         "(§1.2: the terminal closes it at once and must not slide over them)")
    if ctx.serial:
        _echo(ctx, w, _payload(ctx))
    w.close()
    after = _unacked(ctx)
    if after != before:
        raise CaseFailed(f"journal_unacked {before} before the garbage, {after} after")
    if ctx.serial:
        return "no reply to 32 bytes of garbage, the next request answered, state unchanged"
    return "no reply to 32 bytes of garbage, the connection closed (§1.2), state unchanged"


def other_dialect(ctx: Ctx) -> str:
    other = Dialect.MISPOS_1 if ctx.dialect is Dialect.SL_2 else Dialect.SL_2
    w = ctx.wire(listen=(other,))
    msg = _identify(w, ctx, ctx.seq())
    w.send(w.frame(msg, other), f"IDENTIFY seq {msg.header.seq} framed as {other.value}")
    got = w.listen(QUIET)
    frames = _new_frames(w, got)
    if frames:
        raise CaseFailed(f"the device answered a {other.value} frame "
                         f"(in {frames[0].dialect.value} framing)")
    nak = any(isinstance(g.event, LinkByte) and g.event.code == NAK for g in got)
    if not ctx.serial:
        w.close()
    _echo(ctx, w if ctx.serial else ctx.wire(), _payload(ctx))  # TCP: a new connection
    return f"no answer to {other.value} framing{' (NAK, allowed by §2.5)' if nak else ''}"


def resync(ctx: Ctx) -> str:
    """Serial only (TCP cannot resynchronise, §1.2): the start of an ECHO frame announcing
    far more bytes than follow, then, after the receive-idle time, a short ECHO on the same
    line. A receiver that follows §1.3 gave up the incomplete frame after 0.5 s idle and
    answers the short ECHO; one that keeps waiting for the announced length swallows it."""
    w = ctx.wire()
    cut_seq = ctx.seq()
    long = w.frame(EchoRequest(w.header(MsgType.ECHO, cut_seq), _payload(ctx, RESYNC_PAYLOAD)))
    head = long[:RESYNC_CUT]
    w.send(head, f"the first {len(head)} bytes of a {len(long)}-byte ECHO frame (seq {cut_seq})")
    w.listen(RECEIVE_IDLE + SLACK)
    try:
        _echo(ctx, w, _payload(ctx))
    except CaseFailed as exc:
        # leave the line usable for the next cases: bytes a receiver skips, enough to
        # complete any frame start held back (also a false one inside what was sent)
        w.send(b"\xff" * (MAX_BODY + 16), "filler completing the truncated frame")
        w.listen(QUIET)
        raise CaseFailed(f"after a truncated frame and {RECEIVE_IDLE + SLACK:g} s idle the "
                         f"next request was not answered (§1.3: give up an incomplete frame "
                         f"after {RECEIVE_IDLE:g} s idle): {exc}") from exc
    answered = [g for g in _frames(w.seen) if isinstance(g.event, FrameEvent)
                and seq_of(g.event.body) == cut_seq]
    if answered:
        raise CaseFailed(f"the truncated ECHO seq {cut_seq} was answered")
    return (f"{len(head)} of {len(long)} bytes, {RECEIVE_IDLE + SLACK:g} s idle, then the next "
            "request on the same line answered; the truncated one never")


def seq_wrap(ctx: Ctx) -> str:
    w = ctx.wire()
    seqs = (0xFFFE, 0xFFFF, 0x0000, 0x0001)
    for seq in seqs:
        _echo(ctx, w, _payload(ctx), seq)
    return f"answers carried seq {', '.join(f'{s:#06x}' for s in seqs)}"


def heartbeat(ctx: Ctx) -> str:
    """TCP only (§2.2, §2.3: the heartbeat is the host's, on TCP). The terminal's part: keep
    an idle connection (the host sends its heartbeat only after 15 s without a frame and
    declares the peer dead after 2 misses) and answer each heartbeat ECHO on it within T2,
    sending nothing of its own meanwhile. The host may send an ECHO at any time, so the kit
    idles :data:`HEARTBEAT_IDLE` s, not 15 s, before each of two heartbeats in a row."""
    w = ctx.wire()
    _echo(ctx, w, _payload(ctx))
    delays = []
    for n, payload in ((1, b""), (2, _payload(ctx, 32))):
        got = w.listen(HEARTBEAT_IDLE)
        if _frames(got):
            raise CaseFailed("the device sent a frame on an idle connection (a terminal only "
                             "answers requests)")
        if w.closed:
            raise CaseFailed(f"the device closed the connection within {HEARTBEAT_IDLE:g} s "
                             "without a frame (§2.2: the host keeps an idle connection and "
                             "sends its heartbeat ECHO after 15 s)")
        sent = w.now()
        try:
            _echo(ctx, w, payload)
        except CaseFailed as exc:
            raise CaseFailed(f"heartbeat {n} after {HEARTBEAT_IDLE:g} s idle: {exc}") from exc
        delays.append(w.now() - sent)
    return (f"2 heartbeat ECHOs, each after {HEARTBEAT_IDLE:g} s idle, answered on the same "
            f"connection within {max(delays) * 1000:.0f} ms (T2 3 s)")


def _echo_of_size(w: Wire, seq: int, body_size: int) -> EchoRequest:
    """An ECHO whose body is exactly ``body_size`` bytes."""
    n = body_size - 11 - 2 - 3  # header, tag, long length form
    msg = EchoRequest(w.header(MsgType.ECHO, seq), b"\xa5" * n)
    while len(w.body(msg)) < body_size:
        msg = EchoRequest(msg.header, msg.payload + b"\xa5")
    while len(w.body(msg)) > body_size:
        msg = EchoRequest(msg.header, msg.payload[:-1])
    return msg


def _one_over(w: Wire, frame: bytes) -> bytes:
    """``frame`` (a body of MAX_BODY bytes) announcing and carrying one body byte more."""
    n = MAX_BODY + 1
    if w.serial:
        length = (bcd_encode(n, 2) if w.dialect is Dialect.MISPOS_1 else n.to_bytes(2, "big"))
        tail = 2 if w.dialect is Dialect.MISPOS_1 else 3
        return bytes((STX,)) + length + frame[3:-tail] + b"\xa5" + frame[-tail:]
    length = f"{n:04d}".encode() if w.dialect is Dialect.MISPOS_1 else n.to_bytes(2, "big")
    prefix = 4 if w.dialect is Dialect.MISPOS_1 else 2
    return length + frame[prefix:] + b"\xa5"


def max_frame(ctx: Ctx) -> str:
    w = ctx.wire()
    msg = _echo_of_size(w, ctx.seq(), MAX_BODY)
    try:
        answer, body = w.request(msg)
    except CaseFailed as exc:
        raise CaseFailed(f"an ECHO of {MAX_BODY} body bytes (the maximum, §1.1): {exc}") from exc
    if not isinstance(answer, EchoResponse) or answer.payload != msg.payload:
        raise CaseFailed(f"an ECHO of {MAX_BODY} body bytes was not echoed")
    over = _one_over(w, w.frame(_echo_of_size(w, ctx.seq(), MAX_BODY)))
    w.send(over, f"a frame announcing {MAX_BODY + 1} body bytes")
    got = w.listen(QUIET)
    acked = any(isinstance(g.event, LinkByte) and g.event.code == ACK for g in got)
    if _new_frames(w, got) or acked:
        raise CaseFailed(f"the device accepted a body of {MAX_BODY + 1} bytes (§1.1: "
                         f"at most {MAX_BODY}; the frame start is false)")
    if ctx.serial:
        _echo(ctx, w, _payload(ctx))
        return (f"{MAX_BODY}-byte body answered; {MAX_BODY + 1} ignored as a false start, "
                "the next request answered")
    closed = " and the connection closed" if w.closed else ""
    w.close()
    _echo(ctx, ctx.wire(), _payload(ctx))
    return f"{MAX_BODY}-byte body answered; {MAX_BODY + 1} not answered{closed}"

