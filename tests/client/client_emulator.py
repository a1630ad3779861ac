"""A small emulated terminal for the client tests, built on TerminalConnection.

It keeps a real journal, executes bill payments and withdrawals, answers status queries,
journal reads and the other requests, and can drop responses on purpose. It runs in a
thread over a pty master fd or a connected TCP socket. ``executed`` counts payments and
withdrawals actually carried out, so tests can prove that nothing is paid twice.
"""

from __future__ import annotations

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
            return resp
        if isinstance(req, StatusQuery):
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
            return BalanceInquiryResponse(h, ResultCode.APPROVED, rec, f.balance_fen)
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
        return self.conn.data_to_send()

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
