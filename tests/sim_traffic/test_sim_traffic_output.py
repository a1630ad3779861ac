"""Events to interchange rows; identities of customers and cards."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest

from stationlink.interchange import read_transactions, transactions_to_text
from stationlink.protocol import ClearPan, card_token
from stationlink_sim.traffic import (
    Identities,
    TrafficModel,
    TransactionWriter,
    event_to_transaction,
    events_to_transactions,
    load_scenario,
    luhn_valid,
)
from stationlink_sim.traffic.customers import CARRIER_PREFIXES, luhn_check_digit


@pytest.fixture(scope="module")
def model() -> TrafficModel:
    return TrafficModel(load_scenario("county").with_stations(12), seed=3, token_key=b"k1")


def test_fast_writer_matches_interchange_writer(model: TrafficModel) -> None:
    events = list(model.generate(dt.date(2026, 2, 27), 4))  # spans a month end
    fast = io.StringIO()
    writer = TransactionWriter(fast, model.identities)
    written = writer.write(events)
    reference = transactions_to_text(events_to_transactions(events, model.identities))
    assert fast.getvalue() == reference
    assert written == writer.rows == len(reference.splitlines()) - 1
    assert written == sum(1 for e in events if e.kind != "reversal")


def test_rows_read_back_and_carry_tokens_only(model: TrafficModel) -> None:
    events = list(model.generate(dt.date(2026, 10, 1), 7))
    text = transactions_to_text(events_to_transactions(events, model.identities))
    rows = read_transactions(io.StringIO(text)).rows
    assert {t.status for t in rows} == {"approved", "declined", "reversed"}
    for ev in events:
        if ev.card >= 0:
            assert model.identities.pan(ev.station.index, ev.card).reveal() not in text
    card_rows = [t for t in rows if t.kind in ("withdrawal", "balance_inquiry")]
    assert card_rows
    assert all(re.fullmatch(r"[0-9a-f]{32}", t.card) for t in card_rows)
    assert all(t.card == "" for t in rows if t.kind == "bill_payment")


def test_reversal_makes_no_row_but_marks_original(model: TrafficModel) -> None:
    events = list(model.generate(dt.date(2026, 10, 1), 31))
    reversal = next(e for e in events if e.kind == "reversal")
    assert event_to_transaction(reversal, model.identities) is None
    original = next(e for e in events if e.station is reversal.station and e.day is reversal.day
                    and e.seq == reversal.reversal_of)
    txn = event_to_transaction(original, model.identities)
    assert txn is not None
    assert txn.status == "reversed"
    assert txn.terminal_id == (original.station.card_terminal if original.card >= 0
                               else original.station.bill_terminal)


def test_card_numbers_are_test_pans_with_tokens() -> None:
    ids = Identities(7, ("621700", "622188"), 19, b"key")
    pans = [ids.pan(s, c) for s in range(5) for c in range(40)]
    for pan in pans:
        digits = pan.reveal()
        assert len(digits) == 19
        assert digits[:6] in ("621700", "622188")
        assert luhn_valid(digits)
        assert digits not in repr(pan)
    assert len({p.reveal() for p in pans}) == len(pans)
    assert ids.token(3, 9) == card_token(ids.pan(3, 9).reveal(), b"key")
    assert Identities(7, ("621700", "622188"), 19, b"other").token(3, 9) != ids.token(3, 9)
    assert Identities(8, ("621700", "622188"), 19, b"key").pan(3, 9) != ids.pan(3, 9)
    assert isinstance(ids.pan(0, 0), ClearPan)


def test_luhn_check_digit_known_number() -> None:
    # 79927398713 is the textbook Luhn example
    assert luhn_check_digit("7992739871") == "3"
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")


def test_accounts_have_real_form() -> None:
    ids = Identities(1, ("621700",), 16, b"k")
    for customer in range(50):
        for carrier, prefixes in CARRIER_PREFIXES.items():
            phone = ids.account(4, carrier, customer)
            assert len(phone) == 11
            assert phone[:3] in prefixes
        assert re.fullmatch(r"[1-9]\d{9}", ids.account(4, "electricity", customer))
        assert re.fullmatch(r"[1-9]\d{7}", ids.account(4, "water", customer))
        assert re.fullmatch(r"[1-9]\d{9}", ids.account(4, "gas", customer))
        assert re.fullmatch(r"[1-9]\d{10}", ids.account(4, "cable_tv", customer))
    assert ids.account(4, "electricity", 3) == ids.account(4, "electricity", 3)
    assert ids.account(4, "electricity", 3) != ids.account(4, "electricity", 4)
    with pytest.raises(ValueError, match="no account form"):
        ids.account(4, "lottery", 1)
