"""Regression: ``connect()`` to a mispos-1 terminal over TCP at a second of 31.

Field defect: the clients probed both dialects on one TCP connection. The sl-2 IDENTIFY
carries the host time in BCD; at a second of 31 its last byte (0x31, "1") and the "002" of
the next probe's length prefix read as the mispos-1 length "1002", so a terminal sliding over
the sl-2 probe swallowed the mispos-1 probe waiting for 1002 bytes, every round alike:
"no answer to IDENTIFY in any dialect". The clients now detect through
``stationlink.transport.detect`` / ``detect_async``: a fresh connection per probe. Real TCP
sockets, the simulator's emulated terminal, lenient (pre-rule firmware) and strict (closes
the connection on bytes that do not frame, docs/protocol.md §1.2).
"""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta, timezone

import pytest

import stationlink
from stationlink.client import Outcome
from stationlink.client import aio as aclient
from stationlink.protocol import Dialect
from stationlink_sim.serve import DEFAULT_CARD_KEY, RunningTerminal, serve_terminal

pytestmark = pytest.mark.slow  # real ptys, sockets or processes

CST = timezone(timedelta(hours=8))
AT_31 = datetime(2026, 5, 31, 10, 12, 31, tzinfo=CST)  # BCD second 0x31
TIMERS = {"t1": 0.5, "t2_money": 2.0, "t2_other": 2.0}
MODES = pytest.mark.parametrize("strict", [False, True], ids=["slides-over-garbage", "closes"])


def answered_in_round_one(t: RunningTerminal, strict: bool) -> None:
    # round 1 is two connections: the sl-2 probe's and the mispos-1 probe's (the one kept)
    assert t.session.stats["connections"] == 2
    assert t.session.stats["closed_on_garbage"] == (1 if strict else 0)


@MODES
def test_blocking_connect_detects_mispos1_over_tcp_at_second_31(strict: bool) -> None:
    with serve_terminal("card", "mispos-1", seed=31, terminal_id="CARD0031",
                        close_on_garbage=strict) as t:
        with stationlink.connect(t.url, card_key=DEFAULT_CARD_KEY, host_time=lambda: AT_31,
                                 rng=random.Random(31), **TIMERS) as term:
            assert term.info is not None
            assert (term.info.dialect, term.info.terminal_id) == (Dialect.MISPOS_1, "CARD0031")
            assert term.connection.dialect is Dialect.MISPOS_1
            answered_in_round_one(t, strict)
            paid = term.withdraw(amount_fen=10_000)  # the kept connection carries the session
            assert paid.outcome in (Outcome.APPROVED, Outcome.DECLINED)
            assert paid.resolved_by == "response"
        assert t.runner.error is None
    assert t.session.stats["connections"] == 2  # nothing reconnected after detection


@MODES
def test_async_connect_detects_mispos1_over_tcp_at_second_31(strict: bool) -> None:
    with serve_terminal("card", "mispos-1", seed=32, terminal_id="CARD0032",
                        close_on_garbage=strict) as t:
        async def main() -> None:
            term = await aclient.connect(t.url, card_key=DEFAULT_CARD_KEY,
                                         host_time=lambda: AT_31, rng=random.Random(32),
                                         **TIMERS)
            async with term:
                assert term.info is not None
                assert (term.info.dialect, term.info.terminal_id) == (
                    Dialect.MISPOS_1, "CARD0032")
                answered_in_round_one(t, strict)
                status = await term.device_status()
                assert status.boot_id >= 1

        asyncio.run(main())
        assert t.runner.error is None
    assert t.session.stats["connections"] == 2


def test_sl2_terminal_over_tcp_is_detected_on_the_first_connection() -> None:
    with serve_terminal("bill", "sl-2", seed=33, terminal_id="BILL0033") as t:
        with stationlink.connect(t.url, card_key=DEFAULT_CARD_KEY, host_time=lambda: AT_31,
                                 rng=random.Random(33), **TIMERS) as term:
            assert term.info is not None
            assert term.info.dialect is Dialect.SL_2
            assert term.echo(b"ping") == b"ping"
        assert t.session.stats["connections"] == 1
