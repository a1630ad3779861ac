"""The message catalogue: our own frozen dataclasses, independent of any wire layout.

Contract:
- Every message the link carries is one of the dataclasses below; codecs turn them into
  bodies and back (``stationlink.protocol._codec``). ``construct`` never appears here.
- Amounts are integer fen. Times are timezone-aware datetimes (terminals keep CST wall time).
- A card is a :class:`CardRef` (masked number + keyed token). A full card number exists only
  inside :class:`ClearPan`, which the *terminal* role (simulator) uses to build ``mispos-1``
  frames; its ``repr``/``str`` show the masked form only, and the host-side decoder turns it
  into a ``CardRef`` the moment a frame is decoded.
- Every message carries a :class:`Header` (type code, sequence number, terminal id) and keeps
  the TLV fields it did not understand in ``extra`` (tag -> raw bytes), so newer firmware does
  not break older hosts and a re-encoded message keeps them. Both are declared once, in the
  messages' common base; ``extra`` is keyword-only and :func:`message_fields` lists a
  message's fields in constructor order (``header``, its own fields, ``extra``).
- Money-moving requests (:class:`BillPaymentRequest`, :class:`WithdrawalRequest`,
  :class:`ReversalRequest`) carry a host-chosen ``client_ref`` that the terminal stores in its
  journal, so a lost response can be resolved with :class:`StatusQuery` instead of a resend.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import Field, dataclass, field, fields
from datetime import datetime
from typing import Any

from ..records.vocab import Kind, Status


class MsgType(enum.IntEnum):
    """Message type codes. A response's code is its request's code | 0x80."""

    IDENTIFY = 0x01
    ECHO = 0x02
    BILL_INQUIRY = 0x10
    BILL_PAYMENT = 0x11
    WITHDRAWAL = 0x20
    BALANCE_INQUIRY = 0x21
    REVERSAL = 0x30
    STATUS_QUERY = 0x31
    JOURNAL_READ = 0x40
    JOURNAL_ACK = 0x41
    SETTLEMENT_TOTALS = 0x50
    DEVICE_STATUS = 0x51
    IDENTIFY_RESP = 0x81
    ECHO_RESP = 0x82
    BILL_INQUIRY_RESP = 0x90
    BILL_PAYMENT_RESP = 0x91
    WITHDRAWAL_RESP = 0xA0
    BALANCE_INQUIRY_RESP = 0xA1
    REVERSAL_RESP = 0xB0
    STATUS_QUERY_RESP = 0xB1
    JOURNAL_READ_RESP = 0xC0
    JOURNAL_ACK_RESP = 0xC1
    SETTLEMENT_TOTALS_RESP = 0xD0
    DEVICE_STATUS_RESP = 0xD1
    ERROR = 0xFF


class Dialect(enum.StrEnum):
    MISPOS_1 = "mispos-1"
    SL_2 = "sl-2"


class ResultCode(enum.IntEnum):
    """Outcome of a request on the terminal (TLV ``DF20``)."""

    APPROVED = 0
    DECLINED = 1
    INSUFFICIENT_FUNDS = 2
    CARD_ERROR = 3
    HOST_UNREACHABLE = 4  # the bank / biller could not be reached: nothing happened
    ACCOUNT_NOT_FOUND = 5
    NOTHING_TO_REVERSE = 6
    PAPER_OUT = 7


#: Status and kind of a journal record: the record vocabulary's
#: :class:`~stationlink.records.Status` and :class:`~stationlink.records.Kind` (declared once
#: there; the interchange format, the buffer and the hub use the same enums). The wire
#: carries the kinds of ``records.vocab.TERMINAL_KINDS`` only, by the codes in the codec's
#: table (``_fields.KIND``): a ``referral`` is the station's own record, never a frame's.
TxnStatus = Status
TxnKind = Kind


class ErrorCode(enum.IntEnum):
    """Codes of the :class:`ErrorReply` (TLV ``DF7E``)."""

    UNSUPPORTED = 1  # message type not handled by this terminal
    MALFORMED = 2  # body did not decode
    BUSY = 3  # a transaction is in progress
    INVALID_FIELD = 4  # a field value is out of range
    INTERNAL = 5


# --------------------------------------------------------------------------------- cards


@dataclass(frozen=True, slots=True)
class CardRef:
    """A card as the host may see it: masked number (first 6, last 4) and keyed token."""

    masked: str
    token: str


class ClearPan:
    """A full card number, held only by the terminal role to build ``mispos-1`` frames.

    ``repr``/``str`` never show the digits; :meth:`reveal` is the single way to read them.
    """

    __slots__ = ("_digits",)

    def __init__(self, digits: str) -> None:
        if not digits.isdigit() or not 12 <= len(digits) <= 19:
            raise ValueError("a card number has 12 to 19 digits")
        self._digits = digits

    def reveal(self) -> str:
        return self._digits

    @property
    def masked(self) -> str:
        return mask_pan(self._digits)

    def __repr__(self) -> str:
        return f"ClearPan({self.masked!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClearPan) and hmac.compare_digest(
            self._digits, other._digits
        )

    def __hash__(self) -> int:
        return hash(("ClearPan", self.masked))

    def to_ref(self, key: bytes) -> CardRef:
        return CardRef(self.masked, card_token(self._digits, key))


def mask_pan(digits: str) -> str:
    """First 6 and last 4 digits kept, the rest replaced by ``*``."""
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def card_token(digits: str, key: bytes) -> str:
    """Keyed token of a card number: hex HMAC-SHA256, first 32 hex digits."""
    return hmac.new(key, digits.encode("ascii"), hashlib.sha256).hexdigest()[:32]


Card = CardRef | ClearPan

# ------------------------------------------------------------------------------- header


@dataclass(frozen=True, slots=True)
class Header:
    """Fixed body header: message type, sequence number (0..65535), terminal id (8 chars)."""

    msg_type: MsgType
    seq: int
    terminal_id: str


Extra = tuple[tuple[int, bytes], ...]

# ------------------------------------------------------------------------ journal record


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """One stored transaction in a terminal's journal (also the answer to a status query)."""

    cursor: int  # journal position, strictly increasing per terminal, never reused
    ref: str  # the terminal's own reference (12 characters), unique per terminal
    client_ref: str  # the host's reference of the request, '' for standalone use
    kind: TxnKind
    product: str  # bill product ('mobile', 'electricity', ...) or '' for card transactions
    account: str  # phone number / utility account for bills, '' otherwise
    amount_fen: int
    status: TxnStatus
    result: ResultCode
    terminal_time: datetime  # the terminal's own clock (may drift, may reset)
    uptime_ms: int  # terminal monotonic uptime at the transaction
    boot_id: int  # changes on every power cycle
    card: Card | None = None
    original_ref: str = ""  # for reversals: the reversed transaction's ref


