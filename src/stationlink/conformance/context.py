"""What a case works with: the device's address and dialect, fresh links, and the shared
requests (journal, device status, test payments and their reversal).

Contract:
- :meth:`Ctx.wire` opens a fresh link logged into the running case's transcript (serial:
  the line settled first, :meth:`.wire.Wire.drain`: what earlier links left pending, e.g. a
  late ACK and its answer or retransmissions, is read, ACKed and kept out of the case, as
  long as the protocol's timers allow it to come (one :class:`~.line.Line` for the run);
  TCP: a new connection); the engine closes every link a case opened when the case ends.
- :meth:`Ctx.seq` draws a sequence number from the run's seeded random source, away from
  the wrap (CF-SEQ-WRAP goes there on purpose); :meth:`Ctx.client_ref` a fresh reference.
- :meth:`Ctx.pay` sends ONE money-moving request of the test amount (bill payment on a bill
  terminal, withdrawal on a card terminal); it refuses to run without ``allow_money`` (a
  programming error: the engine never starts a money case then). :meth:`Ctx.reverse`
  reverses an approved test transaction and records in ``money`` whether it could.
- :meth:`Ctx.journal` reads the whole journal (up to ``limit`` records) with the page size
  given, checking nothing; the cases check.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ..clock import MonotonicClock
from ..diag.catalogue import Lang
from ..errors import StationLinkError
from ..protocol import (
    BalanceInquiryRequest,
    BalanceInquiryResponse,
    BillPaymentRequest,
    BillPaymentResponse,
    DeviceStatusRequest,
    DeviceStatusResponse,
    Dialect,
    IdentifyResponse,
    JournalReadRequest,
    JournalReadResponse,
    JournalRecord,
    Message,
    MsgType,
    ResultCode,
    ReversalRequest,
    ReversalResponse,
    StatusQuery,
    StatusResponse,
    Transport,
    WithdrawalRequest,
    WithdrawalResponse,
)
from ..transport.base import ByteStream
from ..transport.url import Endpoint
from .line import Line
from .model import Exchange, MoneyNote
from .wire import CaseFailed, Wire


@dataclass
class Ctx:
    endpoint: Endpoint
    dialect: Dialect
    kind: str  # "bill" | "card"
    card_key: bytes
    clock: MonotonicClock
    host_time: Callable[[], datetime]
    rng: random.Random
    open_stream: Callable[[Endpoint], ByteStream]
    allow_money: bool = False
    power_cycle: Callable[[], None] | None = None
    product: str = "mobile"
    account: str = "13800000000"
    amount_fen: int = 1
    lang: Lang = "zh"
    terminal_id: str = "00000000"
    identity: IdentifyResponse | None = None
    money: list[MoneyNote] = field(default_factory=list)
    case_id: str = ""
    transcript: list[Exchange] = field(default_factory=list)
    t0: float = 0.0
    wires: list[Wire] = field(default_factory=list)
    line: Line = field(default_factory=Line)  # serial: what the device may still send

    @property
    def transport(self) -> Transport:
        return self.endpoint.kind

    @property
    def serial(self) -> bool:
        return self.endpoint.kind is Transport.SERIAL

    def begin(self, case_id: str) -> None:
        self.case_id = case_id
        self.transcript = []
        self.t0 = self.clock()

    def end(self) -> None:
        while self.wires:
            self.wires.pop().close()

    def transcript_note(self, note: str) -> None:
        """An event of the case that is not a byte on the link (e.g. the power cycle)."""
        self.transcript.append(Exchange(self.clock() - self.t0, "out", b"", note))

    def wire(self, *, listen: tuple[Dialect, ...] = (), auto_ack: bool = True) -> Wire:
        try:
            stream = self.open_stream(self.endpoint)
        except StationLinkError as exc:
            raise CaseFailed(f"could not open {self.endpoint.target}: {exc}") from exc
        w = Wire(stream, self.dialect, card_key=self.card_key, clock=self.clock,
                 t0=self.t0, transcript=self.transcript, terminal_id=self.terminal_id,
                 listen=listen, auto_ack=auto_ack, line=self.line if self.serial else None)
        self.wires.append(w)
        w.drain()
        return w

    def seq(self) -> int:
        return self.rng.randrange(1, 60000)

    def client_ref(self) -> str:
        return f"CF{self.rng.getrandbits(48):012X}"

    # ------------------------------------------------------------- shared requests

    def status(self, w: Wire) -> DeviceStatusResponse:
        msg = w.call(DeviceStatusRequest(w.header(MsgType.DEVICE_STATUS, self.seq())),
                     DeviceStatusResponse)
        assert isinstance(msg, DeviceStatusResponse)  # noqa: S101 - call checked it
        return msg

    def journal_page(self, w: Wire, after: int, size: int) -> tuple[JournalReadResponse, bytes]:
        msg, body = w.request(JournalReadRequest(w.header(MsgType.JOURNAL_READ, self.seq()),
                                                 after, size))
        if not isinstance(msg, JournalReadResponse):
            raise CaseFailed(f"JOURNAL_READ after {after} answered with {type(msg).__name__}")
        return msg, body

    def journal(self, w: Wire, size: int = 50, limit: int = 2000) -> list[JournalRecord]:
        out: list[JournalRecord] = []
        after = 0
        while len(out) < limit:
            page, _ = self.journal_page(w, after, size)
            out.extend(page.records)
            if not page.more:
                break
            if not page.records:
                raise CaseFailed(f"JOURNAL_READ after {after}: no record but 'more' set")
            after = page.records[-1].cursor
        return out

    def query(self, w: Wire, client_ref: str) -> StatusResponse:
        msg = w.call(StatusQuery(w.header(MsgType.STATUS_QUERY, self.seq()), "", client_ref),
                     StatusResponse)
        assert isinstance(msg, StatusResponse)  # noqa: S101 - call checked it
        return msg

    def payment(self, w: Wire, client_ref: str, seq: int) -> Message:
        """The money-moving request of this kind of terminal (not sent)."""
        if not self.allow_money:
            raise RuntimeError("a money-moving request without --allow-money")  # never reached
        if self.kind == "bill":
            return BillPaymentRequest(w.header(MsgType.BILL_PAYMENT, seq), client_ref,
                                      self.product, self.account, self.amount_fen)
        return WithdrawalRequest(w.header(MsgType.WITHDRAWAL, seq), client_ref, self.amount_fen)

    def paid_record(self, answer: Message, what: str) -> JournalRecord:
        if not isinstance(answer, BillPaymentResponse | WithdrawalResponse):
            raise CaseFailed(f"{what} answered with {type(answer).__name__}")
        return answer.record

    def reverse(self, w: Wire, record: JournalRecord) -> None:
        """Reverse an approved test transaction; note in ``money`` whether it was."""
        if record.result is not ResultCode.APPROVED:
            self.money.append(MoneyNote(self.case_id, record.client_ref, record.ref,
                                        record.amount_fen, False,
                                        f"not approved ({record.result.name}): nothing to "
                                        "reverse"))
            return
        try:
            msg, _ = w.request(ReversalRequest(w.header(MsgType.REVERSAL, self.seq()),
                                               self.client_ref(), record.ref))
        except CaseFailed as exc:
            self.money.append(MoneyNote(self.case_id, record.client_ref, record.ref,
                                        record.amount_fen, False, str(exc)))
            return
        ok = isinstance(msg, ReversalResponse) and msg.result is ResultCode.APPROVED
        detail = "" if ok else (f"reversal answered {msg.result.name}"
                                if isinstance(msg, ReversalResponse)
                                else f"reversal answered {type(msg).__name__}")
        self.money.append(MoneyNote(self.case_id, record.client_ref, record.ref,
                                    record.amount_fen, ok, detail))

    def balance_inquiry(self, w: Wire) -> tuple[BalanceInquiryResponse, bytes]:
        """A card terminal's journal record without moving money."""
        msg, body = w.request(BalanceInquiryRequest(w.header(MsgType.BALANCE_INQUIRY,
                                                             self.seq()), self.client_ref()))
        if not isinstance(msg, BalanceInquiryResponse):
            raise CaseFailed(f"BALANCE_INQUIRY answered with {type(msg).__name__}")
        return msg, body
