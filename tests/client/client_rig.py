"""The client tests' terminal: the simulator's, scripted, on a pty, TCP or in memory.

- :func:`emulated_device`: one ``stationlink_sim`` device doing bill payments and card
  services (``services``), identified as terminal ``T0000001`` of ``EmuCorp`` model ``EMU-1``;
  every customer presents the test card :data:`CARD`, whose bank balance is ``balance_fen``;
  the biller knows any account of a known product except ``unknown_accounts``; its clock
  stands at 2026-05-01 10:00 CST (a manual clock: no wall clock, no midnight settlement).
- :func:`serve_emulated` serves it with the simulator's port and runner over a real pty or
  a real TCP socket (``stationlink_sim.serve.start_terminal``), misbehaving as a
  :class:`~stationlink_sim.script.Script` says; :func:`loop_emulated` runs it in memory on
  a manual clock (``stationlink_sim.loop``) for the sans-I/O and property tests.
- :class:`Emulated` is what a test looks at: the journal as of now, the money that moved
  (``executed``: approved bill payments and withdrawals not reversed), the requests the
  terminal received (``requests_seen``) and the script (to arm the next step).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from stationlink.clock import ManualClock
from stationlink.money import CST
from stationlink.protocol import ClearPan, Dialect, JournalRecord, Transport, TxnKind, TxnStatus
from stationlink_sim.clock import TerminalClock
from stationlink_sim.customers import Bank, Billers
from stationlink_sim.device import EmulatedTerminal, TerminalIdentity, TerminalKind
from stationlink_sim.loop import loop_session
from stationlink_sim.script import Script
from stationlink_sim.serve import TerminalConfig, start_terminal
from stationlink_sim.session import TerminalSession

KEY = b"test-card-key"  # the card key of the client tests
CARD = ClearPan("6217000000000000018")
TERMINAL_ID = "T0000001"
START = datetime(2026, 5, 1, 10, 0, tzinfo=CST)
KINDS = {"both": frozenset(TerminalKind), "bill": frozenset({TerminalKind.BILL}),
         "card": frozenset({TerminalKind.CARD})}


def emulated_device(dialect: Dialect, *, kind: str = "both", balance_fen: int = 123_456,
                    unknown_accounts: frozenset[str] = frozenset()) -> EmulatedTerminal:
    services = KINDS[kind]
    identity = TerminalIdentity(
        TerminalKind.BILL if TerminalKind.BILL in services else TerminalKind.CARD, dialect,
        TERMINAL_ID, "SN0001", KEY, profile=("EmuCorp", "EMU-1", "1.2.3"), services=services)
    bank = Bank(0)
    bank.set_balance(CARD, balance_fen)
    return EmulatedTerminal(
        identity, clock=TerminalClock(ManualClock(START)), card_source=lambda: CARD, bank=bank,
        billers=Billers(0, any_account=True, unknown=unknown_accounts))


@dataclass
class Emulated:
    """A test's view of the emulated terminal (see the module docstring)."""

    device: EmulatedTerminal
    session: TerminalSession

    @property
    def script(self) -> Script:
        assert self.session.script is not None
        return self.session.script

    @property
    def journal(self) -> list[JournalRecord]:
        return self.device.journal.records_now()

    @property
    def executed(self) -> int:
        return sum(1 for r in self.journal if r.status is TxnStatus.APPROVED
                   and r.kind in (TxnKind.BILL_PAYMENT, TxnKind.WITHDRAWAL))

    @property
    def requests_seen(self) -> list[str]:
        return self.script.seen


Served = tuple[Emulated, str]


@contextmanager
def serve_emulated(dialect: Dialect, script: Script | None = None, *, pty: bool,
                   kind: str = "both", balance_fen: int = 123_456,
                   unknown_accounts: frozenset[str] = frozenset()) -> Iterator[Served]:
    """The emulated terminal on a real pty or 127.0.0.1 (a free port); stopped on exit."""
    device = emulated_device(dialect, kind=kind, balance_fen=balance_fen,
                             unknown_accounts=unknown_accounts)
    config = TerminalConfig(kind=device.identity.kind, dialect=dialect, terminal_id=TERMINAL_ID,
                            pty=pty, listen=None if pty else ("127.0.0.1", 0), card_key=KEY)
    running = start_terminal(config, device=device, script=script or Script())
    try:
        running.wait_ready()
        yield Emulated(device, running.session), running.url
    finally:
        running.stop()


def loop_emulated(dialect: Dialect, transport: Transport, script: Script,
                  clock: ManualClock) -> Emulated:
    """The emulated terminal in memory, its link timers on ``clock``."""
    device = emulated_device(dialect)
    return Emulated(device, loop_session(device, transport, clock, script=script))
