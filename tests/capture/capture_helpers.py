"""Helpers of the capture tests: frames carrying a known test card number."""

from __future__ import annotations

from datetime import datetime

from stationlink.money import CST
from stationlink.protocol import (
    ClearPan,
    Codec,
    Dialect,
    Header,
    JournalRecord,
    MsgType,
    ResultCode,
    Transport,
    TxnKind,
    TxnStatus,
    WithdrawalResponse,
    build_frame,
)

PAN = "6217000000000000018"  # the project's test card number (docs/protocol.md)
PACKED = bytes.fromhex(PAN + "f")
KEY = bytes(32)
WHEN = datetime(2026, 3, 16, 9, 30, tzinfo=CST)


def withdrawal_frame(pan: str = PAN, seq: int = 7, client_ref: str = "c0ffee0000000001",
                     dialect: Dialect = Dialect.MISPOS_1,
                     transport: Transport = Transport.SERIAL) -> bytes:
    record = JournalRecord(
        cursor=1, ref="000100000001", client_ref=client_ref, kind=TxnKind.WITHDRAWAL,
        product="", account="", amount_fen=50000, status=TxnStatus.APPROVED,
        result=ResultCode.APPROVED, terminal_time=WHEN, uptime_ms=1000, boot_id=1,
        card=ClearPan(pan),
    )
    msg = WithdrawalResponse(Header(MsgType.WITHDRAWAL_RESP, seq, "STN00301"),
                             ResultCode.APPROVED, record)
    return build_frame(Codec(dialect, KEY).encode(msg), dialect, transport)
