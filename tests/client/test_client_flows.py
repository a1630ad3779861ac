"""The money-moving flow step by step, with scripted answers (no I/O)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "protocol"))
from protocol_helpers import paid, payment  # noqa: E402

from stationlink.client import Outcome  # noqa: E402
from stationlink.client._core import Answer, Send, TakeLate, Wait, money_flow  # noqa: E402
from stationlink.errors import LinkFailedError, TerminalError  # noqa: E402
from stationlink.protocol import (  # noqa: E402  # noqa: E402
    ErrorCode,
    ErrorReply,
    FailureReason,
    Header,
    MsgType,
    RequestFailed,
    StatusQuery,
    StatusResponse,
)

REQ = payment("00000000000000cc")


def lost(seq: int, reason: FailureReason = FailureReason.TIMEOUT) -> Answer:
    return Answer(seq, None, RequestFailed(seq, REQ, reason, "lost"))


def start() -> tuple[object, object]:
    flow = money_flow(REQ, REQ.client_ref, status_attempts=3, busy_wait=0.5)
    return flow, next(flow)


def test_late_response_settles_the_outcome() -> None:
    flow, cmd = start()
    assert cmd == Send(REQ)
    assert flow.send(lost(41)) == TakeLate(41)  # type: ignore[attr-defined]
    with pytest.raises(StopIteration) as stop:
        flow.send((paid(REQ),))  # type: ignore[attr-defined]
    assert stop.value.value.outcome is Outcome.APPROVED
    assert stop.value.value.resolved_by == "late_response"


def test_busy_status_waits_then_asks_again() -> None:
    flow, _ = start()
    assert flow.send(lost(41)) == TakeLate(41)  # type: ignore[attr-defined]
    query = flow.send(())  # type: ignore[attr-defined]
    assert isinstance(query, Send)
    assert isinstance(query.request, StatusQuery)
    assert query.request.client_ref == REQ.client_ref
    busy = ErrorReply(Header(MsgType.ERROR, 42, "T0000001"), ErrorCode.BUSY, 0x31)
    assert flow.send(Answer(42, busy, None)) == Wait(0.5)  # type: ignore[attr-defined]
    assert flow.send(None) == TakeLate(41)  # type: ignore[attr-defined]
    assert isinstance(flow.send(()), Send)  # type: ignore[attr-defined]
    found = StatusResponse(Header(MsgType.STATUS_QUERY_RESP, 43, "T0000001"), True,
                           paid(REQ).record)
    with pytest.raises(StopIteration) as stop:
        flow.send(Answer(43, found, None))  # type: ignore[attr-defined]
    assert stop.value.value.resolved_by == "status_query"


def test_closed_connection_gives_unknown_at_once() -> None:
    flow, _ = start()
    flow.send(lost(41, FailureReason.CLOSED))  # type: ignore[attr-defined]
    flow.send(())  # type: ignore[attr-defined]
    dead = Answer(-1, None, RequestFailed(-1, REQ, FailureReason.CLOSED, "closed"), sent=False)
    assert flow.send(dead) == TakeLate(41)  # type: ignore[attr-defined]
    with pytest.raises(StopIteration) as stop:
        flow.send(())  # type: ignore[attr-defined]
    assert stop.value.value.outcome is Outcome.UNKNOWN


def test_error_reply_to_payment_raises_terminal_error() -> None:
    flow, _ = start()
    err = ErrorReply(Header(MsgType.ERROR, 41, "T0000001"), ErrorCode.INVALID_FIELD, 0x11,
                     "amount")
    with pytest.raises(TerminalError, match="INVALID_FIELD amount"):
        flow.send(Answer(41, err, None))  # type: ignore[attr-defined]


def test_request_that_could_not_be_sent_raises() -> None:
    flow, _ = start()
    dead = Answer(-1, None, RequestFailed(-1, REQ, FailureReason.CLOSED, "closed"), sent=False)
    with pytest.raises(LinkFailedError):
        flow.send(dead)  # type: ignore[attr-defined]
