"""Shared helpers of the link/connection/detect tests: a fake clock and message builders."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from stationlink.protocol._detect import DialectDetector
from stationlink.protocol._terminal import TerminalConnection
from stationlink.protocol.messages import (
    BillPaymentRequest,
    BillPaymentResponse,
    Header,
    JournalRecord,
    MsgType,
    ResultCode,
    TxnKind,
    TxnStatus,
)

KEY = b"k"
CST = timezone(timedelta(hours=8))


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def answer_or_wait(detector: DialectDetector, term: TerminalConnection | None,
                   clock: FakeClock) -> None:
    """One turn of an in-memory detection: the terminal's pending bytes go to the detector;
    when it has none, the clock runs to the detector's next deadline, which then expires."""
    back = term.data_to_send() if term is not None else b""
    if back:
        detector.receive_data(back)
        return
    deadline = detector.next_deadline()
    assert deadline is not None
    clock.now = max(clock.now, deadline)
    detector.handle_timeout()


def payment(client_ref: str = "00000000000000aa", fen: int = 4530) -> BillPaymentRequest:
    return BillPaymentRequest(Header(MsgType.BILL_PAYMENT, 0, "00000000"), client_ref,
                              "mobile", "13800000000", fen)


def paid(req: BillPaymentRequest, cursor: int = 1) -> BillPaymentResponse:
    rec = JournalRecord(cursor, f"R{cursor:011d}", req.client_ref, TxnKind.BILL_PAYMENT,
                        req.product, req.account, req.amount_fen, TxnStatus.APPROVED,
                        ResultCode.APPROVED, datetime(2026, 5, 1, 10, 0, tzinfo=CST), 1000, 1)
    return BillPaymentResponse(req.header, ResultCode.APPROVED, rec)
