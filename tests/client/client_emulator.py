"""A small emulated terminal for the client tests, built on TerminalConnection.

It keeps a real journal, executes bill payments and withdrawals, answers status queries,
journal reads and the other requests, and can drop responses on purpose. It runs in a
thread over a pty master fd or a connected TCP socket. ``executed`` counts payments and
withdrawals actually carried out, so tests can prove that nothing is paid twice.

``Faults.money_script`` scripts a misbehaving peer, one step per money-moving request (it
is always executed and journaled first; see :data:`SCRIPT_STEPS`): the answer lost, held
back and sent *late* (after the host's status query arrived) as the genuine answer, as an
ErrorReply, as another response type or as another transaction, or sent at once but
carrying another transaction, or an ErrorReply(INTERNAL), or garbage bytes.
"""

from __future__ import annotations

import dataclasses
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from stationlink.protocol.events import RequestReceived
from stationlink.protocol.framing import Transport
from stationlink.protocol.messages import (
    BalanceInquiryRequest,
    BalanceInquiryResponse,
    BillPaymentRequest,
    BillPaymentResponse,
    ClearPan,
    DeviceStatusRequest,
    DeviceStatusResponse,
    Dialect,
    EchoResponse,
    ErrorCode,
    IdentifyRequest,
    IdentifyResponse,
    JournalAckRequest,
    JournalAckResponse,
    JournalReadRequest,
    JournalReadResponse,
    JournalRecord,
    Message,
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
)
from stationlink.protocol.terminal import TerminalConnection

CST = timezone(timedelta(hours=8))
KEY = b"test-card-key"  # the card key of the client tests
CARD = ClearPan("6217000000000000018")


@dataclass
class Faults:
    """How many of each thing to swallow (counted down as they happen)."""

    drop_money_responses: int = 0  # execute, but never send the response
    drop_status_responses: int = 0  # never answer this many status queries
    ignore_money_requests: int = 0  # never even execute (request "lost")
    drop_balance_responses: int = 0  # journal the inquiry, never send the response
    balance_fen: int = 123_456
    declined_accounts: frozenset[str] = frozenset()
    money_script: list[str] = field(default_factory=list)  # SCRIPT_STEPS, one per request
    balance_script: list[str] = field(default_factory=list)  # the same, for inquiries


#: What a scripted step does with the answer to a money-moving request it executed.
SCRIPT_STEPS = (
    "ok",  # answered at once
    "drop",  # never answered
    "late_ok",  # held back; the genuine answer goes out when the next status query arrives
    "late_error",  # held back; an ErrorReply(BUSY) with its seq goes out instead, late
    "late_other",  # held back; a StatusResponse(found=False) with its seq goes out, late
    "late_wrong_ref",  # held back; another transaction's answer with its seq goes out, late
    "wrong_ref",  # answered at once with another transaction's record (another client_ref)
    "wrong_amount",  # answered at once, the record's amount off by one fen
    "wrong_type",  # answered at once with an EchoResponse carrying its seq
    "error_internal",  # answered at once with ErrorReply(INTERNAL)
    "garbage",  # answered with bytes that do not frame (TCP: the host drops the stream)
)