# -------------------------------------------------------------------------------- bodies


@dataclass(frozen=True, slots=True)
class _MessageBase:
    """What every message carries: its :class:`Header`, and ``extra``, the TLV fields it did
    not understand (keyword-only; in :func:`message_fields` it comes last, after the
    message's own fields, as on the wire)."""

    header: Header
    extra: Extra = field(default=(), kw_only=True)


def message_fields(cls: type) -> tuple[Field[Any], ...]:
    """The fields of a message class (or nested record) in constructor order: a message's
    ``header`` first, its own fields, ``extra`` last."""
    known = _ORDER.get(cls)
    if known is None:
        known = _ORDER[cls] = tuple(sorted(fields(cls), key=lambda f: f.kw_only is True))
    return known


_ORDER: dict[type, tuple[Field[Any], ...]] = {}


@dataclass(frozen=True, slots=True)
class IdentifyRequest(_MessageBase):
    host_time: datetime


@dataclass(frozen=True, slots=True)
class IdentifyResponse(_MessageBase):
    vendor: str
    model: str
    serial_number: str
    firmware: str
    dialect: Dialect
    capabilities: frozenset[str]  # e.g. {'bill', 'card', 'journal', 'settlement'}
    terminal_time: datetime


@dataclass(frozen=True, slots=True)
class EchoRequest(_MessageBase):
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class EchoResponse(_MessageBase):
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class BillInquiryRequest(_MessageBase):
    product: str
    account: str


