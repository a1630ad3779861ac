"""The kit against the emulated terminals (both kinds x both dialects x both transports, real
ptys and TCP sockets): every applicable case passes; money cases reverse what they did; the
reports (JSON against its schema, JUnit) say so."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from kit_rig import (
    COMBOS,
    check_junit,
    expected_not_applicable,
    payments_in,
    power_cycle_hook,
    run_kit,
    terminal,
    validate,
)

from stationlink.conformance import Verdict
from stationlink.protocol import MONEY_MOVING, ResultCode, TxnKind


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "dialect", "transport"), COMBOS)
def test_an_emulated_terminal_passes_every_applicable_case(
    kind: str, dialect: str, transport: str, tmp_path: Path,
) -> None:
    control = str(tmp_path / "control.sock")
    with terminal(kind, dialect, transport, control=control) as (t, clock):
        before = {r.cursor for r in t.device.journal.records_now()}
        report = run_kit(t, clock, kind, allow_money=True, power_cycle=power_cycle_hook(control))
        records = t.device.journal.records_now()
    failed = {r.spec.id: r.reason for r in report.results if r.verdict is Verdict.FAIL}
    assert not failed, failed
    assert report.exit_code() == 0
    na = {r.spec.id for r in report.results if r.verdict is Verdict.NOT_APPLICABLE}
    assert na == expected_not_applicable(kind, dialect, transport, money=True, power=True)
    assert report.identity is not None
    assert report.identity["dialect"] == dialect
    assert report.dialect == dialect
    assert report.transport == transport
    # every test payment made once, approved ones reversed; nothing else moved money
    mine = [r for r in records if r.cursor not in before and r.kind is not TxnKind.REVERSAL
            and r.kind is not TxnKind.BALANCE_INQUIRY]
    per_ref = Counter(r.client_ref for r in mine)
    assert per_ref
    assert all(n == 1 for n in per_ref.values()), per_ref
    assert set(per_ref) == {m.client_ref for m in report.money}
    reversed_refs = {r.original_ref for r in records if r.kind is TxnKind.REVERSAL}
    for r in mine:
        assert r.amount_fen == 1
        approved = r.result is ResultCode.APPROVED
        assert (r.ref in reversed_refs) == approved
    assert all(m.reversed for m in report.money if m.detail == "")
    validate(report.to_json())
    check_junit(report)


@pytest.mark.slow
def test_money_cases_are_refused_without_allow_money_and_send_nothing_that_moves_money(
) -> None:
    with terminal("bill", "sl-2", "tcp", payments=0) as (t, clock):
        report = run_kit(t, clock, "bill", lang="zh")
        received = set(t.session.received)
        moved = payments_in(t)
    by_id = {r.spec.id: r for r in report.results}
    for case_id in ("CF-DUPLICATE", "CF-STATUS-LOST"):
        assert by_id[case_id].verdict is Verdict.NOT_APPLICABLE
        assert by_id[case_id].reason == "需要 --allow-money"
    assert by_id["CF-JOURNAL-POWER"].reason == "需要 --power-cycle-cmd"
    assert report.exit_code() == 0
    assert report.money == []
    assert not received & set(MONEY_MOVING), received
    assert moved == []