@dataclass
class EmulatedTerminal:
    dialect: Dialect
    transport: Transport
    card_key: bytes
    terminal_id: str = "T0000001"
    faults: Faults = field(default_factory=Faults)
    executed: int = 0
    journal: list[JournalRecord] = field(default_factory=list)
    acked: int = 0
    requests_seen: list[str] = field(default_factory=list)
    close_on_garbage: bool = True  # TCP: False emulates firmware that slides over garbage
    connections: int = 0  # TCP connections accepted (serve_tcp)
    conn: TerminalConnection = field(init=False)
    held: list[tuple[str, Message]] = field(default_factory=list)  # late steps waiting
    junk: bytes = b""  # garbage to send before the next frame

    def __post_init__(self) -> None:
        self.new_connection()

    def new_connection(self) -> None:
        """Fresh link state for a new byte stream (the journal is kept)."""
        self.conn = TerminalConnection(
            self.dialect, self.transport, terminal_id=self.terminal_id,
            card_key=self.card_key, clock=time.monotonic,
            close_on_garbage=self.close_on_garbage,
        )

    # ---------------------------------------------------------------- journal

    def _record(self, kind: TxnKind, req: Message, amount: int, product: str = "",
                account: str = "", status: TxnStatus = TxnStatus.APPROVED,
                result: ResultCode = ResultCode.APPROVED, original_ref: str = "") -> JournalRecord:
        cursor = len(self.journal) + 1
        rec = JournalRecord(
            cursor, f"R{cursor:011d}", getattr(req, "client_ref", ""), kind, product, account,
            amount, status, result, datetime(2026, 5, 1, 10, 0, tzinfo=CST) + timedelta(
                minutes=cursor), cursor * 1000, 7,
            card=CARD if kind in (TxnKind.WITHDRAWAL, TxnKind.BALANCE_INQUIRY) else None,
            original_ref=original_ref,
        )
        self.journal.append(rec)
        return rec

    # --------------------------------------------------------------- requests

    def handle(self, req: Message) -> Message | None:
        """Execute ``req``; returns the response, or None to drop it."""
        self.requests_seen.append(type(req).__name__)
        f = self.faults
        h = req.header
        if isinstance(req, BillPaymentRequest | WithdrawalRequest | ReversalRequest):
            if f.ignore_money_requests:
                f.ignore_money_requests -= 1
                return None
            resp = self._money(req)
            if f.drop_money_responses:
                f.drop_money_responses -= 1
                return None
            if f.money_script:
                return self._scripted(f.money_script.pop(0), resp)
            return resp
        if isinstance(req, StatusQuery):
            self._release_held()
            if f.drop_status_responses:
                f.drop_status_responses -= 1
                return None
            found = [r for r in self.journal if (req.client_ref and r.client_ref == req.client_ref)
                     or (req.ref and r.ref == req.ref)]
            return StatusResponse(h, bool(found), found[-1] if found else None)
        if isinstance(req, IdentifyRequest):
            return IdentifyResponse(h, "EmuCorp", "EMU-1", "SN0001", "1.2.3", self.dialect,
                                    frozenset({"bill", "card", "journal"}),
                                    datetime(2026, 5, 1, 9, 0, tzinfo=CST))
        if isinstance(req, JournalReadRequest):
            after = [r for r in self.journal if r.cursor > req.after_cursor]
            page = tuple(after[: req.max_records])
            return JournalReadResponse(h, page, len(after) > len(page))
        if isinstance(req, JournalAckRequest):
            self.acked = max(self.acked, min(req.upto_cursor, len(self.journal)))
            return JournalAckResponse(h, self.acked)
        if isinstance(req, BalanceInquiryRequest):
            rec = self._record(TxnKind.BALANCE_INQUIRY, req, 0)
            if f.drop_balance_responses:
                f.drop_balance_responses -= 1
                return None
            answer = BalanceInquiryResponse(h, ResultCode.APPROVED, rec, f.balance_fen)
            if f.balance_script:
                return self._scripted(f.balance_script.pop(0), answer)
            return answer
        if isinstance(req, SettlementTotalsRequest):
            ok = [r for r in self.journal if r.status is TxnStatus.APPROVED
                  and r.kind is TxnKind.BILL_PAYMENT]
            lines = (SettlementLine(TxnKind.BILL_PAYMENT, "mobile", len(ok),
                                    sum(r.amount_fen for r in ok)),) if ok else ()
            return SettlementTotalsResponse(h, datetime(2026, 5, 1, tzinfo=CST), lines)
        if isinstance(req, DeviceStatusRequest):
            return DeviceStatusResponse(h, True, (("nak_sent", self.conn.link.stats["nak_sent"]),),
                                        -71, 5000, 7, datetime(2026, 5, 1, tzinfo=CST),
                                        len(self.journal) - self.acked)
        self.conn.send_error(h.seq, ErrorCode.UNSUPPORTED, "not emulated")
        return None

    def _scripted(self, step: str, resp: Message) -> Message | None:
        """Apply one :data:`SCRIPT_STEPS` step to the genuine answer ``resp``."""
        h = resp.header
        record = getattr(resp, "record", None)
        if step == "ok":
            return resp
        if step.startswith("late_") or step == "drop":
            if step != "drop":
                self.held.append((step, resp))
            return None
        if step == "wrong_ref":
            others = [r for r in self.journal if record is None or r.ref != record.ref]
            other = others[-1] if others else dataclasses.replace(
                record, client_ref="0123456789abcdef")
            return dataclasses.replace(resp, record=other)
        if step == "wrong_amount":
            assert record is not None
            return dataclasses.replace(
                resp, record=dataclasses.replace(record, amount_fen=record.amount_fen + 1))
        if step == "wrong_type":
            return EchoResponse(h, b"not yours")
        if step == "error_internal":
            self.conn.send_error(h.seq, ErrorCode.INTERNAL, "printer jammed after debit")
            return None
        if step == "garbage":
            self.junk += b"\x00\xffgarbage\xfe" * 3
            return None
        raise ValueError(f"unknown script step {step!r}")

    def _release_held(self) -> None:
        """A status query arrived: the held-back answers go out now, as scripted."""
        held, self.held = self.held, []
        for step, resp in held:
            h = resp.header
            if step == "late_ok":
                self.conn.send_response(resp)
            elif step == "late_error":
                self.conn.send_error(h.seq, ErrorCode.BUSY, "busy")
            elif step == "late_other":
                self.conn.send_response(StatusResponse(h, False, None))
            elif step == "late_wrong_ref":
                record = getattr(resp, "record", None)
                assert record is not None
                other = dataclasses.replace(record, client_ref="fedcba9876543210",
                                            ref="R99999999999")
                self.conn.send_response(dataclasses.replace(resp, record=other))

    def _money(self, req: BillPaymentRequest | WithdrawalRequest | ReversalRequest) -> Message:
        h = req.header
        if isinstance(req, ReversalRequest):
            target = [r for r in self.journal if r.ref == req.original_ref
                      and r.status is TxnStatus.APPROVED]
            if not target:
                return ReversalResponse(h, ResultCode.NOTHING_TO_REVERSE, None)
            old = target[0]
            self.journal[old.cursor - 1] = _replace_status(old, TxnStatus.REVERSED)
            rec = self._record(TxnKind.REVERSAL, req, old.amount_fen, old.product, old.account,
                               original_ref=old.ref)
            self.executed -= 1
            return ReversalResponse(h, ResultCode.APPROVED, rec)
        if isinstance(req, BillPaymentRequest):
            if req.account in self.faults.declined_accounts:
                rec = self._record(TxnKind.BILL_PAYMENT, req, req.amount_fen, req.product,
                                   req.account, TxnStatus.DECLINED, ResultCode.ACCOUNT_NOT_FOUND)
                return BillPaymentResponse(h, ResultCode.ACCOUNT_NOT_FOUND, rec)
            self.executed += 1
            rec = self._record(TxnKind.BILL_PAYMENT, req, req.amount_fen, req.product, req.account)
            return BillPaymentResponse(h, ResultCode.APPROVED, rec)
        self.executed += 1
        rec = self._record(TxnKind.WITHDRAWAL, req, req.amount_fen)
        return WithdrawalResponse(h, ResultCode.APPROVED, rec)

    # ------------------------------------------------------------------ I/O

    def step(self, data: bytes) -> bytes:
        for ev in self.conn.receive_data(data):
            if isinstance(ev, RequestReceived):
                resp = self.handle(ev.message)
                if resp is not None:
                    self.conn.send_response(resp)
        junk, self.junk = self.junk, b""
        return junk + self.conn.data_to_send()

    def serve(self, recv: Callable[[float], bytes | None], send: Callable[[bytes], None],
              stop: threading.Event) -> None:
        """Serve one byte stream until it ends, ``stop`` is set, or (TCP, strict) bytes
        that do not frame arrive: the caller then closes the connection."""
        while not stop.is_set():
            data = recv(0.05)
            if data is None:
                return
            out = self.step(data) if data else b""
            deadline = self.conn.next_deadline()
            if deadline is not None and time.monotonic() >= deadline:
                self.conn.handle_timeout()
                out += self.conn.data_to_send()
            if out:
                send(out)
            if self.conn.broken and self.conn.close_on_garbage:
                return


def _replace_status(rec: JournalRecord, status: TxnStatus) -> JournalRecord:
    import dataclasses

    return dataclasses.replace(rec, status=status)


def fd_io(fd: int) -> tuple[Callable[[float], bytes | None], Callable[[bytes], None]]:
    def recv(timeout: float) -> bytes | None:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(fd, 4096)
        except OSError:
            return None

    def send(data: bytes) -> None:
        while data:
            n = os.write(fd, data)
            data = data[n:]

    return recv, send


def socket_io(sock: socket.socket) -> tuple[Callable[[float], bytes | None],
                                             Callable[[bytes], None]]:
    def recv(timeout: float) -> bytes | None:
        sock.settimeout(timeout)
        try:
            data = sock.recv(4096)
        except TimeoutError:
            return b""
        except OSError:
            return None
        return data or None

    return recv, sock.sendall
