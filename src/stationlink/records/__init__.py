"""What a transaction record is, declared once: its vocabulary and its validity rules.

Contract:
- :mod:`.vocab` declares the kinds, statuses, products and limits (amount ceilings, time
  window, integer ranges); :mod:`.rules` decides whether a field's value is valid and words
  the reason; :mod:`.cardnum` finds card-number shapes in text.
- The interchange reader (``stationlink.interchange._rows`` / ``_fast``), the station buffer
  (``stationlink.buffer.records`` / ``ingest`` / ``page``) and the hub's batch validation
  (``stationlink.hub.wire``) import them and declare none of their own, so a record one of
  them accepts is accepted by all (``docs/formats.md``, "Rules").
- Nothing here does I/O or imports the rest of stationlink.
"""

from __future__ import annotations

from . import cardnum, rules, vocab
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
    Kind,
    Product,
    Status,
)

__all__ = [
    "BILL_PRODUCTS", "CEILING_FEN", "KINDS", "PHONE_PRODUCTS", "REFERRAL_PRODUCTS", "STATUSES",
    "TERMINAL_KINDS", "UTILITY_PRODUCTS", "Kind", "Product", "Status", "account_problem",
    "amount_problem", "card_problem", "card_required_problem", "cardnum", "integer_problem",
    "product_problem", "reference_problem", "rules", "text_problem", "time_problem", "vocab",
]
