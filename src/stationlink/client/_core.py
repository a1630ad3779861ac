"""What the clients do, written once for the blocking and the asyncio client.

Contract:
- Each client operation is a *flow*: a generator that yields commands (:class:`Send` a
  request, :class:`Wait` a while, :class:`TakeLate` the late frames of a sequence number,
  :class:`Report` a rejected answer) and receives their results;
  :class:`~stationlink.client.Terminal` and :class:`~stationlink.client.AsyncTerminal`
  run the same flows over a blocking or an asyncio byte stream. Flows do no I/O. An
  exception while the runner carries out a command is thrown into the flow
  (``generator.throw``): a money-moving flow raises it only for its first ``Send`` (the
  request never left) and turns it into an outcome afterwards.
- Money-moving requests (bill payment, withdrawal, reversal) are never resent, and once the
  request may have left their flow never raises: the result is known (``approved`` /
  ``declined`` / ``reversed``, from a checked answer or the terminal's journal) or
  :attr:`Outcome.UNKNOWN` with the ``client_ref``. The only exceptions are those raised
  before anything was sent (bad arguments; ``LinkFailedError`` for a link already known
  dead) and ``TerminalError`` for an ``ErrorReply`` that refuses *this* request (its type,
  seq and terminal id) with a code meaning "not executed" (UNSUPPORTED, MALFORMED, BUSY,
  INVALID_FIELD).
- Every answer is checked against every field the request fixed
  (:mod:`stationlink.client._checks`: client_ref, kind, amount, product, account,
  original_ref, card presence, terminal id). An answer that fails is a protocol error on
  the link, reported to the runner (:class:`AnswerRejected`, kept in ``diagnostics``), never
  the request's outcome. When the answer is lost (timeout, link failure, undecodable),
  rejected, or an ``ErrorReply(INTERNAL)`` (the terminal may have executed it), the flow
  asks the terminal with ``StatusQuery(client_ref=...)`` (up to ``status_attempts`` times);
  a checked late response to the original request, if one turns up meanwhile, settles it
  too, while a late ErrorReply or any other late frame with its seq is only reported. A
  checked ``found=False`` answer means the terminal never executed the request. If nothing
  can be learned the result is :attr:`Outcome.UNKNOWN`: the terminal's journal (records
  carry ``client_ref``) or a later ``resolve(client_ref)`` settles it. A link that died
  after the request was written (``Answer.sent``, even in part) cannot carry a status
  query: the result is unknown at once.
- A balance inquiry is journaled too: its lost or rejected answer is ``Outcome.UNKNOWN``
  with its ``client_ref`` (no status query: it could not give the balance).
- ``reverse_last()`` reverses only a payment or withdrawal whose answer (or journal record)
  passed the checks; an outcome left unknown makes "the last one" unknown too, until
  ``resolve`` settles that very ``client_ref``.
- Amounts: ``Decimal`` yuan or ``int`` fen (``amount_fen=``); floats raise ``TypeError``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

from ..errors import LinkFailedError, LinkTimeoutError, ProtocolError, TerminalError
from ..money import yuan_to_fen
from ..protocol import (
    BalanceInquiryRequest,
    BalanceInquiryResponse,
    BillPaymentRequest,
    BillPaymentResponse,
    DeviceStatusRequest,
    DeviceStatusResponse,
    EchoRequest,
    EchoResponse,
    ErrorCode,
    ErrorReply,
    FailureReason,
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
    RequestFailed,
    ResultCode,
    ReversalRequest,
    ReversalResponse,
    SettlementTotalsRequest,
    SettlementTotalsResponse,
    StatusQuery,
    StatusResponse,
    TxnKind,
    TxnStatus,
    WithdrawalRequest,
    WithdrawalResponse,
)
from ._checks import (
    Journaled,
    answer_mismatch,
    refusal_mismatch,
    status_mismatch,
)
from ._results import (
    BalanceResult,
    DeviceStatus,
    JournalPage,
    Outcome,
    SettlementTotals,
    TerminalInfo,
    TransactionResult,
)

T = TypeVar("T")
M = TypeVar("M")


def placeholder(msg_type: MsgType) -> Header:
    """A header for a request about to be sent; the connection stamps the real one."""
    return Header(msg_type, 0, "00000000")


def new_client_ref(rng: random.Random) -> str:
    """A fresh host reference: 16 lowercase hex digits from the injected generator."""
    return f"{rng.getrandbits(64):016x}"


def to_fen(amount: Decimal | None, amount_fen: int | None) -> int:
    """Exactly one of ``amount`` (Decimal yuan) and ``amount_fen`` (int fen), positive."""
    if isinstance(amount, float) or isinstance(amount_fen, float):
        raise TypeError("money must be Decimal yuan or int fen, never float")
    if (amount is None) == (amount_fen is None):
        raise TypeError("give exactly one of amount (Decimal yuan) and amount_fen (int fen)")
    if amount is not None:
        if not isinstance(amount, Decimal):
            raise TypeError(f"amount must be a Decimal, not {type(amount).__name__}")
        fen = yuan_to_fen(amount)
    else:
        if not isinstance(amount_fen, int) or isinstance(amount_fen, bool):
            raise TypeError(f"amount_fen must be an int, not {type(amount_fen).__name__}")
        fen = amount_fen
    if fen <= 0:
        raise ValueError(f"amount must be positive, not {fen} fen")
    return fen


# ----------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class Send:
    request: Message


@dataclass(frozen=True, slots=True)
class Wait:
    seconds: float


@dataclass(frozen=True, slots=True)
class TakeLate:
    """Every late frame kept for ``seq`` (oldest first), as a tuple; ``()`` when none."""

    seq: int


@dataclass(frozen=True, slots=True)
class AnswerRejected:
    """A frame that came as (or with the seq of) the answer to the journaled request
    ``client_ref`` but cannot be its answer: a protocol error on the link, kept in the
    client's ``diagnostics`` and logged; never the request's outcome."""

    client_ref: str
    seq: int
    message_type: str
    reason: str


@dataclass(frozen=True, slots=True)
class Report:
    """Tell the runner about a rejected answer (no reply)."""

    event: AnswerRejected


@dataclass(frozen=True, slots=True)
class Answer:
    """What became of a :class:`Send`: ``response`` or ``failure``; ``sent`` is False when
    the request could not even be queued (dead connection). ``request``: the request as the
    connection stamped it (seq, terminal id), when known."""

    seq: int
    response: Message | None
    failure: RequestFailed | None
    sent: bool = True
    request: Message | None = None

    def stamped(self, fallback: M) -> M:
        """The request as sent (``fallback`` when the runner did not say)."""
        if self.request is not None and type(self.request) is type(fallback):
            return self.request
        if self.failure is not None and type(self.failure.request) is type(fallback):
            return self.failure.request
        return fallback


Command = Send | Wait | TakeLate | Report
Flow = Generator[Command, object, T]


@dataclass(frozen=True, slots=True)
class Done(Generic[T]):
    """A flow's result: it returned ``value``."""

    value: T


