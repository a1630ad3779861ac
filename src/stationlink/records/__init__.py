"""What a transaction record is, declared once: its vocabulary and its validity rules.

Contract:
- :mod:`.fields` declares the stored record field by field (:data:`.fields.RECORD`: type,
  unit, nullability, when it may be empty, range) and the interchange row
  (:data:`.fields.TRANSACTION`), with :class:`~.fields.StoredRecord`; the SQLite DDL of
  buffer and hub, the wire's field list, the OpenAPI schema and the CSV columns derive
  from it. :mod:`.vocab` declares the kinds, statuses, products, entries, sources and limits
  (amount ceilings, time window, integer ranges); :mod:`.rules` decides whether a field's
  value is valid and words the reason; :mod:`.cardnum` finds card-number shapes in text.
- The interchange reader (``stationlink.interchange._rows`` / ``_fast``), the station buffer
  (``stationlink.buffer.records`` / ``ingest`` / ``page``) and the hub's batch validation
  (``stationlink.hub.wire``) import them and declare none of their own, so a record one of
  them accepts is accepted by all (``docs/formats.md``, "Rules").
- Nothing here does I/O or imports the rest of stationlink.
"""

from __future__ import annotations

from . import cardnum, fields, rules, vocab
from .fields import RECORD, TRANSACTION, Field, StoredRecord
from .rules import (
    account_problem,
    amount_problem,
    card_problem,
    card_required_problem,
    integer_problem,
    product_problem,
    reference_problem,
    text_problem,
    time_problem,
)
from .vocab import (
    BILL_PRODUCTS,
    CEILING_FEN,
    KINDS,
    PHONE_PRODUCTS,
    REFERRAL_PRODUCTS,
    STATUSES,
    TERMINAL_KINDS,
    UTILITY_PRODUCTS,
    Entry,
    Kind,
    Product,
    Source,
    Status,
)

__all__ = [
    "BILL_PRODUCTS", "CEILING_FEN", "KINDS", "PHONE_PRODUCTS", "RECORD", "REFERRAL_PRODUCTS",
    "STATUSES", "TERMINAL_KINDS", "TRANSACTION", "UTILITY_PRODUCTS", "Entry", "Field", "Kind",
    "Product", "Source", "Status", "StoredRecord", "account_problem",
    "amount_problem", "card_problem", "card_required_problem", "cardnum", "integer_problem",
    "fields", "product_problem", "reference_problem", "rules", "text_problem", "time_problem",
    "vocab",
]
