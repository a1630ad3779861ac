"""What the station PC software does through the agent: :class:`StationSession`.

Contract:
- Borrows the agent's link to the terminal (a terminal serves one host connection at a time)
  under the poller's lock, so payments and journal polling never interleave on the wire.
- Money-moving calls (``pay_bill``, ``withdraw``, ``reverse``) and ``balance`` commit their
  result to the buffer **before** the method returns: a result carrying the terminal's record
  is stored as a ``live`` record (the same record read later from the journal is recognised
  by its terminal ref and not stored twice); an ``unknown`` outcome is stored as an *unknown*
  entry under its ``client_ref`` — the agent resolves it from the journal (the record arrives
  carrying that ``client_ref``) or, when the terminal has no such request after
  ``unknown_grace``, records it as void. Nothing is ever resent.
- A balance inquiry is journaled by the card terminal too, so it is recorded the same way;
  its lost answer (the client returns ``Outcome.UNKNOWN`` with the request's ``client_ref``)
  is stored as an *unknown* ``balance_inquiry`` under that ``client_ref`` and returned.
- A declined request without a record (it never reached the terminal) stores nothing: no
  money moved. A link failure is raised (:class:`~stationlink.errors.LinkError`) after the
  link was dropped for reconnection; whatever the terminal did still arrives via its journal.
  A call whose link closed under it (the client returns ``Outcome.UNKNOWN`` with
  ``link_closed`` set, or a balance answer on a link that closed) drops the dead link at once
  (:meth:`TerminalPoller.drop`), so the next call reconnects instead of failing; a link found
  closed before a call is dropped the same way and the call raises ``LinkFailedError``.
- ``referral`` / ``cancel_referral`` store a referral entered at the PC, or its cancellation,
  in the buffer (``Buffer.record_referral`` / ``cancel_referral``, committed on return) and
  wake the uploader.
- One session per thread (it holds its own buffer connection).
- It knows the agent only as a :class:`SessionHost` (config, clock, pollers, ``wake_uploader``),
  so ``agent.session`` does not import ``agent.agent`` (no import circle).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from decimal import Decimal
from typing import Protocol, TypeVar

from ..buffer import Buffer, StoredRecord
from ..buffer.records import Source
from ..client import BalanceResult, Outcome, Terminal, TransactionResult
from ..clock import TimeSource
from ..errors import LinkError, LinkFailedError, StationLinkError
from ..money import yuan_to_fen
from .config import AgentConfig
from .poller import TerminalPoller

R = TypeVar("R", TransactionResult, BalanceResult)


class SessionHost(Protocol):
    """What a session uses of the agent that made it (:class:`~.agent.Agent` is one)."""

    @property
    def config(self) -> AgentConfig: ...

    @property
    def clock(self) -> TimeSource: ...

    @property
    def pollers(self) -> Sequence[TerminalPoller]: ...

    def wake_uploader(self) -> None: ...


class StationSession(AbstractContextManager["StationSession"]):
    """See the module contract."""

    def __init__(self, agent: SessionHost) -> None:
        self.agent = agent
        self.buffer = Buffer.open(agent.config.buffer_path, agent.config.station_id)

    def close(self) -> None:
        self.buffer.close()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pay_bill(
        self, terminal_id: str, product: str, account: str, amount: Decimal | None = None,
        *, amount_fen: int | None = None,
    ) -> TransactionResult:
        fen = _fen(amount, amount_fen)
        return self._money(terminal_id, "bill_payment", product, account, fen,
                           lambda t: t.pay_bill(product, account, amount_fen=fen))

    def withdraw(
        self, terminal_id: str, amount: Decimal | None = None, *, amount_fen: int | None = None
    ) -> TransactionResult:
        fen = _fen(amount, amount_fen)
        return self._money(terminal_id, "withdrawal", "", "", fen,
                           lambda t: t.withdraw(amount_fen=fen))

    def reverse(self, terminal_id: str, original_ref: str) -> TransactionResult:
        """Reverse the terminal's transaction ``original_ref`` (the terminal accepts only its
        newest approved one); recorded like a payment, an unknown outcome included."""
        return self._money(terminal_id, "reversal", "", "", 0,
                           lambda t: t.reverse_last(original_ref))

    def balance(self, terminal_id: str) -> BalanceResult:
        """A balance inquiry on the card terminal; its record, or its unknown outcome when
        the answer was lost, is committed before returning (module contract)."""
        return self._money(terminal_id, "balance_inquiry", "", "", 0, lambda t: t.balance())

    def referral(
        self, product: str, *, referral_id: str | None = None, note: str = "",
        amount_fen: int = 0,
    ) -> StoredRecord:
        """Record a referral entered at the PC (``Buffer.record_referral``); committed."""
        rec = self.buffer.record_referral(product, wall_time=self.agent.clock.now(),
                                          referral_id=referral_id, note=note,
                                          amount_fen=amount_fen)
        self.agent.wake_uploader()
        return rec

    def cancel_referral(self, referral_id: str) -> StoredRecord:
        """Cancel a stored referral with a new record (``Buffer.cancel_referral``)."""
        rec = self.buffer.cancel_referral(referral_id, wall_time=self.agent.clock.now())
        self.agent.wake_uploader()
        return rec

    @contextmanager
    def _link(self, terminal_id: str) -> Iterator[tuple[TerminalPoller, Terminal]]:
        """The poller and open link of ``terminal_id``, under the poller's lock."""
        poller = self._poller(terminal_id)
        with poller.lock:
            term = poller.ensure_link()
            if term is not None and term.link_closed:
                poller.drop(LinkFailedError("the link had closed"))
                term = None
            if term is None or poller.terminal_id != terminal_id:
                raise LinkFailedError(
                    f"terminal {terminal_id} is not connected ({poller.last_error or 'waiting'})")
            yield poller, term

    def _money(
        self, terminal_id: str, kind: str, product: str, account: str, fen: int,
        call: Callable[[Terminal], R],
    ) -> R:
        """Run ``call`` on the link; commit its record or its unknown outcome; then return."""
        with self._link(terminal_id) as (poller, term):
            try:
                result = call(term)
            except LinkError as exc:
                poller.drop(exc)
                raise
            now = self.agent.clock.now()
            if result.record is not None:
                self.buffer.record_result(terminal_id, result.record, now, source=Source.LIVE)
            elif result.outcome is Outcome.UNKNOWN:
                self.buffer.record_unknown(terminal_id, result.client_ref, kind, product,
                                           account, fen, now)
            if term.link_closed:  # the client said unknown: reconnect for the next call
                poller.drop(LinkFailedError(result.detail or "link closed"))
            self.agent.wake_uploader()
            return result

    def _poller(self, terminal_id: str) -> TerminalPoller:
        for poller in self.agent.pollers:
            if terminal_id in (poller.terminal_id, poller.entry.terminal_id):
                return poller
        # not identified yet: connect the ones we do not know
        for poller in self.agent.pollers:
            if poller.terminal_id is None:
                with poller.lock:
                    poller.ensure_link()
                if poller.terminal_id == terminal_id:
                    return poller
        raise StationLinkError(f"no configured terminal identifies as {terminal_id!r}")


def _fen(amount: Decimal | None, amount_fen: int | None) -> int:
    if (amount is None) == (amount_fen is None):
        raise TypeError("give exactly one of amount (Decimal yuan) or amount_fen")
    if amount is not None:
        return yuan_to_fen(amount)
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool):
        raise TypeError("amount_fen must be an int")
    return amount_fen
