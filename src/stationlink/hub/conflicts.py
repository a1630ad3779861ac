"""Conflicting duplicates as JSON (``GET /v1/conflicts``, ``stationlink hub conflicts``).

Contract: :func:`conflict_to_json` shows a :class:`~stationlink.hub.store.Conflict` without
any card value: ``held`` and ``sent`` are the two records in the wire shape
(:func:`stationlink.hub.wire.record_to_json`) minus ``card_token`` and ``card_masked``;
``fields`` names every differing column, card columns included.
"""

from __future__ import annotations

from typing import Any

from .ingest import CARD_FIELDS
from .store import Conflict
from .wire import record_to_json


def _no_card(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in CARD_FIELDS}


def conflict_to_json(c: Conflict) -> dict[str, Any]:
    """One conflict as a JSON object (module contract)."""
    return {
        "station_id": c.station_id,
        "seq": c.seq,
        "duplicate_of": c.duplicate_of,
        "terminal_id": c.terminal_id,
        "ident": c.ident,
        "received_at": c.received_at.isoformat(),
        "fields": list(c.fields),
        "held": _no_card(record_to_json(c.held)),
        "sent": _no_card(record_to_json(c.sent)),
    }
