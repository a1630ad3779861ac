"""What the clients do, written once for the blocking and the asyncio client.

Contract:
- Each client operation is a *flow*: a generator that yields commands (:class:`Send` a
  request, :class:`Wait` a while, :class:`TakeLate` a late response) and receives their
  results; :class:`~stationlink.client.Terminal` and :class:`~stationlink.aclient.AsyncTerminal`
  run the same flows over a blocking or an asyncio byte stream. Flows do no I/O.
- Money-moving requests (bill payment, withdrawal, reversal) are never resent. When the
  response is lost (timeout, link failure, undecodable answer) the flow asks the terminal
  with ``StatusQuery(client_ref=...)`` (up to ``status_attempts`` times; a late response to
  the original request, if it turns up meanwhile, settles it too). A ``found=False`` answer
  means the terminal never executed the request. If nothing can be learned, the result is
  :attr:`Outcome.UNKNOWN`: the terminal's journal (``journal()``/``iter_journal()``, records
  carry ``client_ref``) or a later ``resolve(client_ref)`` settles it. A link that died
  after the request was written (``Answer.sent``, even in part) cannot carry a status query:
  the result is unknown at once, never an exception; only a request that provably never
  left (``sent=False``) raises ``LinkFailedError``.
- An ``ErrorReply`` to a money-moving request means the terminal did not execute it: it is
  raised as ``TerminalError`` (code = ``ErrorCode``).
- A balance inquiry is journaled too: its lost answer is ``Outcome.UNKNOWN`` with its
  ``client_ref`` (no status query: it could not give the balance).
- Amounts: ``Decimal`` yuan or ``int`` fen (``amount_fen=``); floats raise ``TypeError``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from .client_results import (
    BalanceResult,
    DeviceStatus,
    JournalPage,
    Outcome,
    SettlementTotals,
    TerminalInfo,
    TransactionResult,
)
from .errors import LinkFailedError, LinkTimeoutError, ProtocolError, TerminalError
from .money import yuan_to_fen
from .protocol.events import FailureReason, RequestFailed
from .protocol.messages import (
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
    SettlementTotalsRequest,
    SettlementTotalsResponse,
    StatusQuery,
    StatusResponse,
    TxnKind,
    TxnStatus,
    WithdrawalRequest,
    WithdrawalResponse,
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
    seq: int


@dataclass(frozen=True, slots=True)
class Answer:
    """What became of a :class:`Send`: ``response`` or ``failure``; ``sent`` is False when
    the request could not even be queued (dead connection)."""

    seq: int
    response: Message | None
    failure: RequestFailed | None
    sent: bool = True


Command = Send | Wait | TakeLate
Flow = Generator[Command, object, T]


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
        raise TerminalError(
            f"terminal refused the request: {msg.code.name} {msg.text}".rstrip(), int(msg.code)
        )
    if not isinstance(msg, cls):
        raise ProtocolError(f"expected {cls.__name__}, got {type(msg).__name__}")
    return msg


def request_flow(request: Message, cls: type[M]) -> Flow[M]:
    """Send one (not money-moving) request and return its response of type ``cls``."""
    answer = yield Send(request)
    assert isinstance(answer, Answer)  # noqa: S101 - the runner's contract
    return expect(answer, cls)


def _from_response(msg: object, client_ref: str, how: str) -> TransactionResult:
    if isinstance(msg, BillPaymentResponse | WithdrawalResponse | ReversalResponse):
        outcome = Outcome.APPROVED if msg.result is ResultCode.APPROVED else Outcome.DECLINED
        return TransactionResult(outcome, client_ref, msg.record, msg.result, how)
    raise ProtocolError(f"not the answer to a money-moving request: {type(msg).__name__}")


def from_record(record: JournalRecord, client_ref: str, how: str) -> TransactionResult:
    outcome = {
        TxnStatus.APPROVED: Outcome.APPROVED,
        TxnStatus.DECLINED: Outcome.DECLINED,
        TxnStatus.REVERSED: Outcome.REVERSED,
    }[record.status]
    return TransactionResult(outcome, client_ref, record, record.result, how)


def money_flow(
    request: Message, client_ref: str, *, status_attempts: int, busy_wait: float
) -> Flow[TransactionResult]:
    """Send a money-moving request once; on a lost response, find out instead of resending."""
    answer = yield Send(request)
    assert isinstance(answer, Answer)  # noqa: S101 - the runner's contract
    if not answer.sent and answer.failure is not None:
        raise LinkFailedError(f"not sent: {answer.failure.detail}")
    if answer.response is not None:
        if isinstance(answer.response, ErrorReply):
            expect(answer, ErrorReply)  # raises TerminalError: not executed
        return _from_response(answer.response, client_ref, "response")
    assert answer.failure is not None  # noqa: S101
    why = f"response lost ({answer.failure.reason}: {answer.failure.detail})"
    result = yield from resolve_flow(
        client_ref, status_attempts=status_attempts, busy_wait=busy_wait,
        original_seq=answer.seq, why=why,
    )
    return result


def resolve_flow(
    client_ref: str, *, status_attempts: int, busy_wait: float,
    original_seq: int | None = None, why: str = "",
) -> Flow[TransactionResult]:
    """Learn what became of ``client_ref`` with status queries (see the module docstring)."""
    notes = [why] if why else []
    for _ in range(status_attempts):
        if original_seq is not None:
            late = yield TakeLate(original_seq)
            if late is not None:
                return _from_response(late, client_ref, "late_response")
        query = StatusQuery(placeholder(MsgType.STATUS_QUERY), client_ref=client_ref)
        answer = yield Send(query)
        assert isinstance(answer, Answer)  # noqa: S101
        msg = answer.response
        if isinstance(msg, StatusResponse):
            if msg.found and msg.record is not None:
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
    if original_seq is not None:
        late = yield TakeLate(original_seq)
        if late is not None:
            return _from_response(late, client_ref, "late_response")
    return TransactionResult(
        Outcome.UNKNOWN, client_ref, None, None, "unresolved",
        "; ".join(notes) + "; the terminal journal will resolve it",
    )


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
        self.last_approved_ref: str | None = None  # for reverse_last()

    def _money(self, request: Message, client_ref: str) -> Flow[TransactionResult]:
        result = yield from money_flow(
            request, client_ref, status_attempts=self.status_attempts, busy_wait=self.busy_wait
        )
        record = result.record
        if result.approved and record is not None and record.kind in (
            TxnKind.BILL_PAYMENT, TxnKind.WITHDRAWAL
        ):
            self.last_approved_ref = record.ref
        return result

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
        return (yield from self._money(req, ref))

    def withdraw(self, amount: Decimal | None, amount_fen: int | None) -> Flow[TransactionResult]:
        fen = to_fen(amount, amount_fen)
        ref = new_client_ref(self.rng)
        req = WithdrawalRequest(placeholder(MsgType.WITHDRAWAL), ref, fen)
        return (yield from self._money(req, ref))

    def reverse_last(self, original_ref: str | None) -> Flow[TransactionResult]:
        target = original_ref or self.last_approved_ref
        if not target:
            raise ValueError("no approved transaction of this client to reverse; pass its ref")
        ref = new_client_ref(self.rng)
        req = ReversalRequest(placeholder(MsgType.REVERSAL), ref, target)
        result = yield from self._money(req, ref)
        if result.approved and target == self.last_approved_ref:
            self.last_approved_ref = None
        return result

    def resolve(self, client_ref: str) -> Flow[TransactionResult]:
        return (yield from resolve_flow(
            client_ref, status_attempts=self.status_attempts, busy_wait=self.busy_wait
        ))

    def balance(self) -> Flow[BalanceResult]:
        """The card's balance. The terminal journals the inquiry, so a lost answer (the
        request was written: T2 expired, link closed) is ``Outcome.UNKNOWN`` with the
        ``client_ref``, like a money-moving request; it is not asked about again (a status
        query cannot give the balance). Unsent: ``LinkFailedError``; ErrorReply:
        ``TerminalError``."""
        client_ref = new_client_ref(self.rng)
        req = BalanceInquiryRequest(placeholder(MsgType.BALANCE_INQUIRY), client_ref)
        answer = yield Send(req)
        assert isinstance(answer, Answer)  # noqa: S101 - the runner's contract
        if answer.sent and answer.failure is not None:
            f = answer.failure
            return BalanceResult(Outcome.UNKNOWN, client_ref, None, None, None,
                                 f"answer lost ({f.reason}: {f.detail}); the terminal "
                                 "journal will resolve it")
        msg = expect(answer, BalanceInquiryResponse)
        outcome = Outcome.APPROVED if msg.result is ResultCode.APPROVED else Outcome.DECLINED
        return BalanceResult(outcome, client_ref, msg.result, msg.balance_fen, msg.record)

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
