"""Each of the simulator's seeded deviations (``--deviation NAME``) fails exactly the cases
its registry entry names and passes every other applicable one: the kit catches what it must
and nothing more. One emulated terminal per deviation, on a kind, dialect and transport
where the deviation shows, with --allow-money and the simulator's power-cycle hook (its
control socket, driven by ``python -m stationlink_sim.control`` as --power-cycle-cmd)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kit_rig import (
    check_junit,
    expected_not_applicable,
    power_cycle_hook,
    run_kit,
    terminal,
    validate,
)

from stationlink.conformance import Verdict
from stationlink_sim.deviations import DEVIATIONS

#: where each deviation is tried (kind, dialect, transport): a place where it shows,
#: TCP where it can (faster), the kinds and dialects spread over the set
WHERE = {
    "checksum_byte_order": ("bill", "sl-2", "serial"),
    "no_retransmission": ("card", "mispos-1", "serial"),
    "late_ack": ("card", "sl-2", "serial"),
    "duplicate_second_effect": ("bill", "mispos-1", "tcp"),
    "cursor_reset_on_power_cycle": ("card", "sl-2", "tcp"),
    "full_card_number": ("card", "sl-2", "tcp"),
    "seq_no_wrap": ("card", "mispos-1", "tcp"),
    "ack_bad_checksum": ("bill", "mispos-1", "serial"),
    "answer_other_dialect": ("bill", "sl-2", "tcp"),
    "settlement_counts_reversed": ("bill", "sl-2", "tcp"),
    "tcp_frame_trailer": ("card", "mispos-1", "tcp"),
    "slides_over_garbage": ("card", "sl-2", "tcp"),
    "no_receive_idle": ("bill", "sl-2", "serial"),
    "idle_close": ("bill", "mispos-1", "tcp"),
    "status_per_connection": ("bill", "sl-2", "tcp"),
    "journal_page_overlap": ("card", "sl-2", "tcp"),
    "signal_unsigned": ("bill", "mispos-1", "tcp"),
    "max_body_off_by_one": ("card", "mispos-1", "tcp"),
}


def test_every_registered_deviation_is_tried_where_it_shows() -> None:
    assert set(WHERE) == set(DEVIATIONS)
    for name, (kind, dialect, transport) in WHERE.items():
        assert DEVIATIONS[name].caught_by(kind, dialect, transport), name


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DEVIATIONS))
def test_a_deviation_fails_exactly_its_cases(name: str, tmp_path: Path) -> None:
    kind, dialect, transport = WHERE[name]
    control = str(tmp_path / "control.sock")
    with terminal(kind, dialect, transport, payments=0, deviation=name,
                  control=control) as (t, clock):
        report = run_kit(t, clock, kind, allow_money=True, power_cycle=power_cycle_hook(control))
    failed = {r.spec.id: r.reason for r in report.results if r.verdict is Verdict.FAIL}
    expected = set(DEVIATIONS[name].caught_by(kind, dialect, transport))
    assert set(failed) == expected, failed
    na = {r.spec.id for r in report.results if r.verdict is Verdict.NOT_APPLICABLE}
    assert na == expected_not_applicable(kind, dialect, transport, money=True, power=True)
    assert report.exit_code() == 1
    for r in report.results:
        if r.verdict is Verdict.FAIL:
            assert any(x.direction == "out" and x.data for x in r.exchanges)
    validate(report.to_json())
    check_junit(report)
