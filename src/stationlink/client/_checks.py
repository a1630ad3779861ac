"""Is this frame really the answer to that money-moving (or journaled) request?

Contract:
- The connection matches a response to its request by sequence number and message type
  only (``stationlink.protocol._connection``). A money-moving request fixes more than that:
  its ``client_ref``, its kind, its amount, the bill's product and account, the reversed
  ``original_ref``, the terminal it went to. These functions compare every such field of an
  answer (or of a status query's journal record) with the request as it was sent (the
  header stamped by the connection) and return the reason it cannot be this request's
  answer, or ``None`` when it can. They never raise and do no I/O.
- A record that fails a check is a protocol error on the link, never the request's outcome:
  the flows in :mod:`stationlink.client._core` report it and find the outcome out with a
  status query instead (``unknown`` if that is not answered).
- ``from_status``: a status query's record may since have been reversed, and a mispos-1
  terminal that lost a card number after a reboot sends an old withdrawal without its card;
  a live answer may do neither.
"""

from __future__ import annotations

from ..protocol import (
    REQUEST_CODE,
    UNKNOWN_TERMINAL,
    BalanceInquiryRequest,
    BalanceInquiryResponse,
    BillPaymentRequest,
    BillPaymentResponse,
    ErrorReply,
    JournalRecord,
    Message,
    ResultCode,
    ReversalRequest,
    ReversalResponse,
    StatusResponse,
    TxnKind,
    TxnStatus,
    WithdrawalRequest,
    WithdrawalResponse,
)

Journaled = BillPaymentRequest | WithdrawalRequest | ReversalRequest | BalanceInquiryRequest

#: The response class that answers each journaled request.
ANSWER_OF: dict[type, type] = {
    BillPaymentRequest: BillPaymentResponse,
    WithdrawalRequest: WithdrawalResponse,
    ReversalRequest: ReversalResponse,
    BalanceInquiryRequest: BalanceInquiryResponse,
}

_KIND_OF: dict[type, TxnKind] = {
    BillPaymentRequest: TxnKind.BILL_PAYMENT,
    WithdrawalRequest: TxnKind.WITHDRAWAL,
    ReversalRequest: TxnKind.REVERSAL,
    BalanceInquiryRequest: TxnKind.BALANCE_INQUIRY,
}


def _differs(what: str, got: object, want: object) -> str | None:
    return None if got == want else f"{what} {got!r}, not {want!r}"


def _header(request: Message, answer: Message) -> str | None:
    """Same seq; same terminal id once the connection knows the terminal's."""
    if request.header.seq and answer.header.seq != request.header.seq:
        return f"seq {answer.header.seq}, not {request.header.seq}"
    tid = request.header.terminal_id
    if tid != UNKNOWN_TERMINAL and answer.header.terminal_id != tid:
        return f"terminal id {answer.header.terminal_id!r}, not {tid!r}"
    return None


def record_mismatch(
    request: Journaled, record: JournalRecord, *, from_status: bool,
    expected_amount: int | None = None,
) -> str | None:
    """Why ``record`` cannot be the journal record of ``request`` (None: it can be).

    ``expected_amount``: for a reversal, the amount of the transaction it reverses, when the
    client knows it."""
    checks = [
        _differs("client_ref", record.client_ref, request.client_ref),
        _differs("kind", record.kind, _KIND_OF[type(request)]),
        _status_mismatch(record, from_status),
    ]
    if isinstance(request, BillPaymentRequest):
        checks += [
            _differs("product", record.product, request.product),
            _differs("account", record.account, request.account),
            _differs("amount_fen", record.amount_fen, request.amount_fen),
            None if record.card is None else "a card on a bill payment",
        ]
    elif isinstance(request, WithdrawalRequest):
        checks.append(_differs("amount_fen", record.amount_fen, request.amount_fen))
        if record.card is None and record.status is TxnStatus.APPROVED and not from_status:
            checks.append("an approved withdrawal without its card")
    elif isinstance(request, ReversalRequest):
        checks.append(_differs("original_ref", record.original_ref, request.original_ref))
        if expected_amount is not None:
            checks.append(_differs("amount_fen", record.amount_fen, expected_amount))
    else:
        checks.append(_differs("amount_fen", record.amount_fen, 0))
    problems = [c for c in checks if c is not None]
    return "; ".join(problems) if problems else None


def _status_mismatch(record: JournalRecord, from_status: bool) -> str | None:
    approved = record.result is ResultCode.APPROVED
    allowed = {TxnStatus.APPROVED} if approved else {TxnStatus.DECLINED}
    if approved and from_status and record.kind in (TxnKind.BILL_PAYMENT, TxnKind.WITHDRAWAL):
        allowed.add(TxnStatus.REVERSED)
    if record.status in allowed:
        return None
    return f"status {record.status.value} with result {record.result.name}"


def answer_mismatch(
    request: Journaled, answer: Message, *, expected_amount: int | None = None
) -> str | None:
    """Why ``answer`` (not an ErrorReply) cannot be the response to ``request``."""
    want = ANSWER_OF[type(request)]
    if not isinstance(answer, want):
        return f"a {type(answer).__name__}, not a {want.__name__}"
    head = _header(request, answer)
    if head is not None:
        return head
    assert isinstance(  # noqa: S101 - narrowed by ANSWER_OF above
        answer, BillPaymentResponse | WithdrawalResponse | ReversalResponse | BalanceInquiryResponse
    )
    record = answer.record
    if record is None:  # only a reversal that did not happen may come without a record
        return "an approved reversal without its record" if answer.result is (
            ResultCode.APPROVED) else None
    if record.result != answer.result:
        return f"record result {record.result.name}, answer result {answer.result.name}"
    return record_mismatch(request, record, from_status=False, expected_amount=expected_amount)


def refusal_mismatch(request: Journaled, reply: ErrorReply) -> str | None:
    """Why ``reply`` cannot be the terminal's refusal of ``request`` (None: it can be)."""
    head = _header(request, reply)
    if head is not None:
        return head
    code = REQUEST_CODE[type(request)]
    if reply.for_type != code:
        return f"an ErrorReply for type 0x{reply.for_type:02X}, not 0x{int(code):02X}"
    return None


def status_mismatch(
    query: Message, answer: StatusResponse, client_ref: str, original: Journaled | None,
    *, expected_amount: int | None = None,
) -> str | None:
    """Why the StatusResponse ``answer`` to ``query`` (about ``client_ref``) makes no sense,
    checked against the ``original`` request when the client still has it."""
    head = _header(query, answer)
    if head is not None:
        return head
    if answer.found != (answer.record is not None):
        return f"found={answer.found} with{'out' if answer.record is None else ''} a record"
    record = answer.record
    if record is None:
        return None
    if original is None:
        return _differs("client_ref", record.client_ref, client_ref)
    return record_mismatch(original, record, from_status=True, expected_amount=expected_amount)
