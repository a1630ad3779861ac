"""Deframer resynchronisation: work linear in the input however it is fed, same events.

Work is counted, never timed: ``Deframer._work`` counts candidate examinations (serial
candidate checks, memo hits included, and TCP prefix examinations). On adversarial serial
input (a damaged frame whose body is full of STX + length candidates; candidates with ETX in
place that all hide one valid frame) fed one byte at a time, the work per byte must stay
bounded as the frames grow (``max_body`` raised so the sizes can scale). Events must not
depend on how the stream is split, and serial events must match a plain reference
implementation of the rules of docs/protocol.md §1.3.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_framing_deframer import assert_tiles, run, same_for_the_transport, split

from stationlink.protocol._checksums import bcd_encode, crc16_ccitt_false, lrc
from stationlink.protocol._framing import (
    ACK,
    EOT,
    ETX,
    MAX_BODY,
    MIN_BODY,
    NAK,
    STX,
    Deframer,
    Event,
    FrameEvent,
    LinkByte,
    Rejected,
    Transport,
    build_frame,
)
from stationlink.protocol.messages import Dialect

COMBOS = [(d, t) for d in Dialect for t in Transport]
BIG = 9999  # max_body for the scaling runs: frames of a few thousand bytes


def length_field(dialect: Dialect, length: int) -> bytes:
    return bcd_encode(length, 2) if dialect is Dialect.MISPOS_1 else length.to_bytes(2, "big")


def frame_of(body: bytes, dialect: Dialect, transport: Transport) -> bytes:
    """``build_frame`` without its 1024-byte cap (the scaling runs use larger frames)."""
    if transport is Transport.TCP:
        prefix = f"{len(body):04d}".encode() if dialect is Dialect.MISPOS_1 else (
            len(body).to_bytes(2, "big"))
        return prefix + body
    checked = length_field(dialect, len(body)) + body + bytes([ETX])
    if dialect is Dialect.MISPOS_1:
        return bytes([STX]) + checked + bytes([lrc(checked)])
    return bytes([STX]) + checked + crc16_ccitt_false(checked).to_bytes(2, "big")


def pending_candidates(dialect: Dialect, transport: Transport, size: int) -> bytes:
    """Issue 8 §5: damaged frames (``size``-byte bodies) full of STX + long-length candidates.

    Each inner candidate announces ``size`` bytes, so it ends beyond the damaged frame: the
    verdict on that frame waits for them while the next copies arrive.
    """
    unit = bytes([STX]) + length_field(dialect, size) + b"A"
    body = (unit * (size // 4 + 1))[:size]
    frame = bytearray(frame_of(body, dialect, transport))
    if transport is Transport.SERIAL:
        frame[-1] ^= 0x01  # wrong check value
    return bytes(frame) * 3


def nested_candidates(dialect: Dialect, transport: Transport, size: int) -> bytes:
    """Candidates every 4 bytes with ETX in place (damaged), all hiding one valid frame.

    ``STX LEN LEN ETX`` repeated with LEN a multiple of 4: every STX announces a frame whose
    ETX position holds ETX, the check value is wrong, and a valid frame starts inside each:
    each STX is false in turn (rule 6) and the valid frame is found after them.
    """
    length = size // 4 * 4
    block = (bytes([STX]) + length_field(dialect, length) + bytes([ETX])) * (length // 4)
    overhead = len(frame_of(bytes(MIN_BODY), dialect, transport)) - MIN_BODY
    good = frame_of(b"G" * (32 - overhead), dialect, transport)  # keeps the ETXs in place
    return block + good + block


FAMILIES: dict[str, Callable[[Dialect, Transport, int], bytes]] = {
    "pending": pending_candidates,
    "nested": nested_candidates,
}


def work(dialect: Dialect, transport: Transport, stream: bytes, chunk: int) -> int:
    """Candidate examinations to deframe ``stream`` fed ``chunk`` bytes at a time."""
    d = Deframer(dialect, transport, max_body=BIG)
    events: list[Event] = []
    for i in range(0, len(stream), chunk):
        events += d.feed(stream[i : i + chunk])
    events += d.expire()
    events += d.close()
    assert_tiles(list(events), len(stream))
    return d._work


@pytest.mark.parametrize("chunk", [1, 7, 10**6], ids=["bytewise", "chunks", "whole"])
@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize(("dialect", "transport"), COMBOS)
@pytest.mark.parametrize("stream_transport", list(Transport))
def test_resync_work_is_linear(
    family: str, dialect: Dialect, transport: Transport, stream_transport: Transport,
    chunk: int,
) -> None:
    """Adversarial input (either framing, to either deframer): work grows linearly.

    4x the input may cost at most 4.5x the work, and never more than 4 examinations a byte.
    """
    make = FAMILIES[family]
    small = make(dialect, stream_transport, 600)
    large = make(dialect, stream_transport, 2400)
    w_small = work(dialect, transport, small, chunk)
    w_large = work(dialect, transport, large, chunk)
    assert w_large <= 4.5 * w_small * len(large) / (4 * len(small)), (w_small, w_large)
    assert w_large <= 4 * len(large), (w_large, len(large))


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("dialect", list(Dialect))
def test_resync_state_stays_bounded(family: str, dialect: Dialect) -> None:
    """50 rounds of adversarial input: what the deframer remembers stays bounded.

    The buffer holds at most two maximal frames (a damaged frame and a candidate starting
    in its last bytes); the check results and candidate lists at most twice that, plus 64.
    """
    stream = FAMILIES[family](dialect, Transport.SERIAL, 1000) * 50
    d = Deframer(dialect, Transport.SERIAL)
    frames = 2 * (MAX_BODY + 6)
    for i in range(0, len(stream), 97):
        d.feed(stream[i : i + 97])
        sizes = (len(d._memo), len(d._valid), len(d._pending), len(d._pend_pos),
                 len(d._pend_need))
        assert len(d._buf) <= frames, i
        assert max(sizes) <= 2 * frames + 64, (i, sizes)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("dialect", list(Dialect))
def test_adversarial_events_match_the_rules(family: str, dialect: Dialect) -> None:
    """The adversarial inputs give the same events byte by byte, whole and by the rules."""
    stream = FAMILIES[family](dialect, Transport.SERIAL, 200)
    whole = run(Deframer(dialect, Transport.SERIAL, max_body=BIG), [stream])
    assert whole == reference_serial(stream, dialect, BIG)
    bytewise = [stream[i : i + 1] for i in range(len(stream))]
    assert run(Deframer(dialect, Transport.SERIAL, max_body=BIG), bytewise) == whole
    if family == "nested":  # the valid frame behind the false STXs is found
        assert sum(isinstance(e, FrameEvent) for e in whole) == 1
    else:  # every damaged copy is reported whole, to be NAKed
        assert sum(isinstance(e, Rejected) and e.checksum_failed for e in whole) == 3


@pytest.mark.parametrize("dialect", list(Dialect))
def test_valid_frame_right_after_a_hidden_damaged_frame(dialect: Dialect) -> None:
    """Damaged A holds damaged B and, right where B ends, valid V: A's STX is false (V
    starts inside A), B is rejected whole (V starts after it, not inside), V is delivered."""
    v = build_frame(b"V" * 12, dialect, Transport.SERIAL)
    b = bytearray(build_frame(b"B" * 12, dialect, Transport.SERIAL))
    b[-1] ^= 0x01
    a = bytearray(build_frame(b"ab" + bytes(b) + v + b"z", dialect, Transport.SERIAL))
    a[-1] ^= 0x01
    stream = bytes(a) * 2
    b_at, v_at = 3 + 2, 3 + 2 + len(b)
    what = "LRC" if dialect is Dialect.MISPOS_1 else "CRC"
    for chunks in ([stream], [stream[i : i + 1] for i in range(len(stream))]):
        events = run(Deframer(dialect, Transport.SERIAL), chunks)
        assert events == reference_serial(stream, dialect, 1024)
        assert events[0] == Rejected(0, 1, _REASONS["hides"])
        assert Rejected(b_at, len(b), f"bad {what}", checksum_failed=True) in events
        assert FrameEvent(v_at, b"V" * 12, v) in events
        assert sum(isinstance(e, FrameEvent) for e in events) == 2


# -- a plain reference implementation of docs/protocol.md §1.3 (whole stream, no waiting) --

_REASONS = {
    "length": "STX with an impossible length",
    "etx": "STX without ETX at the announced length",
    "incomplete": "STX of an incomplete frame",
    "hides": "STX of a frame with a bad check value hiding a valid frame",
}


def _check(stream: bytes, i: int, dialect: Dialect, max_body: int) -> tuple[str, int]:
    head = stream[i + 1 : i + 3]
    if len(head) < 2:
        return "incomplete", 0
    if dialect is Dialect.MISPOS_1:
        if not head.hex().isdigit():
            return "length", 0
        length = int(head.hex())
    else:
        length = int.from_bytes(head, "big")
    if not MIN_BODY <= length <= max_body:
        return "length", 0
    etx = i + 3 + length
    end = etx + (2 if dialect is Dialect.MISPOS_1 else 3)
    if end > len(stream):
        return "incomplete", 0
    if stream[etx] != ETX:
        return "etx", 0
    checked = stream[i + 1 : etx + 1]
    if dialect is Dialect.MISPOS_1:
        good = lrc(checked) == stream[etx + 1]
    else:
        good = crc16_ccitt_false(checked) == int.from_bytes(stream[etx + 1 : end], "big")
    return ("valid" if good else "bad", end)


def reference_serial(
    stream: bytes, dialect: Dialect, max_body: int, final: bool = True
) -> list[Event]:
    """The events of ``stream``: at its end (``final``), or as far as it decides them.

    Not final, the scan stops at an incomplete frame, or at a damaged frame hiding no valid
    frame but an incomplete candidate, and the skipped stretch still growing is not reported.
    """
    out: list[Event] = []
    held: list[Rejected] = []

    def skip(offset: int, reason: str) -> None:
        if held and held[0].offset + held[0].length == offset and held[0].reason == reason:
            held[0] = Rejected(held[0].offset, held[0].length + 1, reason)
        else:
            out.extend(held)
            held[:] = [Rejected(offset, 1, reason)]

    def emit(ev: Event) -> None:
        out.extend(held)
        held.clear()
        out.append(ev)

    pos = 0
    while pos < len(stream):
        b = stream[pos]
        if b in (ACK, NAK, EOT):
            emit(LinkByte(pos, b))
            pos += 1
            continue
        if b != STX:
            skip(pos, "garbage outside a frame")
            pos += 1
            continue
        status, end = _check(stream, pos, dialect, max_body)
        if status == "incomplete" and not final:
            return out
        if status == "bad":
            inner = [_check(stream, j, dialect, max_body)[0]
                     for j in range(pos + 1, end) if stream[j] == STX]
            if "valid" in inner:
                status = "hides"
            elif "incomplete" in inner and not final:
                return out
        if status == "valid":
            emit(FrameEvent(pos, stream[pos + 3 : end - (2 if dialect is Dialect.MISPOS_1
                                                        else 3)], stream[pos:end]))
            pos = end
        elif status == "bad":
            what = "LRC" if dialect is Dialect.MISPOS_1 else "CRC"
            emit(Rejected(pos, end - pos, f"bad {what}", checksum_failed=True))
            pos = end
        else:
            skip(pos, _REASONS[status])
            pos += 1
    return [*out, *held] if final else out


# -- arbitrary STX-rich streams: byte by byte == whole == random chunks ----------------------

SMALL_MAX = 40  # small max_body: random length fields are often possible


def _pieces(dialect: Dialect, transport: Transport) -> st.SearchStrategy[bytes]:
    body = st.binary(min_size=MIN_BODY, max_size=SMALL_MAX)
    good = body.map(lambda b: build_frame(b, dialect, transport))
    damaged = st.tuples(good, st.integers(0, 10**6), st.integers(1, 255)).map(
        lambda t: t[0][: t[1] % len(t[0])] + bytes([t[0][t[1] % len(t[0])] ^ t[2]])
        + t[0][t[1] % len(t[0]) + 1 :])
    candidate = st.tuples(st.integers(0, SMALL_MAX + 5), st.binary(max_size=8)).map(
        lambda t: bytes([STX]) + length_field(dialect, t[0]) + t[1])
    noise = st.binary(max_size=12) | st.lists(
        st.sampled_from([STX, ETX, ACK, NAK, EOT, 0x00, 0x11, 0x30, 0x31]), max_size=12
    ).map(bytes)

    def wrapped(parts: list[bytes], head: bytes, damage: bool) -> bytes:
        body = (head + b"".join(parts)).ljust(MIN_BODY, b"\x00")[:SMALL_MAX]
        frame = bytearray(frame_of(body, dialect, transport))
        if damage and transport is Transport.SERIAL:
            frame[-1] ^= 0x01
        return bytes(frame)

    def wrap(inner: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
        """A frame (damaged or not) whose body holds other pieces: frames hiding frames."""
        return st.builds(wrapped, st.lists(inner, max_size=3), st.binary(max_size=4),
                         st.booleans())

    leaves = st.one_of(good, damaged, candidate, noise)
    return st.recursive(leaves, wrap, max_leaves=6)


@st.composite
def stx_rich(draw: st.DrawFn, dialect: Dialect, transport: Transport) -> bytes:
    return b"".join(draw(st.lists(_pieces(dialect, transport), max_size=8)))


@pytest.mark.slow
@pytest.mark.parametrize(("dialect", "transport"), COMBOS)
@settings(max_examples=120, deadline=None)
@given(data=st.data(), cuts=st.lists(st.integers(0, 10**6), max_size=8))
def test_any_split_gives_the_same_events(
    dialect: Dialect, transport: Transport, data: st.DataObject, cuts: list[int]
) -> None:
    stream = data.draw(stx_rich(dialect, transport) | st.binary(max_size=200))

    def fresh() -> Deframer:
        return Deframer(dialect, transport, max_body=SMALL_MAX)

    whole = run(fresh(), [stream])
    assert_tiles(whole, len(stream))
    bytewise = run(fresh(), [stream[i : i + 1] for i in range(len(stream))])
    chunked = run(fresh(), split(stream, cuts))
    same_for_the_transport(transport, bytewise, whole)
    same_for_the_transport(transport, chunked, whole)
    if transport is Transport.SERIAL:
        assert whole == reference_serial(stream, dialect, SMALL_MAX)


@pytest.mark.slow
@pytest.mark.parametrize(("dialect", "transport"), COMBOS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_feed_reports_events_as_soon_as_decided(
    dialect: Dialect, transport: Transport, data: st.DataObject
) -> None:
    """Fed one byte at a time, the events so far are after every byte those of the prefix fed
    at once (stretches compared byte by byte on TCP), and on serial those the rules decide on
    the prefix: waiting for the bytes that can change a verdict never delays an event."""
    stream = data.draw(stx_rich(dialect, transport))
    d = Deframer(dialect, transport, max_body=SMALL_MAX)
    so_far: list[Event] = []
    for k in range(1, len(stream) + 1):
        so_far += d.feed(stream[k - 1 : k])
        at_once = Deframer(dialect, transport, max_body=SMALL_MAX).feed(stream[:k])
        same_for_the_transport(transport, so_far, at_once)
        if transport is Transport.SERIAL:
            assert so_far == reference_serial(stream[:k], dialect, SMALL_MAX, final=False)
