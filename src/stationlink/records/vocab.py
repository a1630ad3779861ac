"""The vocabulary of a transaction record, declared once: kinds, statuses, products, limits.

Contract:
- :class:`Kind`, :class:`Status`, :class:`Product`, :class:`Entry` (what a stored record
  is) and :class:`Source` (how it was captured) are the closed sets of values a record
  may carry; the tuples below (``KINDS``, ``STATUSES``, ``BILL_PRODUCTS`` ...) are their
  values in the order messages list them. The interchange format, the station buffer, the
  hub and the protocol (its ``TxnKind``/``TxnStatus`` are these enums; their wire codes are
  in the protocol's codec table) import these; nobody re-declares them.
- :data:`CEILING_FEN` is the largest amount, in integer fen, of one transaction of a kind
  whose money moved (status ``approved`` or ``reversed``). Any other record (declined, or a
  host record without a status) may carry up to :data:`REQUEST_MAX_FEN`, the most a terminal
  can put in its 12-digit amount field. Reasons: ``docs/formats.md``, "Limits".
- Timestamps lie in [:data:`TS_MIN`, :data:`TS_MAX`), with a UTC offset of at most
  :data:`MAX_OFFSET` either way in whole minutes, and at most :data:`FUTURE_WINDOW` after the
  time the record was received. Integers stored in SQLite lie in [:data:`INT64_MIN`,
  :data:`INT64_MAX`]; a terminal's uptime is at most :data:`UPTIME_MAX_MS`.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta


class Kind(enum.StrEnum):
    BILL_PAYMENT = "bill_payment"
    WITHDRAWAL = "withdrawal"
    BALANCE_INQUIRY = "balance_inquiry"
    REFERRAL = "referral"
    REVERSAL = "reversal"  # a terminal's reversal record; never an interchange row


class Status(enum.StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    REVERSED = "reversed"


class Entry(enum.StrEnum):
    """What a stored record is (``docs/buffer.md``)."""

    TXN = "txn"  # a transaction result as the terminal stored it (live or from its journal)
    UNKNOWN = "unknown"  # a money-moving request whose outcome the host could not learn
    VOID = "void"  # an unknown found (by status query) never to have reached the journal
    REFERRAL = "referral"  # a referral entered by the station operator (no terminal)
    CANCEL = "cancel"  # the cancellation of a referral (refers to it; never an edit)


class Source(enum.StrEnum):
    """How a stored record was captured."""

    LIVE = "live"  # the response to our own request
    JOURNAL = "journal"  # read from the terminal's journal
    HOST = "host"  # written by the host itself (unknown, void, referral, cancel)


class Product(enum.StrEnum):
    MOBILE = "mobile"
    UNICOM = "unicom"
    TELECOM = "telecom"
    ELECTRICITY = "electricity"
    WATER = "water"
    GAS = "gas"
    CABLE_TV = "cable_tv"
    HUINONGTONG = "huinongtong"
    FINANCE_LEAD = "finance_lead"
    CAR_INSURANCE_LEAD = "car_insurance_lead"
    CAR_INSURANCE_SALE = "car_insurance_sale"


#: Kinds of an interchange row (a reversal is folded into its original's status).
KINDS = (Kind.BILL_PAYMENT.value, Kind.WITHDRAWAL.value, Kind.BALANCE_INQUIRY.value,
         Kind.REFERRAL.value)
#: Kinds of a terminal's journal record: the kinds the protocol's wire carries.
TERMINAL_KINDS = (Kind.BILL_PAYMENT.value, Kind.WITHDRAWAL.value, Kind.BALANCE_INQUIRY.value,
                  Kind.REVERSAL.value)
STATUSES = tuple(s.value for s in Status)
PHONE_PRODUCTS = (Product.MOBILE.value, Product.UNICOM.value, Product.TELECOM.value)
UTILITY_PRODUCTS = (Product.ELECTRICITY.value, Product.WATER.value, Product.GAS.value,
                    Product.CABLE_TV.value)
BILL_PRODUCTS = PHONE_PRODUCTS + UTILITY_PRODUCTS
REFERRAL_PRODUCTS = (Product.HUINONGTONG.value, Product.FINANCE_LEAD.value,
                     Product.CAR_INSURANCE_LEAD.value, Product.CAR_INSURANCE_SALE.value)

#: The most one transaction of a kind may move, in fen (``docs/formats.md``, "Limits").
CEILING_FEN: dict[str, int] = {
    Kind.BILL_PAYMENT.value: 5_000_000,  # 50,000 yuan
    Kind.WITHDRAWAL.value: 1_000_000,  # 10,000 yuan
    Kind.BALANCE_INQUIRY.value: 0,  # moves no money
    Kind.REFERRAL.value: 5_000_000,  # 50,000 yuan
    Kind.REVERSAL.value: 5_000_000,  # gives back a bill payment or a withdrawal
}
#: A request the terminal refused may carry whatever fits its amount field (12 BCD digits).
REQUEST_MAX_FEN = 999_999_999_999
#: Statuses whose money moved (so :data:`CEILING_FEN` applies).
MOVED = frozenset({Status.APPROVED.value, Status.REVERSED.value})

TS_MIN = datetime(1970, 1, 1, tzinfo=UTC)  # a terminal whose clock was reset says 1970
TS_MAX = datetime(2100, 1, 1, tzinfo=UTC)  # exclusive
MAX_OFFSET = timedelta(hours=14)  # the widest offset in use (UTC+14:00, Kiribati)
FUTURE_WINDOW = timedelta(days=1)  # how far after its receipt a record's time may lie

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: A hundred years of uptime in milliseconds: more is a broken counter (and would overflow
#: the drift correction's date arithmetic).
UPTIME_MAX_MS = 36_525 * 86_400_000  # 36,525 days

#: The longest id, reference or free-text value a record may hold.
MAX_TEXT = 200

__all__ = [
    "BILL_PRODUCTS", "CEILING_FEN", "FUTURE_WINDOW", "INT64_MAX", "INT64_MIN", "KINDS",
    "MAX_OFFSET", "MAX_TEXT", "MOVED", "PHONE_PRODUCTS", "REFERRAL_PRODUCTS",
    "REQUEST_MAX_FEN", "STATUSES", "TERMINAL_KINDS", "TS_MAX", "TS_MIN", "UPTIME_MAX_MS",
    "UTILITY_PRODUCTS", "Entry", "Kind", "Product", "Source", "Status",
]
