"""The agent against a real hub (uvicorn, SQLite) and emulated terminals on TCP sockets,
driven round by round on a manual clock."""

from __future__ import annotations

import random
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from agent_fixtures import Hub, MakeConfig, Terminals

from stationlink.agent import Agent, ManualClock
from stationlink.agent.config import AgentConfig
from stationlink.agent.state import AgentState
from stationlink.buffer import Buffer
from stationlink.client import Outcome
from stationlink.errors import StorageError
from stationlink.hub.export import hub_transactions
from stationlink.money import CST, fen_to_yuan
from stationlink.protocol import JournalRecord, ResultCode, TxnKind, TxnStatus
from stationlink_sim.netcut import NetCut
from stationlink_sim.ports import TcpPort

START = datetime(2026, 10, 5, 9, 0, tzinfo=CST)
BOTH = ["sl-2", "mispos-1"]


def agent_state(config: AgentConfig) -> dict[str, Any]:
    """The snapshot of the agent state file, read on a connection of its own."""
    with AgentState(config.state_path) as st:
        return st.snapshot()


def expected_rows(term: Terminals) -> dict[str, tuple[str, str]]:
    """txn_id -> (amount, status) from the terminals' own journals."""
    out: dict[str, tuple[str, str]] = {}
    for running in (term.bill, term.card):
        journal = running.device.journal
        tid = running.config.terminal_id
        for rec in journal:
            if rec.kind is TxnKind.REVERSAL:
                continue
            status = "reversed" if journal.is_reversed(rec.ref) else rec.status.value
            out[f"S1-{tid}-{rec.ref}"] = (str(fen_to_yuan(rec.amount_fen)), status)
    return out


def hub_rows(hub: Hub) -> dict[str, tuple[str, str]]:
    rows = list(hub_transactions(hub.path, include_late=True))
    assert len({r.txn_id for r in rows}) == len(rows)
    return {r.txn_id: (str(r.amount), r.status) for r in rows}


def test_journals_reach_the_hub_acknowledged_only_after_commit(
    hub: Hub, terminals: Terminals, make_config: MakeConfig
) -> None:
    for i in range(25):
        terminals.pay(1000 + i)
    for amount in (10000, 20000, 50000):
        terminals.withdraw(amount)
    config = make_config([terminals.bill.url, terminals.card.url])  # dialects detected
    clock = ManualClock(START)
    with Agent(config, clock=clock, rng=random.Random(3)) as agent:
        uploaded = agent.run_once().upload.uploaded
        for _ in range(5):  # a detection that timed out is retried after the backoff
            if all(p.term is not None for p in agent.pollers):
                break
            clock.advance(config.poll.reconnect_cap)
            uploaded += agent.run_once().upload.uploaded
        assert [p.terminal_id for p in agent.pollers] == ["BILL0001", "CARD0001"]
        assert uploaded == 28
    assert terminals.bill.device.journal.acked_cursor == 25
    assert terminals.card.device.journal.acked_cursor == 3
    assert hub_rows(hub) == expected_rows(terminals)
    with Buffer.open(config.buffer_path) as buf:
        assert buf.synced_upto() == buf.last_seq() == 28
        assert {t.txn_id for t in buf.transactions()} == set(hub_rows(hub))
        cards = [r for r in buf.records() if r.kind == "withdrawal"]
        assert cards
        assert all("*" in r.card_masked and len(r.card_token) >= 16 for r in cards)


