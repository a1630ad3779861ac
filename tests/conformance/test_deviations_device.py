"""Device-level deviations on the wire (real TCP sockets, a real control socket), the
registry, and the power-cycle hook."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from deviation_wire import HOST_TIME, RawHost

from stationlink.errors import ConfigError, SimulatorError
from stationlink.protocol import (
    BalanceInquiryRequest,
    BalanceInquiryResponse,
    BillPaymentRequest,
    BillPaymentResponse,
    Dialect,
    EchoRequest,
    IdentifyRequest,
    IdentifyResponse,
    JournalAckRequest,
    JournalAckResponse,
    JournalReadRequest,
    JournalReadResponse,
    ReversalRequest,
    ReversalResponse,
    SettlementTotalsRequest,
    SettlementTotalsResponse,
    Transport,
    parse_tlvs,
)
from stationlink_sim.cli.terminal import power_cycle
from stationlink_sim.control import send_command
from stationlink_sim.customers import CardQueue, make_test_pan
from stationlink_sim.deviations import DEVIATIONS, get_deviation
from stationlink_sim.journal import Journal
from stationlink_sim.serve import RunningTerminal, serve_terminal

FAST_BOOT = "outage=0.2s"


def _account(t: RunningTerminal) -> str:
    """A mobile number the terminal's billers know (seeded)."""
    for i in range(1000):
        account = f"138{i:08d}"
        if t.device.billers.exists("mobile", account):
            return account
    raise AssertionError("no known account")  # pragma: no cover


def _journal(h: RawHost, seq: int) -> JournalReadResponse:
    page = h.ask(JournalReadRequest, seq, after_cursor=0, max_records=20)
    assert isinstance(page, JournalReadResponse)
    return page


# ------------------------------------------------------------------ registry


def test_registry_names_catalogue_cases() -> None:
    from stationlink.conformance.catalogue import CASES

    ids = {c.id for c in CASES}
    for d in DEVIATIONS.values():
        assert d.cases, d.name
        assert set(d.cases) <= ids, d.name
        # all show on serial sl-2 card but those of TCP's own rules (§1.2, §2.2), on TCP
        where = "tcp" if d.transports == {Transport.TCP} else "serial"
        assert d.caught_by("card", "sl-2", where) == d.cases, d.name
    for name in ("tcp_frame_trailer", "slides_over_garbage", "idle_close",
                 "status_per_connection"):
        assert DEVIATIONS[name].caught_by("card", "sl-2", "serial") == (), name
    assert DEVIATIONS["no_receive_idle"].caught_by("card", "sl-2", "tcp") == ()
    assert DEVIATIONS["checksum_byte_order"].caught_by("bill", "sl-2", "tcp") == ()
    assert DEVIATIONS["checksum_byte_order"].caught_by("bill", "mispos-1", "serial") == ()
    assert DEVIATIONS["full_card_number"].caught_by("bill", "sl-2", "tcp") == ()


def test_unknown_deviation_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="unknown deviation 'nope'.*late_ack"):
        get_deviation("nope")
    with pytest.raises(ConfigError, match="nope"), serve_terminal(deviation="nope"):
        pass  # pragma: no cover


# ------------------------------------------------------------ money deviations


@pytest.mark.parametrize("deviation", [None, "duplicate_second_effect"])
@pytest.mark.parametrize("transport", ["tcp", "serial"])
def test_duplicate_request_second_effect(deviation: str | None, transport: str) -> None:
    pty = transport == "serial"
    with serve_terminal("bill", "sl-2", pty=pty, deviation=deviation) as t, RawHost(t) as h:
        account = _account(t)
        frame = h.frame(BillPaymentRequest, 31, client_ref="DUP-1", product="mobile",
                        account=account, amount_fen=1)
        h.send(frame)
        h.read_until(h.has_frames(1), 5.0)
        if pty:
            h.send(b"\x06")
        h.send(frame)  # the same request again: same seq, same body
        again = h.frames(h.read_for(0.8))
        if pty and again:
            h.send(b"\x06")
        # the default answers nothing more on serial and replays the answer on TCP
        assert len(again) == (1 if deviation or not pty else 0)
        records = [r for r in _journal(h, 32).records if r.client_ref == "DUP-1"]
        if deviation is None:
            assert len(records) == 1
            assert t.device.executed == 1
        else:
            assert len(records) == 2  # two journal records, two effects
            assert len({r.cursor for r in records}) == 2
            assert t.device.executed == 2