def resume(flow: Flow[T], reply: object = None, error: Exception | None = None
           ) -> Command | Done[T]:
    """Step ``flow``, as both runners do: send it what its last command gave (``reply``), or
    throw in the ``error`` that command raised (the flow decides: raise, or an outcome once
    its request may have left). The next command, or :class:`Done` when the flow returned."""
    try:
        return flow.send(reply) if error is None else flow.throw(error)
    except StopIteration as stop:
        return Done(stop.value)

#: ErrorReply codes that mean the terminal refused the request before executing it.
NOT_EXECUTED = frozenset({
    ErrorCode.UNSUPPORTED, ErrorCode.MALFORMED, ErrorCode.BUSY, ErrorCode.INVALID_FIELD,
})


def expect(answer: Answer, cls: type[M]) -> M:
    """The response of ``cls``, or the matching exception."""
    name = type(answer.failure.request).__name__ if answer.failure else cls.__name__
    if answer.failure is not None:
        f = answer.failure
        text = f"{name} (seq {f.seq}): {f.detail}"
        if f.reason is FailureReason.TIMEOUT:
            raise LinkTimeoutError(text)
        raise LinkFailedError(text)
    msg = answer.response
    if isinstance(msg, ErrorReply):
        raise _refused(msg)
    if not isinstance(msg, cls):
        raise ProtocolError(f"expected {cls.__name__}, got {type(msg).__name__}")
    return msg