def test_nothing_is_acknowledged_when_the_buffer_cannot_commit(
    hub: Hub, terminals: Terminals, make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        terminals.pay(500 + i)
    config = make_config([terminals.bill.url], dialects=["sl-2"])
    clock = ManualClock(START)

    def broken(*args: object, **kwargs: object) -> None:
        raise StorageError("disk full (simulated)")

    with Agent(config, clock=clock, rng=random.Random(4)) as agent:
        with monkeypatch.context() as m:
            m.setattr(Buffer, "record_journal_page", broken)
            agent.run_once()
        assert terminals.bill.device.journal.acked_cursor == 0
        assert agent.pollers[0].term is not None  # the link stays up
        assert "disk full" in (agent_state(config)["terminals"][0]["last_error"] or "")
        clock.advance(config.poll.journal_interval)
        agent.run_once()
    assert terminals.bill.device.journal.acked_cursor == 5
    assert hub_rows(hub) == expected_rows(terminals)


def test_station_session_records_before_returning_and_the_journal_adds_no_copy(
    hub: Hub, terminals: Terminals, make_config: MakeConfig
) -> None:
    config = make_config([terminals.bill.url, terminals.card.url], dialects=BOTH)
    clock = ManualClock(START)
    with Agent(config, clock=clock, rng=random.Random(5)) as agent:
        agent.run_once()
        with agent.session() as session:
            paid = session.pay_bill("BILL0001", "mobile", "13800000000", amount_fen=5000)
            drawn = session.withdraw("CARD0001", amount_fen=30000)
        assert paid.outcome is Outcome.APPROVED
        assert drawn.outcome is Outcome.APPROVED
        with Buffer.open(config.buffer_path) as buf:  # committed before the call returned
            live = {r.client_ref: r for r in buf.records() if r.source == "live"}
            assert set(live) == {paid.client_ref, drawn.client_ref}
            assert live[drawn.client_ref].card_token
            assert "*" in live[drawn.client_ref].card_masked
            before = buf.last_seq()
        clock.advance(config.poll.journal_interval)
        agent.run_once()
        with Buffer.open(config.buffer_path) as buf:
            assert buf.last_seq() == before == 2
            assert buf.stats()["conflicts"] == 0
    assert hub_rows(hub) == expected_rows(terminals)


def test_unknown_outcomes_resolve_from_the_journal_or_become_void(
    hub: Hub, terminals: Terminals, make_config: MakeConfig
) -> None:
    config = make_config([terminals.bill.url], dialects=["sl-2"], poll={"unknown_grace": 30})
    clock = ManualClock(START)
    terminals.pay(7000, client_ref="executed-ref")  # reached the terminal, answer lost
    with Agent(config, clock=clock, rng=random.Random(6)) as agent:
        agent.run_once()
        with Buffer.open(config.buffer_path) as buf:
            buf.record_unknown("BILL0001", "executed-ref", "bill_payment", "mobile",
                               "13800000000", 7000, clock.now())
            buf.record_unknown("BILL0001", "lost-ref", "bill_payment", "mobile",
                               "13800000000", 9000, clock.now())
            assert {u.client_ref for u in buf.unresolved_unknowns()} == {"lost-ref"}
        clock.advance(10)
        agent.run_once()
        with Buffer.open(config.buffer_path) as buf:
            assert len(buf.unresolved_unknowns()) == 1  # still within the grace period
        clock.advance(30)
        agent.run_once()
        with Buffer.open(config.buffer_path) as buf:
            assert buf.unresolved_unknowns() == []
            voids = [r for r in buf.records() if r.entry == "void"]
            assert [v.client_ref for v in voids] == ["lost-ref"]
    assert hub_rows(hub) == expected_rows(terminals)


def test_unplugged_terminal_never_crashes_the_agent_and_reconnects(
    hub: Hub, terminals: Terminals, make_config: MakeConfig
) -> None:
    port = terminals.bill.port
    assert isinstance(port, TcpPort)
    with NetCut((port.host, port.port)) as cable:
        url = f"tcp://{cable.address[0]}:{cable.address[1]}"
        config = make_config([url], dialects=["sl-2"],
                             poll={"reconnect_base": 2, "reconnect_cap": 8})
        clock = ManualClock(START)
        terminals.pay(100)
        with Agent(config, clock=clock, rng=random.Random(7)) as agent:
            agent.run_once()
            cable.set_mode("refuse")  # unplugged: open link reset, new ones refused
            terminals.pay(200)
            terminals.pay(300)
            for _ in range(3):
                clock.advance(config.poll.journal_interval)
                agent.run_once()  # never raises
            snap = agent_state(config)["terminals"][0]
            assert snap["connected"] is False
            assert snap["last_error"]
            assert terminals.bill.device.journal.acked_cursor == 1
            cable.set_mode("pass")
            clock.advance(config.poll.reconnect_cap)
            agent.run_once()
    assert terminals.bill.device.journal.acked_cursor == 3
    assert hub_rows(hub) == expected_rows(terminals)


def test_settlement_compared_once_a_day_after_the_check_time(
    hub: Hub, terminals: Terminals, make_config: MakeConfig
) -> None:
    config = make_config([terminals.bill.url], dialects=["sl-2"],
                         poll={"settlement_check_at": "23:45"})
    clock = ManualClock(datetime(2026, 10, 5, 23, 0, tzinfo=CST))
    for i in range(4):
        terminals.pay(1200 + i)
    with Agent(config, clock=clock, rng=random.Random(8)) as agent:
        agent.run_once()
        assert agent_state(config)["settlement_checks"] == []
        clock.advance(46 * 60)  # 23:46
        agent.run_once()
        checks = agent_state(config)["settlement_checks"]
        assert [(c["day"], c["mismatches"]) for c in checks] == [("2026-10-05", [])]
        # a record the terminal does not count: the next day's check reports it
        with Buffer.open(config.buffer_path) as buf:
            buf.record_result("BILL0001", JournalRecord(
                999, "999900000999", "", TxnKind.BILL_PAYMENT, "mobile", "13900000000", 4400,
                TxnStatus.APPROVED, ResultCode.APPROVED, datetime.now(CST), 1, 9999, None, "",
            ), clock.now())
        clock.advance(5 * 60)
        agent.run_once()  # same day: not again
        with Buffer.open(config.buffer_path) as buf:
            assert buf.stats()["settlement_mismatches"] == 0
        clock.advance(timedelta(days=1).total_seconds())
        agent.run_once()
        checks = agent_state(config)["settlement_checks"]
        assert checks[0]["day"] == "2026-10-06"
        (line,) = checks[0]["mismatches"]
        total = sum(1200 + i for i in range(4))
        assert (line["kind"], line["product"]) == ("bill_payment", "mobile")
        assert (line["terminal_count"], line["terminal_amount_fen"]) == (4, total)
        assert (line["buffer_count"], line["buffer_amount_fen"]) == (5, total + 4400)
        with Buffer.open(config.buffer_path) as buf:
            assert buf.stats()["settlement_mismatches"] == 1


def test_run_forever_syncs_and_stops_when_asked(
    hub: Hub, terminals: Terminals, make_config: MakeConfig, tmp_path: Path
) -> None:
    config = make_config([terminals.bill.url, terminals.card.url], dialects=BOTH,
                         poll={"journal_interval": 0.1, "reconnect_cap": 1},
                         upload={"interval": 0.1})
    stop = threading.Event()
    with Agent(config, rng=random.Random(9)) as agent:
        runner = threading.Thread(target=agent.run_forever, args=(stop,))
        runner.start()
        try:
            for i in range(20):
                terminals.pay(100 + i)
                if i % 5 == 0:
                    terminals.withdraw(10000)
            deadline = time.monotonic() + 20
            while hub_rows(hub) != expected_rows(terminals) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            runner.join(timeout=30)
        assert not runner.is_alive()
    assert hub_rows(hub) == expected_rows(terminals)
    assert agent_state(config)["agent"]["stopped_at"] is not None


def test_card_numbers_never_reach_the_buffer_from_a_mispos_terminal(
    hub: Hub, terminals: Terminals, make_config: MakeConfig
) -> None:
    pans = []
    for amount in (10000, 20000):
        resp = terminals.withdraw(amount)
        pans.append(resp.record.card.reveal())
    config = make_config([terminals.card.url], dialects=["mispos-1"])
    with Agent(config, clock=ManualClock(START), rng=random.Random(10)) as agent:
        agent.run_once()
    files = [*config.data_dir.iterdir(), *hub.path.parent.glob("hub.sqlite*")]
    raw = b"".join(p.read_bytes() for p in files if p.is_file())
    for pan in pans:
        assert pan.encode() not in raw
    with Buffer.open(config.buffer_path) as buf:
        recs = list(buf.records())
    assert len(recs) == 2
    assert all(r.card_masked.count("*") >= 6 and r.card_token not in pans for r in recs)
