"""A traffic-model customer served by an emulated terminal on its own, without a host.

This is what a counter does when the shop owner keys a transaction in on the terminal's
keypad: the request never crosses a link, the terminal executes it and journals it, and the
station PC learns of it only through the journal pull. The end-to-end driver
(:mod:`.e2e.driver`, its ``standalone`` share) and the counter traffic of ``sim station
--traffic`` (:mod:`.counter_traffic`) both serve customers with :func:`serve_standalone`.

Contract:
- :func:`arrange_card` plays the far side so the terminal reaches the model's outcome: an
  approved withdrawal finds its amount in the bank, an ``insufficient_funds`` decline does
  not. :func:`present_card` queues the customer's card, except for a ``wrong_pin`` decline
  (no card is presented: the terminal answers ``CARD_ERROR``).
- :func:`bill_account` is the account a bill payment is made for; a declined one carries a
  truncated account the biller does not know.
- :func:`serve_standalone` executes one event (``bill_payment``, ``withdrawal``,
  ``balance_inquiry``, or ``reversal`` of ``original_ref``) directly on the device model,
  under the device's lock so a host request served by the runner thread cannot take the
  customer's card or interleave; it returns the journal record the terminal made (``None``
  when it made none: a refused reversal, an error reply). A card left unused is taken back.
  The terminal decides; the model's outcome is what it is steered towards, not what it is.
- Referrals are no terminal transaction: :func:`serve_standalone` refuses them
  (:class:`~stationlink.errors.SimulatorError`). No card number is logged.
"""

from __future__ import annotations

from stationlink.errors import SimulatorError
from stationlink.protocol import (
    BalanceInquiryRequest,
    BillPaymentRequest,
    ClearPan,
    Header,
    JournalRecord,
    Message,
    MsgType,
    ReversalRequest,
    WithdrawalRequest,
)
from stationlink.records import vocab

from .customers import Bank, CardQueue
from .device import EmulatedTerminal
from .traffic import Identities, SimEvent

TERMINAL_KINDS = frozenset(vocab.TERMINAL_KINDS)


def arrange_card(ev: SimEvent, pan: ClearPan, bank: Bank) -> None:
    """Set the card's balance so a withdrawal reaches the model's outcome."""
    if ev.kind != "withdrawal":
        return
    balance = bank.balance(pan)
    if ev.outcome == "approved" and balance < ev.amount_fen:
        bank.credit(pan, ev.amount_fen - balance)
    elif ev.reason == "insufficient_funds" and balance >= ev.amount_fen:
        bank.debit(pan, balance - ev.amount_fen + 1)


def present_card(ev: SimEvent, pan: ClearPan, cards: CardQueue) -> None:
    """The customer inserts the card, unless the model has them fail the PIN."""
    if ev.reason != "wrong_pin":
        cards.put(pan)


def bill_account(ev: SimEvent, identities: Identities) -> str:
    """The account the customer pays; a declined payment's is one the biller cannot know."""
    account = identities.account(ev.station.index, ev.product, ev.customer)
    return account[:5] if ev.outcome == "declined" else account


def serve_standalone(
    device: EmulatedTerminal,
    ev: SimEvent,
    identities: Identities,
    cards: CardQueue,
    seq: int,
    *,
    original_ref: str = "",
) -> JournalRecord | None:
    """Execute ``ev`` on ``device`` as keyed in at the terminal (module contract)."""
    if ev.kind not in TERMINAL_KINDS:
        raise SimulatorError(f"{ev.txn_id}: a {ev.kind} is not served by a terminal")
    header = Header(_MSG_TYPES[ev.kind], seq % 65536, device.terminal_id)
    with device.lock:
        req: Message
        if ev.kind == "reversal":
            if not original_ref:
                raise SimulatorError(f"{ev.txn_id}: a reversal needs its original's ref")
            req = ReversalRequest(header, "", original_ref)
        elif ev.card >= 0:
            pan = identities.pan(ev.station.index, ev.card)
            arrange_card(ev, pan, device.bank)
            present_card(ev, pan, cards)
            if ev.kind == "withdrawal":
                req = WithdrawalRequest(header, "", ev.amount_fen)
            else:
                req = BalanceInquiryRequest(header, "")
        else:
            req = BillPaymentRequest(header, "", ev.product, bill_account(ev, identities),
                                     ev.amount_fen)
        try:
            return journal_record(device.handle(req))
        finally:
            while cards():  # a card the request did not take goes home with its owner
                pass


def journal_record(response: Message) -> JournalRecord | None:
    """The journal record a response carries, if any."""
    record = getattr(response, "record", None)
    return record if isinstance(record, JournalRecord) else None


_MSG_TYPES = {
    "bill_payment": MsgType.BILL_PAYMENT,
    "withdrawal": MsgType.WITHDRAWAL,
    "balance_inquiry": MsgType.BALANCE_INQUIRY,
    "reversal": MsgType.REVERSAL,
}