def _refused(msg: ErrorReply) -> TerminalError:
    return TerminalError(
        f"terminal refused the request: {msg.code.name} {msg.text}".rstrip(), int(msg.code)
    )


def request_flow(request: Message, cls: type[M]) -> Flow[M]:
    """Send one (not money-moving) request and return its response of type ``cls``."""
    answer = yield Send(request)
    assert isinstance(answer, Answer)  # noqa: S101 - the runner's contract
    return expect(answer, cls)


def _from_response(msg: Message, client_ref: str, how: str) -> TransactionResult:
    assert isinstance(  # noqa: S101 - checked by _checks.answer_mismatch
        msg, BillPaymentResponse | WithdrawalResponse | ReversalResponse
    )
    outcome = Outcome.APPROVED if msg.result is ResultCode.APPROVED else Outcome.DECLINED
    return TransactionResult(outcome, client_ref, msg.record, msg.result, how)


def from_record(record: JournalRecord, client_ref: str, how: str) -> TransactionResult:
    outcome = {
        TxnStatus.APPROVED: Outcome.APPROVED,
        TxnStatus.DECLINED: Outcome.DECLINED,
        TxnStatus.REVERSED: Outcome.REVERSED,
    }[record.status]
    return TransactionResult(outcome, client_ref, record, record.result, how)


def _unknown(client_ref: str, notes: list[str]) -> TransactionResult:
    return TransactionResult(
        Outcome.UNKNOWN, client_ref, None, None, "unresolved",
        "; ".join(notes + ["the terminal journal will resolve it"]),
    )


def _reject(client_ref: str, seq: int, msg: Message, reason: str) -> Report:
    return Report(AnswerRejected(client_ref, seq, type(msg).__name__, reason))


def money_flow(
    request: Journaled, client_ref: str, *, status_attempts: int, busy_wait: float,
    expected_amount: int | None = None,
) -> Flow[TransactionResult]:
    """Send a money-moving request once; on a lost or rejected answer, find out instead of
    resending. Never raises once the request may have left (module docstring)."""
    answer = yield Send(request)
    assert isinstance(answer, Answer)  # noqa: S101 - the runner's contract
    if not answer.sent and answer.failure is not None:
        raise LinkFailedError(f"not sent: {answer.failure.detail}")
    sent = answer.stamped(request)
    msg = answer.response
    if isinstance(msg, ErrorReply) and msg.code in NOT_EXECUTED and (
        refusal_mismatch(sent, msg) is None
    ):
        raise _refused(msg)  # refused before execution: nothing happened
    try:
        return (yield from _settle_money(sent, client_ref, answer, status_attempts=(
            status_attempts), busy_wait=busy_wait, expected_amount=expected_amount))
    except Exception as exc:  # after sending: an outcome, never a raise
        return _unknown(client_ref, [f"client error after sending: {exc!r}"])


def _settle_money(
    sent: Journaled, client_ref: str, answer: Answer, *, status_attempts: int,
    busy_wait: float, expected_amount: int | None,
) -> Flow[TransactionResult]:
    msg = answer.response
    if msg is None:
        assert answer.failure is not None  # noqa: S101 - the runner's contract
        why = f"response lost ({answer.failure.reason}: {answer.failure.detail})"
    elif isinstance(msg, ErrorReply) and refusal_mismatch(sent, msg) is None:
        why = (f"ErrorReply {msg.code.name} {msg.text}".rstrip()
               + ": the terminal may have executed it")
    else:
        reason = (refusal_mismatch(sent, msg) if isinstance(msg, ErrorReply)
                  else answer_mismatch(sent, msg, expected_amount=expected_amount))
        if reason is None:
            return _from_response(msg, client_ref, "response")
        yield _reject(client_ref, answer.seq, msg, reason)
        why = f"answer rejected ({type(msg).__name__}: {reason})"
    result = yield from resolve_flow(
        client_ref, status_attempts=status_attempts, busy_wait=busy_wait,
        original=sent, original_seq=answer.seq, why=why, expected_amount=expected_amount,
    )
    return result


