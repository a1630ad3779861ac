"""The blocking client end to end over a real pty and a real TCP socket."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from client_rig import KEY

import stationlink
from stationlink.client import Outcome
from stationlink.errors import LinkFailedError, TerminalError, TransportError
from stationlink.protocol import Dialect, TxnKind, TxnStatus


@pytest.mark.parametrize("dialect", list(Dialect))
def test_detects_dialect_and_runs_every_operation(serve, dialect: Dialect) -> None:  # type: ignore[no-untyped-def]
    # the 200.00 withdrawn below leaves 1234.56 on the customer's card
    with serve(dialect, balance_fen=123_456 + 20_000) as (emu, url), stationlink.connect(
        url, card_key=KEY, rng=random.Random(7)
    ) as term:
        assert term.connection.dialect is dialect
        assert term.info is not None
        assert term.info.dialect is dialect
        info = term.identify()
        assert (info.terminal_id, info.vendor) == ("T0000001", "EmuCorp")

        paid = term.pay_bill("mobile", "13800000000", Decimal("45.30"))
        assert paid.outcome is Outcome.APPROVED
        assert paid.resolved_by == "response"
        assert paid.record is not None
        assert paid.record.amount_fen == 4530
        assert paid.amount == Decimal("45.30")
        assert len(paid.client_ref) == 16
        assert paid.record.client_ref == paid.client_ref

        cash = term.withdraw(amount_fen=20000)
        assert cash.approved
        assert cash.record is not None
        assert cash.record.card is not None
        assert cash.record.card.masked == "621700*********0018"
        assert "6217000000000000018" not in repr(cash)

        assert term.balance().balance == Decimal("1234.56")
        reversal = term.reverse_last()
        assert reversal.approved
        assert reversal.record is not None
        assert reversal.record.original_ref == cash.record.ref
        assert term.status(cash.record.ref).status is TxnStatus.REVERSED  # type: ignore[union-attr]
        assert term.status(client_ref="ffffffffffffffff") is None

        page = term.journal(0, limit=2)
        assert [r.cursor for r in page.records] == [1, 2]
        assert page.more
        records = list(term.iter_journal(limit=2))
        assert [r.kind for r in records] == [TxnKind.BILL_PAYMENT, TxnKind.WITHDRAWAL,
                                             TxnKind.BALANCE_INQUIRY, TxnKind.REVERSAL]
        assert term.ack_journal(records[-1].cursor) == 4
        assert term.device_status().journal_unacked == 0
        totals = term.settlement_totals()
        # the bill payment and the balance inquiry; the reversed withdrawal has no line
        assert {(line.kind, line.product): (line.count, line.amount_fen)
                for line in totals.lines} == {(TxnKind.BILL_PAYMENT, "mobile"): (1, 4530),
                                              (TxnKind.BALANCE_INQUIRY, ""): (1, 0)}
        assert term.echo(b"ping") == b"ping"
        assert emu.executed == 1  # payment; the withdrawal was reversed


def test_declined_payment(serve) -> None:  # type: ignore[no-untyped-def]
    unknown = frozenset({"000"})  # the biller knows no account "000"
    with serve(Dialect.SL_2, unknown_accounts=unknown) as (emu, url), stationlink.connect(
        url, card_key=KEY, dialect="sl-2"
    ) as term:
        result = term.pay_bill("electricity", "000", amount_fen=100)
        assert result.outcome is Outcome.DECLINED
        assert result.record is not None
        assert emu.executed == 0
        with pytest.raises(ValueError, match="no approved transaction"):
            term.reverse_last()


def test_terminal_error_reply_raises(serve) -> None:  # type: ignore[no-untyped-def]
    with serve(Dialect.MISPOS_1, kind="card") as (_, url), stationlink.connect(
        url, card_key=KEY, dialect=Dialect.MISPOS_1
    ) as term:
        from stationlink.client._core import placeholder, request_flow
        from stationlink.protocol import BillInquiryRequest, BillInquiryResponse, MsgType

        with pytest.raises(TerminalError, match="UNSUPPORTED") as info:
            term._run(request_flow(BillInquiryRequest(placeholder(MsgType.BILL_INQUIRY),
                                                      "mobile", "1"), BillInquiryResponse))
        assert info.value.code == 1


@pytest.mark.parametrize("amount", [45.3, "45.30", 4530])
def test_amounts_must_be_decimal_or_int_fen(amount: object) -> None:
    from stationlink.client._core import to_fen

    with pytest.raises(TypeError):
        to_fen(amount, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        to_fen(None, 45.3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        to_fen(Decimal("1"), 100)
    assert to_fen(Decimal("45.30"), None) == 4530
    with pytest.raises(ValueError, match="whole number of fen"):
        to_fen(Decimal("0.001"), None)


def test_client_refs_are_reproducible_from_the_seed() -> None:
    from stationlink.client._core import new_client_ref

    a = [new_client_ref(random.Random(3)) for _ in range(2)]
    assert a[0] == a[1]
    rng = random.Random(3)
    refs = {new_client_ref(rng) for _ in range(1000)}
    assert len(refs) == 1000


@pytest.mark.slow
def test_silent_port_fails_detection(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        with pytest.raises(LinkFailedError, match="no answer to IDENTIFY"):
            stationlink.connect(os.ttyname(slave), card_key=KEY, t1=0.05, t2_other=0.1)
    finally:
        os.close(master)
        os.close(slave)


def test_unreachable_tcp_is_transport_error() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(TransportError) as info:
        stationlink.connect(f"tcp://127.0.0.1:{port}", card_key=KEY)
    assert isinstance(info.value.__cause__, OSError)
