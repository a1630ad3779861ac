"""Deliberately broken emulated terminals: one seeded deviation from docs/protocol.md each.

Contract:
- :data:`DEVIATIONS` is the registry, name -> :class:`Deviation`: a one-line description,
  the rule of docs/protocol.md it breaks (section number), and the conformance cases
  (``stationlink conformance``, docs/conformance.md) that must catch it, *exactly* those
  and no other. :meth:`Deviation.caught_by` gives the cases for one kind / dialect /
  transport: a deviation that cannot show there (no ACKs on TCP, no two-byte check value
  in ``mispos-1``, no cards on a bill terminal) leaves the terminal conforming and is
  caught by nothing. The kit's "each deviation fails exactly its cases" test is
  parametrised from this registry.
- :func:`get_deviation` resolves a name or raises :class:`~stationlink.errors.ConfigError`
  listing the names.
- :class:`OutboundDeviation` rewrites what the terminal's link sends (checksum byte order,
  NAK turned into ACK, ACK held back past T1, a full card number put in place of the masked
  one, CR LF after every TCP frame); the other deviations are small hooks in ``session.py``
  / ``device.py`` marked ``# deviation hook``. With no deviation nothing here runs.
- No deviation ever writes a full card number to a log or a file: ``full_card_number``
  puts it on the wire only, which is the misbehaviour a conformance kit must catch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stationlink.errors import ConfigError
from stationlink.protocol import (
    ACK,
    HEADER_SIZE,
    NAK,
    ClearPan,
    Deframer,
    Dialect,
    FrameEvent,
    LinkByte,
    Transport,
    build_frame,
    build_tlvs,
    parse_tlvs,
)

#: How long ``late_ack`` holds an ACK back: past T1 (1.0 s, docs/protocol.md §2.3).
LATE_ACK_DELAY = 1.5

#: ``idle_close``: seconds without a frame after which the terminal drops a TCP connection
#: (the host sends its heartbeat only after 15 s of silence, docs/protocol.md §2.2).
IDLE_CLOSE_AFTER = 1.0

#: ``tcp_frame_trailer``: what the terminal writes after every TCP frame.
TCP_TRAILER = b"\r\n"

TAG_RECORD = 0xDF50
TAG_PAN = 0xDF40
TAG_MASKED = 0xDF41
TAG_TOKEN = 0xDF42

#: The capability a terminal lists in IDENTIFY (DF0D) when it never sends a full card
#: number (docs/protocol.md §4.2).
MASKING = "masking"

_ALL_TRANSPORTS = frozenset(Transport)
_ALL_DIALECTS = frozenset(Dialect)
_ALL_KINDS = frozenset({"bill", "card"})


@dataclass(frozen=True, slots=True)
class Deviation:
    """One seeded deviation: what it does, the rule it breaks, the cases that catch it."""

    name: str
    doc: str
    rule: str  # the docs/protocol.md section it breaks
    cases: tuple[str, ...]
    transports: frozenset[Transport] = _ALL_TRANSPORTS
    dialects: frozenset[Dialect] = _ALL_DIALECTS
    kinds: frozenset[str] = _ALL_KINDS
    note: str = ""  # where it does not show, or what a case needs to see it

    def shows(self, kind: str, dialect: Dialect | str, transport: Transport | str) -> bool:
        """Whether the deviation changes anything on this kind of terminal and link."""
        return (
            kind in self.kinds
            and Dialect(dialect) in self.dialects
            and Transport(transport) in self.transports
        )

    def caught_by(
        self, kind: str, dialect: Dialect | str, transport: Transport | str
    ) -> tuple[str, ...]:
        """The conformance cases that fail on this terminal; ``()`` where it cannot show."""
        return self.cases if self.shows(kind, dialect, transport) else ()


_SERIAL = frozenset({Transport.SERIAL})
_TCP = frozenset({Transport.TCP})

DEVIATIONS: dict[str, Deviation] = {d.name: d for d in (
    Deviation(
        "checksum_byte_order",
        "sends the CRC-16 of every frame low byte first",
        "§1.1", ("CF-FRAME-SERIAL",), transports=_SERIAL, dialects=frozenset({Dialect.SL_2}),
        note="serial sl-2 only: mispos-1's LRC is one byte and TCP frames carry no check "
             "value, so there it changes nothing",
    ),
    Deviation(
        "no_retransmission",
        "sends each response frame once: no retransmission when the host does not ACK",
        "§2.1", ("CF-RETRANS",), transports=_SERIAL,
        note="serial only (TCP has no retransmission)",
    ),
    Deviation(
        "late_ack",
        f"ACKs a good frame {LATE_ACK_DELAY:g} s after it arrived, past T1",
        "§2.1, §2.3", ("CF-ACK-TIMER",), transports=_SERIAL,
        note="serial only (TCP has no ACK)",
    ),
    Deviation(
        "duplicate_second_effect",
        "executes a repeated money-moving request (same seq and body) a second time: two "
        "journal records, two effects",
        "§2.1 (Duplicates), §2.4", ("CF-DUPLICATE",),
        note="needs a money-moving request, so the kit sees it only with --allow-money",
    ),
    Deviation(
        "cursor_reset_on_power_cycle",
        "keeps its journal counters in RAM: after a power cycle the acknowledged cursor is "
        "0 again (every record unacknowledged) and new records are numbered from 1 again",
        "§3.2 (journal)", ("CF-JOURNAL-POWER",),
        note="needs a power cycle: the kit's --power-cycle-cmd (stationlink sim power-cycle)",
    ),
    Deviation(
        "full_card_number",
        "claims 'masking' in IDENTIFY but sends the full card number (DF40) in journal "
        "records",
        "§4.2", ("CF-CARD-MASK",), kinds=frozenset({"card"}),
        note="card terminals only (bill terminals carry no card)",
    ),
    Deviation(
        "seq_no_wrap",
        "does not wrap its sequence count: the request with seq 0x0000 that follows "
        "0xFFFF is answered with seq 0xFFFF",
        "§4 (SEQ)", ("CF-SEQ-WRAP",),
    ),
    Deviation(
        "ack_bad_checksum",
        "ACKs a frame with a bad checksum instead of NAKing it (and does not act on it)",
        "§1.3 rule 6, §2.1", ("CF-NAK-BADSUM",), transports=_SERIAL,
        note="serial only (TCP has no NAK)",
    ),
    Deviation(
        "answer_other_dialect",
        "answers a frame of the other dialect, framed in that dialect, instead of staying "
        "silent (TCP: instead of closing the connection)",
        "§1.2, §2.5", ("CF-OTHER-DIALECT",),
        note="a mispos-1 terminal also answers a host's sl-2 detection probe, so detection "
             "fails there (§2.5 step 3: the answer names mispos-1 in sl-2 framing): give the "
             "host the dialect (the kit's --dialect mispos-1)",
    ),
    Deviation(
        "settlement_counts_reversed",
        "settlement totals count reversed transactions as if they stood",
        "§5 SettlementTotalsResponse (DF51)", ("CF-SETTLEMENT",),
        note="shows only when the journal since the last settlement holds a reversal "
             "(the kit's money cases reverse what they did, with --allow-money)",
    ),
    Deviation(
        "tcp_frame_trailer",
        "ends every TCP frame with CR LF, bytes that do not frame (a serial firmware's "
        "line ending carried over to TCP)",
        "§1.2", ("CF-FRAME-TCP",), transports=_TCP,
        note="TCP only (on serial the receiver skips bytes between frames, §1.3 rule 1); "
             "a host that follows §1.2 drops the connection after every answer",
    ),
    Deviation(
        "slides_over_garbage",
        "on TCP slides over bytes that do not frame, looking for a later frame, instead of "
        "closing the connection (the pre-rule field firmware of §1.2)",
        "§1.2 (bytes that do not frame)", ("CF-GARBAGE",), transports=_TCP,
        note="TCP only (on serial skipping garbage is the rule, §1.3)",
    ),
    Deviation(
        "no_receive_idle",
        "has no receive-idle timer: an incomplete frame holds back everything behind it "
        "until the length it announced has arrived, so a request after a truncated frame "
        "is swallowed",
        "§1.3 (receive idle 0.5 s), §2.3", ("CF-RESYNC",), transports=_SERIAL,
        note="serial only (TCP has no resynchronisation, §1.2)",
    ),
    Deviation(
        "idle_close",
        f"closes a TCP connection after {IDLE_CLOSE_AFTER:g} s without a frame, so the "
        "host's heartbeat (sent after 15 s of silence) never gets through",
        "§2.2 (heartbeat)", ("CF-HEARTBEAT",), transports=_TCP,
        note="TCP only (serial has no heartbeat)",
    ),
    Deviation(
        "status_per_connection",
        "answers STATUS_QUERY from the transactions of the current TCP connection only: a "
        "payment whose answer was lost with its connection is reported not found",
        "§2.4", ("CF-STATUS-LOST",), transports=_TCP,
        note="TCP only (a serial line has no connections); needs a money-moving request, "
             "so the kit sees it only with --allow-money",
    ),
    Deviation(
        "journal_page_overlap",
        "pages the journal from the record AT after_cursor instead of after it: every page "
        "after the first repeats the last record of the page before",
        "§3.2 (JOURNAL_READ)", ("CF-JOURNAL-PAGE",),
    ),
    Deviation(
        "signal_unsigned",
        "reports the signal strength without its sign: DF3C is +60 for -60 dBm",
        "§5 DeviceStatusResponse (DF3C)", ("CF-DEVICE-STATUS",),
    ),
    Deviation(
        "max_body_off_by_one",
        "its receiver takes 1023 body bytes for the maximum: a frame with a body of 1024 "
        "bytes is a false start (serial) or bytes that do not frame (TCP: it closes)",
        "§1.1 (a body has 11 to 1024 bytes)", ("CF-MAX-FRAME",),
    ),
)}


def get_deviation(name: str, *, source: str = "--deviation") -> Deviation:
    """The registered deviation ``name``; ConfigError naming the known ones otherwise."""
    try:
        return DEVIATIONS[name]
    except KeyError:
        raise ConfigError(
            f"{source}: unknown deviation {name!r}; known: {', '.join(sorted(DEVIATIONS))}"
        ) from None


#: One piece of output and how long to hold it back (seconds) before it goes out.
Piece = tuple[bytes, float]


class OutboundDeviation:
    """Rewrites one link's outbound byte stream for the output-side deviations.

    ``pan_for_token`` finds the clear card number behind a token (the device's memory of
    the cards it has seen); used by ``full_card_number`` on ``sl-2``. ``drop_nak``: the
    output of the second, other-dialect link of ``answer_other_dialect`` (it answers what
    it can frame and never NAKs the terminal's own dialect).
    """

    def __init__(
        self, name: str | None, dialect: Dialect, transport: Transport,
        pan_for_token: Callable[[str], ClearPan | None], *, drop_nak: bool = False,
    ) -> None:
        self.name = name
        self.dialect = dialect
        self.transport = transport
        self.pan_for_token = pan_for_token
        self.active = name in (
            "checksum_byte_order", "late_ack", "ack_bad_checksum", "full_card_number",
            "tcp_frame_trailer",
        ) and (name != "full_card_number" or dialect is Dialect.SL_2) or drop_nak
        self.drop_nak = drop_nak
        self._cutter = Deframer(dialect, transport)

    def outbound(self, data: bytes) -> list[Piece]:
        """What goes out instead of ``data`` (whole frames and link bytes, as a link sends)."""
        if not self.active or not data:
            return [(data, 0.0)] if data else []
        pieces: list[Piece] = []
        for ev in self._cutter.feed(data):
            if isinstance(ev, LinkByte):
                if not (self.drop_nak and ev.code == NAK):
                    pieces.append(self._link_byte(ev.code))
            elif isinstance(ev, FrameEvent):
                pieces.append((self._frame(ev), 0.0))
            # a link never sends a stretch that does not frame: nothing else to pass on
        return pieces

    def _link_byte(self, code: int) -> Piece:
        if self.name == "ack_bad_checksum" and code == NAK:
            return bytes([ACK]), 0.0
        if self.name == "late_ack" and code == ACK:
            return bytes([ACK]), LATE_ACK_DELAY
        return bytes([code]), 0.0

    def _frame(self, ev: FrameEvent) -> bytes:
        raw = ev.raw
        if self.name == "checksum_byte_order" and self.transport is Transport.SERIAL and (
            self.dialect is Dialect.SL_2
        ):
            return raw[:-2] + raw[-1:] + raw[-2:-1]
        if self.name == "tcp_frame_trailer" and self.transport is Transport.TCP:
            return raw + TCP_TRAILER
        if self.name == "full_card_number":
            body = unmask_body(ev.body, self.pan_for_token)
            return raw if body == ev.body else build_frame(body, self.dialect, self.transport)
        return raw


def unmask_body(body: bytes, pan_for_token: Callable[[str], ClearPan | None]) -> bytes:
    """``body`` with every journal record's DF41 + DF42 replaced by the DF40 full number.

    A record whose card the terminal does not know keeps its masked card.
    """
    header, items = body[:HEADER_SIZE], parse_tlvs(body[HEADER_SIZE:])
    out: list[tuple[int, bytes]] = []
    changed = False
    for tag, value in items:
        if tag == TAG_RECORD:
            fields = parse_tlvs(value, base=0)
            token = next((v for t, v in fields if t == TAG_TOKEN), None)
            pan = None if token is None else pan_for_token(token.hex())
            if pan is not None:
                digits = pan.reveal()
                fields = [(t, v) for t, v in fields if t not in (TAG_MASKED, TAG_TOKEN)]
                fields.append((TAG_PAN, bytes.fromhex(digits + "f" * (len(digits) % 2))))
                value = build_tlvs(fields)
                changed = True
        out.append((tag, value))
    return header + build_tlvs(out) if changed else body


__all__ = [
    "DEVIATIONS", "IDLE_CLOSE_AFTER", "LATE_ACK_DELAY", "MASKING", "TCP_TRAILER", "Deviation",
    "OutboundDeviation",
    "get_deviation", "unmask_body",
]