@pytest.mark.parametrize("deviation", [None, "settlement_counts_reversed"])
def test_settlement_counts_reversed(deviation: str | None) -> None:
    with serve_terminal("bill", "sl-2", deviation=deviation) as t, RawHost(t) as h:
        account = _account(t)
        paid = h.ask(BillPaymentRequest, 41, client_ref="S-1", product="mobile",
                     account=account, amount_fen=1)
        assert isinstance(paid, BillPaymentResponse)
        rev = h.ask(ReversalRequest, 42, client_ref="S-2", original_ref=paid.record.ref)
        assert isinstance(rev, ReversalResponse)
        assert rev.record is not None
        totals = h.ask(SettlementTotalsRequest, 43)
        assert isinstance(totals, SettlementTotalsResponse)
        if deviation is None:
            assert totals.lines == ()  # approved minus reversed: nothing stands
        else:
            assert [(ln.kind.name, ln.count, ln.amount_fen) for ln in totals.lines] == [
                ("BILL_PAYMENT", 1, 1)]


# ---------------------------------------------------------------------- cards


def _card_frame_tags(h: RawHost, seq: int) -> tuple[set[int], bytes, BalanceInquiryResponse]:
    h.send(h.frame(BalanceInquiryRequest, seq, client_ref="CARD-1"))
    data = h.read_until(h.has_frames(1), 5.0)
    body = h.frames(data)[0].body
    record = next(v for tag, v in parse_tlvs(body[11:]) if tag == 0xDF50)
    answer = h.codec.decode(body)
    assert isinstance(answer, BalanceInquiryResponse)
    return {tag for tag, _ in parse_tlvs(record, base=0)}, record, answer


@pytest.mark.parametrize("dialect", ["sl-2", "mispos-1"])
@pytest.mark.parametrize("deviation", [None, "full_card_number"])
def test_full_card_number_while_claiming_masking(deviation: str | None, dialect: str) -> None:
    pan = make_test_pan(random.Random(5))
    cards = CardQueue()
    cards.put(pan)
    with serve_terminal("card", dialect, deviation=deviation, card_source=cards) as t, \
            RawHost(t) as h:
        ident = h.ask(IdentifyRequest, 51, host_time=HOST_TIME)
        assert isinstance(ident, IdentifyResponse)
        claims = "masking" in ident.capabilities
        tags, record, answer = _card_frame_tags(h, 52)
        full = bytes.fromhex(pan.reveal() + "f" * (len(pan.reveal()) % 2))
        sends_full = 0xDF40 in tags
        assert sends_full == (full in record)
        assert answer.record.card is not None  # the host decodes either form
        if deviation is None:
            assert claims == (dialect == "sl-2")
            assert sends_full == (dialect == "mispos-1")  # mispos-1 sends DF40 and says so
        else:
            assert claims  # the lie CF-CARD-MASK catches
            assert sends_full


@pytest.mark.parametrize("deviation", [None, "full_card_number"])
def test_bill_terminal_never_claims_masking(deviation: str | None) -> None:
    with serve_terminal("bill", "sl-2", deviation=deviation) as t, RawHost(t) as h:
        ident = h.ask(IdentifyRequest, 53, host_time=HOST_TIME)
        assert isinstance(ident, IdentifyResponse)
        assert "masking" not in ident.capabilities


# -------------------------------------------------------- power cycle + cursor


@pytest.mark.parametrize("deviation", [None, "cursor_reset_on_power_cycle"])
def test_journal_cursor_after_power_cycle(deviation: str | None, tmp_path: Path) -> None:
    control = str(tmp_path / "ctl.sock")
    with serve_terminal("card", "sl-2", deviation=deviation, control=control,
                        faults=FAST_BOOT) as t:
        with RawHost(t) as h:
            first = h.ask(BalanceInquiryRequest, 61, client_ref="P-1")
            assert isinstance(first, BalanceInquiryResponse)
            acked = h.ask(JournalAckRequest, 62, upto_cursor=first.record.cursor)
            assert isinstance(acked, JournalAckResponse)
            assert acked.acked_cursor == first.record.cursor == 1
        reply = send_command(control, "power_cycle", timeout=10.0)
        assert reply == f"ok power_cycle boot_id={t.device.boot_id}"
        with RawHost(t) as h:
            now = h.ask(JournalAckRequest, 63, upto_cursor=0)  # forward only: a read
            second = h.ask(BalanceInquiryRequest, 64, client_ref="P-2")
            page = _journal(h, 65)
        assert isinstance(now, JournalAckResponse)
        assert isinstance(second, BalanceInquiryResponse)
        cursors = [r.cursor for r in page.records]
        if deviation is None:
            assert now.acked_cursor == 1
            assert second.record.cursor == 2
            assert cursors == [1, 2]
        else:
            assert now.acked_cursor == 0  # the acknowledged cursor is lost
            assert second.record.cursor == 1  # numbering restarted: cursor 1 again
            assert cursors == [1, 1]


