"""The high-level client: what a station program imports to drive a terminal.

Public face (everything else in this package is private):

- :func:`connect` opens a link and returns a blocking :class:`Terminal`;
  :func:`stationlink.client.aio.connect` (the public asyncio submodule) returns an
  :class:`AsyncTerminal` with the same methods as coroutines.
- The typed results of their methods: :class:`Outcome`, :class:`TransactionResult`,
  :class:`BalanceResult`, :class:`TerminalInfo`, :class:`JournalPage`,
  :class:`SettlementTotals`, :class:`DeviceStatus`.

Inside: ``_core`` holds the request flows written once for both runners (sans-I/O),
``_checks`` whether a frame really answers a request, ``_base`` the state and event handling
both runners share, ``_blocking`` and ``aio`` the two runners, ``_results`` the result types.
Errors are those of :mod:`stationlink.errors`.
"""

from __future__ import annotations

from ._blocking import Terminal, connect
from ._results import (
    BalanceResult,
    DeviceStatus,
    JournalPage,
    Outcome,
    SettlementTotals,
    TerminalInfo,
    TransactionResult,
)
from .aio import AsyncTerminal

__all__ = [
    "AsyncTerminal",
    "BalanceResult",
    "DeviceStatus",
    "JournalPage",
    "Outcome",
    "SettlementTotals",
    "Terminal",
    "TerminalInfo",
    "TransactionResult",
    "connect",
]