@dataclass(frozen=True, slots=True)
class BillInquiryResponse(_MessageBase):
    result: ResultCode
    product: str
    account: str
    amount_owed_fen: int
    customer_name: str  # GB18030 on mispos-1, UTF-8 on sl-2


@dataclass(frozen=True, slots=True)
class BillPaymentRequest(_MessageBase):
    client_ref: str
    product: str
    account: str
    amount_fen: int


@dataclass(frozen=True, slots=True)
class BillPaymentResponse(_MessageBase):
    result: ResultCode
    record: JournalRecord


@dataclass(frozen=True, slots=True)
class WithdrawalRequest(_MessageBase):
    client_ref: str
    amount_fen: int


@dataclass(frozen=True, slots=True)
class WithdrawalResponse(_MessageBase):
    result: ResultCode
    record: JournalRecord  # record.card: full number on mispos-1 wire, CardRef once decoded


@dataclass(frozen=True, slots=True)
class BalanceInquiryRequest(_MessageBase):
    client_ref: str


@dataclass(frozen=True, slots=True)
class BalanceInquiryResponse(_MessageBase):
    result: ResultCode
    record: JournalRecord  # kind balance_inquiry, amount_fen 0
    balance_fen: int


@dataclass(frozen=True, slots=True)
class ReversalRequest(_MessageBase):
    """Reverse the terminal's last approved money-moving transaction, if it is ``original_ref``."""

    client_ref: str
    original_ref: str


@dataclass(frozen=True, slots=True)
class ReversalResponse(_MessageBase):
    result: ResultCode
    record: JournalRecord | None  # the reversal's own record when approved


@dataclass(frozen=True, slots=True)
class StatusQuery(_MessageBase):
    """Ask what became of a transaction, by terminal ``ref`` or by host ``client_ref``."""

    ref: str = ""
    client_ref: str = ""


@dataclass(frozen=True, slots=True)
class StatusResponse(_MessageBase):
    found: bool
    record: JournalRecord | None


@dataclass(frozen=True, slots=True)
class JournalReadRequest(_MessageBase):
    after_cursor: int
    max_records: int


@dataclass(frozen=True, slots=True)
class JournalReadResponse(_MessageBase):
    records: tuple[JournalRecord, ...]
    more: bool  # further records exist after the last one in this page


@dataclass(frozen=True, slots=True)
class JournalAckRequest(_MessageBase):
    """The host has durably stored every record up to and including ``upto_cursor``."""

    upto_cursor: int


@dataclass(frozen=True, slots=True)
class JournalAckResponse(_MessageBase):
    acked_cursor: int


@dataclass(frozen=True, slots=True)
class SettlementTotalsRequest(_MessageBase):
    """No fields: the header alone."""


@dataclass(frozen=True, slots=True)
class SettlementLine:
    kind: TxnKind
    product: str
    count: int
    amount_fen: int


@dataclass(frozen=True, slots=True)
class SettlementTotalsResponse(_MessageBase):
    since: datetime  # terminal time of the last settlement
    lines: tuple[SettlementLine, ...]  # approved, not reversed, by (kind, product)


@dataclass(frozen=True, slots=True)
class DeviceStatusRequest(_MessageBase):
    """No fields: the header alone."""


