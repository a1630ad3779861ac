"""A real host (``stationlink.connect``) talks to emulated terminals on real ptys and sockets."""

from __future__ import annotations

import random
import socket
from decimal import Decimal
from pathlib import Path

import pytest

import stationlink
from stationlink.client import Outcome
from stationlink.errors import LinkError
from stationlink.protocol import (
    CardRef,
    ClearPan,
    Codec,
    Deframer,
    Dialect,
    FrameEvent,
    Header,
    MsgType,
    Transport,
    TxnKind,
    WithdrawalRequest,
    WithdrawalResponse,
    build_frame,
)
from stationlink_sim.customers import CardQueue, make_test_pan
from stationlink_sim.ports import TcpPort
from stationlink_sim.serve import serve_terminal

KEY = b"link-test-card-key-000"
FAST = {"t2_money": 1.0, "t2_other": 1.0}

pytestmark = pytest.mark.slow  # real ptys, sockets or processes


def _connect(url: str, dialect: str | None = None, **timers: float) -> stationlink.Terminal:
    opts = {**FAST, **timers}
    return stationlink.connect(url, card_key=KEY, dialect=dialect, rng=random.Random(9), **opts)


@pytest.mark.parametrize("dialect", ["mispos-1", "sl-2"])
@pytest.mark.parametrize("use_pty", [True, False], ids=["pty", "tcp"])
def test_card_terminal_answers_a_host(dialect: str, use_pty: bool) -> None:
    with serve_terminal("card", dialect, pty=use_pty, seed=11, card_key=KEY) as t:
        with _connect(t.url) as host:
            info = host.identify()
            assert info.dialect.value == dialect
            assert info.terminal_id == "SIM00001"
            results = [host.withdraw(Decimal("20.00")) for _ in range(4)]
            page = host.journal(0, limit=50)
            totals = host.settlement_totals()
        device_records = list(t.device.journal)
    assert [r.record.cursor for r in results if r.record] == [r.cursor for r in device_records]
    for seen, kept in zip(page.records, device_records, strict=True):
        assert isinstance(seen.card, CardRef)
        if dialect == "mispos-1":  # the terminal holds and sends the full number
            assert isinstance(kept.card, ClearPan)
            assert seen.card == kept.card.to_ref(KEY)
        else:
            assert seen.card == kept.card
    approved = [r for r in results if r.outcome is Outcome.APPROVED]
    assert t.device.executed == len(approved)
    lines = {ln.kind: (ln.count, ln.amount_fen) for ln in totals.lines}
    assert lines.get(TxnKind.WITHDRAWAL, (0, 0)) == (len(approved), 2000 * len(approved))


@pytest.mark.parametrize("dialect", ["mispos-1", "sl-2"])
def test_bill_terminal_answers_a_host_over_pty(dialect: str) -> None:
    with serve_terminal("bill", dialect, pty=True, seed=3, card_key=KEY) as t:
        with _connect(t.url) as host:
            result = host.pay_bill("mobile", "13912345678", Decimal("50.00"))
            record = host.status(client_ref=result.client_ref)
    assert result.outcome is Outcome.APPROVED
    assert result.resolved_by == "response"
    assert record is not None
    assert record.amount_fen == 5000
    assert record.product == "mobile"
    assert list(t.device.journal)[0].client_ref == result.client_ref


@pytest.mark.parametrize("dialect", ["mispos-1", "sl-2"])
def test_host_gets_through_line_noise(dialect: str) -> None:
    faults = "noise=0.05,split=0.3,slow_ack=0.1,ack_delay=200ms,dup_byte=0.001,in_noise=0.02"
    with serve_terminal("bill", dialect, pty=True, seed=21, faults=faults, card_key=KEY) as t:
        with _connect(t.url, dialect) as host:
            results = [
                host.pay_bill("electricity", "3701001234", amount_fen=1000 + i)
                for i in range(8)
            ]
    injected = t.session.faults.injected
    assert injected["split"] + injected["noise"] > 0, "the faults must actually have struck"
    assert all(r.outcome is Outcome.APPROVED for r in results)
    kept = list(t.device.journal)
    assert [r.client_ref for r in kept] == [r.client_ref for r in results]  # each once
    assert t.device.executed == len(results)


@pytest.mark.parametrize("use_pty", [True, False], ids=["pty", "tcp"])
def test_dropped_response_is_executed_once_and_learned_by_status(use_pty: bool) -> None:
    with serve_terminal(
        "card", "sl-2", pty=use_pty, seed=4, faults="drop_response=1", card_key=KEY
    ) as t:
        with _connect(t.url, "sl-2") as host:
            result = host.withdraw(amount_fen=1000)
    assert t.session.stats["responses_dropped"] == 1
    assert result.resolved_by == "status_query"
    kept = [r for r in t.device.journal if r.client_ref == result.client_ref]
    assert len(kept) == 1
    assert result.record is not None
    assert result.record.ref == kept[0].ref
    assert result.outcome.value == kept[0].status.value
    assert t.device.executed == (1 if result.outcome is Outcome.APPROVED else 0)


