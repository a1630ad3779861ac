"""What an emulated terminal is: kind, dialect, id, serial number, card key, and what it offers.

Contract: :class:`TerminalIdentity` validates the 8-character terminal id; :data:`PROFILES`
gives the vendor, model and firmware IDENTIFY reports for each kind and dialect (an identity's
``profile`` overrides it); :data:`CAPABILITIES` the capability names (plus ``masking`` for an
``sl-2`` card terminal); :data:`BILL_TYPES` / :data:`CARD_TYPES` the request types only that
kind handles. A terminal handles the requests
of its own kind, or of every kind in ``services`` when given (one device doing bill payments
and card services, as some 商易通 models do: the SDK's own client tests use one).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from stationlink.protocol import Dialect, MsgType


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
    profile: tuple[str, str, str] | None = None  # (vendor, model, firmware); None: PROFILES
    services: frozenset[TerminalKind] | None = None  # request kinds handled; None: own kind

    def __post_init__(self) -> None:
        if len(self.terminal_id) != 8 or not self.terminal_id.isascii():
            raise ValueError(f"terminal id must be 8 ASCII characters: {self.terminal_id!r}")
        if self.services is not None and self.kind not in self.services:
            raise ValueError(f"a {self.kind} terminal handles {self.kind} requests")

    @property
    def offers(self) -> frozenset[TerminalKind]:
        """The kinds of request this terminal handles (its own, or ``services``)."""
        return self.services if self.services is not None else frozenset({self.kind})

    @property
    def vendor_model_firmware(self) -> tuple[str, str, str]:
        """What IDENTIFY reports: ``profile``, or the :data:`PROFILES` entry."""
        return self.profile or PROFILES[(self.kind, self.dialect)]

    @property
    def capabilities(self) -> frozenset[str]:
        """The capability names IDENTIFY reports: those of every kind offered, and
        ``masking`` for an ``sl-2`` terminal that handles cards (it sends DF41 + DF42,
        never the full number; docs/protocol.md §4.2)."""
        caps: frozenset[str] = frozenset().union(*(CAPABILITIES[k] for k in self.offers))
        if self.dialect is Dialect.SL_2 and TerminalKind.CARD in self.offers:
            caps = caps | {"masking"}
        return caps