@dataclass(frozen=True, slots=True)
class DeviceStatusResponse(_MessageBase):
    paper_ok: bool
    error_counters: tuple[tuple[str, int], ...]  # e.g. (('nak_sent', 3), ('crc_errors', 1))
    signal_dbm: int  # fixed-line / GPRS signal, negative dBm; 0 when not applicable
    uptime_ms: int
    boot_id: int
    terminal_time: datetime
    journal_unacked: int  # records not yet acknowledged by the host


@dataclass(frozen=True, slots=True)
class ErrorReply(_MessageBase):
    code: ErrorCode
    for_type: int  # the message type code that caused the error
    text: str = ""


Message = (
    IdentifyRequest
    | IdentifyResponse
    | EchoRequest
    | EchoResponse
    | BillInquiryRequest
    | BillInquiryResponse
    | BillPaymentRequest
    | BillPaymentResponse
    | WithdrawalRequest
    | WithdrawalResponse
    | BalanceInquiryRequest
    | BalanceInquiryResponse
    | ReversalRequest
    | ReversalResponse
    | StatusQuery
    | StatusResponse
    | JournalReadRequest
    | JournalReadResponse
    | JournalAckRequest
    | JournalAckResponse
    | SettlementTotalsRequest
    | SettlementTotalsResponse
    | DeviceStatusRequest
    | DeviceStatusResponse
    | ErrorReply
)

REQUEST_TYPES: dict[MsgType, type] = {
    MsgType.IDENTIFY: IdentifyRequest,
    MsgType.ECHO: EchoRequest,
    MsgType.BILL_INQUIRY: BillInquiryRequest,
    MsgType.BILL_PAYMENT: BillPaymentRequest,
    MsgType.WITHDRAWAL: WithdrawalRequest,
    MsgType.BALANCE_INQUIRY: BalanceInquiryRequest,
    MsgType.REVERSAL: ReversalRequest,
    MsgType.STATUS_QUERY: StatusQuery,
    MsgType.JOURNAL_READ: JournalReadRequest,
    MsgType.JOURNAL_ACK: JournalAckRequest,
    MsgType.SETTLEMENT_TOTALS: SettlementTotalsRequest,
    MsgType.DEVICE_STATUS: DeviceStatusRequest,
}

RESPONSE_TYPES: dict[MsgType, type] = {
    MsgType.IDENTIFY_RESP: IdentifyResponse,
    MsgType.ECHO_RESP: EchoResponse,
    MsgType.BILL_INQUIRY_RESP: BillInquiryResponse,
    MsgType.BILL_PAYMENT_RESP: BillPaymentResponse,
    MsgType.WITHDRAWAL_RESP: WithdrawalResponse,
    MsgType.BALANCE_INQUIRY_RESP: BalanceInquiryResponse,
    MsgType.REVERSAL_RESP: ReversalResponse,
    MsgType.STATUS_QUERY_RESP: StatusResponse,
    MsgType.JOURNAL_READ_RESP: JournalReadResponse,
    MsgType.JOURNAL_ACK_RESP: JournalAckResponse,
    MsgType.SETTLEMENT_TOTALS_RESP: SettlementTotalsResponse,
    MsgType.DEVICE_STATUS_RESP: DeviceStatusResponse,
    MsgType.ERROR: ErrorReply,
}

MONEY_MOVING = frozenset({MsgType.BILL_PAYMENT, MsgType.WITHDRAWAL, MsgType.REVERSAL})

#: The message class of each request type code, of each response type code, and back.
REQUEST_CODE: dict[type, MsgType] = {cls: code for code, cls in REQUEST_TYPES.items()}
RESPONSE_CODE: dict[type, MsgType] = {cls: code for code, cls in RESPONSE_TYPES.items()}
#: Every message class by its raw type code, and every message class's type code.
CLASS_OF: dict[int, type] = {int(code): cls for code, cls in
                             (*REQUEST_TYPES.items(), *RESPONSE_TYPES.items())}
TYPE_OF: dict[type, MsgType] = {**REQUEST_CODE, **RESPONSE_CODE}