def test_lost_ack_survives_a_journal_reload(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with serve_terminal("card", "sl-2", deviation="cursor_reset_on_power_cycle",
                        journal_path=path, faults=FAST_BOOT) as t, RawHost(t) as h:
        h.ask(BalanceInquiryRequest, 71, client_ref="R-1")
        h.ask(JournalAckRequest, 72, upto_cursor=1)
        t.device.power_cycle()
    assert Journal(path=path).acked_cursor == 0
    assert Journal(path=path).last_cursor == 1  # the journal keeps its true cursors


def test_power_cycle_cli_and_control_errors(tmp_path: Path) -> None:
    control = str(tmp_path / "ctl.sock")
    with serve_terminal("bill", "sl-2", control=control, faults=FAST_BOOT) as t:
        boot = t.device.boot_id
        result = CliRunner().invoke(power_cycle, [control])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == f"ok power_cycle boot_id={boot + 1}"
        assert t.ready
        assert send_command(control, "ping").startswith("ok ping SIM00001")
        with pytest.raises(ConfigError, match="unknown control command"):
            send_command(control, "reboot")
    assert not Path(control).exists()  # removed at stop
    result = CliRunner().invoke(power_cycle, [control])
    assert result.exit_code == 10
    with pytest.raises(SimulatorError, match="ctl.sock"):
        send_command(control, "ping")
    plain = tmp_path / "plain"
    plain.write_text("x")
    with pytest.raises(ConfigError, match="not a socket"), serve_terminal(control=str(plain)):
        pass  # pragma: no cover


def test_control_over_tcp_loopback() -> None:
    with serve_terminal("bill", "mispos-1", control="tcp://127.0.0.1:0",
                        faults=FAST_BOOT) as t:
        assert t.control is not None
        address = t.control.address
        assert address.startswith("tcp://127.0.0.1:")
        assert send_command(address, "power_cycle") == f"ok power_cycle boot_id={t.device.boot_id}"
    with pytest.raises(ConfigError, match="loopback"):
        send_command("tcp://10.0.0.1:9", "ping")


def test_every_deviation_starts_on_both_transports() -> None:
    for name in DEVIATIONS:
        for pty in (False, True):
            with serve_terminal("card", "sl-2", pty=pty, deviation=name) as t:
                assert t.device.deviation == name
                assert t.session.deviation == name
                assert Transport(t.config.transport) in (Transport.TCP, Transport.SERIAL)
                assert Dialect.SL_2 is t.device.identity.dialect


def test_cli_lists_deviations_and_refuses_unknown_ones() -> None:
    import json

    from stationlink_sim.cli.terminal import deviations, terminal

    result = CliRunner().invoke(deviations, ["--json"])
    assert result.exit_code == 0, result.output
    listed = [json.loads(line) for line in result.output.splitlines()]
    assert {d["name"]: tuple(d["cases"]) for d in listed} == {
        name: d.cases for name, d in DEVIATIONS.items()}
    result = CliRunner().invoke(terminal, ["--kind", "bill", "--dialect", "sl-2", "--listen",
                                           "tcp://127.0.0.1:0", "--deviation", "nope"])
    assert result.exit_code != 0
    assert "unknown deviation 'nope'" in result.output


def test_station_toml_takes_a_deviation(tmp_path: Path) -> None:
    from stationlink_sim.station import load_station

    base = ('station_id = "DZ-LL-0007"\ncard_key = "000102030405060708090a0b0c0d0e0f"\n'
            '[[terminals]]\nid = "LL000701"\nkind = "card"\ndialect = "sl-2"\npty = true\n')
    good = tmp_path / "good.toml"
    good.write_text(base + 'deviation = "full_card_number"\n', encoding="utf-8")
    assert load_station(good).terminals[0].deviation == "full_card_number"
    plain = tmp_path / "plain.toml"
    plain.write_text(base, encoding="utf-8")
    assert load_station(plain).terminals[0].deviation is None
    bad = tmp_path / "bad.toml"
    bad.write_text(base + 'deviation = "late_akc"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"terminals\[1\].*unknown deviation 'late_akc'"):
        load_station(bad)


def test_pytest_plugin_serves_a_deviant_terminal(stationlink_terminal: Any) -> None:
    t = stationlink_terminal("bill", "sl-2", deviation="seq_no_wrap")
    with RawHost(t) as h:
        seqs = [h.ask(EchoRequest, s, payload=b"p").header.seq for s in (0xFFFF, 0)]
    assert seqs == [0xFFFF, 0xFFFF]
