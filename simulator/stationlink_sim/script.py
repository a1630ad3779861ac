"""Scripted misbehaviour: an emulated terminal that answers chosen requests wrongly, on purpose.

The fault spec (:mod:`.faults`) draws faults by probability and schedules events; a
:class:`Script` says exactly what happens to the next requests, one step per request, so a
host's regression test can name the frame that once broke it. Attach one with
``serve_terminal(..., script=Script(...))`` (or ``start_terminal``, or a
:class:`~.session.TerminalSession` directly); the terminal behind it is the ordinary emulated
terminal, so what it executes and journals is the truth the host must end up with.

Contract:
- ``money`` holds one step per money-moving request (bill payment, withdrawal, reversal),
  ``balance`` one per balance inquiry, ``status`` one per status query, consumed in order;
  once a list is empty the requests of that family are answered normally. The lists may be
  changed between requests (a test arms the next step).
- Every step but ``lost`` lets the terminal execute and journal the request first; the step
  then decides what goes out instead of, or later than, the genuine answer
  (:data:`ANSWER_STEPS`):

  ``ok``              the genuine answer, at once
  ``drop``            nothing, ever
  ``late_ok``         held back; the genuine answer goes out when the next status query arrives
  ``late_error``      held back; an ``ErrorReply(BUSY)`` with its seq goes out instead, late
  ``late_other``      held back; a ``StatusResponse(found=False)`` with its seq goes out, late
  ``late_wrong_ref``  held back; the answer carrying another transaction (other ref and
                      client_ref) goes out, late
  ``wrong_ref``       at once, carrying the journal's newest other record (another client_ref)
  ``wrong_amount``    at once, the record's amount one fen off
  ``wrong_type``      at once, an ``EchoResponse`` with its seq
  ``error_internal``  at once, ``ErrorReply(INTERNAL)`` although the request ran
  ``garbage``         bytes that do not frame instead of the answer (TCP: a host drops the
                      stream)

  ``lost`` (money requests only): the request is lost before the terminal sees it: not
  executed, not answered. A status step is ``ok`` or ``drop`` (the query is not answered);
  every status query that arrives first releases the held-back answers, in order.
- ``seen`` lists the type name of every request the terminal received, in order (what a
  test checks to prove a host never resent a payment).
- Scripted responses and ErrorReplies are framed by the terminal's own connection (byte
  faults apply to them); ``garbage`` bytes go out as they are. Nothing here logs or keeps a
  full card number beyond the records the terminal itself keeps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stationlink.errors import ConfigError
from stationlink.protocol import (
    MONEY_MOVING,
    BalanceInquiryRequest,
    EchoResponse,
    ErrorCode,
    JournalRecord,
    Message,
    MsgType,
    StatusQuery,
    StatusResponse,
)

if TYPE_CHECKING:
    from .device import EmulatedTerminal

#: What a step does with the answer to a request the terminal executed (module docstring).
ANSWER_STEPS = (
    "ok", "drop", "late_ok", "late_error", "late_other", "late_wrong_ref",
    "wrong_ref", "wrong_amount", "wrong_type", "error_internal", "garbage",
)
MONEY_STEPS = (*ANSWER_STEPS, "lost")
STATUS_STEPS = ("ok", "drop")
GARBAGE = b"\x00\xffgarbage\xfe" * 3


@dataclass(frozen=True, slots=True)
class ErrorOut:
    """An ``ErrorReply`` to send for request ``seq``."""

    seq: int
    code: ErrorCode
    text: str


#: What a script sends: a response message, an ErrorReply, or raw bytes.
Out = Message | ErrorOut | bytes


@dataclass
class Script:
    """Steps for the next money-moving requests, balance inquiries and status queries."""

    money: list[str] = field(default_factory=list)
    balance: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    held: list[tuple[str, Message]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Refuse unknown steps (:class:`ConfigError` naming the list and the step)."""
        for name, steps, known in (("money", self.money, MONEY_STEPS),
                                   ("balance", self.balance, ANSWER_STEPS),
                                   ("status", self.status, STATUS_STEPS)):
            for number, step in enumerate(steps, start=1):
                if step not in known:
                    raise ConfigError(
                        f"script {name} step {number}: unknown step {step!r} "
                        f"(known: {', '.join(known)})")

    @staticmethod
    def family(msg: Message) -> str | None:
        """Which list scripts ``msg``: ``money``, ``balance``, ``status`` or None."""
        mtype = MsgType(msg.header.msg_type)
        if mtype in MONEY_MOVING:
            return "money"
        if isinstance(msg, BalanceInquiryRequest):
            return "balance"
        if isinstance(msg, StatusQuery):
            return "status"
        return None

    def arrived(self, msg: Message) -> tuple[list[Out], bool]:
        """A request arrived: what goes out now (held answers a status query releases) and
        whether the terminal executes it (``False``: a ``lost`` step consumed it)."""
        self.check()
        self.seen.append(type(msg).__name__)
        family = self.family(msg)
        if family == "status":
            return self._release(), True
        if family == "money" and self.money and self.money[0] == "lost":
            self.money.pop(0)
            return [], False
        return [], True

    def answered(self, msg: Message, response: Message,
                 device: EmulatedTerminal) -> list[Out] | None:
        """The terminal answered ``msg`` with ``response``: what goes out instead (``None``:
        the genuine answer, unscripted; ``[]``: nothing)."""
        family = self.family(msg)
        steps = {"money": self.money, "balance": self.balance, "status": self.status}.get(
            family or "")
        if not steps:
            return None
        step = steps.pop(0)
        if family == "status":
            return [] if step == "drop" else None
        return self._apply(step, response, device)

    def _apply(self, step: str, resp: Message, device: EmulatedTerminal) -> list[Out] | None:
        h = resp.header
        record: JournalRecord | None = getattr(resp, "record", None)
        if step == "ok":
            return None
        if step == "drop":
            return []
        if step.startswith("late_"):
            self.held.append((step, resp))
            return []
        if step == "garbage":
            return [GARBAGE]
        if step == "wrong_type":
            return [EchoResponse(h, b"not yours")]
        if step == "error_internal":
            return [ErrorOut(h.seq, ErrorCode.INTERNAL, "printer jammed after debit")]
        if record is None:  # nothing to get wrong in an answer without a record
            return None
        if step == "wrong_ref":
            others = [r for r in device.journal if r.ref != record.ref]
            other = device.on_wire(others[-1]) if others else dataclasses.replace(
                record, client_ref="0123456789abcdef")
            return [_with_record(resp, other)]
        if step == "wrong_amount":
            return [_with_record(resp, dataclasses.replace(
                record, amount_fen=record.amount_fen + 1))]
        raise ConfigError(f"script: unknown step {step!r}")  # pragma: no cover - checked

    def _release(self) -> list[Out]:
        held, self.held = self.held, []
        out: list[Out] = []
        for step, resp in held:
            h = resp.header
            record: JournalRecord | None = getattr(resp, "record", None)
            if step == "late_ok":
                out.append(resp)
            elif step == "late_error":
                out.append(ErrorOut(h.seq, ErrorCode.BUSY, "busy"))
            elif step == "late_other":
                out.append(StatusResponse(h, False, None))
            elif step == "late_wrong_ref" and record is not None:
                out.append(_with_record(resp, dataclasses.replace(
                    record, client_ref="fedcba9876543210", ref="R99999999999")))
        return out


def _with_record(resp: Message, record: JournalRecord) -> Message:
    changes: dict[str, Any] = {"record": record}
    return dataclasses.replace(resp, **changes)
