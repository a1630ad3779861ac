"""Fixtures for the buffer tests: journal records built field by field, a fresh buffer file."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from stationlink.buffer import Buffer, PageResult
from stationlink.money import CST
from stationlink.protocol import CardRef, JournalRecord, ResultCode, TxnKind, TxnStatus

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=CST)
CARD = CardRef("622848******1234", "0f" * 16)

MakeRecord = Callable[..., JournalRecord]


def traced_page(buf: Buffer, records: Sequence[JournalRecord]) -> tuple[PageResult, list[str]]:
    """Store ``records`` as terminal T1's journal page (at :data:`T0`); with the page, the SQL
    statements it ran."""
    statements: list[str] = []
    buf._conn.set_trace_callback(statements.append)
    try:
        page = buf.record_journal_page("T1", records, T0)
    finally:
        buf._conn.set_trace_callback(None)
    return page, statements


def cst_iso(t: datetime) -> str:
    """The reference of a stored time text (``buffer.db``): the same instant in CST, a naive
    time as it is, and the time's own spelling where CST has none (the calendar's ends)."""
    if t.tzinfo is None:
        return t.isoformat()
    try:
        return t.astimezone(CST).isoformat()
    except OverflowError:
        return t.isoformat()


@pytest.fixture
def make_record() -> MakeRecord:
    def make(cursor: int, ref: str | None = None, **fields: Any) -> JournalRecord:
        kind = fields.pop("kind", TxnKind.BILL_PAYMENT)
        base: dict[str, Any] = {
            "cursor": cursor,
            "ref": ref if ref is not None else f"R{cursor:011d}",
            "client_ref": "",
            "kind": kind,
            "product": "mobile" if kind is TxnKind.BILL_PAYMENT else "",
            "account": "13800000000" if kind is TxnKind.BILL_PAYMENT else "",
            "amount_fen": 5000,
            "status": TxnStatus.APPROVED,
            "result": ResultCode.APPROVED,
            "terminal_time": T0 + timedelta(minutes=cursor),
            "uptime_ms": 60_000 * cursor,
            "boot_id": 1,
            "card": CARD if kind is TxnKind.WITHDRAWAL else None,
            "original_ref": "",
        }
        base.update(fields)
        return JournalRecord(**base)

    return make


@pytest.fixture
def buf(tmp_path: Path) -> Iterator[Buffer]:
    b = Buffer.open(tmp_path / "buffer.sqlite", "S1")
    yield b
    b.close()
