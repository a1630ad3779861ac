"""The emulated terminal's business logic: a pure, sans-I/O bill or card terminal.

Contract:
- :meth:`EmulatedTerminal.handle` takes one decoded request message and returns the one
  response message the terminal sends (an :class:`ErrorReply` for requests this kind of
  terminal does not handle or fields out of range). It never raises for bad requests.
- Every bill payment, withdrawal, balance inquiry and approved reversal becomes one journal
  record (declines too, with status ``declined``). Bill inquiries, status queries and the
  other service requests leave the journal alone.
- Reversal: only the newest approved bill payment / withdrawal of the current settlement
  period, only if its ref equals ``original_ref`` and it is not reversed yet; otherwise
  ``NOTHING_TO_REVERSE`` and no record.
- Cards: a ``mispos-1`` card terminal puts the full number (``ClearPan``) in its records, as
  that firmware does (the codec puts it on the wire, the host masks it); an ``sl-2`` terminal
  puts ``CardRef(masked, token)`` computed with its card key.
- While the paper is out every money-moving request is declined with ``PAPER_OUT``.
- JOURNAL_READ: at most ``min(max_records, JOURNAL_PAGE_LIMIT)`` records, and only as many as
  fit in one body (``MAX_BODY``, 1024 bytes, measured with this dialect's encoding: a
  ``mispos-1`` record with a full card number and GB18030 text is larger than an ``sl-2``
  one); ``more`` is set whenever records remain after the page. Bill accounts and client
  refs are limited in length (``INVALID_FIELD`` otherwise), so one record always fits.
- Settlement totals cover records after the last settlement, approved and not reversed, one
  line per (kind, product) (none for a pair whose every transaction was reversed); the
  terminal settles by itself when its own calendar day changes (also after a clock reset) and
  on :meth:`settle`.
- A terminal handles its kind's requests, or every kind of ``identity.services`` (a combined
  bill and card device); IDENTIFY reports ``identity.profile`` when given.
- :meth:`power_cycle` keeps the journal, paper state and far-side state (bank balances, bills),
  and loses the volatile state: uptime restarts, ``boot_id`` increases, error counters clear.
  The I/O runner drops the link state and any unsent response.
- Thread-safe: :meth:`handle` and the lifecycle methods run under :attr:`lock` (an
  ``RLock``), so a customer served on the device directly (``stationlink_sim.standalone``)
  and the runner thread answering the host never interleave.
- ``deviation`` (a name of :data:`.deviations.DEVIATIONS`, default none) seeds one
  deviation from docs/protocol.md into the model: ``full_card_number`` (claims ``masking``),
  ``cursor_reset_on_power_cycle`` (acknowledged cursor lost, new records numbered from 1
  again on the wire), ``settlement_counts_reversed``
  (reversals ignored in totals), ``journal_page_overlap`` (a page starts at
  ``after_cursor``), ``signal_unsigned`` (DF3C without its sign). The hooks are marked
  ``# deviation hook``.
- IDENTIFY lists ``masking`` when the terminal never sends a full card number: an ``sl-2``
  terminal that handles cards (docs/protocol.md §4.2).
- The terminal's clock is never set from the host (``IDENTIFY`` carries host time only for the
  host's own skew check), so drift and clock resets stay visible.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections import Counter

from stationlink.protocol import (
    MAX_BODY,
    REQUEST_TYPES,
    BalanceInquiryRequest,
    BalanceInquiryResponse,
    BillInquiryRequest,
    BillInquiryResponse,
    BillPaymentRequest,
    BillPaymentResponse,
    Card,
    CardRef,
    ClearPan,
    Codec,
    DeviceStatusRequest,
    DeviceStatusResponse,
    Dialect,
    EchoRequest,
    EchoResponse,
    ErrorCode,
    ErrorReply,
    Header,
    IdentifyRequest,
    IdentifyResponse,
    JournalAckRequest,
    JournalAckResponse,
    JournalReadRequest,
    JournalReadResponse,
    JournalRecord,
    Message,
    MsgType,
    ResultCode,
    ReversalRequest,
    ReversalResponse,
    SettlementLine,
    SettlementTotalsRequest,
    SettlementTotalsResponse,
    StatusQuery,
    StatusResponse,
    TxnKind,
    TxnStatus,
    WithdrawalRequest,
    WithdrawalResponse,
    card_token,
)

from .clock import TerminalClock
from .customers import BILL_PRODUCTS, Bank, Billers, CardSource, SeededCards
from .deviations import MASKING
from .identity import (
    BILL_TYPES,
    CARD_TYPES,
    PROFILES,
    TerminalIdentity,
    TerminalKind,
)
from .journal import Journal, make_ref

MAX_AMOUNT_FEN = 500_000  # 5,000 yuan: the single-transaction limit of both kinds
JOURNAL_PAGE_LIMIT = 20  # at most this many records per JOURNAL_READ answer (and MAX_BODY)
MAX_CLIENT_REF = 32
MAX_ACCOUNT = 32  # characters of a bill account (real ones have at most 20 digits)


class _Invalid(Exception):
    """A request field out of range: becomes ErrorReply(INVALID_FIELD)."""


class EmulatedTerminal:
    """A bill or card terminal: journal, settlement totals, clock, paper, far-side state."""

    def __init__(
        self,
        identity: TerminalIdentity,
        *,
        clock: TerminalClock,
        seed: int = 0,
        journal: Journal | None = None,
        card_source: CardSource | None = None,
        bank: Bank | None = None,
        billers: Billers | None = None,
        deviation: str | None = None,
    ) -> None:
        self.identity = identity
        self.deviation = deviation  # deviations.py: one seeded deviation, or None
        self._cursor_base = 0  # cursor_reset_on_power_cycle: last cursor at the power cycle
        self.clock = clock
        self.rng = random.Random(f"{seed}:device:{identity.terminal_id}")
        self.journal = journal if journal is not None else Journal(card_key=identity.card_key)
        self.card_source: CardSource = card_source if card_source is not None else (
            SeededCards(random.Random(f"{seed}:cards:{identity.terminal_id}"))
        )
        self.bank = bank if bank is not None else Bank(seed)
        self.billers = billers if billers is not None else Billers(seed)
        self.counters: Counter[str] = Counter()
        self.paper_ok = True
        self.executed = 0  # approved money-moving transactions, reversals included
        self.requests = 0
        self.boot_id = self.journal.max_boot_id + 1
        self._codec = Codec(identity.dialect, identity.card_key)  # to measure journal pages
        self._lock = threading.RLock()
        self._pans: dict[str, ClearPan] = {}  # ref -> card, to credit a reversed withdrawal
        self._bill_applied: dict[str, int] = {}  # ref -> arrears the payment settled
        self._known_pans: dict[str, ClearPan] = {}  # token -> card, cards seen or pooled
        for pan in getattr(self.card_source, "pool", ()):
            self._known_pans[card_token(pan.reveal(), identity.card_key)] = pan
        self.clock.boot()
        if self.journal.settled_at is None:
            self.journal.settle(self.clock.now())
        self._business_day = self.clock.now().date()

    @property
    def terminal_id(self) -> str:
        return self.identity.terminal_id

    @property
    def lock(self) -> threading.RLock:
        """The lock every request runs under (re-entrant). Hold it to make several steps
        atomic against the runner thread serving the host, e.g. present a customer's card
        and :meth:`handle` the request it is for."""
        return self._lock

    def supported_types(self) -> frozenset[MsgType]:
        """Request types this terminal answers (the others get ErrorReply UNSUPPORTED)."""
        offers = self.identity.offers
        own = (BILL_TYPES if TerminalKind.BILL in offers else frozenset()) | (
            CARD_TYPES if TerminalKind.CARD in offers else frozenset())
        return frozenset(REQUEST_TYPES) - (BILL_TYPES | CARD_TYPES) | own

    # ----------------------------------------------------------------- lifecycle

    def power_cycle(self) -> None:
        """Off and on again: journal kept; uptime, boot id and error counters restart."""
        with self._lock:
            self.boot_id += 1
            self.counters.clear()
            self.clock.boot()
            if self.deviation == "cursor_reset_on_power_cycle":  # deviation hook
                self.journal.forget_ack()
                self._cursor_base = self.journal.last_cursor

    def settle(self) -> None:
        with self._lock:
            self.journal.settle(self.clock.now())

    def set_paper(self, ok: bool) -> None:
        with self._lock:
            self.paper_ok = ok

    # ------------------------------------------------------------------ dispatch

    def handle(self, request: Message) -> Message:
        """Execute one request and return the response to send."""
        with self._lock:
            self.requests += 1
            self._roll_business_day()
            mtype = request.header.msg_type
            try:
                if mtype in BILL_TYPES and TerminalKind.BILL not in self.identity.offers:
                    return self._error(request, ErrorCode.UNSUPPORTED, "not a bill terminal")
                if mtype in CARD_TYPES and TerminalKind.CARD not in self.identity.offers:
                    return self._error(request, ErrorCode.UNSUPPORTED, "not a card terminal")
                return self._dispatch(request)
            except _Invalid as exc:
                return self._error(request, ErrorCode.INVALID_FIELD, str(exc))

    def _dispatch(self, req: Message) -> Message:
        match req:
            case IdentifyRequest():
                vendor, model, firmware = self.identity.vendor_model_firmware
                return IdentifyResponse(
                    self._header(req), vendor, model, self.identity.serial_number, firmware,
                    self.identity.dialect, self.capabilities(), self.clock.now(),
                )
            case EchoRequest():
                return EchoResponse(self._header(req), req.payload)
            case BillInquiryRequest():
                return self._bill_inquiry(req)
            case BillPaymentRequest():
                return self._bill_payment(req)
            case WithdrawalRequest():
                return self._withdrawal(req)
            case BalanceInquiryRequest():
                return self._balance_inquiry(req)
            case ReversalRequest():
                return self._reversal(req)
            case StatusQuery():
                if not req.ref and not req.client_ref:
                    raise _Invalid("status query needs ref or client_ref")
                record = self.journal.current(ref=req.ref, client_ref=req.client_ref)
                wire = None if record is None else self._wire(record)
                return StatusResponse(self._header(req), wire is not None, wire)
            case JournalReadRequest():
                return self._journal_read(req)
            case JournalAckRequest():
                if not 0 <= req.upto_cursor <= self.journal.last_cursor:
                    raise _Invalid(f"upto_cursor beyond last cursor {self.journal.last_cursor}")
                return JournalAckResponse(self._header(req), self.journal.ack(req.upto_cursor))
            case SettlementTotalsRequest():
                return self._settlement(req)
            case DeviceStatusRequest():
                return DeviceStatusResponse(
                    self._header(req),
                    paper_ok=self.paper_ok,
                    error_counters=tuple(sorted(self.counters.items())),
                    signal_dbm=self._signal_dbm(),
                    uptime_ms=self.clock.uptime_ms(),
                    boot_id=self.boot_id,
                    terminal_time=self.clock.now(),
                    journal_unacked=self.journal.unacked(),
                )
            case _:
                return self._error(req, ErrorCode.UNSUPPORTED, "not a request")

    def _signal_dbm(self) -> int:
        dbm = -60 - self.rng.randrange(36)
        return -dbm if self.deviation == "signal_unsigned" else dbm  # deviation hook

    def capabilities(self) -> frozenset[str]:
        """What IDENTIFY lists (``identity.capabilities``; the deviation may add a claim)."""
        caps = self.identity.capabilities
        if self.deviation == "full_card_number" and TerminalKind.CARD in self.identity.offers:
            caps = caps | {MASKING}  # deviation hook: claims masking, sends DF40
        return caps

    def pan_for_token(self, token: str) -> ClearPan | None:
        """The card number behind ``token``, if this terminal has seen the card."""
        with self._lock:
            return self._known_pans.get(token)

    # ----------------------------------------------------------------- journal

    def _journal_read(self, req: JournalReadRequest) -> Message:
        """As many records as fit in one body, at most ``max_records`` (module docstring)."""
        if req.after_cursor < 0 or req.max_records < 1:
            raise _Invalid("after_cursor must be >= 0 and max_records >= 1")
        after = req.after_cursor
        if self.deviation == "journal_page_overlap" and after > 0:  # deviation hook
            after -= 1  # the page starts AT after_cursor
        page, more = self.journal.read(after, min(req.max_records, JOURNAL_PAGE_LIMIT))
        header = self._header(req)
        empty = len(self._codec.encode(JournalReadResponse(header, (), True)))
        size = empty
        fitted: list[JournalRecord] = []
        for record in page:
            wired = self._wire(record)
            # a body is the header plus a TLV list: each record adds exactly its own DF50 TLV
            size += len(self._codec.encode(JournalReadResponse(header, (wired,), True))) - empty
            if size > MAX_BODY:
                break
            fitted.append(wired)
        if len(fitted) < len(page):
            more = True
        if page and not fitted:  # cannot happen with the field limits; never die on it
            self.counters["journal_record_too_large"] += 1
            return self._error(
                req, ErrorCode.INTERNAL, f"journal record {page[0].cursor} exceeds one body"
            )
        return JournalReadResponse(header, tuple(fitted), more)

    # ------------------------------------------------------------------- bills

    def _bill_inquiry(self, req: BillInquiryRequest) -> BillInquiryResponse:
        _check_product(req.product)
        if not self.billers.exists(req.product, req.account):
            return BillInquiryResponse(
                self._header(req), ResultCode.ACCOUNT_NOT_FOUND, req.product, req.account, 0, ""
            )
        return BillInquiryResponse(
            self._header(req), ResultCode.APPROVED, req.product, req.account,
            self.billers.owed(req.product, req.account),
            self.billers.customer_name(req.product, req.account),
        )

    def _bill_payment(self, req: BillPaymentRequest) -> BillPaymentResponse:
        _check_product(req.product)
        _check_account(req.account)
        _check_amount(req.amount_fen)
        _check_client_ref(req.client_ref)
        result = ResultCode.APPROVED
        if not self.paper_ok:
            result = ResultCode.PAPER_OUT
        elif req.amount_fen > MAX_AMOUNT_FEN:
            result = ResultCode.DECLINED
        elif not self.billers.exists(req.product, req.account):
            result = ResultCode.ACCOUNT_NOT_FOUND
        record = self._append(
            req.client_ref, TxnKind.BILL_PAYMENT, req.product, req.account, req.amount_fen, result
        )
        if result is ResultCode.APPROVED:
            applied = self.billers.pay(req.product, req.account, req.amount_fen)
            self._bill_applied[record.ref] = applied
        return BillPaymentResponse(self._header(req), result, record)

    # ------------------------------------------------------------------- cards

    def _present_card(self) -> ClearPan | None:
        pan = self.card_source()
        if pan is not None:
            self._known_pans[card_token(pan.reveal(), self.identity.card_key)] = pan
        return pan

    def on_wire(self, record: JournalRecord) -> JournalRecord:
        """``record`` as this terminal sends it (see :meth:`_wire`)."""
        with self._lock:
            return self._wire(record)

    def _wire(self, record: JournalRecord) -> JournalRecord:
        """The record as this firmware sends it: ``mispos-1`` needs the full card number.

        A record reloaded from a journal file holds only a ``CardRef``; the number is found
        again among the cards this terminal has seen (its seeded pool included). When it is
        unknown the record goes out without a card (counted as ``card_number_unavailable``).
        """
        record = self._renumbered(record)
        if self.identity.dialect is not Dialect.MISPOS_1 or not isinstance(record.card, CardRef):
            return record
        pan = self._known_pans.get(record.card.token)
        if pan is None:
            self.counters["card_number_unavailable"] += 1
        return dataclasses.replace(record, card=pan)

    def _card_for_record(self, pan: ClearPan | None) -> Card | None:
        if pan is None:
            return None
        if self.identity.dialect is Dialect.MISPOS_1:
            return pan
        return pan.to_ref(self.identity.card_key)

    def _withdrawal(self, req: WithdrawalRequest) -> WithdrawalResponse:
        _check_amount(req.amount_fen)
        _check_client_ref(req.client_ref)
        pan = None if not self.paper_ok else self._present_card()
        if not self.paper_ok:
            result = ResultCode.PAPER_OUT
        elif pan is None:
            result = ResultCode.CARD_ERROR
        elif req.amount_fen > MAX_AMOUNT_FEN:
            result = ResultCode.DECLINED
        elif not self.bank.debit(pan, req.amount_fen):
            result = ResultCode.INSUFFICIENT_FUNDS
        else:
            result = ResultCode.APPROVED
        record = self._append(
            req.client_ref, TxnKind.WITHDRAWAL, "", "", req.amount_fen, result,
            card=self._card_for_record(pan),
        )
        if pan is not None and result is ResultCode.APPROVED:
            self._pans[record.ref] = pan
        return WithdrawalResponse(self._header(req), result, record)

    def _balance_inquiry(self, req: BalanceInquiryRequest) -> BalanceInquiryResponse:
        _check_client_ref(req.client_ref)
        pan = self._present_card()
        result = ResultCode.APPROVED if pan is not None else ResultCode.CARD_ERROR
        balance = self.bank.balance(pan) if pan is not None else 0
        record = self._append(
            req.client_ref, TxnKind.BALANCE_INQUIRY, "", "", 0, result,
            card=self._card_for_record(pan),
        )
        return BalanceInquiryResponse(self._header(req), result, record, balance)

    # ---------------------------------------------------------------- reversal

    def _reversible(self) -> JournalRecord | None:
        for record in reversed(self.journal.since_settlement()):
            if record.kind in (TxnKind.BILL_PAYMENT, TxnKind.WITHDRAWAL) and (
                record.status is TxnStatus.APPROVED
            ):
                return None if self.journal.is_reversed(record.ref) else record
        return None

    def _reversal(self, req: ReversalRequest) -> ReversalResponse:
        _check_client_ref(req.client_ref)
        if not self.paper_ok:
            return ReversalResponse(self._header(req), ResultCode.PAPER_OUT, None)
        original = self._reversible()
        if original is None or original.ref != req.original_ref:
            return ReversalResponse(self._header(req), ResultCode.NOTHING_TO_REVERSE, None)
        record = self._append(
            req.client_ref, TxnKind.REVERSAL, original.product, original.account,
            original.amount_fen, ResultCode.APPROVED, card=original.card,
            original_ref=original.ref,
        )
        pan = self._pans.pop(original.ref, None)
        if pan is not None:
            self.bank.credit(pan, original.amount_fen)
        applied = self._bill_applied.pop(original.ref, None)
        if applied is not None:
            self.billers.unpay(original.product, original.account, applied)
        return ReversalResponse(self._header(req), ResultCode.APPROVED, record)

    # -------------------------------------------------------------- settlement

    def totals(self) -> tuple[SettlementLine, ...]:
        """Approved and not reversed, by (kind, product), since the last settlement."""
        counts: dict[tuple[TxnKind, str], list[int]] = {}
        for r in self.journal.since_settlement():
            if r.status is not TxnStatus.APPROVED:
                continue
            if r.kind is TxnKind.REVERSAL:
                if self.deviation == "settlement_counts_reversed":  # deviation hook
                    continue  # the reversed original keeps counting
                original = self.journal.current(ref=r.original_ref)
                kind = original.kind if original is not None else TxnKind.WITHDRAWAL
                line = counts.setdefault((kind, r.product), [0, 0])
                line[0] -= 1
                line[1] -= r.amount_fen
            else:
                line = counts.setdefault((r.kind, r.product), [0, 0])
                line[0] += 1
                line[1] += r.amount_fen
        return tuple(
            SettlementLine(kind, product, count, amount)
            for (kind, product), (count, amount) in sorted(counts.items())
            if (count, amount) != (0, 0)  # everything of it reversed: no line
        )

    def _settlement(self, req: SettlementTotalsRequest) -> SettlementTotalsResponse:
        since = self.journal.settled_at
        assert since is not None  # noqa: S101 - set in __init__
        return SettlementTotalsResponse(self._header(req), since, self.totals())

    def _roll_business_day(self) -> None:
        today = self.clock.now().date()
        if today != self._business_day:
            self._business_day = today
            self.journal.settle(self.clock.now())

    # ----------------------------------------------------------------- helpers

    def _append(
        self, client_ref: str, kind: TxnKind, product: str, account: str, amount_fen: int,
        result: ResultCode, *, card: Card | None = None, original_ref: str = "",
    ) -> JournalRecord:
        cursor = self.journal.next_cursor()
        approved = result is ResultCode.APPROVED
        record = JournalRecord(
            cursor=cursor,
            ref=make_ref(self.boot_id, cursor),
            client_ref=client_ref,
            kind=kind,
            product=product,
            account=account,
            amount_fen=amount_fen,
            status=TxnStatus.APPROVED if approved else TxnStatus.DECLINED,
            result=result,
            terminal_time=self.clock.now(),
            uptime_ms=self.clock.uptime_ms(),
            boot_id=self.boot_id,
            card=card,
            original_ref=original_ref,
        )
        self.journal.append(record)
        if approved and kind is not TxnKind.BALANCE_INQUIRY:
            self.executed += 1
        return self._renumbered(record)

    def _renumbered(self, record: JournalRecord) -> JournalRecord:
        """Deviation hook ``cursor_reset_on_power_cycle``: records written after the power
        cycle go out numbered from 1 again (the journal itself keeps the true cursors)."""
        if self._cursor_base and record.cursor > self._cursor_base:
            return dataclasses.replace(record, cursor=record.cursor - self._cursor_base)
        return record

    def _header(self, req: Message) -> Header:
        return Header(MsgType(req.header.msg_type | 0x80), req.header.seq, self.terminal_id)

    def _error(self, req: Message, code: ErrorCode, text: str) -> ErrorReply:
        return ErrorReply(
            Header(MsgType.ERROR, req.header.seq, self.terminal_id),
            code, int(req.header.msg_type), text,
        )


def _check_product(product: str) -> None:
    if product not in BILL_PRODUCTS:
        raise _Invalid(f"unknown bill product {product!r}")


def _check_account(account: str) -> None:
    if len(account) > MAX_ACCOUNT:
        raise _Invalid(f"account longer than {MAX_ACCOUNT} characters")


def _check_amount(amount_fen: int) -> None:
    if amount_fen <= 0:
        raise _Invalid(f"amount must be positive, not {amount_fen} fen")


def _check_client_ref(client_ref: str) -> None:
    if len(client_ref) > MAX_CLIENT_REF:
        raise _Invalid(f"client_ref longer than {MAX_CLIENT_REF} characters")


__all__ = ["PROFILES", "EmulatedTerminal", "TerminalIdentity", "TerminalKind"]
