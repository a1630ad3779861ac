"""Typed results of the client methods (blocking and asyncio alike).

Contract: frozen dataclasses built from decoded responses; amounts are int fen with a
``Decimal`` yuan property; no card number beyond the masked form and token ever appears.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ..money import fen_to_yuan
from ..protocol import (
    Dialect,
    IdentifyResponse,
    JournalRecord,
    ResultCode,
    SettlementLine,
)

# ------------------------------------------------------------------------ results


class Outcome(enum.StrEnum):
    """What became of a money-moving request."""

    APPROVED = "approved"  # executed: money moved
    DECLINED = "declined"  # refused by the terminal/bank/biller, or never executed
    REVERSED = "reversed"  # executed, then reversed (journal status 'reversed')
    UNKNOWN = "unknown"  # could not be learned: the journal resolves it later


@dataclass(frozen=True, slots=True)
class TransactionResult:
    """Result of ``pay_bill``/``withdraw``/``reverse_last``/``resolve``."""

    outcome: Outcome
    client_ref: str
    record: JournalRecord | None  # the terminal's journal record, when known
    result: ResultCode | None  # the terminal's result code, when known
    resolved_by: str  # 'response', 'status_query', 'late_response' or 'unresolved'
    detail: str = ""

    @property
    def approved(self) -> bool:
        return self.outcome is Outcome.APPROVED

    @property
    def amount(self) -> Decimal | None:
        return None if self.record is None else fen_to_yuan(self.record.amount_fen)


@dataclass(frozen=True, slots=True)
class TerminalInfo:
    terminal_id: str
    vendor: str
    model: str
    serial_number: str
    firmware: str
    dialect: Dialect
    capabilities: frozenset[str]
    terminal_time: datetime

    @classmethod
    def of(cls, msg: IdentifyResponse) -> TerminalInfo:
        return cls(
            msg.header.terminal_id, msg.vendor, msg.model, msg.serial_number, msg.firmware,
            msg.dialect, msg.capabilities, msg.terminal_time,
        )


@dataclass(frozen=True, slots=True)
class BalanceResult:
    """Result of ``balance()``. ``outcome``: ``approved`` / ``declined`` as the terminal
    answered; ``unknown`` when the answer was lost after the request was written (timeout,
    link closed): ``result``, ``balance_fen`` and ``record`` are then ``None``, and the
    terminal's journal record carrying ``client_ref`` tells whether it was journaled."""

    outcome: Outcome
    client_ref: str
    result: ResultCode | None
    balance_fen: int | None
    record: JournalRecord | None
    detail: str = ""

    @property
    def balance(self) -> Decimal | None:
        return None if self.balance_fen is None else fen_to_yuan(self.balance_fen)


@dataclass(frozen=True, slots=True)
class JournalPage:
    records: tuple[JournalRecord, ...]
    more: bool  # records exist after the last one of this page
    after: int  # the cursor this page was read after

    @property
    def next_cursor(self) -> int:
        return self.records[-1].cursor if self.records else self.after


@dataclass(frozen=True, slots=True)
class SettlementTotals:
    since: datetime
    lines: tuple[SettlementLine, ...]


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    paper_ok: bool
    error_counters: dict[str, int]
    signal_dbm: int
    uptime_ms: int
    boot_id: int
    terminal_time: datetime
    journal_unacked: int
