"""The asyncio client over a real pty and a real TCP socket."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

from client_rig import KEY

from stationlink.client import Outcome
from stationlink.client import aio as aclient
from stationlink.protocol import Dialect
from stationlink_sim.script import Script


def test_async_client_detects_pays_and_recovers(serve) -> None:  # type: ignore[no-untyped-def]
    with serve(Dialect.MISPOS_1, Script(money=["drop"])) as (emu, url):
        async def main() -> None:
            term = await aclient.connect(url, card_key=KEY, rng=random.Random(5),
                                         t2_money=0.4, t2_other=0.3)
            async with term:
                assert term.connection.dialect is Dialect.MISPOS_1
                lost = await term.pay_bill("gas", "G-77", Decimal("12.50"))
                assert lost.outcome is Outcome.APPROVED
                assert lost.resolved_by == "status_query"
                ok = await term.pay_bill("gas", "G-77", amount_fen=1250)
                assert ok.resolved_by == "response"
                records = [r async for r in term.iter_journal(limit=1)]
                assert [r.client_ref for r in records] == [lost.client_ref, ok.client_ref]
                assert (await term.identify()).model == "EMU-1"
                assert await term.ack_journal(2) == 2
            assert emu.executed == 2

        asyncio.run(main())
