"""Settlement mismatches from a station's buffer to the console, on both stores.

A real agent buffer and state record the daily settlement checks of two terminals: T1's
latest check differs (two lines), T2's differed once and agreed the next day. The agent's
uploader sends its status to a real hub over HTTP; the console's stations list (HTML and
JSON), its ``problem=settlement`` filter and the station's page show 1 (terminals whose latest
check differs, not the buffer's 3 stored lines). An older agent that sends no figure shows
"not reported"; once T1 agrees again the next upload clears the flag."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from console_fixtures import T0, ConsoleHub, console_clock, console_hub

from stationlink.agent import ManualClock
from stationlink.agent.config import UploadSettings
from stationlink.agent.state import AgentState
from stationlink.agent.uploader import Uploader
from stationlink.buffer import Buffer, TerminalTotals, TotalsLine
from stationlink.hub.client import HubClient
from stationlink.hub.tokens import hash_token, new_token
from stationlink.money import CST
from stationlink.protocol import JournalRecord, ResultCode, TxnKind, TxnStatus

__all__ = ["console_clock", "console_hub"]  # fixtures used here

NIGHT_1 = datetime(2026, 11, 1, 23, 50, tzinfo=CST)
NIGHT_2 = datetime(2026, 11, 2, 23, 50, tzinfo=CST)
SINCE = datetime(2026, 11, 1, 0, 0, tzinfo=CST)


def journal(n: int, start: int = 1) -> list[JournalRecord]:
    """``n`` approved mobile bill payments of 10.01, 10.02, ... yuan on 1 November."""
    return [JournalRecord(i, f"0001{i:08d}", "", TxnKind.BILL_PAYMENT, "mobile", "13800000000",
                          1000 + i, TxnStatus.APPROVED, ResultCode.APPROVED,
                          datetime(2026, 11, 1, 10, i, tzinfo=CST), 60_000 * i, 1, None, "")
            for i in range(start, start + n)]


def bills(records: list[JournalRecord], extra: int = 0, extra_fen: int = 0) -> TotalsLine:
    return TotalsLine("bill_payment", "mobile", len(records) + extra,
                      sum(r.amount_fen for r in records) + extra_fen)


@pytest.fixture
def station(tmp_path: Path) -> Iterator[tuple[Buffer, AgentState]]:
    """S1's buffer and agent state after the two nights' checks (module docstring)."""
    buf = Buffer.open(tmp_path / "buffer.sqlite", "S1")
    state = AgentState(tmp_path / "state.sqlite")
    t1, t2 = journal(3), journal(2, start=10)
    buf.record_journal_page("T1", t1, SINCE + timedelta(hours=12))
    buf.record_journal_page("T2", t2, SINCE + timedelta(hours=12))
    # night 1: T2's terminal counts one payment more than the buffer holds
    found = buf.check_settlement("T2", TerminalTotals(SINCE, (bills(t2, 1, 500),)), NIGHT_1)
    assert len(found) == 1
    state.note_settlement("T2", NIGHT_1.date(), NIGHT_1, [asdict(m) for m in found])
    # night 2: T2 agrees; T1 differs on bills and reports a withdrawal the buffer lacks
    assert buf.check_settlement("T2", TerminalTotals(SINCE, (bills(t2),)), NIGHT_2) == []
    state.note_settlement("T2", NIGHT_2.date(), NIGHT_2, [])
    found = buf.check_settlement("T1", TerminalTotals(SINCE, (
        bills(t1, -1, -1001), TotalsLine("withdrawal", "", 1, 50_000))), NIGHT_2)
    assert len(found) == 2
    state.note_settlement("T1", NIGHT_2.date(), NIGHT_2, [asdict(m) for m in found])
    try:
        yield buf, state
    finally:
        state.close()
        buf.close()


@contextmanager
def signed_in(hub: ConsoleHub) -> Iterator[httpx.Client]:
    with hub.client() as client:
        assert hub.sign_in(client, "wang").status_code == 303
        yield client


def row_html(page: str, sid: str) -> str:
    found = re.search(rf'<tr[^>]*>\s*<td><a href="/console/stations/{sid}">{sid}</a></td>'
                      r".*?</tr>", page, re.S)
    assert found is not None, page
    return found.group(0)


def mismatch_cell(row: str) -> str:
    found = re.search(r'<td class="mismatches">(.*?)</td>', row, re.S)
    assert found is not None, row
    return re.sub(r"<[^>]+>", "", found.group(1))


def test_an_agents_mismatch_reaches_the_stations_page(
        console_hub: ConsoleHub, station: tuple[Buffer, AgentState]) -> None:
    buf, state = station
    assert buf.stats()["settlement_mismatches"] == 3  # lines stored, over both terminals
    clock = ManualClock(T0)
    client = HubClient(console_hub.url, console_hub.station_token, station_id="S1", timeout=10)
    uploader = Uploader(client, UploadSettings(batch_size=50, status_interval=60.0),
                        rng=random.Random(7), clock=clock)
    # an older agent at S2: its status carries no figure
    token_id, s2_token = new_token()
    console_hub.store.add_token(token_id, "S2", hash_token(s2_token), console_hub.clock())
    with HubClient(console_hub.url, s2_token, station_id="S2", timeout=10) as old:
        old.report_agent_status(backlog=0, oldest_unsynced=None, quarantined_records=0,
                                unresolved_unknown=0, version="0.9")
    try:
        round_ = uploader.step(buf, state)
        assert round_.uploaded == 5  # the records went too, then the status
        with signed_in(console_hub) as web:
            rows = {r["station_id"]: r for r in web.get("/v1/console/stations").json()
                    ["stations"]}
            flagged = web.get("/v1/console/stations?problem=settlement").json()["stations"]
            page = web.get("/console/stations").text
            filtered = web.get("/console/stations?problem=settlement").text
            one = web.get("/v1/console/stations/S1").json()
            one_html = web.get("/console/stations/S1").text
        assert rows["S1"]["settlement_mismatches"] == 1
        assert "settlement" in rows["S1"]["problems"]
        assert rows["S2"]["settlement_mismatches"] is None
        assert "settlement" not in rows["S2"]["problems"]
        assert [r["station_id"] for r in flagged] == ["S1"]
        assert mismatch_cell(row_html(page, "S1")) == "1"
        assert "对账不符" in row_html(page, "S1")  # the problem badge
        assert mismatch_cell(row_html(page, "S2")) == "未上报"
        assert "/console/stations/S1" in filtered
        assert "/console/stations/S2" not in filtered
        assert (one["settlement_mismatches"], "settlement" in one["problems"]) == (1, True)
        assert '<span id="mismatches">1</span>' in one_html
        assert 'id="settlement"' in one_html
        assert "最近一次结算对账不符的终端:1 台" in one_html

        # the next night T1 agrees: the next status upload clears the flag
        night_3 = NIGHT_2 + timedelta(days=1)
        state.note_settlement("T1", date(2026, 11, 3), night_3, [])
        clock.advance(61)
        uploader.step(buf, state)
        with signed_in(console_hub) as web:
            after = web.get("/v1/console/stations/S1").json()
            after_html = web.get("/console/stations/S1").text
            none_flagged = web.get("/v1/console/stations?problem=settlement").json()
        assert (after["settlement_mismatches"], after["problems"]) == (0, [])
        assert '<span id="mismatches">0</span>' in after_html
        assert 'id="settlement"' not in after_html
        assert none_flagged == {"stations": []}
    finally:
        client.close()