def _take_late(
    original: Journaled | None, seq: int | None, client_ref: str, notes: list[str],
    expected_amount: int | None,
) -> Flow[TransactionResult | None]:
    """The outcome from a checked late answer to ``original``; others are reported.
    ``None`` (and nothing asked) when there is no original request to answer."""
    if original is None or seq is None:
        return None
    late = yield TakeLate(seq)
    assert isinstance(late, tuple)  # noqa: S101 - the runner's contract
    for msg in late:
        if isinstance(msg, ErrorReply):
            reason = "a late ErrorReply after the request expired is not its outcome"
        else:
            reason = answer_mismatch(original, msg, expected_amount=expected_amount) or ""
            if not reason:
                return _from_response(msg, client_ref, "late_response")
        yield _reject(client_ref, seq, msg, reason)
        notes.append(f"late {type(msg).__name__} rejected ({reason})")
    return None


def resolve_flow(
    client_ref: str, *, status_attempts: int, busy_wait: float,
    original: Journaled | None = None, original_seq: int | None = None, why: str = "",
    expected_amount: int | None = None,
) -> Flow[TransactionResult]:
    """Learn what became of ``client_ref`` with status queries (see the module docstring);
    ``original``: the request as sent, whose fields the journal record must match."""
    notes = [why] if why else []
    for _ in range(status_attempts):
        late = yield from _take_late(original, original_seq, client_ref, notes,
                                     expected_amount)
        if late is not None:
            return late
        query = StatusQuery(placeholder(MsgType.STATUS_QUERY), client_ref=client_ref)
        answer = yield Send(query)
        assert isinstance(answer, Answer)  # noqa: S101
        msg = answer.response
        if isinstance(msg, StatusResponse):
            reason = status_mismatch(answer.stamped(query), msg, client_ref, original,
                                     expected_amount=expected_amount)
            if reason is not None:
                yield _reject(client_ref, answer.seq, msg, reason)
                notes.append(f"status answer rejected ({reason})")
                continue
            if msg.record is not None:
                return from_record(msg.record, client_ref, "status_query")
            return TransactionResult(
                Outcome.DECLINED, client_ref, None, None, "status_query",
                "the terminal has no record of this client_ref: it was never executed",
            )
        if isinstance(msg, ErrorReply):
            notes.append(f"status query refused: {msg.code.name} {msg.text}".rstrip())
            if msg.code is not ErrorCode.BUSY:
                break
            yield Wait(busy_wait)
            continue
        if answer.failure is not None:
            if answer.sent:
                notes.append(f"status query failed ({answer.failure.reason})")
            else:
                notes.append(f"status query not sent ({answer.failure.detail})")
            if not answer.sent or answer.failure.reason in (
                FailureReason.CLOSED, FailureReason.PEER_DEAD
            ):
                break
        elif msg is not None:
            notes.append(f"unexpected answer {type(msg).__name__}")
    late = yield from _take_late(original, original_seq, client_ref, notes, expected_amount)
    if late is not None:
        return late
    return _unknown(client_ref, notes)


def _settle_balance(sent: BalanceInquiryRequest, client_ref: str, answer: Answer
                    ) -> Flow[BalanceResult]:
    msg = answer.response
    if msg is None:
        assert answer.failure is not None  # noqa: S101 - the runner's contract
        f = answer.failure
        why = f"answer lost ({f.reason}: {f.detail})"
    elif isinstance(msg, ErrorReply) and refusal_mismatch(sent, msg) is None:
        why = f"ErrorReply {msg.code.name} {msg.text}".rstrip()
    else:
        reason = (refusal_mismatch(sent, msg) if isinstance(msg, ErrorReply)
                  else answer_mismatch(sent, msg))
        if reason is None:
            assert isinstance(msg, BalanceInquiryResponse)  # noqa: S101 - checked above
            outcome = (Outcome.APPROVED if msg.result is ResultCode.APPROVED
                       else Outcome.DECLINED)
            return BalanceResult(outcome, client_ref, msg.result, msg.balance_fen, msg.record)
        yield _reject(client_ref, answer.seq, msg, reason)
        why = f"answer rejected ({type(msg).__name__}: {reason})"
    return BalanceResult(Outcome.UNKNOWN, client_ref, None, None, None,
                         f"{why}; the terminal journal will resolve it")


