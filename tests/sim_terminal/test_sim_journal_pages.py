"""Journal pages fit one body, and a response that cannot go out never kills the terminal.

Integration defect: a JOURNAL_READ answered with up to 20 records encoded to more than the
protocol's 1024-byte body, the runner died ("body of 1294 bytes", then "no unanswered request
with seq N") and the host saw the terminal go silent.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from sim_terminal_rig import KEY, Rig

import stationlink
from stationlink.client import Outcome
from stationlink.errors import TerminalError
from stationlink.protocol import (
    MAX_BODY,
    BillPaymentRequest,
    Codec,
    Dialect,
    ErrorCode,
    ErrorReply,
    JournalReadRequest,
    JournalReadResponse,
    Message,
    ResultCode,
    WithdrawalRequest,
)
from stationlink_sim.device import JOURNAL_PAGE_LIMIT, MAX_ACCOUNT
from stationlink_sim.serve import serve_terminal

WIDE = "\U0001f600"  # four bytes in UTF-8 and in GB18030: the widest text a record can hold


def _fill(rig: Rig, kind: str, n: int) -> None:
    """``n`` records with the largest fields a request may carry."""
    for i in range(n):
        if kind == "card":
            rig.card(i)
            rig.ask(WithdrawalRequest, client_ref=WIDE * 32, amount_fen=100 + i)
        else:
            rig.ask(BillPaymentRequest, client_ref=WIDE * 32, product="electricity",
                    account=WIDE * MAX_ACCOUNT, amount_fen=100 + i)


def _pages(rig: Rig, max_records: int) -> list[JournalReadResponse]:
    pages: list[JournalReadResponse] = []
    after = 0
    while True:
        page = rig.ask(JournalReadRequest, after_cursor=after, max_records=max_records)
        assert isinstance(page, JournalReadResponse), page
        pages.append(page)
        if not page.more:
            return pages
        assert page.records, "an empty page that says more would never end"
        after = page.records[-1].cursor


@pytest.mark.parametrize("dialect", ["mispos-1", "sl-2"])
@pytest.mark.parametrize("kind", ["card", "bill"])
@pytest.mark.parametrize("max_records", [1000, 3])
def test_every_page_fits_one_body_and_holds_as_many_records_as_fit(
    kind: str, dialect: str, max_records: int
) -> None:
    rig = Rig(kind, dialect)
    _fill(rig, kind, 30)
    codec = Codec(Dialect(dialect), KEY)
    pages = _pages(rig, max_records)
    cursors = [r.cursor for p in pages for r in p.records]
    assert cursors == [r.cursor for r in rig.device.journal]  # each record once, in order
    assert len(cursors) == 30
    cap = min(max_records, JOURNAL_PAGE_LIMIT)
    for page, following in zip(pages, pages[1:], strict=False):
        assert len(codec.encode(page)) <= MAX_BODY
        assert 1 <= len(page.records) <= cap
        if len(page.records) < cap:  # cut by size: the next record would not have fitted
            bigger = JournalReadResponse(page.header, (*page.records, following.records[0]),
                                         True)
            assert len(codec.encode(bigger)) > MAX_BODY
    assert len(codec.encode(pages[-1])) <= MAX_BODY
    if max_records == 1000:  # the size cut is what bounds these pages, not the count
        assert len(pages[0].records) < JOURNAL_PAGE_LIMIT


def test_a_too_long_account_is_refused_so_one_record_always_fits(bill: Rig) -> None:
    refused = bill.ask(BillPaymentRequest, client_ref="c1", product="water",
                       account="1" * (MAX_ACCOUNT + 1), amount_fen=100)
    assert isinstance(refused, ErrorReply)
    assert refused.code is ErrorCode.INVALID_FIELD
    assert "account" in refused.text
    assert list(bill.device.journal) == []
    accepted = bill.ask(BillPaymentRequest, client_ref="c2", product="water",
                        account="1" * MAX_ACCOUNT, amount_fen=100)
    assert accepted.result is ResultCode.ACCOUNT_NOT_FOUND  # judged by the biller, journaled
    assert len(list(bill.device.journal)) == 1


# ------------------------------------------------------------ over a real TCP socket


def _connect(url: str, dialect: str, **timers: float) -> stationlink.Terminal:
    opts: dict[str, Any] = {"t2_money": 1.0, "t2_other": 1.0, **timers}
    return stationlink.connect(url, card_key=KEY, dialect=dialect, rng=random.Random(5), **opts)


def test_a_host_reads_a_big_mispos_journal_over_tcp_and_the_terminal_survives() -> None:
    with serve_terminal("card", "mispos-1", seed=4, card_key=KEY) as t:
        with _connect(t.url, "mispos-1") as host:
            results = [host.withdraw(Decimal("1.00")) for _ in range(25)]
            first = host.journal(0, limit=255)
            records = list(host.iter_journal(0, limit=255))
            assert host.echo(b"still there") == b"still there"
        assert t.runner.is_alive()
        assert t.runner.error is None
        assert t.session.stats["internal_errors"] == 0
    assert first.more
    assert 0 < len(first.records) < 25
    assert [r.cursor for r in records] == list(range(1, 26))
    assert [r.client_ref for r in records] == [r.client_ref for r in results]


def test_a_response_too_big_for_one_body_becomes_an_internal_error_reply() -> None:
    with serve_terminal("card", "sl-2", seed=4, card_key=KEY) as t:
        for i in range(150):  # a device status listing this many counters exceeds one body
            t.device.counters[f"counter_number_{i:03d}"] = i
        with _connect(t.url, "sl-2") as host:
            with pytest.raises(TerminalError, match="INTERNAL") as refused:
                host.device_status()
            assert refused.value.code == ErrorCode.INTERNAL
            assert host.echo(b"ok") == b"ok"  # the terminal keeps serving
            for i in range(150):
                del t.device.counters[f"counter_number_{i:03d}"]
            status = host.device_status()
        assert t.runner.is_alive()
        assert t.runner.error is None
    assert t.session.stats["internal_errors"] == 1
    assert status.error_counters["internal_errors"] == 1


def test_a_money_response_that_cannot_be_sent_is_left_for_the_status_query(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An executed payment must not be answered with an ErrorReply (= "not executed")."""
    with serve_terminal("bill", "sl-2", seed=4, card_key=KEY) as t:
        real = t.device.handle

        def executes_then_fails(request: Message) -> Message:
            response = real(request)
            if isinstance(request, BillPaymentRequest):
                raise RuntimeError("model fault after execution")
            return response

        monkeypatch.setattr(t.device, "handle", executes_then_fails)
        with _connect(t.url, "sl-2", t2_money=0.5) as host:
            result = host.pay_bill("mobile", "13912345678", Decimal("30.00"))
            assert host.echo(b"ok") == b"ok"
        assert t.runner.error is None
    assert result.outcome is Outcome.APPROVED
    assert result.resolved_by == "status_query"
    assert t.device.executed == 1
    assert t.session.stats["internal_errors"] == 1