def test_power_cycle_over_tcp_drops_the_link_and_keeps_the_journal() -> None:
    with serve_terminal(
        "bill", "sl-2", seed=2, faults="power_cycle#3,outage=100ms", card_key=KEY
    ) as t:
        with _connect(t.url, "sl-2") as host:
            boot = host.device_status().boot_id  # request 1
            paid = host.pay_bill("water", "37010099", amount_fen=800)  # request 2
            with pytest.raises(LinkError):
                host.device_status()  # request 3: the terminal reboots, the socket closes
        t.wait_ready()  # the terminal boots for 100 ms
        with _connect(t.url, "sl-2") as host:
            status = host.device_status()
            kept = host.status(client_ref=paid.client_ref)
    assert t.session.stats["event_power_cycle"] == 1
    assert status.boot_id == boot + 1
    assert kept is not None
    assert kept.ref == paid.record.ref


def test_journal_file_survives_a_terminal_restart(tmp_path: Path) -> None:
    journal = tmp_path / "term.jsonl"
    with serve_terminal("card", "mispos-1", seed=8, journal_path=journal, card_key=KEY) as t:
        with _connect(t.url, "mispos-1") as host:
            first = host.withdraw(amount_fen=500)
    with serve_terminal("card", "mispos-1", seed=8, journal_path=journal, card_key=KEY) as t:
        with _connect(t.url, "mispos-1") as host:
            again = host.status(client_ref=first.client_ref)
            page = host.journal(0)
    assert again is not None
    assert first.record is not None
    assert again.ref == first.record.ref
    assert again.card == first.record.card
    assert len(page.records) == 1


def test_paced_terminal_still_answers() -> None:
    with serve_terminal("card", "sl-2", pty=True, seed=1, baud=19200, card_key=KEY) as t:
        with _connect(t.url, "sl-2") as host:
            host.identify()
            page = host.journal(0)
    assert page.records == ()
    assert t.runner.pacer.paced
    assert t.runner.bytes_out > 0


def test_pty_disconnect_loses_one_request_then_the_line_recovers() -> None:
    with serve_terminal(
        "bill", "sl-2", pty=True, seed=6, faults="disconnect#2,outage=300ms", card_key=KEY
    ) as t:
        with _connect(t.url, "sl-2") as host:
            first = host.device_status()  # request 1
            with pytest.raises(LinkError):
                host.device_status()  # request 2: the line goes dead before it is executed
            after = host.device_status()
    assert t.session.stats["event_disconnect"] == 1
    assert t.session.stats["requests_lost_to_events"] == 1
    assert after.boot_id == first.boot_id  # a cable pull is not a reboot


def test_paper_out_and_clock_reset_events_reach_the_host() -> None:
    faults = "paper_out#2,clock_reset#3"
    with serve_terminal("bill", "mispos-1", pty=True, seed=6, faults=faults, card_key=KEY) as t:
        with _connect(t.url, "mispos-1") as host:
            ok = host.pay_bill("gas", "37010055", amount_fen=1500)  # request 1
            refused = host.pay_bill("gas", "37010055", amount_fen=1500)  # request 2
            status = host.device_status()  # request 3: the clock is reset first
    assert ok.outcome is Outcome.APPROVED
    assert refused.outcome is Outcome.DECLINED
    assert refused.result is not None
    assert refused.result.name == "PAPER_OUT"
    assert not status.paper_ok
    assert status.terminal_time.year == 2000
    assert t.device.executed == 1


def test_mispos1_card_terminal_puts_the_full_number_on_the_wire() -> None:
    """Framing and codec directly over a raw socket: the BCD card number is in the bytes."""
    cards = CardQueue()
    pan = make_test_pan(random.Random(77))
    cards.put(pan)
    codec = Codec(Dialect.MISPOS_1, KEY)
    request = WithdrawalRequest(Header(MsgType.WITHDRAWAL, 5, "00000000"), "wire-1", 300)
    frame = build_frame(codec.encode(request), Dialect.MISPOS_1, Transport.TCP)
    with serve_terminal("card", "mispos-1", seed=1, card_key=KEY, card_source=cards) as t:
        assert isinstance(t.port, TcpPort)
        with socket.create_connection((t.port.host, t.port.port), timeout=5) as sock:
            sock.sendall(frame)
            deframer, events = Deframer(Dialect.MISPOS_1, Transport.TCP), []
            while not events:
                events = [e for e in deframer.feed(sock.recv(4096)) if isinstance(e, FrameEvent)]
    digits = pan.reveal()
    assert bytes.fromhex(digits + "f" * (len(digits) % 2)) in events[0].body
    response = codec.decode(events[0].body)
    assert isinstance(response, WithdrawalResponse)
    assert response.record.card == pan.to_ref(KEY)  # the host side masks it at once
