"""Tag tables: which TLV carries which dataclass field, for every message and nested record.

Contract: :data:`LAYOUTS` maps each message class (and the nested :class:`JournalRecord`,
:class:`SettlementLine` and error counter) to its fields in wire order. Tags are two bytes,
``DFxx``; a tag means the same thing in every message. The card of a journal record is not
in the table: it is carried by :data:`TAG_PAN` (``mispos-1``: the full number) or by
:data:`TAG_MASKED` + :data:`TAG_TOKEN` (``sl-2``), handled by the codec.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import messages as m
from ._fields import (
    AMOUNT,
    BOOL,
    BYTES,
    CAPS,
    DIALECT,
    ERRCODE,
    KIND,
    RESULT,
    S8,
    STATUS,
    TEXT,
    TIME,
    U8,
    U16,
    U32,
    U64,
    Kind,
)

REQ, OPT, NONE, REP = "required", "optional", "optional (absent = none)", "repeated"

TAG_PAN = 0xDF40  # mispos-1: full card number, packed BCD, padded with F nibbles
TAG_MASKED = 0xDF41  # sl-2: masked card number, ASCII (first 6, last 4)
TAG_TOKEN = 0xDF42  # sl-2: card token, 16 bytes (the 32 hex digits of the token)
CARD_TAGS = frozenset({TAG_PAN, TAG_MASKED, TAG_TOKEN})


@dataclass(frozen=True, slots=True)
class F:
    """One field: dataclass attribute, tag, value encoding (or nested class), mode."""

    name: str
    tag: int
    kind: Kind | None
    mode: str = REQ
    nested: type | None = None


class Counter:
    """Marker for the nested error counter of DeviceStatusResponse: ``(name, count)``."""


def _rec(name: str, tag: int, mode: str = REQ) -> F:
    return F(name, tag, None, mode, m.JournalRecord)


LAYOUTS: dict[type, tuple[F, ...]] = {
    m.JournalRecord: (
        F("cursor", 0xDF30, U32), F("ref", 0xDF19, TEXT), F("client_ref", 0xDF18, TEXT),
        F("kind", 0xDF38, KIND), F("product", 0xDF10, TEXT), F("account", 0xDF11, TEXT),
        F("amount_fen", 0xDF28, AMOUNT), F("status", 0xDF39, STATUS), F("result", 0xDF20, RESULT),
        F("terminal_time", 0xDF02, TIME), F("uptime_ms", 0xDF3A, U64),
        F("boot_id", 0xDF3B, U32), F("original_ref", 0xDF1A, TEXT, OPT),
    ),
    m.SettlementLine: (
        F("kind", 0xDF38, KIND), F("product", 0xDF10, TEXT), F("count", 0xDF35, U32),
        F("amount_fen", 0xDF28, AMOUNT),
    ),
    Counter: (F("name", 0xDF53, TEXT), F("count", 0xDF35, U32)),
    m.IdentifyRequest: (F("host_time", 0xDF01, TIME),),
    m.IdentifyResponse: (
        F("vendor", 0xDF08, TEXT), F("model", 0xDF09, TEXT), F("serial_number", 0xDF0A, TEXT),
        F("firmware", 0xDF0B, TEXT), F("dialect", 0xDF0C, DIALECT),
        F("capabilities", 0xDF0D, CAPS), F("terminal_time", 0xDF02, TIME),
    ),
    m.EchoRequest: (F("payload", 0xDF0F, BYTES, OPT),),
    m.EchoResponse: (F("payload", 0xDF0F, BYTES, OPT),),
    m.BillInquiryRequest: (F("product", 0xDF10, TEXT), F("account", 0xDF11, TEXT)),
    m.BillInquiryResponse: (
        F("result", 0xDF20, RESULT), F("product", 0xDF10, TEXT), F("account", 0xDF11, TEXT),
        F("amount_owed_fen", 0xDF29, AMOUNT), F("customer_name", 0xDF12, TEXT),
    ),
    m.BillPaymentRequest: (
        F("client_ref", 0xDF18, TEXT), F("product", 0xDF10, TEXT), F("account", 0xDF11, TEXT),
        F("amount_fen", 0xDF28, AMOUNT),
    ),
    m.BillPaymentResponse: (F("result", 0xDF20, RESULT), _rec("record", 0xDF50)),
    m.WithdrawalRequest: (F("client_ref", 0xDF18, TEXT), F("amount_fen", 0xDF28, AMOUNT)),
    m.WithdrawalResponse: (F("result", 0xDF20, RESULT), _rec("record", 0xDF50)),
    m.BalanceInquiryRequest: (F("client_ref", 0xDF18, TEXT),),
    m.BalanceInquiryResponse: (
        F("result", 0xDF20, RESULT), _rec("record", 0xDF50), F("balance_fen", 0xDF2A, AMOUNT),
    ),
    m.ReversalRequest: (F("client_ref", 0xDF18, TEXT), F("original_ref", 0xDF1A, TEXT)),
    m.ReversalResponse: (F("result", 0xDF20, RESULT), _rec("record", 0xDF50, NONE)),
    m.StatusQuery: (F("ref", 0xDF19, TEXT, OPT), F("client_ref", 0xDF18, TEXT, OPT)),
    m.StatusResponse: (F("found", 0xDF21, BOOL), _rec("record", 0xDF50, NONE)),
    m.JournalReadRequest: (F("after_cursor", 0xDF31, U32), F("max_records", 0xDF32, U16)),
    m.JournalReadResponse: (_rec("records", 0xDF50, REP), F("more", 0xDF22, BOOL)),
    m.JournalAckRequest: (F("upto_cursor", 0xDF33, U32),),
    m.JournalAckResponse: (F("acked_cursor", 0xDF34, U32),),
    m.SettlementTotalsRequest: (),
    m.SettlementTotalsResponse: (
        F("since", 0xDF03, TIME), F("lines", 0xDF51, None, REP, m.SettlementLine),
    ),
    m.DeviceStatusRequest: (),
    m.DeviceStatusResponse: (
        F("paper_ok", 0xDF23, BOOL), F("error_counters", 0xDF52, None, REP, Counter),
        F("signal_dbm", 0xDF3C, S8), F("uptime_ms", 0xDF3A, U64), F("boot_id", 0xDF3B, U32),
        F("terminal_time", 0xDF02, TIME), F("journal_unacked", 0xDF36, U32),
    ),
    m.ErrorReply: (
        F("code", 0xDF7E, ERRCODE), F("for_type", 0xDF7D, U8), F("text", 0xDF7C, TEXT, OPT),
    ),
}
