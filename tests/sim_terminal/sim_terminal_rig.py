"""Helpers of the emulated-terminal tests: a device on a manual clock with a card queue."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path
from typing import Any

from stationlink.clock import ManualClock
from stationlink.money import CST
from stationlink.protocol import (
    REQUEST_TYPES,
    ClearPan,
    Dialect,
    Header,
    Message,
    MsgType,
)
from stationlink_sim.clock import TerminalClock
from stationlink_sim.customers import CardQueue, make_test_pan
from stationlink_sim.device import EmulatedTerminal, TerminalIdentity, TerminalKind
from stationlink_sim.journal import Journal

KEY = b"test-card-key-0123456789"
START = datetime(2026, 3, 14, 9, 0, 0, tzinfo=CST)


def hdr(code: MsgType, seq: int = 1) -> Header:
    return Header(code, seq, "HOST0000")


class Rig:
    """A device on a manual clock, with a card queue the test controls."""

    def __init__(
        self, kind: str, dialect: str, *, seed: int = 1, journal_path: Path | None = None
    ) -> None:
        self.base = ManualClock(START)
        self.clock = TerminalClock(self.base)
        self.cards = CardQueue()
        self.identity = TerminalIdentity(
            TerminalKind(kind), Dialect(dialect), "TEST0001", "SN1", KEY
        )
        self.seed = seed
        self.journal_path = journal_path
        self.device = self._build()
        self.seq = 0

    def _build(self) -> EmulatedTerminal:
        return EmulatedTerminal(
            self.identity, clock=self.clock, seed=self.seed,
            journal=Journal(path=self.journal_path, card_key=KEY), card_source=self.cards,
        )

    def restart(self) -> EmulatedTerminal:
        """A new process on the same journal file."""
        self.device = self._build()
        return self.device

    def ask(self, cls: type, **fields: Any) -> Any:
        """Send one request of class ``cls`` to the device; returns its response."""
        self.seq += 1
        code = {v: k for k, v in REQUEST_TYPES.items()}[cls]
        msg: Message = cls(header=hdr(code, self.seq), **fields)
        return self.device.handle(msg)

    def card(self, seed: int = 0) -> ClearPan:
        pan = make_test_pan(random.Random(seed))
        self.cards.put(pan)
        return pan
