"""What an emulated terminal is: kind, dialect, id, serial number, card key, and what it offers.

Contract: :class:`TerminalIdentity` validates the 8-character terminal id; :data:`PROFILES`
gives the vendor, model and firmware IDENTIFY reports for each kind and dialect;
:data:`CAPABILITIES` the capability names; :data:`BILL_TYPES` / :data:`CARD_TYPES` the request
types only that kind handles.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from stationlink.protocol.messages import Dialect, MsgType


class TerminalKind(enum.StrEnum):
    BILL = "bill"
    CARD = "card"


#: (vendor, model, firmware) reported by IDENTIFY, by kind and dialect.
PROFILES: dict[tuple[TerminalKind, Dialect], tuple[str, str, str]] = {
    (TerminalKind.BILL, Dialect.MISPOS_1): ("MISPOS", "MP-100B", "1.4.7"),
    (TerminalKind.CARD, Dialect.MISPOS_1): ("MISPOS", "MP-200C", "1.4.7"),
    (TerminalKind.BILL, Dialect.SL_2): ("StationLink", "SL2-B", "2.1.0"),
    (TerminalKind.CARD, Dialect.SL_2): ("StationLink", "SL2-C", "2.1.0"),
}

CAPABILITIES = {
    TerminalKind.BILL: frozenset({"bill", "journal", "settlement", "status"}),
    TerminalKind.CARD: frozenset({"card", "journal", "settlement", "status"}),
}
BILL_TYPES = frozenset({MsgType.BILL_INQUIRY, MsgType.BILL_PAYMENT})
CARD_TYPES = frozenset({MsgType.WITHDRAWAL, MsgType.BALANCE_INQUIRY})


@dataclass(frozen=True, slots=True)
class TerminalIdentity:
    """What a terminal is: kind, dialect, 8-character id, serial number, card key."""

    kind: TerminalKind
    dialect: Dialect
    terminal_id: str
    serial_number: str
    card_key: bytes = b"stationlink-sim-card-key"

    def __post_init__(self) -> None:
        if len(self.terminal_id) != 8 or not self.terminal_id.isascii():
            raise ValueError(f"terminal id must be 8 ASCII characters: {self.terminal_id!r}")