# --------------------------------------------------------------------- operations


class Operations:
    """The flows behind every client method; holds the state both clients share."""

    def __init__(
        self, rng: random.Random, *, status_attempts: int = 3, busy_wait: float = 1.0,
        host_time: Callable[[], datetime],
    ) -> None:
        self.rng = rng
        self.status_attempts = status_attempts
        self.busy_wait = busy_wait
        self.host_time = host_time
        #: this client's last payment/withdrawal confirmed approved (for reverse_last())
        self.last_approved: JournalRecord | None = None
        #: the client_ref of a later payment/withdrawal left unknown, which hides it
        self.unsettled_ref: str | None = None
        self._before_unsettled: JournalRecord | None = None  # back if that one never ran

    @property
    def last_approved_ref(self) -> str | None:
        """The terminal ref ``reverse_last()`` would reverse (None: nothing confirmed)."""
        return None if self.last_approved is None else self.last_approved.ref

    def _note_outcome(self, result: TransactionResult) -> None:
        """Track the last confirmed payment or withdrawal (a result's record was checked)."""
        record = result.record
        if result.approved and record is not None and record.kind in (
            TxnKind.BILL_PAYMENT, TxnKind.WITHDRAWAL
        ):
            self.last_approved, self.unsettled_ref = record, None
        elif result.outcome is Outcome.UNKNOWN:
            # "the last one" is now this unknown one, or the one before: nobody knows
            if self.unsettled_ref is None:
                self._before_unsettled = self.last_approved
            self.last_approved, self.unsettled_ref = None, result.client_ref

    def identify(self) -> Flow[TerminalInfo]:
        req = IdentifyRequest(placeholder(MsgType.IDENTIFY), self.host_time())
        msg = yield from request_flow(req, IdentifyResponse)
        return TerminalInfo.of(msg)

    def pay_bill(
        self, product: str, account: str, amount: Decimal | None, amount_fen: int | None
    ) -> Flow[TransactionResult]:
        fen = to_fen(amount, amount_fen)
        ref = new_client_ref(self.rng)
        req = BillPaymentRequest(placeholder(MsgType.BILL_PAYMENT), ref, product, account, fen)
        result = yield from money_flow(req, ref, status_attempts=self.status_attempts,
                                       busy_wait=self.busy_wait)
        self._note_outcome(result)
        return result

    def withdraw(self, amount: Decimal | None, amount_fen: int | None) -> Flow[TransactionResult]:
        fen = to_fen(amount, amount_fen)
        ref = new_client_ref(self.rng)
        req = WithdrawalRequest(placeholder(MsgType.WITHDRAWAL), ref, fen)
        result = yield from money_flow(req, ref, status_attempts=self.status_attempts,
                                       busy_wait=self.busy_wait)
        self._note_outcome(result)
        return result

    def reverse_last(self, original_ref: str | None) -> Flow[TransactionResult]:
        last = self.last_approved
        target = original_ref or (None if last is None else last.ref)
        if not target:
            why = ("the outcome of this client's last payment is unknown "
                   f"(client_ref {self.unsettled_ref}): resolve it first, or pass the ref"
                   if self.unsettled_ref else "no approved transaction of this client to "
                   "reverse; pass its ref")
            raise ValueError(why)
        expected = last.amount_fen if last is not None and last.ref == target else None
        ref = new_client_ref(self.rng)
        req = ReversalRequest(placeholder(MsgType.REVERSAL), ref, target)
        result = yield from money_flow(req, ref, status_attempts=self.status_attempts,
                                       busy_wait=self.busy_wait, expected_amount=expected)
        if last is not None and target == last.ref and result.outcome in (
            Outcome.APPROVED, Outcome.UNKNOWN
        ):
            self.last_approved = None  # reversed, or maybe: never reverse it twice
        return result

    def resolve(self, client_ref: str) -> Flow[TransactionResult]:
        result = yield from resolve_flow(
            client_ref, status_attempts=self.status_attempts, busy_wait=self.busy_wait
        )
        if client_ref == self.unsettled_ref and result.outcome is not Outcome.UNKNOWN:
            self.unsettled_ref = None
            if result.approved:
                self._note_outcome(result)
            elif result.outcome is Outcome.DECLINED:  # it never moved money
                self.last_approved = self._before_unsettled
            self._before_unsettled = None
        return result

    def balance(self) -> Flow[BalanceResult]:
        """The card's balance. The terminal journals the inquiry, so once the request may
        have left, a lost or rejected answer (T2 expired, link closed, an answer whose
        client_ref, kind or terminal does not match) is ``Outcome.UNKNOWN`` with the
        ``client_ref``, like a money-moving request; it is not asked about again (a status
        query cannot give the balance). Unsent: ``LinkFailedError``; an ErrorReply refusing
        it (not INTERNAL): ``TerminalError``."""
        client_ref = new_client_ref(self.rng)
        req = BalanceInquiryRequest(placeholder(MsgType.BALANCE_INQUIRY), client_ref)
        answer = yield Send(req)
        assert isinstance(answer, Answer)  # noqa: S101 - the runner's contract
        if not answer.sent:
            expect(answer, BalanceInquiryResponse)  # raises LinkFailedError: never left
        sent = answer.stamped(req)
        msg = answer.response
        if isinstance(msg, ErrorReply) and msg.code in NOT_EXECUTED and (
            refusal_mismatch(sent, msg) is None
        ):
            raise _refused(msg)
        try:
            return (yield from _settle_balance(sent, client_ref, answer))
        except Exception as exc:  # after sending: an outcome, never a raise
            return BalanceResult(Outcome.UNKNOWN, client_ref, None, None, None,
                                 f"client error after sending: {exc!r}; the terminal "
                                 "journal will resolve it")

    def status(self, ref: str, client_ref: str) -> Flow[JournalRecord | None]:
        if not (ref or client_ref):
            raise ValueError("give the terminal ref or the client_ref")
        req = StatusQuery(placeholder(MsgType.STATUS_QUERY), ref=ref, client_ref=client_ref)
        msg = yield from request_flow(req, StatusResponse)
        return msg.record if msg.found else None

    def journal(self, after: int, limit: int) -> Flow[JournalPage]:
        if after < 0 or not 1 <= limit <= 255:
            raise ValueError("after must be >= 0 and limit within 1..255")
        req = JournalReadRequest(placeholder(MsgType.JOURNAL_READ), after, limit)
        msg = yield from request_flow(req, JournalReadResponse)
        cursors = [r.cursor for r in msg.records]
        if any(c <= after for c in cursors) or cursors != sorted(set(cursors)):
            raise ProtocolError(f"journal page after {after} has cursors out of order: {cursors}")
        return JournalPage(msg.records, msg.more, after)

    def ack_journal(self, upto: int) -> Flow[int]:
        req = JournalAckRequest(placeholder(MsgType.JOURNAL_ACK), upto)
        msg = yield from request_flow(req, JournalAckResponse)
        return msg.acked_cursor

    def settlement_totals(self) -> Flow[SettlementTotals]:
        req = SettlementTotalsRequest(placeholder(MsgType.SETTLEMENT_TOTALS))
        msg = yield from request_flow(req, SettlementTotalsResponse)
        return SettlementTotals(msg.since, msg.lines)

    def device_status(self) -> Flow[DeviceStatus]:
        req = DeviceStatusRequest(placeholder(MsgType.DEVICE_STATUS))
        msg = yield from request_flow(req, DeviceStatusResponse)
        return DeviceStatus(
            msg.paper_ok, dict(msg.error_counters), msg.signal_dbm, msg.uptime_ms,
            msg.boot_id, msg.terminal_time, msg.journal_unacked,
        )

    def echo(self, payload: bytes) -> Flow[bytes]:
        msg = yield from request_flow(EchoRequest(placeholder(MsgType.ECHO), payload), EchoResponse)
        return msg.payload
